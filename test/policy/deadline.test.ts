import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../src/errors/config-error.js";
import { CanceledError, TimeoutError } from "../../src/errors/errors.js";
import type { PolicyContext } from "../../src/policy/context.js";
import { deadline, type TimeoutEvent } from "../../src/policy/deadline.js";
import { FakeClock } from "../../src/testing/fake-clock.js";
import { configIssue, deferred, observe } from "./helpers.js";

describe("deadline", () => {
  it("returns the operation's value when it finishes in time", async () => {
    const clock = new FakeClock();
    assert.equal(await deadline({ clock, timeout: "1s" }).execute(async () => 42), 42);
    assert.equal(await deadline({ clock }).execute(() => "sync"), "sync");
  });

  it("passes the operation's own rejection through", async () => {
    const clock = new FakeClock();
    const boom = new Error("boom");
    await assert.rejects(
      deadline({ clock }).execute(() => Promise.reject(boom)),
      boom,
    );
    await assert.rejects(
      deadline({ clock }).execute(() => {
        throw boom;
      }),
      boom,
    );
  });

  it("rejects with TimeoutError exactly at the deadline even if the operation ignores its signal", async () => {
    const clock = new FakeClock();
    const never = deferred<string>();
    const result = observe(
      clock,
      deadline({ clock, timeout: "250ms" }).execute(() => never.promise),
    );
    await clock.tick(249);
    assert.equal(result.settled, false);
    await clock.tick(1);
    assert.ok(result.error instanceof TimeoutError);
    assert.equal(result.error.timeoutMs, 250);
    assert.equal(result.error.phase, "deadline");
    assert.equal(result.at, 250);
    never.resolve("late"); // a late answer changes nothing
    await clock.tick(0);
    assert.ok(result.error instanceof TimeoutError);
  });

  it("aborts the signal the operation asked for, with the TimeoutError as reason", async () => {
    const clock = new FakeClock();
    let signal: AbortSignal | undefined;
    const result = observe(
      clock,
      deadline({ clock, timeout: 100 }).execute(
        (ctx) =>
          new Promise((_resolve, reject) => {
            signal = ctx.signal;
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
          }),
      ),
    );
    await clock.tick(100);
    assert.equal(signal?.aborted, true);
    assert.ok(signal?.reason instanceof TimeoutError);
    assert.equal(result.error, signal?.reason);
  });

  it("calls onAbort listeners and onTimeout so the caller can force-cancel", async () => {
    const clock = new FakeClock();
    const order: string[] = [];
    const events: TimeoutEvent[] = [];
    let context: PolicyContext | undefined;
    const policy = deadline({
      clock,
      timeout: "1s",
      onTimeout: (event) => {
        order.push("onTimeout");
        events.push(event);
      },
    });
    policy.on("timeout", () => order.push("event"));
    const result = observe(
      clock,
      policy.execute((ctx) => {
        context = ctx;
        ctx.onAbort((reason) => order.push(`onAbort:${reason.code}`));
        return new Promise(() => {});
      }),
    );
    await clock.tick(1_000);
    assert.deepEqual(order, ["onAbort:TIMEOUT", "onTimeout", "event"]);
    assert.equal(events[0]?.context, context);
    assert.equal(events[0]?.timeoutMs, 1_000);
    assert.equal(events[0]?.error, result.error);
    assert.equal(context?.aborted, true);
    // Registering after the fact still runs the listener, at once.
    let late = "";
    context?.onAbort((reason) => {
      late = reason.code;
    });
    assert.equal(late, "TIMEOUT");
  });

  it("a throwing onTimeout hook does not keep the call from timing out", async () => {
    const clock = new FakeClock();
    const policy = deadline({
      clock,
      timeout: 10,
      onTimeout: () => {
        throw new Error("hook failed");
      },
    });
    const result = observe(
      clock,
      policy.execute(() => new Promise(() => {})),
    );
    await clock.tick(10);
    assert.ok(result.error instanceof TimeoutError);
  });

  it("honours a shorter caller deadline, and never extends it", async () => {
    const clock = new FakeClock();
    const policy = deadline({ clock, timeout: "10s" });
    const seen: number[] = [];
    const short = observe(
      clock,
      policy.execute(
        (ctx) => {
          seen.push(ctx.deadline);
          return new Promise(() => {});
        },
        { timeout: "2s" },
      ),
    );
    const long = observe(
      clock,
      policy.execute(
        (ctx) => {
          seen.push(ctx.deadline);
          return new Promise(() => {});
        },
        { deadline: 60_000 },
      ),
    );
    assert.deepEqual(seen, [2_000, 10_000]);
    await clock.tick(2_000);
    assert.ok(short.error instanceof TimeoutError);
    assert.equal(short.error.timeoutMs, 2_000);
    assert.equal(long.settled, false);
    await clock.tick(8_000);
    assert.ok(long.error instanceof TimeoutError);
  });

  it("rejects at once, without running, when the deadline already passed", async () => {
    const clock = new FakeClock(5_000);
    let ran = false;
    await assert.rejects(
      deadline({ clock }).execute(
        () => {
          ran = true;
        },
        { deadline: 4_000 },
      ),
      TimeoutError,
    );
    assert.equal(ran, false);
  });

  it("rejects at once with CanceledError when the caller aborts, and aborts the operation", async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    let opSignal: AbortSignal | undefined;
    const result = observe(
      clock,
      deadline({ clock, timeout: "1s" }).execute(
        (ctx) => {
          opSignal = ctx.signal;
          return new Promise(() => {});
        },
        { signal: controller.signal },
      ),
    );
    await clock.tick(300);
    controller.abort("user left");
    await clock.tick(0);
    assert.ok(result.error instanceof CanceledError);
    assert.equal(result.error.cause, "user left");
    assert.equal(result.at, 300);
    assert.equal(opSignal?.reason, result.error);
  });

  it("an outer deadline aborts an inner one with its own TimeoutError", async () => {
    const clock = new FakeClock();
    const outer = deadline({ clock, timeout: 100 });
    const inner = deadline({ clock, timeout: 1_000, phase: "query" });
    let innerReason: unknown;
    const result = observe(
      clock,
      outer.execute((ctx) =>
        inner.execute((innerCtx) => {
          innerCtx.onAbort((r) => {
            innerReason = r;
          });
          return new Promise(() => {});
        }, ctx),
      ),
    );
    await clock.tick(100);
    assert.ok(result.error instanceof TimeoutError);
    assert.equal(result.error.phase, "deadline");
    assert.equal(innerReason, result.error);
  });

  it("fast path: no AbortController, no per-call timer, and listeners on the caller's signal are removed", async () => {
    const clock = new FakeClock();
    const policy = deadline({ clock, timeout: "1s" });
    const signal = new AbortController().signal;
    const added: unknown[] = [];
    const removed: unknown[] = [];
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((type: string, l: EventListenerOrEventListenerObject) => {
      added.push(l);
      add(type, l);
    }) as typeof signal.addEventListener;
    signal.removeEventListener = ((type: string, l: EventListenerOrEventListenerObject) => {
      removed.push(l);
      remove(type, l);
    }) as typeof signal.removeEventListener;
    const OriginalController = globalThis.AbortController;
    let controllers = 0;
    globalThis.AbortController = class extends OriginalController {
      constructor() {
        super();
        controllers++;
      }
    };
    try {
      for (let i = 0; i < 1_000; i++) {
        await policy.execute(async () => i, { signal });
        clock.advance(1);
      }
    } finally {
      globalThis.AbortController = OriginalController;
    }
    assert.equal(controllers, 0);
    assert.ok(clock.pendingTimers <= 1, `${clock.pendingTimers} timers for 1000 calls`);
    assert.equal(added.length, removed.length, "every listener added was removed");
  });

  it("rejects invalid options naming each field", () => {
    let error: unknown;
    try {
      deadline({ timeout: -1, onTimeout: 5 as never, phase: "soon" as never });
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    assert.match(configIssue(error, "deadline.timeout").received, /number -1/);
    assert.match(configIssue(error, "deadline.timeout").expected, /duration/);
    assert.match(configIssue(error, "deadline.onTimeout").expected, /function/);
    assert.match(configIssue(error, "deadline.phase").expected, /"deadline"/);
  });
});
