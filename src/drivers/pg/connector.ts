import pg from "pg";
import { TimeoutError } from "../../errors/errors.js";
import type { PoolConnector } from "../../pool/connector.js";

/** `pg.Client` internals the connector relies on (stable across pg 8.x). */
interface ClientInternals {
  _queryable?: boolean;
  _ending?: boolean;
  connection?: { stream?: { destroy(): void; destroyed?: boolean } };
  getTransactionStatus?: () => string | null;
}

/** Options of {@link pgConnector} beyond `pg.ClientConfig`. */
export interface PgConnectorOptions {
  /** TCP keepalive on every socket, so the kernel notices a dead peer. Default true. */
  tcpKeepAlive?: boolean;
  /** Idle time before the first TCP keepalive probe, in ms. Default 30000. */
  tcpKeepAliveInitialDelay?: number;
  /** Grace period for a polite close (Terminate) before the socket is destroyed, in ms. Default 1000. */
  closeGrace?: number;
  /** Runs on every new connection before it joins the pool (e.g. `SET search_path`). */
  onConnect?: (client: pg.Client) => Promise<void> | void;
  /** The `pg.Client` class to instantiate; lets a caller pass `pg.native.Client` or a subclass. */
  Client?: typeof pg.Client;
}

const deathListeners = new WeakMap<pg.Client, (error: unknown) => void>();

/**
 * The {@link PoolConnector} for `pg`: opens `pg.Client`s with TCP keepalive, validates with
 * `SELECT 1` under a timeout, and — crucially — attaches an `error` listener to every client
 * from birth, so a backend the server terminates while the client sits idle is reported to the
 * pool instead of crashing the process.
 *
 * @example
 * ```ts
 * const connector = pgConnector({ connectionString: process.env.DATABASE_URL });
 * ```
 */
export function pgConnector(
  config: pg.ClientConfig,
  options: PgConnectorOptions = {},
): PoolConnector<pg.Client> {
  const ClientClass = options.Client ?? pg.Client;
  const closeGrace = options.closeGrace ?? 1_000;
  return {
    async connect(timeoutMs) {
      const client = new ClientClass({
        ...config,
        connectionTimeoutMillis: timeoutMs,
        keepAlive: options.tcpKeepAlive ?? true,
        keepAliveInitialDelayMillis: options.tcpKeepAliveInitialDelay ?? 30_000,
      });
      const report = (error: unknown) => deathListeners.get(client)?.(error);
      client.on("error", report);
      client.on("end", () => report(new Error("Connection terminated")));
      try {
        await withTimeout(client.connect(), timeoutMs, "connect", () => destroySocket(client));
        await options.onConnect?.(client);
      } catch (err) {
        destroySocket(client);
        throw err;
      }
      return client;
    },

    async validate(client, timeoutMs) {
      await withTimeout(client.query("SELECT 1"), timeoutMs, "validation", () =>
        destroySocket(client),
      );
    },

    destroy(client) {
      deathListeners.delete(client);
      const internals = client as unknown as ClientInternals;
      if (internals._ending) {
        destroySocket(client);
        return;
      }
      // Polite first (Terminate lets the server free the backend at once); the timer makes
      // sure a blackholed socket is torn down anyway.
      client.end().catch(() => {});
      const timer = setTimeout(() => destroySocket(client), closeGrace);
      timer.unref();
      client.once("end", () => clearTimeout(timer));
    },

    onDeath(client, listener) {
      deathListeners.set(client, listener);
    },

    isReusable(client) {
      const internals = client as unknown as ClientInternals;
      if (internals._queryable === false || internals._ending) return false;
      const status = internals.getTransactionStatus?.call(client);
      return status === undefined || status === null || status === "I";
    },
  };
}

function destroySocket(client: pg.Client): void {
  const stream = (client as unknown as ClientInternals).connection?.stream;
  if (stream && !stream.destroyed) stream.destroy();
}

function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  phase: "connect" | "validation",
  onTimeout: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(new TimeoutError(ms, phase));
    }, ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
