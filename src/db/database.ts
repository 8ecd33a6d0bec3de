import type { Classification } from "../errors/classification.js";
import { classify } from "../errors/classify.js";
import { ConfigError, describeValue } from "../errors/config-error.js";
import { CanceledError, TimeoutError, UnknownOutcomeError } from "../errors/errors.js";
import { KeyValueStore, type KvOptions } from "../kv/store.js";
import { attachLogger } from "../logging/logger.js";
import { type CircuitBreakerPolicy, circuitBreaker } from "../policy/circuit-breaker.js";
import type { CircuitState } from "../policy/circuit-breaker-options.js";
import { pipeline } from "../policy/compose.js";
import type { Policy, PolicyContext } from "../policy/context.js";
import { type DeadlinePolicy, deadline } from "../policy/deadline.js";
import { type RetryPolicy, retry } from "../policy/retry.js";
import { type RetryBudget, retryBudget } from "../policy/retry-budget.js";
import { ConnectionPool } from "../pool/pool.js";
import type { PoolStats } from "../pool/types.js";
import { type Duration, parseDuration } from "../util/duration.js";
import { Emitter } from "../util/emitter.js";
import { optionKeys } from "../util/option-keys.js";
import type { QueryResult } from "./driver.js";
import type { CallKind, DatabaseEvents } from "./events.js";
import {
  type DatabaseOptions,
  type ResolvedDatabaseOptions,
  resolveDatabaseOptions,
} from "./options.js";
import {
  acquireFor,
  ensureServerTimeout,
  execOn,
  type StatementRuntime,
  wasSent,
} from "./statement.js";
import { runTransaction, type Transaction, type TransactionOptions } from "./transaction.js";

/** Per-call options of `query`, `read` and `write`. */
export interface QueryOptions {
  /** This call's deadline, all attempts included (`"2s"` or ms). Default: the database's `timeout`. */
  readonly timeout?: Duration;
  /** Aborting cancels the call: the statement is canceled on the server and the call rejects. */
  readonly signal?: AbortSignal;
  /**
   * The statement may safely run twice (an upsert of a fixed value, a delete by key), so it is
   * retried even when the failure happened after it was sent. Always true for `read`.
   */
  readonly idempotent?: boolean;
}

/** @internal Every option name of {@link QueryOptions}. */
export const QUERY_OPTION_KEYS = optionKeys<QueryOptions>()(["timeout", "signal", "idempotent"]);

/** A snapshot of a database handle's state. */
export interface DatabaseStats {
  /** The pool's counts and counters. */
  readonly pool: PoolStats;
  /** The circuit breaker's state, or `"disabled"`. */
  readonly breaker: CircuitState | "disabled";
  /** The shared retry budget. */
  readonly retryBudget: {
    /** Retries that may be taken right now. */
    readonly available: number;
  };
}

/** The longest deadline a single call may ask for; bounds every wait. */
const MAX_TIMEOUT = 24 * 3_600_000;

/**
 * A resilient handle on one PostgreSQL database: a self-healing pool, a retry policy that never
 * repeats a write whose outcome is unknown, deadlines enforced on the client and the server,
 * and a circuit breaker shared with the pool. Create it with {@link createDatabase}.
 *
 * @example
 * ```ts
 * const db = createDatabase({ driver: pgDriver({ connectionString: process.env.DATABASE_URL }) });
 * const { rows } = await db.read("select id from users where email = $1", [email]);
 * console.log(db.stats().pool.active);
 * ```
 */
export class Database<C = unknown> {
  /** The connection pool (stats, events, `reset()`). */
  readonly pool: ConnectionPool<C>;
  /** The circuit breaker shared by queries and connection attempts, if enabled. */
  readonly breaker: CircuitBreakerPolicy | undefined;
  /** The resolved options. */
  readonly options: ResolvedDatabaseOptions;
  /** @internal */ readonly runtime: StatementRuntime<C>;
  /** @internal */ readonly events = new Emitter<DatabaseEvents>();
  /** @internal */ readonly transactionPolicy: Policy;
  readonly #budget: RetryBudget;
  readonly #read: Policy;
  readonly #write: Policy;

  constructor(options: DatabaseOptions<C>) {
    this.options = resolveDatabaseOptions(options);
    const o = this.options;
    const clock = o.clock;
    this.breaker =
      o.breaker === false
        ? undefined
        : circuitBreaker({
            name: options.driver.target,
            ...o.breaker,
            clock,
            probe: () => this.pool.probe(),
          });
    this.pool = new ConnectionPool(
      options.driver.connector,
      { ...o.pool, clock, random: o.random },
      // The pool's own warnings are not wired: attachLogger covers its events, rate-limited.
      this.breaker ? { gate: this.breaker } : {},
    );
    this.runtime = {
      pool: this.pool,
      driver: options.driver,
      clock,
      cancelGrace: o.cancelGrace,
      serverTimeouts: new WeakMap(),
      serverTimeout: o.serverTimeout,
    };
    this.#budget = retryBudget({ ...o.budget, clock });
    this.#read = this.#pipeline("read", o.maxAttempts);
    this.#write = this.#pipeline("write", o.maxAttempts);
    this.transactionPolicy = this.#pipeline("transaction", o.transactionAttempts);
    this.breaker?.on("stateChange", (event) => this.events.emit("breaker", event));
    if (o.logger) attachLogger(this, o.logger, o.log);
  }

  /**
   * Runs a statement that may not be repeated unless you say so: retried only when the failure
   * certainly happened before the statement reached the server (or with `idempotent: true`).
   * When the connection is lost after the statement was sent, rejects with
   * `UnknownOutcomeError`: the write may or may not have happened.
   *
   * @example
   * ```ts
   * const { rows } = await db.query("insert into t (v) values ($1) returning id", [v]);
   * ```
   */
  query<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>> {
    return this.#run<R>("write", sql, params, options, options?.idempotent === true);
  }

  /**
   * Runs a statement that is safe to repeat (a `SELECT`): retried on any transient failure,
   * also after it was sent, within the deadline and the retry budget.
   *
   * @example
   * ```ts
   * const { rows } = await db.read("select * from users where id = $1", [id], { timeout: "2s" });
   * ```
   */
  read<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>> {
    return this.#run<R>("read", sql, params, options, true);
  }

  /**
   * Runs a write: the same as {@link Database.query}; the name says what the statement does.
   * Pass `idempotent: true` for a write that may run twice (an upsert of a fixed value).
   *
   * @example
   * ```ts
   * await db.write("update accounts set plan = $2 where id = $1", [id, "pro"], { idempotent: true });
   * ```
   */
  write<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>> {
    return this.#run<R>("write", sql, params, options, options?.idempotent === true);
  }

  /**
   * Runs `fn` in a transaction (`BEGIN` … `COMMIT`). On a serialization failure, a deadlock, or
   * a connection lost before `COMMIT` was sent, the whole callback runs again with backoff
   * within the deadline, so `fn` must be safe to re-run (no side effects outside the database).
   * A connection lost while `COMMIT` was in flight rejects with `UnknownOutcomeError` — unless
   * an `idempotencyKey` is given: then Steadfast finds out whether the commit happened, returns
   * the committed result or runs `fn` again, and a later call with the same key returns the
   * stored result without running `fn`.
   *
   * @example
   * ```ts
   * const id = await db.transaction(async (tx) => {
   *   const { rows } = await tx.query<{ id: number }>("insert into orders (total) values ($1) returning id", [total]);
   *   await tx.query("update stock set n = n - 1 where sku = $1", [sku]);
   *   return rows[0]?.id;
   * }, { idempotencyKey: `order:${requestId}`, isolation: "serializable" });
   * ```
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return runTransaction(this, fn, options);
  }

  /**
   * A key-value store in this database (Supabase's `kv_store` API plus lists, TTLs and
   * compare-and-set). Stores with different namespaces share one table.
   *
   * @example
   * ```ts
   * const kv = db.kv({ namespace: "flags" });
   * await kv.mset({ "beta:checkout": true, "beta:search": false });
   * ```
   */
  kv(options?: KvOptions): KeyValueStore {
    return new KeyValueStore(this as Database<unknown>, options);
  }

  /**
   * Resolves once one connection works (fail-fast start); rejects with the classified cause
   * after `timeout` (default the pool's `connectTimeout`).
   */
  ready(options?: { timeout?: Duration }): Promise<void> {
    return this.pool.ready(options);
  }

  /** Stops new calls, lets running ones finish for up to `drain` (default 5 s), closes every connection. */
  close(options?: { drain?: Duration }): Promise<void> {
    return this.pool.close(options);
  }

  /** A snapshot of the pool, the breaker and the retry budget. */
  stats(): DatabaseStats {
    return {
      pool: this.pool.stats(),
      breaker: this.breaker?.state ?? "disabled",
      retryBudget: { available: this.#budget.available },
    };
  }

  /** Subscribes to an event (see {@link DatabaseEvents}); returns a function that unsubscribes. */
  on<K extends keyof DatabaseEvents>(
    event: K,
    listener: (payload: DatabaseEvents[K]) => void,
  ): () => void {
    return this.events.on(event, listener);
  }

  /** @internal Classifies with what the query path knows: whether the statement was sent. */
  classify(error: unknown): Classification {
    const sent = wasSent(error);
    const c = classify(error, { sent });
    // A connection that died with a statement on the wire (even with a FATAL such as 57P01)
    // may have committed it just before: PostgreSQL can commit and then act on the
    // termination before the client reads CommandComplete. So it is unknown, never "not applied".
    if (sent && c.connectionBroken && c.outcome === "not-applied") {
      return { ...c, phase: "after-send", outcome: "unknown", retryable: false };
    }
    return c;
  }

  /** @internal Resolves a per-call timeout. */
  timeoutOf(value: Duration | undefined): number {
    if (value === undefined) return this.options.timeout;
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0 || ms > MAX_TIMEOUT) {
      throw new ConfigError([
        {
          field: "timeout",
          expected: 'a positive duration up to 24h, such as "2s" or 2000',
          received: describeValue(value),
        },
      ]);
    }
    return ms;
  }

  #pipeline(kind: CallKind, maxAttempts: number): Policy {
    const clock = this.options.clock;
    const deadlinePolicy: DeadlinePolicy = deadline({ timeout: MAX_TIMEOUT, clock });
    const retryPolicy: RetryPolicy = retry({
      maxAttempts,
      budget: this.#budget,
      clock,
      random: this.options.random,
      classify: (error) => this.classify(error),
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
    });
    deadlinePolicy.on("timeout", (e) => {
      if (this.events.has("timeout")) this.events.emit("timeout", { kind, timeoutMs: e.timeoutMs });
    });
    retryPolicy.on("retry", (e) => {
      if (this.events.has("retry")) {
        this.events.emit("retry", {
          kind,
          attempt: e.attempt,
          delayMs: e.delay,
          classification: e.classification,
        });
      }
    });
    return this.breaker
      ? pipeline(deadlinePolicy, retryPolicy, this.breaker)
      : pipeline(deadlinePolicy, retryPolicy);
  }

  async #run<R>(
    kind: CallKind,
    sql: string,
    params: readonly unknown[] | undefined,
    options: QueryOptions | undefined,
    idempotent: boolean,
  ): Promise<QueryResult<R>> {
    if (typeof sql !== "string" || sql.length === 0) {
      throw new ConfigError([
        { field: "sql", expected: "a non-empty SQL string", received: describeValue(sql) },
      ]);
    }
    if (params !== undefined && !Array.isArray(params)) {
      throw new ConfigError([
        {
          field: "params",
          expected: "an array of parameter values",
          received: describeValue(params),
        },
      ]);
    }
    const timeout = this.timeoutOf(options?.timeout);
    const rt = this.runtime;
    const startedAt = this.options.clock.now();
    let attempts = 0;
    // Set when a deadline or abort left a statement running on the server.
    let abandonedInFlight = false;
    const attempt = async (ctx: PolicyContext): Promise<QueryResult<R>> => {
      attempts = ctx.attempt;
      const connection = await acquireFor(rt, ctx);
      const setting = ensureServerTimeout(rt, connection, timeout);
      if (setting) await setting;
      let abandoned = false;
      try {
        const result = await execOn<C, R>(rt, connection, sql, params, ctx, () => {
          abandoned = true;
          abandonedInFlight = true;
        });
        if (!abandoned) rt.pool.release(connection);
        return result;
      } catch (error) {
        if (!abandoned) {
          rt.pool.release(connection, { destroy: classify(error).connectionBroken, error });
        }
        throw error;
      }
    };
    const policy = kind === "read" ? this.#read : this.#write;
    try {
      const result = await policy.execute(attempt, {
        timeout,
        idempotent,
        signal: options?.signal,
      });
      if (this.events.has("call")) {
        const durationMs = this.options.clock.now() - startedAt;
        this.events.emit("call", { kind, sql, params, durationMs, attempts });
      }
      return result;
    } catch (error) {
      const final = idempotent ? error : this.#unknownOutcome(kind, error, abandonedInFlight);
      if (this.events.has("call")) {
        const durationMs = this.options.clock.now() - startedAt;
        this.events.emit("call", { kind, sql, params, durationMs, attempts, error: final });
      }
      throw final;
    }
  }

  /** A non-idempotent call that failed after its statement may have run gets `UnknownOutcomeError`. */
  #unknownOutcome(kind: CallKind, error: unknown, abandonedInFlight: boolean): unknown {
    if (error instanceof UnknownOutcomeError) return error;
    // The deadline's own errors say nothing about the statement: it ran only if it was abandoned.
    const aborted =
      (error instanceof TimeoutError && error.phase === "deadline") ||
      error instanceof CanceledError;
    const unknown = aborted ? abandonedInFlight : this.classify(error).outcome === "unknown";
    if (!unknown) return error;
    const wrapped = new UnknownOutcomeError(
      error,
      abandonedInFlight
        ? "The call was canceled or timed out while the statement ran; it may or may not have been applied"
        : undefined,
    );
    if (this.events.has("unknown-outcome"))
      this.events.emit("unknown-outcome", { kind, error: wrapped });
    return wrapped;
  }
}

/**
 * Creates a resilient database handle. Only `driver` is required; `preset` picks defaults for
 * where the database runs (`"serverless"`, `"server"`, `"local"`).
 *
 * @throws ConfigError listing every invalid option.
 * @example
 * ```ts
 * import { createDatabase } from "steadfast";
 * import { pgDriver } from "steadfast/pg";
 *
 * const db = createDatabase({
 *   driver: pgDriver({ connectionString: process.env.DATABASE_URL }),
 *   preset: "serverless",
 * });
 * const { rows } = await db.read("select id, name from users where id = $1", [42]);
 * ```
 */
export function createDatabase<C>(options: DatabaseOptions<C>): Database<C> {
  return new Database(options);
}
