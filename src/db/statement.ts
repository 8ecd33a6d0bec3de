import type { SteadfastError } from "../errors/base.js";
import { classify } from "../errors/classify.js";
import type { PolicyContext } from "../policy/context.js";
import type { ConnectionPool } from "../pool/pool.js";
import type { Clock } from "../util/clock.js";
import type { DatabaseDriver, QueryResult } from "./driver.js";

/** @internal What running statements needs from the database. */
export interface StatementRuntime<C> {
  readonly pool: ConnectionPool<C>;
  readonly driver: DatabaseDriver<C>;
  readonly clock: Clock;
  readonly cancelGrace: number;
  /** The `statement_timeout` (ms) each connection currently has; absent = server default. */
  readonly serverTimeouts: WeakMap<object, number>;
  readonly serverTimeout: boolean;
}

/**
 * Errors thrown before the statement left the client (acquire, a session `SET`), so
 * `classify()` can call a lost connection "not applied". Keyed by the error object.
 */
const notSent = new WeakSet<object>();

/** @internal Whether the statement that failed with `error` had been sent. */
export function wasSent(error: unknown): boolean {
  return !(typeof error === "object" && error !== null && notSent.has(error));
}

/** @internal Marks `error` as raised before the statement was sent; returns it. */
export function markNotSent(error: unknown): unknown {
  if (typeof error === "object" && error !== null) notSent.add(error);
  return error;
}

/** @internal Acquires a connection within the call's deadline, marking failures as not sent. */
export async function acquireFor<C>(rt: StatementRuntime<C>, ctx: PolicyContext): Promise<C> {
  const remaining = ctx.deadline - rt.clock.now();
  let connection: C;
  try {
    connection = await rt.pool.acquire(
      Number.isFinite(remaining)
        ? { timeout: Math.max(1, Math.min(remaining, rt.pool.options.acquireTimeout)) }
        : undefined,
    );
  } catch (error) {
    throw markNotSent(error);
  }
  // The caller gave up while we waited: hand the connection straight back.
  if (ctx.aborted) {
    rt.pool.release(connection);
    throw markNotSent(abortReasonOf(ctx));
  }
  return connection;
}

/**
 * Runs one statement on a connection the caller holds. If the call's context aborts (deadline
 * or the caller's signal) while the statement runs, the statement is canceled on the server
 * with a CancelRequest and the connection is reclaimed in the background: released once the
 * statement comes back, destroyed if it has not within `cancelGrace`. Ownership of the
 * connection passes to that background work, which `onAbandon` reports.
 *
 * @returns the result; on failure rethrows the driver's error.
 */
export async function execOn<C, R>(
  rt: StatementRuntime<C>,
  connection: C,
  sql: string,
  params: readonly unknown[] | undefined,
  ctx: PolicyContext,
  onAbandon: () => void,
): Promise<QueryResult<R>> {
  const pending = rt.driver.query<R>(connection, sql, params);
  let settled = false;
  const off = ctx.onAbort(() => {
    if (settled) return;
    onAbandon();
    reclaim(rt, connection, pending).catch(() => {
      // Reclaiming is best effort in the background; it must never become an unhandled
      // rejection that takes the application's process down.
    });
  });
  try {
    return await pending;
  } finally {
    settled = true;
    off();
  }
}

/** Cancels on the server, then waits (bounded) for the statement to come back. */
async function reclaim<C>(
  rt: StatementRuntime<C>,
  connection: C,
  pending: Promise<unknown>,
): Promise<void> {
  let broken = false;
  const outcome = pending.then(
    () => "back",
    (error: unknown) => {
      broken = classify(error).connectionBroken;
      return "back";
    },
  );
  await rt.driver.cancel(connection, rt.cancelGrace);
  const result = await new Promise<string>((resolve) => {
    const timer = rt.clock.setTimeout(() => resolve("stuck"), rt.cancelGrace, true);
    void outcome.then((value) => {
      rt.clock.clearTimeout(timer);
      resolve(value);
    });
  });
  // A connection that never answered the cancel is unusable: destroy it (which also ends the
  // pending query). One that answered goes back, unless the error broke it.
  rt.pool.release(connection, { destroy: result === "stuck" || broken });
}

/**
 * Makes the server enforce `timeoutMs` too, with one `SET` per connection whose setting
 * differs (almost always only the first use of a connection). The value is an integer we
 * computed, never user text.
 */
export function ensureServerTimeout<C>(
  rt: StatementRuntime<C>,
  connection: C,
  timeoutMs: number,
): Promise<void> | undefined {
  // Synchronous when nothing is to be done (every query but a connection's first): no promise.
  if (!rt.serverTimeout || !Number.isFinite(timeoutMs)) return undefined;
  const key = connection as unknown as object;
  const wanted = serverTimeoutFor(timeoutMs);
  if (rt.serverTimeouts.get(key) === wanted) return undefined;
  return setServerTimeout(rt, connection, key, wanted);
}

async function setServerTimeout<C>(
  rt: StatementRuntime<C>,
  connection: C,
  key: object,
  wanted: number,
): Promise<void> {
  try {
    await rt.driver.query(connection, `SET statement_timeout = ${wanted}`, undefined);
  } catch (error) {
    rt.pool.release(connection, { destroy: classify(error).connectionBroken, error });
    throw markNotSent(error);
  }
  rt.serverTimeouts.set(key, wanted);
}

/**
 * The server's limit trails the client's deadline by a margin, so the client fires first (and
 * the caller gets a `TimeoutError`); the server's limit is the backstop for a client that
 * vanished or a cancel that never arrived.
 */
export function serverTimeoutFor(timeoutMs: number): number {
  return Math.ceil(timeoutMs) + SERVER_TIMEOUT_MARGIN_MS;
}

const SERVER_TIMEOUT_MARGIN_MS = 250;

/** @internal The reason a context aborted with. */
export function abortReasonOf(ctx: PolicyContext): SteadfastError | undefined {
  return (ctx as { abortReason?: SteadfastError }).abortReason;
}
