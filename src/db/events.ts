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
    readonly kind: CallKind;
    /**
     * The statement's SQL text (`"transaction"` for a transaction), for slow-query logs. Never
     * use it as a metric label: it is unbounded.
     */
    readonly sql: string;
    /** The parameters; log them only when you know they hold no secrets. */
    readonly params: readonly unknown[] | undefined;
    readonly durationMs: number;
    readonly attempts: number;
    readonly error?: unknown;
  };
  /** A failed attempt will be tried again after `delayMs`. */
  retry: {
    readonly kind: CallKind;
    readonly attempt: number;
    readonly delayMs: number;
    readonly classification: Classification;
  };
  /** A call ran out of time; its statement was canceled on the server. */
  timeout: { readonly kind: CallKind; readonly timeoutMs: number };
  /** The circuit breaker changed state. */
  breaker: CircuitEvent;
  /** A write's or COMMIT's outcome could not be known (no idempotency key to check). */
  "unknown-outcome": { readonly kind: CallKind; readonly error: unknown };
  /** An idempotency key settled an outcome that would otherwise have been unknown. */
  "outcome-resolved": { readonly key: string; readonly committed: boolean };
}
