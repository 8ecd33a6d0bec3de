/**
 * The faults of the chaos scorecard. Each one runs against every client at once (each client
 * behind its own fault proxy, all in front of one throwaway cluster), and returns its window
 * and a proof that it really happened.
 */

import net from "node:net";
import pg from "pg";
import type { FaultProxy } from "../../src/testing/fault-proxy.js";
import type { ThrowawayCluster } from "../../src/testing/throwaway-cluster.js";
import type { ToClient } from "./protocol.js";

export interface FaultContext {
  readonly cluster: ThrowawayCluster;
  readonly database: string;
  readonly proxies: readonly FaultProxy[];
  /** Sends a message to every client process. */
  tell(message: ToClient): void;
}

export interface FaultWindow {
  /** Epoch ms when the fault began and ended (the database fully back). */
  readonly start: number;
  readonly end: number;
  /** Evidence that the fault happened, for the results. */
  readonly proof: string;
}

export interface Fault {
  readonly name: string;
  readonly description: string;
  /** `ALTER DATABASE … SET` before the clients connect (reset afterwards). */
  readonly databaseSettings?: Readonly<Record<string, string>>;
  /** Whether a call with the scorecard's deadline can outlast it (then reads must not fail). */
  readonly shorterThanDeadline: boolean;
  run(context: FaultContext): Promise<FaultWindow>;
}

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function admin<T>(context: FaultContext, work: (client: pg.Client) => Promise<T>) {
  const client = new pg.Client({ connectionString: context.cluster.urlFor(context.database) });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const BACKENDS =
  "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'";

const SLEEPING =
  "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep%' AND state = 'active' AND pid <> pg_backend_pid()";

/** Resolves once `connect` to the port is refused (proof of a refusing listener). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

export const FAULTS: readonly Fault[] = [
  {
    name: "terminations",
    description: "pg_terminate_backend of every client backend every 300 ms for 3 s",
    shorterThanDeadline: true,
    async run(context) {
      return admin(context, async (client) => {
        let terminated = 0;
        const start = now();
        while (now() - start < 3_000) {
          const r = await client.query<{ n: number }>(
            `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM (${BACKENDS}) b`,
            [context.database],
          );
          terminated += r.rows[0]?.n ?? 0;
          await sleep(300);
        }
        return { start, end: now(), proof: `${terminated} backends terminated` };
      });
    },
  },
  {
    name: "idle_session_timeout",
    description:
      "idle_session_timeout = 1s; the workload pauses 3 s (the server closes every idle session), then resumes at once",
    databaseSettings: { idle_session_timeout: "1s" },
    shorterThanDeadline: true,
    async run(context) {
      const before = await admin(context, async (c) =>
        (await c.query<{ pid: number }>(BACKENDS, [context.database])).rows.map((r) => r.pid),
      );
      const start = now();
      context.tell({ type: "pause" });
      await sleep(3_000);
      // Proof: none of the sessions open before the pause is still there.
      const left = await admin(context, async (c) => {
        const pids = new Set(
          (await c.query<{ pid: number }>(BACKENDS, [context.database])).rows.map((r) => r.pid),
        );
        return before.filter((pid) => pids.has(pid)).length;
      });
      const end = now();
      context.tell({ type: "resume" });
      return {
        start,
        end,
        proof: `${before.length} sessions before the pause, ${left} of them still open after it`,
      };
    },
  },
  {
    name: "server restart",
    description: "the throwaway cluster restarts (pg_ctl stop -m fast, then start)",
    shorterThanDeadline: true,
    async run(context) {
      const pid = context.cluster.postmasterPid();
      const start = now();
      await context.cluster.restart("fast");
      const end = now();
      return {
        start,
        end,
        proof: `postmaster ${pid} → ${context.cluster.postmasterPid()}, down ${Math.round(end - start)} ms`,
      };
    },
  },
  {
    name: "blackhole 5 s",
    description: "every proxy stalls all traffic (no bytes, no FIN) for 5 s, then heals",
    shorterThanDeadline: false,
    async run(context) {
      const start = now();
      for (const p of context.proxies) p.blackhole();
      await sleep(200);
      const bytes = () => context.proxies.reduce((n, p) => n + p.stats().bytesDownstream, 0);
      const during = bytes();
      await sleep(4_800);
      const moved = bytes() - during;
      for (const p of context.proxies) p.heal();
      return { start, end: now(), proof: `${moved} bytes delivered during the blackhole` };
    },
  },
  {
    name: "refuse 6 s",
    description: "every proxy resets its connections and refuses new ones for 6 s",
    shorterThanDeadline: false,
    async run(context) {
      const start = now();
      let reset = 0;
      for (const p of context.proxies) {
        reset += p.resetAll();
        await p.refuse();
      }
      const proof = await refused(context.proxies[0]?.port ?? 0);
      await sleep(6_000 - (now() - start));
      for (const p of context.proxies) await p.resume();
      return {
        start,
        end: now(),
        proof: `${reset} connections reset; a connect during the fault ${proof ? "was refused" : "was NOT refused"}`,
      };
    },
  },
  {
    name: "latency 200 ms",
    description: "every proxy adds 100 ms each way (200 ms per round trip) for 5 s",
    shorterThanDeadline: true,
    async run(context) {
      const start = now();
      for (const p of context.proxies) p.latency(100);
      const first = context.proxies[0];
      let rtt = Number.NaN;
      if (first) {
        const client = new pg.Client({
          connectionString: first.url(context.cluster.urlFor(context.database)),
        });
        await client.connect();
        const t = now();
        await client.query("SELECT 1");
        rtt = now() - t;
        await client.end();
      }
      await sleep(5_000 - (now() - start));
      for (const p of context.proxies) p.latency(0);
      return { start, end: now(), proof: `SELECT 1 through a proxy took ${Math.round(rtt)} ms` };
    },
  },
  {
    name: "pool exhaustion",
    description:
      "each client also runs 30 loops of pg_sleep(0.5) for 4 s on its 10 connections; the workload queues behind them",
    shorterThanDeadline: false,
    async run(context) {
      const start = now();
      context.tell({ type: "exhaust", loops: 30, ms: 4_000 });
      await sleep(1_500);
      const sleeping = await admin(context, async (c) => {
        const r = await c.query<{ n: number }>(SLEEPING, [context.database]);
        return r.rows[0]?.n ?? 0;
      });
      // The fault ends when the last hold has returned its connection (bounded).
      await sleep(4_000 - (now() - start));
      await admin(context, async (c) => {
        for (let i = 0; i < 100; i++) {
          const r = await c.query<{ n: number }>(SLEEPING, [context.database]);
          if ((r.rows[0]?.n ?? 0) === 0) return;
          await sleep(20);
        }
      });
      return { start, end: now(), proof: `${sleeping} pg_sleep calls active at once mid-fault` };
    },
  },
];
