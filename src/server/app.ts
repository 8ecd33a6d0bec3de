import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Database } from "../db/database.js";
import type { Health } from "../health/monitor.js";
import { type HealthHandlers, healthHandlers } from "../http/health.js";
import type { KeyValueStore } from "../kv/store.js";
import { errorBody, errorResponse } from "./errors.js";
import { type KvRead, kvRoutes } from "./kv-routes.js";

/** What the HTTP app serves. */
export interface AppOptions {
  readonly db: Database<unknown>;
  readonly health: Health;
  /** The store for a namespace (the service caches one per namespace). */
  readonly kv: (namespace: string) => KeyValueStore;
  /** Reads through the cache, with provenance for `Cache-Status`; default: straight from the store. */
  readonly read?: KvRead;
  /** `GET /metrics`. */
  readonly metrics?: (request: Request) => Promise<Response>;
  /** Extra routes (dashboard, events, chaos controls) mounted before the 404 handler. */
  readonly extend?: (app: Hono) => void;
  /** Enables `POST /admin/reconnect`. */
  readonly adminToken?: string | undefined;
  /** Largest request body, in bytes. Default 1 MiB. */
  readonly bodyLimit?: number;
  /** Receives unexpected errors (the client gets a generic 500). */
  readonly onError?: (error: unknown) => void;
}

/**
 * The service's HTTP app (Hono, Web-standard, runs on any runtime): the KV store as a JSON
 * API, health, metrics and the admin reconnect. Every error is JSON with a stable `code`.
 *
 * @example
 * ```ts
 * const app = createApp({ db, health, kv: (ns) => db.kv({ namespace: ns }) });
 * serve({ fetch: app.fetch, port: 8080 });
 * ```
 */
export function createApp(options: AppOptions): Hono {
  const app = new Hono();
  const limit = options.bodyLimit ?? 1_048_576;
  app.use(
    "*",
    bodyLimit({
      maxSize: limit,
      // The unread rest of the body makes the connection unusable: tell the client to drop it.
      onError: (c) =>
        c.json(
          errorBody("PAYLOAD_TOO_LARGE", `Request bodies are limited to ${limit} bytes`),
          413,
          {
            connection: "close",
          },
        ),
    }),
  );
  const health: HealthHandlers = healthHandlers(options.health, {
    admin: { token: options.adminToken },
  });
  app.get("/health", (c) => health.health(c.req.raw));
  app.get("/health/live", (c) => health.live(c.req.raw));
  app.get("/health/ready", (c) => health.ready(c.req.raw));
  app.all("/admin/reconnect", (c) => health.reconnect(c.req.raw));
  const metrics = options.metrics;
  if (metrics) app.get("/metrics", (c) => metrics(c.req.raw));
  kvRoutes(app, options.kv, options.read);
  options.extend?.(app);
  app.notFound((c) =>
    c.json(
      errorBody("NOT_FOUND", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`),
      404,
    ),
  );
  app.onError((error, c) => {
    const response = errorResponse(c, error);
    if (response.status >= 500) options.onError?.(error);
    return response;
  });
  return app;
}
