import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { freshDatabase } from "../helpers/db.js";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
// The children run in a temp dir, so tsx is given by its resolved location.
const TSX = import.meta.resolve("tsx");
const root = mkdtempSync(join(tmpdir(), "steadfast-serve-"));
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

interface Running {
  readonly child: ChildProcess;
  readonly url: string;
  readonly lines: string[];
  readonly exit: Promise<number | null>;
}

/** Starts `steadfast serve` and waits (bounded) for its startup log line. */
function start(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, ["--import", TSX, MAIN, "serve", "--port", "0", ...args], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const lines: string[] = [];
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no startup line in 30 s:\n${lines.join("\n")}`)),
      30_000,
    );
    let buffered = "";
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        try {
          const entry = JSON.parse(line) as { url?: string };
          if (entry.url) {
            clearTimeout(timer);
            resolve({ child, url: entry.url, lines, exit });
          }
        } catch {}
        nl = buffered.indexOf("\n");
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening:\n${lines.join("\n")}`));
    });
  });
}

describe("steadfast serve", () => {
  it("runs on an embedded database with zero setup; data survives a restart; SIGTERM exits 0", async () => {
    const dataDir = join(root, "data");
    const first = await start(["--data-dir", dataDir]);
    assert.match(first.lines.join("\n"), /embedded PGlite/);
    const put = await fetch(`${first.url}/kv/notes/hello`, {
      method: "PUT",
      body: JSON.stringify({ text: "world" }),
    });
    assert.equal(put.status, 200);
    assert.equal((await fetch(`${first.url}/health`)).status, 200);
    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    assert.match(
      metrics,
      /db_client_operation_duration_seconds_count\{[^}]*db_operation_name="write"/,
    );
    assert.match(metrics, /steadfast_cache_reads_total/);
    first.child.kill("SIGTERM");
    assert.equal(await first.exit, 0);

    const second = await start(["--data-dir", dataDir]);
    const got = await fetch(`${second.url}/kv/notes/hello`);
    assert.deepEqual((await got.json()).value, { text: "world" });
    second.child.kill("SIGINT");
    assert.equal(await second.exit, 0);
  });

  it("uses DATABASE_URL when set and never logs its password", async () => {
    const target = await freshDatabase("serve");
    const url = new URL(target.url);
    url.password = "Serve-Secret-Tok3n";
    const running = await start([], { DATABASE_URL: url.toString() });
    const put = await fetch(`${running.url}/kv/x/y`, { method: "PUT", body: "1" });
    assert.equal(put.status, 200);
    running.child.kill("SIGTERM");
    assert.equal(await running.exit, 0);
    const output = running.lines.join("\n");
    assert.match(output, new RegExp(target.name));
    assert.doesNotMatch(output, /Serve-Secret-Tok3n/);
  });

  it("bad flags and a malformed DATABASE_URL fail in one line with a non-zero exit", async () => {
    for (const [args, env, pattern] of [
      [["--port", "http"], {}, /--port must be a port number/],
      [["--chaos", "--host", "0.0.0.0"], {}, /loopback/],
      [[], { DATABASE_URL: "postgres://u:Bad-Secret@@:x" }, /DATABASE_URL/],
    ] as const) {
      const child = spawn(process.execPath, ["--import", TSX, MAIN, "serve", "--memory", ...args], {
        cwd: root,
        env: { ...process.env, DATABASE_URL: "", ...env },
      });
      children.add(child);
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => {
        stderr += c.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      assert.equal(code, 1, stderr);
      assert.match(stderr, pattern);
      assert.equal(stderr.trim().split("\n").length, 1, `one line: ${stderr}`);
      assert.doesNotMatch(stderr, /Bad-Secret/);
    }
  });
});
