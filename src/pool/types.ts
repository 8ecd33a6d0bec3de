/** Why the pool closed a connection. */
export type RemovalReason =
  | "idle-timeout"
  | "max-lifetime"
  | "max-uses"
  | "died-idle"
  | "broken"
  | "released-with-error"
  | "not-reusable"
  | "validation-failed"
  | "keepalive-failed"
  | "reset"
  | "closed";

/** Every {@link RemovalReason}, for zero-filled counters. */
export const REMOVAL_REASONS: readonly RemovalReason[] = [
  "idle-timeout",
  "max-lifetime",
  "max-uses",
  "died-idle",
  "broken",
  "released-with-error",
  "not-reusable",
  "validation-failed",
  "keepalive-failed",
  "reset",
  "closed",
];

/** A snapshot of the pool's state and lifetime counters. */
export interface PoolStats {
  /** Open connections: idle + active + validating. */
  readonly total: number;
  readonly idle: number;
  /** Handed out to callers. */
  readonly active: number;
  /** Being checked with a round trip (before hand-out or as keepalive). */
  readonly validating: number;
  /** Connection attempts in flight. */
  readonly creating: number;
  /** Callers waiting for a connection. */
  readonly pending: number;
  readonly max: number;
  readonly minIdle: number;
  /** Connections successfully opened since the pool started. */
  readonly created: number;
  /** Connections closed, by reason. */
  readonly destroyed: Readonly<Record<RemovalReason, number>>;
  readonly acquires: number;
  readonly acquireTimeouts: number;
  readonly connectFailures: number;
  readonly validationFailures: number;
}

import type { PoolCounts } from "../errors/errors.js";

export type { PoolCounts };

/** Events the pool emits; subscribe with `pool.events.on(name, listener)`. */
export interface PoolEvents<C> {
  connect: { readonly connection: C; readonly durationMs: number };
  "connect-error": {
    readonly error: unknown;
    readonly attempt: number;
    readonly retryInMs: number;
  };
  acquire: { readonly connection: C; readonly waitedMs: number };
  release: {
    readonly connection: C;
    readonly heldMs: number;
    readonly removed: RemovalReason | undefined;
  };
  remove: { readonly connection: C; readonly reason: RemovalReason; readonly error: unknown };
  "acquire-timeout": { readonly waitedMs: number; readonly counts: PoolCounts };
  leak: { readonly connection: C; readonly heldMs: number; readonly stack: string | undefined };
}

/**
 * Decides whether the pool may open connections: the database's circuit breaker fits as is.
 * While it refuses, waiters fail fast with its error instead of each starting its own connect,
 * and every connection attempt runs through it so connect failures count against the database.
 */
export interface ConnectGate {
  /** The error to fail waiters with now, or `undefined` when an attempt would be let through. */
  rejection(): Error | undefined;
  /** Runs one connection attempt through the gate (which records its outcome). */
  execute<T>(attempt: () => PromiseLike<T>): Promise<T>;
}

/** The pino-compatible logger shape Steadfast writes to (`logger.warn(fields, message)`). */
export interface PoolLogger {
  warn(fields: object, message: string): void;
}
