import { isSecretKey, REDACTED, redactSecrets } from "./redact.js";

/** A value `JSON.stringify` renders faithfully. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * An error as plain, JSON-safe data. Besides the fields below it carries the error's other own
 * enumerable fields (`retryAfterMs`, `counts`, `issues`, `errno`, `syscall`, …), JSON-safe and
 * with secret-named fields replaced by `"***"`. `cause` and `errors` entries are either
 * serialized errors or a marker string: `"[Circular]"` or `"[Truncated]"` (depth or size bound).
 */
export interface SerializedError {
  /** The error's name; for a generic name, the class name (`DatabaseError` rather than `error`). */
  name: string;
  /** The message, credentials redacted. */
  message: string;
  /** The error's `code`: a Steadfast code, a SQLSTATE or a Node code. */
  code?: string;
  /** The stack, redacted and truncated (absent with `stack: false`). */
  stack?: string;
  /** The serialized `cause`. */
  cause?: SerializedError | string;
  /** AggregateError members, at most `maxErrors`. */
  errors?: (SerializedError | string)[];
  /** How many AggregateError members were left out. */
  errorsOmitted?: number;
  /** How many fields were left out by `maxKeys`. */
  fieldsOmitted?: number;
  // PostgreSQL's error fields, as `pg` and PGlite expose them.
  /** `ERROR`, `FATAL` or `PANIC` (a server error). */
  severity?: string;
  /** The server's detail line. */
  detail?: string;
  /** The server's hint. */
  hint?: string;
  /** Where in the statement the error is (1-based character index). */
  position?: string;
  /** Like `position`, within an internally generated statement. */
  internalPosition?: string;
  /** The internally generated statement that failed. */
  internalQuery?: string;
  /** The call stack of the failing context (PL/pgSQL, SQL functions). */
  where?: string;
  /** Schema of the object involved. */
  schema?: string;
  /** Table involved. */
  table?: string;
  /** Column involved. */
  column?: string;
  /** Data type involved. */
  dataType?: string;
  /** Constraint violated. */
  constraint?: string;
  /** Server source file that raised it. */
  file?: string;
  /** Line in that source file. */
  line?: string;
  /** Server routine that raised it. */
  routine?: string;
  [field: string]: JsonValue | SerializedError | (SerializedError | string)[] | undefined;
}

/** Bounds of {@link serializeError}; every default keeps one error well under 100 KB of JSON. */
export interface SerializeErrorOptions {
  /**
   * Include stacks (redacted and truncated). Default `true`, for logs. Pass `false` for anything
   * a client sees (HTTP responses, health output): stacks reveal paths and versions.
   */
  stack?: boolean;
  /** How deep `cause` chains and nested values go. Default 8. */
  maxDepth?: number;
  /** AggregateError members kept. Default 10. */
  maxErrors?: number;
  /** Longest string kept, in characters; longer ones are cut with a marker. Default 8192. */
  maxStringLength?: number;
  /** Fields (and array items) kept per object. Default 32. */
  maxKeys?: number;
  /** Total characters of strings kept across the whole result. Default 65536. */
  maxSize?: number;
}

const PG_FIELDS = (
  "severity detail hint position internalPosition internalQuery where schema table column " +
  "dataType constraint file line routine"
).split(" ");

const HANDLED = new Set<string>([
  "name",
  "message",
  "stack",
  "code",
  "cause",
  "errors",
  ...PG_FIELDS,
]);
const CIRCULAR = "[Circular]";
const TRUNCATED = "[Truncated]";

interface State {
  readonly stack: boolean;
  readonly maxDepth: number;
  readonly maxErrors: number;
  readonly maxStringLength: number;
  readonly maxKeys: number;
  budget: number;
  readonly ancestors: Set<object>;
}

/**
 * Turns any thrown value into a plain, JSON-safe {@link SerializedError}: name, message, code,
 * stack, PostgreSQL fields, the error's own fields, its `cause` chain and AggregateError members.
 * Survives circular references (`"[Circular]"`), throwing getters, Proxies and non-Error values;
 * never throws; stays bounded in size; and redacts credentials everywhere (see
 * {@link redactSecrets}; fields named like `password` or `token` become `"***"`).
 *
 * @example
 * ```ts
 * logger.error({ err: serializeError(err) }, "query failed");
 * return Response.json({ error: serializeError(err, { stack: false }) }, { status: 500 });
 * ```
 */
export function serializeError(err: unknown, options: SerializeErrorOptions = {}): SerializedError {
  const state: State = {
    stack: options.stack !== false,
    maxDepth: bound(options.maxDepth, 8),
    maxErrors: bound(options.maxErrors, 10),
    maxStringLength: Math.max(16, bound(options.maxStringLength, 8192)),
    maxKeys: bound(options.maxKeys, 32),
    budget: bound(options.maxSize, 65_536),
    ancestors: new Set(),
  };
  try {
    return serializeNode(err, 0, state);
  } catch {
    return { name: "Error", message: "[Unserializable error]" };
  }
}

function serializeNode(value: unknown, depth: number, s: State): SerializedError {
  if (!isObject(value)) return { name: "NonError", message: text(primitiveText(value), s) };
  s.ancestors.add(value);
  try {
    const out: SerializedError = {
      name: text(nameOf(value), s),
      message: text(stringProp(value, "message") ?? "", s),
    };
    const code = prop(value, "code");
    if (typeof code === "string" || typeof code === "number") out.code = text(String(code), s);
    const stack = s.stack ? stringProp(value, "stack") : undefined;
    if (stack) out.stack = text(stack, s);
    for (const field of PG_FIELDS) {
      const v = prop(value, field);
      if (typeof v === "string" && v !== "") out[field] = text(v, s);
    }
    copyFields(value, out, depth, s);
    const cause = prop(value, "cause");
    if (cause !== undefined) out.cause = child(cause, depth + 1, s);
    const members = prop(value, "errors");
    if (safe(() => Array.isArray(members)) === true) {
      const list = members as unknown[];
      const length = lengthOf(list);
      const kept = Math.min(length, s.maxErrors);
      out.errors = [];
      for (let i = 0; i < kept; i++) out.errors.push(child(prop(list, String(i)), depth + 1, s));
      if (length > kept) out.errorsOmitted = length - kept;
    }
    return out;
  } finally {
    s.ancestors.delete(value);
  }
}

function child(value: unknown, depth: number, s: State): SerializedError | string {
  if (isObject(value) && s.ancestors.has(value)) return CIRCULAR;
  if (depth > s.maxDepth || s.budget <= 0) return TRUNCATED;
  return serializeNode(value, depth, s);
}

function copyFields(
  from: object,
  to: SerializedError | Record<string, JsonValue>,
  depth: number,
  s: State,
): void {
  const keys = safe(() => Object.keys(from)) ?? [];
  // pg's DatabaseError carries the protocol message length: noise, not information.
  const skipLength = typeof prop(from, "severity") === "string";
  let kept = 0;
  let omitted = 0;
  for (const key of keys) {
    if (HANDLED.has(key) || (skipLength && key === "length")) continue;
    if (kept >= s.maxKeys || s.budget <= 0) {
      omitted++;
      continue;
    }
    const raw = prop(from, key);
    const value = isSecretKey(key)
      ? raw === undefined
        ? undefined
        : REDACTED
      : toJson(raw, depth + 1, s);
    if (value === undefined) continue;
    kept++;
    const name = key.length > 100 ? `${key.slice(0, 100)}…` : key;
    s.budget -= name.length;
    // defineProperty, not assignment: a key named "__proto__" must stay a plain field.
    Object.defineProperty(to, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  if (omitted > 0) {
    Object.defineProperty(to, "fieldsOmitted", {
      value: omitted,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
}

function toJson(value: unknown, depth: number, s: State): JsonValue | SerializedError | undefined {
  switch (typeof value) {
    case "string":
      return text(value, s);
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "boolean":
      return value;
    case "bigint":
    case "symbol":
      return text(primitiveText(value), s);
    case "undefined":
    case "function":
      return undefined;
  }
  if (value === null) return null;
  const obj = value as object;
  if (s.ancestors.has(obj)) return CIRCULAR;
  if (depth > s.maxDepth || s.budget <= 0) return TRUNCATED;
  if (isError(obj)) return serializeNode(obj, depth, s);
  if (safe(() => Array.isArray(obj)) === true) {
    const list = obj as unknown[];
    const length = lengthOf(list);
    const kept = Math.min(length, s.maxKeys);
    const out: JsonValue[] = [];
    s.ancestors.add(obj);
    try {
      for (let i = 0; i < kept; i++)
        out.push((toJson(prop(list, String(i)), depth + 1, s) ?? null) as JsonValue);
    } finally {
      s.ancestors.delete(obj);
    }
    if (length > kept) out.push(`[${length - kept} more]`);
    return out;
  }
  if (safe(() => obj instanceof Date) === true)
    return safe(() => (obj as Date).toISOString()) ?? "Invalid Date";
  const proto = safe(() => Object.getPrototypeOf(obj));
  if (proto !== null && proto !== Object.prototype) return `[${constructorName(obj) ?? "object"}]`;
  const out: Record<string, JsonValue> = {};
  s.ancestors.add(obj);
  try {
    copyFields(obj, out, depth, s);
  } finally {
    s.ancestors.delete(obj);
  }
  return out;
}

/** Redacts first, then cuts: cutting first could leave half a secret without its marker. */
function text(value: string, s: State): string {
  if (s.budget <= 0) return TRUNCATED;
  const limit = Math.min(s.maxStringLength, Math.max(16, s.budget));
  const rawLimit = limit * 2 + 1024;
  let out = value;
  if (out.length > rawLimit) {
    out = redactSecrets(out.slice(0, rawLimit));
    // The cut may have split a secret. Redaction rarely shrinks the text enough for the cut to
    // come near what is kept; when it does, drop the last (possibly partial) word.
    if (out.length <= limit + 256) {
      const lastWord = out.search(/\s\S*$/);
      out = out.slice(0, lastWord >= 0 ? lastWord : Math.max(0, out.length - 256));
    }
  } else {
    out = redactSecrets(out);
  }
  if (out.length > limit || value.length > rawLimit) {
    out = `${out.slice(0, limit)}… [truncated, ${value.length} chars]`;
  }
  s.budget -= out.length;
  return out;
}

function nameOf(value: object): string {
  const name = stringProp(value, "name");
  if (name && name !== "Error" && name !== "error") return name;
  const ctor = constructorName(value);
  if (ctor && ctor !== "Object" && ctor !== "Function" && ctor !== "Error") return ctor;
  return name !== undefined || isError(value) ? "Error" : "NonError";
}

function constructorName(value: object): string | undefined {
  return safe(() => {
    const ctor = (value as { constructor?: unknown }).constructor;
    const name = typeof ctor === "function" ? ctor.name : undefined;
    return typeof name === "string" && name !== "" ? name : undefined;
  });
}

function isError(value: object): boolean {
  return (
    safe(
      () => value instanceof Error || Object.prototype.toString.call(value) === "[object Error]",
    ) === true
  );
}

function primitiveText(value: unknown): string {
  return safe(() => String(value)) ?? typeof value;
}

function isObject(value: unknown): value is object {
  return value !== null && (typeof value === "object" || typeof value === "function");
}

function prop(value: unknown, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return "[Unreadable]";
  }
}

function stringProp(value: unknown, key: string): string | undefined {
  const v = prop(value, key);
  return typeof v === "string" ? v : undefined;
}

function lengthOf(list: unknown[]): number {
  const length = safe(() => list.length);
  return typeof length === "number" && Number.isSafeInteger(length) && length > 0 ? length : 0;
}

function bound(value: number | undefined, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0
    ? Math.floor(value)
    : fallback;
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
