import type { Context } from "hono";
import { SteadfastError } from "../errors/base.js";
import { classify } from "../errors/classify.js";
import { ConfigError } from "../errors/config-error.js";
import { CircuitOpenError, ValidationError } from "../errors/errors.js";
import { redactSecrets } from "../errors/redact.js";
import { KvVersionConflictError } from "../kv/store.js";

/** An error the service answers with a status and a stable code (never a stack). */
export class HttpError extends SteadfastError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(code, message);
  }
}

/** The JSON body of every error response. */
export function errorBody(code: string, message: string, details: Record<string, unknown> = {}) {
  return { error: { code, message, ...details } };
}

/**
 * Maps any error to a response: client mistakes to 4xx with what to fix; database trouble to
 * 503/504 with a code a client can branch on; anything else to 500 with no internals.
 */
export function errorResponse(c: Context, error: unknown): Response {
  const json = (
    status: number,
    code: string,
    message: string,
    details?: Record<string, unknown>,
    headers?: Record<string, string>,
  ) => c.json(errorBody(code, redactSecrets(message), details), status as 400, headers);
  if (error instanceof HttpError)
    return json(error.status, error.code, error.message, error.details);
  if (error instanceof ValidationError)
    return json(400, error.code, error.message, { field: error.field });
  if (error instanceof ConfigError) return json(400, error.code, error.message);
  if (error instanceof KvVersionConflictError) {
    return json(409, error.code, error.message, { expected: error.expected, actual: error.actual });
  }
  if (error instanceof CircuitOpenError) {
    const seconds = Math.max(1, Math.ceil(error.retryAfterMs / 1000));
    return json(
      503,
      error.code,
      "The database is unavailable; try again shortly",
      {},
      { "retry-after": String(seconds) },
    );
  }
  const c2 = classify(error);
  switch (c2.kind) {
    case "timeout":
      return json(504, c2.code, "The database did not answer in time");
    case "unknown-outcome":
      return json(
        503,
        c2.code,
        "The write's outcome is unknown: it may or may not have been applied",
      );
    case "transient":
    case "pool-exhausted":
    case "circuit-open":
    case "closed":
      return json(
        503,
        c2.code,
        "The database is unavailable; try again shortly",
        {},
        { "retry-after": "1" },
      );
    default:
      return json(500, "INTERNAL", "Something went wrong on our side");
  }
}
