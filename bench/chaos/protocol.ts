/** Messages between the chaos scorecard and its client processes. */

/** The clients the scorecard compares. */
export type ClientKind = "steadfast" | "steadfast (idempotency keys)" | "pg.Pool" | "postgres.js";

export const CLIENT_KINDS: readonly ClientKind[] = [
  "steadfast",
  "steadfast (idempotency keys)",
  "pg.Pool",
  "postgres.js",
];

/** One call of the workload; times are epoch milliseconds (fractional). */
export interface ChaosCall {
  readonly op: "read" | "write";
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
  readonly code?: string;
  /** The client said the write's outcome is unknown (only Steadfast can). */
  readonly unknown?: boolean;
}

export type ToClient =
  | { type: "start"; prefix: string; loops: number; paceMs: number }
  | { type: "pause" }
  | { type: "resume" }
  | { type: "exhaust"; loops: number; ms: number }
  | { type: "stop" };

export type FromClient =
  | { type: "ready" }
  | { type: "batch"; calls: ChaosCall[]; connects: number[] }
  | { type: "done" };
