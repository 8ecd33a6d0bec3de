import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { startFaultProxy } from "../../src/testing/fault-proxy.js";
import { adminQuery } from "../helpers/db.js";
import { TEST_DATABASE_URL } from "../helpers/env.js";
import { runCli } from "./run.js";

const server = new URL(TEST_DATABASE_URL);
const proxy = await startFaultProxy({
  target: { host: server.hostname, port: Number(server.port || 5432) },
});
const role = `doctor_${process.pid}`;
const password = "D0ctor-Secret-T0ken";
await adminQuery(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
after(async () => {
  await proxy.close();
  await adminQuery(`DROP ROLE IF EXISTS ${role}`);
});

function urlWith(host: string, port: number): string {
  const url = new URL(TEST_DATABASE_URL);
  url.username = role;
  url.password = password;
  url.hostname = host;
  url.port = String(port);
  return url.toString();
}

describe("steadfast doctor", () => {
  it("reports timings, server facts and a recommendation for the real server, without the password", async () => {
    const run = await runCli(["doctor", urlWith(server.hostname, Number(server.port || 5432))]);
    assert.equal(run.code, 0, run.stderr);
    for (const part of [
      /✓ tcp/,
      /✓ auth/,
      /✓ first query/,
      /PostgreSQL 15/,
      /of \d+ connections in use/,
      /idle_session_timeout=/,
      /Pooler: none detected/,
      /preset: "server"/,
    ]) {
      assert.match(run.stdout, part);
    }
    assert.doesNotMatch(run.stdout + run.stderr, new RegExp(password));
  });

  it("--json is a parsable report", async () => {
    const run = await runCli([
      "doctor",
      "--json",
      urlWith(server.hostname, Number(server.port || 5432)),
    ]);
    assert.equal(run.code, 0);
    const report = JSON.parse(run.stdout);
    assert.equal(report.ok, true);
    assert.ok(report.server.settings.max_connections);
    assert.equal(report.recommendation.preset, "server");
    assert.doesNotMatch(run.stdout, new RegExp(password));
  });

  it("connections refused: exit 1 with the classified cause in one line", async () => {
    await proxy.refuse();
    try {
      const run = await runCli(["doctor", urlWith("127.0.0.1", proxy.port)]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /tcp failed \(ECONNREFUSED\)/);
      assert.equal(run.stderr.trim().split("\n").length, 1);
      assert.doesNotMatch(run.stdout + run.stderr, new RegExp(password));
    } finally {
      await proxy.resume();
    }
  });

  it("a blackholed network: doctor still returns within its step timeouts", async () => {
    proxy.blackhole();
    try {
      const run = await runCli(["doctor", "--timeout", "500ms", urlWith("127.0.0.1", proxy.port)]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /TIMEDOUT|TIMEOUT/);
      assert.ok(run.ms < 8_000, `finished in ${run.ms.toFixed(0)} ms`);
    } finally {
      proxy.heal();
    }
  });

  it("a malformed URL: one line, exit 2, no password", async () => {
    const run = await runCli(["doctor", "postgres://u:Bad#Secret@@host:x/db"]);
    assert.equal(run.code, 2);
    assert.equal(run.stderr.trim().split("\n").length, 1);
    assert.doesNotMatch(run.stderr, /Bad#Secret/);
  });
});
