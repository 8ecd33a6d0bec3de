import { classify } from "../errors/classify.js";
import { ConfigError, describeValue } from "../errors/config-error.js";
import { CanceledError, UnknownOutcomeError } from "../errors/errors.js";
import type { PolicyContext } from "../policy/context.js";
import type { Duration } from "../util/duration.js";
import { optionKeys } from "../util/option-keys.js";
import type { Database } from "./database.js";
import type { QueryResult } from "./driver.js";
import { claimKey, ensureKeyTable, storeResult, sweepExpiredKeys } from "./idempotency.js";
import { abortReasonOf, acquireFor, execOn, markNotSent, serverTimeoutFor } from "./statement.js";

/** Isolation levels `transaction()` accepts. */
export type IsolationLevel = "read committed" | "repeatable read" | "serializable";

/** Options of `db.transaction()`. */
export interface TransactionOptions {
  /** Default `"read committed"` (PostgreSQL's default). */
  readonly isolation?: IsolationLevel;
  /** Start a `READ ONLY` transaction. Default `false`. */
  readonly readOnly?: boolean;
  /** Deadline for the whole transaction, every attempt included. Default: the database's `timeout`. */
  readonly timeout?: Duration;
  /** Aborting cancels the running statement and rolls the transaction back. */
  readonly signal?: AbortSignal;
  /**
   * A key naming this unit of work (`"order:<request id>"`, at most 200 characters). It is
   * recorded in the same transaction, so Steadfast can tell whether a commit whose answer was
   * lost happened, and a later call with a key that committed returns the stored result without
   * running `fn`. The result must then be JSON-serializable; a replay returns its JSON form.
   */
  readonly idempotencyKey?: string;
}

/** @internal Every option name of {@link TransactionOptions}. */
export const TRANSACTION_OPTION_KEYS = optionKeys<TransactionOptions>()([
  "isolation",
  "readOnly",
  "timeout",
  "signal",
  "idempotencyKey",
]);

/** What `fn` gets inside `db.transaction(fn)`. */
export interface Transaction {
  /** Runs a statement inside the transaction. */
  query<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
  /** 1 on the first run of `fn`, 2 when it is re-run after a serialization failure, … */
  readonly attempt: number;
}

const ISOLATION: Record<IsolationLevel, string> = {
  "read committed": "READ COMMITTED",
  "repeatable read": "REPEATABLE READ",
  serializable: "SERIALIZABLE",
};

/** Where the transaction was when it failed: only a failure during COMMIT can be ambiguous. */
type Stage = "begin" | "body" | "commit";

/** @internal The body of `Database#transaction`. */
export async function runTransaction<C, T>(
  db: Database<C>,
  fn: (tx: Transaction) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  if (typeof fn !== "function") {
    throw new ConfigError([
      { field: "fn", expected: "an async function (tx) => …", received: describeValue(fn) },
    ]);
  }
  const { isolation = "read committed", readOnly = false, idempotencyKey: key } = options;
  const issues = [];
  if (!(isolation in ISOLATION)) {
    issues.push({
      field: "isolation",
      expected: '"read committed", "repeatable read" or "serializable"',
      received: describeValue(isolation),
    });
  }
  if (key !== undefined && (typeof key !== "string" || key.length === 0 || key.length > 200)) {
    issues.push({
      field: "idempotencyKey",
      expected: "a string of 1 to 200 characters",
      received: describeValue(key),
    });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const timeout = db.timeoutOf(options.timeout);
  if (key !== undefined) await ensureKeyTable(db);

  const rt = db.runtime;
  // The backend whose COMMIT answer was lost: terminated before the next attempt, so the key's
  // row lock (held until that backend's transaction ends) is released at once.
  let orphanPid: number | undefined;
  // Set when the deadline or the caller's signal cut a COMMIT off mid-flight.
  let abandonedDuringCommit = false;
  // Set while a lost COMMIT (with a key) awaits the next attempt's check of the key.
  let commitUnresolved = false;

  const startedAt = rt.clock.now();
  let attempts = 0;
  const report = (error?: unknown): void => {
    if (!db.events.has("call")) return;
    const durationMs = rt.clock.now() - startedAt;
    const base = {
      kind: "transaction",
      sql: "transaction",
      params: undefined,
      durationMs,
      attempts,
    } as const;
    db.events.emit("call", error === undefined ? base : { ...base, error });
  };

  const attempt = async (ctx: PolicyContext): Promise<T> => {
    attempts = ctx.attempt;
    const connection = await acquireFor(rt, ctx);
    let abandoned = false;
    let stage: Stage = "begin";
    const onAbandon = (): void => {
      abandoned = true;
      if (stage === "commit") abandonedDuringCommit = true;
    };
    // Once a statement has been abandoned (deadline or abort while it ran), the connection
    // belongs to the background reclaim: nothing more may be sent on it or release it, even
    // if that statement came back successfully a moment later.
    const run = async <R>(sql: string, params?: readonly unknown[]) => {
      if (abandoned) throw markNotSent(reclaimedError(ctx));
      const result = await execOn<C, R>(rt, connection, sql, params, ctx, onAbandon);
      if (abandoned) throw reclaimedError(ctx);
      return result;
    };
    let finished = false;
    try {
      if (orphanPid !== undefined) {
        await run("SELECT pg_terminate_backend($1)", [orphanPid]).catch((error: unknown) => {
          if (abandoned) throw error; // out of time: the connection is no longer ours
        });
        orphanPid = undefined;
      }
      const remaining = serverTimeoutFor(Math.max(1, ctx.deadline - rt.clock.now()));
      await run(
        `BEGIN ISOLATION LEVEL ${ISOLATION[isolation]}${readOnly ? " READ ONLY" : ""}` +
          (rt.serverTimeout && Number.isFinite(remaining)
            ? `; SET LOCAL statement_timeout = ${remaining}`
            : ""),
      );
      if (key !== undefined) {
        const claim = await claimKey(db, run, key);
        commitUnresolved = false;
        if (!claim.owned) {
          await run("ROLLBACK");
          rt.pool.release(connection);
          finished = true;
          if (ctx.attempt > 1) db.events.emit("outcome-resolved", { key, committed: true });
          return claim.result as T;
        }
        if (ctx.attempt > 1 && db.events.has("outcome-resolved")) {
          db.events.emit("outcome-resolved", { key, committed: false });
        }
      }
      stage = "body";
      const tx: Transaction = {
        attempt: ctx.attempt,
        query: <R>(sql: string, params?: readonly unknown[]) => {
          if (finished) return Promise.reject(new Error("this transaction has already ended"));
          const reason = abortReasonOf(ctx);
          if (reason) return Promise.reject(reason);
          return run<R>(sql, params);
        },
      };
      const result = await fn(tx);
      if (key !== undefined) await storeResult(db, run, key, result);
      stage = "commit";
      await run("COMMIT");
      finished = true;
      rt.pool.release(connection);
      if (key !== undefined) sweepExpiredKeys(db);
      return result;
    } catch (error) {
      finished = true;
      if (!abandoned) await rollbackAndRelease(db, connection, error);
      throw explain(db, error, stage, key, () => {
        // An abandoned connection may already be back in the pool serving someone else:
        // only a connection this attempt still owns can be named as the orphan to terminate.
        if (!abandoned) orphanPid = rt.driver.backendPid?.(connection);
        commitUnresolved = true;
      });
    }
  };

  try {
    const result = await db.transactionPolicy.execute(attempt, { timeout, signal: options.signal });
    report();
    return result;
  } catch (error) {
    const unresolved = abandonedDuringCommit || commitUnresolved;
    if (!unresolved || error instanceof UnknownOutcomeError) {
      report(error);
      throw error;
    }
    const unknown = new UnknownOutcomeError(
      error,
      key === undefined
        ? "The transaction timed out or was canceled while COMMIT was in flight; it may or may not have committed"
        : "The outcome of COMMIT could not be checked in time; call again with the same idempotencyKey to learn whether it committed",
    );
    if (db.events.has("unknown-outcome")) {
      db.events.emit("unknown-outcome", { kind: "transaction", error: unknown });
    }
    report(unknown);
    throw unknown;
  }
}

/**
 * Turns a failure into what the retry policy and the caller must know. Before COMMIT nothing
 * was committed, so every failure is "not applied" (retried when transient). During COMMIT a
 * server error still means rolled back, but a lost connection means unknown — unless the
 * idempotency key lets the next attempt find out.
 */
function explain<C>(
  db: Database<C>,
  error: unknown,
  stage: Stage,
  key: string | undefined,
  rememberOrphan: () => void,
): unknown {
  if (stage !== "commit") return markNotSent(error);
  const c = classify(error, { sent: true });
  if (!c.connectionBroken && c.sqlstate !== undefined) return markNotSent(error);
  if (key !== undefined) {
    rememberOrphan();
    return markNotSent(error);
  }
  const unknown = new UnknownOutcomeError(
    error,
    "The connection was lost while COMMIT was in flight; the transaction may or may not have committed (pass an idempotencyKey to let Steadfast find out)",
  );
  if (db.events.has("unknown-outcome")) {
    db.events.emit("unknown-outcome", { kind: "transaction", error: unknown });
  }
  return unknown;
}

async function rollbackAndRelease<C>(
  db: Database<C>,
  connection: C,
  error: unknown,
): Promise<void> {
  const rt = db.runtime;
  if (classify(error).connectionBroken) {
    rt.pool.release(connection, { destroy: true, error });
    return;
  }
  try {
    await rt.driver.query(connection, "ROLLBACK", undefined);
    rt.pool.release(connection);
  } catch (rollbackError) {
    rt.pool.release(connection, { destroy: true, error: rollbackError });
  }
}

/** The error for a statement whose connection was taken back after an abort or deadline. */
function reclaimedError(ctx: PolicyContext): unknown {
  return (
    abortReasonOf(ctx) ??
    new CanceledError("the transaction's connection was reclaimed after its deadline")
  );
}
