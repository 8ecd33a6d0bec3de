import type { Clock, TimerHandle } from "../util/clock.js";

/**
 * Something with a deadline. The scheduler links entries into its buckets through these
 * fields, so registering one allocates nothing.
 */
export interface ScheduledEntry {
  /** Called once when the deadline passes, unless the entry was removed first. */
  expire(): void;
  /** @internal scheduler bookkeeping. */
  bucket: Bucket | undefined;
  /** @internal */
  prev: ScheduledEntry | undefined;
  /** @internal */
  next: ScheduledEntry | undefined;
}

/** @internal All entries due at the same millisecond, as a doubly linked list. */
export interface Bucket {
  readonly at: number;
  heapIndex: number;
  head: ScheduledEntry | undefined;
  tail: ScheduledEntry | undefined;
}

/**
 * One timer for every pending deadline on a clock, instead of a `setTimeout` per call.
 *
 * Entries are grouped in 1 ms buckets (a doubly linked list each: O(1) add and remove), and
 * the non-empty buckets sit in a binary heap ordered by time. The heap changes only when a
 * bucket appears or empties, which under load is far rarer than calls. A single timer is armed
 * for the earliest bucket; it is left armed when that bucket empties (re-arming costs more than
 * one spare wake-up) and on firing re-arms for whatever is then earliest. So a call that
 * finishes before its deadline costs a few pointer writes and no timer at all.
 */
export class DeadlineScheduler {
  readonly #clock: Clock;
  readonly #buckets = new Map<number, Bucket>();
  readonly #heap: Bucket[] = [];
  #timer: TimerHandle | undefined;
  #armedAt = Number.POSITIVE_INFINITY;
  #size = 0;
  /** The bucket of the latest `add`, kept even when empty because the next call likely reuses it. */
  #last: Bucket | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Number of registered entries. */
  get size(): number {
    return this.#size;
  }

  /** Registers `entry` to expire at `deadline` (clock time, rounded up to the millisecond). */
  add(entry: ScheduledEntry, deadline: number): void {
    const at = Math.ceil(deadline);
    let bucket = this.#last;
    if (bucket === undefined || bucket.at !== at) {
      bucket = this.#buckets.get(at);
      if (bucket === undefined) {
        bucket = { at, heapIndex: this.#heap.length, head: undefined, tail: undefined };
        this.#buckets.set(at, bucket);
        this.#heap.push(bucket);
        this.#siftUp(bucket.heapIndex);
      }
      const previous = this.#last;
      this.#last = bucket;
      if (previous !== undefined && previous.head === undefined) this.#dropBucket(previous);
    }
    entry.bucket = bucket;
    entry.next = undefined;
    entry.prev = bucket.tail;
    if (bucket.tail) bucket.tail.next = entry;
    else bucket.head = entry;
    bucket.tail = entry;
    this.#size++;
    if (at < this.#armedAt) this.#arm(at);
  }

  /** Unregisters `entry`; a no-op if it already expired or was removed. */
  remove(entry: ScheduledEntry): void {
    const bucket = entry.bucket;
    if (bucket === undefined) return;
    entry.bucket = undefined;
    const { prev, next } = entry;
    if (prev) prev.next = next;
    else bucket.head = next;
    if (next) next.prev = prev;
    else bucket.tail = prev;
    entry.prev = entry.next = undefined;
    this.#size--;
    // The newest bucket is kept while empty: calls that start in the same millisecond reuse it,
    // so sequential traffic touches the map and heap once per millisecond, not once per call.
    if (bucket.head === undefined && bucket !== this.#last) this.#dropBucket(bucket);
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#armedAt = at;
    // Runtimes treat delays past 2^31-1 ms as 1 ms; a far deadline just re-arms on waking.
    const delay = Math.min(MAX_TIMER_DELAY, Math.max(0, at - this.#clock.now()));
    // Background: the timer stays armed after its calls finish, and each pending call
    // is kept alive by its own work (a socket), not by this timer.
    this.#timer = this.#clock.setTimeout(this.#fire, delay, true);
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    for (let top = this.#heap[0]; top !== undefined && top.at <= now; top = this.#heap[0]) {
      this.#dropBucket(top);
      // Take entries off the head one at a time: an expiry callback may remove later entries
      // of this bucket, or add new ones (which go to a new bucket, since this one is dropped).
      for (let entry = top.head; entry !== undefined; entry = top.head) {
        top.head = entry.next;
        if (top.head !== undefined) top.head.prev = undefined;
        else top.tail = undefined;
        entry.bucket = entry.prev = entry.next = undefined;
        this.#size--;
        entry.expire();
      }
    }
    const top = this.#heap[0];
    if (top !== undefined && top.at < this.#armedAt) this.#arm(top.at);
  };

  #dropBucket(bucket: Bucket): void {
    const i = bucket.heapIndex;
    if (i < 0) return; // already dropped (emptied while expiring)
    bucket.heapIndex = -1;
    if (bucket === this.#last) this.#last = undefined;
    this.#buckets.delete(bucket.at);
    const heap = this.#heap;
    const last = heap.pop();
    if (last === undefined || last === bucket) return;
    heap[i] = last;
    last.heapIndex = i;
    this.#siftDown(i);
    this.#siftUp(last.heapIndex);
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    const item = heap[index];
    if (item === undefined) return;
    let i = index;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex];
      if (parent === undefined || parent.at <= item.at) break;
      heap[i] = parent;
      parent.heapIndex = i;
      i = parentIndex;
    }
    heap[i] = item;
    item.heapIndex = i;
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    const item = heap[index];
    if (item === undefined) return;
    const n = heap.length;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const leftItem = heap[left] as Bucket;
      const rightItem = heap[right];
      const child = rightItem !== undefined && rightItem.at < leftItem.at ? right : left;
      const childItem = heap[child] as Bucket;
      if (childItem.at >= item.at) break;
      heap[i] = childItem;
      childItem.heapIndex = i;
      i = child;
    }
    heap[i] = item;
    item.heapIndex = i;
  }
}

const MAX_TIMER_DELAY = 2_147_483_647;

const schedulers = new WeakMap<Clock, DeadlineScheduler>();

/** The shared scheduler of `clock`: every policy on one clock uses one timer. */
export function schedulerFor(clock: Clock): DeadlineScheduler {
  let scheduler = schedulers.get(clock);
  if (scheduler === undefined) {
    scheduler = new DeadlineScheduler(clock);
    schedulers.set(clock, scheduler);
  }
  return scheduler;
}
