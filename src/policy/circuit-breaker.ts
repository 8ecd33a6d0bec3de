import { isSteadfastError } from "../errors/base.js";
import { CircuitOpenError, TimeoutError } from "../errors/errors.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import { Emitter } from "../util/emitter.js";
import {
  type CircuitBreakerEvents,
  type CircuitBreakerOptions,
  type CircuitBreakerSettings,
  type CircuitBreakerStats,
  type CircuitEvent,
  type CircuitState,
  resolveCircuitBreakerOptions,
  type TransitionReason,
} from "./circuit-breaker-options.js";
import {
  type Context,
  type ExecuteOptions,
  type Operation,
  type Policy,
  type PolicyContext,
  toContext,
} from "./context.js";
import { RollingWindow } from "./rolling-window.js";

export {
  CIRCUIT_BREAKER_DEFAULTS,
  type CircuitBreakerEvents,
  type CircuitBreakerOptions,
  type CircuitBreakerStats,
  type CircuitEvent,
  type CircuitState,
  type TransitionReason,
} from "./circuit-breaker-options.js";

const CALLS = 0;
const FAILURES = 1;
const NOT_A_PROBE = -1;
/**
 * Errors that say nothing about the database either way: a caller's cancellation or deadline,
 * a wait for a pool slot, a call this breaker itself rejected. Counting one as a success would
 * reset the run of connect failures that is the clearest sign of an outage.
 */
function saysNothing(error: unknown): boolean {
  if (error instanceof TimeoutError) return error.phase === "deadline" || error.phase === "acquire";
  return NEUTRAL_CODES.some((code) => isSteadfastError(error, code));
}

const NEUTRAL_CODES = ["CANCELED", "POOL_TIMEOUT", "POOL_QUEUE_FULL", "CIRCUIT_OPEN"] as const;
/**
 * Fails fast while the database is down instead of piling up calls that will time out.
 *
 * Closed, it counts calls in a sliding window (ten time buckets) and opens when the failure
 * ratio reaches `failureRatio` over at least `minimumThroughput` calls, or after
 * `consecutiveFailures` in a row (which catches outages at low traffic). Only infrastructure
 * failures count; a caller's cancellation counts as nothing. Open, it rejects with
 * `CircuitOpenError` carrying `retryAfterMs`. When the break ends it admits exactly one probe
 * (its own `probe`, on a timer, or else the next call); success closes it and resets the break
 * length, failure reopens it for `breakMultiplier` times longer, up to `maxBreakDuration`.
 *
 * @example
 * ```ts
 * const breaker = circuitBreaker({ probe: () => pool.query("select 1") });
 * breaker.on("open", (e) => log.warn("database circuit open", e));
 * await breaker.execute(() => pool.query(sql));
 * ```
 */
export class CircuitBreakerPolicy implements Policy {
  /** Named in `CircuitOpenError`, events and stats. */
  readonly name: string;
  readonly #o: CircuitBreakerSettings;
  readonly #clock: Clock;
  readonly #window: RollingWindow;
  readonly #events = new Emitter<CircuitBreakerEvents>();
  #state: CircuitState = "closed";
  /** Bumped on every transition, so a late probe result cannot decide a newer half-open. */
  #generation = 0;
  #probing = false;
  #consecutive = 0;
  #breakDuration: number;
  #openUntil = 0;
  #opened = 0;
  #timer: TimerHandle | undefined;
  /** The failure behind the current break, given as `cause` of each `CircuitOpenError`. */
  #lastFailure: unknown;

  constructor(options?: CircuitBreakerOptions) {
    this.#o = resolveCircuitBreakerOptions(options);
    this.name = this.#o.name;
    this.#clock = this.#o.clock;
    this.#breakDuration = this.#o.breakDuration;
    this.#window = new RollingWindow(this.#clock, this.#o.samplingDuration, 10, 2);
  }

  /** The current state. */
  get state(): CircuitState {
    return this.#state;
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<K extends keyof CircuitBreakerEvents>(
    event: K,
    listener: (payload: CircuitBreakerEvents[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  /** A snapshot of the window counts and break state. */
  stats(): CircuitBreakerStats {
    const open = this.#state === "open";
    return {
      name: this.name,
      state: this.#state,
      calls: this.#window.sum(CALLS),
      failures: this.#window.sum(FAILURES),
      consecutiveFailures: this.#consecutive,
      breakDurationMs: this.#breakDuration,
      retryAfterMs: open ? Math.max(0, this.#openUntil - this.#clock.now()) : 0,
      opened: this.#opened,
    };
  }

  /** Runs `fn` if the circuit admits it; otherwise rejects with `CircuitOpenError`. */
  async execute<T>(fn: Operation<T>, options?: ExecuteOptions | PolicyContext): Promise<T> {
    const context = toContext(options, this.#clock);
    const probe = this.#state === "closed" ? NOT_A_PROBE : this.#admit();
    let value: T;
    try {
      value = await fn(context);
    } catch (error) {
      this.#onError(error, probe);
      throw error;
    }
    this.#onSuccess(probe, context);
    return value;
  }

  /**
   * The `CircuitOpenError` a call would be refused with right now, or `undefined` when it
   * would be let through (as a normal call, or as the half-open probe). Changes nothing: it
   * lets a caller that queues work (the pool's waiters) fail fast without starting any.
   */
  rejection(): CircuitOpenError | undefined {
    switch (this.#state) {
      case "closed":
        return undefined;
      case "open": {
        const remaining = this.#openUntil - this.#clock.now();
        if (remaining <= 0 && this.#o.probe === undefined) return undefined;
        return this.#rejection(Math.max(0, remaining));
      }
      case "half-open":
        return this.#probing ? this.#rejection(0) : undefined;
      case "isolated":
        return this.#rejection(this.#breakDuration);
    }
  }

  /** Holds the circuit open (every call fails fast, no probes) until {@link reset}. */
  isolate(): void {
    this.#transition("isolated", "isolated");
  }

  /** Closes the circuit and forgets its history, whatever its state. */
  reset(): void {
    this.#transition("closed", "reset");
  }

  /** Decides a call when not closed: returns its probe token or throws `CircuitOpenError`. */
  #admit(): number {
    const now = this.#clock.now();
    if (this.#state === "open") {
      // With a probe function the timer decides recovery; user calls never probe.
      if (now < this.#openUntil || this.#o.probe !== undefined) {
        throw this.#rejection(this.#openUntil - now);
      }
      this.#transition("half-open", "break-elapsed");
    }
    if (this.#state === "half-open" && !this.#probing) {
      this.#probing = true;
      return this.#generation;
    }
    // Half-open with its probe in flight (its outcome decides soon), or isolated.
    throw this.#rejection(this.#state === "isolated" ? this.#breakDuration : 0);
  }

  #rejection(retryAfterMs: number): CircuitOpenError {
    return new CircuitOpenError(retryAfterMs, this.name, this.#lastFailure);
  }

  #onSuccess(probe: number, context: Context): void {
    if (probe !== NOT_A_PROBE) {
      if (probe === this.#generation) this.#transition("closed", "probe-succeeded");
      return;
    }
    if (this.#state !== "closed") return;
    this.#consecutive = 0;
    // The call's start time is precise enough for one-second buckets and saves a clock read.
    this.#window.add(CALLS, 1, context.timeOn(this.#clock));
  }

  #onError(error: unknown, probe: number): void {
    const neutral = saysNothing(error);
    if (probe !== NOT_A_PROBE) {
      if (probe !== this.#generation) return;
      // A probe that ran out of time did meet a slow or unreachable database: only an abort is neutral.
      if (isSteadfastError(error, "CANCELED")) {
        this.#probing = false; // the next call probes instead
      } else if (this.#o.isFailure(error)) {
        this.#transition("open", "probe-failed", error);
      } else {
        this.#transition("closed", "probe-succeeded");
      }
      return;
    }
    if (this.#state !== "closed" || neutral) return;
    this.#window.add(CALLS, 1);
    if (!this.#o.isFailure(error)) {
      this.#consecutive = 0;
      return;
    }
    this.#consecutive++;
    this.#window.add(FAILURES, 1);
    if (this.#o.consecutiveFailures > 0 && this.#consecutive >= this.#o.consecutiveFailures) {
      this.#transition("open", "consecutive-failures", error);
      return;
    }
    const calls = this.#window.sum(CALLS);
    if (
      calls >= this.#o.minimumThroughput &&
      this.#window.sum(FAILURES) >= this.#o.failureRatio * calls
    ) {
      this.#transition("open", "failure-ratio", error);
    }
  }

  #transition(to: CircuitState, reason: TransitionReason, error?: unknown): void {
    const from = this.#state;
    this.#state = to;
    this.#generation++;
    this.#probing = false;
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (to === "open") {
      if (reason === "probe-failed") {
        this.#breakDuration = Math.min(
          this.#o.maxBreakDuration,
          this.#breakDuration * this.#o.breakMultiplier,
        );
      }
      this.#opened++;
      this.#lastFailure = error;
      this.#openUntil = this.#clock.now() + this.#breakDuration;
      if (this.#o.probe !== undefined) {
        this.#timer = this.#clock.setTimeout(() => this.#runProbe(), this.#breakDuration, true);
      }
    } else if (to === "closed") {
      this.#breakDuration = this.#o.breakDuration;
    }
    if (to !== "half-open") {
      this.#consecutive = 0;
      this.#window.clear();
    }
    if (from === to) return; // reset() of a closed circuit, isolate() twice: nothing to tell
    const event: CircuitEvent = {
      name: this.name,
      from,
      to,
      reason,
      ...(to === "open" ? { breakDurationMs: this.#breakDuration } : {}),
      ...(error !== undefined ? { error } : {}),
    };
    this.#events.emit("stateChange", event);
    if (to === "open") this.#events.emit("open", event);
    else if (to === "half-open") this.#events.emit("halfOpen", event);
    else if (to === "closed") this.#events.emit("close", event);
  }

  /** The break ended and a probe function exists: run it as the single half-open probe. */
  #runProbe(): void {
    this.#timer = undefined;
    if (this.#state !== "open") return;
    this.#transition("half-open", "break-elapsed");
    this.#probing = true;
    const token = this.#generation;
    const settle = (error: unknown, failed: boolean): void => {
      if (token !== this.#generation) return;
      if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      if (failed) this.#transition("open", "probe-failed", error);
      else this.#transition("closed", "probe-succeeded");
    };
    this.#timer = this.#clock.setTimeout(
      () => settle(new TimeoutError(this.#o.probeTimeout, "query"), true),
      this.#o.probeTimeout,
      true,
    );
    try {
      Promise.resolve((this.#o.probe as () => PromiseLike<unknown>)()).then(
        () => settle(undefined, false),
        (error: unknown) => settle(error, true),
      );
    } catch (error) {
      settle(error, true);
    }
  }
}

/**
 * Creates a {@link CircuitBreakerPolicy}; use one per database.
 *
 * @throws ConfigError when an option is invalid (e.g. `failureRatio: 1.5`).
 * @example
 * ```ts
 * const breaker = circuitBreaker({ failureRatio: 0.5, minimumThroughput: 20 });
 * ```
 */
export function circuitBreaker(options?: CircuitBreakerOptions): CircuitBreakerPolicy {
  return new CircuitBreakerPolicy(options);
}
