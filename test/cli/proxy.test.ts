import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import pg from "pg";
import { keyAction } from "../../src/cli/proxy.js";
import { TEST_DATABASE_URL } from "../helpers/env.js";
import { startCli } from "./run.js";

const server = new URL(TEST_DATABASE_URL);
const target = `${server.hostname}:${server.port || 5432}`;

function through(port: number): pg.Client {
  const url = new URL(TEST_DATABASE_URL);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 3_000 });
}

function connectError(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.on("connect", () => {
      s.destroy();
      resolve("connected");
    });
    s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
  });
}

describe("steadfast proxy", () => {
  it("forwards to the target; --latency delays a round trip; SIGTERM exits 0 and frees the port", async () => {
    const { child, match, exit } = await startCli(
      ["proxy", "--target", target, "--listen", "127.0.0.1:0", "--latency", "100ms"],
      /listening on 127\.0\.0\.1:(\d+)/,
    );
    const port = Number(match[1]);
    const client = through(port);
    await client.connect();
    const started = performance.now();
    await client.query("SELECT 1");
    const ms = performance.now() - started;
    assert.ok(ms >= 180, `a round trip took ${ms.toFixed(0)} ms with 100 ms each way`);
    await client.end();
    child.kill("SIGTERM");
    assert.equal(await exit, 0);
    assert.equal(await connectError(port), "ECONNREFUSED");
  });

  it("--refuse: connects get ECONNREFUSED", async () => {
    const { child, match, exit } = await startCli(
      ["proxy", "--target", target, "--listen", "0", "--refuse"],
      /listening on 127\.0\.0\.1:(\d+)/,
    );
    assert.equal(await connectError(Number(match[1])), "ECONNREFUSED");
    child.kill("SIGINT");
    assert.equal(await exit, 0);
  });

  it("maps interactive keys to actions", () => {
    assert.equal(keyAction("b"), "blackhole");
    assert.equal(keyAction("r"), "refuse");
    assert.equal(keyAction("k"), "reset");
    assert.equal(keyAction("l"), "latency");
    assert.equal(keyAction("q"), "quit");
    assert.equal(keyAction("x"), undefined);
  });
});
