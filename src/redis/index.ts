/**
 * `steadfast/redis`: the Redis L2 cache and the Redis pub/sub invalidation bus.
 *
 * Reserved entry point: the Redis layer arrives with the cache. Importing it today gives an
 * empty module.
 *
 * @module
 */
export {};
