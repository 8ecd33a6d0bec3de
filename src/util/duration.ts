/**
 * A duration: milliseconds as a number, or a string such as `"250ms"`, `"5s"`, `"2m"`,
 * `"1h"` or `"1.5s"`.
 */
export type Duration = number | `${number}${DurationUnit}`;

/** Units accepted in a {@link Duration} string. */
export type DurationUnit = "ms" | "s" | "m" | "h";

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/;

/**
 * Parses a {@link Duration} into milliseconds, or returns `undefined` when it is not one
 * (negative, not finite, unknown unit). Callers turn `undefined` into a `ConfigError`.
 *
 * @example
 * ```ts
 * parseDuration("5s"); // 5000
 * parseDuration(250);  // 250
 * parseDuration("5 minutes"); // undefined
 * ```
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= 0 ? value : undefined;
  }
  if (typeof value !== "string") return undefined;
  const match = DURATION_PATTERN.exec(value);
  if (!match) {
    // A bare number in a string ("250"), as environment variables deliver it, means ms.
    if (/^\s*\d+(?:\.\d+)?\s*$/.test(value)) return Number(value);
    return undefined;
  }
  return Number(match[1]) * UNIT_MS[match[2] as DurationUnit];
}
