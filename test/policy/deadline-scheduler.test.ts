import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  DeadlineScheduler,
  type ScheduledEntry,
  schedulerFor,
} from "../../src/policy/deadline-scheduler.js";
import { FakeClock } from "../../src/testing/fake-clock.js";

class Entry implements ScheduledEntry {
  bucket: ScheduledEntry["bucket"] = undefined;
  prev: ScheduledEntry | undefined = undefined;
  next: ScheduledEntry | undefined = undefined;
  expiredAt: number[] = [];
  onExpire: (() => void) | undefined;
  constructor(
    readonly clock: FakeClock,
    readonly deadline: number,
  ) {}
  expire(): void {
    this.expiredAt.push(this.clock.now());
    this.onExpire?.();
  }
}

describe("DeadlineScheduler", () => {
  it("uses one timer for many deadlines and fires each at its millisecond", () => {
    const clock = new FakeClock();
    const scheduler = new DeadlineScheduler(clock);
    const entries = [300, 100, 200.5, 100].map((d) => new Entry(clock, d));
    for (const e of entries) scheduler.add(e, e.deadline);
    assert.equal(clock.pendingTimers, 1);
    assert.equal(scheduler.size, 4);
    clock.advance(1_000);
    assert.deepEqual(
      entries.map((e) => e.expiredAt),
      [[300], [100], [201], [100]],
    );
    assert.equal(scheduler.size, 0);
  });

  it("a removed entry never expires", () => {
    const clock = new FakeClock();
    const scheduler = new DeadlineScheduler(clock);
    const a = new Entry(clock, 10);
    scheduler.add(a, 10);
    scheduler.remove(a);
    scheduler.remove(a); // twice is harmless
    clock.advance(100);
    assert.deepEqual(a.expiredAt, []);
  });

  it("is shared per clock", () => {
    const clock = new FakeClock();
    assert.equal(schedulerFor(clock), schedulerFor(clock));
    assert.notEqual(schedulerFor(clock), schedulerFor(new FakeClock()));
  });

  it("property: every entry expires exactly once at ceil(deadline) unless removed first", () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("add" as const),
        delta: fc.double({ min: 0.001, max: 3_000, noNaN: true }),
      }),
      fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 1_500 }) }),
      // On expiry, remove another pending entry (maybe in the same bucket) and add a new one.
      fc.record({
        kind: fc.constant("chain" as const),
        pick: fc.nat(),
        delta: fc.double({ min: 0.001, max: 500, noNaN: true }),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const clock = new FakeClock(0);
        const scheduler = new DeadlineScheduler(clock);
        const all: Entry[] = [];
        const removed = new Set<Entry>();
        const pending = () => all.filter((e) => !removed.has(e) && e.expiredAt.length === 0);
        const add = (delta: number): Entry => {
          const e = new Entry(clock, clock.now() + delta);
          all.push(e);
          scheduler.add(e, e.deadline);
          return e;
        };
        const remove = (pick: number) => {
          const candidates = pending();
          const victim = candidates[pick % Math.max(1, candidates.length)];
          if (!victim) return;
          scheduler.remove(victim);
          removed.add(victim);
        };
        for (const o of ops) {
          if (o.kind === "add") add(o.delta);
          else if (o.kind === "remove") remove(o.pick);
          else if (o.kind === "advance") clock.advance(o.ms);
          else {
            const e = add(o.delta);
            e.onExpire = () => {
              remove(o.pick);
              add(o.delta);
            };
          }
        }
        clock.advance(10_000);
        for (const e of all) {
          if (removed.has(e)) {
            if (e.expiredAt.length !== 0) return false;
          } else if (e.expiredAt.length !== 1 || e.expiredAt[0] !== Math.ceil(e.deadline)) {
            return false;
          }
        }
        return scheduler.size === 0 && clock.pendingTimers <= 1;
      }),
      { numRuns: 400 },
    );
  });
});
