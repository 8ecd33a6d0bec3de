/**
 * The chaos scorecard: the same workload (loops of a write of a fresh key, then a read of it)
 * against Steadfast, raw `pg.Pool` and postgres.js, each in its own process behind its own
 * fault proxy, all in front of one throwaway cluster, under each fault of `FAULTS`. Writes go
 * to a table without a unique constraint, so a duplicated write shows up as a second row and
 * a lost acknowledged write as none.
 *
 * Run standalone: `node --import tsx bench/chaos/scorecard.ts [fault name…]`.
 */

import { type ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { type FaultProxy, startFaultProxy } from "../../src/testing/fault-proxy.js";
import {
  startThrowawayCluster,
  type ThrowawayCluster,
} from "../../src/testing/throwaway-cluster.js";
import { FAULTS, type Fault, type FaultWindow } from "./faults.js";
import {
  type ChaosCall,
  CLIENT_KINDS,
  type ClientKind,
  type FromClient,
  type ToClient,
} from "./protocol.js";

/** The per-call deadline every client is configured with (see client.ts). */
export const DEADLINE_MS = 2_000;
const LOOPS = 4;
const PACE_MS = 20;
const WARMUP_MS = 1_500;
const AFTER_MS = 3_000;
const DATABASE = "chaos";

/** One row of the scorecard: one client under one fault. */
export interface ScoreRow {
  readonly fault: string;
  readonly client: ClientKind;
  readonly reads: number;
  readonly failedReads: number;
  readonly writes: number;
  readonly failedWrites: number;
  /** Acknowledged, yet not in the table. */
  readonly lostWrites: number;
  /** In the table more than once. */
  readonly duplicatedWrites: number;
  /** The client said "outcome unknown" (Steadfast's UnknownOutcomeError). */
  readonly unknownWrites: number;
  /** Reported as failed (not "unknown"), yet in the table: a caller retrying would duplicate it. */
  readonly failedButWritten: number;
  readonly maxLatencyMs: number;
  /** Calls that took longer than the deadline plus 100 ms. */
  readonly pastDeadline: number;
  /** From the fault's end to the first success of a call started after it; -1 if none. */
  readonly recoveryMs: number;
  /** TCP connects the client made during the fault window. */
  readonly connectsDuringFault: number;
  readonly crashes: number;
  /** The most frequent error codes, for reading the table. */
  readonly topErrors: string;
}

export interface FaultResult {
  readonly fault: string;
  readonly description: string;
  readonly shorterThanDeadline: boolean;
  readonly durationMs: number;
  readonly proof: string;
  readonly rows: readonly ScoreRow[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// Compiled (`npm run bench`) the sibling is client.js; run through tsx it is client.ts.
const CLIENT_SCRIPT = [".js", ".ts"]
  .map((ext) => fileURLToPath(new URL(`./client${ext}`, import.meta.url)))
  .find((path) => existsSync(path)) as string;

/**
 * One client kind's process, restarted by this supervisor when it crashes (as a process
 * manager would), so the workload goes on and the crash is counted.
 */
class Supervised {
  readonly calls: ChaosCall[] = [];
  readonly connects: number[] = [];
  crashes = 0;
  #process: ChildProcess | undefined;
  #stopping = false;
  #finished = false;
  #done: (() => void) | undefined;
  #start: Extract<ToClient, { type: "start" }> | undefined;
  #lastOrder: ToClient | undefined;

  constructor(
    readonly kind: ClientKind,
    readonly url: string,
  ) {}

  /** Starts the process and resolves once it is ready. */
  async spawn(): Promise<void> {
    const child = fork(CLIENT_SCRIPT, [this.kind, this.url], {
      // Run as this process does (compiled JS, or TypeScript through tsx's loader).
      execArgv: process.execArgv.filter((a) => !a.startsWith("--expose-gc")),
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    this.#process = child;
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4_000);
    });
    child.on("message", (m: FromClient) => {
      if (m.type === "batch") {
        this.calls.push(...m.calls);
        this.connects.push(...m.connects);
      } else if (m.type === "done") {
        this.#finished = true;
        this.#done?.();
      }
    });
    child.on("exit", (code) => {
      if (this.#process !== child || this.#finished) return;
      this.crashes++;
      const line = stderr.split("\n").find((l) => /^\w*Error\b/.test(l)) ?? `exit code ${code}`;
      console.error(`  chaos: ${this.kind} crashed (${line.trim()}); restarting it`);
      if (this.#stopping) return this.#done?.();
      void this.spawn().then(() => {
        if (!this.#start) return;
        this.send({ ...this.#start, prefix: `${this.#start.prefix}#${this.crashes}` });
        if (this.#lastOrder) this.send(this.#lastOrder);
      });
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.kind} did not start in 20 s`)),
        20_000,
      );
      child.on("message", (m: FromClient) => {
        if (m.type === "ready") {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  send(message: ToClient): void {
    if (message.type === "start" && this.#start === undefined) this.#start = message;
    if (message.type === "pause" || message.type === "resume") this.#lastOrder = message;
    if (this.#process?.connected) this.#process.send(message);
  }

  /** Asks the workload to stop and waits (bounded) for its last calls. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const done = new Promise<void>((resolve) => {
      this.#done = resolve;
    });
    this.send({ type: "stop" });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r) => (timer = setTimeout(r, 30_000)))]);
    clearTimeout(timer);
    this.kill();
  }

  kill(): void {
    if (this.#process && this.#process.exitCode === null) this.#process.kill("SIGKILL");
  }
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

function score(
  fault: Fault,
  window: FaultWindow,
  client: Supervised,
  stored: Map<string, number>,
): ScoreRow {
  const { calls, connects, kind } = client;
  const reads = calls.filter((c) => c.op === "read");
  const writes = calls.filter((c) => c.op === "write");
  let lost = 0;
  let unknown = 0;
  let failedButWritten = 0;
  for (const w of writes) {
    const copies = stored.get(w.key) ?? 0;
    if (w.ok && copies === 0) lost++;
    if (!w.ok && w.unknown) unknown++;
    if (!w.ok && !w.unknown && copies > 0) failedButWritten++;
  }
  const duplicated = writes.filter((w) => (stored.get(w.key) ?? 0) > 1).length;
  const latencies = calls.map((c) => c.end - c.start);
  const recovered = calls
    .filter((c) => c.ok && c.start >= window.end)
    .reduce((first, c) => Math.min(first, c.end), Number.POSITIVE_INFINITY);
  const errors = new Map<string, number>();
  for (const c of calls) if (!c.ok) errors.set(c.code ?? "?", (errors.get(c.code ?? "?") ?? 0) + 1);
  return {
    fault: fault.name,
    client: kind,
    reads: reads.length,
    failedReads: reads.filter((c) => !c.ok).length,
    writes: writes.length,
    failedWrites: writes.filter((c) => !c.ok).length,
    lostWrites: lost,
    duplicatedWrites: duplicated,
    unknownWrites: unknown,
    failedButWritten,
    maxLatencyMs: Math.round(Math.max(0, ...latencies)),
    pastDeadline: latencies.filter((l) => l > DEADLINE_MS + 100).length,
    recoveryMs: Number.isFinite(recovered) ? Math.round(recovered - window.end) : -1,
    connectsDuringFault: connects.filter((t) => t >= window.start && t <= window.end).length,
    crashes: client.crashes,
    topErrors: [...errors]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([code, n]) => `${code}×${n}`)
      .join(" "),
  };
}

async function runFault(
  fault: Fault,
  cluster: ThrowawayCluster,
  proxies: ReadonlyMap<ClientKind, FaultProxy>,
): Promise<FaultResult> {
  const url = cluster.urlFor(DATABASE);
  for (const [name, value] of Object.entries(fault.databaseSettings ?? {})) {
    await sql(cluster.url, `ALTER DATABASE ${DATABASE} SET ${name} = '${value}'`);
  }
  const clients = CLIENT_KINDS.map((kind) => {
    const proxy = proxies.get(kind);
    if (!proxy) throw new Error(`no proxy for ${kind}`);
    return new Supervised(kind, proxy.url(url));
  });
  try {
    await Promise.all(clients.map((c) => c.spawn()));
    const tell = (message: ToClient) => {
      for (const c of clients) c.send(message);
    };
    tell({ type: "start", prefix: fault.name, loops: LOOPS, paceMs: PACE_MS });
    await sleep(WARMUP_MS);
    const window = await fault.run({
      cluster,
      database: DATABASE,
      proxies: [...proxies.values()],
      tell,
    });
    await sleep(AFTER_MS);
    await Promise.all(clients.map((c) => c.stop()));
    const rows: ScoreRow[] = [];
    for (const client of clients) {
      const stored = new Map(
        (
          await sql<{ k: string; n: number }>(
            url,
            "SELECT k, count(*)::int AS n FROM chaos_writes WHERE client = $1 AND starts_with(k, $2) GROUP BY k",
            [client.kind, fault.name],
          )
        ).map((r) => [r.k, r.n]),
      );
      rows.push(score(fault, window, client, stored));
    }
    return {
      fault: fault.name,
      description: fault.description,
      shorterThanDeadline: fault.shorterThanDeadline,
      durationMs: Math.round(window.end - window.start),
      proof: window.proof,
      rows,
    };
  } finally {
    for (const c of clients) c.kill();
    for (const name of Object.keys(fault.databaseSettings ?? {})) {
      await sql(cluster.url, `ALTER DATABASE ${DATABASE} RESET ${name}`);
    }
  }
}

/** Runs every fault (or those named) and returns the scorecard. */
export async function runChaosScorecard(only: readonly string[] = []): Promise<FaultResult[]> {
  const cluster = await startThrowawayCluster({ settings: { max_connections: 200 } });
  const proxies = new Map<ClientKind, FaultProxy>();
  try {
    await sql(cluster.url, `CREATE DATABASE ${DATABASE}`);
    // No unique constraint: a duplicate is a second row.
    await sql(
      cluster.urlFor(DATABASE),
      "CREATE TABLE chaos_writes (client text NOT NULL, k text NOT NULL)",
    );
    await sql(cluster.urlFor(DATABASE), "CREATE INDEX ON chaos_writes (k)");
    for (const kind of CLIENT_KINDS) {
      proxies.set(
        kind,
        await startFaultProxy({ target: { host: cluster.host, port: cluster.port } }),
      );
    }
    const results: FaultResult[] = [];
    for (const fault of FAULTS) {
      if (only.length > 0 && !only.includes(fault.name)) continue;
      console.log(`  chaos: ${fault.name}`);
      results.push(await runFault(fault, cluster, proxies));
    }
    return results;
  } finally {
    for (const p of proxies.values()) await p.close();
    await cluster.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const results = await runChaosScorecard(process.argv.slice(2));
  for (const r of results) {
    console.log(`\n${r.fault} (${r.durationMs} ms): ${r.proof}`);
    console.table(r.rows.map(({ fault: _, ...row }) => row));
  }
}
