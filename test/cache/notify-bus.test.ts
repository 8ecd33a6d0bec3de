import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { pgNotifyBus } from "../../src/drivers/pg/index.js";
import { createCache, ValidationError } from "../../src/index.js";
import { freshDatabase } from "../helpers/db.js";
import { waitFor } from "../helpers/wait.js";

const target = await freshDatabase("notify");
const a = pgNotifyBus({ connectionString: target.url, channel: "sf_test_bus", maxBackoffMs: 200 });
const b = pgNotifyBus({ connectionString: target.url, channel: "sf_test_bus", maxBackoffMs: 200 });
after(async () => {
  await a.close();
  await b.close();
});

describe("Postgres LISTEN/NOTIFY invalidation bus", () => {
  it("carries an invalidation to the other cache, and again after its listener was terminated", async () => {
    await Promise.all([a.ready(), b.ready()]);
    const one = createCache<string>({ bus: a });
    const two = createCache<string>({ bus: b });
    await two.getOrLoad("k", async () => "old");
    await one.invalidate("k");
    await waitFor("the NOTIFY to reach the other cache", () => two.peek("k") === undefined);

    const killed = await target.sql<{ ok: boolean }>(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND query = 'LISTEN sf_test_bus'",
      [target.name],
    );
    assert.ok(
      killed.length >= 2 && killed.every((r) => r.ok),
      "both listeners were really terminated",
    );
    await waitFor("both listeners to reconnect", () => a.reconnects > 0 && b.reconnects > 0);
    await Promise.all([a.ready(), b.ready()]);
    await two.getOrLoad("k", async () => "old again");
    await waitFor("a later invalidation to arrive", async () => {
      await one.invalidate("k");
      return two.peek("k") === undefined;
    });
  });

  it("rejects payloads over NOTIFY's 8000-byte limit, and odd channel names", async () => {
    await assert.rejects(
      a.publish({ origin: "x", kind: "keys", values: ["k".repeat(9_000)] }),
      ValidationError,
    );
    assert.throws(
      () => pgNotifyBus({ connectionString: target.url, channel: "Bad-Channel" }),
      ValidationError,
    );
  });
});
