import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createDatabaseFromEnv } from "../../src/drivers/pg/index.js";
import { ConfigError, fromEnv } from "../../src/index.js";

describe("fromEnv", () => {
  it("reads DATABASE_URL, REDIS_URL, the admin token and STEADFAST_* overrides", () => {
    const config = fromEnv({
      DATABASE_URL: "postgres://app:p%40ss@db.internal:5432/app",
      REDIS_URL: "redis://127.0.0.1:6379",
      STEADFAST_ADMIN_TOKEN: "0123456789abcdef-token",
      STEADFAST_PRESET: "serverless",
      STEADFAST_TIMEOUT: "5s",
      STEADFAST_POOL_MAX: "7",
      STEADFAST_IDLE_TIMEOUT: "30000",
      STEADFAST_SERVER_TIMEOUT: "false",
      STEADFAST_LOG_LEVEL: "info",
      HOME: "/root",
    });
    assert.equal(config.databaseUrl, "postgres://app:p%40ss@db.internal:5432/app");
    assert.equal(config.redisUrl, "redis://127.0.0.1:6379");
    assert.equal(config.adminToken, "0123456789abcdef-token");
    assert.deepEqual(config.options, {
      preset: "serverless",
      timeout: 5000,
      serverTimeout: false,
      pool: { max: 7, idleTimeout: 30000 },
      log: { level: "info" },
    });
  });

  it("reports every bad variable at once, with the expected form, never the password", () => {
    assert.throws(
      () =>
        fromEnv({
          DATABASE_URL: "postgres://app:S3cr3t#x@y@:bad:port/db",
          STEADFAST_POOL_MAX: "many",
          STEADFAST_TIMEOUT: "soon",
          STEADFAST_POOL_MAXX: "3",
          STEADFAST_PRESET: "cloud",
        }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        for (const name of [
          "DATABASE_URL",
          "STEADFAST_POOL_MAX",
          "STEADFAST_TIMEOUT",
          "STEADFAST_PRESET",
        ]) {
          assert.match(e.message, new RegExp(name));
        }
        assert.match(e.message, /did you mean STEADFAST_POOL_MAX\?/);
        assert.match(e.message, /"250ms", "5s", "2m"/);
        assert.doesNotMatch(e.message, /S3cr3t/);
        return true;
      },
    );
  });

  it("createDatabaseFromEnv needs DATABASE_URL", () => {
    assert.throws(() => createDatabaseFromEnv({}, {}), /DATABASE_URL/);
  });
});
