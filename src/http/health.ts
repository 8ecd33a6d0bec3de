import type { Health } from "../health/monitor.js";
import type { HealthReport } from "../health/types.js";
import { type ReconnectOptions, reconnectHandler } from "./admin.js";
import { json, problem } from "./respond.js";

/** A Web-standard handler, as Hono, Next.js route handlers, Deno and Bun take them. */
export type Handler = (request: Request) => Promise<Response>;

/** The handlers {@link healthHandlers} returns. */
export interface HealthHandlers {
  /** `GET /health`: the detailed report; 200 for pass/warn, 503 for fail. */
  readonly health: Handler;
  /** `GET /health/live`: liveness; never touches the database. */
  readonly live: Handler;
  /** `GET /health/ready`: readiness; 503 while draining. */
  readonly ready: Handler;
  /** `POST /admin/reconnect`: token-protected pool reset. */
  readonly reconnect: Handler;
  /**
   * Routes by path (`/health`, `/health/live`, `/health/ready`, `/admin/reconnect`, under
   * `basePath`); answers `undefined` for any other path so it composes with other routers.
   */
  readonly fetch: (request: Request) => Promise<Response | undefined>;
}

const HEALTH_TYPE = "application/health+json";

function report(body: HealthReport): Response {
  return json(body.status === "fail" ? 503 : 200, body, {}, HEALTH_TYPE);
}

/**
 * Health, liveness, readiness and the admin reconnect as Web-standard handlers.
 *
 * @example
 * ```ts
 * // Hono
 * const h = healthHandlers(health, { admin: { token: process.env.STEADFAST_ADMIN_TOKEN } });
 * app.get("/health", (c) => h.health(c.req.raw));
 * // Next.js route handler: app/health/route.ts
 * export const GET = h.health;
 * ```
 */
export function healthHandlers(
  health: Health,
  options: {
    /** What the admin reconnect does. Default `health.reconnect()` (the pool's `reset()`). */
    reset?: () => void;
    /** The admin endpoint's token and rate limit; without a token it answers 403. */
    admin?: ReconnectOptions;
    /** Prefix of every route in `fetch`. Default none. */
    basePath?: string;
  } = {},
): HealthHandlers {
  const onlyGet = (handler: () => Promise<Response>): Handler => {
    return async (request) => {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return problem(405, "METHOD_NOT_ALLOWED", "Use GET", { allow: "GET, HEAD" });
      }
      return handler();
    };
  };
  const handlers = {
    health: onlyGet(async () => report(await health.check())),
    live: onlyGet(async () => report(health.live())),
    ready: onlyGet(async () => report(await health.ready())),
    reconnect: reconnectHandler(options.reset ?? (() => health.reconnect()), options.admin),
  };
  const base = (options.basePath ?? "").replace(/\/$/, "");
  const routes = new Map<string, Handler>([
    [`${base}/health`, handlers.health],
    [`${base}/health/live`, handlers.live],
    [`${base}/health/ready`, handlers.ready],
    [`${base}/admin/reconnect`, handlers.reconnect],
  ]);
  return {
    ...handlers,
    async fetch(request) {
      const handler = routes.get(new URL(request.url).pathname);
      return handler ? handler(request) : undefined;
    },
  };
}
