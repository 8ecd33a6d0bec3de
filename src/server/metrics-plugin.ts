import { metricsHandler, prometheusMetrics } from "../http/metrics.js";
import type { ServicePlugin } from "./service.js";

/** Adds `GET /metrics` (Prometheus) for the service's database, pool, breaker and cache. */
export function metricsPlugin(): ServicePlugin {
  return (ctx) => {
    const { registry, stop } = prometheusMetrics(ctx.db, ctx.cache ? { cache: ctx.cache } : {});
    ctx.metrics = metricsHandler(registry);
    ctx.onClose.push(stop);
  };
}
