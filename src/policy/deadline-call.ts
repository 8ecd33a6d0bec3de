import type { SteadfastError } from "../errors/base.js";
import { TimeoutError } from "../errors/errors.js";
import type { Clock } from "../util/clock.js";
import { type AbortListener, Context, type Operation } from "./context.js";
import type { DeadlinePolicy, TimeoutEvent } from "./deadline.js";
import type { Bucket, ScheduledEntry } from "./deadline-scheduler.js";

const PENDING = 0;
const DONE = 1;
const ABORTED = 2;

/**
 * @internal One call under a deadline: its context, its scheduler entry and its settlement in
 * one object, so the fast path allocates just this and the promise.
 */
export class DeadlineCall<T> extends Context implements ScheduledEntry, AbortListener {
  bucket: Bucket | undefined = undefined;
  prev: ScheduledEntry | undefined = undefined;
  next: ScheduledEntry | undefined = undefined;
  readonly deadline: number;
  readonly #policy: DeadlinePolicy;
  readonly #parent: Context;
  readonly #startedAt: number;
  readonly #resolve: (value: T) => void;
  readonly #reject: (reason: unknown) => void;
  #state = PENDING;
  #reason: SteadfastError | undefined = undefined;
  #controller: AbortController | undefined = undefined;
  #listeners: Set<AbortListener> | undefined = undefined;

  constructor(
    policy: DeadlinePolicy,
    parent: Context,
    startedAt: number,
    deadline: number,
    resolve: (value: T) => void,
    reject: (reason: unknown) => void,
  ) {
    super();
    this.#policy = policy;
    this.#parent = parent;
    this.#startedAt = startedAt;
    this.deadline = deadline;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  get attempt(): number {
    return this.#parent.attempt;
  }
  get idempotent(): boolean {
    return this.#parent.idempotent;
  }
  get aborted(): boolean {
    return this.#state === ABORTED;
  }
  get abortReason(): SteadfastError | undefined {
    return this.#reason;
  }

  timeOn(clock: Clock): number {
    return clock === this.#policy.clock ? this.#startedAt : clock.now();
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  subscribe(listener: AbortListener): void {
    if (this.#state === ABORTED) return;
    this.#listeners ??= new Set();
    this.#listeners.add(listener);
  }

  unsubscribe(listener: AbortListener): void {
    this.#listeners?.delete(listener);
  }

  start(fn: Operation<T>): void {
    this.#policy.scheduler.add(this, this.deadline);
    this.#parent.subscribe(this);
    let result: T | PromiseLike<T>;
    try {
      result = fn(this);
      if (isThenable(result)) {
        result.then(
          (value) => {
            if (this.#finish()) this.#resolve(value);
          },
          (err: unknown) => {
            if (this.#finish()) this.#reject(err);
          },
        );
        return;
      }
    } catch (err) {
      if (this.#finish()) this.#reject(err);
      return;
    }
    if (this.#finish()) this.#resolve(result);
  }

  /** The scheduler says the deadline passed. */
  expire(): void {
    if (this.#state !== PENDING) return;
    this.#parent.unsubscribe(this);
    const error = new TimeoutError(Math.round(this.deadline - this.#startedAt), this.#policy.phase);
    this.#abort(error);
    const policy = this.#policy;
    if (policy.onTimeout !== undefined || policy.events.has("timeout")) {
      const event: TimeoutEvent = {
        timeoutMs: error.timeoutMs,
        deadline: this.deadline,
        context: this,
        error,
      };
      try {
        policy.onTimeout?.(event);
      } catch {
        // A failing force-cancel hook must not keep the call from timing out.
      }
      policy.events.emit("timeout", event);
    }
    this.#reject(error);
  }

  /** The parent context aborted (the caller's signal, or an outer deadline). */
  handleAbort(reason: SteadfastError): void {
    if (this.#state !== PENDING) return;
    this.#policy.scheduler.remove(this);
    this.#abort(reason);
    this.#reject(reason);
  }

  #finish(): boolean {
    if (this.#state !== PENDING) return false;
    this.#state = DONE;
    this.#policy.scheduler.remove(this);
    this.#parent.unsubscribe(this);
    return true;
  }

  #abort(reason: SteadfastError): void {
    this.#state = ABORTED;
    this.#reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) {
      for (const listener of listeners) {
        try {
          listener.handleAbort(reason);
        } catch {
          // One misbehaving listener must not stop the others or the rejection.
        }
      }
    }
    this.#controller?.abort(reason);
  }
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
