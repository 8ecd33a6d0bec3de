import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import os from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { ConfigError } from "../../src/errors/config-error.js";
import {
  reapStaleClusters,
  startThrowawayCluster,
  type ThrowawayCluster,
  ThrowawayClusterError,
} from "../../src/testing/throwaway-cluster.js";
import { adminQuery } from "../helpers/db.js";
import { waitFor } from "../helpers/wait.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const ownerFixture = fileURLToPath(new URL("./fixtures/cluster-owner.ts", import.meta.url));
// Orphaned postmasters are reaped by PID 1, which in some containers does so only every second
// or two; until then process.kill(pid, 0) still succeeds on the zombie.
const GONE_TIMEOUT = 10_000;

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

async function connectError(url: string): Promise<NodeJS.ErrnoException> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    return err as NodeJS.ErrnoException;
  } finally {
    await client.end().catch(() => {});
  }
  return assert.fail("connecting to a stopped cluster succeeded");
}

interface OwnerInfo {
  tempDir: string;
  dataDir: string;
  pid: number;
}

const owners = new Set<ChildProcess>();
after(() => {
  // A fixture left running by a failed test: SIGTERM lets its own handlers clean up.
  for (const child of owners)
    if (child.exitCode === null && child.signalCode === null) child.kill();
});

/** Runs the fixture that owns a cluster; resolves once it has printed the cluster's details. */
async function startOwner(mode: "throw" | "exit" | "wait", env: NodeJS.ProcessEnv = process.env) {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", ownerFixture, mode], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  owners.add(child);
  let stdout = "";
  let stderr = "";
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  child.on("exit", (code, signal) => (exit = { code, signal }));
  const line = await waitFor(
    "the fixture to print its cluster",
    () => {
      if (exit && !stdout.includes("\n")) throw new Error(`fixture exited early: ${stderr}`);
      return stdout.includes("\n") ? stdout.split("\n")[0] : undefined;
    },
    { timeoutMs: 20_000 },
  ).catch((err) => {
    child.kill("SIGKILL");
    throw err;
  });
  const info = JSON.parse(line) as OwnerInfo;
  assert.ok(info.pid > 0, "the fixture's cluster was running");
  return {
    child,
    info,
    exited: () => waitFor("the fixture to exit", () => exit, { timeoutMs: 15_000 }),
    stderr: () => stderr,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function assertCleanedUp(info: OwnerInfo): Promise<void> {
  await waitFor("the postmaster to be gone", () => !pidExists(info.pid), {
    timeoutMs: GONE_TIMEOUT,
  });
  await waitFor("the temp dir to be removed", () => !existsSync(info.tempDir));
}

let systemStart: string | undefined;
let cluster: ThrowawayCluster;

before(async () => {
  systemStart = (await adminQuery<{ t: string }>("select pg_postmaster_start_time()::text as t"))[0]
    ?.t;
  cluster = await startThrowawayCluster({
    settings: {
      idle_session_timeout: "5min",
      max_connections: 20,
      cluster_name: "steadfast's test",
    },
  });
});

after(async () => {
  await cluster?.destroy();
});

describe("startThrowawayCluster: a shared cluster", () => {
  it("serves on its own loopback port, leaving the system server alone", async () => {
    assert.notEqual(cluster.port, 5432);
    assert.equal(cluster.url, `postgres://postgres@127.0.0.1:${cluster.port}/postgres`);
    assert.equal(
      cluster.urlFor("other db"),
      `postgres://postgres@127.0.0.1:${cluster.port}/other%20db`,
    );
    assert.equal(cluster.running, true);
    const [row] = await sql<{ one: number; port: number; dir: string }>(
      cluster.url,
      "select 1 as one, inet_server_port() as port, current_setting('data_directory') as dir",
    );
    assert.deepEqual(row, { one: 1, port: cluster.port, dir: cluster.dataDir });
    assert.ok(
      existsSync(join(cluster.dataDir, `.s.PGSQL.${cluster.port}`)),
      "socket in the data dir",
    );
    const [system] = await adminQuery<{ t: string }>(
      "select pg_postmaster_start_time()::text as t",
    );
    assert.equal(system?.t, systemStart, "the system server was not restarted");
  });

  it("applies the given settings and its own fixed ones", async () => {
    const [row] = await sql(
      cluster.url,
      `select current_setting('idle_session_timeout') as idle, current_setting('max_connections') as max,
              current_setting('cluster_name') as name, current_setting('fsync') as fsync,
              current_setting('listen_addresses') as listen, current_setting('unix_socket_directories') as sock`,
    );
    assert.deepEqual(row, {
      idle: "5min",
      max: "20",
      name: "steadfast's test",
      fsync: "off",
      listen: "127.0.0.1",
      sock: cluster.dataDir,
    });
  });

  it("stop refuses connections; start serves again on the same port", async () => {
    const { port, url } = cluster;
    await cluster.stop();
    assert.equal(cluster.running, false);
    assert.equal(cluster.postmasterPid(), undefined);
    assert.equal((await connectError(url)).code, "ECONNREFUSED");
    await cluster.stop(); // stopping a stopped cluster is a no-op
    await cluster.start();
    assert.equal(cluster.port, port);
    assert.deepEqual(await sql(url, "select 1 as one"), [{ one: 1 }]);
  });

  it("restart is real: new postmaster, old connection dropped, data kept", async (t) => {
    await sql(cluster.url, "create table kept (note text); insert into kept values ('before')");
    const old = new pg.Client({ connectionString: cluster.url });
    const events: Error[] = [];
    old.on("error", (err) => events.push(err));
    await old.connect();
    const [before] = (await old.query<{ pid: number }>("select pg_backend_pid() as pid")).rows;
    const postmasterBefore = cluster.postmasterPid();

    await cluster.restart();

    assert.ok(postmasterBefore !== undefined && cluster.postmasterPid() !== undefined);
    assert.notEqual(cluster.postmasterPid(), postmasterBefore, "a new postmaster");
    await waitFor("the old client's error event", () => events.length > 0);
    const queryError = await old.query("select 1").then(
      () => undefined,
      (err: Error) => err,
    );
    await old.end().catch(() => {});
    const first = events[0] as Error & { code?: string };
    t.diagnostic(`old client error event: ${first.code} ${first.message}`);
    t.diagnostic(`old client query afterwards: ${queryError?.message}`);
    assert.equal(first.code, "57P01", "admin_shutdown from the fast shutdown");
    assert.ok(queryError instanceof Error, "the old client cannot query any more");

    const rows = await sql<{ note: string; pid: number }>(
      cluster.url,
      "select note, pg_backend_pid() as pid from kept",
    );
    assert.deepEqual(
      rows.map((r) => r.note),
      ["before"],
    );
    assert.notEqual(rows[0]?.pid, before?.pid);
  });

  it("restart('immediate') also replaces the postmaster", async () => {
    const before = cluster.postmasterPid();
    await cluster.restart("immediate");
    assert.notEqual(cluster.postmasterPid(), before);
    assert.deepEqual(await sql(cluster.url, "select 1 as one"), [{ one: 1 }]);
  });

  it("a failed start quotes the server log; the next start works", async () => {
    await cluster.stop();
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(cluster.port, "127.0.0.1", resolve));
    try {
      const err = await cluster.start().then(
        () => assert.fail("the server started on a taken port"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ThrowawayClusterError);
      assert.equal(err.code, "THROWAWAY_START_FAILED");
      assert.match(err.message, /Server log \(.*server\.log\), last lines:/);
      assert.match(err.message, /could not bind .*already in use/);
      assert.equal(cluster.running, false);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    await cluster.start();
    assert.deepEqual(await sql(cluster.url, "select 1 as one"), [{ one: 1 }]);
  });
});

describe("startThrowawayCluster: failures before the server runs", () => {
  it("rejects invalid options and missing binaries before creating anything", async () => {
    const invalid = await startThrowawayCluster({
      port: 70_000,
      startTimeout: -1,
      settings: { port: 1, "bad key": "x", work_mem: "1\nMB" },
    }).catch((e: unknown) => e);
    assert.ok(invalid instanceof ConfigError);
    assert.deepEqual(
      invalid.issues.map((i) => i.field),
      ["port", "startTimeout", "settings.port", "settings.bad key", "settings.work_mem"],
    );
    const missing = await startThrowawayCluster({ binDir: "/nonexistent/pg/bin" }).catch(
      (e: unknown) => e,
    );
    assert.ok(missing instanceof ThrowawayClusterError);
    assert.equal(missing.code, "THROWAWAY_BINARIES_NOT_FOUND");
    assert.match(missing.message, /searched: \/nonexistent\/pg\/bin\. Install/);
  });

  it("a failing initdb is reported with its output and leaves no temp dir", async () => {
    const binDir = mkdtempSync(join(os.tmpdir(), "steadfast-fakebin-"));
    try {
      chmodSync(binDir, 0o755); // runuser -u postgres must be able to run the scripts
      for (const tool of ["initdb", "pg_ctl"]) {
        writeFileSync(
          join(binDir, tool),
          `#!/bin/sh\necho "${tool}: simulated failure" >&2\nexit 3\n`,
          {
            mode: 0o755,
          },
        );
      }
      const err = await startThrowawayCluster({ binDir }).catch((e: unknown) => e);
      assert.ok(err instanceof ThrowawayClusterError);
      assert.equal(err.code, "THROWAWAY_INIT_FAILED");
      assert.match(err.message, /initdb into .* failed.*exit code 3\. initdb: simulated failure/s);
    } finally {
      rmSync(binDir, { recursive: true, force: true });
    }
    const leftovers = readdirSync(os.tmpdir())
      .filter((n) => n.startsWith("steadfast-pg-"))
      .map((n) => join(os.tmpdir(), n))
      .filter((dir) => dir !== cluster.tempDir && ownedByUs(dir));
    assert.deepEqual(leftovers, []);
  });
});

function ownedByUs(dir: string): boolean {
  try {
    return JSON.parse(readFileSync(join(dir, "steadfast-owner.json"), "utf8")).pid === process.pid;
  } catch {
    return false;
  }
}

// Each test gets its own tmpdir (TMPDIR for the fixture) so its leftovers are apart from other
// tests' and other runs' reapers; that also lets these slow, independent tests run at once.
describe("startThrowawayCluster: teardown, on purpose and when the owner dies", {
  concurrency: true,
}, () => {
  const root = mkdtempSync(join(os.tmpdir(), "steadfast-reap-test-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  const privateTmp = () => {
    const dir = mkdtempSync(join(root, "t-"));
    // The postgres OS user must reach the data dirs inside.
    chmodSync(root, 0o755);
    chmodSync(dir, 0o755);
    return { dir, env: { ...process.env, TMPDIR: dir } };
  };

  it("destroy ends the postmaster, removes the temp dir and is idempotent", async () => {
    const port = await freePort();
    const own = await startThrowawayCluster({ port });
    assert.equal(own.port, port);
    const pid = own.postmasterPid();
    assert.ok(pid !== undefined && existsSync(own.dataDir));
    await Promise.all([own.destroy(), own.destroy()]);
    assert.equal(existsSync(own.tempDir), false);
    assert.equal(own.running, false);
    assert.equal(own.postmasterPid(), undefined);
    await own.destroy();
    await waitFor("the postmaster to be gone", () => !pidExists(pid), { timeoutMs: GONE_TIMEOUT });
    assert.throws(() => process.kill(pid, 0), { code: "ESRCH" });
    await assert.rejects(own.start(), { code: "THROWAWAY_DESTROYED" });
  });

  it("an uncaught exception still stops the server and removes the dir", async () => {
    const owner = await startOwner("throw", privateTmp().env);
    const exit = await owner.exited();
    assert.equal(exit.code, 1);
    assert.match(owner.stderr(), /deliberate uncaught exception/);
    await assertCleanedUp(owner.info);
  });

  it("process.exit(1) still stops the server and removes the dir", async () => {
    const owner = await startOwner("exit", privateTmp().env);
    assert.equal((await owner.exited()).code, 1);
    await assertCleanedUp(owner.info);
  });

  it("SIGTERM cleans up, then the process still dies of SIGTERM", async () => {
    const owner = await startOwner("wait", privateTmp().env);
    owner.child.kill("SIGTERM");
    assert.equal((await owner.exited()).signal, "SIGTERM");
    await assertCleanedUp(owner.info);
  });

  it("after SIGKILL, reapStaleClusters stops the orphaned server and removes the dir", async () => {
    const tmp = privateTmp();
    const owner = await startOwner("wait", tmp.env);
    owner.child.kill("SIGKILL");
    await owner.exited();
    assert.ok(pidExists(owner.info.pid) && existsSync(owner.info.dataDir), "a hard crash leaks");
    const reaped = await reapStaleClusters({ directory: tmp.dir });
    assert.deepEqual(reaped, [
      {
        dir: owner.info.tempDir,
        ownerPid: owner.child.pid,
        stoppedPostmaster: owner.info.pid,
        removed: true,
      },
    ]);
    await assertCleanedUp(owner.info);
  });

  it("reapStaleClusters spares live owners and postgres processes of other data dirs", async () => {
    // A dead owner whose stale postmaster.pid now names another cluster's live postmaster.
    const dead = spawn(process.execPath, ["-e", ""]);
    await new Promise((resolve) => dead.on("exit", resolve));
    const fake = mkdtempSync(join(privateTmp().dir, "steadfast-pg-"));
    mkdirSync(join(fake, "data"));
    writeFileSync(join(fake, "steadfast-owner.json"), JSON.stringify({ pid: dead.pid }));
    const victim = cluster.postmasterPid();
    assert.ok(victim !== undefined);
    writeFileSync(join(fake, "data", "postmaster.pid"), `${victim}\n${fake}/data\n`);

    const reaped = await reapStaleClusters({ directory: join(fake, "..") });
    assert.deepEqual(reaped, [
      { dir: fake, ownerPid: dead.pid, stoppedPostmaster: undefined, removed: true },
    ]);
    assert.equal(
      cluster.postmasterPid(),
      victim,
      "the other cluster's postmaster was not signalled",
    );
    // The default directory holds the shared cluster, owned by this live process: untouched.
    const defaultRun = await reapStaleClusters();
    assert.ok(!defaultRun.some((r) => r.dir === cluster.tempDir));
    assert.deepEqual(await sql(cluster.url, "select 1 as one"), [{ one: 1 }]);
  });
});

it("never touched the system server", async () => {
  const [system] = await adminQuery<{ t: string }>("select pg_postmaster_start_time()::text as t");
  assert.ok(systemStart !== undefined);
  assert.equal(system?.t, systemStart, "the server on TEST_DATABASE_URL was not restarted");
});
