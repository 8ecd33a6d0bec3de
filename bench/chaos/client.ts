/**
 * One chaos-scorecard client, run as its own process so a crash is visible and clients don't
 * share an event loop: `fork(client.js, [kind, url])`. It runs the workload (loops of a write
 * of a fresh key, then a read) until told to stop over IPC, and sends back every call's
 * record and every TCP connect it made (counted by wrapping `net.Socket.prototype.connect`,
 * which both `pg` and postgres.js use, so no client needs instrumenting).
 */

import net from "node:net";
import type { ChaosCall, ClientKind, FromClient, ToClient } from "./protocol.js";

const now = (): number => performance.timeOrigin + performance.now();

const connects: number[] = [];
const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
  connects.push(now());
  return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;

const [kind, url] = process.argv.slice(2) as [ClientKind, string];

/** What the workload needs from a client: a read, a write, an end. */
interface Target {
  read(key: string): Promise<unknown>;
  write(key: string): Promise<unknown>;
  /** Holds a connection for `ms` (pool exhaustion). */
  hold(ms: number): Promise<unknown>;
  /** Steadfast says when a write's outcome is unknown; the peers cannot. */
  isUnknownOutcome(error: unknown): boolean;
  end(): Promise<void>;
}

const READ = "SELECT count(*)::int AS n FROM chaos_writes WHERE k = $1";
const WRITE = "INSERT INTO chaos_writes (client, k) VALUES ($1, $2)";
const DEADLINE_MS = 2_000;
const POOL_MAX = 10;

async function target(): Promise<Target> {
  if (kind === "pg.Pool") {
    const { default: pg } = await import("pg");
    // node-postgres' documented production settings: bounded connect and query waits, TCP
    // keepalive, idle clients closed, and an 'error' listener so an idle client's death is
    // not an uncaught exception.
    const pool = new pg.Pool({
      connectionString: url,
      max: POOL_MAX,
      connectionTimeoutMillis: DEADLINE_MS,
      query_timeout: DEADLINE_MS,
      idleTimeoutMillis: 10_000,
      keepAlive: true,
    });
    pool.on("error", () => {});
    return {
      read: (key) => pool.query(READ, [key]),
      write: (key) => pool.query(WRITE, [kind, key]),
      hold: (ms) => pool.query("SELECT pg_sleep($1)", [ms / 1000]),
      isUnknownOutcome: () => false,
      end: () => pool.end(),
    };
  }
  if (kind === "postgres.js") {
    const { default: postgres } = await import("postgres");
    // postgres.js' documented options: bounded connect, idle connections closed, lifetimes.
    // `fetch_types` stays at its default (on): the array-type query it runs on a new
    // connection is not awaited by its caller (connection.js, fetchArrayTypes), so a backend
    // terminated during it is an unhandled rejection that ends the process — the scorecard's
    // "crashes" column. `fetch_types: false` avoids it, at the cost of array parsing.
    const sql = postgres(url, {
      max: POOL_MAX,
      connect_timeout: DEADLINE_MS / 1000,
      idle_timeout: 20,
      max_lifetime: 30 * 60,
      onnotice: () => {},
    });
    return {
      read: (key) => sql.unsafe(READ, [key]),
      write: (key) => sql.unsafe(WRITE, [kind, key]),
      hold: (ms) => sql.unsafe("SELECT pg_sleep($1)", [ms / 1000]),
      isUnknownOutcome: () => false,
      end: () => sql.end({ timeout: 1 }),
    };
  }
  const { createDatabase, isSteadfastError } = await import("../../src/index.js");
  const { pgDriver } = await import("../../src/drivers/pg/index.js");
  // The `server` preset with the same per-call deadline the peers get.
  const db = createDatabase({
    driver: pgDriver({ connectionString: url }),
    preset: "server",
    pool: { max: POOL_MAX },
    timeout: DEADLINE_MS,
  });
  const keyed = kind === "steadfast (idempotency keys)";
  return {
    read: (key) => db.read(READ, [key]),
    write: keyed
      ? (key) =>
          db.transaction((tx) => tx.query(WRITE, [kind, key]).then(() => true), {
            idempotencyKey: key,
          })
      : (key) => db.write(WRITE, [kind, key]),
    hold: (ms) => db.read("SELECT pg_sleep($1)", [ms / 1000]),
    isUnknownOutcome: (error) => isSteadfastError(error, "UNKNOWN_OUTCOME"),
    end: () => db.close({ drain: 0 }),
  };
}

function codeOf(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" || typeof code === "number") return String(code);
    // pg's connection errors have no code: their message is the telling part.
    const message = (error as { message?: unknown }).message;
    if (typeof message === "string" && message.length > 0) return `"${message.slice(0, 40)}"`;
  }
  return "UNKNOWN";
}

const client = await target();
const calls: ChaosCall[] = [];
let running = false;
let paused = false;
let loops: Promise<void>[] = [];
let prefix = "";

async function timed(op: ChaosCall["op"], key: string, run: () => Promise<unknown>) {
  const start = now();
  try {
    await run();
    calls.push({ op, key, start, end: now(), ok: true });
  } catch (error) {
    const unknown = op === "write" && client.isUnknownOutcome(error);
    calls.push({ op, key, start, end: now(), ok: false, code: codeOf(error), unknown });
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function loop(id: number, paceMs: number): Promise<void> {
  let seq = 0;
  while (running) {
    if (paused) {
      await pause(5);
      continue;
    }
    const key = `${prefix}:${id}:${seq++}`;
    await timed("write", key, () => client.write(key));
    await timed("read", key, () => client.read(key));
    await pause(paceMs);
  }
}

async function exhaust(loopsCount: number, ms: number): Promise<void> {
  const until = now() + ms;
  await Promise.all(
    Array.from({ length: loopsCount }, async () => {
      while (now() < until) await client.hold(500).catch(() => {});
    }),
  );
}

function send(message: FromClient): void {
  process.send?.(message);
}

// Calls and connects go to the parent in batches, so a crash loses at most the last 200 ms.
let sentCalls = 0;
let sentConnects = 0;
function flush(): void {
  if (sentCalls === calls.length && sentConnects === connects.length) return;
  send({ type: "batch", calls: calls.slice(sentCalls), connects: connects.slice(sentConnects) });
  sentCalls = calls.length;
  sentConnects = connects.length;
}
const flusher = setInterval(flush, 200);

process.on("message", (message: ToClient) => {
  switch (message.type) {
    case "start":
      prefix = message.prefix;
      running = true;
      loops = Array.from({ length: message.loops }, (_, i) => loop(i, message.paceMs));
      break;
    case "pause":
      paused = true;
      break;
    case "resume":
      paused = false;
      break;
    case "exhaust":
      void exhaust(message.loops, message.ms);
      break;
    case "stop":
      running = false;
      // In-flight calls finish (each client bounds its own calls); then report and exit.
      void Promise.all(loops).then(async () => {
        clearInterval(flusher);
        flush();
        send({ type: "done" });
        await client.end().catch(() => {});
        process.disconnect?.();
      });
      break;
  }
});
// An unhandled rejection or exception is a crash: let it kill the process, as in production.
send({ type: "ready" });
