/**
 * What kind of failure an error is, as the retry, breaker and pool logic sees it.
 *
 * - `permanent`: retrying cannot help (syntax, permission, constraint, bad data, auth, config).
 * - `transient`: the same call may succeed later (connection lost, server restarting,
 *   too many connections, serialization failure, deadlock, lock timeout).
 * - `timeout`: a deadline passed (client-side deadline, statement timeout, connect timeout).
 * - `canceled`: the caller aborted (an `AbortSignal`, a user-initiated cancel).
 * - `circuit-open`: the circuit breaker refused the call without trying.
 * - `pool-exhausted`: no connection became free before the acquire timeout.
 * - `closed`: the pool or database handle was closed.
 * - `unknown-outcome`: a write whose commit may or may not have happened.
 */
export type FailureKind =
  | "permanent"
  | "transient"
  | "timeout"
  | "canceled"
  | "circuit-open"
  | "pool-exhausted"
  | "closed"
  | "unknown-outcome";

/**
 * Whether the statement reached the server.
 * - `before-send`: it never left the client (connect failed, pool timeout, breaker open).
 * - `after-send`: it reached, or may have reached, the server.
 */
export type FailurePhase = "before-send" | "after-send";

/**
 * Whether the statement's effects may exist.
 * - `not-applied`: certainly no effect (never sent, or the server answered with an error and
 *   rolled the statement back).
 * - `unknown`: the connection was lost after the statement was sent; it may have committed.
 */
export type FailureOutcome = "not-applied" | "unknown";

/** The result of classifying an error; see `classify()`. */
export interface Classification {
  /** What kind of failure it is; see {@link FailureKind}. */
  readonly kind: FailureKind;
  /** Whether the statement reached the server; see {@link FailurePhase}. */
  readonly phase: FailurePhase;
  /** Whether its effects may exist; see {@link FailureOutcome}. */
  readonly outcome: FailureOutcome;
  /** Safe to retry any statement, writes included: transient and certainly not applied. */
  readonly retryable: boolean;
  /** Safe to retry only a statement known to be idempotent (reads, declared idempotent writes). */
  readonly retryableIfIdempotent: boolean;
  /** The connection that saw this error must be destroyed, never reused. */
  readonly connectionBroken: boolean;
  /**
   * The failure says something about the database's reachability or health (connect errors,
   * lost connections, timeouts, server shutdown) rather than about the statement. Only these
   * count towards a circuit breaker; a unique violation never does.
   */
  readonly infrastructure: boolean;
  /**
   * A stable code: our own error code (`"POOL_TIMEOUT"`), `PG_<SQLSTATE>` for a server error
   * (`"PG_40001"`), the Node error code (`"ECONNRESET"`), a name for `pg`'s code-less errors
   * (`"CONNECTION_LOST"`, `"CONNECT_TIMEOUT"`), or `"UNKNOWN"`.
   */
  readonly code: string;
  /** The SQLSTATE, when the server sent one. */
  readonly sqlstate?: string;
}

/** What the caller knows about the failed operation, to refine the phase. */
export interface ClassifyContext {
  /**
   * Whether the statement had been handed to the connection when the error happened.
   * When omitted, connection losses are assumed to be after-send (the safe assumption).
   */
  readonly sent?: boolean;
}
