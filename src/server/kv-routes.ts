import type { Context, Hono } from "hono";
import { ValidationError } from "../errors/errors.js";
import type { KeyValueStore, KvEntry } from "../kv/store.js";
import type { Duration } from "../util/duration.js";
import { HttpError } from "./errors.js";

/** Where a read's value came from, for the `Cache-Status` header (RFC 9211). */
export interface ReadResult {
  readonly entry: KvEntry | undefined;
  /** A ready `Cache-Status` header value, e.g. `steadfast; hit` or `steadfast; fwd=miss; stored`. */
  readonly cacheStatus?: string;
}

/** Reads one key, usually through the cache. */
export type KvRead = (namespace: string, key: string) => Promise<ReadResult>;

const NS = ":namespace{[A-Za-z0-9_.:-]{1,64}}";

/**
 * The KV JSON API:
 * - `GET /kv/:ns/:key` → `{ key, value, version }` (404 when absent), with `Cache-Status`;
 * - `PUT /kv/:ns/:key` with a JSON body (the value); `?ttl=10m`; `If-Match: <version>` for
 *   compare-and-set (`If-Match: 0`: only if absent) → `{ key, version }`;
 * - `DELETE /kv/:ns/:key` → `{ deleted }`;
 * - `GET /kv/:ns?prefix=&limit=&after=` → `{ items, next }` (keyset pagination);
 * - `POST /kv/:ns/_batch/get` `{ keys }` → `{ values }`; `POST /kv/:ns/_batch/put` `{ entries }`.
 * Keys go in the path percent-encoded (so `/` in a key is `%2F`).
 */
export function kvRoutes(app: Hono, kv: (namespace: string) => KeyValueStore, read?: KvRead): void {
  const reader: KvRead =
    read ??
    (async (ns, key) => ({
      entry: await kv(ns).getEntry(key),
      cacheStatus: "steadfast; fwd=uri-miss",
    }));

  app.get(`/kv/${NS}`, async (c) => {
    const q = c.req.query();
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit))
      throw new ValidationError("limit", "a whole number from 1 to 1000", q.limit);
    const page = await kv(c.req.param("namespace")).list({
      limit,
      ...(q.prefix === undefined ? {} : { prefix: q.prefix }),
      ...(q.after === undefined ? {} : { after: q.after }),
    });
    return c.json({ items: page.items.map(wire), next: page.next ?? null });
  });

  app.post(`/kv/${NS}/_batch/get`, async (c) => {
    const body = await jsonBody(c);
    const keys = (body as { keys?: unknown })?.keys;
    if (!Array.isArray(keys)) throw new ValidationError("keys", 'a JSON body { "keys": [ ... ] }');
    const values = await kv(c.req.param("namespace")).mget(keys as string[]);
    return c.json({ values: Object.fromEntries(keys.map((k, i) => [k, values[i] ?? null])) });
  });

  app.post(`/kv/${NS}/_batch/put`, async (c) => {
    const body = await jsonBody(c);
    const entries = (body as { entries?: unknown })?.entries;
    if (typeof entries !== "object" || entries === null) {
      throw new ValidationError(
        "entries",
        'a JSON body { "entries": { "key": value, ... } } or [[key, value], ...]',
      );
    }
    const pairs = Array.isArray(entries)
      ? (entries as [string, unknown][])
      : Object.entries(entries);
    await kv(c.req.param("namespace")).mset(pairs, ttlOf(c));
    return c.json({ written: pairs.length });
  });

  app.get(`/kv/${NS}/:key{.+}`, async (c) => {
    const key = keyOf(c);
    const { entry, cacheStatus } = await reader(c.req.param("namespace"), key);
    if (cacheStatus) c.header("cache-status", cacheStatus);
    if (!entry) throw new HttpError(404, "KEY_NOT_FOUND", "No such key", { key });
    return c.json(wire(entry));
  });

  app.put(`/kv/${NS}/:key{.+}`, async (c) => {
    const key = keyOf(c);
    const value = await jsonBody(c);
    const ifMatch = c.req.header("if-match");
    const ifVersion = ifMatch === undefined ? undefined : Number(ifMatch.replaceAll('"', ""));
    if (ifVersion !== undefined && !Number.isSafeInteger(ifVersion)) {
      throw new ValidationError("If-Match", "a version number (0: only if absent)", ifMatch);
    }
    const { version } = await kv(c.req.param("namespace")).set(key, value, {
      ...ttlOf(c),
      ...(ifVersion === undefined ? {} : { ifVersion }),
    });
    return c.json({ key, version: version ?? null });
  });

  app.delete(`/kv/${NS}/:key{.+}`, async (c) => {
    const deleted = await kv(c.req.param("namespace")).del(keyOf(c));
    return c.json({ deleted });
  });
}

function wire(entry: KvEntry) {
  return {
    key: entry.key,
    value: entry.value,
    version: entry.version ?? null,
    updatedAt: entry.updatedAt?.toISOString() ?? null,
    expiresAt: entry.expiresAt?.toISOString() ?? null,
  };
}

/**
 * The key, decoded exactly once from the raw path (the router's own decoding is lenient with
 * malformed escapes, which must be an error, not a different key).
 */
function keyOf(c: Context): string {
  const path = new URL(c.req.url).pathname;
  const prefix = `/kv/${c.req.param("namespace")}/`;
  const raw = path.startsWith(prefix) ? path.slice(prefix.length) : (c.req.param("key") ?? "");
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ValidationError(
      "key",
      "a percent-encoded key (e.g. %2F for /)",
      "malformed percent-encoding",
    );
  }
}

/** `?ttl=10m`; validated by the store, which answers a bad one with `ValidationError`. */
function ttlOf(c: Context): { ttl?: Duration } {
  const ttl = c.req.query("ttl");
  return ttl === undefined ? {} : { ttl: ttl as Duration };
}

/** Parses the body as JSON; a syntax error answers 400 with where it is. */
async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.length === 0) throw new HttpError(400, "BODY_REQUIRED", "A JSON body is required");
  try {
    return JSON.parse(text);
  } catch (error) {
    const position = /position (\d+)/.exec(String((error as Error).message))?.[1];
    throw new HttpError(
      400,
      "MALFORMED_JSON",
      `The body is not valid JSON${position ? ` (at position ${position})` : ""}`,
      {
        ...(position ? { position: Number(position) } : {}),
      },
    );
  }
}
