import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createHealth } from "../../src/health/monitor.js";
import { healthHandlers } from "../../src/http/health.js";
import { FakeClock } from "../../src/testing/fake-clock.js";
import { databaseUnderTest } from "../helpers/database.js";
import { waitFor } from "../helpers/wait.js";

const { target, proxy, database } = await databaseUnderTest("health");
await target.sql("CREATE SEQUENCE health_probes");

const get = (path: string) => new Request(`http://127.0.0.1${path}`);
const post = (path: string, token?: string) =>
  new Request(`http://127.0.0.1${path}`, {
    method: "POST",
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });

describe("health endpoints", () => {
  it("a healthy database: 200 application/health+json with latency, pool and breaker checks", async () => {
    const db = database();
    const h = healthHandlers(createHealth(db, { version: "1.2.3" }));
    const response = await h.health(get("/health"));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/health+json");
    assert.equal(response.headers.get("cache-control"), "no-store");
    const body = await response.json();
    assert.equal(body.status, "pass");
    assert.equal(body.version, "1.2.3");
    const [db0] = body.checks["postgresql:responseTime"];
    assert.equal(db0.status, "pass");
    assert.equal(db0.observedUnit, "ms");
    assert.equal(typeof db0.observedValue, "number");
    assert.ok(!Number.isNaN(Date.parse(db0.time)));
    assert.equal(body.checks["postgresql:connections"][0].observedUnit, "percent");
    assert.equal(body.checks["postgresql:circuitBreaker"][0].observedValue, "closed");
    assert.equal((await h.live(get("/health/live"))).status, 200);
    assert.equal((await h.ready(get("/health/ready"))).status, 200);
    assert.equal(await h.fetch(get("/nope")), undefined);
    assert.equal((await h.health(post("/health"))).status, 405);
  });

  it("the database unreachable: /health fails (503) without leaking the password; liveness and default readiness stay up", async () => {
    const password = "Tok3nS3cretPassw0rd";
    const urlWithPassword = new URL(proxy.url(target.url));
    urlWithPassword.username = "postgres";
    urlWithPassword.password = password;
    const { pgDriver } = await import("../../src/drivers/pg/index.js");
    const { createDatabase } = await import("../../src/index.js");
    const db = createDatabase({
      driver: pgDriver({ connectionString: urlWithPassword.toString() }),
      preset: "local",
      pool: { connectTimeout: "300ms" },
    });
    try {
      await proxy.refuse();
      const health = createHealth(db, { probeTimeout: "400ms", cacheFor: 0 });
      const strict = createHealth(db, {
        probeTimeout: "400ms",
        cacheFor: 0,
        readinessRequiresDatabase: true,
      });
      const h = healthHandlers(health);
      const response = await h.health(get("/health"));
      const text = await response.text();
      assert.equal(response.status, 503);
      const body = JSON.parse(text);
      assert.equal(body.status, "fail");
      assert.equal(body.checks["postgresql:responseTime"][0].status, "fail");
      assert.match(
        body.checks["postgresql:responseTime"][0].output,
        /ECONNREFUSED|TIMEOUT|CIRCUIT/,
      );
      assert.doesNotMatch(text, new RegExp(password));
      assert.equal((await h.live(get("/health/live"))).status, 200);
      assert.equal((await h.ready(get("/health/ready"))).status, 200);
      assert.equal((await healthHandlers(strict).ready(get("/health/ready"))).status, 503);
    } finally {
      await proxy.resume();
      await db.close({ drain: 0 });
    }
  });

  it("a saturated pool warns (200) with the reason; draining fails readiness", async () => {
    const db = database({ pool: { max: 2, acquireTimeout: "5s" } });
    const health = createHealth(db);
    const held = [await db.pool.acquire(), await db.pool.acquire()];
    const waiting = db.pool.acquire();
    await waitFor("a waiter", () => db.pool.stats().pending === 1);
    const body = await (await healthHandlers(health).health(get("/health"))).json();
    const pool = body.checks["postgresql:connections"][0];
    assert.equal(pool.status, "warn");
    assert.match(pool.output, /2 of 2 connections in use; 1 callers waiting/);
    assert.equal(body.checks["postgresql:responseTime"][0].status, "warn");
    assert.equal(body.status, "warn");
    for (const c of held) db.pool.release(c);
    db.pool.release(await waiting);
    health.drain();
    assert.equal((await healthHandlers(health).ready(get("/health/ready"))).status, 503);
  });

  it("thousands of probes a second cost the database one query per cacheFor (cached + single-flight)", async () => {
    const db = database();
    const health = createHealth(db, {
      probeSql: "SELECT nextval('health_probes')",
      cacheFor: "1s",
    });
    const h = healthHandlers(health);
    const started = Date.now();
    let requests = 0;
    // 2.2 s of 20 concurrent clients hammering /health.
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (Date.now() - started < 2_200) {
          const response = await h.health(get("/health"));
          assert.equal(response.status, 200);
          await response.arrayBuffer();
          requests++;
        }
      }),
    );
    const elapsedS = (Date.now() - started) / 1000;
    const rows = await target.sql<{ n: string }>("SELECT last_value AS n FROM health_probes");
    const serverQueries = Number(rows[0]?.n);
    console.log(
      `# ${requests} health requests in ${elapsedS.toFixed(2)} s (${Math.round(requests / elapsedS)}/s) cost ${serverQueries} probe queries on the server`,
    );
    assert.ok(requests / elapsedS > 1000, "at least 1,000 requests per second");
    assert.ok(serverQueries >= 2 && serverQueries <= 4, `${serverQueries} queries`);
    assert.equal(health.probes, serverQueries);
  });
});

describe("admin reconnect", () => {
  const token = "an-admin-token-of-some-length";

  it("is disabled without a token, refuses GET, and demands the right bearer token", async () => {
    const db = database();
    const off = healthHandlers(createHealth(db));
    assert.equal((await off.reconnect(post("/admin/reconnect", token))).status, 403);
    const h = healthHandlers(createHealth(db), { admin: { token } });
    const getResponse = await h.reconnect(get("/admin/reconnect"));
    assert.equal(getResponse.status, 405);
    assert.equal(getResponse.headers.get("allow"), "POST");
    assert.equal((await h.reconnect(post("/admin/reconnect"))).status, 401);
    const wrong = await h.reconnect(post("/admin/reconnect", `${token}x`));
    assert.equal(wrong.status, 401);
    assert.doesNotMatch(await wrong.text(), new RegExp(token));
    await db.read("SELECT 1");
    const before = db.stats().pool.destroyed.reset;
    const ok = await h.reconnect(post("/admin/reconnect", token));
    assert.equal(ok.status, 202);
    assert.equal(db.stats().pool.destroyed.reset, before + 1, "the idle connection was retired");
  });

  it("is rate limited, failed attempts included", async () => {
    const db = database();
    const clock = new FakeClock();
    const h = healthHandlers(createHealth(db), { admin: { token, perMinute: 3, clock } });
    for (let i = 0; i < 3; i++)
      assert.equal((await h.reconnect(post("/admin/reconnect", "wrong-token-guess"))).status, 401);
    const limited = await h.reconnect(post("/admin/reconnect", token));
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), "20");
    clock.advance(20_000);
    assert.equal((await h.reconnect(post("/admin/reconnect", token))).status, 202);
  });

  it("rejects a short token at construction", async () => {
    const db = database();
    assert.throws(
      () => healthHandlers(createHealth(db), { admin: { token: "short" } }),
      /at least 16/,
    );
  });
});
