/**
 * The time source every timer-driven part of Steadfast uses (policies, pool, cache).
 *
 * Inject a {@link Clock} instead of patching globals: production code gets
 * {@link systemClock}; tests pass a `FakeClock` from `steadfast/testing` and move time
 * by hand.
 *
 * @example
 * ```ts
 * const clock: Clock = systemClock;
 * const handle = clock.setTimeout(() => console.log("late"), 250);
 * clock.clearTimeout(handle);
 * ```
 */
export interface Clock {
  /** Milliseconds on a monotonic-enough scale; only differences are meaningful. */
  now(): number;
  /**
   * Calls `callback` once after `ms` milliseconds. A `background` timer (housekeeping, probes,
   * leak checks) must not keep a process alive on its own, so the system clock `unref`s it;
   * a timer someone awaits (an acquire timeout, a retry's backoff) keeps it alive as usual.
   */
  setTimeout(callback: () => void, ms: number, background?: boolean): TimerHandle;
  /** Cancels a timer from {@link Clock.setTimeout}; unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque timer handle returned by {@link Clock.setTimeout}. */
export type TimerHandle =
  | {
      /** Never present: only makes the type nominal. */
      readonly __timer?: never;
    }
  | number
  | object;

/** A source of uniformly distributed numbers in [0, 1); injectable for deterministic tests. */
export type RandomSource = () => number;

interface Unrefable {
  unref?: () => void;
}

/**
 * The real clock: `performance.now()` and the runtime's timers. Background timers are
 * unref'ed (Node, Bun, Deno) so housekeeping never holds the process open.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, ms, background = false) {
    const handle = setTimeout(callback, ms) as unknown as Unrefable;
    if (background) handle.unref?.();
    return handle as TimerHandle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
};

/** `Math.random`, the default {@link RandomSource}. */
export const systemRandom: RandomSource = Math.random;
