import type { Database } from "../../db/database.js";

/** One second of the service's life, as the dashboard charts it. */
export interface Sample {
  /** Unix time in seconds (the end of the interval). */
  readonly t: number;
  /** Calls finished per second, and those that failed. */
  readonly ops: number;
  readonly errors: number;
  /** Call latency percentiles in ms over the interval (`null` when no call finished). */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly idle: number;
  readonly used: number;
  readonly pending: number;
  /** 0 closed, 1 half-open, 2 open (a number so it charts as a step line). */
  readonly breaker: number;
  /** Cache reads per second by provenance (absent without a cache). */
  readonly cache?: { readonly hits: number; readonly stale: number; readonly misses: number };
}

/** Something with cumulative hit/stale/miss counters (the stale-serving cache). */
export interface CacheCounters {
  stats(): {
    readonly hits: number;
    readonly misses: number;
    readonly staleServed?: number;
    readonly stale?: number;
  };
}

const MAX_DURATIONS = 10_000;
const BREAKER_LEVEL = { closed: 0, "half-open": 1, open: 2 } as const;

/**
 * Samples the database handle once per interval — call latency percentiles and throughput
 * from its `call` events, pool connections by state, breaker state, cache counters — and keeps
 * the last `keep` samples for the dashboard. Bounded: at most 10,000 durations per interval
 * (a uniform reservoir beyond that) and `keep` samples.
 */
export class LiveStats {
  readonly #db: Database<unknown>;
  readonly #cache: CacheCounters | undefined;
  readonly #samples: Sample[] = [];
  readonly #keep: number;
  readonly #listeners = new Set<(sample: Sample) => void>();
  #durations: number[] = [];
  #seen = 0;
  #errors = 0;
  #lastCache: { hits: number; stale: number; misses: number } | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #off: () => void;
  #stopped = false;
  readonly #onStop = new Set<() => void>();

  constructor(
    db: Database<unknown>,
    options: { intervalMs?: number; keep?: number; cache?: CacheCounters } = {},
  ) {
    this.#db = db;
    this.#cache = options.cache;
    this.#keep = options.keep ?? 300;
    this.#off = db.on("call", (e) => {
      this.#seen++;
      if (e.error !== undefined) this.#errors++;
      if (this.#durations.length < MAX_DURATIONS) this.#durations.push(e.durationMs);
      else {
        const slot = Math.floor(Math.random() * this.#seen);
        if (slot < MAX_DURATIONS) this.#durations[slot] = e.durationMs;
      }
    });
    const intervalMs = options.intervalMs ?? 1_000;
    this.#timer = setInterval(() => this.tick(intervalMs), intervalMs);
    this.#timer.unref();
  }

  /** The samples kept, oldest first. */
  history(): readonly Sample[] {
    return this.#samples;
  }

  /**
   * Calls `listener` with every new sample, and `onStop` once when sampling stops (so streams
   * can end); returns an unsubscribe function.
   */
  subscribe(listener: (sample: Sample) => void, onStop?: () => void): () => void {
    this.#listeners.add(listener);
    if (onStop) this.#onStop.add(onStop);
    return () => {
      this.#listeners.delete(listener);
      if (onStop) this.#onStop.delete(onStop);
    };
  }

  /** True after {@link stop}. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Closes the current interval and records its sample (the timer calls it every interval). */
  tick(intervalMs: number): Sample {
    const durations = this.#durations.sort((a, b) => a - b);
    const perSecond = 1000 / intervalMs;
    const pool = this.#db.pool.stats();
    const state = this.#db.breaker?.state ?? "closed";
    const sample: Sample = {
      t: Math.round(Date.now() / 1000),
      ops: Math.round(this.#seen * perSecond * 10) / 10,
      errors: Math.round(this.#errors * perSecond * 10) / 10,
      p50: quantile(durations, 0.5),
      p95: quantile(durations, 0.95),
      p99: quantile(durations, 0.99),
      idle: pool.idle,
      used: pool.active + pool.validating,
      pending: pool.pending,
      breaker: BREAKER_LEVEL[state as keyof typeof BREAKER_LEVEL] ?? 0,
      ...this.#cacheRates(perSecond),
    };
    this.#durations = [];
    this.#seen = 0;
    this.#errors = 0;
    this.#samples.push(sample);
    if (this.#samples.length > this.#keep) this.#samples.shift();
    for (const listener of this.#listeners) listener(sample);
    return sample;
  }

  /** Stops sampling. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#off();
    for (const onStop of this.#onStop) onStop();
  }

  #cacheRates(perSecond: number): Pick<Sample, "cache"> {
    if (!this.#cache) return {};
    const s = this.#cache.stats();
    const now = { hits: s.hits, stale: s.staleServed ?? s.stale ?? 0, misses: s.misses };
    const last = this.#lastCache ?? now;
    this.#lastCache = now;
    const rate = (a: number, b: number) => Math.round((a - b) * perSecond * 10) / 10;
    return {
      cache: {
        hits: rate(now.hits, last.hits),
        stale: rate(now.stale, last.stale),
        misses: rate(now.misses, last.misses),
      },
    };
  }
}

function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const value = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return Math.round(value * 100) / 100;
}
