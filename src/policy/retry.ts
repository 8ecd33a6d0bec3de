import type { SteadfastError } from "../errors/base.js";
import type { Classification } from "../errors/classification.js";
import { classify as defaultClassify } from "../errors/classify.js";
import type { Clock, RandomSource } from "../util/clock.js";
import { Emitter } from "../util/emitter.js";
import { optionKeys } from "../util/option-keys.js";
import { OptionsReader } from "../util/options.js";
import { type Backoff, type BackoffOptions, readBackoffOption } from "./backoff.js";
import { readClock, readRandom } from "./common-options.js";
import {
  type AbortListener,
  AttemptContext,
  type Context,
  type ExecuteOptions,
  type Operation,
  type Policy,
  type PolicyContext,
  toContext,
} from "./context.js";
import { RETRY_BUDGET_KEYS, RetryBudget, type RetryBudgetOptions } from "./retry-budget.js";

/**
 * Decides whether a failed attempt is tried again. `attempt` is the number of the attempt that
 * failed (1 for the first).
 */
export type ShouldRetry = (
  classification: Classification,
  error: unknown,
  attempt: number,
  context: PolicyContext,
) => boolean;

/**
 * Options of {@link retry}; every field is optional.
 *
 * @example
 * ```ts
 * retry({ maxAttempts: 4, backoff: { base: "100ms", cap: "2s" }, budget: sharedBudget });
 * ```
 */
export interface RetryOptions {
  /** Attempts in all, the first included. Default `3`; >= 1 (1 disables retrying). */
  readonly maxAttempts?: number;
  /** A {@link Backoff} or options for `exponentialBackoff`. Default full jitter, 50 ms to 5 s. */
  readonly backoff?: Backoff | BackoffOptions;
  /**
   * The budget retries draw from; share one per database. Options create a private one and
   * `false` disables budgeting. Default: a private `retryBudget()` (20 % of calls).
   */
  readonly budget?: RetryBudget | RetryBudgetOptions | false;
  /**
   * Whether to retry a failure. Default: `classification.retryable`, or
   * `classification.retryableIfIdempotent` when the call was declared `idempotent`.
   */
  readonly shouldRetry?: ShouldRetry;
  /** Classifies errors for `shouldRetry` and the events. Default `classify` from the errors module. */
  readonly classify?: (error: unknown) => Classification;
  /** Time source for backoff sleeps and deadline checks. Default `systemClock`. */
  readonly clock?: Clock;
  /** Random source for jitter. Default `Math.random`. */
  readonly random?: RandomSource;
}

const MAX_DELAY = 2_147_483_647;

/** Defaults of {@link RetryOptions}. */
export const RETRY_DEFAULTS = {
  /** `maxAttempts`: 3, the first included. */
  maxAttempts: 3,
} as const;

/** Why a retry policy stopped retrying and rethrew. */
export type GiveUpReason = "max-attempts" | "not-retryable" | "deadline" | "budget";

/** Payload of the `retry` event, emitted before the backoff sleep. */
export interface RetryEvent {
  /** The attempt that failed (1 for the first). */
  readonly attempt: number;
  /** The sleep before the next attempt, in ms. */
  readonly delay: number;
  /** How the failure was classified. */
  readonly classification: Classification;
  /** The failure. */
  readonly error: unknown;
}

/** Payload of the `giveUp` event, emitted when a failure is rethrown without retrying. */
export interface GiveUpEvent {
  /** The attempt that failed last (1 for the first). */
  readonly attempt: number;
  /** Why no retry followed. */
  readonly reason: GiveUpReason;
  /** How the failure was classified. */
  readonly classification: Classification;
  /** The failure, rethrown unchanged. */
  readonly error: unknown;
}

/** Events of a {@link RetryPolicy}. */
export interface RetryEvents {
  /** A failed attempt will be retried after a backoff sleep. */
  retry: RetryEvent;
  /** A failure is rethrown without retrying. */
  giveUp: GiveUpEvent;
}

/** @internal Every option name of {@link RetryOptions}. */
export const RETRY_OPTION_KEYS = optionKeys<RetryOptions>()([
  "maxAttempts",
  "backoff",
  "budget",
  "shouldRetry",
  "classify",
  "clock",
  "random",
]);

/**
 * Retries failed attempts that are safe to retry, with exponential backoff and jitter.
 *
 * A retry happens only if all of these hold: attempts remain; `shouldRetry` agrees (by default
 * only failures certainly not applied, or any transient failure of an `idempotent` call); the
 * backoff sleep would end before the call's deadline; and the retry budget has a token. Otherwise
 * the last error is rethrown at once, unchanged. Aborting the caller's signal during a sleep
 * rejects at once with `CanceledError`.
 *
 * @example
 * ```ts
 * const policy = retry({ maxAttempts: 3 });
 * await policy.execute(() => pool.query("select 1"), { idempotent: true, timeout: "5s" });
 * ```
 */
export class RetryPolicy implements Policy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** The budget retries draw from, or `undefined` when disabled. */
  readonly budget: RetryBudget | undefined;
  readonly #backoff: Backoff;
  readonly #shouldRetry: ShouldRetry;
  readonly #classify: (error: unknown) => Classification;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #events = new Emitter<RetryEvents>();

  constructor(options?: RetryOptions) {
    const r = new OptionsReader(options, "retry", RETRY_OPTION_KEYS);
    this.maxAttempts = r.integer("maxAttempts", RETRY_DEFAULTS.maxAttempts, { min: 1 });
    this.#backoff = readBackoffOption(r, "backoff");
    this.#shouldRetry = r.fn<ShouldRetry>("shouldRetry") ?? defaultShouldRetry;
    this.#classify = r.fn<(error: unknown) => Classification>("classify") ?? defaultClassify;
    this.#clock = readClock(r);
    this.#random = readRandom(r);
    this.budget = readBudget(r, this.#clock);
    r.finish();
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<K extends keyof RetryEvents>(
    event: K,
    listener: (payload: RetryEvents[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  /** Runs `fn`, retrying its failures as described on {@link RetryPolicy}. */
  async execute<T>(fn: Operation<T>, options?: ExecuteOptions | PolicyContext): Promise<T> {
    const context = toContext(options, this.#clock);
    const budget = this.budget;
    if (budget !== undefined) budget.deposit(context.timeOn(budget.clock));
    let previousDelay = 0;
    for (let attempt = 1; ; attempt++) {
      const aborted = context.abortReason;
      if (aborted !== undefined) throw aborted;
      try {
        return await fn(attempt === 1 ? context : new AttemptContext(context, attempt));
      } catch (error) {
        previousDelay = this.#delayBeforeRetry(error, attempt, previousDelay, context);
        if (previousDelay > 0) await sleep(this.#clock, previousDelay, context);
      }
    }
  }

  /** Returns the sleep before the next attempt, or rethrows when there is none. */
  #delayBeforeRetry(error: unknown, attempt: number, previous: number, context: Context): number {
    // The caller gave up: whatever the attempt failed with, the call is canceled.
    const aborted = context.abortReason;
    if (aborted !== undefined) throw aborted;
    const classification = this.#classify(error);
    if (attempt >= this.maxAttempts) this.#giveUp("max-attempts", attempt, classification, error);
    if (!this.#shouldRetry(classification, error, attempt, context)) {
      this.#giveUp("not-retryable", attempt, classification, error);
    }
    const raw = this.#backoff(attempt, previous, this.#random);
    // A custom backoff may return NaN or Infinity; timers treat huge delays as 1 ms.
    const delay = Number.isNaN(raw) ? 0 : Math.min(Math.max(raw, 0), MAX_DELAY);
    // Never start a sleep that ends at or past the deadline: the next attempt would have no
    // time left, so the last real error is the more useful answer.
    if (this.#clock.now() + delay >= context.deadline) {
      this.#giveUp("deadline", attempt, classification, error);
    }
    if (this.budget !== undefined && !this.budget.tryWithdraw()) {
      this.#giveUp("budget", attempt, classification, error);
    }
    if (this.#events.has("retry")) {
      this.#events.emit("retry", { attempt, delay, classification, error });
    }
    return delay;
  }

  #giveUp(
    reason: GiveUpReason,
    attempt: number,
    classification: Classification,
    error: unknown,
  ): never {
    if (this.#events.has("giveUp")) {
      this.#events.emit("giveUp", { attempt, reason, classification, error });
    }
    throw error;
  }
}

/**
 * Creates a {@link RetryPolicy}.
 *
 * @throws ConfigError when an option is invalid (e.g. `maxAttempts: 0`).
 * @example
 * ```ts
 * const policy = retry({ maxAttempts: 5, backoff: { jitter: "decorrelated" } });
 * ```
 */
export function retry(options?: RetryOptions): RetryPolicy {
  return new RetryPolicy(options);
}

/** The default {@link ShouldRetry}: only what the classification says is safe for this call. */
export const defaultShouldRetry: ShouldRetry = (classification, _error, _attempt, context) =>
  classification.retryable || (context.idempotent && classification.retryableIfIdempotent);

function readBudget(reader: OptionsReader, clock: Clock): RetryBudget | undefined {
  const value = reader.raw("budget");
  if (value === false) return undefined;
  if (value instanceof RetryBudget) return value;
  if (value !== undefined && (typeof value !== "object" || value === null)) {
    reader.report("budget", "a RetryBudget, retry budget options or false", value);
    return undefined;
  }
  const nested = reader.nested("budget", RETRY_BUDGET_KEYS);
  return new RetryBudget(undefined, { reader: nested, clock });
}

/** Sleeps `ms` on `clock`; rejects at once with the abort reason if `context` aborts. */
function sleep(clock: Clock, ms: number, context: Context): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const sleeper: AbortListener = {
      handleAbort(reason: SteadfastError) {
        clock.clearTimeout(timer);
        reject(reason);
      },
    };
    const timer = clock.setTimeout(() => {
      context.unsubscribe(sleeper);
      resolve();
    }, ms);
    context.subscribe(sleeper);
  });
}
