import type { Clock, TimerHandle } from "../util/clock.js";

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/**
 * A {@link Clock} whose time moves only when a test says so. Inject it into any Steadfast
 * part that takes a `clock` option; nothing global is patched.
 *
 * `advance(ms)` fires due timers synchronously in time order; `tick(ms)` does the same but
 * lets promise callbacks run between timers, which is what async code (a retry loop awaiting
 * its backoff) needs to make progress.
 *
 * @example
 * ```ts
 * const clock = new FakeClock();
 * const breaker = circuitBreaker({ clock, breakDuration: "5s" });
 * await clock.tick(5_000);
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers: FakeTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number, _background?: boolean): TimerHandle {
    const timer: FakeTimer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), callback };
    this.#timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }

  /** Number of timers waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Milliseconds until the next timer fires, or `undefined` when none is set. */
  nextTimerIn(): number | undefined {
    const next = this.#earliest();
    return next === undefined ? undefined : next.at - this.#now;
  }

  /** Moves time forward by `ms`, firing due timers synchronously in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let timer = this.#earliest(); timer && timer.at <= target; timer = this.#earliest()) {
      this.#fire(timer);
    }
    this.#now = target;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order and letting pending promise
   * callbacks settle before and after each one, so async loops observe every step.
   */
  async tick(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flushMicrotasks();
    for (let timer = this.#earliest(); timer && timer.at <= target; timer = this.#earliest()) {
      this.#fire(timer);
      await flushMicrotasks();
    }
    this.#now = target;
    await flushMicrotasks();
  }

  /** Fires timers (and settles promises) until none remain or `limit` timers have fired. */
  async runAll(limit = 10_000): Promise<void> {
    await flushMicrotasks();
    for (let fired = 0; fired < limit; fired++) {
      const timer = this.#earliest();
      if (!timer) return;
      this.#fire(timer);
      await flushMicrotasks();
    }
    throw new Error(
      `FakeClock.runAll: more than ${limit} timers fired; is a timer rescheduling itself?`,
    );
  }

  #earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (!best || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t;
    }
    return best;
  }

  #fire(timer: FakeTimer): void {
    this.#timers = this.#timers.filter((t) => t !== timer);
    this.#now = Math.max(this.#now, timer.at);
    timer.callback();
  }
}

/**
 * Resolves after every queued promise callback has run (one macrotask turn).
 *
 * @example
 * ```ts
 * void pool.acquire();
 * await flushMicrotasks(); // the acquire has reached the pool's queue
 * ```
 */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === "function") setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}
