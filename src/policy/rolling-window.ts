import type { Clock } from "../util/clock.js";

/**
 * Counters summed over a sliding time window, kept in a ring of time buckets so that adding
 * and reading are O(1) and memory does not grow with traffic (the circuit breaker's failure
 * ratio, the retry budget's balance).
 *
 * The window covers the current bucket plus the `buckets - 1` before it, so it spans between
 * `duration - duration / buckets` and `duration` of history depending on where in the current
 * bucket `now` falls.
 *
 * @example
 * ```ts
 * const w = new RollingWindow(clock, 10_000, 10, 2); // 10 s in 1 s buckets, 2 counters
 * w.add(0, 1);
 * w.sum(0); // 1
 * ```
 */
export class RollingWindow {
  readonly #clock: Clock;
  readonly #width: number;
  readonly #buckets: number;
  readonly #fields: number;
  readonly #cells: Float64Array;
  readonly #sums: Float64Array;
  #index: number;

  constructor(clock: Clock, duration: number, buckets: number, fields: number) {
    this.#clock = clock;
    this.#buckets = buckets;
    this.#width = duration / buckets;
    this.#fields = fields;
    this.#cells = new Float64Array(buckets * fields);
    this.#sums = new Float64Array(fields);
    this.#index = this.#indexAt(clock.now());
  }

  /** Width of one bucket in ms. */
  get bucketWidth(): number {
    return this.#width;
  }

  /**
   * Adds `amount` to counter `field` in the current bucket. `now` saves a clock read when the
   * caller has a recent reading; one older than the current bucket counts in the current bucket.
   */
  add(field: number, amount: number, now = this.#clock.now()): void {
    this.#roll(now);
    const slot = mod(this.#index, this.#buckets) * this.#fields + field;
    this.#cells[slot] = (this.#cells[slot] ?? 0) + amount;
    this.#sums[field] = (this.#sums[field] ?? 0) + amount;
  }

  /** The sum of counter `field` over the window. */
  sum(field: number): number {
    this.#roll(this.#clock.now());
    return this.#sums[field] ?? 0;
  }

  /** Forgets everything. */
  clear(): void {
    this.#cells.fill(0);
    this.#sums.fill(0);
    this.#index = this.#indexAt(this.#clock.now());
  }

  #indexAt(now: number): number {
    return this.#width > 0 ? Math.floor(now / this.#width) : 0;
  }

  /** Expires the buckets that slid out of the window since the last call. */
  #roll(now: number): void {
    const index = this.#indexAt(now);
    if (index <= this.#index) return;
    const steps = Math.min(index - this.#index, this.#buckets);
    for (let s = 1; s <= steps; s++) {
      const base = mod(this.#index + s, this.#buckets) * this.#fields;
      for (let f = 0; f < this.#fields; f++) {
        const value = this.#cells[base + f] ?? 0;
        if (value !== 0) {
          this.#sums[f] = (this.#sums[f] ?? 0) - value;
          this.#cells[base + f] = 0;
        }
      }
    }
    this.#index = index;
  }
}

function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}
