import type { FaultProxy } from "../../testing/fault-proxy.js";
import { chaosRoutes } from "../chaos.js";
import type { ServicePlugin } from "../service.js";
import { type CacheCounters, LiveStats } from "./live-stats.js";
import { dashboardRoutes } from "./routes.js";

export { type CacheCounters, LiveStats, type Sample } from "./live-stats.js";

/**
 * Adds the dashboard (`/`, `/events`, assets) and, with a fault proxy, the chaos controls.
 *
 * @example
 * ```ts
 * await startService({ databaseUrl, plugins: [dashboardPlugin({ chaos: proxy })] });
 * ```
 */
export function dashboardPlugin(
  options: { chaos?: FaultProxy; cache?: CacheCounters; label?: string } = {},
): ServicePlugin {
  return (ctx) => {
    const cache = options.cache ?? ctx.cache;
    const stats = new LiveStats(ctx.db as never, cache ? { cache } : {});
    const target = options.label ?? ctx.db.runtime.driver.target;
    ctx.routes.push(dashboardRoutes(stats, { chaos: options.chaos !== undefined, target }));
    if (options.chaos) ctx.routes.push(chaosRoutes(options.chaos));
    ctx.onDrain.push(() => stats.stop());
  };
}
