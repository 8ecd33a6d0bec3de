import { type Clock, type RandomSource, systemClock, systemRandom } from "../util/clock.js";
import type { Duration } from "../util/duration.js";
import { optionKeys } from "../util/option-keys.js";
import { OptionsReader } from "../util/options.js";

/**
 * Options of the self-healing pool. Every duration accepts `"250ms"`, `"5s"`, `"2m"` or
 * milliseconds. The defaults (see {@link POOL_DEFAULTS}) suit a long-running server talking
 * to a nearby database; the `serverless` preset shortens the idle and lifetime limits so
 * connections retire before a provider's pooler cuts them.
 */
export interface PoolOptions {
  /** Most connections open at once (idle + in use + being created). Default 10. */
  max?: number;
  /** Idle connections kept open and warm in the background. Default 0. */
  minIdle?: number;
  /** Longest a caller waits for a connection before `PoolTimeoutError`. Default `"10s"`. */
  acquireTimeout?: Duration;
  /** Most callers waiting at once; more fail at once with `PoolQueueFullError`. Default 1000. */
  maxWaiters?: number;
  /** Longest one connection attempt may take (TCP, TLS, auth). Default `"10s"` (cold starts). */
  connectTimeout?: Duration;
  /** An idle connection above `minIdle` is closed after this long unused; 0 disables. Default `"5m"`. */
  idleTimeout?: Duration;
  /**
   * A connection is retired after this long (on release, never while in use); 0 disables.
   * Each connection gets up to `lifetimeJitter` less, so they never all retire at once.
   * Default `"30m"`.
   */
  maxLifetime?: Duration;
  /** Fraction of `maxLifetime` taken off at random per connection. Default 0.025. */
  lifetimeJitter?: number;
  /** Idle connections are pinged after this long without a round trip; 0 disables. Default `"2m"`. */
  keepalive?: Duration;
  /**
   * A connection idle longer than this is validated with a round trip before hand-out (the
   * HikariCP bypass window: recently used connections skip the check). Default `"500ms"`.
   */
  validationWindow?: Duration;
  /** Longest a validation round trip may take before the connection is destroyed. Default `"2s"`. */
  validationTimeout?: Duration;
  /** Most connection attempts in flight at once. Default 2. */
  maxConcurrentCreates?: number;
  /** First delay between failed connection attempts; it doubles, with jitter. Default `"100ms"`. */
  createBackoffBase?: Duration;
  /** Longest delay between failed connection attempts. Default `"5s"`. */
  createBackoffCap?: Duration;
  /** Warn (once, with the acquiring stack) about a connection held longer than this; 0 disables. Default 0. */
  leakDetectionThreshold?: Duration;
  /** Retire a connection after this many acquisitions; 0 disables. Default 0. */
  maxUses?: number;
  /** How often idle connections are checked for idle timeout, lifetime and keepalive. Default `"1s"`. */
  housekeepingInterval?: Duration;
  /** Time source; a `FakeClock` in tests. Default: the system clock. */
  clock?: Clock;
  /** Random source for jitter. Default `Math.random`. */
  random?: RandomSource;
}

/** {@link PoolOptions} with every default applied and durations in milliseconds. */
export interface ResolvedPoolOptions {
  /** {@link PoolOptions.max}. */
  readonly max: number;
  /** {@link PoolOptions.minIdle}. */
  readonly minIdle: number;
  /** {@link PoolOptions.acquireTimeout}, in ms. */
  readonly acquireTimeout: number;
  /** {@link PoolOptions.maxWaiters}. */
  readonly maxWaiters: number;
  /** {@link PoolOptions.connectTimeout}, in ms. */
  readonly connectTimeout: number;
  /** {@link PoolOptions.idleTimeout}, in ms. */
  readonly idleTimeout: number;
  /** {@link PoolOptions.maxLifetime}, in ms. */
  readonly maxLifetime: number;
  /** {@link PoolOptions.lifetimeJitter}. */
  readonly lifetimeJitter: number;
  /** {@link PoolOptions.keepalive}, in ms. */
  readonly keepalive: number;
  /** {@link PoolOptions.validationWindow}, in ms. */
  readonly validationWindow: number;
  /** {@link PoolOptions.validationTimeout}, in ms. */
  readonly validationTimeout: number;
  /** {@link PoolOptions.maxConcurrentCreates}. */
  readonly maxConcurrentCreates: number;
  /** {@link PoolOptions.createBackoffBase}, in ms. */
  readonly createBackoffBase: number;
  /** {@link PoolOptions.createBackoffCap}, in ms. */
  readonly createBackoffCap: number;
  /** {@link PoolOptions.leakDetectionThreshold}, in ms. */
  readonly leakDetectionThreshold: number;
  /** {@link PoolOptions.maxUses}. */
  readonly maxUses: number;
  /** {@link PoolOptions.housekeepingInterval}, in ms. */
  readonly housekeepingInterval: number;
  /** {@link PoolOptions.clock}. */
  readonly clock: Clock;
  /** {@link PoolOptions.random}. */
  readonly random: RandomSource;
}

/** The pool's defaults, in milliseconds where a duration. */
export const POOL_DEFAULTS = {
  /** `max`: 10. */
  max: 10,
  /** `minIdle`: 0. */
  minIdle: 0,
  /** `acquireTimeout`: 10 s. */
  acquireTimeout: 10_000,
  /** `maxWaiters`: 1,000. */
  maxWaiters: 1_000,
  /** `connectTimeout`: 10 s. */
  connectTimeout: 10_000,
  /** `idleTimeout`: 5 min. */
  idleTimeout: 300_000,
  /** `maxLifetime`: 30 min. */
  maxLifetime: 1_800_000,
  /** `lifetimeJitter`: 0.025. */
  lifetimeJitter: 0.025,
  /** `keepalive`: 2 min. */
  keepalive: 120_000,
  /** `validationWindow`: 500 ms. */
  validationWindow: 500,
  /** `validationTimeout`: 2 s. */
  validationTimeout: 2_000,
  /** `maxConcurrentCreates`: 2. */
  maxConcurrentCreates: 2,
  /** `createBackoffBase`: 100 ms. */
  createBackoffBase: 100,
  /** `createBackoffCap`: 5 s. */
  createBackoffCap: 5_000,
  /** `leakDetectionThreshold`: 0 (off). */
  leakDetectionThreshold: 0,
  /** `maxUses`: 0 (off). */
  maxUses: 0,
  /** `housekeepingInterval`: 1 s. */
  housekeepingInterval: 1_000,
} as const;

/** Names of every {@link PoolOptions} key, for unknown-key detection. */
export const POOL_OPTION_KEYS = optionKeys<PoolOptions>()([
  "max",
  "minIdle",
  "acquireTimeout",
  "maxWaiters",
  "connectTimeout",
  "idleTimeout",
  "maxLifetime",
  "lifetimeJitter",
  "keepalive",
  "validationWindow",
  "validationTimeout",
  "maxConcurrentCreates",
  "createBackoffBase",
  "createBackoffCap",
  "leakDetectionThreshold",
  "maxUses",
  "housekeepingInterval",
  "clock",
  "random",
]);

/**
 * Validates pool options into a {@link ResolvedPoolOptions}. Reports into `reader` when one
 * is given (so a whole configuration is checked at once); otherwise throws `ConfigError`.
 */
export function resolvePoolOptions(
  input: PoolOptions | undefined,
  reader?: OptionsReader,
): ResolvedPoolOptions {
  const r = reader ?? new OptionsReader(input, "pool", POOL_OPTION_KEYS);
  const d = POOL_DEFAULTS;
  const max = r.integer("max", d.max, { min: 1, max: 10_000 });
  const resolved: ResolvedPoolOptions = {
    max,
    minIdle: r.integer("minIdle", Math.min(d.minIdle, max), { min: 0 }),
    acquireTimeout: r.duration("acquireTimeout", d.acquireTimeout, { min: 1 }),
    maxWaiters: r.integer("maxWaiters", d.maxWaiters, { min: 0 }),
    connectTimeout: r.duration("connectTimeout", d.connectTimeout, { min: 1 }),
    idleTimeout: r.duration("idleTimeout", d.idleTimeout),
    maxLifetime: r.duration("maxLifetime", d.maxLifetime),
    lifetimeJitter: r.number("lifetimeJitter", d.lifetimeJitter, { min: 0, max: 0.5 }),
    keepalive: r.duration("keepalive", d.keepalive),
    validationWindow: r.duration("validationWindow", d.validationWindow),
    validationTimeout: r.duration("validationTimeout", d.validationTimeout, { min: 1 }),
    maxConcurrentCreates: r.integer("maxConcurrentCreates", d.maxConcurrentCreates, { min: 1 }),
    createBackoffBase: r.duration("createBackoffBase", d.createBackoffBase, { min: 1 }),
    createBackoffCap: r.duration("createBackoffCap", d.createBackoffCap, { min: 1 }),
    leakDetectionThreshold: r.duration("leakDetectionThreshold", d.leakDetectionThreshold),
    maxUses: r.integer("maxUses", d.maxUses, { min: 0 }),
    housekeepingInterval: r.duration("housekeepingInterval", d.housekeepingInterval, { min: 10 }),
    clock: (r.raw("clock") as Clock | undefined) ?? systemClock,
    random: r.fn<RandomSource>("random") ?? systemRandom,
  };
  if (resolved.minIdle > max) r.report("minIdle", `an integer <= max (${max})`, resolved.minIdle);
  if (resolved.createBackoffBase > resolved.createBackoffCap) {
    r.report(
      "createBackoffBase",
      `a duration <= createBackoffCap (${resolved.createBackoffCap} ms)`,
      resolved.createBackoffBase,
    );
  }
  if (!reader) r.finish();
  return resolved;
}
