import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pgDriver } from "../../src/drivers/pg/index.js";
import { attachLogger, createDatabase, type Logger } from "../../src/index.js";
import { databaseUnderTest } from "../helpers/database.js";
import { waitFor } from "../helpers/wait.js";

const { target, proxy, database } = await databaseUnderTest("logging");

interface Line {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: object, message: string) =>
    lines.push({ level, fields: fields as Record<string, unknown>, message });
  return {
    logger: { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") },
    lines,
  };
}

describe("structured logging", () => {
  it("is silent by default: a handle without a logger writes nothing anywhere", async () => {
    const db = database();
    await db.read("SELECT 1");
    assert.equal(db.options.logger, undefined);
  });

  it("logs slow queries with their SQL and redacted parameters", async () => {
    const { logger, lines } = capture();
    const db = database({ logger, log: { slowQuery: "100ms" } });
    await db.read("SELECT pg_sleep(0.15), $1::text AS card", ["4111-1111-1111-1111"]);
    await db.read("SELECT 1");
    const slow = lines.filter((l) => l.fields.event === "slow-query");
    assert.equal(slow.length, 1);
    assert.equal(slow[0]?.level, "warn");
    assert.match(String(slow[0]?.fields.sql), /pg_sleep/);
    assert.equal(slow[0]?.fields.params, "[1 redacted]");
    assert.doesNotMatch(JSON.stringify(lines), /4111/);
  });

  it("logs connections lost while idle with the reason, and breaker transitions", async () => {
    const { logger, lines } = capture();
    const db = database(
      {
        logger,
        log: { level: "info" },
        breaker: { consecutiveFailures: 2, breakDuration: "100ms" },
      },
      true,
    );
    await db.read("SELECT 1");
    const killed = await target.sql<{ ok: boolean }>(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
      [target.name],
    );
    assert.ok(
      killed.some((r) => r.ok),
      "a backend was really terminated",
    );
    await waitFor("the removal line", () =>
      lines.some((l) => l.fields.event === "remove:died-idle"),
    );
    const removal = lines.find((l) => l.fields.event === "remove:died-idle");
    assert.equal(removal?.level, "warn");
    assert.equal(removal?.fields.reason, "died-idle");
    await proxy.refuse();
    try {
      await waitFor("the breaker to open", async () => {
        await db.read("SELECT 1", [], { timeout: 200 }).catch(() => {});
        return lines.some((l) => l.fields.event === "breaker" && l.fields.to === "open");
      });
    } finally {
      await proxy.resume();
    }
  });

  it("rate-limits a burst: dozens of connect failures cost at most a few lines", async () => {
    const { logger, lines } = capture();
    const db = database(
      {
        logger,
        breaker: false,
        pool: { connectTimeout: "200ms", createBackoffBase: 1, createBackoffCap: 20 },
      },
      true,
    );
    await proxy.refuse();
    try {
      await waitFor(
        "many connect failures",
        async () => {
          await db.read("SELECT 1", [], { timeout: 100 }).catch(() => {});
          return db.stats().pool.connectFailures >= 30;
        },
        { timeoutMs: 10_000 },
      );
    } finally {
      await proxy.resume();
    }
    const failures = lines.filter((l) => l.fields.event === "connect-error");
    assert.ok(
      failures.length >= 1 && failures.length <= 5,
      `${failures.length} lines for ${db.stats().pool.connectFailures} failures`,
    );
    assert.equal(failures[0]?.fields.code, "ECONNREFUSED");
  });

  it("never writes the password, even when the server rejects the login", async () => {
    const token = "Pw-Tok3n-9f8e7d";
    await target.sql(`CREATE ROLE logging_user LOGIN PASSWORD '${token}'`);
    const { logger, lines } = capture();
    const url = new URL(target.url);
    url.username = "logging_user";
    url.password = token;
    url.pathname = "/no_such_database_here";
    const db = createDatabase({
      driver: pgDriver({ connectionString: url.toString() }),
      preset: "local",
      logger,
      log: { level: "debug" },
    });
    try {
      await assert.rejects(db.read("SELECT 1"));
    } finally {
      await db.close({ drain: 0 });
      await target.sql("DROP ROLE logging_user");
    }
    assert.ok(lines.length > 0, "something was logged");
    assert.doesNotMatch(JSON.stringify(lines), new RegExp(token));
  });

  it("attachLogger validates its options", () => {
    const db = database();
    assert.throws(() => attachLogger(db, {}, { level: "loud" as never }), /log\.level/);
  });
});
