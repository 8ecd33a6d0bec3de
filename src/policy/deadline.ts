import { TimeoutError, type TimeoutPhase } from "../errors/errors.js";
import type { Clock } from "../util/clock.js";
import type { Duration } from "../util/duration.js";
import { Emitter } from "../util/emitter.js";
import { optionKeys } from "../util/option-keys.js";
import { OptionsReader } from "../util/options.js";
import { readClock } from "./common-options.js";
import {
  type Context,
  type ExecuteOptions,
  type Operation,
  type Policy,
  type PolicyContext,
  toContext,
} from "./context.js";
import { DeadlineCall } from "./deadline-call.js";
import { type DeadlineScheduler, schedulerFor } from "./deadline-scheduler.js";

/**
 * Options of {@link deadline}; every field is optional.
 *
 * @example
 * ```ts
 * deadline({ timeout: "2s", onTimeout: ({ context }) => metrics.timeouts.add(1) });
 * ```
 */
export interface DeadlineOptions {
  /**
   * Longest a call may run. A caller's own `deadline`/`timeout` can only shorten it.
   * Default `"30s"`.
   */
  readonly timeout?: Duration;
  /**
   * Called when a call times out, after the operation's signal was aborted and before the
   * call rejects: the place to force-cancel work that ignores the signal. Errors it throws are
   * ignored. Default: none.
   */
  readonly onTimeout?: (event: TimeoutEvent) => void;
  /**
   * The `phase` of the `TimeoutError`. Default `"deadline"`: the caller's budget ran out, which
   * says nothing about the database. A per-attempt deadline around one statement should say
   * `"query"`, which classifies as an infrastructure failure the circuit breaker counts.
   */
  readonly phase?: TimeoutPhase;
  /** Time source. Default `systemClock`. */
  readonly clock?: Clock;
}

/** Defaults of {@link DeadlineOptions} (timeout in ms). */
export const DEADLINE_DEFAULTS = {
  /** `timeout`: 30 s. */
  timeout: 30_000,
  /** `phase` of the `TimeoutError`. */
  phase: "deadline",
} as const;

/** What {@link DeadlineOptions.onTimeout} and the `timeout` event receive. */
export interface TimeoutEvent {
  /** The budget the call had, in ms (its deadline minus its start). */
  readonly timeoutMs: number;
  /** The call's deadline on the policy clock. */
  readonly deadline: number;
  /**
   * The context this policy handed inward: the operation's own, unless other policies (a
   * retry) sit in between. Operations can also react through `context.onAbort`.
   */
  readonly context: PolicyContext;
  /** The error the call rejects with. */
  readonly error: TimeoutError;
}

/** Events of a {@link DeadlinePolicy}. */
export interface DeadlineEvents {
  /** A call timed out. */
  timeout: TimeoutEvent;
}

/** @internal Every option name of {@link DeadlineOptions}. */
export const DEADLINE_OPTION_KEYS = optionKeys<DeadlineOptions>()([
  "timeout",
  "onTimeout",
  "phase",
  "clock",
]);
const PHASES: readonly TimeoutPhase[] = [
  "acquire",
  "connect",
  "validation",
  "query",
  "deadline",
  "cancel",
];

/**
 * Bounds how long a call may run. At the deadline the operation's signal aborts (cooperative
 * cancellation), `onTimeout` runs (forceful cancellation), and the call rejects with
 * `TimeoutError` even if the operation is still running. A caller's `AbortSignal` aborting
 * rejects the call at once with `CanceledError`.
 *
 * Every query passes through this policy, so a call that finishes in time allocates no timer
 * and no `AbortController`: deadlines are registered with one shared scheduler per clock (see
 * `DeadlineScheduler`) and the signal is built only if the operation reads `context.signal`.
 *
 * @example
 * ```ts
 * const policy = deadline({ timeout: "5s" });
 * const rows = await policy.execute((ctx) => client.query({ text: sql, signal: ctx.signal }));
 * ```
 */
export class DeadlinePolicy implements Policy {
  /** Longest a call may run, in ms. */
  readonly timeout: number;
  /** The `phase` its `TimeoutError`s carry. */
  readonly phase: TimeoutPhase;
  /** @internal */ readonly clock: Clock;
  /** @internal */ readonly scheduler: DeadlineScheduler;
  /** @internal */ readonly onTimeout: ((event: TimeoutEvent) => void) | undefined;
  /** @internal */ readonly events = new Emitter<DeadlineEvents>();

  constructor(options?: DeadlineOptions) {
    const r = new OptionsReader(options, "deadline", DEADLINE_OPTION_KEYS);
    this.timeout = r.duration("timeout", DEADLINE_DEFAULTS.timeout, { min: 0 });
    this.phase = r.oneOf<TimeoutPhase>("phase", DEADLINE_DEFAULTS.phase, PHASES);
    this.onTimeout = r.fn<(event: TimeoutEvent) => void>("onTimeout");
    this.clock = readClock(r);
    r.finish();
    this.scheduler = schedulerFor(this.clock);
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<K extends keyof DeadlineEvents>(
    event: K,
    listener: (payload: DeadlineEvents[K]) => void,
  ): () => void {
    return this.events.on(event, listener);
  }

  /** Runs `fn`, rejecting with `TimeoutError` if it has not settled by the deadline. */
  execute<T>(fn: Operation<T>, options?: ExecuteOptions | PolicyContext): Promise<T> {
    let parent: Context;
    try {
      parent = toContext(options, this.clock);
    } catch (error) {
      return Promise.reject(error); // a promise-returning API never throws synchronously
    }
    const reason = parent.abortReason;
    if (reason !== undefined) return Promise.reject(reason);
    const now = this.clock.now();
    const deadline = Math.min(parent.deadline, now + this.timeout);
    // Already past (a caller deadline spent by earlier work): no time at all was left.
    if (deadline <= now) return Promise.reject(new TimeoutError(0, this.phase));
    return new Promise<T>((resolve, reject) => {
      new DeadlineCall<T>(this, parent, now, deadline, resolve, reject).start(fn);
    });
  }
}

/**
 * Creates a {@link DeadlinePolicy}.
 *
 * @throws ConfigError when an option is invalid (e.g. a negative `timeout`).
 * @example
 * ```ts
 * const perAttempt = deadline({ timeout: "2s" });
 * ```
 */
export function deadline(options?: DeadlineOptions): DeadlinePolicy {
  return new DeadlinePolicy(options);
}
