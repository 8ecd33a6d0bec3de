/**
 * `npm run bench [-- section…]`: runs every benchmark section (or the ones named), prints
 * each table with ratios against the peers measured in the same run, and writes
 * `bench/results/<timestamp>.json` plus `bench/results/latest.md`.
 *
 * Everything runs on loopback against `BENCH_DATABASE_URL` (default: the local server).
 */

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { runCacheBench } from "./cache.js";
import { DEADLINE_MS, runChaosScorecard } from "./chaos/scorecard.js";
import { runKvBench } from "./kv.js";
import { runLoadBench } from "./load.js";
import { runOverheadBench } from "./overhead.js";
import { runPolicyBench } from "./policy.js";
import { runPoolBench } from "./pool.js";
import { runScaleBench } from "./scale.js";

const DATABASE_URL =
  process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";

/** One printed and recorded table. */
interface Section {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
  /** Targets with the measured figure and whether they were met. */
  readonly targets: readonly {
    readonly target: string;
    readonly measured: string;
    readonly met: boolean;
  }[];
  readonly raw: unknown;
}

const SECTIONS: Record<string, () => Promise<Section>> = {
  async chaos() {
    const results = await runChaosScorecard();
    const rows = results.flatMap((f) => f.rows.map((r) => ({ ...r, f })));
    const ours = rows.filter((r) => r.client.startsWith("steadfast"));
    const worst = (pick: (r: (typeof rows)[number]) => number, of = ours) =>
      of.reduce((a, b) => (pick(b) > pick(a) ? b : a));
    const sum = (pick: (r: (typeof rows)[number]) => number, of = ours) =>
      of.reduce((n, r) => n + pick(r), 0);
    const short = ours.filter((r) => r.f.shorterThanDeadline);
    const outages = ours.filter((r) =>
      ["server restart", "blackhole 5 s", "refuse 6 s"].includes(r.fault),
    );
    const slowest = worst((r) => r.recoveryMs, outages);
    const refuse = ours.filter((r) => r.fault === "refuse 6 s");
    const mostConnects =
      refuse.length > 0 ? worst((r) => r.connectsDuringFault, refuse) : undefined;
    const peerRefuse = rows
      .filter((r) => r.fault === "refuse 6 s" && !r.client.startsWith("steadfast"))
      .map((r) => `${r.client} ${r.connectsDuringFault}`)
      .join(", ");
    const crashes = rows
      .filter((r) => r.crashes > 0)
      .map((r) => `${r.client} ×${r.crashes} (${r.fault})`);
    return {
      title: `Chaos scorecard: 4 loops per client of a write of a fresh key then a read of it, every ${DEADLINE_MS} ms deadline, each client in its own process behind its own fault proxy; faults on a throwaway cluster (proof of each fault in the JSON)`,
      columns: [
        "fault",
        "client",
        "reads failed",
        "writes failed",
        "lost",
        "duplicated",
        "unknown outcome",
        "failed but written",
        "max latency ms",
        "past deadline",
        "recovery ms",
        "connects during fault",
        "crashes",
        "top errors",
      ],
      rows: rows.map((r) => [
        r.fault,
        r.client,
        `${r.failedReads}/${r.reads}`,
        `${r.failedWrites}/${r.writes}`,
        r.lostWrites,
        r.duplicatedWrites,
        r.unknownWrites,
        r.failedButWritten,
        r.maxLatencyMs,
        r.pastDeadline,
        r.recoveryMs < 0 ? "never" : r.recoveryMs,
        r.connectsDuringFault,
        r.crashes,
        r.topErrors || "—",
      ]),
      targets: [
        {
          target: "Steadfast: zero lost and zero duplicated writes under every fault",
          measured: `${sum((r) => r.lostWrites)} lost, ${sum((r) => r.duplicatedWrites)} duplicated`,
          met: sum((r) => r.lostWrites + r.duplicatedWrites) === 0,
        },
        {
          target: `Steadfast: zero failed reads for faults shorter than the deadline (${short
            .map((r) => r.fault)
            .filter((f, i, a) => a.indexOf(f) === i)
            .join(", ")})`,
          measured: `${sum((r) => r.failedReads, short)} failed reads`,
          met: sum((r) => r.failedReads, short) === 0,
        },
        {
          target: "Steadfast: no call past its deadline by more than 100 ms",
          measured: `${sum((r) => r.pastDeadline)} calls; slowest ${worst((r) => r.maxLatencyMs).maxLatencyMs} ms`,
          met: sum((r) => r.pastDeadline) === 0,
        },
        {
          target:
            "Steadfast: recovery ≤ 500 ms after the database is back (restart, blackhole, refuse)",
          measured: `slowest ${slowest.recoveryMs} ms (${slowest.client}, ${slowest.fault})`,
          met: outages.every((r) => r.recoveryMs >= 0 && r.recoveryMs <= 500),
        },
        {
          target: "Steadfast: ≤ 10 connection attempts during the 6 s outage",
          measured: `${mostConnects?.connectsDuringFault ?? "?"} (peers: ${peerRefuse})`,
          met: (mostConnects?.connectsDuringFault ?? 99) <= 10,
        },
        {
          target: "process crashes (reported)",
          measured: crashes.length > 0 ? crashes.join(", ") : "none",
          met: !crashes.some((c) => c.startsWith("steadfast")),
        },
      ],
      raw: results,
    };
  },
  async scale() {
    const rows = await runScaleBench({ url: DATABASE_URL, redisUrl: REDIS_URL });
    const reads = rows.filter((r) => r.workload === "cached reads");
    const best = reads.reduce((a, b) => (b.requestsPerSec > a.requestsPerSec ? b : a));
    return {
      title:
        "Scale: service instances (separate processes) sharing one Postgres and one Redis, 16 autocannon connections per instance, 6 s per row",
      columns: [
        "workload",
        "instances",
        "requests/s",
        "p99 ms",
        "non-2xx",
        "CPU cores by component",
        "limit",
      ],
      rows: rows.map((r) => [
        r.workload,
        r.instances,
        r.requestsPerSec,
        r.p99Ms,
        r.non2xx,
        Object.entries(r.cores)
          .map(([k, v]) => `${k} ${v}`)
          .join(", "),
        r.bottleneck,
      ]),
      targets: [
        {
          target: "name the bottleneck",
          measured: `best cached-read throughput with ${best.instances} instance(s): ${best.requestsPerSec}/s; ${best.bottleneck}`,
          met: true,
        },
        {
          target: "every response 2xx",
          measured: `${rows.reduce((n, r) => n + r.non2xx, 0)} non-2xx or errors`,
          met: rows.every((r) => r.non2xx === 0),
        },
      ],
      raw: rows,
    };
  },
  async kv() {
    const r = await runKvBench(DATABASE_URL);
    return {
      title: "KV: one mget of 100 keys against 100 single gets (median of 20)",
      columns: ["call", "statements (round trips)", "ms"],
      rows: [
        ["mget(100 keys)", r.mget.statements, r.mget.ms],
        ["100 × get", r.gets.statements, r.gets.ms],
      ],
      targets: [
        {
          target: "mget is one round trip",
          measured: `${r.mget.statements} vs ${r.gets.statements}; ${(r.gets.ms / r.mget.ms).toFixed(1)}× faster`,
          met: r.mget.statements === 1,
        },
      ],
      raw: r,
    };
  },
  async load() {
    const r = await runLoadBench({ url: DATABASE_URL });
    return {
      title: `Service under load: KV reads through the cache for ${r.durationS} s, 32 connections, every database connection killed every 2 s`,
      columns: [
        "requests/s",
        "p50 ms",
        "p99 ms",
        "requests",
        "non-2xx",
        "socket errors",
        "DB connections killed",
      ],
      rows: [
        [
          r.requestsPerSec,
          r.p50Ms,
          r.p99Ms,
          r.requests,
          r.non2xx,
          r.errors,
          `${r.connectionsKilled} in ${r.killRounds} rounds`,
        ],
      ],
      targets: [
        {
          target: "0 non-2xx responses for cached reads",
          measured: `${r.non2xx} non-2xx, ${r.errors} errors`,
          met: r.non2xx === 0 && r.errors === 0,
        },
      ],
      raw: r,
    };
  },
  async cache() {
    const r = await runCacheBench();
    const ns = (name: string) => r.hits.find((h) => h.name === name)?.nsPerOp ?? Number.NaN;
    const ours = ns("steadfast getOrLoad (await)");
    const rawSync = ns("lru-cache get (sync)");
    const rawAwait = ns("lru-cache get + await");
    return {
      title: "Cache hit path on a hot key (ns per read, best of 5 rounds), miss storm and memory",
      columns: ["case", "ns/op", "ops/s", "throughput × lru-cache get"],
      rows: r.hits.map((h) => [h.name, h.nsPerOp, h.opsPerSec, ratio(rawSync, h.nsPerOp)]),
      targets: [
        {
          target: "getOrLoad hit ≥ 0.5× raw lru-cache get",
          measured: `${ratio(rawSync, ours)} of the synchronous get; ${ratio(rawAwait, ours)} of a get behind an await (what any async API pays)`,
          met: rawSync / ours >= 0.5,
        },
        {
          target: "far ahead of Bentocache getOrSet hit",
          measured: `${(ns("bentocache getOrSet (await)") / ours).toFixed(0)}× faster`,
          met: ours < ns("bentocache getOrSet (await)"),
        },
        {
          target: "1,000 concurrent misses on one key → 1 load",
          measured: `${r.missStormLoads} load(s)`,
          met: r.missStormLoads === 1,
        },
        {
          target: "memory per 100,000 small values (reported)",
          measured:
            r.bytesPer100k === undefined
              ? "run with --expose-gc to measure"
              : `${(r.bytesPer100k / 1_048_576).toFixed(1)} MiB`,
          met: true,
        },
      ],
      raw: r,
    };
  },
  async overhead() {
    const rows = await runOverheadBench({ url: DATABASE_URL, rounds: 5 });
    const ours = rows.filter((r) => r.client.startsWith("steadfast"));
    const worst = ours.reduce((a, b) => (b.ratio < a.ratio ? b : a));
    const cockatielBeaten = ours.every((r) => {
      const peer = rows.find(
        (p) =>
          p.client === "pg.Pool + cockatiel" &&
          p.query === r.query &&
          p.concurrency === r.concurrency,
      );
      return peer !== undefined && r.opsPerSec > peer.opsPerSec;
    });
    const postgresJsAhead = rows
      .filter((r) => r.client === "postgres.js" && r.ratio > 1)
      .map((r) => `${r.query} c=${r.concurrency} (${r.ratio}×)`);
    return {
      title:
        "Overhead: ops/s at concurrency 1, 16, 64 (pools capped at 16), 5 interleaved rounds of 1.5 s, median",
      columns: ["query", "concurrency", "client", "ops/s", "p50 ms", "p99 ms", "× pg.Pool"],
      rows: rows.map((r) => [
        r.query,
        r.concurrency,
        r.client,
        r.opsPerSec,
        r.p50Ms,
        r.p99Ms,
        `${r.ratio}×`,
      ]),
      targets: [
        {
          target: "every Steadfast configuration ≥ 0.98× raw pg.Pool",
          measured: `lowest ${worst.ratio}× (${worst.client}, ${worst.query}, c=${worst.concurrency})`,
          met: worst.ratio >= 0.98,
        },
        {
          target: "ahead of pg.Pool wrapped in cockatiel everywhere",
          measured: cockatielBeaten ? "ahead in every row" : "behind in some row",
          met: cockatielBeaten,
        },
        {
          target: "say where postgres.js is ahead",
          measured: postgresJsAhead.length > 0 ? postgresJsAhead.join(", ") : "nowhere in this run",
          met: true,
        },
      ],
      raw: rows,
    };
  },
  async policy() {
    const results = await runPolicyBench();
    const cockatiel = results.find((r) => r.name.startsWith("cockatiel"))?.nsPerCall ?? Number.NaN;
    const ours = results.find((r) => r.name.includes("(deadline, retry, breaker)"))?.nsPerCall;
    return {
      title: "Policy overhead around a resolved promise (ns per call, best of 5 rounds)",
      columns: ["case", "ns/call", "× cockatiel"],
      rows: results.map((r) => [r.name, r.nsPerCall, ratio(r.nsPerCall, cockatiel)]),
      targets: [
        {
          target: "composed policy (retry + breaker + deadline) ≤ 1000 ns/call",
          measured: `${ours} ns/call`,
          met: ours !== undefined && ours <= 1000,
        },
      ],
      raw: results,
    };
  },
  async pool() {
    const { results, ratio: poolRatio } = await runPoolBench({ url: DATABASE_URL });
    const pgOps = results.find((r) => r.name === "pg.Pool")?.opsPerSec ?? Number.NaN;
    return {
      title: "SELECT 1 at concurrency 16, 5 interleaved rounds of 3 s (median)",
      columns: ["client", "ops/s", "p50 ms", "p99 ms", "× pg.Pool"],
      rows: results.map((r) => [r.name, r.opsPerSec, r.p50Ms, r.p99Ms, ratio(r.opsPerSec, pgOps)]),
      targets: [
        {
          target: "drop-in Pool ≥ 0.98× raw pg.Pool (median of paired rounds)",
          measured: `${poolRatio}×`,
          met: poolRatio >= 0.98,
        },
      ],
      raw: { results, ratio: poolRatio },
    };
  },
};

function ratio(value: number, base: number): string {
  return Number.isFinite(value / base) ? `${(value / base).toFixed(3)}×` : "—";
}

async function environment(): Promise<Record<string, string | number>> {
  const pkg = (name: string): string => {
    try {
      const text = readFileSync(join(process.cwd(), "node_modules", name, "package.json"));
      return (JSON.parse(text.toString()) as { version: string }).version;
    } catch {
      return "not installed";
    }
  };
  let server = "unreachable";
  const client = new pg.Client({ connectionString: DATABASE_URL });
  try {
    await client.connect();
    server =
      (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]
        ?.v ?? "?";
  } catch {
    // Sections that need the server report their own failure.
  } finally {
    await client.end().catch(() => {});
  }
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"]).toString().trim();
  } catch {}
  return {
    date: new Date().toISOString(),
    commit,
    cpu: cpus()[0]?.model ?? "unknown",
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres: server,
    pg: pkg("pg"),
    cockatiel: pkg("cockatiel"),
    postgresJs: pkg("postgres"),
    bentocache: pkg("bentocache"),
    lruCache: pkg("lru-cache"),
    autocannon: pkg("autocannon"),
  };
}

function markdown(env: Record<string, string | number>, sections: Record<string, Section>): string {
  const lines = [
    "# Benchmark results",
    "",
    `Run ${env.date} on commit ${env.commit}: ${env.cpus} × ${env.cpu}, ${env.memoryGiB} GiB,`,
    `Node ${env.node}, PostgreSQL ${env.postgres}, pg ${env.pg}, cockatiel ${env.cockatiel}, postgres.js ${env.postgresJs},`,
    `bentocache ${env.bentocache}, lru-cache ${env.lruCache}, autocannon ${env.autocannon}.`,
  ];
  for (const [name, s] of Object.entries(sections)) {
    lines.push("", `## ${name}: ${s.title}`, "");
    lines.push(`| ${s.columns.join(" | ")} |`, `|${s.columns.map(() => " --- ").join("|")}|`);
    for (const row of s.rows) lines.push(`| ${row.join(" | ")} |`);
    lines.push("");
    for (const t of s.targets)
      lines.push(`- ${t.met ? "met" : "MISSED"}: ${t.target} — measured ${t.measured}`);
  }
  return `${lines.join("\n")}\n`;
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in SECTIONS));
if (unknown.length > 0) {
  console.error(
    `bench: unknown section ${unknown.join(", ")}; known: ${Object.keys(SECTIONS).join(", ")}`,
  );
  process.exit(2);
}
const names = wanted.length > 0 ? wanted : Object.keys(SECTIONS);
const env = await environment();
const done: Record<string, Section> = {};
for (const name of names) {
  const run = SECTIONS[name];
  if (!run) continue;
  console.log(`\n▶ ${name}`);
  let section: Section;
  try {
    section = await run();
  } catch (error) {
    // One broken section must not lose the others' results; the run still fails.
    console.error(`bench: section ${name} failed:`, error);
    process.exitCode = 1;
    section = {
      title: "FAILED",
      columns: ["error"],
      rows: [[String(error).slice(0, 300)]],
      targets: [],
      raw: String(error),
    };
  }
  done[name] = section;
  console.log(section.title);
  console.table(
    section.rows.map((row) => Object.fromEntries(section.columns.map((c, i) => [c, row[i]]))),
  );
  for (const t of section.targets) console.log(`${t.met ? "✓" : "✗"} ${t.target}: ${t.measured}`);
}
// Relative to the package root (npm runs scripts there), whether run from source or compiled.
const dir = pathToFileURL(join(process.cwd(), "bench", "results/"));
mkdirSync(dir, { recursive: true });
const stamp = String(env.date).replace(/[:.]/g, "-");
writeFileSync(
  new URL(`${stamp}.json`, dir),
  `${JSON.stringify({ env, sections: done }, null, 2)}\n`,
);
// latest.md is the last full run (the README's figures come from it); a run of some
// sections writes partial.md instead of overwriting it.
const summary = wanted.length > 0 ? "partial.md" : "latest.md";
writeFileSync(new URL(summary, dir), markdown(env, done));
console.log(`\nwrote bench/results/${stamp}.json and bench/results/${summary}`);
