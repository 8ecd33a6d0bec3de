/**
 * Smoke tests of `examples/`: each example runs as a child process, exactly as its README
 * says (`node --import tsx examples/<name>/main.ts`), against a fresh database, and its output
 * is checked for specific values. The examples import `steadfast` through the package's own
 * `exports` (dist/), so the build runs first.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import { PRESETS } from "../../src/index.js";
import { adminQuery, freshDatabase } from "../helpers/db.js";
import { TEST_REDIS_URL } from "../helpers/env.js";
import { build, killChildren, ROOT, runExample, startExample, within } from "./run.js";

before(() => build(), { timeout: 120_000 });
after(killChildren);

/**
 * The HTTP examples (Hono, Express) serve the same routes: a cached read whose Cache-Status
 * goes miss → hit, /health as application/health+json, /metrics with the database histogram;
 * and they stop with exit code 0 on SIGTERM.
 */
async function checkService(example: string): Promise<void> {
  const target = await freshDatabase(`ex_${example}`);
  const service = await startExample(
    `examples/${example}/main.ts`,
    { DATABASE_URL: target.url, PORT: "0" },
    /listening on (http:\/\/127\.0\.0\.1:\d+)/,
  );
  const url = service.match[1];
  const first = await fetch(`${url}/products/1`);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("cache-status"), "steadfast; fwd=miss; stored");
  assert.deepEqual(await first.json(), { id: 1, name: "teapot", price_cents: 2500 });
  const second = await fetch(`${url}/products/1`);
  assert.equal(second.headers.get("cache-status"), "steadfast; hit");
  assert.deepEqual(await second.json(), { id: 1, name: "teapot", price_cents: 2500 });
  assert.equal((await fetch(`${url}/products/999`)).status, 404);

  const health = await fetch(`${url}/health`);
  assert.equal(health.status, 200);
  assert.match(health.headers.get("content-type") ?? "", /^application\/health\+json/);
  const report = await health.json();
  assert.equal(report.status, "pass", JSON.stringify(report));
  assert.equal(report.checks["postgresql:responseTime"][0].status, "pass");
  assert.equal(report.checks["cache:hitRatio"][0].observedValue, 33.3, "1 hit of 3 reads");

  const metrics = await fetch(`${url}/metrics`);
  assert.equal(metrics.status, 200);
  const text = await metrics.text();
  assert.match(
    text,
    /db_client_operation_duration_seconds_count\{[^}]*db_operation_name="read"[^}]*\} [1-9]/,
  );
  assert.match(text, /steadfast_cache_reads_total\{result="hit"\} 1\n/);

  service.child.kill("SIGTERM");
  assert.equal(await within(10_000, "exit after SIGTERM", service.exit), 0, service.output());
  assert.match(service.output(), /stopped/);
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Deletes the Redis keys matching `pattern`; returns how many there were. */
async function deleteRedisKeys(pattern: string): Promise<number> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let found = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
      found += keys.length;
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return found;
}

// The examples are independent child processes on their own databases: run three at a time.
describe("examples", { concurrency: 3 }, () => {
  describe("examples/drizzle", () => {
    it("creates, inserts, selects, commits a transfer and rolls back an overdraft", async () => {
      const target = await freshDatabase("ex_drizzle");
      const run = await runExample("examples/drizzle/main.ts", { DATABASE_URL: target.url });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(run.stdout.trim().split("\n").slice(0, 6), [
        "created table drizzle_example_accounts",
        "inserted: 3",
        "rows: 3 (alice=100, bob=50, carol=0)",
        "transfer committed: alice=70, bob=80, carol=0",
        "overdraft rolled back (insufficient funds): alice=70, bob=80, carol=0",
        "total: 150",
      ]);
      const left = await target.sql("select to_regclass('drizzle_example_accounts') as t");
      assert.equal(left[0]?.t, null, "the example drops its table");
    });
  });

  describe("examples/kysely", () => {
    it("creates with the schema builder, inserts, selects and commits a transaction", async () => {
      const target = await freshDatabase("ex_kysely");
      const run = await runExample("examples/kysely/main.ts", { DATABASE_URL: target.url });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(run.stdout.trim().split("\n"), [
        "created table kysely_example_pets",
        "inserted: 3",
        "rows: 3 (Kiki, Rex, Tom)",
        "cats: Kiki, Tom",
        "transaction committed: visits=2",
      ]);
      const left = await target.sql("select to_regclass('kysely_example_pets') as t");
      assert.equal(left[0]?.t, null, "the example drops its table");
    });
  });

  describe("examples/hono", () => {
    it("cached read miss then hit, health+json, Prometheus metrics, clean SIGTERM", () =>
      checkService("hono"));
  });

  describe("examples/express", () => {
    it("the same routes on Express 5 through the Web-handler adapter, clean SIGTERM", () =>
      checkService("express"));
  });

  describe("examples/nextjs-health", () => {
    it("the route module's GET answers a real Request with application/health+json", async () => {
      const target = await freshDatabase("ex_next");
      // The route reads DATABASE_URL on first use (as in a Next.js server process).
      const previous = process.env.DATABASE_URL;
      process.env.DATABASE_URL = target.url;
      const dir = join(ROOT, "examples/nextjs-health");
      // Imported by a computed URL: resolved at run time through the package's exports (dist/).
      const route = (await import(pathToFileURL(join(dir, "app/api/health/route.ts")).href)) as {
        GET(request: Request): Promise<Response>;
        runtime: string;
        dynamic: string;
      };
      const lib = (await import(pathToFileURL(join(dir, "lib/steadfast.ts")).href)) as {
        steadfast(): { db: { close(): Promise<void> } };
      };
      try {
        assert.equal(route.runtime, "nodejs");
        assert.equal(route.dynamic, "force-dynamic");
        const response = await route.GET(new Request("http://localhost:3000/api/health"));
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("content-type"), "application/health+json");
        const body = await response.json();
        assert.equal(body.status, "pass", JSON.stringify(body));
        assert.equal(body.serviceId, "nextjs-health-example");
        assert.deepEqual(Object.keys(body.checks).sort(), [
          "postgresql:circuitBreaker",
          "postgresql:connections",
          "postgresql:responseTime",
        ]);
        const post = await route.GET(
          new Request("http://localhost/api/health", { method: "POST" }),
        );
        assert.equal(post.status, 405);
      } finally {
        await lib.steadfast().db.close();
        if (previous === undefined) delete process.env.DATABASE_URL;
        else process.env.DATABASE_URL = previous;
      }
    });

    it("main.ts prints the report; with the database unreachable it is a 503, password never shown", async () => {
      const target = await freshDatabase("ex_next_main");
      const up = await runExample("examples/nextjs-health/main.ts", { DATABASE_URL: target.url });
      assert.equal(up.code, 0, up.stderr);
      assert.match(up.stdout, /^GET \/api\/health -> 200 application\/health\+json\nstatus: pass/);
      assert.match(up.stdout, /postgresql:responseTime: pass/);

      const down = `postgres://app:Next-Secret-Pw@127.0.0.1:${await closedPort()}/app`;
      const run = await runExample("examples/nextjs-health/main.ts", { DATABASE_URL: down });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /-> 503 application\/health\+json\nstatus: fail/);
      assert.match(run.stdout, /postgresql:responseTime: fail/);
      assert.doesNotMatch(run.stdout + run.stderr, /Next-Secret-Pw/);
    });
  });

  describe("examples/supabase-kv", () => {
    it("adopts the existing table; prefixes with %, _ and \\ match literally", async () => {
      const target = await freshDatabase("ex_kv");
      const run = await runExample("examples/supabase-kv/main.ts", { DATABASE_URL: target.url });
      assert.equal(run.code, 0, run.stderr);
      const lines = run.stdout.trim().split("\n");
      const line = (start: string) => lines.find((l) => l.startsWith(start))?.slice(start.length);
      assert.equal(
        line('get("user_1"): '),
        '{"name":"Ada"}',
        "an existing row is readable at once",
      );
      assert.equal(line('getByPrefix("user_"): '), '["Ada","Grace"]');
      // JSON arrays of keys: `_` is not "any character", `%` not "anything", `\` not an escape.
      assert.deepEqual(JSON.parse(line('keys with prefix "user_": ') ?? ""), ["user_1", "user_2"]);
      assert.deepEqual(JSON.parse(line('keys with prefix "50%": ') ?? ""), ["50%_off", "50%x"]);
      assert.deepEqual(JSON.parse(line('keys with prefix "50%_": ') ?? ""), ["50%_off"]);
      assert.deepEqual(JSON.parse(line('keys with prefix "dir\\\\": ') ?? ""), [
        "dir\\a",
        "dir\\b",
      ]);
      assert.deepEqual(JSON.parse(line("naive LIKE 'user_%' would match: ") ?? ""), [
        "userX1",
        "user_1",
        "user_2",
      ]);
      assert.equal(line("set with ttl on an adopted table: "), "VALIDATION_FAILED");
      const left = await target.sql("select to_regclass('kv_store_abc123') as t");
      assert.equal(left[0]?.t, null, "the example drops its table");
    });
  });

  describe("examples/serverless", () => {
    it("prints the preset, what serverTimeout: false changes, and doctor's advice; never the password", async () => {
      const target = await freshDatabase("ex_serverless");
      const role = `ex_serverless_${process.pid}`;
      const password = "Serverless-Secret-Pw9";
      await adminQuery(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      after(() => adminQuery(`DROP ROLE IF EXISTS ${role}`));
      const url = new URL(target.url);
      url.username = role;
      url.password = password;
      const run = await runExample("examples/serverless/main.ts", { DATABASE_URL: url.toString() });
      assert.equal(run.code, 0, run.stderr);
      assert.doesNotMatch(run.stdout + run.stderr, new RegExp(password));
      const lines = run.stdout.split("\n");
      const line = (start: string) => lines.find((l) => l.startsWith(start))?.slice(start.length);
      assert.deepEqual(JSON.parse(line("PRESETS.serverless = ") ?? ""), PRESETS.serverless);
      assert.match(run.stdout, /why: max 5, minIdle 0:/);
      // The deadline (15 s) plus the 250 ms margin, set on the session; nothing set without it.
      assert.equal(line("serverTimeout: true  -> session statement_timeout = "), "15250ms");
      assert.equal(line("serverTimeout: false -> session statement_timeout = "), "0");
      // doctor shows the target with the password masked.
      assert.equal(
        line("doctor postgres://")?.replace(/PostgreSQL \d+.*$/, "PostgreSQL N"),
        `${role}:***@${url.host}/${target.name}: ok=true, PostgreSQL N`,
      );
      assert.match(
        run.stdout,
        /\ndoctor pooler: none detected \(both statements ran on backend \d+\)\n/,
      );
      assert.match(run.stdout, /\ndoctor recommends preset "server":\n {2}createDatabase\(\{\n/);
      assert.match(run.stdout, /\n {4}preset: "server",\n/);
      assert.match(run.stdout, /because: a direct connection/);
    });
  });

  describe("examples/multi-instance", () => {
    it("a write on A is read on B; after an update B is not stale; both stop with 0", async () => {
      const target = await freshDatabase("ex_multi");
      // The service names its Redis keys and channel after host:port/database.
      const url = new URL(target.url);
      const keys = `steadfast:${url.hostname}:${url.port || 5432}/${target.name}:*`;
      after(() => deleteRedisKeys(keys));
      const run = await runExample(
        "examples/multi-instance/main.ts",
        { DATABASE_URL: target.url, REDIS_URL: TEST_REDIS_URL },
        { timeoutMs: 60_000 },
      );
      assert.equal(run.code, 0, run.stdout + run.stderr);
      const lines = run.stdout.trim().split("\n");
      assert.match(
        lines[0] ?? "",
        /^A listening on http:\/\/127\.0\.0\.1:\d+, B listening on http:/,
      );
      assert.deepEqual(lines.slice(1, 6), [
        'A: PUT greeting = {"text":"hello"}',
        'B: GET greeting = {"text":"hello"} (Cache-Status: steadfast; fwd=miss; stored)',
        // B now holds the value in memory, fresh for 30 s: only an invalidation can replace it.
        'B: GET greeting = {"text":"hello"} (Cache-Status: steadfast; hit)',
        'A: PUT greeting = {"text":"hello again"}',
        'B: GET greeting = {"text":"hello again"} (Cache-Status: steadfast; fwd=miss; stored)',
      ]);
      assert.match(lines[6] ?? "", /^B saw the update after \d+ read\(s\), \d+ ms$/);
      assert.deepEqual(lines.slice(7), [
        "A: DELETE greeting -> 200",
        "instances stopped with exit codes 0, 0",
      ]);
      assert.equal(await deleteRedisKeys(keys), 0, "the delete left no cache entry in Redis");
    });
  });

  describe("examples/fault-proxy-testing", () => {
    it("its node:test file passes: resets, latency, blackhole and refusal are all handled", async () => {
      const target = await freshDatabase("ex_fault");
      const run = await runExample(
        "examples/fault-proxy-testing/app.test.ts",
        { DATABASE_URL: target.url },
        { args: ["--test", "--test-reporter=tap"], timeoutMs: 60_000 },
      );
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /^# tests 5$/m);
      assert.match(run.stdout, /^# pass 5$/m);
      assert.match(run.stdout, /^# fail 0$/m);
      for (const name of [
        /killed/,
        /100 ms of latency/,
        /beyond the deadline/,
        /blackhole/,
        /refuses/,
      ]) {
        assert.match(run.stdout, new RegExp(`^ {4}ok \\d+ - .*${name.source}`, "m"));
      }
      const left = await target.sql("select to_regclass('fault_proxy_example_inventory') as t");
      assert.equal(left[0]?.t, null, "the example's test drops its table");
    });
  });
});
