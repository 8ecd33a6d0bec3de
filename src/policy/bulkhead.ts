import { SteadfastError } from "../errors/base.js";
import type { Clock } from "../util/clock.js";
import type { Duration } from "../util/duration.js";
import { optionKeys } from "../util/option-keys.js";
import { OptionsReader } from "../util/options.js";
import { readClock } from "./common-options.js";
import {
  type AbortListener,
  type Context,
  type ExecuteOptions,
  type Operation,
  type Policy,
  type PolicyContext,
  toContext,
} from "./context.js";
import {
  type Bucket,
  type DeadlineScheduler,
  type ScheduledEntry,
  schedulerFor,
} from "./deadline-scheduler.js";

/**
 * Options of {@link bulkhead}; every field is optional.
 *
 * @example
 * ```ts
 * bulkhead({ maxConcurrent: 20, maxQueue: 50, queueTimeout: "500ms" });
 * ```
 */
export interface BulkheadOptions {
  /** Calls running at once. Default `10`; >= 1. */
  readonly maxConcurrent?: number;
  /** Calls waiting for a slot; one more is rejected at once. Default `100`; >= 0. */
  readonly maxQueue?: number;
  /** Longest wait for a slot (also cut short by the call's deadline). Default `"1s"`. */
  readonly queueTimeout?: Duration;
  /** Time source. Default `systemClock`. */
  readonly clock?: Clock;
}

/** Defaults of {@link BulkheadOptions} (queueTimeout in ms). */
export const BULKHEAD_DEFAULTS = {
  /** `maxConcurrent`: 10 calls. */
  maxConcurrent: 10,
  /** `maxQueue`: 100 calls. */
  maxQueue: 100,
  /** `queueTimeout`: 1 s. */
  queueTimeout: 1_000,
} as const;

/**
 * A bulkhead refused a call. `code` is `"BULKHEAD_FULL"` when the queue was full (rejected at
 * once) and `"BULKHEAD_TIMEOUT"` when no slot freed up in time. The call never ran.
 *
 * @example
 * ```ts
 * if (err instanceof BulkheadRejectedError) return new Response("busy", { status: 503 });
 * ```
 */
export class BulkheadRejectedError extends SteadfastError {
  declare readonly code: "BULKHEAD_FULL" | "BULKHEAD_TIMEOUT";
  /** The bulkhead's `maxConcurrent`. */
  readonly maxConcurrent: number;
  /** The bulkhead's `maxQueue`. */
  readonly maxQueue: number;
  /** How long the call waited, in ms (0 when the queue was full). */
  readonly waitedMs: number;

  constructor(
    code: "BULKHEAD_FULL" | "BULKHEAD_TIMEOUT",
    maxConcurrent: number,
    maxQueue: number,
    waitedMs: number,
  ) {
    super(
      code,
      code === "BULKHEAD_FULL"
        ? `Bulkhead full: ${maxConcurrent} calls running and ${maxQueue} waiting`
        : `Waited ${Math.round(waitedMs)} ms for one of ${maxConcurrent} bulkhead slots`,
    );
    this.maxConcurrent = maxConcurrent;
    this.maxQueue = maxQueue;
    this.waitedMs = waitedMs;
  }
}

/** A snapshot of a {@link BulkheadPolicy}. */
export interface BulkheadStats {
  /** Calls running now. */
  readonly active: number;
  /** Calls waiting for a slot now. */
  readonly queued: number;
  /** Most calls running at once. */
  readonly maxConcurrent: number;
  /** Most calls waiting at once. */
  readonly maxQueue: number;
}

/** @internal Every option name of {@link BulkheadOptions}. */
export const BULKHEAD_OPTION_KEYS = optionKeys<BulkheadOptions>()([
  "maxConcurrent",
  "maxQueue",
  "queueTimeout",
  "clock",
]);

/**
 * Limits how many calls run at once; up to `maxQueue` more wait in FIFO order for at most
 * `queueTimeout`. Waiting is O(1) (a linked list) and its timeouts share the clock's one
 * deadline timer. A caller that aborts while waiting leaves the queue at once.
 *
 * @example
 * ```ts
 * const limit = bulkhead({ maxConcurrent: 4 });
 * await limit.execute(() => expensiveReport());
 * ```
 */
export class BulkheadPolicy implements Policy {
  /** Most calls running at once. */
  readonly maxConcurrent: number;
  /** Most calls waiting for a slot. */
  readonly maxQueue: number;
  /** Longest wait for a slot, in ms. */
  readonly queueTimeout: number;
  /** @internal */ readonly clock: Clock;
  /** @internal */ readonly scheduler: DeadlineScheduler;
  #active = 0;
  #queued = 0;
  #head: Waiter | undefined;
  #tail: Waiter | undefined;

  constructor(options?: BulkheadOptions) {
    const r = new OptionsReader(options, "bulkhead", BULKHEAD_OPTION_KEYS);
    this.maxConcurrent = r.integer("maxConcurrent", BULKHEAD_DEFAULTS.maxConcurrent, { min: 1 });
    this.maxQueue = r.integer("maxQueue", BULKHEAD_DEFAULTS.maxQueue, { min: 0 });
    this.queueTimeout = r.duration("queueTimeout", BULKHEAD_DEFAULTS.queueTimeout);
    this.clock = readClock(r);
    r.finish();
    this.scheduler = schedulerFor(this.clock);
  }

  /** Calls running now. */
  get active(): number {
    return this.#active;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this.#queued;
  }

  /** Current occupancy and limits. */
  stats(): BulkheadStats {
    const { maxConcurrent, maxQueue } = this;
    return { active: this.#active, queued: this.#queued, maxConcurrent, maxQueue };
  }

  /** Runs `fn` once a slot is free; rejects with {@link BulkheadRejectedError} if none frees up. */
  async execute<T>(fn: Operation<T>, options?: ExecuteOptions | PolicyContext): Promise<T> {
    const context = toContext(options, this.clock);
    if (this.#active < this.maxConcurrent) this.#active++;
    else await this.#wait(context);
    try {
      return await fn(context);
    } finally {
      this.#release();
    }
  }

  #wait(context: Context): Promise<void> {
    const aborted = context.abortReason;
    if (aborted !== undefined) return Promise.reject(aborted);
    if (this.#queued >= this.maxQueue) {
      return Promise.reject(
        new BulkheadRejectedError("BULKHEAD_FULL", this.maxConcurrent, this.maxQueue, 0),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const now = this.clock.now();
      const waiter = new Waiter(this, context, now, resolve, reject);
      if (this.#tail) this.#tail.after = waiter;
      else this.#head = waiter;
      waiter.before = this.#tail;
      this.#tail = waiter;
      this.#queued++;
      this.scheduler.add(waiter, Math.min(now + this.queueTimeout, context.deadline));
      context.subscribe(waiter);
    });
  }

  /** @internal Takes `waiter` out of the queue (timed out or aborted). */
  unlink(waiter: Waiter): void {
    const { before, after } = waiter;
    if (before) before.after = after;
    else this.#head = after;
    if (after) after.before = before;
    else this.#tail = before;
    waiter.before = waiter.after = undefined;
    this.#queued--;
  }

  #release(): void {
    const next = this.#head;
    if (next === undefined) {
      this.#active--;
      return;
    }
    // Hand the slot straight to the oldest waiter: #active stays the same.
    this.unlink(next);
    next.admit();
  }
}

/**
 * Creates a {@link BulkheadPolicy}.
 *
 * @throws ConfigError when an option is invalid (e.g. `maxConcurrent: 0`).
 * @example
 * ```ts
 * const limit = bulkhead({ maxConcurrent: 10, maxQueue: 0 });
 * ```
 */
export function bulkhead(options?: BulkheadOptions): BulkheadPolicy {
  return new BulkheadPolicy(options);
}

/** A queued call: a queue node, a scheduler entry (queue timeout) and an abort listener. */
class Waiter implements ScheduledEntry, AbortListener {
  bucket: Bucket | undefined = undefined;
  prev: ScheduledEntry | undefined = undefined;
  next: ScheduledEntry | undefined = undefined;
  before: Waiter | undefined = undefined;
  after: Waiter | undefined = undefined;
  readonly #policy: BulkheadPolicy;
  readonly #context: Context;
  readonly #enqueuedAt: number;
  readonly #resolve: () => void;
  readonly #reject: (reason: unknown) => void;

  constructor(
    policy: BulkheadPolicy,
    context: Context,
    enqueuedAt: number,
    resolve: () => void,
    reject: (reason: unknown) => void,
  ) {
    this.#policy = policy;
    this.#context = context;
    this.#enqueuedAt = enqueuedAt;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  admit(): void {
    this.#policy.scheduler.remove(this);
    this.#context.unsubscribe(this);
    this.#resolve();
  }

  expire(): void {
    const policy = this.#policy;
    policy.unlink(this);
    this.#context.unsubscribe(this);
    const waited = policy.clock.now() - this.#enqueuedAt;
    this.#reject(
      new BulkheadRejectedError("BULKHEAD_TIMEOUT", policy.maxConcurrent, policy.maxQueue, waited),
    );
  }

  handleAbort(reason: SteadfastError): void {
    this.#policy.scheduler.remove(this);
    this.#policy.unlink(this);
    this.#reject(reason);
  }
}
