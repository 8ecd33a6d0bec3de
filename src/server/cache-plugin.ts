import { type Cache, createCache } from "../cache/cache.js";
import type { CacheOptions } from "../cache/options.js";
import { cacheStatus } from "../cache/types.js";
import type { ServicePlugin } from "./service.js";

/**
 * Serves KV reads through a stale-serving cache: fresh for `ttl`, then stale within `grace`
 * when the database fails, is slow (`softTimeout`) or its breaker is open; every write
 * invalidates the key here, in L2 and on the bus. Responses carry their provenance in an
 * RFC 9211 `Cache-Status` header.
 */
export function cachePlugin(
  options: Omit<CacheOptions, "unavailable"> = {},
): ServicePlugin & { cache?: Cache<unknown> } {
  const plugin: ServicePlugin & { cache?: Cache<unknown> } = (ctx) => {
    const cache = createCache<unknown>({
      ttl: "30s",
      grace: "10m",
      softTimeout: "250ms",
      hardTimeout: "5s",
      ...options,
      unavailable: () => ctx.db.breaker?.rejection(),
    });
    plugin.cache = cache;
    ctx.cache = cache;
    ctx.health.useCache(cache);
    ctx.read = async (namespace, key) => {
      const result = await ctx.kv(namespace).getWithProvenance(key);
      return { entry: result.value, cacheStatus: cacheStatus(result) };
    };
    ctx.onClose.push(() => cache.close());
  };
  return plugin;
}
