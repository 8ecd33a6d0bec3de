import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigError } from "../../src/errors/config-error.js";
import { CanceledError, CircuitOpenError, TimeoutError } from "../../src/errors/errors.js";
import {
  type CircuitBreakerOptions,
  type CircuitEvent,
  circuitBreaker,
} from "../../src/policy/circuit-breaker.js";
import { FakeClock } from "../../src/testing/fake-clock.js";
import {
  configIssue,
  connectionReset,
  connectRefused,
  type Deferred,
  deferred,
  observe,
  uniqueViolation,
} from "./helpers.js";

const ok = async () => "ok";
const fail = (error: Error) => async () => {
  throw error;
};

function breaker(clock: FakeClock, options: CircuitBreakerOptions = {}) {
  return circuitBreaker({ clock, name: "db", ...options });
}

/** Runs `n` calls that fail with `error`, ignoring their rejections. */
async function failTimes(b: ReturnType<typeof breaker>, n: number, error: () => Error) {
  for (let i = 0; i < n; i++) await b.execute(fail(error())).catch(() => {});
}

describe("circuitBreaker", () => {
  it("opens after consecutive infrastructure failures and fails fast with retryAfterMs", async () => {
    const clock = new FakeClock();
    const b = breaker(clock, { consecutiveFailures: 3, breakDuration: "5s" });
    const cause = connectRefused();
    await failTimes(b, 2, connectRefused);
    assert.equal(b.state, "closed");
    await b.execute(fail(cause)).catch(() => {});
    assert.equal(b.state, "open");
    clock.advance(1_000);
    let ran = false;
    const error = await b
      .execute(async () => {
        ran = true;
      })
      .catch((e: unknown) => e);
    assert.equal(ran, false);
    assert.ok(error instanceof CircuitOpenError);
    assert.equal(error.retryAfterMs, 4_000);
    assert.equal(error.breaker, "db");
    assert.equal(error.cause, cause);
  });

  it("a unique violation (23505) never opens it, and resets the consecutive count", async () => {
    const clock = new FakeClock();
    const b = breaker(clock, { consecutiveFailures: 2, minimumThroughput: 2, failureRatio: 0.1 });
    await failTimes(b, 200, uniqueViolation);
    assert.equal(b.state, "closed");
    await failTimes(b, 1, connectRefused);
    await failTimes(b, 1, uniqueViolation);
    await failTimes(b, 1, connectRefused);
    assert.equal(b.stats().consecutiveFailures, 1);
  });

  it("opens on the failure ratio over the window once minimum throughput is reached", async () => {
    const clock = new FakeClock();
    const b = breaker(clock, {
      consecutiveFailures: 0,
      failureRatio: 0.5,
      minimumThroughput: 10,
      samplingDuration: "10s",
    });
    for (let i = 0; i < 4; i++) {
      await b.execute(ok);
      await failTimes(b, 1, connectRefused);
    }
    assert.equal(b.state, "closed", "8 calls: below minimum throughput");
    await b.execute(ok);
    await failTimes(b, 1, connectRefused);
    assert.equal(b.state, "open", "5 of 10 failed");
    const opens = b.stats().opened;
    assert.equal(opens, 1);
  });

  it("forgets calls that slid out of the sampling window", async () => {
    const clock = new FakeClock();
    const b = breaker(clock, {
      consecutiveFailures: 0,
      failureRatio: 0.5,
      minimumThroughput: 4,
      samplingDuration: "10s",
    });
    await failTimes(b, 3, connectRefused);
    clock.advance(10_000);
    assert.equal(b.stats().calls, 0);
    await b.execute(ok);
    await failTimes(b, 1, connectRefused);
    assert.equal(b.state, "closed", "only 2 calls in the window");
  });

  it("caller cancellation counts as nothing", async () => {
    const clock = new FakeClock();
    const b = breaker(clock, { consecutiveFailures: 1 });
    await failTimes(b, 5, () => new CanceledError());
    assert.equal(b.state, "closed");
    assert.equal(b.stats().calls, 0);
  });

  it("a caller's deadline between refused connects neither opens it nor resets the run", async () => {
    const clock = new FakeClock();
    const b = breaker(clock, { consecutiveFailures: 3 });
    await failTimes(b, 2, connectRefused);
    await failTimes(b, 4, () => new TimeoutError(300, "acquire"));
    assert.equal(b.state, "closed", "timeouts alone never open it");
    await failTimes(b, 1, connectRefused);
    assert.equal(
      b.state,
      "open",
      "the third refused connect opens it despite the timeouts between",
    );
  });

  it("connections lost under a statement (terminated backends) do not open it; refused connects do", async () => {
    const clock = new FakeClock();
    const b = breaker(clock, { consecutiveFailures: 3, minimumThroughput: 2, failureRatio: 0.5 });
    const terminated = () =>
      Object.assign(new Error("terminating connection due to administrator command"), {
        code: "57P01",
        severity: "FATAL",
      });
    await failTimes(b, 10, connectionReset);
    await failTimes(b, 10, terminated);
    assert.equal(b.state, "closed", "dead connections are not an outage");
    await failTimes(b, 3, connectRefused);
    assert.equal(b.state, "open");
  });

  it("half-open admits exactly one probe; others fail fast until it settles", async () => {
    const clock = new FakeClock();
    const b = breaker(clock, { consecutiveFailures: 1, breakDuration: 1_000 });
    await failTimes(b, 1, connectRefused);
    clock.advance(1_000);
    const probe = deferred<string>();
    const first = observe(
      clock,
      b.execute(() => probe.promise),
    );
    assert.equal(b.state, "half-open");
    const second = await b.execute(ok).catch((e: unknown) => e);
    assert.ok(second instanceof CircuitOpenError);
    assert.equal(second.retryAfterMs, 0);
    probe.resolve("fine");
    await clock.tick(0);
    assert.equal(first.value, "fine");
    assert.equal(b.state, "closed");
    assert.equal(await b.execute(ok), "ok");
  });

  it("a failed probe reopens with a break that grows ×2 up to the cap, and success resets it", async () => {
    const clock = new FakeClock();
    const b = breaker(clock, {
      consecutiveFailures: 1,
      breakDuration: "1s",
      maxBreakDuration: "3s",
    });
    const breaks: number[] = [];
    b.on("open", (e) => breaks.push(e.breakDurationMs ?? -1));
    await failTimes(b, 1, connectRefused);
    for (const wait of [1_000, 2_000, 3_000]) {
      clock.advance(wait - 1);
      await assert.rejects(b.execute(ok), CircuitOpenError, `still open before ${wait} ms`);
      clock.advance(1);
      await failTimes(b, 1, connectRefused); // the probe fails
    }
    assert.deepEqual(breaks, [1_000, 2_000, 3_000, 3_000]);
    clock.advance(3_000);
    await b.execute(ok);
    assert.equal(b.state, "closed");
    await failTimes(b, 1, connectRefused);
    assert.equal(b.stats().breakDurationMs, 1_000, "reset after success");
  });

  it("a probe failing with a non-infrastructure error closes it (the database answered)", async () => {
    const clock = new FakeClock();
    const b = breaker(clock, { consecutiveFailures: 1, breakDuration: 100 });
    await failTimes(b, 1, connectRefused);
    clock.advance(100);
    await failTimes(b, 1, uniqueViolation);
    assert.equal(b.state, "closed");
  });

  it("with a probe function, recovers on a timer without user traffic", async () => {
    const clock = new FakeClock();
    let healthy = false;
    let probes = 0;
    const b = breaker(clock, {
      consecutiveFailures: 1,
      breakDuration: "1s",
      probe: async () => {
        probes++;
        if (!healthy) throw connectRefused();
      },
    });
    const events: CircuitEvent[] = [];
    b.on("stateChange", (e) => events.push(e));
    await failTimes(b, 1, connectRefused);
    await clock.tick(1_000);
    assert.equal(probes, 1);
    assert.equal(b.state, "open", "probe failed");
    await clock.tick(1_999);
    assert.equal(probes, 1);
    await assert.rejects(b.execute(ok), CircuitOpenError, "user calls never probe");
    healthy = true;
    await clock.tick(1);
    assert.equal(probes, 2);
    assert.equal(b.state, "closed");
    assert.deepEqual(
      events.map((e) => `${e.from}->${e.to}:${e.reason}`),
      [
        "closed->open:consecutive-failures",
        "open->half-open:break-elapsed",
        "half-open->open:probe-failed",
        "open->half-open:break-elapsed",
        "half-open->closed:probe-succeeded",
      ],
    );
  });

  it("a probe that hangs past probeTimeout counts as failed", async () => {
    const clock = new FakeClock();
    const b = breaker(clock, {
      consecutiveFailures: 1,
      breakDuration: 100,
      probeTimeout: 50,
      probe: () => new Promise(() => {}),
    });
    let reason: unknown;
    b.on("open", (e) => {
      reason = e.error;
    });
    await failTimes(b, 1, connectRefused);
    await clock.tick(150);
    assert.equal(b.state, "open");
    assert.ok(reason instanceof TimeoutError);
    assert.equal(b.stats().breakDurationMs, 200);
  });

  it("isolate() holds it open with no probes; reset() closes it", async () => {
    const clock = new FakeClock();
    let probes = 0;
    const b = breaker(clock, {
      probe: async () => {
        probes++;
      },
    });
    b.isolate();
    assert.equal(b.state, "isolated");
    await assert.rejects(b.execute(ok), CircuitOpenError);
    await clock.tick(120_000);
    assert.equal(probes, 0);
    assert.equal(b.state, "isolated");
    b.reset();
    assert.equal(b.state, "closed");
    assert.equal(await b.execute(ok), "ok");
  });

  it("reports stats", async () => {
    const clock = new FakeClock();
    const b = breaker(clock, { consecutiveFailures: 2, breakDuration: "5s" });
    await b.execute(ok);
    await failTimes(b, 1, connectRefused);
    assert.deepEqual(b.stats(), {
      name: "db",
      state: "closed",
      calls: 2,
      failures: 1,
      consecutiveFailures: 1,
      breakDurationMs: 5_000,
      retryAfterMs: 0,
      opened: 0,
    });
    await failTimes(b, 1, connectRefused);
    clock.advance(2_000);
    assert.equal(b.stats().retryAfterMs, 3_000);
  });

  it("rejects invalid options naming each field", () => {
    let error: unknown;
    try {
      circuitBreaker({
        failureRatio: 1.5,
        minimumThroughput: 0,
        breakDuration: "10s",
        maxBreakDuration: "1s",
        isFailure: true as never,
        probe: "select 1" as never,
      });
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    assert.match(configIssue(error, "circuitBreaker.failureRatio").expected, /between 0 and 1/);
    assert.match(configIssue(error, "circuitBreaker.failureRatio").received, /number 1.5/);
    assert.match(configIssue(error, "circuitBreaker.minimumThroughput").expected, />= 1/);
    assert.match(
      configIssue(error, "circuitBreaker.maxBreakDuration").expected,
      />= breakDuration/,
    );
    assert.match(configIssue(error, "circuitBreaker.isFailure").expected, /function/);
    assert.match(configIssue(error, "circuitBreaker.probe").received, /string/);
  });

  it("property: never more than one half-open probe in flight, whatever the interleaving", async () => {
    const command = fc.oneof(
      fc.constant({ kind: "call" as const }),
      fc.record({ kind: fc.constant("succeed" as const), pick: fc.nat() }),
      fc.record({
        kind: fc.constant("fail" as const),
        pick: fc.nat(),
        error: fc.constantFrom("infra", "unique", "canceled"),
      }),
      fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.boolean(),
        fc.array(command, { maxLength: 60 }),
        async (withProbe, probeHealthy, commands) => {
          const clock = new FakeClock();
          let probesInFlight = 0;
          let maxProbes = 0;
          const b = breaker(clock, {
            consecutiveFailures: 2,
            minimumThroughput: 3,
            breakDuration: 1_000,
            maxBreakDuration: 4_000,
            ...(withProbe
              ? {
                  probe: () => {
                    probesInFlight++;
                    maxProbes = Math.max(maxProbes, probesInFlight);
                    const d = deferred();
                    // Settle the breaker's own probe a little later, on the fake clock.
                    clock.setTimeout(() => {
                      if (probeHealthy) d.resolve();
                      else d.reject(connectRefused());
                    }, 100);
                    return d.promise.finally(() => probesInFlight--);
                  },
                }
              : {}),
          });
          const inFlight: { d: Deferred<void>; probe: boolean }[] = [];
          for (const c of commands) {
            if (c.kind === "call") {
              b.execute(() => {
                const probe = b.state === "half-open";
                const d = deferred();
                if (probe) {
                  probesInFlight++;
                  maxProbes = Math.max(maxProbes, probesInFlight);
                }
                inFlight.push({ d, probe });
                return d.promise;
              }).catch(() => {});
            } else if (c.kind === "advance") {
              await clock.tick(c.ms);
            } else {
              const i = c.pick % Math.max(1, inFlight.length);
              const call = inFlight[i];
              if (!call) continue;
              inFlight.splice(i, 1);
              if (call.probe) probesInFlight--;
              if (c.kind === "succeed") call.d.resolve();
              else
                call.d.reject(
                  c.error === "infra"
                    ? connectRefused()
                    : c.error === "unique"
                      ? uniqueViolation()
                      : new CanceledError(),
                );
              await clock.tick(0);
            }
            if (maxProbes > 1) return false;
          }
          return maxProbes <= 1;
        },
      ),
      { numRuns: 200 },
    );
  });
});
