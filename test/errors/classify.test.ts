import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import tls from "node:tls";
import fc from "fast-check";
import pg from "pg";
import { SteadfastError } from "../../src/errors/base.js";
import type { Classification, ClassifyContext } from "../../src/errors/classification.js";
import { classify } from "../../src/errors/classify.js";
import { ConfigError } from "../../src/errors/config-error.js";
import {
  CanceledError,
  CircuitOpenError,
  PoolClosedError,
  PoolQueueFullError,
  PoolTimeoutError,
  TimeoutError,
  UnknownOutcomeError,
  ValidationError,
} from "../../src/errors/errors.js";
import { BulkheadRejectedError } from "../../src/policy/bulkhead.js";
import { freshDatabase, type TestDatabase } from "../helpers/db.js";
import { databaseUrl } from "../helpers/env.js";
import { waitFor } from "../helpers/wait.js";

const db: TestDatabase = await freshDatabase("classify");
await db.sql("CREATE TABLE acc (id int PRIMARY KEY, v int NOT NULL)");
await db.sql("INSERT INTO acc VALUES (1, 0), (2, 0)");

type Expected = Partial<Classification>;

// The shapes the rules produce, spelled out once.
const STATEMENT_ERROR: Expected = {
  kind: "permanent",
  phase: "after-send",
  outcome: "not-applied",
  retryable: false,
  retryableIfIdempotent: false,
  connectionBroken: false,
  infrastructure: false,
};
const CONFLICT: Expected = {
  kind: "transient",
  phase: "after-send",
  outcome: "not-applied",
  retryable: true,
  retryableIfIdempotent: true,
  connectionBroken: false,
  infrastructure: false,
};
const SERVER_GONE: Expected = { ...CONFLICT, connectionBroken: true, infrastructure: true };
const CANNOT_CONNECT: Expected = {
  kind: "transient",
  phase: "before-send",
  outcome: "not-applied",
  retryable: true,
  retryableIfIdempotent: true,
  connectionBroken: true,
  infrastructure: true,
};
const LOST: Expected = {
  ...CANNOT_CONNECT,
  phase: "after-send",
  outcome: "unknown",
  retryable: false,
};
const CONNECT_TIMEOUT: Expected = { ...CANNOT_CONNECT, kind: "timeout" };
const CONFIG: Expected = {
  kind: "permanent",
  phase: "before-send",
  outcome: "not-applied",
  retryable: false,
  retryableIfIdempotent: false,
  connectionBroken: true,
  infrastructure: false,
};

/** Asserts the expected fields and the invariants every classification must keep. */
function check(err: unknown, expected: Expected, context?: ClassifyContext): Classification {
  const c = classify(err, context);
  const picked = Object.fromEntries(
    Object.keys(expected).map((k) => [k, c[k as keyof Classification]]),
  );
  assert.deepEqual(
    picked,
    expected,
    `classification of ${describeValue(err)}: ${JSON.stringify(c)}`,
  );
  assertInvariants(c);
  return c;
}

function assertInvariants(c: Classification): void {
  if (c.retryable) assert.equal(c.retryableIfIdempotent, true);
  if (c.retryable) assert.equal(c.outcome, "not-applied");
  if (c.phase === "before-send") assert.equal(c.outcome, "not-applied");
  if (c.retryableIfIdempotent) assert.ok(c.kind === "transient" || c.kind === "timeout");
  assert.equal(typeof c.code, "string");
  assert.ok(c.code.length > 0);
}

function describeValue(err: unknown): string {
  try {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } catch {
    return typeof err;
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected a rejection");
}

/** A connected client that never crashes the test on an `error` event; `errors` records them. */
async function client(config: pg.ClientConfig = {}): Promise<pg.Client & { errors: unknown[] }> {
  const c = Object.assign(new pg.Client({ connectionString: db.url, ...config }), {
    errors: [] as unknown[],
  });
  c.on("error", (err) => c.errors.push(err));
  await c.connect();
  return c;
}

async function closeAll(...clients: pg.Client[]): Promise<void> {
  await Promise.all(clients.map((c) => c.end().catch(() => {})));
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A loopback server that runs `onSocket` for each connection; closed by the returned function. */
async function fakeServer(
  onSocket: (socket: net.Socket) => void,
): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe("classify: real errors from PostgreSQL (live, 127.0.0.1:5432)", () => {
  const statementErrors: [string, string, string][] = [
    ["syntax error", "SELECT FROM WHERE", "42601"],
    ["undefined table", "SELECT * FROM no_such_table", "42P01"],
    ["unique violation", "INSERT INTO acc VALUES (1, 0)", "23505"],
    ["division by zero", "SELECT 1 / 0", "22012"],
    ["invalid text representation", "SELECT 'x'::int", "22P02"],
  ];
  for (const [label, sql, sqlstate] of statementErrors) {
    it(`${sqlstate} ${label}: permanent, not applied, connection reusable`, async () => {
      const c = await client();
      try {
        const err = await rejection(c.query(sql));
        assert.equal((err as { code?: string }).code, sqlstate);
        assert.equal((err as { severity?: string }).severity, "ERROR");
        check(err, { ...STATEMENT_ERROR, code: `PG_${sqlstate}`, sqlstate });
        assert.equal((await c.query("SELECT 1 AS one")).rows[0].one, 1, "the connection survives");
      } finally {
        await closeAll(c);
      }
    });
  }

  it("40001 serialization failure of two SERIALIZABLE transactions: retryable, not infrastructure", async () => {
    const [a, b] = [await client(), await client()];
    try {
      await a.query("BEGIN ISOLATION LEVEL SERIALIZABLE");
      await a.query("SELECT v FROM acc WHERE id = 1");
      await b.query("BEGIN ISOLATION LEVEL SERIALIZABLE");
      await b.query("UPDATE acc SET v = v + 1 WHERE id = 1");
      await b.query("COMMIT");
      const err = await rejection(a.query("UPDATE acc SET v = v + 1 WHERE id = 1"));
      assert.match((err as Error).message, /could not serialize access/);
      check(err, { ...CONFLICT, code: "PG_40001", sqlstate: "40001" });
    } finally {
      await a.query("ROLLBACK").catch(() => {});
      await closeAll(a, b);
    }
  });

  it("40P01 deadlock between two clients locking rows in opposite order: retryable", async () => {
    const [a, b] = [await client(), await client()];
    try {
      for (const c of [a, b]) await c.query("SET deadlock_timeout = '100ms'");
      await a.query("BEGIN");
      await a.query("UPDATE acc SET v = v + 1 WHERE id = 1");
      await b.query("BEGIN");
      await b.query("UPDATE acc SET v = v + 1 WHERE id = 2");
      const pidA = (await a.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
      const first = a.query("UPDATE acc SET v = v + 1 WHERE id = 2");
      first.catch(() => {});
      await waitFor("client A to wait for B's lock", async () => {
        const rows = await db.sql(
          "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'",
          [pidA],
        );
        return rows.length === 1;
      });
      const second = b.query("UPDATE acc SET v = v + 1 WHERE id = 1");
      const results = await Promise.allSettled([first, second]);
      const failures = results
        .filter((r) => r.status === "rejected")
        .map((r) => r.reason as unknown);
      assert.equal(failures.length, 1, "exactly one side is chosen as the deadlock victim");
      assert.match((failures[0] as Error).message, /deadlock detected/);
      check(failures[0], { ...CONFLICT, code: "PG_40P01", sqlstate: "40P01" });
    } finally {
      await Promise.all([a.query("ROLLBACK").catch(() => {}), b.query("ROLLBACK").catch(() => {})]);
      await closeAll(a, b);
    }
  });

  it("55P03 lock not available, from NOWAIT and from lock_timeout: retryable, not infrastructure", async () => {
    const [a, b] = [await client(), await client()];
    try {
      await a.query("BEGIN");
      await a.query("SELECT * FROM acc WHERE id = 1 FOR UPDATE");
      const nowait = await rejection(b.query("SELECT * FROM acc WHERE id = 1 FOR UPDATE NOWAIT"));
      check(nowait, { ...CONFLICT, code: "PG_55P03", sqlstate: "55P03" });
      await b.query("SET lock_timeout = 50");
      const timedOut = await rejection(b.query("UPDATE acc SET v = v + 1 WHERE id = 1"));
      assert.match((timedOut as Error).message, /lock timeout/);
      check(timedOut, { ...CONFLICT, code: "PG_55P03", sqlstate: "55P03" });
    } finally {
      await a.query("ROLLBACK").catch(() => {});
      await closeAll(a, b);
    }
  });

  it("08P01 wrong parameter count (PostgreSQL's own bind error): a statement error, connection fine", async () => {
    const c = await client();
    try {
      const err = await rejection(c.query("SELECT $1::int + $2::int", [1]));
      assert.match((err as Error).message, /^bind message supplies 1 parameters/);
      check(err, { ...STATEMENT_ERROR, code: "PG_08P01", sqlstate: "08P01" });
      assert.equal((await c.query("SELECT 1 AS one")).rows[0].one, 1);
    } finally {
      await closeAll(c);
    }
  });

  it("57014 statement timeout: a timeout, not applied, connection reusable", async () => {
    const c = await client();
    try {
      const err = await rejection(c.query("SET statement_timeout = 50; SELECT pg_sleep(1)"));
      assert.match((err as Error).message, /statement timeout/);
      check(err, { ...CONFLICT, kind: "timeout", code: "PG_57014", sqlstate: "57014" });
      await c.query("SET statement_timeout = 0");
      assert.equal((await c.query("SELECT 1 AS one")).rows[0].one, 1);
    } finally {
      await closeAll(c);
    }
  });

  it("57P01 pg_terminate_backend during pg_sleep: the query gets the FATAL (not applied), the next call a lost connection", async (t) => {
    const c = await client();
    try {
      const pid = (await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
      const inFlight = rejection(c.query("SELECT pg_sleep(5)"));
      await waitFor("pg_sleep to start", async () => {
        const rows = await db.sql(
          "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE 'SELECT pg_sleep%'",
          [pid],
        );
        return rows.length === 1;
      });
      await db.sql("SELECT pg_terminate_backend($1)", [pid]);
      const err = await inFlight;
      // Recorded: pg hands the in-flight query the server's FATAL ErrorResponse itself.
      assert.equal((err as { code?: string }).code, "57P01");
      assert.equal((err as { severity?: string }).severity, "FATAL");
      assert.match((err as Error).message, /terminating connection due to administrator command/);
      check(err, { ...SERVER_GONE, code: "PG_57P01", sqlstate: "57P01" });

      // Recorded: the next query gets either "Connection terminated unexpectedly" (queued
      // before pg saw the socket end: it may have been written) or "Client has encountered a
      // connection error" (refused by pg before writing). Both condemn the connection.
      const next = await rejection(c.query("SELECT 1"));
      const message = (next as Error).message;
      t.diagnostic(`next query on the dead client: ${message}`);
      if (message === "Connection terminated unexpectedly") {
        check(next, { ...LOST, code: "CONNECTION_LOST" });
      } else {
        assert.equal(message, "Client has encountered a connection error and is not queryable");
        check(next, { ...CANNOT_CONNECT, code: "CONNECTION_LOST" });
      }
      await waitFor("the client's error event", () => c.errors.length > 0);
      t.diagnostic(`error events: ${c.errors.map(describeValue).join(" | ")}`);
      for (const event of c.errors)
        check(event, { kind: "transient", connectionBroken: true, infrastructure: true });
    } finally {
      await closeAll(c);
    }
  });

  it("57P01 on an idle client arrives as an error event", async (t) => {
    const c = await client();
    try {
      const pid = (await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
      await db.sql("SELECT pg_terminate_backend($1)", [pid]);
      await waitFor("the client's error event", () => c.errors.length > 0);
      t.diagnostic(`error event: ${describeValue(c.errors[0])}`);
      check(c.errors[0], {
        kind: "transient",
        connectionBroken: true,
        infrastructure: true,
        retryable: true,
      });
    } finally {
      await closeAll(c);
    }
  });

  it("57P05 idle_session_timeout: error event, then pg refuses the next query before sending it", async () => {
    const c = await client();
    try {
      await c.query("SET idle_session_timeout = 100");
      await waitFor("the idle-session FATAL", () => c.errors.length > 0, { timeoutMs: 5_000 });
      const [event] = c.errors;
      assert.equal((event as { code?: string }).code, "57P05");
      check(event, { ...SERVER_GONE, code: "PG_57P05", sqlstate: "57P05" });
      const next = await rejection(c.query("SELECT 1"));
      assert.equal(
        (next as Error).message,
        "Client has encountered a connection error and is not queryable",
      );
      check(next, { ...CANNOT_CONNECT, code: "CONNECTION_LOST" });
    } finally {
      await closeAll(c);
    }
  });

  it("25006 read-only transaction (what a demoted primary answers): retry on a fresh connection", async () => {
    const c = await client();
    try {
      await c.query("SET default_transaction_read_only = on");
      const err = await rejection(c.query("INSERT INTO acc VALUES (3, 0)"));
      check(err, { ...SERVER_GONE, code: "PG_25006", sqlstate: "25006" });
    } finally {
      await closeAll(c);
    }
  });

  it("3D000 unknown database and 28000 unknown role at connect: permanent, before send", async () => {
    const noDb = new pg.Client({ connectionString: databaseUrl(`${db.name}_missing`) });
    const noDbErr = await rejection(noDb.connect());
    check(noDbErr, { ...CONFIG, code: "PG_3D000", sqlstate: "3D000" });
    const url = new URL(db.url);
    url.username = "sf_no_such_role";
    const noRole = new pg.Client({ connectionString: url.toString() });
    const noRoleErr = await rejection(noRole.connect());
    assert.equal((noRoleErr as { code?: string }).code?.slice(0, 2), "28");
    check(noRoleErr, { ...CONFIG, kind: "permanent" });
  });

  it("a client used after end(), and a pg.Pool used after end()", async () => {
    const c = await client();
    await c.end();
    const err = await rejection(c.query("SELECT 1"));
    assert.equal((err as Error).message, "Client was closed and is not queryable");
    check(err, { kind: "transient", phase: "before-send", retryable: true, code: "CLIENT_CLOSED" });
    const pool = new pg.Pool({ connectionString: db.url });
    await pool.end();
    const poolErr = await rejection(pool.query("SELECT 1"));
    check(poolErr, { kind: "closed", phase: "before-send", retryable: false, code: "POOL_CLOSED" });
  });

  it("pg-pool acquire timeout ('timeout exceeded when trying to connect')", async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1, connectionTimeoutMillis: 100 });
    try {
      const held = await pool.connect();
      const err = await rejection(pool.connect());
      held.release();
      assert.equal((err as Error).message, "timeout exceeded when trying to connect");
      check(err, { ...CONNECT_TIMEOUT, code: "CONNECT_TIMEOUT" });
    } finally {
      await pool.end();
    }
  });
});

describe("classify: real network failures on loopback", () => {
  it("ECONNREFUSED from pg on a closed port: transient, before send, infrastructure", async () => {
    const port = await closedPort();
    const c = new pg.Client({ host: "127.0.0.1", port, user: "x", database: "x" });
    const err = await rejection(c.connect());
    assert.equal((err as { syscall?: string }).syscall, "connect");
    check(err, { ...CANNOT_CONNECT, code: "ECONNREFUSED" }, { sent: true });
  });

  it("AggregateError from a multi-address connect (autoSelectFamily)", async () => {
    const port = await closedPort();
    const addresses = [
      { address: "127.0.0.1", family: 4 },
      { address: "127.0.0.2", family: 4 },
    ];
    const socket = net.connect({
      host: "db.test",
      port,
      autoSelectFamily: true,
      lookup: ((_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) =>
        options.all
          ? cb(null, addresses)
          : cb(null, "127.0.0.1", 4)) as unknown as net.LookupFunction,
    });
    const err = await new Promise<unknown>((resolve) => socket.on("error", resolve));
    assert.ok(err instanceof AggregateError, "Node reports every address's failure");
    assert.equal((err as AggregateError).message, "");
    check(err, { ...CANNOT_CONNECT, code: "ECONNREFUSED" });
  });

  it("connect timeout: a server that accepts and never answers", async () => {
    const server = await fakeServer(() => {});
    try {
      const config = {
        host: "127.0.0.1",
        port: server.port,
        user: "x",
        database: "x",
        connectionTimeoutMillis: 200,
      };
      const raw = await rejection(new pg.Client(config).connect());
      assert.equal((raw as Error).message, "timeout expired", "pg.Client's own connect timeout");
      check(raw, { ...CONNECT_TIMEOUT, code: "CONNECT_TIMEOUT" });

      const pool = new pg.Pool(config);
      const pooled = await rejection(pool.query("SELECT 1"));
      await pool.end().catch(() => {});
      assert.equal((pooled as Error).message, "Connection terminated due to connection timeout");
      assert.equal(
        ((pooled as Error).cause as Error).message,
        "Connection terminated unexpectedly",
      );
      // The outer error wins over its cause: it says *why* the connection was terminated.
      check(pooled, { ...CONNECT_TIMEOUT, code: "CONNECT_TIMEOUT" });
    } finally {
      server.close();
    }
  });

  it("'Connection terminated unexpectedly': a server that drops the socket after the startup packet", async () => {
    const server = await fakeServer((socket) => socket.once("data", () => socket.destroy()));
    try {
      const c = new pg.Client({ host: "127.0.0.1", port: server.port, user: "x", database: "x" });
      const err = await rejection(c.connect());
      assert.equal((err as Error).message, "Connection terminated unexpectedly");
      assert.equal((err as { code?: unknown }).code, undefined, "pg gives no code");
      check(err, { ...LOST, code: "CONNECTION_LOST" });
      check(err, { ...CANNOT_CONNECT, code: "CONNECTION_LOST" }, { sent: false });
    } finally {
      server.close();
    }
  });

  it("TLS: the real server refuses SSL; a TLS handshake against a plain-text server", async () => {
    const ssl = await rejection(new pg.Client({ connectionString: db.url, ssl: true }).connect());
    assert.equal((ssl as Error).message, "The server does not support SSL connections");
    check(ssl, { ...CONFIG, code: "SSL_NOT_SUPPORTED" });

    const server = await fakeServer((socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    try {
      const socket = tls.connect({
        host: "127.0.0.1",
        port: server.port,
        rejectUnauthorized: true,
      });
      const err = await new Promise<unknown>((resolve) => socket.on("error", resolve));
      // Recorded: ERR_SSL_WRONG_VERSION_NUMBER ("ssl3_get_record:wrong version number").
      assert.match((err as { code?: string }).code ?? "", /^ERR_SSL_/);
      check(err, { ...CONFIG, connectionBroken: true });
    } finally {
      server.close();
    }
  });
});

describe("classify: AbortSignal reasons and our own errors", () => {
  it("AbortSignal.abort() and Node's AbortError are cancellations; AbortSignal.timeout a timeout", async () => {
    const aborted = AbortSignal.abort();
    check(aborted.reason, {
      kind: "canceled",
      retryable: false,
      retryableIfIdempotent: false,
      code: "CANCELED",
    });
    const timeout = AbortSignal.timeout(1);
    await new Promise((resolve) => timeout.addEventListener("abort", resolve, { once: true }));
    assert.equal((timeout.reason as DOMException).name, "TimeoutError");
    check(timeout.reason, {
      kind: "timeout",
      outcome: "unknown",
      retryable: false,
      code: "TIMEOUT",
    });
    check(
      timeout.reason,
      { kind: "timeout", outcome: "not-applied", retryable: true },
      { sent: false },
    );
    const nodeAbort = await rejection(sleep(10, undefined, { signal: AbortSignal.abort() }));
    assert.equal((nodeAbort as { code?: string }).code, "ABORT_ERR");
    check(nodeAbort, { kind: "canceled", code: "CANCELED", infrastructure: false });
    check(new CanceledError(aborted.reason), {
      kind: "canceled",
      code: "CANCELED",
      connectionBroken: false,
    });
  });

  const counts = { total: 2, idle: 0, active: 2, pending: 3, max: 2 };
  const own: [string, unknown, Expected][] = [
    [
      "TimeoutError connect",
      new TimeoutError(200, "connect"),
      { ...CONNECT_TIMEOUT, code: "TIMEOUT" },
    ],
    [
      "TimeoutError validation",
      new TimeoutError(200, "validation"),
      { ...CONNECT_TIMEOUT, code: "TIMEOUT" },
    ],
    [
      "TimeoutError acquire",
      new TimeoutError(200, "acquire"),
      {
        kind: "timeout",
        phase: "before-send",
        retryable: true,
        infrastructure: false,
        connectionBroken: false,
      },
    ],
    [
      "TimeoutError query",
      new TimeoutError(200, "query"),
      {
        kind: "timeout",
        outcome: "unknown",
        retryable: false,
        retryableIfIdempotent: true,
        infrastructure: true,
      },
    ],
    [
      "TimeoutError deadline",
      new TimeoutError(200, "deadline"),
      { kind: "timeout", infrastructure: false },
    ],
    [
      "CanceledError",
      new CanceledError("user left"),
      { kind: "canceled", retryableIfIdempotent: false },
    ],
    [
      "CircuitOpenError",
      new CircuitOpenError(5_000, "main", new Error("ECONNREFUSED")),
      {
        kind: "circuit-open",
        phase: "before-send",
        retryable: false,
        infrastructure: false,
        code: "CIRCUIT_OPEN",
      },
    ],
    [
      "UnknownOutcomeError",
      new UnknownOutcomeError(new Error("Connection terminated unexpectedly")),
      {
        kind: "unknown-outcome",
        phase: "after-send",
        outcome: "unknown",
        retryable: false,
        retryableIfIdempotent: false,
        connectionBroken: true,
        code: "UNKNOWN_OUTCOME",
      },
    ],
    [
      "PoolTimeoutError (even with a transient cause)",
      new PoolTimeoutError(1_000, counts, Object.assign(new Error("x"), { code: "ECONNREFUSED" })),
      {
        kind: "pool-exhausted",
        phase: "before-send",
        retryable: false,
        infrastructure: false,
        code: "POOL_TIMEOUT",
      },
    ],
    [
      "PoolQueueFullError",
      new PoolQueueFullError(10, counts),
      { kind: "pool-exhausted", code: "POOL_QUEUE_FULL" },
    ],
    [
      "BulkheadRejectedError (queue full and queue timeout)",
      new BulkheadRejectedError("BULKHEAD_TIMEOUT", 10, 100, 1_000),
      { kind: "pool-exhausted", retryable: false, infrastructure: false, code: "BULKHEAD_TIMEOUT" },
    ],
    [
      "PoolClosedError",
      new PoolClosedError(),
      { kind: "closed", retryable: false, code: "POOL_CLOSED" },
    ],
    [
      "ConfigError",
      new ConfigError([{ field: "max", expected: "an integer", received: "null" }]),
      { kind: "permanent", phase: "before-send", code: "CONFIG_INVALID" },
    ],
    [
      "ValidationError",
      new ValidationError("key", "a non-empty string"),
      {
        kind: "permanent",
        phase: "before-send",
        outcome: "not-applied",
        code: "VALIDATION_FAILED",
      },
    ],
    [
      "an own code this table does not know, wrapping a deadlock",
      new SteadfastError("KV_SOMETHING", "x", {
        cause: Object.assign(new Error("d"), { code: "40P01" }),
      }),
      { kind: "transient", retryable: true, code: "KV_SOMETHING" },
    ],
  ];
  for (const [label, err, expected] of own) it(label, () => void check(err, expected));
});

describe("classify: shapes that cannot be produced here (hand-made, copying what Node/pg give)", () => {
  const pgError = (code: string, severity = "ERROR") =>
    Object.assign(new Error(`hand-made ${code}`), { name: "error", code, severity, length: 100 });
  const sys = (code: string, syscall: string) =>
    Object.assign(new Error(`${syscall} ${code} 10.0.0.1:5432`), { code, syscall, errno: -1 });
  const cases: [string, unknown, Expected, ClassifyContext?][] = [
    ["57P02 crash_shutdown", pgError("57P02", "FATAL"), { ...SERVER_GONE, code: "PG_57P02" }],
    [
      "57P03 cannot_connect_now",
      pgError("57P03", "FATAL"),
      { ...CANNOT_CONNECT, code: "PG_57P03" },
    ],
    [
      "53300 too_many_connections",
      pgError("53300", "FATAL"),
      { ...CANNOT_CONNECT, code: "PG_53300" },
    ],
    [
      "25P03 idle-in-transaction timeout",
      pgError("25P03", "FATAL"),
      { ...SERVER_GONE, code: "PG_25P03" },
    ],
    ["53100 disk_full", pgError("53100"), { ...CONFLICT, infrastructure: true }],
    ["08006 connection_failure", pgError("08006", "FATAL"), { ...LOST, code: "PG_08006" }],
    ["08P01 from a pooler (PgBouncer 'server conn crashed?')", pgError("08P01"), LOST],
    ["08001 unable to connect", pgError("08001"), CANNOT_CONNECT],
    [
      "08007 transaction_resolution_unknown",
      pgError("08007"),
      {
        kind: "unknown-outcome",
        outcome: "unknown",
        retryable: false,
        retryableIfIdempotent: false,
      },
      { sent: false },
    ],
    ["0A000 feature_not_supported", pgError("0A000"), STATEMENT_ERROR],
    ["28P01 bad password", pgError("28P01", "FATAL"), { ...CONFIG, code: "PG_28P01" }],
    [
      "a SQLSTATE without a rule (39P01)",
      pgError("39P01"),
      { ...STATEMENT_ERROR, code: "PG_39P01" },
    ],
    ["a code that is no SQLSTATE", pgError("ZZ999"), { kind: "permanent", code: "ZZ999" }],
    ["XX000 internal_error", pgError("XX000"), { ...STATEMENT_ERROR, code: "PG_XX000" }],
    [
      "57P04 database_dropped (FATAL: always broken)",
      pgError("57P04", "FATAL"),
      { kind: "permanent", connectionBroken: true },
    ],
    [
      "ENOTFOUND (a DNS lookup would leave loopback)",
      sys("ENOTFOUND", "getaddrinfo"),
      { ...CANNOT_CONNECT, code: "ENOTFOUND" },
    ],
    ["EAI_AGAIN", sys("EAI_AGAIN", "getaddrinfo"), CANNOT_CONNECT],
    ["EHOSTUNREACH at connect", sys("EHOSTUNREACH", "connect"), CANNOT_CONNECT],
    ["EHOSTUNREACH mid-connection", sys("EHOSTUNREACH", "read"), LOST],
    ["ENETUNREACH", sys("ENETUNREACH", "connect"), CANNOT_CONNECT],
    ["ETIMEDOUT at connect", sys("ETIMEDOUT", "connect"), CANNOT_CONNECT],
    ["ETIMEDOUT on read", sys("ETIMEDOUT", "read"), { ...LOST, code: "ETIMEDOUT" }],
    ["ECONNRESET on read", sys("ECONNRESET", "read"), LOST],
    [
      "ECONNRESET before the statement was sent",
      sys("ECONNRESET", "read"),
      CANNOT_CONNECT,
      { sent: false },
    ],
    ["EPIPE on write", sys("EPIPE", "write"), LOST],
    ["ECONNABORTED", Object.assign(new Error("x"), { code: "ECONNABORTED" }), LOST],
    [
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      Object.assign(new Error("self-signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" }),
      CONFIG,
    ],
    [
      "ERR_TLS_CERT_ALTNAME_INVALID",
      Object.assign(new Error("x"), { code: "ERR_TLS_CERT_ALTNAME_INVALID" }),
      CONFIG,
    ],
    [
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      Object.assign(new Error("x"), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" }),
      CONFIG,
    ],
    [
      "pg query_timeout",
      new Error("Query read timeout"),
      { kind: "timeout", outcome: "unknown", connectionBroken: true },
    ],
    ["PGlite closed", new Error("PGlite is closed"), { kind: "closed", retryable: false }],
    [
      "a wrapper (ORM) whose cause is a pg error",
      new Error("Failed query", { cause: pgError("40001") }),
      { ...CONFLICT, code: "PG_40001", sqlstate: "40001" },
    ],
    [
      "AggregateError: a password failure on one address beats a refusal on another",
      new AggregateError([sys("ECONNREFUSED", "connect"), pgError("28P01", "FATAL")], ""),
      { ...CONFIG, code: "PG_28P01" },
    ],
    [
      "AggregateError of unknowns falls back to its own code",
      Object.assign(new AggregateError([1, "x"]), { code: "ECONNRESET" }),
      LOST,
    ],
  ];
  for (const [label, err, expected, context] of cases)
    it(label, () => void check(err, expected, context));
});

describe("classify: never throws", () => {
  const cyclic = new Error("a");
  const other = new Error("b", { cause: cyclic });
  Object.defineProperty(cyclic, "cause", { value: other });
  const throwing = Object.defineProperties(new Error("t"), {
    code: {
      get: () => {
        throw new Error("code getter");
      },
    },
    message: {
      get: () => {
        throw new Error("message getter");
      },
    },
    cause: {
      get: () => {
        throw new Error("cause getter");
      },
    },
    errors: {
      get: () => {
        throw new Error("errors getter");
      },
    },
  });
  const trap = () => {
    throw new Error("trap");
  };
  const hostileProxy = new Proxy({}, { get: trap, has: trap, getPrototypeOf: trap, ownKeys: trap });
  const revocable = Proxy.revocable([], {});
  revocable.revoke();
  const nullProto = Object.assign(Object.create(null) as object, { code: "ECONNRESET" });
  let deep: unknown = Object.assign(new Error("bottom"), { code: "40001" });
  for (let i = 0; i < 50; i++) deep = new Error(`level ${i}`, { cause: deep });
  const hostile: [string, unknown][] = [
    ["undefined", undefined],
    ["null", null],
    ["a string", "boom"],
    ["a number", 42],
    ["a symbol", Symbol("s")],
    ["a bigint", 10n],
    ["a function", () => {}],
    ["a cyclic cause chain", cyclic],
    ["throwing getters", throwing],
    ["a Proxy whose every trap throws", hostileProxy],
    ["a revoked Proxy", revocable.proxy],
    [
      "an array whose length is absurd",
      Object.assign(new AggregateError([]), { errors: { length: 1e12 } }),
    ],
  ];
  for (const [label, value] of hostile) {
    it(label, () => {
      const c = classify(value);
      assertInvariants(c);
      assert.equal(c.kind, "permanent");
    });
  }
  it("a null-prototype object with a Node code", () => void check(nullProto, LOST));
  it("a cause chain deeper than the bound is unrecognised, not a crash", () => {
    assert.equal(classify(deep).code, "UNKNOWN");
  });
  it("fuzz: anything at all", () => {
    fc.assert(
      fc.property(
        fc.anything({ withObjectString: true, withNullPrototype: true, withBigInt: true }),
        (value) => {
          assertInvariants(classify(value));
          assertInvariants(classify(new Error("w", { cause: value }), { sent: false }));
        },
      ),
      { numRuns: 300 },
    );
  });
});
