/**
 * Scale: throughput of the service with 1, 2 and 4 instances (separate processes, `steadfast
 * serve` with `DATABASE_URL` and `REDIS_URL`) sharing one Postgres database and one Redis, for
 * KV reads through the cache and for writes, driven by autocannon on loopback (one autocannon
 * per instance, run together). While each run lasts the CPU time of every component (the
 * instances, PostgreSQL's processes, Redis, this process with the load generator) is sampled
 * from /proc, so the table names what limits it.
 *
 * Run standalone: `node --import tsx bench/scale.ts`.
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import { scratchDatabase } from "./database.js";

export interface ScaleRow {
  readonly workload: "cached reads" | "writes";
  readonly instances: number;
  readonly requestsPerSec: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  /** CPU cores used on average by each component during the run. */
  readonly cores: Readonly<Record<string, number>>;
  readonly bottleneck: string;
}

const KEYS = 200;
const CONNECTIONS_PER_INSTANCE = 16;

// The CLI from source, through tsx, as `npm start` runs it (the compiled bench copy of src/
// has no package.json beside it for --version).
const CLI = join(process.cwd(), "src", "cli", "main.ts");

function startInstance(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, "serve", "--port", "0"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`instance not ready:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[^\s"]+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        resolve({ child, url: match[1] });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => reject(new Error(`instance exited ${code}:\n${output}`)));
  });
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of a process, in seconds; 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU seconds the whole machine spent busy (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = fields.reduce((sum, v) => sum + v, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return (total - idle) / TICKS_PER_SECOND;
}

function pidsOf(name: string): number[] {
  try {
    return execFileSync("pgrep", ["-x", name]).toString().trim().split("\n").map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds per component, summed over their processes. */
function sample(instances: readonly ChildProcess[]): Record<string, number> {
  const sum = (pids: number[]) => pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
  const parts = {
    "service instances": sum(instances.map((c) => c.pid ?? 0)),
    redis: sum(pidsOf("redis-server")),
    "load generator (autocannon)": cpuSeconds(process.pid),
  };
  // PostgreSQL's backends come and go with connections (a gone process takes its CPU time
  // with it), so it is measured as the rest of the machine: on an otherwise idle machine that
  // is PostgreSQL plus the kernel's network work.
  const known = Object.values(parts).reduce((a, b) => a + b, 0);
  return { ...parts, "postgres and the rest": machineBusySeconds() - known };
}

async function drive(
  urls: readonly string[],
  workload: ScaleRow["workload"],
  durationS: number,
): Promise<{ requestsPerSec: number; p99Ms: number; non2xx: number }> {
  let n = 0;
  const runs = urls.map((url) =>
    autocannon({
      url,
      connections: CONNECTIONS_PER_INSTANCE,
      duration: durationS,
      requests: [
        workload === "cached reads"
          ? { method: "GET", setupRequest: (r) => ({ ...r, path: `/kv/scale/k${n++ % KEYS}` }) }
          : {
              method: "PUT",
              setupRequest: (r) => ({ ...r, path: `/kv/scale/w${n++}`, body: '{"v":1}' }),
            },
      ],
    }),
  );
  const results = await Promise.all(runs);
  return {
    requestsPerSec: Math.round(results.reduce((s, r) => s + r.requests.average, 0)),
    p99Ms: Math.max(...results.map((r) => r.latency.p99)),
    non2xx: results.reduce((s, r) => s + r.non2xx + r.errors + r.timeouts, 0),
  };
}

export async function runScaleBench(options: {
  url: string;
  redisUrl?: string;
  durationS?: number;
  counts?: readonly number[];
}): Promise<ScaleRow[]> {
  const durationS = options.durationS ?? 6;
  const redisUrl = options.redisUrl ?? "redis://127.0.0.1:6379";
  const scratch = await scratchDatabase(options.url, "scale");
  const database = new URL(scratch.url).pathname.slice(1);
  const rows: ScaleRow[] = [];
  try {
    for (const count of options.counts ?? [1, 2, 4]) {
      const instances = await Promise.all(
        Array.from({ length: count }, () =>
          startInstance({
            DATABASE_URL: scratch.url,
            REDIS_URL: redisUrl,
          }),
        ),
      );
      try {
        const first = instances[0];
        if (!first) throw new Error("no instance");
        const entries = Object.fromEntries(
          Array.from({ length: KEYS }, (_, i) => [`k${i}`, { i, text: "x".repeat(200) }]),
        );
        const put = await fetch(`${first.url}/kv/scale/_batch/put`, {
          method: "POST",
          body: JSON.stringify({ entries }),
        });
        if (put.status !== 200) throw new Error(`seeding failed: ${put.status}`);
        for (const workload of ["cached reads", "writes"] as const) {
          const before = sample(instances.map((i) => i.child));
          const started = performance.now();
          const r = await drive(
            instances.map((i) => i.url),
            workload,
            durationS,
          );
          const wall = (performance.now() - started) / 1000;
          const after = sample(instances.map((i) => i.child));
          const cores = Object.fromEntries(
            Object.entries(after).map(([k, v]) => [k, +((v - (before[k] ?? 0)) / wall).toFixed(2)]),
          );
          const total = Object.values(cores).reduce((s, v) => s + v, 0);
          const perInstance = (cores["service instances"] ?? 0) / count;
          const machine = availableParallelism();
          rows.push({
            workload,
            instances: count,
            ...r,
            cores,
            // A Node process runs its JavaScript on one core: near 1.0 per instance means
            // its event loop is the limit; near the machine's core count, the machine is.
            bottleneck:
              total >= 0.9 * machine
                ? `the machine's CPU: ${total.toFixed(2)} of ${machine} cores busy`
                : perInstance >= 0.9
                  ? `each instance's event loop: ${perInstance.toFixed(2)} cores per instance (${total.toFixed(2)} of ${machine} busy)`
                  : `not CPU (${total.toFixed(2)} of ${machine} cores busy): waits on the database or Redis`,
          });
        }
      } finally {
        await Promise.all(
          instances.map(
            ({ child }) =>
              new Promise<void>((resolve) => {
                if (child.exitCode !== null) return resolve();
                child.once("exit", () => resolve());
                child.kill("SIGTERM");
              }),
          ),
        );
      }
    }
  } finally {
    await scratch.drop();
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      const stream = redis.scanStream({ match: `steadfast:*${database}*`, count: 500 });
      for await (const keys of stream as AsyncIterable<string[]>) {
        if (keys.length > 0) await redis.unlink(...keys);
      }
    } finally {
      redis.disconnect();
    }
  }
  return rows;
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const url = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  console.table(await runScaleBench({ url }));
}
