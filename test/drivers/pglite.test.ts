import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pgDriver } from "../../src/drivers/pg/index.js";
import { DataDirLockedError, startEmbeddedPostgres } from "../../src/drivers/pglite/index.js";
import { ConfigError, createDatabase } from "../../src/index.js";

const root = mkdtempSync(join(tmpdir(), "steadfast-pglite-"));
after(() => rmSync(root, { recursive: true, force: true }));

function connectRefused(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.on("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
  });
}

describe("the embedded database (PGlite on a loopback socket)", () => {
  it("serves the real pg driver and Steadfast's pool; data survives a restart; close frees the port", async () => {
    const dataDir = join(root, "data");
    const started = performance.now();
    const first = await startEmbeddedPostgres({ dataDir });
    const coldMs = performance.now() - started;
    const db = createDatabase({
      driver: pgDriver({ connectionString: first.url }),
      preset: "local",
      pool: { max: first.maxPoolSize },
    });
    const kv = db.kv({ namespace: "embedded" });
    await kv.set("survives", { restart: true });
    // 50 concurrent calls through one pooled connection.
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => db.read<{ n: number }>("SELECT $1::int AS n", [i])),
    );
    assert.deepEqual(
      results.map((r) => r.rows[0]?.n),
      Array.from({ length: 50 }, (_, i) => i),
    );
    await db.close();
    await first.close();
    assert.equal(await connectRefused(first.port), "ECONNREFUSED");
    assert.equal(existsSync(join(dataDir, "steadfast.lock")), false);

    const warmStart = performance.now();
    const second = await startEmbeddedPostgres({ dataDir });
    const warmMs = performance.now() - warmStart;
    const db2 = createDatabase({
      driver: pgDriver({ connectionString: second.url }),
      preset: "local",
      pool: { max: 1 },
    });
    try {
      assert.deepEqual(await db2.kv({ namespace: "embedded" }).get("survives"), { restart: true });
    } finally {
      await db2.close();
      await second.close();
    }
    console.log(`# embedded start: cold ${coldMs.toFixed(0)} ms, warm ${warmMs.toFixed(0)} ms`);
  });

  it("refuses a data directory another instance holds, and non-loopback hosts", async () => {
    const dataDir = join(root, "locked");
    const holder = await startEmbeddedPostgres({ dataDir });
    try {
      await assert.rejects(startEmbeddedPostgres({ dataDir }), DataDirLockedError);
    } finally {
      await holder.close();
    }
    await assert.rejects(startEmbeddedPostgres({ host: "0.0.0.0", memory: true }), ConfigError);
  });

  it("memory mode writes nothing to disk", async () => {
    const embedded = await startEmbeddedPostgres({ memory: true });
    try {
      assert.equal(embedded.dataDir, undefined);
      const db = createDatabase({
        driver: pgDriver({ connectionString: embedded.url }),
        preset: "local",
        pool: { max: 1 },
      });
      await db.write("CREATE TABLE t (x int)");
      await db.close();
    } finally {
      await embedded.close();
    }
    assert.equal(existsSync(join(process.cwd(), ".steadfast-data", "steadfast.lock")), false);
  });
});
