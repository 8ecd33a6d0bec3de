import { systemClock } from "../util/clock.js";
import {
  type ExecuteOptions,
  type Operation,
  type Policy,
  type PolicyContext,
  toContext,
} from "./context.js";

/**
 * Nests policies, the first outermost: `pipeline(a, b, c).execute(fn)` runs
 * `a.execute(ctx => b.execute(ctx => c.execute(fn, ctx), ctx), options)`. Each policy sees the
 * context of the one outside it, so a deadline, a caller's signal and the `idempotent` flag
 * reach every layer and the operation.
 *
 * The order Steadfast's database path uses, and why:
 *
 * 1. `deadline` — outermost, so its timeout covers every attempt and every backoff sleep:
 *    the caller's latency bound holds however many retries happen, and the retry policy
 *    (which reads the deadline from the context) never starts a sleep that would pass it.
 * 2. `retry` — outside the breaker, so each attempt is a separate call to the breaker: every
 *    failed attempt is counted, and once the breaker opens the next attempt fails fast with
 *    `CircuitOpenError`, which is not retryable, so an open breaker stops the retries.
 * 3. `circuitBreaker` — sees real attempts only, and rejects without queueing when open.
 * 4. `bulkhead` (optional) — inside the breaker, so a fast-failed call never takes a slot, and
 *    inside retry, so no slot is held during a backoff sleep.
 * 5. A per-attempt `deadline` (optional, innermost) — bounds one attempt, leaving time to retry.
 *
 * @example
 * ```ts
 * const policy = pipeline(deadline({ timeout: "5s" }), retry(), circuitBreaker({ probe }));
 * const rows = await policy.execute((ctx) => query(sql, ctx.signal), { idempotent: true });
 * ```
 */
export function pipeline(...policies: readonly Policy[]): Policy {
  return new Pipeline(policies);
}

class Pipeline implements Policy {
  readonly #policies: readonly Policy[];

  constructor(policies: readonly Policy[]) {
    this.#policies = [...policies];
  }

  execute<T>(fn: Operation<T>, options?: ExecuteOptions | PolicyContext): Promise<T> {
    return this.#run(0, fn, options);
  }

  #run<T>(index: number, fn: Operation<T>, options?: ExecuteOptions | PolicyContext): Promise<T> {
    const policy = this.#policies[index];
    if (policy === undefined) {
      // An empty pipeline still honours the contract: always a promise, never a sync throw.
      return new Promise<T>((resolve) => resolve(fn(toContext(options, systemClock))));
    }
    if (index === this.#policies.length - 1) return policy.execute(fn, options);
    return policy.execute((context) => this.#run(index + 1, fn, context), options);
  }
}
