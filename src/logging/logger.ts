import type { Database } from "../db/database.js";
import { classify } from "../errors/classify.js";
import { redactSecrets } from "../errors/redact.js";
import { serializeError } from "../errors/serialize.js";
import type { Duration } from "../util/duration.js";
import { optionKeys } from "../util/option-keys.js";
import { OptionsReader } from "../util/options.js";
import { BurstLimiter } from "./burst.js";

/** One level's method of a {@link Logger}: structured fields first, then the message (pino's order). */
export type LogMethod = (fields: object, message: string) => void;

/**
 * The logger shape Steadfast writes to: pino's (`logger.warn({ ...fields }, "message")`), so a
 * pino logger, or a `console`-backed adapter, fits. Missing levels are skipped.
 */
export interface Logger {
  /** Errors; Steadfast itself writes nothing at this level today. */
  error?: LogMethod;
  /** Connect failures, unexpected removals, acquire timeouts, leaks, unknown outcomes, slow queries, a breaker opening. */
  warn?: LogMethod;
  /** Retries and the breaker's other transitions. */
  info?: LogMethod;
  /** Connections opened and routine removals. */
  debug?: LogMethod;
}

/** Severity threshold; `"silent"` logs nothing. */
export type LogLevel = "silent" | "error" | "warn" | "info" | "debug";

/** Options of {@link attachLogger}. */
export interface LogOptions {
  /** Lowest level written. Default `"warn"`: a library stays quiet until something is wrong. */
  readonly level?: LogLevel;
  /** A call slower than this is logged at `warn` with its SQL. Default `"1s"`; 0 disables. */
  readonly slowQuery?: Duration;
  /** Include parameters in slow-query lines. Default `false`: they may hold personal data. */
  readonly logParams?: boolean;
  /** Lines per kind of event per 10 s before the rest are counted, not written. Default 5. */
  readonly burst?: number;
}

/** @internal Every option name of {@link LogOptions}. */
export const LOG_OPTION_KEYS = optionKeys<LogOptions>()([
  "level",
  "slowQuery",
  "logParams",
  "burst",
]);

/** Defaults of {@link LogOptions} (`slowQuery` in ms). */
export const LOG_DEFAULTS = {
  level: "warn",
  slowQuery: 1_000,
  logParams: false,
  burst: 5,
} as const;

const RANK: Record<LogLevel, number> = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };
const BURST_WINDOW_MS = 10_000;
const MAX_SQL = 2_000;

/**
 * Writes a database handle's events as structured log lines: connections opened (debug) and
 * removed (with the reason), connect failures, retries, breaker transitions, slow queries,
 * unknown outcomes and leaked connections. Errors go through `serializeError` (credentials
 * redacted); each kind of line is rate-limited so an outage cannot flood the log.
 *
 * @returns a function that detaches the logger.
 * @example
 * ```ts
 * import pino from "pino";
 * attachLogger(db, pino(), { level: "info", slowQuery: "500ms" });
 * ```
 */
export function attachLogger<C>(
  db: Database<C>,
  logger: Logger,
  options: LogOptions = {},
): () => void {
  const r = new OptionsReader(options, "log", LOG_OPTION_KEYS);
  const d = LOG_DEFAULTS;
  const level = r.oneOf<LogLevel>("level", d.level, ["silent", "error", "warn", "info", "debug"]);
  const slowQuery = r.duration("slowQuery", d.slowQuery, { min: 0 });
  const logParams = r.boolean("logParams", d.logParams);
  const burst = new BurstLimiter(
    db.options.clock,
    r.integer("burst", d.burst, { min: 1 }),
    BURST_WINDOW_MS,
  );
  r.finish();
  const target = db.runtime.driver.target;

  const write = (
    at: Exclude<LogLevel, "silent">,
    kind: string,
    fields: object,
    message: string,
    limited = true,
  ) => {
    if (RANK[at] > RANK[level]) return;
    const method = logger[at];
    if (!method) return;
    const suppressed = limited ? burst.admit(kind) : 0;
    if (suppressed === undefined) return;
    const extra = suppressed > 0 ? { suppressed } : {};
    method.call(
      logger,
      { component: "steadfast", event: kind, target, ...fields, ...extra },
      message,
    );
  };
  const err = (error: unknown) => ({
    err: serializeError(error, { stack: false }),
    code: classify(error).code,
  });

  const offs = [
    db.pool.events.on("connect", (e) =>
      write("debug", "connect", { durationMs: round(e.durationMs) }, "connection opened", false),
    ),
    db.pool.events.on("connect-error", (e) =>
      write(
        "warn",
        "connect-error",
        { ...err(e.error), attempt: e.attempt, retryInMs: round(e.retryInMs) },
        "could not connect to the database",
      ),
    ),
    db.pool.events.on("remove", (e) => {
      const unexpected =
        e.reason === "died-idle" ||
        e.reason === "broken" ||
        e.reason === "validation-failed" ||
        e.reason === "keepalive-failed";
      const fields = { reason: e.reason, ...(e.error === undefined ? {} : err(e.error)) };
      write(
        unexpected ? "warn" : "debug",
        `remove:${e.reason}`,
        fields,
        unexpected ? "connection lost; removed from the pool" : "connection retired",
      );
    }),
    db.pool.events.on("acquire-timeout", (e) =>
      write(
        "warn",
        "acquire-timeout",
        { waitedMs: round(e.waitedMs), ...e.counts },
        "timed out waiting for a connection",
      ),
    ),
    db.pool.events.on("leak", (e) =>
      write(
        "warn",
        "leak",
        { heldMs: round(e.heldMs), stack: e.stack },
        "a connection has been held longer than leakDetectionThreshold",
      ),
    ),
    db.on("retry", (e) =>
      write(
        "info",
        "retry",
        {
          kind: e.kind,
          attempt: e.attempt,
          delayMs: round(e.delayMs),
          code: e.classification.code,
        },
        "retrying after a transient failure",
      ),
    ),
    db.on("breaker", (e) =>
      write(
        e.to === "open" ? "warn" : "info",
        "breaker",
        { from: e.from, to: e.to, reason: e.reason },
        `circuit breaker ${e.to}`,
        false,
      ),
    ),
    db.on("unknown-outcome", (e) =>
      write(
        "warn",
        "unknown-outcome",
        { kind: e.kind, ...err(e.error) },
        "a write's outcome is unknown",
      ),
    ),
    db.on("call", (e) => {
      if (slowQuery === 0 || e.durationMs < slowQuery) return;
      const params =
        e.params === undefined
          ? undefined
          : logParams
            ? e.params.map(redactParam)
            : `[${e.params.length} redacted]`;
      write(
        "warn",
        "slow-query",
        {
          kind: e.kind,
          durationMs: round(e.durationMs),
          attempts: e.attempts,
          sql: redactSecrets(e.sql.slice(0, MAX_SQL)),
          ...(params === undefined ? {} : { params }),
          ...(e.error === undefined ? {} : err(e.error)),
        },
        "slow query",
      );
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function redactParam(value: unknown): unknown {
  return typeof value === "string" ? redactSecrets(value) : value;
}
