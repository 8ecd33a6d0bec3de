import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../src/errors/config-error.js";
import { CircuitOpenError, TimeoutError } from "../../src/errors/errors.js";
import { circuitBreaker } from "../../src/policy/circuit-breaker.js";
import { pipeline } from "../../src/policy/compose.js";
import type { PolicyContext } from "../../src/policy/context.js";
import { deadline } from "../../src/policy/deadline.js";
import { retry } from "../../src/policy/retry.js";
import { FakeClock } from "../../src/testing/fake-clock.js";
import { connectionReset, connectRefused, observe } from "./helpers.js";

const backoff = { base: 100, cap: 10_000, jitter: "none" } as const;

describe("pipeline", () => {
  it("an outer deadline covers every attempt and sleep, and aborts the running attempt", async () => {
    const clock = new FakeClock();
    const policy = pipeline(
      deadline({ clock, timeout: "1s" }),
      retry({ clock, maxAttempts: 10, backoff, budget: false }),
      circuitBreaker({ clock, consecutiveFailures: 0 }),
    );
    const attempts: number[] = [];
    let lastSignal: AbortSignal | undefined;
    const result = observe(
      clock,
      policy.execute((ctx) => {
        attempts.push(clock.now());
        lastSignal = ctx.signal;
        // Each attempt takes 300 ms and then fails.
        return new Promise((_resolve, reject) => {
          clock.setTimeout(() => reject(connectRefused()), 300);
        });
      }),
    );
    await clock.runAll();
    // 0–300 fail, sleep 100, 400–700 fail, sleep 200, 900–: cut at 1000.
    assert.deepEqual(attempts, [0, 400, 900]);
    assert.ok(result.error instanceof TimeoutError);
    assert.equal(result.at, 1_000);
    assert.equal(lastSignal?.aborted, true);
  });

  it("the breaker counts each attempt and, once open, stops the retries", async () => {
    const clock = new FakeClock();
    const breaker = circuitBreaker({ clock, consecutiveFailures: 2 });
    const policy = pipeline(retry({ clock, maxAttempts: 5, backoff, budget: false }), breaker);
    let calls = 0;
    const result = observe(
      clock,
      policy.execute(async () => {
        calls++;
        throw connectRefused();
      }),
    );
    await clock.runAll();
    assert.equal(calls, 2, "third attempt refused by the open breaker");
    assert.ok(result.error instanceof CircuitOpenError);
    assert.equal(breaker.state, "open");
  });

  it("passes idempotent, attempt, deadline and signal down to the operation", async () => {
    const clock = new FakeClock(1_000);
    const policy = pipeline(
      deadline({ clock, timeout: "5s" }),
      retry({ clock, backoff, budget: false }),
      circuitBreaker({ clock }),
    );
    const seen: [number, boolean, number][] = [];
    const result = observe(
      clock,
      policy.execute(
        (ctx: PolicyContext) => {
          seen.push([ctx.attempt, ctx.idempotent, ctx.deadline]);
          if (ctx.attempt === 1) throw connectionReset(); // outcome unknown: idempotent only
          return "done";
        },
        { idempotent: true, timeout: "2s" },
      ),
    );
    await clock.runAll();
    assert.equal(result.value, "done");
    assert.deepEqual(seen, [
      [1, true, 3_000],
      [2, true, 3_000],
    ]);
  });

  it("a per-attempt deadline inside retry leaves time for another attempt", async () => {
    const clock = new FakeClock();
    const policy = pipeline(
      deadline({ clock, timeout: "1s" }),
      retry({ clock, backoff, budget: false }),
      deadline({ clock, timeout: 300, phase: "query" }),
    );
    const result = observe(
      clock,
      policy.execute(
        (ctx) =>
          ctx.attempt === 1 ? new Promise(() => {}) : Promise.resolve(`attempt ${ctx.attempt}`),
        { idempotent: true },
      ),
    );
    await clock.runAll();
    assert.equal(result.value, "attempt 2");
    assert.equal(result.at, 400, "300 ms attempt timeout, then a 100 ms backoff");
  });

  it("an invalid per-call timeout rejects with a ConfigError, never a synchronous throw", async () => {
    const clock = new FakeClock();
    const policy = pipeline(deadline({ clock }), retry({ clock }));
    const call = policy.execute(async () => 1, { timeout: "soon" as never });
    await assert.rejects(
      call,
      (err: unknown) => err instanceof ConfigError && /timeout/.test(err.message),
    );
  });

  it("an empty pipeline just runs the operation", async () => {
    assert.equal(await pipeline().execute(() => 7), 7);
    await assert.rejects(
      pipeline().execute(() => {
        throw new Error("sync");
      }),
      /sync/,
    );
  });
});
