import { ConfigError, type ConfigIssue, describeValue } from "../errors/config-error.js";
import { parseDuration } from "./duration.js";

interface Range {
  min?: number;
  max?: number;
}

/**
 * Reads and validates one concept's options object, collecting every problem instead of
 * stopping at the first, so {@link OptionsReader.finish} can throw one {@link ConfigError}
 * that names all bad fields. Unknown keys are reported with a "did you mean" hint because a
 * misspelt option silently falling back to its default is the worst kind of config bug.
 *
 * @example
 * ```ts
 * const r = new OptionsReader(input, "retry", ["maxAttempts", "base"]);
 * const maxAttempts = r.integer("maxAttempts", 3, { min: 1 });
 * const base = r.duration("base", 50);
 * r.finish();
 * ```
 */
export class OptionsReader {
  readonly #values: Record<string, unknown>;
  readonly #prefix: string;
  readonly #issues: ConfigIssue[];

  constructor(
    input: unknown,
    prefix: string,
    known: readonly string[],
    issues: ConfigIssue[] = [],
  ) {
    this.#prefix = prefix;
    this.#issues = issues;
    if (input === undefined || input === null) {
      this.#values = {};
      return;
    }
    if (typeof input !== "object" || Array.isArray(input)) {
      this.#values = {};
      this.#issues.push({
        field: prefix || "options",
        expected: "an options object",
        received: describeValue(input),
      });
      return;
    }
    this.#values = input as Record<string, unknown>;
    for (const key of Object.keys(this.#values)) {
      if (known.includes(key) || this.#values[key] === undefined) continue;
      const hint = closest(key, known);
      this.#issues.push({
        field: this.#path(key),
        expected: hint ? `a known option (did you mean "${hint}"?)` : `one of: ${known.join(", ")}`,
        received: "an unknown option",
      });
    }
  }

  /** Problems found so far (shared with nested readers). */
  get issues(): readonly ConfigIssue[] {
    return this.#issues;
  }

  /** The raw value of `key`, for fields validated elsewhere. */
  raw(key: string): unknown {
    return this.#values[key];
  }

  /** A reader for a nested options object that reports into the same issue list. */
  nested(key: string, known: readonly string[]): OptionsReader {
    return new OptionsReader(this.#values[key], this.#path(key), known, this.#issues);
  }

  /** A duration (`"250ms"`, `"5s"`, `"2m"` or ms) as milliseconds. */
  duration(key: string, fallback: number, range: Range = {}): number {
    const value = this.#values[key];
    if (value === undefined) return fallback;
    const ms = parseDuration(value);
    const expected = `a duration such as "250ms", "5s", "2m" or a number of milliseconds${rangeText(range, "ms")}`;
    if (ms === undefined || !inRange(ms, range)) return this.#bad(key, expected, value, fallback);
    return ms;
  }

  /** An integer within `range`. */
  integer(key: string, fallback: number, range: Range = {}): number {
    const value = this.#values[key];
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || !inRange(value, range)) {
      return this.#bad(key, `an integer${rangeText(range)}`, value, fallback);
    }
    return value;
  }

  /** A finite number within `range`. */
  number(key: string, fallback: number, range: Range = {}): number {
    const value = this.#values[key];
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || !inRange(value, range)) {
      return this.#bad(key, `a number${rangeText(range)}`, value, fallback);
    }
    return value;
  }

  /** `true` or `false`. */
  boolean(key: string, fallback: boolean): boolean {
    const value = this.#values[key];
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") return this.#bad(key, "true or false", value, fallback);
    return value;
  }

  /** One of a fixed set of strings. */
  oneOf<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const value = this.#values[key];
    if (value === undefined) return fallback;
    if (typeof value !== "string" || !allowed.includes(value as T)) {
      return this.#bad(key, `one of ${allowed.map((a) => `"${a}"`).join(", ")}`, value, fallback);
    }
    return value as T;
  }

  /** A string; `secret` hides the value from error messages. */
  string(key: string, options: { secret?: boolean; nonEmpty?: boolean } = {}): string | undefined {
    const value = this.#values[key];
    if (value === undefined) return undefined;
    if (typeof value !== "string" || (options.nonEmpty === true && value.length === 0)) {
      const expected = options.nonEmpty === true ? "a non-empty string" : "a string";
      return this.#bad(key, expected, value, undefined, options.secret);
    }
    return value;
  }

  /** A function (callbacks and hooks). */
  fn<T extends (...args: never[]) => unknown>(key: string): T | undefined {
    const value = this.#values[key];
    if (value === undefined) return undefined;
    if (typeof value !== "function") return this.#bad(key, "a function", value, undefined);
    return value as T;
  }

  /** Records a problem that a caller found by its own rules (e.g. "base must not exceed cap"). */
  report(key: string, expected: string, value: unknown, secret = false): void {
    this.#issues.push({ field: this.#path(key), expected, received: describeValue(value, secret) });
  }

  /** Throws a {@link ConfigError} listing every problem found, if any. */
  finish(): void {
    if (this.#issues.length > 0) throw new ConfigError([...this.#issues]);
  }

  #bad<T>(key: string, expected: string, value: unknown, fallback: T, secret = false): T {
    this.report(key, expected, value, secret);
    return fallback;
  }

  #path(key: string): string {
    return this.#prefix ? `${this.#prefix}.${key}` : key;
  }
}

function inRange(value: number, { min, max }: Range): boolean {
  return (min === undefined || value >= min) && (max === undefined || value <= max);
}

function rangeText({ min, max }: Range, unit = ""): string {
  const u = unit ? ` ${unit}` : "";
  if (min !== undefined && max !== undefined) return ` between ${min}${u} and ${max}${u}`;
  if (min !== undefined) return ` >= ${min}${u}`;
  if (max !== undefined) return ` <= ${max}${u}`;
  return "";
}

/** The known key nearest to `key` by edit distance, if it is plausibly a typo. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
