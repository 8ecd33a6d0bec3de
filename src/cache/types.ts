/** Where a value came from. */
export type Provenance = "fresh" | "cached" | "stale" | "fallback";

/** Why a stale value was served. */
export type StaleReason = "load-failed" | "soft-timeout" | "hard-timeout" | "unavailable";

/** A read with its provenance, for APIs that tell their users (e.g. `Cache-Status`). */
export interface CacheResult<V> {
  /** The value; `undefined` when the loader said "not found" (a negative entry). */
  readonly value: V | undefined;
  /**
   * `fresh`: just loaded; `cached`: a stored value within its ttl; `stale`: an expired value
   * served because loading failed, was slow or the database is unavailable; `fallback`: the
   * caller's `fallback`, no real data.
   */
  readonly provenance: Provenance;
  /** How old the value is, in ms (0 when just loaded; absent for a fallback). */
  readonly ageMs?: number;
  /** Why stale or fallback data was served. */
  readonly reason?: StaleReason;
  /** The load error behind a stale or fallback answer, if any. */
  readonly error?: unknown;
  /** Whether the value came from the shared L2 rather than this process's memory. */
  readonly fromL2?: boolean;
}

/** What the loader gets. */
export interface LoadContext<V> {
  /** The key being loaded. */
  readonly key: string;
  /** Aborts at `hardTimeout` (or when the cache is closed). */
  readonly signal: AbortSignal;
  /** The expired value, if one is kept (a loader may use it for conditional fetches). */
  readonly stale?: {
    /** The expired value (`undefined` for a cached "not found"). */
    readonly value: V | undefined;
    /** How long ago it was loaded, in ms. */
    readonly ageMs: number;
  };
}

/** A loader: returns the value, or `undefined` for "not found" (cached for `negativeTtl`). */
export type Loader<V> = (context: LoadContext<V>) => Promise<V | undefined>;

/** A stored value with its timing, as kept in memory and in L2. */
export interface StoredEntry<V> {
  /** The value; `undefined` for a cached "not found". */
  readonly value: V | undefined;
  /** Wall-clock ms (Date.now()) when it was loaded: shared with other instances through L2. */
  readonly storedAt: number;
  /** Wall-clock ms until which the value is fresh (`storedAt` + `ttl`). */
  readonly freshUntil: number;
  /** Wall-clock ms until which the value may still be served stale (`freshUntil` + `grace`). */
  readonly staleUntil: number;
  /** Tags the value was stored under, for `invalidateTag`. */
  readonly tags: readonly string[];
}

/** An invalidation one instance sends to the others. */
export interface InvalidationMessage {
  /** The sending instance; an instance ignores its own messages. */
  readonly origin: string;
  /** What to invalidate: the keys, tags or prefixes in `values`, or everything. */
  readonly kind: "keys" | "tags" | "prefix" | "clear";
  /** The keys, tags or prefixes (empty for `clear`). */
  readonly values: readonly string[];
}

/** A shared second level (Redis): any failure must be thrown, the cache degrades around it. */
export interface CacheL2 {
  /** The stored entry, or `undefined` when absent. */
  get<V>(key: string): Promise<StoredEntry<V> | undefined>;
  /** Stores an entry until its `staleUntil`. */
  set<V>(key: string, entry: StoredEntry<V>): Promise<void>;
  /** Removes the keys, tags, prefixes or everything a message names. */
  invalidate(message: Omit<InvalidationMessage, "origin">): Promise<void>;
  /** Whether the last operations worked (for health); `undefined` before any. */
  reachable(): boolean | undefined;
  /** Releases the connection (unless it was given by the caller). */
  close(): Promise<void>;
}

/** Carries invalidations between instances (Redis pub/sub, Postgres LISTEN/NOTIFY). */
export interface InvalidationBus {
  /** Sends an invalidation to every other instance. */
  publish(message: InvalidationMessage): Promise<void>;
  /** Returns a function that unsubscribes. */
  subscribe(handler: (message: InvalidationMessage) => void): () => void;
  /** Stops publishing and subscribing and closes the connections. */
  close(): Promise<void>;
}

/** Counters of a cache; they only grow. */
export interface CacheStats {
  /** Reads answered with a fresh value from memory or L2. */
  readonly hits: number;
  /** Reads that had to call the loader. */
  readonly misses: number;
  /** Reads answered with an expired value (see `StaleReason`). */
  readonly staleServed: number;
  /** Reads answered with the caller's `fallback`. */
  readonly fallbacks: number;
  /** Loader calls, background refreshes included. */
  readonly loads: number;
  /** Loader calls that failed or timed out. */
  readonly loadErrors: number;
  /** Entries dropped by the LRU bounds. */
  readonly evictions: number;
  /** Reads that waited on a load already in flight instead of starting one. */
  readonly singleFlightJoins: number;
  /** Values found in L2 after a memory miss. */
  readonly l2Hits: number;
  /** L2 operations that failed (the cache carried on from memory). */
  readonly l2Errors: number;
  /** Invalidations applied, local and from the bus. */
  readonly invalidations: number;
  /** Invalidations the bus failed to carry. */
  readonly busErrors: number;
  /** Entries and approximate bytes held in memory now. */
  readonly entries: number;
  /** Approximate bytes held in memory now. */
  readonly bytes: number;
}

/**
 * Renders an RFC 9211 `Cache-Status` header value for a read.
 *
 * @example
 * ```ts
 * const entry = await cache.getOrLoadEntry("user:42", loadUser);
 * cacheStatus(entry); // "steadfast; hit; detail=stale-unavailable" when served stale
 * ```
 */
export function cacheStatus(result: CacheResult<unknown>, name = "steadfast"): string {
  switch (result.provenance) {
    case "cached":
      return `${name}; hit`;
    case "fresh":
      return `${name}; fwd=miss; stored`;
    case "stale":
      return `${name}; hit; detail=stale-${result.reason ?? "served"}`;
    case "fallback":
      return `${name}; fwd=miss; detail=fallback-${result.reason ?? "load-failed"}`;
  }
}
