import { SteadfastError } from "./base.js";

/**
 * Every `code` a Steadfast error class in this module (and `ConfigError`) carries. Branch on
 * these, not on messages.
 */
export type SteadfastErrorCode =
  | "TIMEOUT"
  | "CANCELED"
  | "CIRCUIT_OPEN"
  | "UNKNOWN_OUTCOME"
  | "POOL_TIMEOUT"
  | "POOL_QUEUE_FULL"
  | "POOL_CLOSED"
  | "CONFIG_INVALID"
  | "VALIDATION_FAILED";

/**
 * Which wait a {@link TimeoutError} ended.
 * - `acquire`: waiting for a pooled connection (nothing was sent).
 * - `connect`: opening a connection (nothing was sent).
 * - `validation`: checking an idle connection before hand-out (no user statement was sent).
 * - `query`: waiting for a statement's answer (it may have run).
 * - `deadline`: the whole call's deadline passed (an attempt may have been sent).
 * - `cancel`: waiting for the server to act on a cancel request.
 */
export type TimeoutPhase = "acquire" | "connect" | "validation" | "query" | "deadline" | "cancel";

const TIMEOUT_WHAT: Record<TimeoutPhase, string> = {
  acquire: "waiting for a connection from the pool",
  connect: "connecting to the database",
  validation: "validating a connection",
  query: "waiting for the statement to complete",
  deadline: "the call's deadline passed",
  cancel: "waiting for the server to cancel the statement",
};

/**
 * A client-side time limit passed. `phase` says which wait ended, and with it whether the
 * statement can have reached the server (`acquire`, `connect` and `validation` mean it did not).
 *
 * @example
 * ```ts
 * if (err instanceof TimeoutError && err.phase === "connect") console.warn(`connect took > ${err.timeoutMs} ms`);
 * ```
 */
export class TimeoutError extends SteadfastError {
  /** The limit that passed, in milliseconds. */
  readonly timeoutMs: number;
  /** Which wait ended; see {@link TimeoutPhase}. */
  readonly phase: TimeoutPhase;

  constructor(timeoutMs: number, phase: TimeoutPhase, options?: { cause?: unknown }) {
    super("TIMEOUT", `Timed out after ${timeoutMs} ms ${TIMEOUT_WHAT[phase] ?? phase}`, options);
    this.timeoutMs = timeoutMs;
    this.phase = phase;
  }
}

/**
 * The caller aborted the operation through an `AbortSignal`. The signal's `reason` is kept as
 * `cause`, so a caller that aborted with its own value gets it back.
 *
 * @example
 * ```ts
 * if (signal.aborted) throw new CanceledError(signal.reason);
 * ```
 */
export class CanceledError extends SteadfastError {
  constructor(reason?: unknown) {
    super(
      "CANCELED",
      `The operation was canceled${describeReason(reason)}`,
      reason === undefined ? undefined : { cause: reason },
    );
  }
}

/**
 * The circuit breaker refused the call without trying it, because the database recently failed
 * repeatedly. Nothing was sent; try again after `retryAfterMs`.
 *
 * @example
 * ```ts
 * if (err instanceof CircuitOpenError) res.setHeader("Retry-After", Math.ceil(err.retryAfterMs / 1000));
 * ```
 */
export class CircuitOpenError extends SteadfastError {
  /** Time until the breaker lets a probe through, in milliseconds (0 when a probe may start now). */
  readonly retryAfterMs: number;
  /** Name of the breaker that refused, e.g. the database's name. Default `"default"`. */
  readonly breaker: string;

  /** @param cause the failure that opened the circuit, if known. */
  constructor(retryAfterMs: number, breaker = "default", cause?: unknown) {
    const after = Math.max(0, Math.round(retryAfterMs));
    super(
      "CIRCUIT_OPEN",
      `Circuit breaker "${breaker}" is open after repeated database failures; retry after ${after} ms`,
      cause === undefined ? undefined : { cause },
    );
    this.retryAfterMs = after;
    this.breaker = breaker;
  }
}

/**
 * A write whose outcome cannot be known: the connection was lost after the statement (typically
 * `COMMIT`) was sent, so it may or may not have taken effect. Steadfast never retries it blindly;
 * check the data (or use an idempotency key) before trying again. `cause` is the connection error.
 *
 * @example
 * ```ts
 * if (err instanceof UnknownOutcomeError) await reconcileOrder(orderId);
 * ```
 */
export class UnknownOutcomeError extends SteadfastError {
  constructor(cause: unknown, message?: string) {
    super(
      "UNKNOWN_OUTCOME",
      message ??
        "The connection was lost after the statement was sent; it may or may not have been applied",
      { cause },
    );
  }
}

/**
 * The pool's counts when a wait ended, carried by {@link PoolTimeoutError} and
 * {@link PoolQueueFullError} (structurally the same as the pool's own `PoolCounts`).
 */
export interface PoolCounts {
  /** Open connections. */
  readonly total: number;
  /** Open connections not in use. */
  readonly idle: number;
  /** Handed out to callers. */
  readonly active: number;
  /** Callers waiting for a connection. */
  readonly pending: number;
  /** The pool's `max`. */
  readonly max: number;
}

/**
 * No connection became free before the acquire timeout. Carries how long the caller waited and
 * the pool's counts, and as `cause` the last connection error when connecting was failing.
 *
 * @example
 * ```ts
 * if (err instanceof PoolTimeoutError) log.warn({ waitedMs: err.waitedMs, ...err.counts }, "pool exhausted");
 * ```
 */
export class PoolTimeoutError extends SteadfastError {
  /** How long the caller waited, in ms. */
  readonly waitedMs: number;
  /** The pool's counts when the wait ended. */
  readonly counts: PoolCounts;

  constructor(waitedMs: number, counts: PoolCounts, cause?: unknown) {
    super(
      "POOL_TIMEOUT",
      `Timed out after ${Math.round(waitedMs)} ms waiting for a connection (${describeCounts(counts)})`,
      cause === undefined ? undefined : { cause },
    );
    this.waitedMs = waitedMs;
    this.counts = { ...counts };
  }
}

/**
 * Too many callers were already waiting for a connection, so this one failed at once instead
 * of queueing (a bounded queue keeps an overload from turning into unbounded latency).
 *
 * @example
 * ```ts
 * if (err instanceof PoolQueueFullError) return new Response("busy", { status: 503 });
 * ```
 */
export class PoolQueueFullError extends SteadfastError {
  /** The queue bound that was reached. */
  readonly maxWaiters: number;
  /** The pool's counts when the call was refused. */
  readonly counts: PoolCounts;

  constructor(maxWaiters: number, counts: PoolCounts) {
    super(
      "POOL_QUEUE_FULL",
      `Too many callers waiting for a connection (limit ${maxWaiters}; ${describeCounts(counts)})`,
    );
    this.maxWaiters = maxWaiters;
    this.counts = { ...counts };
  }
}

/**
 * The pool (or database handle) was closed; no further calls are accepted.
 *
 * @example
 * ```ts
 * await db.close();
 * await db.query("select 1"); // rejects with PoolClosedError
 * ```
 */
export class PoolClosedError extends SteadfastError {
  constructor(message = "The pool is closed") {
    super("POOL_CLOSED", message);
  }
}

function describeCounts(c: PoolCounts): string {
  return `${c.total}/${c.max} connections, ${c.idle} idle, ${c.active} in use, ${c.pending} waiting`;
}

// Only a short, non-secret hint: the full reason stays available as `cause`.
function describeReason(reason: unknown): string {
  try {
    if (typeof reason === "string") return `: ${reason.slice(0, 100)}`;
    if (reason instanceof Error && reason.name !== "AbortError") return `: ${reason.name}`;
  } catch {
    // A hostile reason must not stop the cancellation itself.
  }
  return "";
}

/**
 * A value handed to an operation was rejected before anything was written: an empty or
 * oversized key, a value that is not JSON, a namespace with odd characters. `field` names
 * what was wrong; the message says what is expected. Never retried.
 *
 * @example
 * ```ts
 * throw new ValidationError("key", "a non-empty string of at most 1024 characters");
 * ```
 */
export class ValidationError extends SteadfastError {
  /** The argument or field that was rejected (`"key"`, `"value"`, `"entries[3].key"`). */
  readonly field: string;

  constructor(field: string, expected: string, received?: string) {
    super(
      "VALIDATION_FAILED",
      `Invalid ${field}: expected ${expected}${received === undefined ? "" : `, got ${received}`}`,
    );
    this.field = field;
  }
}
