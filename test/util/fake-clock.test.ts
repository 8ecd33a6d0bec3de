import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeClock } from "../../src/testing/fake-clock.js";

describe("FakeClock", () => {
  it("fires timers in time order only when advanced", () => {
    const clock = new FakeClock(1_000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push("b"), 20);
    clock.setTimeout(() => fired.push("a"), 10);
    const cancelled = clock.setTimeout(() => fired.push("never"), 15);
    clock.clearTimeout(cancelled);
    clock.advance(9);
    assert.deepEqual(fired, []);
    clock.advance(11);
    assert.deepEqual(fired, ["a", "b"]);
    assert.equal(clock.now(), 1_020);
    assert.equal(clock.pendingTimers, 0);
  });

  it("fires timers scheduled by timers when they fall inside the advanced span", () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const again = () => {
      times.push(clock.now());
      if (times.length < 3) clock.setTimeout(again, 5);
    };
    clock.setTimeout(again, 5);
    clock.advance(100);
    assert.deepEqual(times, [5, 10, 15]);
  });

  it("tick lets an async loop that awaits the clock make progress", async () => {
    const clock = new FakeClock();
    const sleep = (ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));
    const seen: number[] = [];
    const loop = (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(100);
        seen.push(clock.now());
      }
    })();
    await clock.tick(250);
    assert.deepEqual(seen, [100, 200]);
    await clock.tick(50);
    await loop;
    assert.deepEqual(seen, [100, 200, 300]);
  });

  it("runAll refuses to spin forever on a self-rescheduling timer", async () => {
    const clock = new FakeClock();
    const forever = () => clock.setTimeout(forever, 1);
    forever();
    await assert.rejects(clock.runAll(50), /more than 50 timers/);
  });
});
