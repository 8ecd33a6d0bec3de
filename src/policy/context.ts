import { SteadfastError } from "../errors/base.js";
import { ConfigError, describeValue } from "../errors/config-error.js";
import { CanceledError } from "../errors/errors.js";
import type { Clock } from "../util/clock.js";
import { type Duration, parseDuration } from "../util/duration.js";
import { optionKeys } from "../util/option-keys.js";

/**
 * What a caller may say about one call when it runs it through a policy.
 *
 * @example
 * ```ts
 * await policy.execute((ctx) => client.query(sql, { signal: ctx.signal }), {
 *   timeout: "2s",
 *   idempotent: true,
 *   signal: request.signal,
 * });
 * ```
 */
export interface ExecuteOptions {
  /** Cancels the call: a pending backoff stops at once and the call rejects with `CanceledError`. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Absolute time, on the policy's clock (`clock.now()`), after which no work may run. Policies
   * pass it inward; a `deadline()` policy enforces it. Defaults to none.
   */
  readonly deadline?: number | undefined;
  /** Like `deadline`, relative to now (`"2s"` or ms). When both are given the earlier wins. */
  readonly timeout?: Duration | undefined;
  /**
   * The operation may safely run twice (a read, an upsert of a fixed value). Lets the default
   * retry rule retry failures whose outcome is unknown. Defaults to `false`.
   */
  readonly idempotent?: boolean | undefined;
}

/** @internal Every option name of {@link ExecuteOptions}. */
export const EXECUTE_OPTION_KEYS = optionKeys<ExecuteOptions>()([
  "signal",
  "deadline",
  "timeout",
  "idempotent",
]);

/**
 * What every policy hands to the operation it runs. Reading `signal` creates an
 * `AbortController` on first access (the fast path never pays for one); `onAbort` is the
 * cheap alternative for code that only needs a callback.
 */
export interface PolicyContext {
  /**
   * Aborted when the caller cancels or a deadline passes, with the `CanceledError` or
   * `TimeoutError` as reason. (Outside any `deadline()` policy it is the caller's own signal,
   * passed through unchanged.)
   */
  readonly signal: AbortSignal;
  /** True once the call was canceled or timed out. Reading it never allocates. */
  readonly aborted: boolean;
  /** Absolute time on the policy clock by which the call must finish; `Infinity` when none. */
  readonly deadline: number;
  /** 1 for the first try, 2 for the first retry, and so on. */
  readonly attempt: number;
  /** Whether the caller declared the operation idempotent. */
  readonly idempotent: boolean;
  /**
   * Calls `listener` once if the call is canceled or times out (with `CanceledError` or
   * `TimeoutError`); returns a function that removes it. This is how an operation force-cancels
   * its work (the pool sends a CancelRequest) without allocating an `AbortSignal`. On a
   * context that already aborted, `listener` runs at once.
   */
  onAbort(listener: (reason: SteadfastError) => void): () => void;
}

/** An object notified when a context aborts; policies implement it to avoid closures. */
export interface AbortListener {
  handleAbort(reason: SteadfastError): void;
}

/**
 * The base of every context the policies create. Policies accept any `Context` as a
 * continuation of an outer call, and turn anything else into a fresh {@link RootContext}.
 */
export abstract class Context implements PolicyContext {
  abstract readonly signal: AbortSignal;
  abstract readonly aborted: boolean;
  /** Why the context aborted (`CanceledError` or `TimeoutError`), or `undefined`. */
  abstract readonly abortReason: SteadfastError | undefined;
  abstract readonly deadline: number;
  abstract readonly attempt: number;
  abstract readonly idempotent: boolean;
  /**
   * The time on `clock` when this context began if a policy already read that clock for it,
   * else `clock.now()`. Lets inner policies that only need coarse time (window buckets) skip a
   * clock read, which costs about as much as the rest of their hot path.
   */
  abstract timeOn(clock: Clock): number;
  /** Adds a listener called once on abort; adding to an aborted context calls nothing. */
  abstract subscribe(listener: AbortListener): void;
  abstract unsubscribe(listener: AbortListener): void;

  onAbort(listener: (reason: SteadfastError) => void): () => void {
    // Registering after the fact still cancels: work started late must not outlive the call.
    const reason = this.abortReason;
    if (reason !== undefined) {
      listener(reason);
      return noop;
    }
    const entry: AbortListener = { handleAbort: listener };
    this.subscribe(entry);
    return () => this.unsubscribe(entry);
  }
}

/** The context of a call that entered a policy from outside, built from {@link ExecuteOptions}. */
export class RootContext extends Context {
  readonly deadline: number;
  readonly idempotent: boolean;
  readonly #signal: AbortSignal | undefined;
  #ownSignal: AbortSignal | undefined;
  #listeners: Set<AbortListener> | undefined;
  #clock: Clock | undefined;
  #startedAt = 0;

  constructor(options: ExecuteOptions | undefined, clock: Clock) {
    super();
    this.#signal = options?.signal;
    this.idempotent = options?.idempotent === true;
    let deadline = options?.deadline ?? Number.POSITIVE_INFINITY;
    if (options?.timeout !== undefined) {
      this.#clock = clock;
      this.#startedAt = clock.now();
      const ms = parseDuration(options.timeout);
      if (ms === undefined) {
        throw new ConfigError([
          {
            field: "timeout",
            expected: 'a duration such as "250ms", "5s" or a number of milliseconds',
            received: describeValue(options.timeout),
          },
        ]);
      }
      deadline = Math.min(deadline, this.#startedAt + ms);
    }
    this.deadline = deadline;
  }

  get attempt(): number {
    return 1;
  }

  timeOn(clock: Clock): number {
    return clock === this.#clock ? this.#startedAt : clock.now();
  }

  get signal(): AbortSignal {
    // A fresh never-aborting signal per call: a shared one would collect every listener that
    // operations forget to remove.
    if (this.#signal) return this.#signal;
    this.#ownSignal ??= new AbortController().signal;
    return this.#ownSignal;
  }

  get aborted(): boolean {
    return this.#signal?.aborted === true;
  }

  get abortReason(): SteadfastError | undefined {
    return this.#signal?.aborted === true ? toAbortError(this.#signal.reason) : undefined;
  }

  subscribe(listener: AbortListener): void {
    const signal = this.#signal;
    if (!signal || signal.aborted) return;
    if (!this.#listeners) {
      this.#listeners = new Set();
      signal.addEventListener("abort", this);
    }
    this.#listeners.add(listener);
  }

  unsubscribe(listener: AbortListener): void {
    const listeners = this.#listeners;
    if (!listeners?.delete(listener) || listeners.size > 0) return;
    // Callers often reuse one request-scoped signal for many queries; leaving our handler on
    // it would grow its listener list by one per call.
    this.#signal?.removeEventListener("abort", this);
    this.#listeners = undefined;
  }

  /** `EventTarget` handler object: one registration on the caller's signal, no closure. */
  handleEvent(): void {
    const listeners = this.#listeners;
    if (!listeners) return;
    this.#listeners = undefined;
    const reason = toAbortError(this.#signal?.reason);
    for (const listener of listeners) listener.handleAbort(reason);
  }
}

/** A context that changes only the attempt number (a retry's second and later tries). */
export class AttemptContext extends Context {
  readonly #parent: Context;
  readonly attempt: number;

  constructor(parent: Context, attempt: number) {
    super();
    this.#parent = parent;
    this.attempt = attempt;
  }

  get signal(): AbortSignal {
    return this.#parent.signal;
  }
  get aborted(): boolean {
    return this.#parent.aborted;
  }
  get abortReason(): SteadfastError | undefined {
    return this.#parent.abortReason;
  }
  get deadline(): number {
    return this.#parent.deadline;
  }
  get idempotent(): boolean {
    return this.#parent.idempotent;
  }
  timeOn(clock: Clock): number {
    // A retry starts after a backoff sleep: the parent's start time is stale.
    return clock.now();
  }
  subscribe(listener: AbortListener): void {
    this.#parent.subscribe(listener);
  }
  unsubscribe(listener: AbortListener): void {
    this.#parent.unsubscribe(listener);
  }
}

/**
 * Returns `input` when it is already a policy context, else a root context built from it.
 *
 * @throws ConfigError when `input.timeout` is not a duration.
 */
export function toContext(
  input: ExecuteOptions | PolicyContext | undefined,
  clock: Clock,
): Context {
  return input instanceof Context ? input : new RootContext(input as ExecuteOptions, clock);
}

/**
 * The error a canceled call rejects with: a Steadfast error (a `TimeoutError` from an outer
 * deadline) passes through; anything else (a DOM `AbortError`, a custom reason) becomes a
 * `CanceledError` whose `cause` is the original reason.
 */
export function toAbortError(reason: unknown): SteadfastError {
  if (reason instanceof SteadfastError) return reason;
  return new CanceledError(reason);
}

/** An operation run by a policy. */
export type Operation<T> = (context: PolicyContext) => T | PromiseLike<T>;

/**
 * The shape every Steadfast policy has: run an operation under the policy. `options` is either
 * {@link ExecuteOptions} from a caller or the {@link PolicyContext} of an outer policy.
 */
export interface Policy {
  /** Runs `fn` under this policy; options (or an outer policy's context) carry the signal and deadline. */
  execute<T>(fn: Operation<T>, options?: ExecuteOptions | PolicyContext): Promise<T>;
}

function noop(): void {}
