/**
 * Micro-benchmark of the policy hot path: ns per call around an already-resolved async
 * function, for a bare `await`, Steadfast's composed policies and cockatiel 3.2.1's equivalent.
 *
 * Run standalone: `node --import tsx bench/policy.ts` (add `--expose-gc` for steadier numbers).
 */

import { pathToFileURL } from "node:url";
import {
  ConsecutiveBreaker,
  circuitBreaker as cockatielBreaker,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  wrap as cockatielWrap,
  ExponentialBackoff,
  handleAll,
  TimeoutStrategy,
} from "cockatiel";
import { circuitBreaker, deadline, pipeline, retry } from "../src/policy/index.js";

/** One measured case. */
export interface PolicyBenchResult {
  readonly name: string;
  readonly nsPerCall: number;
}

interface Case {
  readonly name: string;
  readonly call: () => Promise<unknown>;
}

const ITERATIONS = 200_000;
const WARMUP = 50_000;
const ROUNDS = 5;

/**
 * Measures every case in the same process, interleaved round by round, and reports each
 * case's best round (the least disturbed by GC and JIT).
 */
export async function runPolicyBench(
  iterations = ITERATIONS,
): Promise<{ name: string; nsPerCall: number }[]> {
  const work = async (): Promise<number> => 1;

  const steadfastDbOrder = pipeline(
    deadline({ timeout: "1s" }),
    retry({ maxAttempts: 3 }),
    circuitBreaker({ consecutiveFailures: 5, breakDuration: "10s" }),
  );
  const steadfastCockatielOrder = pipeline(
    retry({ maxAttempts: 3 }),
    circuitBreaker({ consecutiveFailures: 5, breakDuration: "10s" }),
    deadline({ timeout: "1s" }),
  );
  const cockatiel = cockatielWrap(
    cockatielRetry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() }),
    cockatielBreaker(handleAll, {
      halfOpenAfter: 10_000,
      breaker: new ConsecutiveBreaker(5),
    }),
    cockatielTimeout(1000, TimeoutStrategy.Cooperative),
  );
  const cases: Case[] = [
    { name: "bare await fn()", call: () => work() },
    {
      name: "steadfast pipeline(deadline, retry, breaker)",
      call: () => steadfastDbOrder.execute(work),
    },
    {
      name: "steadfast pipeline(retry, breaker, deadline)",
      call: () => steadfastCockatielOrder.execute(work),
    },
    {
      name: "cockatiel wrap(retry, breaker, timeout)",
      call: () => cockatiel.execute(work),
    },
  ];

  for (const c of cases) await loop(c.call, WARMUP);
  const best = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      collectGarbage();
      const started = performance.now();
      await loop(c.call, iterations);
      const ns = ((performance.now() - started) * 1e6) / iterations;
      best.set(c.name, Math.min(best.get(c.name) ?? Number.POSITIVE_INFINITY, ns));
    }
  }
  return cases.map((c) => ({ name: c.name, nsPerCall: Math.round(best.get(c.name) ?? 0) }));
}

async function loop(call: () => Promise<unknown>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await call();
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const results = await runPolicyBench();
  const width = Math.max(...results.map((r) => r.name.length));
  console.log(`${"case".padEnd(width)}  ns/call`);
  for (const r of results)
    console.log(`${r.name.padEnd(width)}  ${String(r.nsPerCall).padStart(7)}`);
}
