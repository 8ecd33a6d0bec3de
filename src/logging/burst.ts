import type { Clock } from "../util/clock.js";

/**
 * Lets at most `limit` lines per key through per `windowMs`; counts the rest, and reports how
 * many were suppressed with the first line of the next window. An outage then costs a few log
 * lines, not one per failed connection.
 */
export class BurstLimiter {
  readonly #windows = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** `undefined` to drop the line, otherwise how many lines of this key were dropped before it. */
  admit(key: string): number | undefined {
    const now = this.clock.now();
    let w = this.#windows.get(key);
    if (w === undefined || now - w.start >= this.windowMs) {
      const suppressed = w?.suppressed ?? 0;
      w = { start: now, count: 0, suppressed: 0 };
      this.#windows.set(key, w);
      if (this.#windows.size > 64) this.#windows.delete(this.#windows.keys().next().value ?? key);
      w.count++;
      return suppressed;
    }
    if (w.count >= this.limit) {
      w.suppressed++;
      return undefined;
    }
    w.count++;
    return 0;
  }
}
