import { EventEmitter } from "node:events";
import type pg from "pg";
import { classify } from "../../errors/classify.js";
import type { PoolOptions } from "../../pool/options.js";
import { type AcquireOptions, ConnectionPool, type PoolHooks } from "../../pool/pool.js";
import type { PoolStats } from "../../pool/types.js";
import { type PgConnectorOptions, pgConnector } from "./connector.js";

/** A `pg.Client` handed out by the drop-in {@link Pool}: `release(err?)` returns it. */
export type PoolClient = pg.PoolClient;

/**
 * `pg.Pool`'s constructor options, plus Steadfast's pool options under `steadfast`.
 * Where both name the same thing, the `steadfast` value wins.
 */
export interface PgPoolConfig extends pg.PoolConfig {
  /** Steadfast's pool options (validation window, keepalive, lifetime jitter, leak detection, …). */
  steadfast?: PoolOptions &
    PoolHooks &
    Pick<PgConnectorOptions, "tcpKeepAlive" | "tcpKeepAliveInitialDelay">;
}

type QueryCallback = (err: Error | undefined, result?: pg.QueryResult) => void;

interface Stream {
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  emit?(event: string, ...args: unknown[]): unknown;
}

/** `pg.Client#ref`/`unref` exist at run time but not in `@types/pg`. */
function refable(client: pg.Client): { ref(): void; unref(): void } {
  return client as unknown as { ref(): void; unref(): void };
}

function isSubmittable(value: unknown): value is pg.Submittable & Stream {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { submit?: unknown }).submit === "function"
  );
}
/** The callback form of {@link Pool.connect}, as in `pg.Pool`: an error, or a client and its release function. */
export type ConnectCallback = (
  err: Error | undefined,
  client?: PoolClient,
  done?: (release?: unknown) => void,
) => void;

/**
 * A drop-in replacement for `pg.Pool` — same constructor options, methods, events and
 * counters — running on Steadfast's self-healing pool. Change one import and Drizzle, Kysely
 * or Prisma's `pg` adapter get validation of idle connections, silent removal of dead ones,
 * bounded and backed-off reconnects, lifetimes with jitter and a bounded, timed wait queue.
 *
 * Deliberate differences from `pg.Pool` (each one a fix for a production incident):
 * - an idle client's `error` is emitted as the pool's `error` only when someone listens; it
 *   never crashes the process;
 * - `connectionTimeoutMillis` defaults to 10 s instead of waiting forever;
 * - `min` connections are opened and kept warm, not only spared from idle eviction;
 * - `pool.query()` keeps the connection after a statement error (syntax, constraint) and
 *   destroys it only when the error says the connection is broken;
 * - idle connections are checked before hand-out when they sat idle past 500 ms.
 *
 * @example
 * ```ts
 * import { Pool } from "steadfast/pg"; // was: import { Pool } from "pg"
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
 * const { rows } = await pool.query("select now()");
 * ```
 */
export class Pool extends EventEmitter implements pg.Pool {
  /** The resolved options, as `pg.Pool` exposes them (`steadfast` holds Steadfast's own). */
  readonly options: pg.PoolOptions & Pick<PgPoolConfig, "steadfast">;
  readonly #core: ConnectionPool<pg.Client>;
  #ending = false;
  #ended = false;

  constructor(config: PgPoolConfig = {}) {
    super();
    const { steadfast = {}, ...pgConfig } = config;
    this.options = {
      ...config,
      max: config.max ?? 10,
      maxUses: config.maxUses ?? Number.POSITIVE_INFINITY,
      allowExitOnIdle: config.allowExitOnIdle ?? false,
      maxLifetimeSeconds: config.maxLifetimeSeconds ?? 0,
      idleTimeoutMillis: config.idleTimeoutMillis ?? 10_000,
    };
    const { gate, logger, tcpKeepAlive, tcpKeepAliveInitialDelay, ...poolOptions } = steadfast;
    const timeout = pgConfig.connectionTimeoutMillis;
    const connectorOptions: PgConnectorOptions = {};
    if (pgConfig.Client) connectorOptions.Client = pgConfig.Client as unknown as typeof pg.Client;
    if (tcpKeepAlive !== undefined) connectorOptions.tcpKeepAlive = tcpKeepAlive;
    if (tcpKeepAliveInitialDelay !== undefined)
      connectorOptions.tcpKeepAliveInitialDelay = tcpKeepAliveInitialDelay;
    const fromPg: PoolOptions = {
      max: pgConfig.max ?? 10,
      minIdle: pgConfig.min ?? 0,
      idleTimeout: pgConfig.idleTimeoutMillis ?? 10_000,
      maxLifetime: (pgConfig.maxLifetimeSeconds ?? 0) * 1000,
      maxUses: Number.isFinite(pgConfig.maxUses) ? (pgConfig.maxUses ?? 0) : 0,
    };
    if (timeout) {
      fromPg.acquireTimeout = timeout;
      fromPg.connectTimeout = timeout;
    }
    const hooks: PoolHooks = {};
    if (gate) hooks.gate = gate;
    if (logger) hooks.logger = logger;
    this.#core = new ConnectionPool(
      pgConnector(pgConfig, connectorOptions),
      { ...fromPg, ...poolOptions },
      hooks,
    );
    this.#core.events.on("connect", ({ connection }) => this.emit("connect", connection));
    this.#core.events.on("acquire", ({ connection }) => {
      if (config.allowExitOnIdle) refable(connection).ref();
      this.emit("acquire", connection);
    });
    if (config.allowExitOnIdle) {
      // As pg.Pool does: idle sockets must not keep the process alive.
      this.#core.events.on("connect", ({ connection }) => refable(connection).unref());
      this.#core.events.on("release", ({ connection, removed }) => {
        if (!removed) refable(connection).unref();
      });
    }
    this.#core.events.on("remove", ({ connection, reason, error }) => {
      if (reason === "died-idle" && this.listenerCount("error") > 0)
        this.emit("error", error, connection);
      this.emit("remove", connection);
    });
  }

  /** The Steadfast engine underneath, for `stats()`, `reset()`, `ready()` and typed events. */
  get steadfast(): ConnectionPool<pg.Client> {
    return this.#core;
  }

  /** Checks out a client; call `client.release()` when done (`release(err)` destroys it). */
  connect(): Promise<PoolClient>;
  connect(callback: ConnectCallback): void;
  connect(callback?: ConnectCallback): Promise<PoolClient> | undefined {
    const promise = this.#checkout();
    if (!callback) return promise;
    promise.then(
      (client) =>
        callback(undefined, client, (err) => client.release(err as Error | boolean | undefined)),
      (err: Error) => callback(err),
    );
    return undefined;
  }

  /**
   * Runs one statement on a pooled client, as `pg.Pool#query` does: text or config, values,
   * promise or callback. A `Submittable` (a cursor or query stream) runs on a client that is
   * released when the stream ends, errors or closes.
   */
  query<T extends pg.Submittable>(queryStream: T): T;
  // biome-ignore lint/suspicious/noExplicitAny: pg's own overloads default rows to any
  query<R extends any[] = any[], I = any[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryArrayResult<R>>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  query<R extends pg.QueryResultRow = any, I = any[]>(
    queryConfig: pg.QueryConfig<I>,
  ): Promise<pg.QueryResult<R>>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  query<R extends pg.QueryResultRow = any, I = any[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryResult<R>>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  query<R extends any[] = any[], I = any[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    callback: (err: Error, result: pg.QueryArrayResult<R>) => void,
  ): void;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  query<R extends pg.QueryResultRow = any, I = any[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  query<R extends pg.QueryResultRow = any, I = any[]>(
    queryText: string,
    values: pg.QueryConfigValues<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void;
  query(text: unknown, valuesOrCallback?: unknown, maybeCallback?: unknown): unknown {
    if (typeof text === "function") {
      throw new TypeError(
        "Passing a function as the first parameter to pool.query is not supported",
      );
    }
    if (isSubmittable(text)) return this.#submit(text);
    const callback = (typeof valuesOrCallback === "function" ? valuesOrCallback : maybeCallback) as
      | QueryCallback
      | undefined;
    const values =
      typeof valuesOrCallback === "function"
        ? undefined
        : (valuesOrCallback as unknown[] | undefined);
    const promise = this.#query(text as string | pg.QueryConfig, values);
    if (typeof callback !== "function") return promise;
    promise.then(
      (result) => callback(undefined, result),
      (err: Error) => callback(err),
    );
    return undefined;
  }

  /** Closes the pool: waiters fail, idle clients close, in-use ones close when released. */
  end(): Promise<void>;
  end(callback: (err?: Error) => void): void;
  end(callback?: (err?: Error) => void): Promise<void> | undefined {
    if (this.#ending) {
      const err = new Error("Called end on pool more than once");
      if (callback) {
        callback(err);
        return undefined;
      }
      return Promise.reject(err);
    }
    this.#ending = true;
    const done = this.#core.close({ drain: 2_147_483_647 }).then(() => {
      this.#ended = true;
      this.emit("end");
    });
    if (!callback) return done;
    done.then(() => callback(), callback);
    return undefined;
  }

  /** Clients open (idle, in use or being validated). */
  get totalCount(): number {
    return this.#core.stats().total;
  }
  /** Clients idle in the pool. */
  get idleCount(): number {
    return this.#core.stats().idle;
  }
  /** Callers waiting for a client. */
  get waitingCount(): number {
    return this.#core.stats().pending;
  }
  /** In-use clients past their lifetime, to be closed when released. */
  get expiredCount(): number {
    return this.#core.expiredCount();
  }
  /** Whether `end()` was called. */
  get ending(): boolean {
    return this.#ending;
  }
  /** Whether `end()` finished: every client is closed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Steadfast's full counters (by-reason removals, timeouts, connect failures, …). */
  stats(): PoolStats {
    return this.#core.stats();
  }

  async #checkout(options?: AcquireOptions): Promise<PoolClient> {
    const client = (await this.#core.acquire(options)) as PoolClient;
    let released = false;
    client.release = (err?: Error | boolean) => {
      if (released)
        throw new Error("Release called on client which has already been released to the pool.");
      released = true;
      this.emit("release", err instanceof Error ? err : undefined, client);
      this.#core.release(client, { destroy: Boolean(err), error: err });
    };
    return client;
  }

  #submit<T extends pg.Submittable & Stream>(stream: T): T {
    this.#checkout().then(
      (client) => {
        let released = false;
        const release = (err?: unknown) => {
          if (released) return;
          released = true;
          client.release(err instanceof Error ? err : undefined);
        };
        stream.once("end", () => release());
        stream.once("close", () => release());
        stream.once("error", (err) => release(err));
        client.query(stream);
      },
      (err: unknown) => stream.emit?.("error", err),
    );
    return stream;
  }

  async #query(
    text: string | pg.QueryConfig,
    values: unknown[] | undefined,
  ): Promise<pg.QueryResult> {
    const client = await this.#checkout();
    try {
      const result = await client.query(text as string, values);
      client.release();
      return result;
    } catch (err) {
      const { connectionBroken } = classify(err, { sent: true });
      this.emit("release", err, client);
      this.#releaseAfterError(client, connectionBroken, err);
      throw err;
    }
  }

  #releaseAfterError(client: PoolClient, destroy: boolean, error: unknown): void {
    // Bypass client.release so the 'release' event is emitted once, with the error.
    client.release = () => {
      throw new Error("Release called on client which has already been released to the pool.");
    };
    this.#core.release(client, { destroy, error });
  }
}
