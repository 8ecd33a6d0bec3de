import { LRUCache } from "lru-cache";
import { TimeoutError } from "../errors/errors.js";
import { Emitter } from "../util/emitter.js";
import { optionKeys } from "../util/option-keys.js";
import { type CacheOptions, type ResolvedCacheOptions, resolveCacheOptions } from "./options.js";
import { TagIndex } from "./tag-index.js";
import type {
  CacheResult,
  CacheStats,
  InvalidationMessage,
  Loader,
  StaleReason,
  StoredEntry,
} from "./types.js";

/** Per-read options. */
export interface ReadOptions<V> {
  /** Tags to store the value under, for `invalidateTag`. */
  readonly tags?: readonly string[];
  /** Served (with provenance `fallback`) when loading fails and nothing stale is kept. */
  readonly fallback?: V;
}

/** @internal Every option name of {@link ReadOptions}. */
export const CACHE_READ_OPTION_KEYS = optionKeys<ReadOptions<unknown>>()(["tags", "fallback"]);

/** Events for metrics and logs. */
export interface CacheEvents {
  /** A stale value was served. */
  stale: {
    /** The key read. */
    readonly key: string;
    /** Why the stale value was served. */
    readonly reason: StaleReason;
  };
  /** A loader call ended. */
  load: {
    /** The key loaded. */
    readonly key: string;
    /** How long the loader took, in ms. */
    readonly durationMs: number;
    /** The failure, when the load failed or timed out. */
    readonly error?: unknown;
  };
  /** The LRU dropped an entry. */
  evict: {
    /** The key dropped. */
    readonly key: string;
  };
}

interface Entry<V> extends StoredEntry<V> {
  readonly refreshAt: number;
  readonly bytes: number;
  /** A resolved promise of the value, made once, so a hit allocates nothing. */
  promise?: Promise<V | undefined>;
}

interface Flight<V> {
  readonly promise: Promise<Entry<V> & { fromL2?: boolean }>;
  /** Set when an invalidation hit the key while loading: the result must not be stored. */
  invalidated: boolean;
}

/**
 * A cache that serves stale data (and says so) when the source can't answer: bounded LRU in
 * memory, fresh `ttl` plus a `grace` period for stale serving, soft and hard load timeouts,
 * refresh-ahead, negative caching, single-flight loads, tags and prefix invalidation, an
 * optional shared L2 (Redis) and an invalidation bus between instances.
 *
 * Create it with {@link createCache}.
 *
 * @example
 * ```ts
 * const cache = createCache<User>({ ttl: "30s", grace: "10m" });
 * const entry = await cache.getOrLoadEntry(`user:${id}`, () => loadUser(id));
 * res.setHeader("Cache-Status", cacheStatus(entry));
 * ```
 */
export class Cache<V = unknown> {
  /** @internal The resolved options. */
  readonly options: ResolvedCacheOptions;
  /** Identifies this instance on the bus. */
  readonly instanceId: string;
  readonly #lru: LRUCache<string, Entry<V>>;
  readonly #flights = new Map<string, Flight<V>>();
  readonly #tags = new TagIndex();
  readonly #events = new Emitter<CacheEvents>();
  readonly #unsubscribe: (() => void) | undefined;
  #hits = 0;
  #misses = 0;
  #stale = 0;
  #fallbacks = 0;
  #loads = 0;
  #loadErrors = 0;
  #evictions = 0;
  #joins = 0;
  #l2Hits = 0;
  #l2Errors = 0;
  #invalidations = 0;
  #busErrors = 0;

  constructor(options?: CacheOptions) {
    this.options = resolveCacheOptions(options);
    const clock = options?.clock;
    if (options?.wallClock === undefined && clock !== undefined) {
      // A test clock drives ages too, so every timing rule follows it.
      (this.options as { wallClock: () => number }).wallClock = () => clock.now();
    }
    this.instanceId = `${this.options.name}-${Math.random().toString(36).slice(2, 10)}`;
    this.#lru = new LRUCache<string, Entry<V>>({
      max: this.options.maxEntries,
      maxSize: this.options.maxBytes,
      sizeCalculation: (entry) => entry.bytes,
      dispose: (entry, key, reason) => {
        this.#tags.remove(key, entry.tags);
        if (reason === "evict") {
          this.#evictions++;
          if (this.#events.has("evict")) this.#events.emit("evict", { key });
        }
      },
    });
    this.#unsubscribe = this.options.bus?.subscribe((message) => {
      if (message.origin !== this.instanceId) this.#apply(message);
    });
  }

  /**
   * The value for `key`: from memory while fresh, otherwise loaded (once, however many callers
   * ask at the same time). Serves stale data when the loader fails or is slow, or the source
   * is unavailable, within `grace`. Resolves `undefined` for a cached "not found".
   *
   * @example
   * ```ts
   * const user = await cache.getOrLoad(`user:${id}`, () => db.read(sql, [id]).then((r) => r.rows[0]));
   * ```
   */
  getOrLoad(key: string, loader: Loader<V>, options?: ReadOptions<V>): Promise<V | undefined> {
    const entry = this.#lru.get(key);
    if (entry !== undefined) {
      const now = this.options.wallClock();
      if (now < entry.freshUntil) {
        this.#hits++;
        if (now >= entry.refreshAt && !this.#flights.has(key))
          this.#refresh(key, loader, entry, options);
        entry.promise ??= Promise.resolve(entry.value);
        return entry.promise;
      }
    }
    return this.#read(key, loader, options, entry).then((result) => result.value);
  }

  /** Like {@link getOrLoad}, with where the value came from (`fresh`, `cached`, `stale`, `fallback`). */
  async getOrLoadEntry(
    key: string,
    loader: Loader<V>,
    options?: ReadOptions<V>,
  ): Promise<CacheResult<V>> {
    const entry = this.#lru.get(key);
    if (entry !== undefined) {
      const now = this.options.wallClock();
      if (now < entry.freshUntil) {
        this.#hits++;
        if (now >= entry.refreshAt && !this.#flights.has(key))
          this.#refresh(key, loader, entry, options);
        return { value: entry.value, provenance: "cached", ageMs: now - entry.storedAt };
      }
    }
    return this.#read(key, loader, options, entry);
  }

  /** The fresh value in memory, without loading; `undefined` when absent or expired. */
  peek(key: string): V | undefined {
    const entry = this.#lru.peek(key);
    return entry !== undefined && this.options.wallClock() < entry.freshUntil
      ? entry.value
      : undefined;
  }

  /** Stores a value directly (after a write whose result you know). */
  set(key: string, value: V, options: { tags?: readonly string[] } = {}): void {
    this.#store(key, this.#entry(value, options.tags ?? []));
  }

  /** Drops keys here, in L2 and (through the bus) in every other instance. */
  invalidate(...keys: string[]): Promise<void> {
    return this.#broadcast({ kind: "keys", values: keys });
  }

  /** Drops every key stored under any of `tags`, everywhere. */
  invalidateTag(...tags: string[]): Promise<void> {
    return this.#broadcast({ kind: "tags", values: tags });
  }

  /** Drops every key starting with `prefix`, everywhere. */
  invalidatePrefix(prefix: string): Promise<void> {
    return this.#broadcast({ kind: "prefix", values: [prefix] });
  }

  /** Drops everything, everywhere. */
  clear(): Promise<void> {
    return this.#broadcast({ kind: "clear", values: [] });
  }

  /**
   * Loads `entries` in the background, `concurrency` at a time (default 4), without blocking
   * reads; resolves with how many loaded (failures are counted in `loadErrors`, not thrown).
   */
  async warmup(entries: Iterable<readonly [string, Loader<V>]>, concurrency = 4): Promise<number> {
    const queue = [...entries];
    let loaded = 0;
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [key, loader] = next;
        try {
          await this.getOrLoad(key, loader);
          loaded++;
        } catch {
          // Counted by the load; warm-up must not fail the caller.
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
    return loaded;
  }

  /** Counters since creation, plus what memory holds now. */
  stats(): CacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      staleServed: this.#stale,
      fallbacks: this.#fallbacks,
      loads: this.#loads,
      loadErrors: this.#loadErrors,
      evictions: this.#evictions,
      singleFlightJoins: this.#joins,
      l2Hits: this.#l2Hits,
      l2Errors: this.#l2Errors,
      invalidations: this.#invalidations,
      busErrors: this.#busErrors,
      entries: this.#lru.size,
      bytes: this.#lru.calculatedSize,
    };
  }

  /** Whether the L2 answered recently (`undefined` without an L2), for health. */
  l2Reachable(): boolean | undefined {
    return this.options.l2?.reachable();
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<K extends keyof CacheEvents>(
    event: K,
    listener: (payload: CacheEvents[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  /** Stops listening to the bus. (Close the L2 and bus themselves where you created them.) */
  close(): void {
    this.#unsubscribe?.();
  }

  async #read(
    key: string,
    loader: Loader<V>,
    options: ReadOptions<V> | undefined,
    cached: Entry<V> | undefined,
  ): Promise<CacheResult<V>> {
    const now = this.options.wallClock();
    const stale = cached !== undefined && now < cached.staleUntil ? cached : undefined;
    if (cached !== undefined && stale === undefined) this.#lru.delete(key);
    if (stale) {
      const down = this.options.unavailable?.();
      if (down) return this.#serveStale(key, stale, "unavailable", down);
    }
    let flight = this.#flights.get(key);
    if (flight) this.#joins++;
    else {
      this.#misses++;
      flight = this.#start(key, loader, stale, options?.tags ?? []);
    }
    const soft = this.options.softTimeout;
    try {
      const loaded = await (stale && soft !== undefined
        ? this.#within(flight.promise, soft)
        : flight.promise);
      if (loaded === SOFT_TIMEOUT)
        return this.#serveStale(key, stale as Entry<V>, "soft-timeout", undefined);
      const entry = loaded as Entry<V> & { fromL2?: boolean };
      return entry.fromL2
        ? {
            value: entry.value,
            provenance: "cached",
            ageMs: this.options.wallClock() - entry.storedAt,
            fromL2: true,
          }
        : { value: entry.value, provenance: "fresh", ageMs: 0 };
    } catch (error) {
      const reason: StaleReason = error instanceof TimeoutError ? "hard-timeout" : "load-failed";
      if (stale) return this.#serveStale(key, stale, reason, error);
      if (options !== undefined && "fallback" in options) {
        this.#fallbacks++;
        return { value: options.fallback, provenance: "fallback", reason, error };
      }
      throw error;
    }
  }

  #serveStale(key: string, entry: Entry<V>, reason: StaleReason, error: unknown): CacheResult<V> {
    this.#stale++;
    if (this.#events.has("stale")) this.#events.emit("stale", { key, reason });
    const ageMs = this.options.wallClock() - entry.storedAt;
    return {
      value: entry.value,
      provenance: "stale",
      ageMs,
      reason,
      ...(error === undefined ? {} : { error }),
    };
  }

  #refresh(
    key: string,
    loader: Loader<V>,
    entry: Entry<V>,
    options: ReadOptions<V> | undefined,
  ): void {
    this.#start(key, loader, entry, options?.tags ?? entry.tags).promise.catch(() => {
      // The current value stays until it expires; the failure is counted as a load error.
    });
  }

  #start(
    key: string,
    loader: Loader<V>,
    stale: Entry<V> | undefined,
    tags: readonly string[],
  ): Flight<V> {
    const flight: Flight<V> = { promise: undefined as never, invalidated: false };
    (flight as { promise: Flight<V>["promise"] }).promise = this.#load(
      key,
      loader,
      stale,
      tags,
      flight,
    );
    this.#flights.set(key, flight);
    return flight;
  }

  async #load(
    key: string,
    loader: Loader<V>,
    stale: Entry<V> | undefined,
    tags: readonly string[],
    flight: Flight<V>,
  ) {
    const { clock, hardTimeout, l2 } = this.options;
    const started = clock.now();
    const controller = new AbortController();
    let timer: ReturnType<typeof clock.setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(
        () => {
          const error = new TimeoutError(hardTimeout, "deadline");
          controller.abort(error);
          reject(error);
        },
        hardTimeout,
        true,
      );
    });
    timeout.catch(() => {});
    try {
      if (l2) {
        const shared = await Promise.race([this.#fromL2(key), timeout]);
        if (shared) {
          if (!flight.invalidated) this.#store(key, shared);
          return Object.assign(shared, { fromL2: true });
        }
      }
      this.#loads++;
      const context = {
        key,
        signal: controller.signal,
        ...(stale
          ? { stale: { value: stale.value, ageMs: this.options.wallClock() - stale.storedAt } }
          : {}),
      };
      const value = await Promise.race([loader(context), timeout]);
      const entry = this.#entry(value, tags);
      if (!flight.invalidated && (value !== undefined || this.options.negativeTtl > 0)) {
        this.#store(key, entry);
        l2?.set(key, entry).catch(() => {
          this.#l2Errors++;
        });
      }
      if (this.#events.has("load"))
        this.#events.emit("load", { key, durationMs: clock.now() - started });
      return entry;
    } catch (error) {
      this.#loadErrors++;
      if (this.#events.has("load"))
        this.#events.emit("load", { key, durationMs: clock.now() - started, error });
      throw error;
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    }
  }

  async #fromL2(key: string): Promise<Entry<V> | undefined> {
    try {
      const shared = await this.options.l2?.get<V>(key);
      if (!shared || this.options.wallClock() >= shared.freshUntil) return undefined;
      this.#l2Hits++;
      return this.#withMeta(shared);
    } catch {
      this.#l2Errors++;
      return undefined; // a Redis outage degrades to memory only
    }
  }

  #entry(value: V | undefined, tags: readonly string[]): Entry<V> {
    const now = this.options.wallClock();
    const negative = value === undefined;
    const freshUntil = now + (negative ? this.options.negativeTtl : this.options.ttl);
    return this.#withMeta({
      value,
      storedAt: now,
      freshUntil,
      staleUntil: negative ? freshUntil : freshUntil + this.options.grace,
      tags,
    });
  }

  #withMeta(stored: StoredEntry<V>): Entry<V> {
    const ttl = stored.freshUntil - stored.storedAt;
    const refreshAt =
      this.options.refreshAhead > 0
        ? stored.storedAt + ttl * this.options.refreshAhead
        : Number.POSITIVE_INFINITY;
    return { ...stored, refreshAt, bytes: estimateBytes(stored.value) };
  }

  #store(key: string, entry: Entry<V>): void {
    this.#lru.set(key, entry);
    this.#tags.add(key, entry.tags);
  }

  async #broadcast(change: Omit<InvalidationMessage, "origin">): Promise<void> {
    this.#apply(change);
    const { l2, bus } = this.options;
    // L2 first: an instance that hears the message reloads, and must not find the old value
    // still in Redis and store it again.
    await l2?.invalidate(change).catch(() => {
      this.#l2Errors++;
    });
    // A bus outage must not fail the write that caused the invalidation: other instances then
    // serve their copy until its ttl ends, which the counters make visible.
    await bus?.publish({ ...change, origin: this.instanceId }).catch(() => {
      this.#busErrors++;
    });
  }

  /** Applies an invalidation to memory and to loads in flight (so they do not store old data). */
  #apply(change: Omit<InvalidationMessage, "origin">): void {
    this.#invalidations++;
    const matches = this.#matcher(change);
    for (const [key, flight] of this.#flights) if (matches(key)) flight.invalidated = true;
    if (change.kind === "clear") {
      this.#lru.clear();
      return;
    }
    const keys =
      change.kind === "keys"
        ? change.values
        : change.kind === "tags"
          ? this.#tags.keysOf(change.values)
          : [...this.#lru.keys()].filter(matches);
    for (const key of keys) this.#lru.delete(key);
  }

  #matcher(change: Omit<InvalidationMessage, "origin">): (key: string) => boolean {
    switch (change.kind) {
      case "clear":
        return () => true;
      case "keys":
        return (key) => change.values.includes(key);
      case "prefix":
        return (key) => change.values.some((p) => key.startsWith(p));
      case "tags":
        return (key) => {
          const tags = this.#lru.peek(key)?.tags ?? [];
          return (
            tags.some((t) => change.values.includes(t)) ||
            change.values.some((t) => this.#tags.has(t, key))
          );
        };
    }
  }

  /** Resolves with the load, or {@link SOFT_TIMEOUT} if it takes longer than `ms`. */
  #within<T>(promise: Promise<T>, ms: number): Promise<T | typeof SOFT_TIMEOUT> {
    const clock = this.options.clock;
    return new Promise((resolve, reject) => {
      const timer = clock.setTimeout(() => resolve(SOFT_TIMEOUT), ms, true);
      promise.then(
        (value) => {
          clock.clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }
}

const SOFT_TIMEOUT = Symbol("soft-timeout");

/** A rough size in bytes (UTF-16 JSON plus overhead), for the `maxBytes` bound. */
function estimateBytes(value: unknown): number {
  try {
    return 64 + 2 * (JSON.stringify(value)?.length ?? 0);
  } catch {
    return 1_024;
  }
}

/**
 * Creates a {@link Cache}.
 *
 * @throws ConfigError listing every invalid option.
 * @example
 * ```ts
 * const cache = createCache<User>({ ttl: "30s", grace: "10m", unavailable: () => db.breaker?.rejection() });
 * const { value, provenance } = await cache.getOrLoadEntry(`user:${id}`, () => loadUser(id));
 * ```
 */
export function createCache<V = unknown>(options?: CacheOptions): Cache<V> {
  return new Cache<V>(options);
}
