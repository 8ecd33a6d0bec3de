import type { Clock } from "../util/clock.js";
import type { Duration } from "../util/duration.js";
import { optionKeys } from "../util/option-keys.js";
import { OptionsReader } from "../util/options.js";
import { readClock } from "./common-options.js";
import { RollingWindow } from "./rolling-window.js";

/**
 * Options of {@link retryBudget}; every field is optional.
 *
 * @example
 * ```ts
 * retryBudget({ percentCanRetry: 0.1, minRetriesPerSecond: 5 });
 * ```
 */
export interface RetryBudgetOptions {
  /** How long a deposit (or a withdrawal) counts. Default `"10s"`; between 1 s and 60 s. */
  readonly ttl?: Duration;
  /** Retries allowed per call, as a fraction of calls. Default `0.2`; between 0 and 1. */
  readonly percentCanRetry?: number;
  /** Retries allowed per second however few calls there are. Default `10`; >= 0. */
  readonly minRetriesPerSecond?: number;
  /** Time source. Default `systemClock`. */
  readonly clock?: Clock;
}

/** Defaults of {@link RetryBudgetOptions} (ttl in ms); Finagle's `RetryBudget()` values. */
export const RETRY_BUDGET_DEFAULTS = {
  /** `ttl`: 10 s. */
  ttl: 10_000,
  /** `percentCanRetry`: 20 % of calls. */
  percentCanRetry: 0.2,
  /** `minRetriesPerSecond`: 10. */
  minRetriesPerSecond: 10,
} as const;

/** A snapshot of a {@link RetryBudget}. */
export interface RetryBudgetStats {
  /** Retries that may be taken right now. */
  readonly available: number;
  /** Calls that deposited, since creation. */
  readonly deposits: number;
  /** Retries granted, since creation. */
  readonly withdrawals: number;
  /** Retries refused for lack of budget, since creation. */
  readonly rejections: number;
}

/** @internal option names, for a parent reading budget options nested in its own. */
export const RETRY_BUDGET_KEYS = optionKeys<RetryBudgetOptions>()([
  "ttl",
  "percentCanRetry",
  "minRetriesPerSecond",
  "clock",
]);
/** Fixed-point scale: balances are integers so that 5 × 0.2 is exactly 1. */
const UNIT = 1_000;
const BUCKETS = 10;

/**
 * Caps retries at a fraction of calls so that an outage never multiplies the load on the
 * database (Finagle's `RetryBudget`). Share one budget per target: every call `deposit()`s
 * `percentCanRetry` of a retry, every retry `tryWithdraw()`s one; both expire after `ttl`.
 * A reserve of `minRetriesPerSecond × ttl` lets a quiet service still retry.
 *
 * So over any window of about `ttl`, retries ≤ `minRetriesPerSecond × ttl + percentCanRetry ×
 * calls`. Time is kept in ten buckets of `ttl / 10`: O(1) per call, constant memory.
 *
 * @throws ConfigError when an option is invalid.
 * @example
 * ```ts
 * const budget = retryBudget();
 * const policy = retry({ budget }); // the same budget for every retry policy of one database
 * ```
 */
export class RetryBudget {
  /** The budget's time source. */
  readonly clock: Clock;
  readonly #window: RollingWindow;
  readonly #deposit: number;
  readonly #reserve: number;
  #deposits = 0;
  #withdrawals = 0;
  #rejections = 0;

  /**
   * @param options see {@link RetryBudgetOptions}.
   * @param parent internal: read the options from a parent policy's reader (whose `finish()`
   *   reports problems under the parent's field names) instead of `options`.
   */
  constructor(options?: RetryBudgetOptions, parent?: { reader: OptionsReader; clock: Clock }) {
    const r = parent?.reader ?? new OptionsReader(options, "retryBudget", RETRY_BUDGET_KEYS);
    const ttl = r.duration("ttl", RETRY_BUDGET_DEFAULTS.ttl, { min: 1_000, max: 60_000 });
    const percent = r.number("percentCanRetry", RETRY_BUDGET_DEFAULTS.percentCanRetry, {
      min: 0,
      max: 1,
    });
    const perSecond = r.number("minRetriesPerSecond", RETRY_BUDGET_DEFAULTS.minRetriesPerSecond, {
      min: 0,
    });
    const clock = readClock(r, parent?.clock);
    if (parent === undefined) r.finish();
    this.#deposit = Math.round(percent * UNIT);
    this.#reserve = Math.floor(perSecond * (ttl / 1_000)) * UNIT;
    this.clock = clock;
    this.#window = new RollingWindow(clock, ttl, BUCKETS, 1);
  }

  /**
   * Records a call (not a retry); each one earns `percentCanRetry` of a retry for `ttl`.
   * @param now the budget clock's current time, if the caller already read it.
   */
  deposit(now?: number): void {
    this.#deposits++;
    if (this.#deposit > 0) this.#window.add(0, this.#deposit, now);
  }

  /**
   * Takes one retry from the budget. Returns `false` when the budget is spent; the caller must
   * then give up and surface the original error.
   */
  tryWithdraw(): boolean {
    if (this.#reserve + this.#window.sum(0) < UNIT) {
      this.#rejections++;
      return false;
    }
    this.#window.add(0, -UNIT);
    this.#withdrawals++;
    return true;
  }

  /** Retries that may be taken right now (0 when spent). */
  get available(): number {
    return Math.max(0, Math.floor((this.#reserve + this.#window.sum(0)) / UNIT));
  }

  /** Counters since creation plus what is available now. */
  stats(): RetryBudgetStats {
    return {
      available: this.available,
      deposits: this.#deposits,
      withdrawals: this.#withdrawals,
      rejections: this.#rejections,
    };
  }
}

/**
 * Creates a {@link RetryBudget}.
 *
 * @example
 * ```ts
 * const budget = retryBudget({ percentCanRetry: 0.1 });
 * ```
 */
export function retryBudget(options?: RetryBudgetOptions): RetryBudget {
  return new RetryBudget(options);
}
