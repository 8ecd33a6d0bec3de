import type { FakeClock } from "../../src/testing/fake-clock.js";

/** Refused before anything was sent: retryable for any statement, an infrastructure failure. */
export function connectRefused(): Error {
  return Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
    code: "ECONNREFUSED",
    syscall: "connect",
  });
}

/** Lost mid-statement: retryable only if idempotent, an infrastructure failure. */
export function connectionReset(): Error {
  return Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", syscall: "read" });
}

/** A unique violation (23505): the database is healthy; never retryable, never a breaker failure. */
export function uniqueViolation(): Error {
  return Object.assign(new Error('duplicate key value violates unique constraint "users_pkey"'), {
    code: "23505",
    severity: "ERROR",
  });
}

/** A promise with its settle functions exposed. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** What {@link observe} has seen of a promise so far. */
export interface Observed<T> {
  settled: boolean;
  value: T | undefined;
  error: unknown;
  /** Clock time at which it settled. */
  at: number | undefined;
}

/**
 * Watches a promise (so an early rejection is never unhandled) and records when, on the fake
 * clock, it settled.
 */
export function observe<T>(clock: FakeClock, promise: Promise<T>): Observed<T> {
  const state: Observed<T> = { settled: false, value: undefined, error: undefined, at: undefined };
  promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
      state.at = clock.now();
    },
    (error: unknown) => {
      state.settled = true;
      state.error = error;
      state.at = clock.now();
    },
  );
  return state;
}

/** Asserts that `fn` throws a ConfigError whose issues name `field` and contain `expected`. */
export function configIssue(error: unknown, field: string): { expected: string; received: string } {
  const issues = (error as { issues?: { field: string; expected: string; received: string }[] })
    .issues;
  const issue = issues?.find((i) => i.field === field);
  if (!issue) throw new Error(`no issue for ${field} in ${JSON.stringify(issues)}`);
  return issue;
}
