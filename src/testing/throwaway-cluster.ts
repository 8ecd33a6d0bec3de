import { execFile, execFileSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import { resolve as absolute, basename, delimiter, join } from "node:path";
import { promisify } from "node:util";
import { SteadfastError } from "../errors/base.js";
import { OptionsReader } from "../util/options.js";

const execFileAsync = promisify(execFile);
const PREFIX = "steadfast-pg-";
const MARKER = "steadfast-owner.json";
const RESERVED = ["port", "listen_addresses", "unix_socket_directories"];

/** Options of {@link startThrowawayCluster}. */
export interface ThrowawayClusterOptions {
  /** Directory holding `initdb` and `pg_ctl`. Default: `$STEADFAST_PG_BIN`, else `/usr/lib/postgresql/15/bin`, else the newest `/usr/lib/postgresql/<version>/bin`, else `PATH`. */
  binDir?: string;
  /** TCP port on 127.0.0.1. Default: a free port picked at start (kept across restarts). */
  port?: number;
  /** Extra `postgresql.conf` settings, e.g. `{ idle_session_timeout: "1s", max_connections: 20 }`. They override the speed defaults (`fsync = off`, `synchronous_commit = off`, `full_page_writes = off`); `port`, `listen_addresses` and `unix_socket_directories` are managed by the helper. */
  settings?: Record<string, string | number>;
  /** Milliseconds `start()` waits for the server to accept connections. Default: 30000. */
  startTimeout?: number;
}

/**
 * A PostgreSQL server of its own (trust auth, user `postgres`, loopback only) in a temp
 * directory. Async methods run one at a time, in call order. POSIX only.
 *
 * @example
 * ```ts
 * const pid = cluster.postmasterPid();
 * await cluster.restart("immediate"); // every connection drops; cluster.url stays valid
 * ```
 */
export interface ThrowawayCluster {
  /** Always loopback: the server listens on 127.0.0.1 only. */
  readonly host: "127.0.0.1";
  /** The TCP port; the same for the cluster's whole life, across restarts. */
  readonly port: number;
  /** The cluster's data directory (inside {@link ThrowawayCluster.tempDir}); also its unix socket directory. */
  readonly dataDir: string;
  /** The temp directory holding the data dir, the server log and the owner marker; removed by `destroy()`. */
  readonly tempDir: string;
  /** The server log; every start appends to it. */
  readonly logFile: string;
  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  /** The URL of another database on this server (it must exist). */
  urlFor(database: string): string;
  /** PID of the postmaster from `postmaster.pid`; `undefined` when the server is not running. */
  postmasterPid(): number | undefined;
  /** Whether a postmaster is running for this data dir (checked live, so an external kill shows). */
  readonly running: boolean;
  /** Stops the server; no-op when stopped. `"immediate"` is a crash: with the default `synchronous_commit = off`, the last commits may be lost. Default mode `"fast"`. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts the server again: same port, same data. No-op when running. */
  start(): Promise<void>;
  /** `stop(mode)` then `start()`: a new postmaster, so every connection is dropped. */
  restart(mode?: "fast" | "immediate"): Promise<void>;
  /** Stops the server (immediate) and removes the temp directory. Idempotent. */
  destroy(): Promise<void>;
}

/** Error codes of {@link ThrowawayClusterError}. */
export type ThrowawayClusterErrorCode =
  | "THROWAWAY_BINARIES_NOT_FOUND"
  | "THROWAWAY_INIT_FAILED"
  | "THROWAWAY_START_FAILED"
  | "THROWAWAY_STOP_FAILED"
  | "THROWAWAY_DESTROYED";

/**
 * Thrown when a throwaway cluster cannot be created, started or stopped; the message says
 * what failed and how to fix it (a failed start includes the tail of the server log).
 *
 * @example
 * ```ts
 * catch (err) { if (err instanceof ThrowawayClusterError && err.code === "THROWAWAY_BINARIES_NOT_FOUND") skip(); }
 * ```
 */
export class ThrowawayClusterError extends SteadfastError {
  declare readonly code: ThrowawayClusterErrorCode;
}

/** One directory examined by {@link reapStaleClusters}. */
export interface ReapedCluster {
  /** The directory examined. */
  readonly dir: string;
  /** PID of the Node process that created it, when the marker was readable. */
  readonly ownerPid: number | undefined;
  /** The postmaster that was signalled to stop, if one was still running. */
  readonly stoppedPostmaster: number | undefined;
  /** Whether it was removed. */
  readonly removed: boolean;
  /** Why it was not removed. */
  readonly problem?: string;
}

interface Runtime {
  readonly binDir: string;
  readonly asPostgres: boolean;
  readonly tempDir: string;
  readonly env: NodeJS.ProcessEnv;
}

const live = new Set<Cluster>();

/**
 * Creates a fresh cluster with `initdb` and starts it. The cluster is removed by `destroy()`,
 * and also when the process exits, throws uncaught, or gets SIGINT/SIGTERM. When running as
 * root, `initdb` and `pg_ctl` run as the `postgres` OS user (PostgreSQL refuses root).
 *
 * @example
 * ```ts
 * const cluster = await startThrowawayCluster({ settings: { max_connections: 20 } });
 * try { await cluster.restart(); } finally { await cluster.destroy(); }
 * ```
 */
export async function startThrowawayCluster(
  options: ThrowawayClusterOptions = {},
): Promise<ThrowawayCluster> {
  const r = new OptionsReader(options, "", ["binDir", "port", "settings", "startTimeout"]);
  const binDirOption = r.string("binDir", { nonEmpty: true });
  const fixedPort = r.integer("port", 0, { min: 1, max: 65535 }) || undefined;
  const startTimeout = r.duration("startTimeout", 30_000, { min: 1 });
  const settings = readSettings(r);
  r.finish();
  const binDir = findBinDir(binDirOption);

  const tempDir = await mkdtemp(join(os.tmpdir(), PREFIX));
  await writeFile(
    join(tempDir, MARKER),
    JSON.stringify({ pid: process.pid, startTicks: startTicks(process.pid) }),
  );
  const asPostgres = process.getuid?.() === 0;
  // PGDATA, PGPORT & co. from the caller's shell must not steer pg_ctl or the server.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG")));
  const cluster = new Cluster(
    { binDir, asPostgres, tempDir, env },
    fixedPort ?? (await freePort()),
    startTimeout,
  );
  register(cluster);
  try {
    if (asPostgres) chownSync(tempDir, postgresId("-u"), postgresId("-g"));
    await cluster.init(settings);
    for (let attempt = 1; ; attempt++) {
      try {
        await cluster.start();
        return cluster;
      } catch (err) {
        // A free port can be taken between probing and binding; only a port we picked may move.
        if (
          fixedPort !== undefined ||
          attempt >= 3 ||
          !/could not bind|already in use/i.test(String(err))
        )
          throw err;
        await cluster.movePort(await freePort());
      }
    }
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
}

function readSettings(r: OptionsReader): Record<string, string | number> {
  const settings = r.raw("settings");
  if (settings === undefined) return {};
  if (typeof settings !== "object" || settings === null || Array.isArray(settings)) {
    r.report("settings", "an object of postgresql.conf settings", settings);
    return {};
  }
  for (const [key, value] of Object.entries(settings)) {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(key) || RESERVED.includes(key)) {
      r.report(`settings.${key}`, `a setting name other than ${RESERVED.join(", ")}`, key);
    } else if (
      !(typeof value === "number"
        ? Number.isFinite(value)
        : typeof value === "string" && !/[\r\n]/.test(value))
    ) {
      r.report(`settings.${key}`, "a single-line string or a finite number", value);
    }
  }
  return settings as Record<string, string | number>;
}

class Cluster implements ThrowawayCluster {
  readonly host = "127.0.0.1";
  readonly dataDir: string;
  readonly logFile: string;
  #port: number;
  #baseConf = "";
  #settings: Record<string, string | number> = {};
  #queue: Promise<unknown> = Promise.resolve();
  #destroyed: Promise<void> | undefined;
  readonly #rt: Runtime;
  readonly #startTimeout: number;

  constructor(rt: Runtime, port: number, startTimeout: number) {
    this.#rt = rt;
    this.#port = port;
    this.#startTimeout = startTimeout;
    this.dataDir = join(rt.tempDir, "data");
    this.logFile = join(rt.tempDir, "server.log");
  }

  get tempDir(): string {
    return this.#rt.tempDir;
  }
  get port(): number {
    return this.#port;
  }
  get url(): string {
    return this.urlFor("postgres");
  }
  get running(): boolean {
    return this.postmasterPid() !== undefined;
  }

  urlFor(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.#port}/${encodeURIComponent(database)}`;
  }

  postmasterPid(): number | undefined {
    const pid = readPostmasterPid(this.dataDir);
    return pid !== undefined && isAlive(pid) ? pid : undefined;
  }

  async init(settings: Record<string, string | number>): Promise<void> {
    const args = [
      "-D",
      this.dataDir,
      "--auth=trust",
      "--username=postgres",
      "--no-sync",
      "--encoding=UTF8",
      "--locale=C",
    ];
    await run(
      this.#rt,
      "initdb",
      args,
      120_000,
      "THROWAWAY_INIT_FAILED",
      `initdb into ${this.dataDir} failed`,
    );
    this.#baseConf = await readFile(join(this.dataDir, "postgresql.conf"), "utf8");
    this.#settings = settings;
    await this.movePort(this.#port);
  }

  async movePort(port: number): Promise<void> {
    this.#port = port;
    const all = {
      fsync: "off",
      synchronous_commit: "off",
      full_page_writes: "off",
      ...this.#settings,
      port,
      listen_addresses: "127.0.0.1",
      unix_socket_directories: this.dataDir,
    };
    const lines = Object.entries(all).map(
      ([k, v]) => `${k} = ${typeof v === "number" ? v : `'${v.replace(/'/g, "''")}'`}`,
    );
    await writeFile(
      join(this.dataDir, "postgresql.conf"),
      `${this.#baseConf}\n# steadfast throwaway cluster\n${lines.join("\n")}\n`,
    );
  }

  start(): Promise<void> {
    return this.#serial(() => this.#start());
  }

  stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    return this.#serial(() => this.#stop(mode));
  }

  restart(mode: "fast" | "immediate" = "fast"): Promise<void> {
    return this.#serial(async () => {
      await this.#stop(mode);
      await this.#start();
    });
  }

  destroy(): Promise<void> {
    this.#destroyed ??= this.#serial(async () => {
      await this.#stop("immediate").catch(() => killSync(this));
      await rm(this.tempDir, { recursive: true, force: true });
      unregister(this);
    });
    return this.#destroyed;
  }

  async #start(): Promise<void> {
    if (this.running) return;
    const logOffset = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
    const seconds = String(Math.max(1, Math.ceil(this.#startTimeout / 1000)));
    const args = ["start", "-w", "-s", "-t", seconds, "-D", this.dataDir, "-l", this.logFile];
    try {
      await run(
        this.#rt,
        "pg_ctl",
        args,
        this.#startTimeout + 10_000,
        "THROWAWAY_START_FAILED",
        "pg_ctl start failed",
      );
    } catch (err) {
      const log = existsSync(this.logFile)
        ? readFileSync(this.logFile).subarray(logOffset).toString("utf8")
        : "";
      const tail = log.trimEnd().split("\n").slice(-20).join("\n") || "(empty)";
      throw new ThrowawayClusterError(
        "THROWAWAY_START_FAILED",
        `PostgreSQL did not start on 127.0.0.1:${this.#port} (data dir ${this.dataDir}). ${(err as Error).message}\nServer log (${this.logFile}), last lines:\n${tail}\nCommon causes: the port is taken (pass another port), too little shared memory, or an invalid setting.`,
        { cause: err },
      );
    }
  }

  async #stop(mode: "fast" | "immediate"): Promise<void> {
    const pid = this.postmasterPid();
    if (pid === undefined) return;
    const args = ["stop", "-w", "-s", "-t", "30", "-m", mode, "-D", this.dataDir];
    await run(
      this.#rt,
      "pg_ctl",
      args,
      40_000,
      "THROWAWAY_STOP_FAILED",
      `pg_ctl stop -m ${mode} failed for ${this.dataDir}`,
    );
    // pg_ctl returns once postmaster.pid is gone; the process itself exits a moment later.
    const deadline = Date.now() + 5_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const destroyed = this.#destroyed !== undefined;
    const next = this.#queue.then(() => {
      if (destroyed)
        throw new ThrowawayClusterError(
          "THROWAWAY_DESTROYED",
          `The throwaway cluster in ${this.tempDir} was destroyed; start a new one with startThrowawayCluster().`,
        );
      return op();
    });
    this.#queue = next.catch(() => {});
    return next;
  }
}

/**
 * Removes throwaway clusters left behind by processes that died without cleaning up (e.g.
 * SIGKILL): every `<tmpdir>/steadfast-pg-*` whose owner process is gone. A postmaster is only
 * signalled when `/proc/<pid>/cmdline` proves it is a postgres serving that very data dir.
 *
 * @example
 * ```ts
 * for (const r of await reapStaleClusters()) console.log(`reaped ${r.dir}`);
 * ```
 */
export async function reapStaleClusters(
  options: { directory?: string } = {},
): Promise<ReapedCluster[]> {
  const directory = options.directory ?? os.tmpdir();
  const reaped: ReapedCluster[] = [];
  for (const name of readdirSync(directory)) {
    const dir = join(directory, name);
    if (!name.startsWith(PREFIX) || [...live].some((c) => c.tempDir === dir)) continue;
    try {
      const result = await reapOne(dir);
      if (result !== undefined) reaped.push(result);
    } catch (err) {
      if (!existsSync(dir)) continue; // removed meanwhile by its owner or another reaper
      reaped.push({
        dir,
        ownerPid: undefined,
        stoppedPostmaster: undefined,
        removed: false,
        problem: String(err),
      });
    }
  }
  return reaped;
}

async function reapOne(dir: string): Promise<ReapedCluster | undefined> {
  const owner = readMarker(dir);
  // No marker: a crash right after mkdtemp, or a live process about to write it; age decides.
  if (owner === undefined && Date.now() - statSync(dir).mtimeMs < 60_000) return undefined;
  if (owner !== undefined && isAlive(owner.pid)) {
    if (owner.startTicks === undefined || owner.startTicks === startTicks(owner.pid))
      return undefined;
  }
  const dataDir = join(dir, "data");
  const pid = readPostmasterPid(dataDir);
  const base = { dir, ownerPid: owner?.pid, stoppedPostmaster: undefined };
  if (pid !== undefined && isAlive(pid)) {
    if (!existsSync("/proc/self/cmdline")) {
      return {
        ...base,
        removed: false,
        problem: `postmaster ${pid} may be running; no /proc to check`,
      };
    }
    // A stale postmaster.pid may name an unrelated process that reused the PID: never signal it.
    if (isPostmasterOf(pid, dataDir)) {
      await stopPid(pid);
      await rm(dir, { recursive: true, force: true });
      return { ...base, stoppedPostmaster: pid, removed: true };
    }
  }
  await rm(dir, { recursive: true, force: true });
  return { ...base, removed: true };
}

function findBinDir(pinned = process.env.STEADFAST_PG_BIN || undefined): string {
  const searched: string[] = [];
  const has = (dir: string) => {
    // pg_ctl runs with the temp dir as cwd, so a relative binDir would point elsewhere.
    searched.push(absolute(dir));
    return existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"));
  };
  if (pinned !== undefined && has(pinned)) return absolute(pinned);
  if (pinned === undefined) {
    const root = "/usr/lib/postgresql";
    const versions = existsSync(root)
      ? readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v))
      : [];
    versions.sort((a, b) => Number(b) - Number(a));
    const candidates = ["15", ...versions].map((v) => join(root, v, "bin"));
    const paths = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
    for (const dir of [...new Set(candidates), ...paths]) if (has(dir)) return absolute(dir);
  }
  throw new ThrowawayClusterError(
    "THROWAWAY_BINARIES_NOT_FOUND",
    `PostgreSQL server binaries (initdb, pg_ctl) not found; searched: ${searched.join(", ")}. Install the PostgreSQL server package (e.g. apt-get install postgresql), or point binDir / STEADFAST_PG_BIN at the directory holding pg_ctl.`,
  );
}

async function run(
  rt: Runtime,
  tool: string,
  args: string[],
  timeout: number,
  code: ThrowawayClusterErrorCode,
  what: string,
): Promise<void> {
  const file = join(rt.binDir, tool);
  const [cmd, argv] = rt.asPostgres
    ? ["runuser", ["-u", "postgres", "--", file, ...args]]
    : [file, args];
  try {
    await execFileAsync(cmd, argv, { cwd: rt.tempDir, env: rt.env, timeout, encoding: "utf8" });
  } catch (err) {
    const e = err as { stderr?: string; code?: unknown; killed?: boolean; message: string };
    const why = e.killed
      ? `killed after ${timeout} ms`
      : typeof e.code === "number"
        ? `exit code ${e.code}`
        : e.message;
    const hint = rt.asPostgres
      ? " (run as the postgres OS user via runuser because this process is root)"
      : "";
    throw new ThrowawayClusterError(
      code,
      `${what}${hint}: ${why}. ${e.stderr?.trim() ?? ""}`.trim(),
      { cause: err },
    );
  }
}

function postgresId(flag: "-u" | "-g"): number {
  try {
    return Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  } catch (err) {
    throw new ThrowawayClusterError(
      "THROWAWAY_INIT_FAILED",
      "This process runs as root, which PostgreSQL refuses, and there is no 'postgres' OS user to run it as: create one (useradd --system postgres) or run as a non-root user.",
      { cause: err },
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().unref().on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function readMarker(dir: string): { pid: number; startTicks?: number } | undefined {
  try {
    const marker = JSON.parse(readFileSync(join(dir, MARKER), "utf8")) as {
      pid?: unknown;
      startTicks?: unknown;
    };
    if (typeof marker.pid !== "number") return undefined;
    return typeof marker.startTicks === "number"
      ? { pid: marker.pid, startTicks: marker.startTicks }
      : { pid: marker.pid };
  } catch {
    return undefined;
  }
}

function readPostmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(dataDir, "postmaster.pid"), "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie: an orphaned postmaster stays a zombie until init reaps it. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return true;
  }
}

/** Start time of a process (Linux), so a reused PID is not mistaken for the marker's owner. */
function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

function isPostmasterOf(pid: number, dataDir: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (!/^(postgres|postmaster)$/.test(basename(argv[0] ?? ""))) return false;
    const target = realpathSync(dataDir);
    return argv.some(
      (arg) =>
        arg === dataDir || (arg.startsWith("/") && existsSync(arg) && realpathSync(arg) === target),
    );
  } catch {
    return false;
  }
}

/** SIGQUIT is PostgreSQL's immediate shutdown; SIGKILL only if it does not finish. */
async function stopPid(pid: number): Promise<void> {
  process.kill(pid, "SIGQUIT");
  const deadline = Date.now() + 5_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
}

/** Synchronous last-resort cleanup for 'exit' and signal handlers, where nothing async runs. */
function killSync(cluster: Cluster): void {
  const pid = cluster.postmasterPid();
  if (
    pid !== undefined &&
    (!existsSync("/proc/self/cmdline") || isPostmasterOf(pid, cluster.dataDir))
  ) {
    try {
      process.kill(pid, "SIGQUIT");
      const pause = new Int32Array(new SharedArrayBuffer(4));
      const deadline = Date.now() + 5_000;
      while (isAlive(pid) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 10);
      if (isAlive(pid)) process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  rmSync(cluster.tempDir, { recursive: true, force: true });
}

function cleanupAllSync(): void {
  for (const cluster of live) {
    try {
      killSync(cluster);
    } catch {
      // An exit handler must not throw; the reaper catches what is left.
    }
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupAllSync();
  unregister();
  // Only re-raise when nobody else handles the signal; otherwise they decide when to exit.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function register(cluster: Cluster): void {
  if (live.size === 0) {
    process.on("exit", cleanupAllSync);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  live.add(cluster);
}

function unregister(cluster?: Cluster): void {
  if (cluster !== undefined) live.delete(cluster);
  if (live.size > 0) return;
  process.off("exit", cleanupAllSync);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
}
