import { SteadfastError } from "../errors/base.js";

/**
 * `set(key, value, { ifVersion })` found another version.
 *
 * @example
 * ```ts
 * const entry = await kv.getEntry<number>("counter");
 * try { await kv.set("counter", (entry?.value ?? 0) + 1, { ifVersion: entry?.version ?? 0 }); }
 * catch (err) { if (err instanceof KvVersionConflictError) retryLater(); }
 * ```
 */
export class KvVersionConflictError extends SteadfastError {
  /** The key of the conflicting write. */
  readonly key: string;
  /** The version the write expected (`ifVersion`). */
  readonly expected: number;
  /** The stored version, `0` when the key does not exist. */
  readonly actual: number;

  constructor(key: string, expected: number, actual: number) {
    super("KV_VERSION_CONFLICT", `Key version is ${actual}, not ${expected} as expected`);
    this.key = key;
    this.expected = expected;
    this.actual = actual;
  }
}

/** What the store tells its cache when keys change (the cache layer plugs in here). */
export type KvChangeListener = (change: {
  readonly namespace: string;
  readonly keys: readonly string[];
}) => void;
