import { type Cache, createCache } from "../cache/cache.js";
import type { CacheOptions } from "../cache/options.js";
import { cacheStatus } from "../cache/types.js";
import { redisBus } from "../redis/bus.js";
import { redisL2 } from "../redis/l2.js";
import type { ServicePlugin } from "./service.js";

/** Options of {@link cachePlugin}. */
export interface CachePluginOptions extends Omit<CacheOptions, "unavailable" | "l2" | "bus"> {
  /**
   * Share the cache between instances through Redis: an L2 and an invalidation bus, both named
   * after the database (host, port, name — never credentials) so services on different
   * databases never mix.
   */
  readonly redisUrl?: string | undefined;
}

/**
 * Serves KV reads through a stale-serving cache: fresh for `ttl`, then stale within `grace`
 * when the database fails, is slow (`softTimeout`) or its breaker is open; every write
 * invalidates the key here, in L2 and on the bus. Responses carry their provenance in an
 * RFC 9211 `Cache-Status` header.
 */
export function cachePlugin(
  options: CachePluginOptions = {},
): ServicePlugin & { cache?: Cache<unknown> } {
  const { redisUrl, ...cacheOptions } = options;
  const plugin: ServicePlugin & { cache?: Cache<unknown> } = async (ctx) => {
    const scope = ctx.db.runtime.driver.target;
    const l2 = redisUrl ? redisL2({ url: redisUrl, prefix: `steadfast:${scope}:` }) : undefined;
    const bus = redisUrl
      ? redisBus({ url: redisUrl, channel: `steadfast:${scope}:invalidate` })
      : undefined;
    await Promise.all([bus?.ready(), l2?.ready()]).catch(() => {
      // Redis down at start: the clients reconnect by themselves; memory works meanwhile.
    });
    const cache = createCache<unknown>({
      ttl: "30s",
      grace: "10m",
      softTimeout: "250ms",
      hardTimeout: "5s",
      ...cacheOptions,
      ...(l2 ? { l2 } : {}),
      ...(bus ? { bus } : {}),
      unavailable: () => ctx.db.breaker?.rejection(),
    });
    plugin.cache = cache;
    ctx.cache = cache;
    ctx.health.useCache(cache);
    ctx.read = async (namespace, key) => {
      const result = await ctx.kv(namespace).getWithProvenance(key);
      return { entry: result.value, cacheStatus: cacheStatus(result) };
    };
    ctx.onClose.push(async () => {
      cache.close();
      await l2?.close();
      await bus?.close();
    });
  };
  return plugin;
}
