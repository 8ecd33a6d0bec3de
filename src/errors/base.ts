/**
 * Base class of every error Steadfast throws. Each subclass has a stable `code` string
 * that programs can branch on (messages may change; codes do not).
 *
 * @example
 * ```ts
 * try { await db.query("select 1"); }
 * catch (err) { if (err instanceof SteadfastError && err.code === "POOL_TIMEOUT") retryLater(); }
 * ```
 */
export class SteadfastError extends Error {
  /** Stable, machine-readable identifier, e.g. `"POOL_TIMEOUT"`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * True when `err` is a {@link SteadfastError}, optionally with the given `code`.
 *
 * @example
 * ```ts
 * if (isSteadfastError(err, "CIRCUIT_OPEN")) return new Response("unavailable", { status: 503 });
 * ```
 */
export function isSteadfastError(err: unknown, code?: string): err is SteadfastError {
  return err instanceof SteadfastError && (code === undefined || err.code === code);
}
