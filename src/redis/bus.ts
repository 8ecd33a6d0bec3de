import { Redis } from "ioredis";
import type { InvalidationBus, InvalidationMessage } from "../cache/types.js";
import { optionKeys } from "../util/option-keys.js";
import { connected, redisOptions } from "./l2.js";

/** Options of {@link redisBus}. */
export interface RedisBusOptions {
  /** A Redis URL. Default `redis://127.0.0.1:6379`. */
  readonly url?: string;
  /** The pub/sub channel. Default `"steadfast:invalidate"`. */
  readonly channel?: string;
}

/** @internal Every option name of {@link RedisBusOptions}. */
export const REDIS_BUS_OPTION_KEYS = optionKeys<RedisBusOptions>()(["url", "channel"]);

/** Defaults of {@link RedisBusOptions}. */
export const REDIS_BUS_DEFAULTS = {
  url: "redis://127.0.0.1:6379",
  channel: "steadfast:invalidate",
} as const;

/**
 * Carries cache invalidations between instances over Redis pub/sub (one connection publishes,
 * a second one subscribes, as Redis requires). Messages lost while Redis is down are lost —
 * entries then live until their ttl — so keep `ttl` as short as staleness allows.
 *
 * @example
 * ```ts
 * const bus = redisBus({ url: process.env.REDIS_URL });
 * const cache = createCache({ bus });
 * ```
 */
export function redisBus(options: RedisBusOptions = {}): InvalidationBus & {
  /** Resolves once both connections are up and the subscription is active. */
  ready(): Promise<void>;
} {
  const url = options.url ?? REDIS_BUS_DEFAULTS.url;
  const channel = options.channel ?? REDIS_BUS_DEFAULTS.channel;
  const publisher = new Redis(url, redisOptions(500));
  // The subscriber keeps its offline queue: SUBSCRIBE must be replayed after a reconnect.
  const subscriber = new Redis(url, { ...redisOptions(500), enableOfflineQueue: true });
  publisher.on("error", () => {});
  subscriber.on("error", () => {});
  const handlers = new Set<(message: InvalidationMessage) => void>();
  const subscribed = subscriber.subscribe(channel);
  subscribed.catch(() => {});
  subscriber.on("message", (from: string, text: string) => {
    if (from !== channel) return;
    let message: InvalidationMessage;
    try {
      message = JSON.parse(text) as InvalidationMessage;
    } catch {
      return; // not ours
    }
    for (const handler of handlers) handler(message);
  });
  return {
    async ready() {
      await Promise.all([subscribed, connected(publisher)]);
    },
    async publish(message) {
      await publisher.publish(channel, JSON.stringify(message));
    },
    subscribe(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    async close() {
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
