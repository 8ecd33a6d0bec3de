import type { RandomSource } from "../util/clock.js";
import type { Duration } from "../util/duration.js";
import { optionKeys } from "../util/option-keys.js";
import { OptionsReader } from "../util/options.js";

/**
 * How the delay before a retry is chosen; see {@link BackoffOptions.jitter}.
 * - `"full"`: uniform in `[0, min(cap, base × factor^(n-1)))`.
 * - `"decorrelated"`: uniform in `[base, previous × (factor + 1)]`, capped.
 * - `"none"`: exactly `min(cap, base × factor^(n-1))`; for tests and single clients only.
 */
export type Jitter = "full" | "decorrelated" | "none";

/**
 * A backoff: the delay in ms before retry number `retry` (1 for the first retry), given the
 * previous delay (0 before the first retry) and a random source. A pure function, so it is
 * shared freely between calls and policies.
 */
export type Backoff = (retry: number, previousDelay: number, random: RandomSource) => number;

/**
 * Options of {@link exponentialBackoff}; every field is optional.
 *
 * @example
 * ```ts
 * exponentialBackoff({ base: "100ms", cap: "2s" });
 * ```
 */
export interface BackoffOptions {
  /** Delay scale of the first retry. Default `"50ms"`. */
  readonly base?: Duration;
  /** No delay is ever longer than this. Default `"5s"`; must be >= `base`. */
  readonly cap?: Duration;
  /** Growth per retry. Default `2`; must be >= 1. */
  readonly factor?: number;
  /** Default `"full"`; see {@link Jitter}. */
  readonly jitter?: Jitter;
}

/** Defaults of {@link BackoffOptions}, in ms. */
export const BACKOFF_DEFAULTS = {
  /** `base`: 50 ms. */
  base: 50,
  /** `cap`: 5 s. */
  cap: 5_000,
  /** `factor`: doubling. */
  factor: 2,
  /** `jitter`: full jitter. */
  jitter: "full",
} as const;

/** @internal Every option name of {@link BackoffOptions}. */
export const BACKOFF_OPTION_KEYS = optionKeys<BackoffOptions>()([
  "base",
  "cap",
  "factor",
  "jitter",
]);

/**
 * Exponential backoff with jitter, never longer than `cap`.
 *
 * Full jitter is the default. The AWS Architecture Blog's simulation ("Exponential Backoff
 * and Jitter", 2015) found full and decorrelated jitter equally good at spreading clients
 * apart, with full jitter doing the least total work (fewest calls) and decorrelated finishing
 * slightly later. Full jitter is also a function of the retry number alone, so a deadline check
 * can reason about the worst case (`min(cap, base × factor^(n-1))`) without history. Pick
 * `"decorrelated"` when many retries are expected and delays should keep growing smoothly.
 *
 * @throws ConfigError when an option is invalid (e.g. `base` greater than `cap`).
 * @example
 * ```ts
 * const backoff = exponentialBackoff({ base: "50ms", cap: "2s" });
 * backoff(3, 0, Math.random); // somewhere in [0, 200) ms
 * ```
 */
export function exponentialBackoff(options?: BackoffOptions): Backoff {
  const reader = new OptionsReader(options, "backoff", BACKOFF_OPTION_KEYS);
  const backoff = readBackoff(reader);
  reader.finish();
  return backoff;
}

/** Reads backoff options through `reader` (shared with a parent policy's issue list). */
export function readBackoff(reader: OptionsReader): Backoff {
  const base = reader.duration("base", BACKOFF_DEFAULTS.base);
  const cap = reader.duration("cap", BACKOFF_DEFAULTS.cap);
  const factor = reader.number("factor", BACKOFF_DEFAULTS.factor, { min: 1 });
  const jitter = reader.oneOf<Jitter>("jitter", BACKOFF_DEFAULTS.jitter, [
    "full",
    "decorrelated",
    "none",
  ]);
  if (base > cap) reader.report("base", `a duration <= cap (${cap} ms)`, reader.raw("base"));
  return makeBackoff(base, cap, factor, jitter);
}

/** Reads the `backoff` option of a parent: a {@link Backoff} function or {@link BackoffOptions}. */
export function readBackoffOption(reader: OptionsReader, key: string): Backoff {
  const value = reader.raw(key);
  if (typeof value === "function") return value as Backoff;
  return readBackoff(reader.nested(key, BACKOFF_OPTION_KEYS));
}

function makeBackoff(base: number, cap: number, factor: number, jitter: Jitter): Backoff {
  const ceiling = (retry: number): number => {
    if (base === 0) return 0;
    const grown = base * factor ** Math.max(0, retry - 1);
    // factor ** n overflows to Infinity for large n; min() brings it back to cap.
    return Math.min(cap, grown);
  };
  switch (jitter) {
    case "none":
      return (retry) => ceiling(retry);
    case "full":
      return (retry, _previous, random) => clampUnit(random()) * ceiling(retry);
    case "decorrelated":
      return (_retry, previous, random) => {
        // AWS: sleep = min(cap, random_between(base, sleep × 3)); factor 2 gives that ×3.
        const upper = Math.min(cap, Math.max(base, previous) * (factor + 1));
        return Math.min(cap, base + clampUnit(random()) * Math.max(0, upper - base));
      };
  }
}

/** Guards against a random source that strays outside [0, 1). */
function clampUnit(x: number): number {
  return x >= 0 && x < 1 ? x : x >= 1 ? 1 : 0;
}
