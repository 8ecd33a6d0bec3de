import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigError } from "../../src/errors/config-error.js";
import { RetryBudget, retryBudget } from "../../src/policy/retry-budget.js";
import { FakeClock } from "../../src/testing/fake-clock.js";
import { configIssue } from "./helpers.js";

describe("RetryBudget", () => {
  it("grants the reserve (minRetriesPerSecond × ttl) with no traffic, then refuses", () => {
    const clock = new FakeClock();
    const budget = retryBudget({ clock, minRetriesPerSecond: 2, ttl: "5s" });
    let granted = 0;
    while (budget.tryWithdraw()) granted++;
    assert.equal(granted, 10);
    assert.deepEqual(budget.stats(), { available: 0, deposits: 0, withdrawals: 10, rejections: 1 });
  });

  it("earns percentCanRetry of a retry per call", () => {
    const clock = new FakeClock();
    const budget = retryBudget({ clock, minRetriesPerSecond: 0, percentCanRetry: 0.2 });
    for (let i = 0; i < 4; i++) budget.deposit();
    assert.equal(budget.tryWithdraw(), false, "4 × 0.2 is less than one retry");
    budget.deposit();
    assert.equal(budget.tryWithdraw(), true, "5 × 0.2 is exactly one retry");
    assert.equal(budget.tryWithdraw(), false);
  });

  it("forgets deposits and withdrawals after ttl", () => {
    const clock = new FakeClock();
    const budget = retryBudget({ clock, minRetriesPerSecond: 1, ttl: "10s", percentCanRetry: 0.5 });
    for (let i = 0; i < 10; i++) budget.deposit();
    assert.equal(budget.available, 15);
    clock.advance(9_000);
    assert.equal(budget.available, 15);
    clock.advance(1_000);
    assert.equal(budget.available, 10, "deposits expired; the reserve remains");
    for (let i = 0; i < 10; i++) assert.ok(budget.tryWithdraw());
    assert.equal(budget.tryWithdraw(), false);
    clock.advance(10_000);
    assert.equal(budget.available, 10, "withdrawals expired too");
  });

  it("defaults to Finagle's values: ttl 10 s, 20 %, 10 retries/s", () => {
    const budget = new RetryBudget({ clock: new FakeClock() });
    assert.equal(budget.available, 100);
  });

  it("rejects invalid options naming each field", () => {
    let error: unknown;
    try {
      retryBudget({
        percentCanRetry: 1.5,
        ttl: "100ms",
        minRetriesPerSecond: -1,
        clock: {} as never,
      });
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    assert.match(configIssue(error, "retryBudget.percentCanRetry").expected, /between 0 and 1/);
    assert.match(configIssue(error, "retryBudget.ttl").expected, /between 1000 ms and 60000 ms/);
    assert.match(configIssue(error, "retryBudget.minRetriesPerSecond").received, /number -1/);
    assert.match(configIssue(error, "retryBudget.clock").expected, /Clock/);
  });

  it("property: retries in any window of ttl − bucket never exceed reserve + percent × calls", () => {
    const step = fc.record({
      advance: fc.integer({ min: 0, max: 2_500 }),
      calls: fc.integer({ min: 0, max: 30 }),
      retries: fc.integer({ min: 0, max: 40 }),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(step, { maxLength: 80 }),
        (ttlSeconds, permille, minPerSecond, steps) => {
          const ttl = ttlSeconds * 1_000;
          const bucket = ttl / 10;
          const clock = new FakeClock(0);
          const budget = retryBudget({
            clock,
            ttl,
            percentCanRetry: permille / 1_000,
            minRetriesPerSecond: minPerSecond,
          });
          const reserve = minPerSecond * ttlSeconds;
          const deposits: number[] = [];
          const withdrawals: number[] = [];
          for (const s of steps) {
            clock.advance(s.advance);
            const now = clock.now();
            for (let i = 0; i < s.calls; i++) {
              budget.deposit();
              deposits.push(now);
            }
            for (let i = 0; i < s.retries; i++) {
              if (!budget.tryWithdraw()) continue;
              withdrawals.push(now);
              // Every window of ttl − bucket that ends at a retry (and so every such window).
              const taken = withdrawals.filter((t) => t > now - (ttl - bucket)).length;
              const earned = deposits.filter((t) => t > now - ttl).length;
              // Integer arithmetic: permille / 1000 per call, exactly as the budget counts.
              if (taken * 1_000 > reserve * 1_000 + permille * earned) return false;
            }
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });
});
