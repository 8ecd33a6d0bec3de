import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { pgDriver } from "../../src/drivers/pg/index.js";
import { classify, createDatabase, type Database, UnknownOutcomeError } from "../../src/index.js";
import { type FaultProxy, startFaultProxy } from "../../src/testing/fault-proxy.js";
import { freshDatabase } from "../helpers/db.js";
import { TEST_DATABASE_URL } from "../helpers/env.js";

const target = await freshDatabase("writesafety");
// No unique constraint: a duplicated write would show up as a second row.
await target.sql("CREATE TABLE writes (k text NOT NULL)");
await target.sql("CREATE TABLE readable AS SELECT g AS id FROM generate_series(1, 100) g");
const url = new URL(target.url);
let proxy: FaultProxy;
const open: Database<unknown>[] = [];
before(async () => {
  proxy = await startFaultProxy({ target: { host: url.hostname, port: Number(url.port) } });
});
after(async () => {
  await Promise.all(open.map((db) => db.close({ drain: 0 })));
  await proxy.close();
});

const RUN_MS = 3_000;
const WORKERS = 8;

/** Terminates every backend of the test database every 200 ms and resets the proxy every 350 ms. */
async function withFaults<T>(
  work: () => Promise<T>,
): Promise<{ result: T; terminated: number; resets: number }> {
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  let terminated = 0;
  let resets = 0;
  const killer = setInterval(() => {
    admin
      .query<{ n: string }>(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
        [target.name],
      )
      .then(
        (r) => {
          terminated += Number(r.rows[0]?.n ?? 0);
        },
        () => {},
      );
  }, 200);
  const resetter = setInterval(() => {
    resets += proxy.resetAll();
  }, 350);
  try {
    const result = await work();
    return { result, terminated, resets };
  } finally {
    clearInterval(killer);
    clearInterval(resetter);
    await admin.end();
  }
}

type Outcome = "acknowledged" | "not-applied" | "unknown";

function outcomeOf(error: unknown): Outcome {
  if (error instanceof UnknownOutcomeError) return "unknown";
  // Every other failure must be one the caller can trust to mean "it did not happen".
  const c = classify(error);
  assert.equal(c.outcome, "not-applied", `an untyped failure: ${String(error)}`);
  return "not-applied";
}

async function hammer(write: (key: string) => Promise<unknown>, prefix: string) {
  const outcomes = new Map<string, Outcome>();
  const until = Date.now() + RUN_MS;
  let n = 0;
  const worker = async () => {
    while (Date.now() < until) {
      const key = `${prefix}-${n++}`;
      try {
        await write(key);
        outcomes.set(key, "acknowledged");
      } catch (error) {
        outcomes.set(key, outcomeOf(error));
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return outcomes;
}

async function tally(prefix: string, outcomes: Map<string, Outcome>) {
  const rows = await target.sql<{ k: string; n: string }>(
    "SELECT k, count(*) AS n FROM writes WHERE starts_with(k, $1) GROUP BY k",
    [`${prefix}-`],
  );
  const stored = new Map(rows.map((r) => [r.k, Number(r.n)]));
  const count = {
    acknowledged: 0,
    missing: 0,
    duplicated: 0,
    notWritten: 0,
    wrongNotWritten: 0,
    unknown: 0,
    unknownPresent: 0,
  };
  for (const [key, outcome] of outcomes) {
    const copies = stored.get(key) ?? 0;
    if (copies > 1) count.duplicated++;
    if (outcome === "acknowledged") {
      count.acknowledged++;
      if (copies === 0) count.missing++;
    } else if (outcome === "not-applied") {
      count.notWritten++;
      if (copies > 0) count.wrongNotWritten++;
    } else {
      count.unknown++;
      if (copies > 0) count.unknownPresent++;
    }
  }
  for (const key of stored.keys()) assert.ok(outcomes.has(key), `a row nobody wrote: ${key}`);
  return count;
}

function database() {
  const db = createDatabase({
    driver: pgDriver({ connectionString: proxy.url(target.url) }),
    preset: "local",
    pool: { max: WORKERS },
    // Generous: on a loaded CI machine resolving a keyed transaction's outcome can take seconds.
    timeout: "15s",
    breaker: false,
  });
  open.push(db as Database<unknown>);
  return db;
}

describe("write safety under backend terminations every 200 ms and proxy resets", () => {
  it("plain writes: nothing acknowledged is lost, nothing is duplicated, every failure is typed", async () => {
    const db = database();
    const {
      result: outcomes,
      terminated,
      resets,
    } = await withFaults(() =>
      hammer((key) => db.write("INSERT INTO writes (k) VALUES ($1)", [key]), "plain"),
    );
    const c = await tally("plain", outcomes);
    console.log(
      `# plain writes: ${JSON.stringify(c)}; faults: ${terminated} backends terminated, ${resets} proxy resets`,
    );
    assert.ok(terminated > 0 && resets > 0, "the faults really happened");
    assert.ok(c.acknowledged > 20, `the workload really ran (${c.acknowledged})`);
    assert.equal(c.missing, 0);
    assert.equal(c.duplicated, 0);
    assert.equal(c.wrongNotWritten, 0, "a write reported as not applied was applied");
  });

  it("transactions with idempotency keys: additionally, no outcome is left unknown", async () => {
    const db = database();
    const {
      result: outcomes,
      terminated,
      resets,
    } = await withFaults(() =>
      hammer(
        (key) =>
          db.transaction(
            (tx) => tx.query("INSERT INTO writes (k) VALUES ($1)", [key]).then(() => key),
            {
              idempotencyKey: key,
            },
          ),
        "keyed",
      ),
    );
    const c = await tally("keyed", outcomes);
    console.log(
      `# keyed transactions: ${JSON.stringify(c)}; faults: ${terminated} backends terminated, ${resets} proxy resets`,
    );
    assert.ok(terminated > 0 && resets > 0, "the faults really happened");
    assert.ok(c.acknowledged > 10, `the workload really ran (${c.acknowledged})`);
    assert.equal(c.missing, 0);
    assert.equal(c.duplicated, 0);
    assert.equal(c.wrongNotWritten, 0);
    assert.equal(c.unknown, 0, "an idempotency key leaves no outcome unknown");
  });

  it("reads: no failure reaches a caller", async () => {
    const db = database();
    let reads = 0;
    const failures: unknown[] = [];
    const retries: number[] = [];
    db.on("retry", (e) => retries.push(e.attempt));
    const { terminated, resets } = await withFaults(async () => {
      const until = Date.now() + RUN_MS;
      await Promise.all(
        Array.from({ length: WORKERS }, async () => {
          while (Date.now() < until) {
            try {
              await db.read("SELECT count(*) FROM readable WHERE id > $1", [reads % 50]);
              reads++;
            } catch (error) {
              failures.push(error);
            }
          }
        }),
      );
    });
    console.log(
      `# reads: ${reads} ok, ${failures.length} failed, ${retries.length} retries; faults: ${terminated} terminated, ${resets} resets`,
    );
    assert.ok(terminated > 0 && resets > 0, "the faults really happened");
    assert.ok(retries.length > 0, "reads really hit the faults");
    assert.deepEqual(failures.map(String), []);
  });
});
