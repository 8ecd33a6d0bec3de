import type { TimerHandle } from "../util/clock.js";

/** A caller waiting for a connection. */
export interface Waiter<C> {
  readonly enqueuedAt: number;
  /** The acquiring caller's stack, kept only when leak detection is on. */
  readonly stack: string | undefined;
  readonly resolve: (connection: C) => void;
  readonly reject: (error: unknown) => void;
  timer: TimerHandle | undefined;
  detachSignal: (() => void) | undefined;
  /** @internal links of the queue */
  prev: Waiter<C> | undefined;
  /** @internal */
  next: Waiter<C> | undefined;
  /** @internal true while in the queue */
  queued: boolean;
}

/**
 * FIFO queue of waiters with O(1) push, shift and removal from the middle (a waiter whose
 * timeout fires or whose signal aborts leaves without a scan), so thousands of waiters cost
 * the same per operation as one.
 */
export class WaitQueue<C> {
  #head: Waiter<C> | undefined;
  #tail: Waiter<C> | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(waiter: Waiter<C>): void {
    waiter.prev = this.#tail;
    waiter.next = undefined;
    if (this.#tail) this.#tail.next = waiter;
    else this.#head = waiter;
    this.#tail = waiter;
    waiter.queued = true;
    this.#size++;
  }

  /** The longest-waiting caller, removed from the queue. */
  shift(): Waiter<C> | undefined {
    const waiter = this.#head;
    if (waiter) this.remove(waiter);
    return waiter;
  }

  /** Removes `waiter` if it is still queued; returns whether it was. */
  remove(waiter: Waiter<C>): boolean {
    if (!waiter.queued) return false;
    if (waiter.prev) waiter.prev.next = waiter.next;
    else this.#head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else this.#tail = waiter.prev;
    waiter.prev = undefined;
    waiter.next = undefined;
    waiter.queued = false;
    this.#size--;
    return true;
  }

  /** Removes and returns every waiter, oldest first. */
  drain(): Waiter<C>[] {
    const all: Waiter<C>[] = [];
    for (let w = this.shift(); w; w = this.shift()) all.push(w);
    return all;
  }
}
