import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigError } from "../../src/errors/config-error.js";
import { exponentialBackoff, type Jitter } from "../../src/policy/backoff.js";
import { configIssue } from "./helpers.js";

const fixed = (x: number) => () => x;

describe("exponentialBackoff", () => {
  it("defaults to full jitter from 50 ms, doubling, capped at 5 s", () => {
    const backoff = exponentialBackoff();
    assert.equal(backoff(1, 0, fixed(0.5)), 25);
    assert.equal(backoff(3, 0, fixed(0.5)), 100);
    assert.equal(backoff(30, 0, fixed(0.999)), 4_995);
    assert.equal(backoff(1, 0, fixed(0)), 0);
  });

  it("without jitter grows by factor up to cap", () => {
    const backoff = exponentialBackoff({ base: "100ms", cap: "1s", factor: 3, jitter: "none" });
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => backoff(n, 0, fixed(0.5))),
      [100, 300, 900, 1_000, 1_000],
    );
  });

  it("decorrelated jitter stays within [base, previous × 3] for factor 2", () => {
    const backoff = exponentialBackoff({ base: 10, cap: 10_000, jitter: "decorrelated" });
    assert.equal(backoff(1, 0, fixed(0)), 10);
    assert.equal(backoff(1, 0, fixed(0.5)), 20); // 10 + 0.5 × (30 - 10)
    assert.equal(backoff(2, 100, fixed(0.5)), 155); // 10 + 0.5 × (300 - 10)
  });

  it("survives huge retry numbers and zero base", () => {
    assert.equal(exponentialBackoff({ jitter: "none" })(10_000, 0, fixed(0.5)), 5_000);
    assert.equal(exponentialBackoff({ base: 0, jitter: "none" })(10_000, 0, fixed(0.5)), 0);
  });

  it("rejects invalid options with a ConfigError naming each field", () => {
    const error = catchError(() =>
      exponentialBackoff({ base: "2s", cap: "1s", factor: 0.5, jitter: "wild" as Jitter }),
    );
    assert.ok(error instanceof ConfigError);
    assert.match(configIssue(error, "backoff.base").expected, /<= cap/);
    assert.match(configIssue(error, "backoff.factor").received, /number 0.5/);
    assert.match(configIssue(error, "backoff.jitter").expected, /"full"/);
    const negative = catchError(() => exponentialBackoff({ base: -5 }));
    assert.match(configIssue(negative, "backoff.base").expected, /duration/);
    const unknown = catchError(() => exponentialBackoff({ bsae: 5 } as never));
    assert.match(configIssue(unknown, "backoff.bsae").expected, /did you mean "base"/);
  });

  it("property: a delay is never negative and never exceeds cap", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.constantFrom<Jitter>("full", "decorrelated", "none"),
        fc.integer({ min: 1, max: 2_000 }),
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (a, b, factor, jitter, retry, previous, r) => {
          const [base, cap] = a <= b ? [a, b] : [b, a];
          const delay = exponentialBackoff({ base, cap, factor, jitter })(
            retry,
            previous,
            fixed(r),
          );
          return delay >= 0 && delay <= cap && Number.isFinite(delay);
        },
      ),
    );
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail("expected a throw");
}
