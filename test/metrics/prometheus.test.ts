import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pgDriver } from "../../src/drivers/pg/index.js";
import { metricsHandler, prometheusMetrics } from "../../src/http/metrics.js";
import { createCache, createDatabase } from "../../src/index.js";
import { databaseUnderTest } from "../helpers/database.js";
import { waitFor } from "../helpers/wait.js";

const { target, database } = await databaseUnderTest("metrics");
await target.sql("CREATE TABLE t (id serial PRIMARY KEY, v text)");

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** A small parser for the Prometheus text format (what a scraper reads). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1] as string] = pair[2] as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return found.reduce((sum, s) => sum + s.value, 0);
}

async function scrape(
  handler: (r: Request) => Promise<Response>,
): Promise<{ text: string; samples: Sample[] }> {
  const response = await handler(new Request("http://127.0.0.1/metrics"));
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /text\/plain/);
  assert.equal(response.headers.get("cache-control"), "no-store");
  const text = await response.text();
  return { text, samples: parse(text) };
}

describe("Prometheus metrics", () => {
  it("count a known workload exactly: calls by kind and error, retries, timeouts, pool gauges", async () => {
    const db = database({ pool: { max: 4 } });
    const cache = createCache<number>();
    const { registry } = prometheusMetrics(db, { poolName: "main", cache });
    const handler = metricsHandler(registry);
    for (let i = 0; i < 20; i++) await db.read("SELECT 1");
    for (let i = 0; i < 5; i++) await db.write("INSERT INTO t (v) VALUES ($1)", [`v${i}`]);
    await assert.rejects(db.read("SELEC 1"));
    // One forced retry: the backend is terminated while the read sleeps.
    const retried = db.read("SELECT 1 AS ok FROM pg_sleep(0.3)");
    await waitFor(
      "the read to run",
      async () =>
        (
          await target.sql(
            "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT 1 AS ok%' AND state = 'active'",
          )
        ).length === 1,
    );
    await target.sql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT 1 AS ok%' AND state = 'active'",
    );
    await retried;
    await assert.rejects(db.read("SELECT pg_sleep(5)", [], { timeout: 100 }));
    await cache.getOrLoad("a", async () => 1);
    await cache.getOrLoad("a", async () => 1);

    const { samples } = await scrape(handler);
    const calls = (labels: Record<string, string>) =>
      value(samples, "db_client_operation_duration_seconds_count", labels);
    assert.equal(calls({ db_operation_name: "read", error_type: "" }), 21);
    assert.equal(calls({ db_operation_name: "write", error_type: "" }), 5);
    assert.equal(calls({ error_type: "PG_42601" }), 1);
    assert.equal(calls({ error_type: "TIMEOUT" }), 1);
    assert.equal(
      calls({ db_system_name: "postgresql", db_client_connection_pool_name: "main" }),
      28,
    );
    assert.ok(value(samples, "steadfast_retries_total", { db_operation_name: "read" }) >= 1);
    assert.ok(
      value(samples, "steadfast_connections_removed_total") >= 1,
      "the terminated connection was removed",
    );
    const stats = db.pool.stats();
    assert.equal(
      value(samples, "db_client_connection_count", { db_client_connection_state: "idle" }),
      stats.idle,
    );
    assert.equal(value(samples, "db_client_connection_max"), 4);
    assert.equal(value(samples, "steadfast_breaker_state"), 0);
    assert.equal(value(samples, "steadfast_cache_reads_total", { result: "hit" }), 1);
    assert.equal(value(samples, "steadfast_cache_reads_total", { result: "miss" }), 1);
    // Histogram consistency: the +Inf bucket equals the count.
    assert.equal(
      value(samples, "db_client_operation_duration_seconds_bucket", { le: "+Inf" }),
      value(samples, "db_client_operation_duration_seconds_count"),
    );
    assert.ok(value(samples, "db_client_connection_wait_time_seconds_count") >= 27);
  });

  it("label values stay bounded and never carry SQL, keys or credentials", async () => {
    const secret = "Metr1cs-Pa55-Tok3n";
    const url = new URL(target.url);
    url.password = secret;
    const db = createDatabase({
      driver: pgDriver({ connectionString: url.toString() }),
      preset: "local",
    });
    try {
      const { registry } = prometheusMetrics(db);
      const handler = metricsHandler(registry);
      await db.read("SELECT 1");
      const before = (await scrape(handler)).samples.length;
      for (let i = 0; i < 500; i++) {
        await db.read(`SELECT ${i} AS distinct_sql_${i}, $1::text AS key`, [
          `user-key-${i}-${secret}`,
        ]);
      }
      const { text, samples } = await scrape(handler);
      assert.equal(samples.length, before, "no new series per statement");
      assert.doesNotMatch(text, new RegExp(secret));
      assert.doesNotMatch(text, /distinct_sql|user-key/);
    } finally {
      await db.close();
    }
  });
});
