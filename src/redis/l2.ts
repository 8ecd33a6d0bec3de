import { Redis, type RedisOptions } from "ioredis";
import type { CacheL2, InvalidationMessage, StoredEntry } from "../cache/types.js";
import { CircuitBreakerPolicy } from "../policy/circuit-breaker.js";
import type { Duration } from "../util/duration.js";
import { parseDuration } from "../util/duration.js";
import { optionKeys } from "../util/option-keys.js";
import { decode, encode } from "./json.js";

/** Options of {@link redisL2}. */
export interface RedisL2Options {
  /** A Redis URL (`redis://127.0.0.1:6379`); or pass `client`. */
  readonly url?: string;
  /** An ioredis client to use (not closed by `close()`). */
  readonly client?: Redis;
  /** Prefix of every key. Default `"steadfast:cache:"`. */
  readonly prefix?: string;
  /** Longest one Redis command may take. Default `"100ms"`: the L2 must never slow a read down. */
  readonly timeout?: Duration;
}

/** @internal Every option name of {@link RedisL2Options}. */
export const REDIS_L2_OPTION_KEYS = optionKeys<RedisL2Options>()([
  "url",
  "client",
  "prefix",
  "timeout",
]);

/** Defaults of {@link RedisL2Options} (`timeout` in ms). */
export const REDIS_L2_DEFAULTS = {
  url: "redis://127.0.0.1:6379",
  prefix: "steadfast:cache:",
  timeout: 100,
} as const;

/** Options every Steadfast Redis connection uses: fail fast, never queue while disconnected. */
export function redisOptions(timeoutMs: number): RedisOptions {
  return {
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(100 * 2 ** times, 5_000),
    lazyConnect: false,
  };
}

/**
 * A Redis second level for the cache, shared by every instance. Each command has a short
 * timeout and goes through its own circuit breaker, so while Redis is down the cache works from
 * memory alone and never waits on it. Tags are Redis sets; prefix invalidation scans.
 *
 * @example
 * ```ts
 * const cache = createCache({ l2: redisL2({ url: process.env.REDIS_URL }), bus: redisBus({ url: process.env.REDIS_URL }) });
 * ```
 */
export function redisL2(options: RedisL2Options): CacheL2 & {
  /** Resolves once the Redis connection is up. */
  ready(): Promise<void>;
} {
  const d = REDIS_L2_DEFAULTS;
  const timeout = parseDuration(options.timeout ?? d.timeout) ?? d.timeout;
  const owned = options.client === undefined;
  const client = options.client ?? new Redis(options.url ?? d.url, redisOptions(timeout));
  client.on("error", () => {}); // reported through the breaker and reachable(), never thrown
  const prefix = options.prefix ?? d.prefix;
  const breaker = new CircuitBreakerPolicy({
    name: "redis",
    consecutiveFailures: 3,
    breakDuration: "5s",
    isFailure: () => true,
  });
  let reachable: boolean | undefined;
  const run = async <T>(command: () => Promise<T>): Promise<T> => {
    try {
      const result = await breaker.execute(command);
      reachable = true;
      return result;
    } catch (error) {
      reachable = false;
      throw error;
    }
  };
  const scanDelete = async (pattern: string) => {
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", pattern, "COUNT", 500);
      if (keys.length > 0) await client.unlink(...keys);
      cursor = next;
    } while (cursor !== "0");
  };
  return {
    async get<V>(key: string): Promise<StoredEntry<V> | undefined> {
      const text = await run(() => client.get(prefix + key));
      return text === null ? undefined : (decode(text) as StoredEntry<V>);
    },
    async set<V>(key: string, entry: StoredEntry<V>): Promise<void> {
      const ttl = Math.max(1, Math.ceil(entry.staleUntil - Date.now()));
      const text = encode(entry);
      await run(async () => {
        const batch = client.multi().set(prefix + key, text, "PX", ttl);
        for (const tag of entry.tags)
          batch.sadd(`${prefix}tag:${tag}`, key).pexpire(`${prefix}tag:${tag}`, ttl);
        await batch.exec();
      });
    },
    async invalidate(message: Omit<InvalidationMessage, "origin">): Promise<void> {
      await run(async () => {
        if (message.kind === "keys" && message.values.length > 0) {
          await client.unlink(...message.values.map((k) => prefix + k));
        } else if (message.kind === "tags") {
          for (const tag of message.values) {
            const keys = await client.smembers(`${prefix}tag:${tag}`);
            await client.unlink(`${prefix}tag:${tag}`, ...keys.map((k) => prefix + k));
          }
        } else if (message.kind === "prefix") {
          for (const p of message.values) await scanDelete(`${escapeGlob(prefix + p)}*`);
        } else if (message.kind === "clear") {
          await scanDelete(`${escapeGlob(prefix)}*`);
        }
      });
    },
    reachable: () => reachable,
    /** Resolves once connected (commands are not queued while disconnected: they fail fast). */
    ready: () => connected(client),
    async close() {
      if (owned) client.disconnect();
    },
  };
}

/** Resolves when `client` is ready; rejects if it cannot connect within its connect timeout. */
export function connected(client: Redis): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      client.off("error", onError);
      resolve();
    };
    const onError = (error: unknown) => {
      client.off("ready", onReady);
      reject(error);
    };
    client.once("ready", onReady);
    client.once("error", onError);
  });
}

/**
 * Escapes Redis glob characters so a key prefix matches literally.
 *
 * @example
 * ```ts
 * escapeGlob("user:[42]*"); // "user:\\[42\\]\\*"
 * await client.scan("0", "MATCH", `${escapeGlob(prefix)}*`);
 * ```
 */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\^]/g, (c) => `\\${c}`);
}
