/**
 * `steadfast/redis`: the Redis L2 for the stale-serving cache and the Redis pub/sub
 * invalidation bus (ioredis underneath). Both degrade, never fail: with Redis down the cache
 * works from memory.
 *
 * @module
 */
export { type RedisBusOptions, redisBus } from "./bus.js";
export { escapeGlob, type RedisL2Options, redisL2 } from "./l2.js";
