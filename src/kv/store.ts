import type { Cache } from "../cache/cache.js";
import type { CacheResult } from "../cache/types.js";
import type { Database, QueryOptions } from "../db/database.js";
import { ValidationError } from "../errors/errors.js";
import { KvVersionConflictError } from "./errors.js";

export { KvVersionConflictError };

import type { Duration } from "../util/duration.js";
import { parseDuration } from "../util/duration.js";
import { optionKeys } from "../util/option-keys.js";
import { checkTableName, ensureTable, type KvTable } from "./schema.js";
import { type KvSql, kvSql } from "./sql.js";
import {
  checkKey,
  checkKeys,
  checkNamespace,
  checkPrefix,
  MAX_BATCH,
  prefixUpperBound,
  toJson,
} from "./validate.js";

/** Options of `db.kv()` / {@link KeyValueStore}. */
export interface KvOptions {
  /** Separates stores sharing one table. Default `"default"`. Letters, digits, `_ . : -`. */
  readonly namespace?: string;
  /** The table. Default `"steadfast_kv"` (created on first use). */
  readonly table?: string;
  /**
   * Use an existing Supabase-style table (`key text primary key, value jsonb`) as it is, without
   * migrating data. Namespaces, versions and TTLs need Steadfast's own table. Default `false`.
   */
  readonly adopt?: boolean;
  /** Deadline of each call. Default: the database's `timeout`. */
  readonly timeout?: Duration;
  /**
   * Serve `get`/`getEntry` through this cache (stale when the database can't answer); every
   * write invalidates its keys here, in L2 and on the bus before it returns.
   */
  readonly cache?: Cache<unknown>;
}

/** @internal Every option name of {@link KvOptions}. */
export const KV_OPTION_KEYS = optionKeys<KvOptions>()([
  "namespace",
  "table",
  "adopt",
  "timeout",
  "cache",
]);

/** What the store tells listeners when keys change. */
export type KvChangeListener = (change: {
  readonly namespace: string;
  readonly keys: readonly string[];
}) => void;

/** A stored entry with its metadata. */
export interface KvEntry<V = unknown> {
  /** The key. */
  readonly key: string;
  /** The stored JSON value. */
  readonly value: V;
  /** Increases by one on every write; `undefined` on an adopted table. */
  readonly version: number | undefined;
  /** When it was last written; `undefined` on an adopted table. */
  readonly updatedAt: Date | undefined;
  /** When it expires; `undefined` when it never does. */
  readonly expiresAt: Date | undefined;
}

/** Options of {@link KeyValueStore.set}. */
export interface KvSetOptions {
  /** Expire the key after this long (`"10m"`, ms). Default never. */
  readonly ttl?: Duration;
  /**
   * Compare-and-set: write only if the stored version is this one (`0`: only if the key does
   * not exist); otherwise reject with `KvVersionConflictError`. Such a write is not retried
   * after it was sent (its outcome may then be unknown).
   */
  readonly ifVersion?: number;
}

/** @internal Every option name of {@link KvSetOptions}. */
export const KV_SET_OPTION_KEYS = optionKeys<KvSetOptions>()(["ttl", "ifVersion"]);

/** A page of {@link KeyValueStore.list}. */
export interface KvPage<V = unknown> {
  /** The entries of this page, in key order ("C" collation). */
  readonly items: KvEntry<V>[];
  /** Pass as `after` for the next page; `undefined` on the last page. */
  readonly next: string | undefined;
}

const SWEEP_INTERVAL_MS = 60_000;

/**
 * A key-value store on PostgreSQL with the Supabase `kv_store` API (`get`, `set`, `del`,
 * `mget`, `mset`, `mdel`, `getByPrefix`) plus `has`, keyset-paginated `list`, `iterate`, TTLs
 * and compare-and-set. Reads take the retried read path; `set`/`del`/`mset`/`mdel` are
 * idempotent writes (retried after send). Prefix scans are index range scans in "C" order, so
 * `%`, `_`, backslashes and quotes in keys are plain characters. Batch calls are one round trip.
 *
 * @example
 * ```ts
 * const kv = db.kv({ namespace: "sessions" });
 * await kv.set("user:42", { theme: "dark" }, { ttl: "30d" });
 * const prefs = await kv.get<{ theme: string }>("user:42");
 * ```
 */
export class KeyValueStore {
  /** The namespace this store reads and writes. */
  readonly namespace: string;
  /** The table and its layout (Steadfast's own or adopted). */
  readonly table: KvTable;
  readonly #db: Database<unknown>;
  readonly #sql: KvSql;
  readonly #call: QueryOptions;
  readonly #listeners = new Set<KvChangeListener>();
  readonly #cache: Cache<unknown> | undefined;
  #lastSweep = Number.NEGATIVE_INFINITY;

  constructor(db: Database<unknown>, options: KvOptions = {}) {
    const adopt = options.adopt === true;
    this.namespace = checkNamespace(options.namespace ?? "default");
    this.table = {
      name: checkTableName(options.table ?? "steadfast_kv"),
      layout: adopt ? "adopted" : "steadfast",
    };
    this.#db = db;
    this.#sql = kvSql(this.table);
    this.#call = options.timeout === undefined ? {} : { timeout: db.timeoutOf(options.timeout) };
    this.#cache = options.cache;
  }

  /** Called after every successful write with the keys it changed. */
  onChange(listener: KvChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The value, or `undefined` when the key is absent or expired. */
  async get<V = unknown>(key: string): Promise<V | undefined> {
    return (await this.getEntry<V>(key))?.value;
  }

  /** The value with its version and timestamps, or `undefined`. */
  async getEntry<V = unknown>(key: string): Promise<KvEntry<V> | undefined> {
    return (await this.getWithProvenance<V>(key)).value;
  }

  /**
   * The entry with where it came from: through the cache when the store has one (`cached`,
   * `fresh`, `stale` with its age and reason), otherwise always `fresh`.
   */
  async getWithProvenance<V = unknown>(key: string): Promise<CacheResult<KvEntry<V>>> {
    checkKey(key);
    if (this.#cache) {
      return this.#cache.getOrLoadEntry(this.#cacheKey(key), () => this.#load(key)) as Promise<
        CacheResult<KvEntry<V>>
      >;
    }
    return { value: await this.#load<V>(key), provenance: "fresh", ageMs: 0 };
  }

  async #load<V>(key: string): Promise<KvEntry<V> | undefined> {
    const { rows } = await this.#read(this.#sql.get, [key]);
    const row = rows[0];
    return row ? entry<V>(row) : undefined;
  }

  #cacheKey(key: string): string {
    return `kv:${this.table.name}:${this.namespace}:${key}`;
  }

  /** Whether the key exists (and has not expired). */
  async has(key: string): Promise<boolean> {
    checkKey(key);
    return (await this.#read(this.#sql.has, [key])).rows.length > 0;
  }

  /** Values for `keys`, in the same order (`undefined` where absent), in one round trip. */
  async mget<V = unknown>(keys: readonly string[]): Promise<(V | undefined)[]> {
    const checked = checkKeys(keys);
    if (checked.length === 0) return [];
    const { rows } = await this.#read(this.#sql.mget, [checked]);
    const byKey = new Map(rows.map((r) => [String(r.key), r.value as V]));
    return checked.map((k) => byKey.get(k));
  }

  /** Writes one key; returns its new version (`undefined` on an adopted table). */
  async set(
    key: string,
    value: unknown,
    options: KvSetOptions = {},
  ): Promise<{
    /** The key's new version; `undefined` on an adopted table. */
    version: number | undefined;
  }> {
    checkKey(key);
    const json = toJson(value);
    const ttlSeconds = this.#ttlSeconds(options.ttl);
    const ifVersion = options.ifVersion;
    if (ifVersion !== undefined) {
      if (!Number.isSafeInteger(ifVersion) || ifVersion < 0) {
        throw new ValidationError(
          "ifVersion",
          "a whole number >= 0 (0: only if absent)",
          String(ifVersion),
        );
      }
      this.#needsOwnTable("ifVersion");
      const sql = ifVersion === 0 ? this.#sql.insertIfAbsent : this.#sql.updateIfVersion;
      const params = ifVersion === 0 ? [key, json, ttlSeconds] : [key, json, ttlSeconds, ifVersion];
      // Not idempotent: a retried compare-and-set that had succeeded would report a conflict.
      const { rows } = await this.#db.write<{ version: string }>(
        sql,
        [this.namespace, ...params],
        this.#call,
      );
      if (rows.length === 0) {
        const current = await this.getEntry(key);
        throw new KvVersionConflictError(key, ifVersion, current?.version ?? 0);
      }
      await this.#changed([key]);
      return { version: Number(rows[0]?.version) };
    }
    const own = this.table.layout === "steadfast";
    const { rows } = await this.#write(this.#sql.set, own ? [key, json, ttlSeconds] : [key, json]);
    await this.#changed([key]);
    return { version: rows[0]?.version === undefined ? undefined : Number(rows[0].version) };
  }

  /**
   * Writes many keys in one statement. Accepts `[key, value]` pairs or an object; a key given
   * twice keeps its last value.
   */
  async mset(
    entries: Iterable<readonly [string, unknown]> | Record<string, unknown>,
    options: { ttl?: Duration } = {},
  ): Promise<void> {
    const pairs = isIterable(entries) ? [...entries] : Object.entries(entries);
    if (pairs.length > MAX_BATCH) {
      throw new ValidationError(
        "entries",
        `at most ${MAX_BATCH} entries per call`,
        `${pairs.length}`,
      );
    }
    const last = new Map<string, string>();
    pairs.forEach(([key, value], i) => {
      last.set(checkKey(key, `entries[${i}].key`), toJson(value, `entries[${i}].value`));
    });
    if (last.size === 0) return;
    const columns = [[...last.keys()], [...last.values()]];
    const ttl = this.#ttlSeconds(options.ttl);
    await this.#write(
      this.#sql.mset,
      this.table.layout === "steadfast" ? [...columns, ttl] : columns,
    );
    await this.#changed([...last.keys()]);
  }

  /** Deletes one key; `true` if it existed. */
  async del(key: string): Promise<boolean> {
    checkKey(key);
    const { rows } = await this.#write(this.#sql.del, [key]);
    await this.#changed([key]);
    return rows.some((r) => r.live === true);
  }

  /** Deletes many keys in one statement; returns how many existed. */
  async mdel(keys: readonly string[]): Promise<number> {
    const checked = checkKeys(keys);
    if (checked.length === 0) return 0;
    const { rows } = await this.#write(this.#sql.mdel, [checked]);
    await this.#changed(checked);
    return rows.filter((r) => r.live === true).length;
  }

  /**
   * The values of every key starting with `prefix` (Supabase's `getByPrefix`), in key order.
   * Bounded: rejects when more than `limit` (default 1000) keys match; use {@link list} or
   * {@link iterate} for more.
   */
  async getByPrefix<V = unknown>(prefix: string, options: { limit?: number } = {}): Promise<V[]> {
    const limit = options.limit ?? 1_000;
    const page = await this.list<V>({ prefix, limit: limit + 1 });
    if (page.items.length > limit) {
      throw new ValidationError(
        "prefix",
        `a prefix matching at most ${limit} keys (use list() or iterate() for more)`,
      );
    }
    return page.items.map((item) => item.value);
  }

  /** One page of entries in key order: keys starting with `prefix`, after `after`, at most `limit` (default 100, max 1000). */
  async list<V = unknown>(
    options: { prefix?: string; limit?: number; after?: string } = {},
  ): Promise<KvPage<V>> {
    const prefix = checkPrefix(options.prefix ?? "");
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_BATCH + 1) {
      throw new ValidationError("limit", `a whole number from 1 to ${MAX_BATCH}`, String(limit));
    }
    const after = options.after === undefined ? null : checkKey(options.after, "after");
    const { rows } = await this.#read(this.#sql.list, [
      prefix,
      prefixUpperBound(prefix) ?? null,
      after,
      limit + 1,
    ]);
    const items = rows.slice(0, limit).map((r) => entry<V>(r));
    return { items, next: rows.length > limit ? items.at(-1)?.key : undefined };
  }

  /** Every entry starting with `prefix`, fetched `batchSize` (default 500) at a time. */
  async *iterate<V = unknown>(
    options: { prefix?: string; batchSize?: number } = {},
  ): AsyncGenerator<KvEntry<V>> {
    let after: string | undefined;
    do {
      const page = await this.list<V>({
        limit: options.batchSize ?? 500,
        ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
        ...(after === undefined ? {} : { after }),
      });
      yield* page.items;
      after = page.next;
    } while (after !== undefined);
  }

  async #read(sql: string, params: unknown[]) {
    await ensureTable(this.#db, this.table);
    return this.#db.read<Record<string, unknown>>(sql, this.#params(params), this.#call);
  }

  async #write(sql: string, params: unknown[]) {
    await ensureTable(this.#db, this.table);
    const result = await this.#db.write<Record<string, unknown>>(sql, this.#params(params), {
      ...this.#call,
      idempotent: true,
    });
    this.#sweep();
    return result;
  }

  #params(params: unknown[]): unknown[] {
    return this.table.layout === "adopted" ? params : [this.namespace, ...params];
  }

  #ttlSeconds(ttl: Duration | undefined): number | null {
    if (ttl === undefined) return null;
    const ms = parseDuration(ttl);
    if (ms === undefined || ms <= 0)
      throw new ValidationError("ttl", 'a positive duration such as "10m" or 600000');
    this.#needsOwnTable("ttl");
    return ms / 1000;
  }

  #needsOwnTable(option: string): void {
    if (this.table.layout === "adopted") {
      throw new ValidationError(
        option,
        "Steadfast's own table (an adopted table has no versions or expiry)",
      );
    }
  }

  async #changed(keys: readonly string[]): Promise<void> {
    await this.#cache?.invalidate(...keys.map((k) => this.#cacheKey(k)));
    for (const listener of this.#listeners) listener({ namespace: this.namespace, keys });
  }

  /** Deletes a bounded batch of expired rows, at most once a minute, in the background. */
  #sweep(): void {
    if (this.table.layout === "adopted") return;
    const now = this.#db.options.clock.now();
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return;
    this.#lastSweep = now;
    this.#db.write(this.#sql.sweep, [], { idempotent: true }).catch(() => {});
  }
}

function entry<V>(row: Record<string, unknown>): KvEntry<V> {
  return {
    key: String(row.key),
    value: row.value as V,
    version: row.version === undefined || row.version === null ? undefined : Number(row.version),
    updatedAt: row.updated_at instanceof Date ? row.updated_at : undefined,
    expiresAt: row.expires_at instanceof Date ? row.expires_at : undefined,
  };
}

function isIterable(value: unknown): value is Iterable<readonly [string, unknown]> {
  return typeof (value as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] === "function";
}
