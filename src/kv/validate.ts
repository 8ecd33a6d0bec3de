import { ValidationError } from "../errors/errors.js";

/** Longest key, in characters. Keys are `text` in a B-tree: long keys bloat the index. */
export const MAX_KEY_LENGTH = 1024;
/** Largest value, as JSON text, in bytes (1 MiB). */
export const MAX_VALUE_BYTES = 1_048_576;
/** Most keys in one batch call (`mget`, `mset`, `mdel`): one statement, bounded. */
export const MAX_BATCH = 1_000;

const NAMESPACE = /^[A-Za-z0-9_.:-]{1,64}$/;
// UTF-8 cannot hold lone surrogates (and PostgreSQL text cannot hold NUL, checked apart).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NUL = String.fromCharCode(0);

function unstorable(text: string): boolean {
  return text.includes(NUL) || LONE_SURROGATE.test(text);
}

/** Checks a namespace name; returns it. */
export function checkNamespace(namespace: unknown): string {
  if (typeof namespace !== "string" || !NAMESPACE.test(namespace)) {
    throw new ValidationError(
      "namespace",
      "1 to 64 letters, digits, '_', '.', ':' or '-'",
      typeof namespace === "string" ? JSON.stringify(namespace.slice(0, 70)) : typeof namespace,
    );
  }
  return namespace;
}

/** Checks a key (any text but NUL and lone surrogates: `%`, `_`, quotes, unicode are fine). */
export function checkKey(key: unknown, field = "key"): string {
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new ValidationError(
      field,
      `a non-empty string of at most ${MAX_KEY_LENGTH} characters`,
      typeof key === "string" ? `${key.length} characters` : typeof key,
    );
  }
  if (unstorable(key)) {
    throw new ValidationError(field, "text without NUL characters or unpaired surrogates");
  }
  return key;
}

/** Checks a prefix: like a key, but may be empty (everything). */
export function checkPrefix(prefix: unknown): string {
  if (prefix === "") return "";
  return checkKey(prefix, "prefix");
}

/** Checks a batch of keys; returns them. */
export function checkKeys(keys: unknown, field = "keys"): string[] {
  if (!Array.isArray(keys)) throw new ValidationError(field, "an array of keys", typeof keys);
  if (keys.length > MAX_BATCH) {
    throw new ValidationError(field, `at most ${MAX_BATCH} keys per call`, `${keys.length}`);
  }
  return keys.map((key, i) => checkKey(key, `${field}[${i}]`));
}

/**
 * Serializes a value to JSON for `jsonb`, rejecting what would not come back the same:
 * `undefined`, functions, symbols, BigInt, non-finite numbers, cycles, NUL in strings, and
 * values over {@link MAX_VALUE_BYTES}. Dates become ISO strings (as JSON does) — documented.
 */
export function toJson(value: unknown, field = "value"): string {
  const problem = unrepresentable(value, new Set());
  if (problem)
    throw new ValidationError(
      field,
      "a JSON value (object, array, string, finite number, boolean or null)",
      problem,
    );
  const text = JSON.stringify(value);
  if (new TextEncoder().encode(text).length > MAX_VALUE_BYTES) {
    throw new ValidationError(field, `at most ${MAX_VALUE_BYTES} bytes of JSON`);
  }
  if (unstorable(text) || text.includes("\\u0000")) {
    throw new ValidationError(field, "strings without NUL characters or unpaired surrogates");
  }
  return text;
}

function unrepresentable(value: unknown, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : String(value);
    case "undefined":
    case "function":
    case "symbol":
    case "bigint":
      return `a ${typeof value}`;
  }
  if (value === null) return undefined;
  const object = value as object;
  if (seen.has(object)) return "a circular structure";
  if (typeof (object as { toJSON?: unknown }).toJSON === "function") return undefined;
  seen.add(object);
  const children = Array.isArray(object) ? object : Object.values(object);
  for (const child of children) {
    const inner =
      Array.isArray(object) || child !== undefined ? unrepresentable(child, seen) : undefined;
    if (inner) return inner;
  }
  seen.delete(object);
  return undefined;
}

/**
 * The smallest string greater than every string starting with `prefix`, in code point order
 * (which is the byte order of UTF-8, i.e. the "C" collation), or `undefined` when none exists.
 * `key >= prefix AND key < upper` is then exactly "starts with prefix", as an index range.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = Array.from(prefix, (c) => c.codePointAt(0) ?? 0);
  while (points.length > 0) {
    const last = (points.pop() ?? 0) + 1;
    if (last > 0x10ffff) continue; // carry: drop the maxed-out code point
    // Skip the surrogate block: those are not characters.
    points.push(last >= 0xd800 && last <= 0xdfff ? 0xe000 : last);
    return String.fromCodePoint(...points);
  }
  return undefined;
}
