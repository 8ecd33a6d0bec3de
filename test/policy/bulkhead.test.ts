import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../src/errors/config-error.js";
import { CanceledError } from "../../src/errors/errors.js";
import { BulkheadRejectedError, bulkhead } from "../../src/policy/bulkhead.js";
import { FakeClock } from "../../src/testing/fake-clock.js";
import { configIssue, type Deferred, deferred, observe } from "./helpers.js";

describe("bulkhead", () => {
  it("runs at most maxConcurrent at once and admits waiters in FIFO order", async () => {
    const clock = new FakeClock();
    const b = bulkhead({ clock, maxConcurrent: 2, maxQueue: 10, queueTimeout: "10s" });
    const started: number[] = [];
    const gates: Deferred<void>[] = [];
    const run = (i: number) =>
      b.execute(() => {
        started.push(i);
        const d = deferred();
        gates[i] = d;
        return d.promise;
      });
    const calls = [0, 1, 2, 3, 4].map((i) => observe(clock, run(i)));
    await clock.tick(0);
    assert.deepEqual(started, [0, 1]);
    assert.deepEqual(b.stats(), { active: 2, queued: 3, maxConcurrent: 2, maxQueue: 10 });
    gates[1]?.resolve();
    await clock.tick(0);
    assert.deepEqual(started, [0, 1, 2]);
    gates[0]?.reject(new Error("x"));
    await clock.tick(0);
    assert.deepEqual(started, [0, 1, 2, 3]);
    gates[2]?.resolve();
    gates[3]?.resolve();
    await clock.tick(0);
    gates[4]?.resolve();
    await clock.tick(0);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(calls.filter((c) => c.settled).length, 5);
    assert.deepEqual(b.stats(), { active: 0, queued: 0, maxConcurrent: 2, maxQueue: 10 });
  });

  it("rejects at once with BULKHEAD_FULL when the queue is full", async () => {
    const clock = new FakeClock();
    const b = bulkhead({ clock, maxConcurrent: 1, maxQueue: 1 });
    const hold = deferred();
    observe(
      clock,
      b.execute(() => hold.promise),
    );
    const queued = observe(
      clock,
      b.execute(async () => "queued"),
    );
    const error = await b.execute(async () => "never").catch((e: unknown) => e);
    assert.ok(error instanceof BulkheadRejectedError);
    assert.equal(error.code, "BULKHEAD_FULL");
    assert.equal(error.waitedMs, 0);
    hold.resolve();
    await clock.tick(0);
    assert.equal(queued.value, "queued");
  });

  it("rejects a waiter with BULKHEAD_TIMEOUT after queueTimeout", async () => {
    const clock = new FakeClock();
    const b = bulkhead({ clock, maxConcurrent: 1, maxQueue: 5, queueTimeout: "500ms" });
    observe(
      clock,
      b.execute(() => new Promise(() => {})),
    );
    let ran = false;
    const waiter = observe(
      clock,
      b.execute(async () => {
        ran = true;
      }),
    );
    await clock.tick(499);
    assert.equal(waiter.settled, false);
    await clock.tick(1);
    assert.ok(waiter.error instanceof BulkheadRejectedError);
    assert.equal(waiter.error.code, "BULKHEAD_TIMEOUT");
    assert.equal(waiter.error.waitedMs, 500);
    assert.equal(ran, false);
    assert.equal(b.queued, 0);
  });

  it("a call's shorter deadline cuts its wait", async () => {
    const clock = new FakeClock();
    const b = bulkhead({ clock, maxConcurrent: 1, queueTimeout: "10s" });
    observe(
      clock,
      b.execute(() => new Promise(() => {})),
    );
    const waiter = observe(
      clock,
      b.execute(async () => 1, { timeout: 200 }),
    );
    await clock.tick(200);
    assert.ok(waiter.error instanceof BulkheadRejectedError);
    assert.equal(waiter.at, 200);
  });

  it("a waiter whose caller aborts leaves the queue at once", async () => {
    const clock = new FakeClock();
    const b = bulkhead({ clock, maxConcurrent: 1 });
    const hold = deferred();
    observe(
      clock,
      b.execute(() => hold.promise),
    );
    const controller = new AbortController();
    const aborted = observe(
      clock,
      b.execute(async () => "a", { signal: controller.signal }),
    );
    const next = observe(
      clock,
      b.execute(async () => "b"),
    );
    controller.abort();
    await clock.tick(0);
    assert.ok(aborted.error instanceof CanceledError);
    assert.equal(b.queued, 1);
    hold.resolve();
    await clock.tick(0);
    assert.equal(next.value, "b");
    assert.equal(b.active, 0);
  });

  it("rejects invalid options naming each field", () => {
    let error: unknown;
    try {
      bulkhead({ maxConcurrent: 0, maxQueue: -1, queueTimeout: "soon" as never });
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    assert.match(configIssue(error, "bulkhead.maxConcurrent").expected, /integer >= 1/);
    assert.match(configIssue(error, "bulkhead.maxQueue").received, /number -1/);
    assert.match(configIssue(error, "bulkhead.queueTimeout").received, /"soon"/);
  });
});
