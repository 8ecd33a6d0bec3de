import type { Clock } from "../util/clock.js";
import { systemClock } from "../util/clock.js";
import type { Duration } from "../util/duration.js";
import { optionKeys } from "../util/option-keys.js";
import { OptionsReader } from "../util/options.js";
import type { CacheL2, InvalidationBus } from "./types.js";

/**
 * Options of `createCache` / `db.cache()`. Durations accept `"250ms"`, `"5s"`, `"2m"` or ms.
 *
 * @example
 * ```ts
 * const cache = createCache({ ttl: "30s", grace: "10m", softTimeout: "150ms", hardTimeout: "2s" });
 * ```
 */
export interface CacheOptions {
  /** How long a loaded value is fresh. Default `"60s"`. */
  readonly ttl?: Duration;
  /**
   * How long after `ttl` an expired value is kept, to serve when loading fails, times out, or
   * the database is unavailable. Default `"10m"`; 0 disables stale serving.
   */
  readonly grace?: Duration;
  /** Stale exists and the loader is slower than this: answer stale now, finish the load in the background. Default none. */
  readonly softTimeout?: Duration | undefined;
  /** The loader is aborted after this; without stale the read fails (or uses `fallback`). Default `"10s"`. */
  readonly hardTimeout?: Duration;
  /** A hit after this fraction of `ttl` returns the value and refreshes it in the background. Default 0.8; 0 disables. */
  readonly refreshAhead?: number;
  /** How long a "not found" (`undefined` from the loader) is cached. Default `"5s"`; 0 disables. */
  readonly negativeTtl?: Duration;
  /** Most entries in memory. Default 10,000. */
  readonly maxEntries?: number;
  /** Most approximate bytes in memory. Default 64 MiB. */
  readonly maxBytes?: number;
  /**
   * Asked before loading: an error means the source is down (the database breaker's
   * `rejection()` fits), so a stale value is served at once without calling the loader.
   */
  readonly unavailable?: () => Error | undefined;
  /** A shared second level (`redisL2()` from `steadfast/redis`). */
  readonly l2?: CacheL2;
  /** Carries invalidations to other instances (`redisBus()`, `pgNotifyBus()`). */
  readonly bus?: InvalidationBus;
  /** Names this cache in `Cache-Status` and bus messages. Default `"steadfast"`. */
  readonly name?: string;
  /** Time source for every timing rule. Default the system clock. */
  readonly clock?: Clock;
  /** Wall-clock now in ms, for ages shared through L2. Default `Date.now`. */
  readonly wallClock?: () => number;
}

/** Defaults of {@link CacheOptions} (durations in ms). */
export const CACHE_DEFAULTS = {
  /** `ttl`: 60 s. */
  ttl: 60_000,
  /** `grace`: 10 minutes. */
  grace: 600_000,
  /** `hardTimeout`: 10 s. */
  hardTimeout: 10_000,
  /** `refreshAhead`: at 80 % of `ttl`. */
  refreshAhead: 0.8,
  /** `negativeTtl`: 5 s. */
  negativeTtl: 5_000,
  /** `maxEntries`: 10,000 entries. */
  maxEntries: 10_000,
  /** `maxBytes`: 64 MiB. */
  maxBytes: 64 * 1024 * 1024,
  /** `name` in `Cache-Status` and bus messages. */
  name: "steadfast",
} as const;

/** @internal */
export interface ResolvedCacheOptions {
  readonly ttl: number;
  readonly grace: number;
  readonly softTimeout: number | undefined;
  readonly hardTimeout: number;
  readonly refreshAhead: number;
  readonly negativeTtl: number;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly unavailable: (() => Error | undefined) | undefined;
  readonly l2: CacheL2 | undefined;
  readonly bus: InvalidationBus | undefined;
  readonly name: string;
  readonly clock: Clock;
  readonly wallClock: () => number;
}

/** @internal Every option name of {@link CacheOptions}. */
export const CACHE_OPTION_KEYS = optionKeys<CacheOptions>()([
  "ttl",
  "grace",
  "softTimeout",
  "hardTimeout",
  "refreshAhead",
  "negativeTtl",
  "maxEntries",
  "maxBytes",
  "unavailable",
  "l2",
  "bus",
  "name",
  "clock",
  "wallClock",
]);

/** @internal Validates options, listing every bad field in one `ConfigError`. */
export function resolveCacheOptions(options: CacheOptions | undefined): ResolvedCacheOptions {
  const r = new OptionsReader(options, "cache", CACHE_OPTION_KEYS);
  const d = CACHE_DEFAULTS;
  const ttl = r.duration("ttl", d.ttl, { min: 1 });
  const hardTimeout = r.duration("hardTimeout", d.hardTimeout, { min: 1 });
  const soft =
    r.raw("softTimeout") === undefined ? undefined : r.duration("softTimeout", 0, { min: 1 });
  if (soft !== undefined && soft >= hardTimeout) {
    r.report("softTimeout", `a duration below hardTimeout (${hardTimeout} ms)`, soft);
  }
  const resolved: ResolvedCacheOptions = {
    ttl,
    grace: r.duration("grace", d.grace, { min: 0 }),
    softTimeout: soft,
    hardTimeout,
    refreshAhead: r.number("refreshAhead", d.refreshAhead, { min: 0, max: 1 }),
    negativeTtl: r.duration("negativeTtl", d.negativeTtl, { min: 0 }),
    maxEntries: r.integer("maxEntries", d.maxEntries, { min: 1, max: 10_000_000 }),
    maxBytes: r.integer("maxBytes", d.maxBytes, { min: 1_024 }),
    unavailable: r.fn<() => Error | undefined>("unavailable"),
    l2: r.raw("l2") as CacheL2 | undefined,
    bus: r.raw("bus") as InvalidationBus | undefined,
    name: r.string("name", { nonEmpty: true }) ?? d.name,
    clock: (r.raw("clock") as Clock | undefined) ?? systemClock,
    wallClock: r.fn<() => number>("wallClock") ?? Date.now,
  };
  r.finish();
  return resolved;
}
