/**
 * `steadfast/http`: Web-standard `(Request) => Promise<Response>` handlers for health,
 * readiness, liveness and the admin reconnect, for Hono, Next.js route handlers, Deno, Bun or
 * Express (through a `Request` adapter).
 *
 * @module
 */
export { type ReconnectOptions, reconnectHandler } from "./admin.js";
export { type Handler, type HealthHandlers, healthHandlers } from "./health.js";
export { metricsHandler, type PrometheusOptions, prometheusMetrics } from "./metrics.js";
