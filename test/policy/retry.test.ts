import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigError } from "../../src/errors/config-error.js";
import { CanceledError, CircuitOpenError } from "../../src/errors/errors.js";
import type { PolicyContext } from "../../src/policy/context.js";
import { type GiveUpEvent, type RetryEvent, retry } from "../../src/policy/retry.js";
import { retryBudget } from "../../src/policy/retry-budget.js";
import { FakeClock } from "../../src/testing/fake-clock.js";
import {
  configIssue,
  connectionReset,
  connectRefused,
  observe,
  uniqueViolation,
} from "./helpers.js";

const noJitter = { base: 100, cap: 1_000, jitter: "none" } as const;

/** An operation that fails with the given errors in turn, then returns "ok". */
function failing(clock: FakeClock, ...errors: Error[]) {
  const calls: { at: number; attempt: number }[] = [];
  const fn = async (ctx: PolicyContext) => {
    calls.push({ at: clock.now(), attempt: ctx.attempt });
    const error = errors[calls.length - 1];
    if (error) throw error;
    return "ok";
  };
  return { fn, calls };
}

describe("retry", () => {
  it("retries a retryable failure until it succeeds, sleeping the backoff on the clock", async () => {
    const clock = new FakeClock();
    const policy = retry({ clock, backoff: noJitter, budget: false });
    const { fn, calls } = failing(clock, connectRefused(), connectRefused());
    const result = observe(clock, policy.execute(fn));
    await clock.runAll();
    assert.equal(result.value, "ok");
    assert.deepEqual(calls, [
      { at: 0, attempt: 1 },
      { at: 100, attempt: 2 },
      { at: 300, attempt: 3 },
    ]);
  });

  it("makes at most maxAttempts attempts (the first included) and rethrows the last error", async () => {
    const clock = new FakeClock();
    const last = connectRefused();
    const policy = retry({ clock, maxAttempts: 3, backoff: noJitter, budget: false });
    const { fn, calls } = failing(
      clock,
      connectRefused(),
      connectRefused(),
      last,
      connectRefused(),
    );
    const result = observe(clock, policy.execute(fn));
    await clock.runAll();
    assert.equal(calls.length, 3);
    assert.equal(result.error, last);
  });

  it("maxAttempts 1 never retries", async () => {
    const clock = new FakeClock();
    const { fn, calls } = failing(clock, connectRefused());
    await assert.rejects(retry({ clock, maxAttempts: 1 }).execute(fn), { code: "ECONNREFUSED" });
    assert.equal(calls.length, 1);
  });

  it("never retries a permanent error (a unique violation)", async () => {
    const clock = new FakeClock();
    const { fn, calls } = failing(clock, uniqueViolation());
    await assert.rejects(retry({ clock }).execute(fn), { code: "23505" });
    assert.equal(calls.length, 1);
  });

  it("retries an unknown-outcome failure only when the call is idempotent", async () => {
    const clock = new FakeClock();
    const policy = retry({ clock, backoff: noJitter, budget: false });
    const write = failing(clock, connectionReset());
    await assert.rejects(policy.execute(write.fn), { code: "ECONNRESET" });
    assert.equal(write.calls.length, 1, "a write that may have run is not retried");

    const read = failing(clock, connectionReset());
    const result = observe(clock, policy.execute(read.fn, { idempotent: true }));
    await clock.runAll();
    assert.equal(result.value, "ok");
    assert.equal(read.calls.length, 2);
  });

  it("stops at an open circuit (CircuitOpenError is not retryable)", async () => {
    const clock = new FakeClock();
    const { fn, calls } = failing(clock, new CircuitOpenError(5_000, "db"));
    await assert.rejects(retry({ clock }).execute(fn, { idempotent: true }), CircuitOpenError);
    assert.equal(calls.length, 1);
  });

  it("asks shouldRetry with the classification, error, attempt and context", async () => {
    const clock = new FakeClock();
    const seen: unknown[] = [];
    const policy = retry({
      clock,
      backoff: noJitter,
      budget: false,
      shouldRetry: (classification, error, attempt, context) => {
        seen.push([classification.code, (error as Error).message, attempt, context.idempotent]);
        return true; // retry even the unique violation
      },
    });
    const { fn, calls } = failing(clock, uniqueViolation());
    const result = observe(clock, policy.execute(fn));
    await clock.runAll();
    assert.equal(result.value, "ok");
    assert.equal(calls.length, 2);
    assert.deepEqual(seen, [
      ["PG_23505", 'duplicate key value violates unique constraint "users_pkey"', 1, false],
    ]);
  });

  it("never starts a backoff sleep that would end at or past the deadline", async () => {
    const clock = new FakeClock();
    const policy = retry({ clock, maxAttempts: 10, backoff: noJitter, budget: false });
    const last = connectRefused();
    // Attempts at 0, 100, 300; the next sleep (400 ms) would end at 700 > deadline 650.
    const { fn, calls } = failing(clock, connectRefused(), connectRefused(), last);
    const giveUps: GiveUpEvent[] = [];
    policy.on("giveUp", (e) => giveUps.push(e));
    const result = observe(clock, policy.execute(fn, { timeout: 650 }));
    await clock.runAll();
    assert.deepEqual(
      calls.map((c) => c.at),
      [0, 100, 300],
    );
    assert.equal(result.error, last, "the last real error, not a timeout");
    assert.equal(result.at, 300, "fails at once instead of sleeping");
    assert.equal(giveUps[0]?.reason, "deadline");
  });

  it("aborting during a backoff sleep rejects at once with CanceledError", async () => {
    const clock = new FakeClock();
    const policy = retry({
      clock,
      backoff: { base: "10s", cap: "10s", jitter: "none" },
      budget: false,
    });
    const controller = new AbortController();
    const { fn, calls } = failing(clock, connectRefused());
    const result = observe(clock, policy.execute(fn, { signal: controller.signal }));
    await clock.tick(1_000);
    assert.equal(result.settled, false);
    assert.equal(clock.pendingTimers, 1, "sleeping");
    controller.abort();
    await clock.tick(0);
    assert.ok(result.error instanceof CanceledError);
    assert.equal(result.at, 1_000);
    assert.equal(clock.pendingTimers, 0, "the sleep timer was cleared");
    assert.equal(calls.length, 1);
  });

  it("does not start when the signal is already aborted", async () => {
    const clock = new FakeClock();
    const { fn, calls } = failing(clock);
    await assert.rejects(
      retry({ clock }).execute(fn, { signal: AbortSignal.abort("bye") }),
      (err: unknown) => err instanceof CanceledError && err.cause === "bye",
    );
    assert.equal(calls.length, 0);
  });

  it("surfaces the original error at once when the budget is empty", async () => {
    const clock = new FakeClock();
    const budget = retryBudget({ clock, minRetriesPerSecond: 0, percentCanRetry: 0 });
    const policy = retry({ clock, budget, backoff: noJitter });
    const original = connectRefused();
    const { fn, calls } = failing(clock, original);
    const giveUps: GiveUpEvent[] = [];
    policy.on("giveUp", (e) => giveUps.push(e));
    const result = observe(clock, policy.execute(fn));
    await clock.tick(0);
    assert.equal(result.error, original);
    assert.equal(result.at, 0);
    assert.equal(calls.length, 1);
    assert.equal(clock.pendingTimers, 0, "no sleep was started");
    assert.equal(giveUps[0]?.reason, "budget");
    assert.equal(budget.stats().rejections, 1);
  });

  it("shares one budget: each call deposits once, each retry withdraws once", async () => {
    const clock = new FakeClock();
    const budget = retryBudget({ clock, minRetriesPerSecond: 1, ttl: "1s", percentCanRetry: 0 });
    const policy = retry({ clock, budget, backoff: noJitter, maxAttempts: 5 });
    const a = failing(clock, connectRefused(), connectRefused(), connectRefused());
    const result = observe(clock, policy.execute(a.fn));
    await clock.runAll();
    assert.equal(a.calls.length, 2, "one retry from the reserve of 1");
    assert.equal(result.error instanceof Error, true);
    assert.deepEqual(budget.stats(), { available: 0, deposits: 1, withdrawals: 1, rejections: 1 });
  });

  it("emits retry events with attempt, delay, classification and error", async () => {
    const clock = new FakeClock();
    const policy = retry({ clock, backoff: noJitter, budget: false });
    const events: RetryEvent[] = [];
    policy.on("retry", (e) => events.push(e));
    const first = connectRefused();
    const { fn } = failing(clock, first, connectRefused());
    policy.execute(fn);
    await clock.runAll();
    assert.deepEqual(
      events.map((e) => [e.attempt, e.delay, e.classification.code]),
      [
        [1, 100, "ECONNREFUSED"],
        [2, 200, "ECONNREFUSED"],
      ],
    );
    assert.equal(events[0]?.error, first);
  });

  it("rejects invalid options naming each field", () => {
    let error: unknown;
    try {
      retry({
        maxAttempts: 0,
        backoff: { base: "1s", cap: "10ms" },
        budget: { percentCanRetry: 2 },
        shouldRetry: "yes" as never,
        maxAttempt: 3,
      } as never);
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    assert.match(configIssue(error, "retry.maxAttempts").expected, /integer >= 1/);
    assert.match(configIssue(error, "retry.maxAttempts").received, /number 0/);
    assert.match(configIssue(error, "retry.backoff.base").expected, /<= cap/);
    assert.match(configIssue(error, "retry.budget.percentCanRetry").expected, /between 0 and 1/);
    assert.match(configIssue(error, "retry.shouldRetry").received, /string/);
    assert.match(configIssue(error, "retry.maxAttempt").expected, /did you mean "maxAttempts"/);
  });

  it("property: no attempt starts at or after the deadline, and the call settles by it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.constantFrom("full", "decorrelated", "none" as const),
        fc.integer({ min: 1, max: 1_000_000 }),
        async (a, b, maxAttempts, timeout, jitter, seed) => {
          const clock = new FakeClock(1_000);
          const [base, cap] = a <= b ? [a, b] : [b, a];
          let state = seed;
          const random = () => {
            state = (state * 48_271) % 2_147_483_647;
            return state / 2_147_483_647;
          };
          const policy = retry({
            clock,
            random,
            maxAttempts,
            backoff: { base, cap, jitter },
            budget: false,
          });
          const starts: number[] = [];
          const result = observe(
            clock,
            policy.execute(
              async () => {
                starts.push(clock.now());
                throw connectRefused();
              },
              { timeout },
            ),
          );
          await clock.runAll();
          const deadline = 1_000 + timeout;
          return (
            result.settled &&
            starts.length <= maxAttempts &&
            starts.every((t) => t < deadline) &&
            (result.at ?? Number.POSITIVE_INFINITY) < deadline
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});
