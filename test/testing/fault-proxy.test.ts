import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { afterEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { ConfigError } from "../../src/errors/config-error.js";
import { type FaultProxy, startFaultProxy } from "../../src/testing/fault-proxy.js";
import type { RandomSource } from "../../src/util/clock.js";
import { adminQuery } from "../helpers/db.js";
import { TEST_DATABASE_URL } from "../helpers/env.js";
import { waitFor } from "../helpers/wait.js";

const dbUrl = new URL(TEST_DATABASE_URL);
const target = { host: dbUrl.hostname, port: Number(dbUrl.port || 5432) };

const proxies: FaultProxy[] = [];
const clients: pg.Client[] = [];

afterEach(async () => {
  // Proxies first: a blackholed client's end() would otherwise wait for a reply forever.
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
});

async function proxy(random?: RandomSource): Promise<FaultProxy> {
  const started = await startFaultProxy(random ? { target, random } : { target });
  proxies.push(started);
  return started;
}

/** A pg.Client through `via`, with every 'error' event recorded instead of thrown. */
function client(via: FaultProxy, extra: pg.ClientConfig = {}): pg.Client & { errors: Error[] } {
  const c = Object.assign(
    new pg.Client({ connectionString: via.url(TEST_DATABASE_URL), ...extra }),
    {
      errors: [] as Error[],
    },
  );
  c.on("error", (err) => c.errors.push(err));
  clients.push(c);
  return c;
}

async function roundTripMs(c: pg.Client): Promise<number> {
  const start = performance.now();
  await c.query("select 1");
  return performance.now() - start;
}

/** Resolves to "pending" when `promise` has not settled within `ms`. */
function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | "pending"> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => resolve("pending"), ms);
  });
  return Promise.race([promise, pending]).finally(() => clearTimeout(timer));
}

/** How many server backends carry `name` — the server's own view of our connections. */
async function backends(name: string): Promise<number> {
  const rows = await adminQuery<{ n: number }>(
    "select count(*)::int as n from pg_stat_activity where application_name = $1",
    [name],
  );
  return rows[0]?.n ?? 0;
}

const appName = (label: string) => `sf_fault_proxy_${label}_${process.pid}`;

describe("fault proxy", () => {
  it("passes queries through and counts connections and bytes", async () => {
    const p = await proxy();
    const c = client(p, { application_name: appName("pass") });
    await c.connect();
    const { rows } = await c.query<{ n: number }>("select 41 + 1 as n");
    assert.equal(rows[0]?.n, 42);
    assert.equal(await backends(appName("pass")), 1);
    const stats = p.stats();
    assert.equal(stats.accepted, 1);
    assert.equal(stats.open, 1);
    assert.ok(stats.bytesUpstream > 0 && stats.bytesDownstream > 0, JSON.stringify(stats));
    await c.end();
    await waitFor("the pair to close", () => p.stats().open === 0, { timeoutMs: 2_000 });
  });

  it("delays each direction by latency() and keeps bytes in order under jitter", async () => {
    let draws = 0;
    const p = await proxy(() => {
      draws++;
      return Math.random();
    });
    const c = client(p);
    await c.connect();
    assert.ok((await roundTripMs(c)) < 100);

    p.latency(200);
    const slow = await roundTripMs(c);
    assert.ok(slow >= 395, `round trip with 200 ms each way took ${slow.toFixed(1)} ms`);
    assert.equal(p.stats().faults.latencyMs, 200);

    p.latency(150, { direction: "upstream" });
    p.latency(0, { direction: "downstream" });
    const oneWay = await roundTripMs(c);
    assert.ok(oneWay >= 145 && oneWay < 290, `upstream-only round trip took ${oneWay} ms`);

    // A multi-chunk result would be corrupt (pg protocol error) if jitter reordered chunks.
    p.latency(5, { jitter: 40 });
    const drawsBefore = draws;
    const big = await c.query<{ x: string }>(
      "select repeat('x', g % 100) as x from generate_series(1, 20000) g",
    );
    assert.equal(big.rows.length, 20_000);
    assert.ok(big.rows.every((r, i) => r.x.length === (i + 1) % 100));
    assert.ok(draws - drawsBefore > 10, `jitter drawn for ${draws - drawsBefore} chunks only`);

    p.latency(0);
    const fast = await roundTripMs(c);
    assert.ok(fast < 100, `round trip after latency(0) took ${fast.toFixed(1)} ms`);
  });

  it("blackhole() stalls existing and new connections until heal()", async () => {
    const p = await proxy();
    const existing = client(p);
    await existing.connect();
    p.blackhole();
    const before = p.stats();

    const query = existing.query<{ n: number }>("select 42 as n");
    assert.equal(await settledWithin(query, 500), "pending");
    const late = client(p, { connectionTimeoutMillis: 300, application_name: appName("late") });
    await assert.rejects(late.connect(), /timeout/i);
    assert.equal(await backends(appName("late")), 0, "the server must not have seen it");
    const during = p.stats();
    assert.equal(during.bytesUpstream, before.bytesUpstream, "no byte may reach the server");
    assert.equal(during.bytesDownstream, before.bytesDownstream);
    assert.equal(during.accepted, 2, "the new connection was accepted, just never answered");
    assert.equal(during.faults.blackholed, true);

    p.heal();
    const result = await settledWithin(query, 2_000);
    assert.notEqual(result, "pending", "the held query must complete after heal()");
    assert.equal(result !== "pending" && result.rows[0]?.n, 42);
    const fresh = client(p);
    await fresh.connect();
    assert.equal((await fresh.query("select 1 as one")).rows[0]?.one, 1);
  });

  it("resetAll() breaks every connection, seen by the client and the server", async () => {
    const p = await proxy();
    const name = appName("reset");
    const c = client(p, { application_name: name });
    await c.connect();
    assert.equal(await backends(name), 1);

    assert.equal(p.resetAll(), 1);
    await waitFor("the client to see the reset", () => c.errors.length > 0, { timeoutMs: 2_000 });
    const seen = c.errors[0] as NodeJS.ErrnoException;
    assert.equal(seen.code, "ECONNRESET", `client saw: ${seen.code} ${seen.message}`);
    await assert.rejects(c.query("select 1"), /not queryable|terminated/i);
    await waitFor("the server backend to go", async () => (await backends(name)) === 0, {
      timeoutMs: 3_000,
    });
    assert.equal(p.stats().reset, 1);
    await waitFor("no open pairs", () => p.stats().open === 0, { timeoutMs: 2_000 });
  });

  it("refuse() makes new connects fail with ECONNREFUSED until resume() on the same port", async () => {
    const p = await proxy();
    const existing = client(p);
    await existing.connect();
    const port = p.port;

    await p.refuse();
    assert.equal(p.stats().faults.refusing, true);
    const refused = client(p, { connectionTimeoutMillis: 2_000 });
    await assert.rejects(refused.connect(), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, "ECONNREFUSED");
      return true;
    });
    assert.equal((await existing.query("select 1 as one")).rows[0]?.one, 1);

    await p.resume();
    assert.equal(p.port, port);
    const again = client(p);
    await again.connect();
    assert.equal((await again.query("select 1 as one")).rows[0]?.one, 1);
  });

  it("dropRatio(1, 50) resets new connections about 50 ms after accept", async () => {
    const p = await proxy();
    p.dropRatio(1, 50);
    const c = client(p);
    const start = performance.now();
    const connected = c.connect().then(
      () => undefined,
      (err: Error) => err,
    );
    await waitFor("the drop", async () => c.errors.length > 0 || (await connected), {
      timeoutMs: 2_000,
    });
    const elapsed = performance.now() - start;
    assert.ok(elapsed >= 45 && elapsed < 1_000, `dropped after ${elapsed.toFixed(1)} ms`);
    const seen = (await connected) ?? c.errors[0];
    assert.match(String(seen), /ECONNRESET|Connection terminated unexpectedly/);
    assert.equal(p.stats().dropped, 1);
  });

  it("dropRatio(0.5) drops exactly the connections the random source picks", async () => {
    const draws = [0.1, 0.9, 0.2, 0.7];
    const p = await proxy(() => draws.shift() ?? 0.99);
    p.dropRatio(0.5, 150);
    const cs = [client(p), client(p), client(p), client(p)];
    // Sequential connects so accept order matches draw order.
    const outcomes: (Error | undefined)[] = [];
    for (const c of cs)
      outcomes.push(
        await c.connect().then(
          () => undefined,
          (e: Error) => e,
        ),
      );
    await waitFor("two drops", () => p.stats().dropped === 2, { timeoutMs: 2_000 });
    await waitFor("the clients to notice", () =>
      [0, 2].every((i) => outcomes[i] !== undefined || (cs[i]?.errors.length ?? 0) > 0),
    );
    for (const i of [1, 3]) {
      assert.equal(outcomes[i], undefined);
      assert.equal((await cs[i]!.query("select 1 as one")).rows[0]?.one, 1);
    }
    p.dropRatio(0, 0);
    assert.equal(p.stats().faults.dropRatio, 0);
  });

  it("close() destroys every socket, stops listening and is idempotent", async () => {
    const p = await proxy();
    const c = client(p);
    await c.connect();
    p.latency(10_000);
    const stuck = c.query("select 1").catch((err: Error) => err);
    await Promise.all([p.close(), p.close()]);
    assert.equal(p.stats().open, 0);
    // FIN, or RST when the kernel still held the unread query bytes: both end the connection.
    assert.match(String(await stuck), /Connection terminated unexpectedly|ECONNRESET/);
    const refused = await new Promise<string | undefined>((resolve) => {
      const s = connect({ host: p.host, port: p.port });
      s.on("connect", () => resolve(s.destroy() && undefined));
      s.on("error", (err: NodeJS.ErrnoException) => resolve(err.code));
    });
    assert.equal(refused, "ECONNREFUSED");
    await assert.rejects(p.resume(), { code: "FAULT_PROXY_CLOSED" });
  });

  it("close() lets a process with open connections and pending faults exit by itself", async () => {
    const fixture = fileURLToPath(new URL("./fixtures/fault-proxy-exit.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", fixture], { stdio: "pipe" });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const code = await settledWithin(exit, 8_000);
    if (code === "pending") child.kill();
    assert.equal(code, 0, output);
    assert.match(output, /closed open=0 query=Connection terminated unexpectedly/);
  });

  it("drops a client cleanly when the target refuses the upstream connection", async () => {
    const dead = await proxy();
    await dead.refuse(); // a port nothing listens on
    const p = await startFaultProxy({ target: { host: dead.host, port: dead.port } });
    proxies.push(p);
    const c = client(p);
    await assert.rejects(c.connect(), /Connection terminated unexpectedly|ECONNRESET/);
    await waitFor("the pair to close", () => p.stats().open === 0, { timeoutMs: 2_000 });
    assert.equal(p.stats().accepted, 1);
  });

  it("rejects invalid arguments with a ConfigError naming the argument", async () => {
    const p = await proxy();
    assert.throws(
      () => p.latency(-1),
      (err: ConfigError) => err.issues[0]?.field === "latency(delay)",
    );
    assert.throws(() => p.latency(10, { jitter: Number.NaN }), ConfigError);
    assert.throws(() => p.dropRatio(1.5, 0), /dropRatio\(p\): expected a number between 0 and 1/);
    assert.throws(() => p.dropRatio(0.5, -5), ConfigError);
    await assert.rejects(
      startFaultProxy({ target: { host: "127.0.0.1" } } as never),
      /faultProxy\.target\.port/,
    );
    assert.equal(
      p.url("postgres://u:pw@db.example:6543/app?sslmode=disable&host=/tmp"),
      `postgres://u:pw@127.0.0.1:${p.port}/app?sslmode=disable`,
    );
  });
});
