import type { Classification } from "../errors/classification.js";
import type { CircuitEvent } from "../policy/circuit-breaker-options.js";

/** What a call was: a read (retried after send), a write, or a transaction. */
export type CallKind = "read" | "write" | "transaction";

/**
 * Events of a `Database`, for metrics and logs: subscribe with `db.on(name, listener)`. Emitting
 * costs nothing while nobody listens.
 */
export interface DatabaseEvents {
  /** A call finished (after all its attempts). `error` is absent on success. */
  call: {
    /** A read, a write or a transaction. */
    readonly kind: CallKind;
    /**
     * The statement's SQL text (`"transaction"` for a transaction), for slow-query logs. Never
     * use it as a metric label: it is unbounded.
     */
    readonly sql: string;
    /** The parameters; log them only when you know they hold no secrets. */
    readonly params: readonly unknown[] | undefined;
    /** From the call to its result, every attempt and backoff included, in ms. */
    readonly durationMs: number;
    /** Attempts made, the first included. */
    readonly attempts: number;
    /** The error the call rejected with. */
    readonly error?: unknown;
  };
  /** A failed attempt will be tried again after `delayMs`. */
  retry: {
    /** A read, a write or a transaction. */
    readonly kind: CallKind;
    /** The attempt that failed (1 for the first). */
    readonly attempt: number;
    /** The backoff sleep before the next attempt, in ms. */
    readonly delayMs: number;
    /** How the failure was classified. */
    readonly classification: Classification;
  };
  /** A call ran out of time; its statement was canceled on the server. */
  timeout: {
    /** A read, a write or a transaction. */
    readonly kind: CallKind;
    /** The deadline that passed, in ms. */
    readonly timeoutMs: number;
  };
  /** The circuit breaker changed state. */
  breaker: CircuitEvent;
  /** A write's or COMMIT's outcome could not be known (no idempotency key to check). */
  "unknown-outcome": {
    /** A write or a transaction. */
    readonly kind: CallKind;
    /** The `UnknownOutcomeError` the call rejected with. */
    readonly error: unknown;
  };
  /** An idempotency key settled an outcome that would otherwise have been unknown. */
  "outcome-resolved": {
    /** The transaction's idempotency key. */
    readonly key: string;
    /** Whether the transaction had committed. */
    readonly committed: boolean;
  };
}
