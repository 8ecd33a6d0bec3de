import type { Logger, LogOptions } from "../logging/logger.js";
import type { BackoffOptions } from "../policy/backoff.js";
import type { CircuitBreakerOptions } from "../policy/circuit-breaker-options.js";
import type { RetryBudgetOptions } from "../policy/retry-budget.js";
import { POOL_OPTION_KEYS, type PoolOptions } from "../pool/options.js";
import type { Clock, RandomSource } from "../util/clock.js";
import { systemClock, systemRandom } from "../util/clock.js";
import type { Duration } from "../util/duration.js";
import { optionKeys } from "../util/option-keys.js";
import { OptionsReader } from "../util/options.js";
import type { DatabaseDriver } from "./driver.js";
import { PRESETS, type Preset, type PresetName } from "./presets.js";

/**
 * Options of `createDatabase`. Only `driver` is required; everything else has a default from
 * the preset (`server` unless you choose another). Durations accept `"250ms"`, `"5s"`, `"2m"`
 * or milliseconds.
 *
 * @example
 * ```ts
 * const db = createDatabase({
 *   driver: pgDriver({ connectionString: process.env.DATABASE_URL }),
 *   preset: "serverless",
 *   timeout: "5s",
 *   pool: { max: 8 },
 * });
 * ```
 */
export interface DatabaseOptions<C> {
  /** How to reach the database: `pgDriver()` from `steadfast/pg`. */
  readonly driver: DatabaseDriver<C>;
  /** Defaults tuned for where the database runs; see `PRESETS`. Default `"server"`. */
  readonly preset?: PresetName;
  /** Pool options; each one given here overrides the preset's. */
  readonly pool?: PoolOptions;
  /** Default deadline of one call, all attempts and backoff sleeps included. Preset: 10–30 s. */
  readonly timeout?: Duration;
  /**
   * Also enforce the deadline on the server with `statement_timeout`, so a statement whose
   * client vanished still stops. Set once per connection (and with `SET LOCAL` per
   * transaction); turn off behind a transaction-mode pooler that forbids session settings.
   * Default `true`.
   */
  readonly serverTimeout?: boolean;
  /** How long a canceled statement may take to come back before its connection is destroyed. Default `"1s"`. */
  readonly cancelGrace?: Duration;
  /** Retries of single statements. */
  readonly retry?: {
    /** Attempts per call, the first included. Preset: 3–4. */
    readonly maxAttempts?: number;
    /** Backoff between attempts. Default full jitter from 50 ms, capped at 5 s. */
    readonly backoff?: BackoffOptions;
    /** The budget shared by every call of this database. Default 20 % of calls plus 10/s. */
    readonly budget?: RetryBudgetOptions;
  };
  /** Retries of whole transactions (serialization failures, deadlocks, lost connections). */
  readonly transaction?: {
    /** Attempts per transaction, the first included. Default 5. */
    readonly maxAttempts?: number;
  };
  /** The circuit breaker shared by queries and the pool's connection attempts; `false` disables it. */
  readonly breaker?: Omit<CircuitBreakerOptions, "clock" | "probe"> | false;
  /** Idempotency keys for transactions. */
  readonly idempotency?: {
    /** Table Steadfast creates for the keys. Default `"steadfast_idempotency_keys"`. */
    readonly table?: string;
    /** How long a key is remembered. Default `"24h"`. */
    readonly ttl?: Duration;
  };
  /**
   * Where structured log lines go (pino's shape: `logger.warn(fields, message)`). Default none:
   * the library writes nothing unless given a logger.
   */
  readonly logger?: Logger;
  /** What is logged: level (default `"warn"`), slow-query threshold, parameters. */
  readonly log?: LogOptions;
  /** Time source for every timer. Default the system clock. */
  readonly clock?: Clock;
  /** Random source for jitter. Default `Math.random`. */
  readonly random?: RandomSource;
}

/** `DatabaseOptions` with every default filled in. */
export interface ResolvedDatabaseOptions {
  /** The preset the defaults came from. */
  readonly preset: PresetName;
  /** The preset's pool options with the caller's on top. */
  readonly pool: PoolOptions;
  /** Default deadline of one call, in ms. */
  readonly timeout: number;
  /** Whether `statement_timeout` enforces the deadline on the server too. */
  readonly serverTimeout: boolean;
  /** How long a canceled statement may take to come back, in ms. */
  readonly cancelGrace: number;
  /** Attempts per call (`retry.maxAttempts`). */
  readonly maxAttempts: number;
  /** `retry.backoff`, when given. */
  readonly backoff: BackoffOptions | undefined;
  /** `retry.budget`, when given. */
  readonly budget: RetryBudgetOptions | undefined;
  /** Attempts per transaction (`transaction.maxAttempts`). */
  readonly transactionAttempts: number;
  /** The breaker's options with the preset's `breakDuration`, or `false`. */
  readonly breaker: Omit<CircuitBreakerOptions, "clock" | "probe"> | false;
  /** Table of the idempotency keys. */
  readonly idempotencyTable: string;
  /** How long an idempotency key is remembered, in ms. */
  readonly idempotencyTtl: number;
  /** Where log lines go, when given. */
  readonly logger: Logger | undefined;
  /** What is logged, when given. */
  readonly log: LogOptions | undefined;
  /** Time source. */
  readonly clock: Clock;
  /** Random source for jitter. */
  readonly random: RandomSource;
}

/** @internal Every option name of {@link DatabaseOptions}, checked by the compiler. */
export const DATABASE_OPTION_KEYS = optionKeys<DatabaseOptions<unknown>>()([
  "driver",
  "preset",
  "pool",
  "timeout",
  "serverTimeout",
  "cancelGrace",
  "retry",
  "transaction",
  "breaker",
  "idempotency",
  "logger",
  "log",
  "clock",
  "random",
]);

type Nested<K extends keyof DatabaseOptions<unknown>> = NonNullable<DatabaseOptions<unknown>[K]>;

/** @internal Option names of `retry`, `transaction` and `idempotency` in {@link DatabaseOptions}. */
export const DATABASE_RETRY_KEYS = optionKeys<Nested<"retry">>()([
  "maxAttempts",
  "backoff",
  "budget",
]);
/** @internal */
export const DATABASE_TRANSACTION_KEYS = optionKeys<Nested<"transaction">>()(["maxAttempts"]);
/** @internal */
export const DATABASE_IDEMPOTENCY_KEYS = optionKeys<Nested<"idempotency">>()(["table", "ttl"]);

/** A plain SQL identifier, optionally schema-qualified: what a table name may be. */
const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/;

/** @internal Validates `options`, reporting every bad field in one `ConfigError`. */
export function resolveDatabaseOptions<C>(options: DatabaseOptions<C>): ResolvedDatabaseOptions {
  const r = new OptionsReader(options, "", DATABASE_OPTION_KEYS);
  const presetName = r.oneOf<PresetName>("preset", "server", ["serverless", "server", "local"]);
  const preset = PRESETS[presetName];
  const driver = r.raw("driver") as Partial<DatabaseDriver<C>> | undefined;
  if (typeof driver?.query !== "function" || typeof driver.connector !== "object") {
    r.report(
      "driver",
      'a driver such as pgDriver({ connectionString }) from "steadfast/pg"',
      driver,
    );
  }
  // Pool values are validated by the pool itself; here only their names, so a typo is
  // reported together with every other bad field.
  r.nested("pool", POOL_OPTION_KEYS);
  const retryReader = r.nested("retry", DATABASE_RETRY_KEYS);
  const txReader = r.nested("transaction", DATABASE_TRANSACTION_KEYS);
  const idemReader = r.nested("idempotency", DATABASE_IDEMPOTENCY_KEYS);
  const table = idemReader.string("table", { nonEmpty: true }) ?? "steadfast_idempotency_keys";
  if (!TABLE_NAME.test(table)) {
    idemReader.report(
      "table",
      "a lower-case SQL identifier such as steadfast_idempotency_keys",
      table,
    );
  }
  const breakerRaw = r.raw("breaker");
  const resolved: ResolvedDatabaseOptions = {
    preset: presetName,
    pool: { ...preset.pool, ...(r.raw("pool") as PoolOptions | undefined) },
    timeout: r.duration("timeout", durationOf(preset.timeout), { min: 1 }),
    serverTimeout: r.boolean("serverTimeout", true),
    cancelGrace: r.duration("cancelGrace", 1_000, { min: 0 }),
    maxAttempts: retryReader.integer("maxAttempts", preset.maxAttempts, { min: 1, max: 100 }),
    backoff: retryReader.raw("backoff") as BackoffOptions | undefined,
    budget: retryReader.raw("budget") as RetryBudgetOptions | undefined,
    transactionAttempts: txReader.integer("maxAttempts", 5, { min: 1, max: 100 }),
    breaker:
      breakerRaw === false
        ? false
        : breakerWithPreset(
            preset,
            breakerRaw as Omit<CircuitBreakerOptions, "clock" | "probe"> | undefined,
          ),
    idempotencyTable: table,
    idempotencyTtl: idemReader.duration("ttl", 86_400_000, { min: 1_000 }),
    logger: r.raw("logger") as Logger | undefined,
    log: r.raw("log") as LogOptions | undefined,
    clock: (r.raw("clock") as Clock | undefined) ?? systemClock,
    random: (r.raw("random") as RandomSource | undefined) ?? systemRandom,
  };
  r.finish();
  return resolved;
}

function durationOf(value: Duration): number {
  return new OptionsReader({ value }, "", ["value"]).duration("value", 0);
}

/**
 * The preset's break schedule under the user's breaker options. A user's own `breakDuration`
 * keeps the breaker's general defaults for growth (×2 up to 60 s) unless they set those too, so
 * a longer break never collides with the preset's short cap.
 */
function breakerWithPreset(
  preset: Preset,
  user: Omit<CircuitBreakerOptions, "clock" | "probe"> | undefined,
): Omit<CircuitBreakerOptions, "clock" | "probe"> {
  if (user?.breakDuration !== undefined) return user;
  return {
    breakDuration: preset.breakDuration,
    breakMultiplier: preset.breakMultiplier,
    maxBreakDuration: preset.maxBreakDuration,
    ...user,
  };
}
