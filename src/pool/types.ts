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
  /** Open connections not in use. */
  readonly idle: number;
  /** Handed out to callers. */
  readonly active: number;
  /** Being checked with a round trip (before hand-out or as keepalive). */
  readonly validating: number;
  /** Connection attempts in flight. */
  readonly creating: number;
  /** Callers waiting for a connection. */
  readonly pending: number;
  /** The pool's `max`. */
  readonly max: number;
  /** The pool's `minIdle`. */
  readonly minIdle: number;
  /** Connections successfully opened since the pool started. */
  readonly created: number;
  /** Connections closed, by reason. */
  readonly destroyed: Readonly<Record<RemovalReason, number>>;
  /** Connections handed out since the pool started. */
  readonly acquires: number;
  /** Waits that ended with `PoolTimeoutError`. */
  readonly acquireTimeouts: number;
  /** Connection attempts that failed. */
  readonly connectFailures: number;
  /** Connections that failed their check before hand-out or a keepalive ping. */
  readonly validationFailures: number;
}

import type { PoolCounts } from "../errors/errors.js";

export type { PoolCounts };

/** Events the pool emits; subscribe with `pool.events.on(name, listener)`. */
export interface PoolEvents<C> {
  /** A connection was opened. */
  connect: {
    /** The new connection. */
    readonly connection: C;
    /** How long opening it took, in ms. */
    readonly durationMs: number;
  };
  /** A connection attempt failed; the pool retries after a backoff. */
  "connect-error": {
    /** The failure. */
    readonly error: unknown;
    /** Failed attempts in a row, this one included. */
    readonly attempt: number;
    /** The backoff before the next attempt, in ms. */
    readonly retryInMs: number;
  };
  /** A connection was handed out. */
  acquire: {
    /** The connection handed out. */
    readonly connection: C;
    /** How long the caller waited for it, in ms. */
    readonly waitedMs: number;
  };
  /** A connection came back. */
  release: {
    /** The connection released. */
    readonly connection: C;
    /** How long the caller held it, in ms. */
    readonly heldMs: number;
    /** Why it was closed instead of kept, if it was. */
    readonly removed: RemovalReason | undefined;
  };
  /** A connection was closed. */
  remove: {
    /** The connection closed. */
    readonly connection: C;
    /** Why it was closed. */
    readonly reason: RemovalReason;
    /** The error that broke it, if one did. */
    readonly error: unknown;
  };
  /** A caller's wait ended with `PoolTimeoutError`. */
  "acquire-timeout": {
    /** How long it waited, in ms. */
    readonly waitedMs: number;
    /** The pool's counts when the wait ended. */
    readonly counts: PoolCounts;
  };
  /** A connection was held longer than `leakDetectionThreshold`. */
  leak: {
    /** The connection held. */
    readonly connection: C;
    /** How long it has been held, in ms. */
    readonly heldMs: number;
    /** Where it was acquired, when stacks are captured. */
    readonly stack: string | undefined;
  };
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
  /** Writes one warning: structured fields, then the message. */
  warn(fields: object, message: string): void;
}
