import pg from "pg";
import type { InvalidationBus, InvalidationMessage } from "../../cache/types.js";
import { ValidationError } from "../../errors/errors.js";
import { optionKeys } from "../../util/option-keys.js";

/** Options of {@link pgNotifyBus}. */
export interface PgNotifyBusOptions {
  /** The database to LISTEN on (a direct connection: transaction poolers drop LISTEN). */
  readonly connectionString: string;
  /** The channel, a plain identifier. Default `"steadfast_invalidate"`. */
  readonly channel?: string;
  /** Longest pause between reconnect attempts. Default 5000 ms. */
  readonly maxBackoffMs?: number;
}

/** @internal Every option name of {@link PgNotifyBusOptions}. */
export const PG_NOTIFY_BUS_OPTION_KEYS = optionKeys<PgNotifyBusOptions>()([
  "connectionString",
  "channel",
  "maxBackoffMs",
]);

/** Defaults of {@link PgNotifyBusOptions}. */
export const PG_NOTIFY_BUS_DEFAULTS = {
  channel: "steadfast_invalidate",
  maxBackoffMs: 5_000,
} as const;

/** NOTIFY payloads are limited to 8000 bytes by PostgreSQL. */
const MAX_PAYLOAD = 7_999;
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Cache invalidations over PostgreSQL LISTEN/NOTIFY: the zero-extra-infrastructure bus. One
 * dedicated connection listens and reconnects with backoff when it is lost (a NOTIFY sent while
 * it was down is missed, so entries then live until their ttl); publishing uses
 * `pg_notify($1, $2)`, parameterised. Payloads over 8000 bytes are rejected clearly: invalidate
 * by tag or prefix instead of thousands of keys.
 *
 * @example
 * ```ts
 * const bus = pgNotifyBus({ connectionString: process.env.DATABASE_URL });
 * const cache = createCache({ bus });
 * ```
 */
export function pgNotifyBus(options: PgNotifyBusOptions): InvalidationBus & {
  /** Resolves once the listening connection is connected and listening. */
  ready(): Promise<void>;
  /** Times the listening connection was re-established after a loss. */
  readonly reconnects: number;
} {
  const channel = options.channel ?? PG_NOTIFY_BUS_DEFAULTS.channel;
  if (!CHANNEL.test(channel))
    throw new ValidationError(
      "channel",
      "a lower-case SQL identifier",
      JSON.stringify(channel.slice(0, 70)),
    );
  const maxBackoff = options.maxBackoffMs ?? PG_NOTIFY_BUS_DEFAULTS.maxBackoffMs;
  const handlers = new Set<(message: InvalidationMessage) => void>();
  let listener: pg.Client | undefined;
  let closed = false;
  let failures = 0;
  let reconnects = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ready: Promise<void>;

  const listen = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: options.connectionString, keepAlive: true });
    client.on("error", () => {}); // the end event reconnects
    client.on("notification", (n) => {
      if (n.channel !== channel || n.payload === undefined) return;
      let message: InvalidationMessage;
      try {
        message = JSON.parse(n.payload) as InvalidationMessage;
      } catch {
        return;
      }
      for (const handler of handlers) handler(message);
    });
    client.on("end", () => {
      if (closed || listener !== client) return;
      listener = undefined;
      schedule();
    });
    await client.connect();
    await client.query(`LISTEN ${channel}`);
    if (closed) {
      await client.end().catch(() => {});
      return;
    }
    listener = client;
    failures = 0;
  };
  const schedule = () => {
    if (closed) return;
    const delay = Math.min(maxBackoff, 100 * 2 ** failures) * (0.5 + Math.random() / 2);
    failures++;
    timer = setTimeout(() => {
      reconnects++;
      ready = listen().catch(() => schedule());
    }, delay);
    timer.unref();
  };
  ready = listen().catch((error: unknown) => {
    schedule();
    throw error;
  });
  const publisher = new pg.Pool({
    connectionString: options.connectionString,
    max: 1,
    idleTimeoutMillis: 10_000,
  });
  publisher.on("error", () => {});

  return {
    ready: () => ready,
    get reconnects() {
      return reconnects;
    },
    async publish(message) {
      const payload = JSON.stringify(message);
      if (new TextEncoder().encode(payload).length > MAX_PAYLOAD) {
        throw new ValidationError(
          "invalidation",
          "at most 8000 bytes per NOTIFY: invalidate by tag or prefix instead",
        );
      }
      await publisher.query("SELECT pg_notify($1, $2)", [channel, payload]);
    },
    subscribe(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await listener?.end().catch(() => {});
      await publisher.end().catch(() => {});
    },
  };
}
