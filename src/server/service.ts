import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import type pg from "pg";
import type { Cache } from "../cache/cache.js";
import { createDatabase, type Database } from "../db/database.js";
import type { PresetName } from "../db/presets.js";
import { pgDriver } from "../drivers/pg/driver.js";
import { createHealth, type Health } from "../health/monitor.js";
import type { KeyValueStore } from "../kv/store.js";
import type { Logger } from "../logging/logger.js";
import { createApp } from "./app.js";
import type { KvRead } from "./kv-routes.js";

/** Options of {@link startService}. */
export interface ServiceOptions {
  /** A PostgreSQL URL; without one the service runs on an embedded database. */
  readonly databaseUrl?: string | undefined;
  /** Where the HTTP server listens. Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  readonly preset?: PresetName;
  /** Most pooled connections (1 for the embedded database, which is a single session). */
  readonly poolMax?: number;
  readonly adminToken?: string | undefined;
  /** How long in-flight requests may take to finish on shutdown. Default 10 s. */
  readonly drainMs?: number;
  readonly logger?: Logger;
  /** Adds routes and state before the app starts (cache, metrics, dashboard, chaos). */
  readonly plugins?: readonly ServicePlugin[];
  /** The embedded database, when `databaseUrl` is absent: started by the caller (CLI). */
  readonly embedded?: { readonly url: string; close(): Promise<void> };
}

/** What a plugin gets, and may add to. */
export interface ServiceContext {
  readonly db: Database<pg.Client>;
  readonly health: Health;
  kv(namespace: string): KeyValueStore;
  /** Set to read KV keys through a cache (stores then invalidate it on every write). */
  cache?: Cache<unknown>;
  /** Set to read KV keys another way (the cache plugin sets it). */
  read?: KvRead;
  metrics?: (request: Request) => Promise<Response>;
  readonly routes: ((app: Hono) => void)[];
  /** Run when shutdown starts, before in-flight requests drain (end long-lived streams here). */
  readonly onDrain: (() => void)[];
  /** Run on shutdown, after the HTTP server stopped and before the database closes. */
  readonly onClose: (() => Promise<void> | void)[];
}

/** Extends the service (see {@link ServiceContext}). */
export type ServicePlugin = (context: ServiceContext) => void | Promise<void>;

/** A running service. */
export interface Service {
  readonly url: string;
  readonly port: number;
  readonly context: ServiceContext;
  /** Requests being handled right now. */
  readonly inFlight: number;
  /**
   * Graceful stop: readiness fails at once, the listener closes, in-flight requests get up to
   * `drainMs` to finish, then connections, the pool and the embedded database close.
   */
  close(): Promise<void>;
}

/**
 * Starts the HTTP service: the KV JSON API, health, the admin reconnect, and whatever plugins
 * add, on the database at `databaseUrl` (or the embedded one).
 */
export async function startService(options: ServiceOptions): Promise<Service> {
  const url = options.databaseUrl ?? options.embedded?.url;
  if (url === undefined) throw new Error("startService needs databaseUrl or an embedded database");
  const db = createDatabase({
    driver: pgDriver({ connectionString: url }),
    preset: options.preset ?? (options.databaseUrl ? "server" : "local"),
    ...(options.poolMax === undefined ? {} : { pool: { max: options.poolMax, minIdle: 0 } }),
    ...(options.logger ? { logger: options.logger, log: { level: "warn" } } : {}),
  });
  const health = createHealth(db, { description: "steadfast service" });
  const stores = new Map<string, KeyValueStore>();
  const context: ServiceContext = {
    db,
    health,
    kv(namespace) {
      let store = stores.get(namespace);
      if (!store) {
        store = db.kv({ namespace, ...(context.cache ? { cache: context.cache } : {}) });
        // Bounded: namespaces are validated names, but a client could still invent many.
        if (stores.size < 1_000) stores.set(namespace, store);
      }
      return store;
    },
    routes: [],
    onDrain: [],
    onClose: [],
  };
  for (const plugin of options.plugins ?? []) await plugin(context);

  let inFlight = 0;
  const app = createApp({
    db: db as Database<unknown>,
    health,
    kv: (ns) => context.kv(ns),
    ...(context.read ? { read: context.read } : {}),
    ...(context.metrics ? { metrics: context.metrics } : {}),
    adminToken: options.adminToken,
    extend: (a) => {
      for (const route of context.routes) route(a);
    },
    onError: (error) => options.logger?.error?.({ err: String(error) }, "request failed"),
  });
  const fetch = async (request: Request): Promise<Response> => {
    inFlight++;
    try {
      return await app.fetch(request);
    } finally {
      inFlight--;
    }
  };
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve(
      { fetch, hostname: options.host ?? "127.0.0.1", port: options.port ?? 8080 },
      () => resolve(s),
    );
    s.once("error", reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    context,
    get inFlight() {
      return inFlight;
    },
    close() {
      closing ??= (async () => {
        health.drain();
        for (const hook of context.onDrain) hook();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        const deadline = Date.now() + (options.drainMs ?? 10_000);
        // Requests already accepted finish; idle keep-alive sockets must not hold the close.
        (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
        while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        await stopped;
        for (const hook of context.onClose) await hook();
        await db.close({ drain: 1_000 });
        await options.embedded?.close();
      })();
      return closing;
    },
  };
}
