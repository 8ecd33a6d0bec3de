import { isSteadfastError } from "../errors/base.js";
import { classify } from "../errors/classify.js";
import {
  CanceledError,
  PoolClosedError,
  PoolQueueFullError,
  PoolTimeoutError,
} from "../errors/errors.js";
import type { TimerHandle } from "../util/clock.js";
import { parseDuration } from "../util/duration.js";
import { Emitter } from "../util/emitter.js";
import { optionKeys } from "../util/option-keys.js";
import type { PoolConnector } from "./connector.js";
import { type PoolOptions, type ResolvedPoolOptions, resolvePoolOptions } from "./options.js";
import { type Slot, SlotRegistry } from "./slots.js";
import {
  type ConnectGate,
  type PoolCounts,
  type PoolEvents,
  type PoolLogger,
  type PoolStats,
  REMOVAL_REASONS,
  type RemovalReason,
} from "./types.js";
import { type Waiter, WaitQueue } from "./wait-queue.js";

/** Per-call acquire options. */
export interface AcquireOptions {
  /** Overrides the pool's `acquireTimeout` for this call (ms or `"2s"`). */
  timeout?: number | string;
  /** Aborting stops the wait with `CanceledError`. */
  signal?: AbortSignal;
}

/** @internal Every option name of {@link AcquireOptions}. */
export const ACQUIRE_OPTION_KEYS = optionKeys<AcquireOptions>()(["timeout", "signal"]);

/** Collaborators the pool reports to; all optional. */
export interface PoolHooks {
  /** Usually the database's circuit breaker: refuses connection attempts while open. */
  gate?: ConnectGate;
  /** Receives one warning per burst of idle deaths, connect failures and leaks. */
  logger?: PoolLogger;
}

const BURST_WINDOW_MS = 10_000;

/**
 * A connection pool that heals itself (HikariCP semantics, driver-agnostic): FIFO waiters with
 * a bound and a timeout, validation of connections idle past a short window before hand-out,
 * silent removal of connections that die while idle, retirement by lifetime (with jitter),
 * idle timeout and use count — never while in use — keepalive pings, bounded concurrent
 * connection attempts with backoff, an optional gate (circuit breaker) that makes waiters fail
 * fast while the database is unreachable, leak detection, `reset()` and a draining `close()`.
 *
 * Use it through `steadfast/pg` (`createPgPool`, or the drop-in `Pool`); this class is the
 * engine and works with any {@link PoolConnector}.
 *
 * @example
 * ```ts
 * const pool = new ConnectionPool(connector, { max: 10, acquireTimeout: "5s" });
 * const conn = await pool.acquire();
 * try { await use(conn); } finally { pool.release(conn); }
 * ```
 */
export class ConnectionPool<C> {
  /** Typed events: connect, connect-error, acquire, release, remove, acquire-timeout, leak. */
  readonly events = new Emitter<PoolEvents<C>>();
  /** The options in force, every default applied. */
  readonly options: ResolvedPoolOptions;

  readonly #connector: PoolConnector<C>;
  readonly #gate: ConnectGate | undefined;
  readonly #logger: PoolLogger | undefined;
  readonly #slots: SlotRegistry<C>;
  readonly #waiters = new WaitQueue<C>();
  #creating = 0;
  #connectFailuresInARow = 0;
  #lastConnectError: unknown;
  #nextCreateAt = 0;
  #createTimer: TimerHandle | undefined;
  #housekeepingTimer: TimerHandle | undefined;
  #generation = 0;
  /**
   * When a connection last died under us. Idle connections not checked since then are validated
   * before hand-out even inside `validationWindow`: a server that terminates one backend
   * (failover, restart, `pg_terminate_backend`, an idle cut-off) usually terminates them all,
   * and the news reaches each idle socket a little later than the caller's retry would.
   */
  #suspectSince = Number.NEGATIVE_INFINITY;
  #closing = false;
  #closed: Promise<void> | undefined;
  #onDrained: (() => void) | undefined;
  #counters = {
    created: 0,
    acquires: 0,
    acquireTimeouts: 0,
    connectFailures: 0,
    validationFailures: 0,
  };
  readonly #destroyed = Object.fromEntries(REMOVAL_REASONS.map((r) => [r, 0])) as Record<
    RemovalReason,
    number
  >;
  #burst = { windowStart: Number.NEGATIVE_INFINITY, suppressed: 0 };

  constructor(connector: PoolConnector<C>, options?: PoolOptions, hooks: PoolHooks = {}) {
    this.options = resolvePoolOptions(options);
    this.#connector = connector;
    this.#gate = hooks.gate;
    this.#logger = hooks.logger;
    this.#slots = new SlotRegistry(this.options);
    this.#scheduleHousekeeping();
    this.#fill();
  }

  /**
   * Hands out a connection: an idle one (validated first if it sat idle past
   * `validationWindow`), a new one, or the next one released — in FIFO order of callers.
   * Rejects with `PoolTimeoutError` (carrying the pool's counts and the last connect error as
   * `cause`), `PoolQueueFullError`, `CircuitOpenError` from the gate, `CanceledError`, or
   * `PoolClosedError`.
   */
  acquire(options?: AcquireOptions): Promise<C> {
    if (this.#closing) return Promise.reject(new PoolClosedError());
    // The caller's stack, for leak reports; only paid for when leak detection is on.
    const stack =
      this.options.leakDetectionThreshold > 0
        ? new Error("connection acquired here").stack
        : undefined;
    if (this.#waiters.size === 0) {
      const slot = this.#takeIdle();
      if (slot) return Promise.resolve(this.#checkout(slot, 0, undefined, stack));
    }
    return this.#enqueue(options, stack);
  }

  /**
   * Returns a connection. It is destroyed instead of reused when `destroy` is set (e.g. the
   * caller saw a connection error), when it died while out, when it is mid-transaction, when
   * `reset()` happened since it was handed out, or when its lifetime or use count ran out.
   */
  release(connection: C, options?: { destroy?: boolean; error?: unknown }): void {
    const slot = this.#slots.get(connection);
    if (slot?.state !== "active") {
      throw new TypeError(
        "release() was called with a connection that is not checked out of this pool",
      );
    }
    if (slot.leakTimer !== undefined) this.options.clock.clearTimeout(slot.leakTimer);
    slot.leakTimer = undefined;
    const now = this.options.clock.now();
    const reason = this.#retirementReason(slot, now, options?.destroy === true);
    if (reason) {
      if (reason === "released-with-error" || reason === "broken") this.#suspectSince = now;
      this.#destroy(slot, reason, options?.error ?? slot.broken);
    } else {
      slot.lastUsedAt = now;
      slot.lastCheckedAt = now;
      this.#offer(slot);
    }
    if (this.events.has("release")) {
      this.events.emit("release", { connection, heldMs: now - slot.acquiredAt, removed: reason });
    }
    if (reason) this.#pump();
    this.#checkDrained();
  }

  /**
   * Resolves once one connection works (fail-fast start). Rejects after `timeout` with the
   * last connection error (classified by `classify()`), or `PoolTimeoutError` if none.
   */
  async ready(options: { timeout?: number | string } = {}): Promise<void> {
    try {
      const connection = await this.acquire(
        options.timeout === undefined ? {} : { timeout: options.timeout },
      );
      this.release(connection);
    } catch (err) {
      if (err instanceof PoolTimeoutError && err.cause !== undefined) throw err.cause;
      throw err;
    }
  }

  /** Retires every connection safely: idle ones now, in-use ones when they are released. */
  reset(): void {
    this.#generation++;
    for (const slot of this.#slots.idleSlots()) this.#destroy(slot, "reset", undefined);
    this.#connectFailuresInARow = 0;
    this.#nextCreateAt = 0;
    this.#fill();
  }

  /**
   * Stops new acquires (`PoolClosedError`), fails waiters, closes idle connections, waits up
   * to `drain` (default 5 s) for in-use ones to come back, then closes everything.
   * Idempotent: later calls return the same promise.
   */
  close(options: { drain?: number | string } = {}): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#closing = true;
    const clock = this.options.clock;
    if (this.#housekeepingTimer !== undefined) clock.clearTimeout(this.#housekeepingTimer);
    if (this.#createTimer !== undefined) clock.clearTimeout(this.#createTimer);
    for (const waiter of this.#waiters.drain()) this.#settle(waiter).reject(new PoolClosedError());
    for (const slot of [...this.#slots.idleSlots(), ...this.#slots.validatingSlots()]) {
      this.#destroy(slot, "closed", undefined);
    }
    const drainMs = parseDuration(options.drain ?? 5_000) ?? 5_000;
    this.#closed = new Promise<void>((resolve) => {
      const timer = clock.setTimeout(() => {
        for (const slot of this.#slots.activeSlots()) this.#destroy(slot, "closed", undefined);
        this.#onDrained = undefined;
        resolve();
      }, drainMs);
      this.#onDrained = () => {
        clock.clearTimeout(timer);
        this.#onDrained = undefined;
        resolve();
      };
      this.#checkDrained();
    });
    return this.#closed;
  }

  /** True once `close()` was called. */
  get closing(): boolean {
    return this.#closing;
  }

  /** A snapshot of counts and lifetime counters. */
  stats(): PoolStats {
    const s = this.#slots;
    return {
      total: s.size,
      idle: s.idleCount,
      active: s.activeCount,
      validating: s.validatingCount,
      creating: this.#creating,
      pending: this.#waiters.size,
      max: this.options.max,
      minIdle: this.options.minIdle,
      ...this.#counters,
      destroyed: { ...this.#destroyed },
    };
  }

  /** In-use connections already past their lifetime (they retire when released). */
  expiredCount(): number {
    const now = this.options.clock.now();
    return this.#slots.activeSlots().filter((slot) => slot.retireAt <= now).length;
  }

  #counts(): PoolCounts {
    const s = this.#slots;
    return {
      total: s.size,
      idle: s.idleCount,
      active: s.activeCount,
      pending: this.#waiters.size,
      max: this.options.max,
    };
  }

  #enqueue(options: AcquireOptions | undefined, stack: string | undefined): Promise<C> {
    if (this.#waiters.size >= this.options.maxWaiters) {
      return Promise.reject(new PoolQueueFullError(this.options.maxWaiters, this.#counts()));
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new CanceledError(signal.reason));
    const timeout =
      options?.timeout === undefined
        ? this.options.acquireTimeout
        : (parseDuration(options.timeout) ?? this.options.acquireTimeout);
    const clock = this.options.clock;
    return new Promise<C>((resolve, reject) => {
      const waiter: Waiter<C> = {
        enqueuedAt: clock.now(),
        stack,
        resolve,
        reject,
        timer: undefined,
        detachSignal: undefined,
        prev: undefined,
        next: undefined,
        queued: false,
      };
      waiter.timer = clock.setTimeout(() => this.#timeOut(waiter), timeout);
      if (signal) {
        const onAbort = () => {
          if (this.#waiters.remove(waiter))
            this.#settle(waiter).reject(new CanceledError(signal.reason));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        waiter.detachSignal = () => signal.removeEventListener("abort", onAbort);
      }
      this.#waiters.push(waiter);
      this.#pump();
    });
  }

  #timeOut(waiter: Waiter<C>): void {
    waiter.timer = undefined;
    if (!this.#waiters.remove(waiter)) return;
    const waitedMs = this.options.clock.now() - waiter.enqueuedAt;
    const counts = this.#counts();
    this.#counters.acquireTimeouts++;
    this.events.emit("acquire-timeout", { waitedMs, counts });
    this.#settle(waiter).reject(new PoolTimeoutError(waitedMs, counts, this.#lastConnectError));
  }

  /** Clears a waiter's timer and signal listener; returns it for resolve/reject. */
  #settle(waiter: Waiter<C>): Waiter<C> {
    if (waiter.timer !== undefined) this.options.clock.clearTimeout(waiter.timer);
    waiter.timer = undefined;
    waiter.detachSignal?.();
    waiter.detachSignal = undefined;
    return waiter;
  }

  #checkout(slot: Slot<C>, waitedMs: number, waiter?: Waiter<C>, stack = waiter?.stack): C {
    if (waiter) this.#settle(waiter);
    const now = this.options.clock.now();
    this.#slots.toActive(slot);
    slot.uses++;
    slot.acquiredAt = now;
    this.#counters.acquires++;
    const threshold = this.options.leakDetectionThreshold;
    if (threshold > 0) {
      slot.acquireStack = stack;
      slot.leakTimer = this.options.clock.setTimeout(() => this.#reportLeak(slot), threshold, true);
    }
    if (this.events.has("acquire"))
      this.events.emit("acquire", { connection: slot.connection, waitedMs });
    return slot.connection;
  }

  /**
   * Gives a connection known to work right now (just created, validated or released) to the
   * longest waiter, or parks it idle. Never re-validates: it was just proven.
   */
  #offer(slot: Slot<C>): void {
    const waiter = this.#waiters.shift();
    if (waiter)
      waiter.resolve(this.#checkout(slot, this.options.clock.now() - waiter.enqueuedAt, waiter));
    else this.#slots.toIdle(slot);
  }

  /** Pops a ready idle connection; stale ones go to validation, expired ones are closed. */
  #takeIdle(): Slot<C> | undefined {
    const now = this.options.clock.now();
    for (let slot = this.#slots.popIdle(); slot; slot = this.#slots.popIdle()) {
      const reason = this.#retirementReason(slot, now, false);
      if (reason) {
        this.#destroy(slot, reason, slot.broken);
      } else if (
        now - slot.lastCheckedAt > this.options.validationWindow ||
        slot.lastCheckedAt < this.#suspectSince
      ) {
        this.#validate(slot, "validation-failed");
      } else {
        return slot;
      }
    }
    return undefined;
  }

  #retirementReason(
    slot: Slot<C>,
    now: number,
    destroyRequested: boolean,
  ): RemovalReason | undefined {
    if (destroyRequested) return "released-with-error";
    if (slot.broken !== undefined) return "broken";
    if (this.#closing) return "closed";
    if (slot.generation !== this.#generation) return "reset";
    if (now >= slot.retireAt) return "max-lifetime";
    if (this.options.maxUses > 0 && slot.uses >= this.options.maxUses) return "max-uses";
    if (!this.#connector.isReusable(slot.connection)) return "not-reusable";
    return undefined;
  }

  /** Hands idle connections to waiters and starts connection attempts for the rest. */
  #pump(): void {
    while (this.#waiters.size > 0) {
      const slot = this.#takeIdle();
      if (!slot) break;
      const waiter = this.#waiters.shift();
      if (!waiter) {
        this.#slots.toIdle(slot);
        break;
      }
      waiter.resolve(this.#checkout(slot, this.options.clock.now() - waiter.enqueuedAt, waiter));
    }
    this.#fill();
  }

  /** Starts as many connection attempts as waiters and `minIdle` need, within the bounds. */
  #fill(): void {
    if (this.#closing) return;
    const o = this.options;
    const wanted =
      this.#waiters.size +
      Math.max(0, o.minIdle - this.#slots.idleCount) -
      this.#creating -
      this.#slots.validatingCount;
    if (wanted <= 0) return;
    const gateError = this.#gate?.rejection();
    if (gateError) {
      for (const waiter of this.#waiters.drain()) this.#settle(waiter).reject(gateError);
      return;
    }
    const now = o.clock.now();
    if (now < this.#nextCreateAt) {
      this.#scheduleCreate(this.#nextCreateAt - now);
      return;
    }
    // While connects fail, one attempt at a time is enough to find out when the database is
    // back; more would only add load to a struggling server.
    const concurrency = this.#connectFailuresInARow > 0 ? 1 : o.maxConcurrentCreates;
    const room = Math.min(o.max - this.#slots.size - this.#creating, concurrency - this.#creating);
    for (let i = 0; i < Math.min(wanted, room); i++) this.#create();
  }

  #create(): void {
    this.#attempt(true).catch(() => {});
  }

  /**
   * One connection attempt that bypasses the gate: the circuit breaker's recovery probe. The
   * new connection joins the pool (or goes to a waiter); rejects with the connect error.
   */
  probe(): Promise<void> {
    if (this.#closing) return Promise.reject(new PoolClosedError());
    return this.#attempt(false);
  }

  async #attempt(throughGate: boolean): Promise<void> {
    const clock = this.options.clock;
    const startedAt = clock.now();
    const connect = () => this.#connector.connect(this.options.connectTimeout);
    this.#creating++;
    let connection: C;
    try {
      connection = await (throughGate && this.#gate ? this.#gate.execute(connect) : connect());
    } catch (error) {
      this.#creating--;
      this.#onConnectFailure(error);
      throw error;
    }
    this.#creating--;
    this.#connectFailuresInARow = 0;
    this.#lastConnectError = undefined;
    this.#nextCreateAt = 0;
    this.#counters.created++;
    const slot = this.#slots.add(connection, clock.now(), this.#generation);
    this.#connector.onDeath(connection, (error) => this.#onDeath(slot, error));
    if (this.events.has("connect")) {
      this.events.emit("connect", { connection, durationMs: clock.now() - startedAt });
    }
    if (this.#closing) this.#destroy(slot, "closed", undefined);
    else this.#offer(slot);
    this.#pump();
    this.#checkDrained();
  }

  #onConnectFailure(error: unknown): void {
    if (isSteadfastError(error, "CIRCUIT_OPEN")) {
      this.#pump(); // the gate refused before any attempt: fail the waiters fast
      this.#checkDrained();
      return;
    }
    this.#counters.connectFailures++;
    this.#connectFailuresInARow++;
    this.#lastConnectError = error;
    const retryInMs = this.#backoff(this.#connectFailuresInARow);
    this.#nextCreateAt = this.options.clock.now() + retryInMs;
    this.events.emit("connect-error", { error, attempt: this.#connectFailuresInARow, retryInMs });
    this.#warnBurst("connection attempt failed", { error, retryInMs });
    // A permanent cause (wrong password, unknown database, TLS misconfiguration) will not
    // fix itself while callers wait: tell them now instead of at their timeout.
    if (classify(error).kind === "permanent") {
      for (const waiter of this.#waiters.drain()) this.#settle(waiter).reject(error);
    }
    this.#pump();
    this.#checkDrained();
  }

  /** Full-jitter exponential backoff between failed connection attempts. */
  #backoff(failures: number): number {
    const o = this.options;
    const ceiling = Math.min(
      o.createBackoffCap,
      o.createBackoffBase * 2 ** Math.min(failures - 1, 30),
    );
    return Math.max(1, Math.round(ceiling / 2 + (o.random() * ceiling) / 2));
  }

  #scheduleCreate(delay: number): void {
    if (this.#createTimer !== undefined) return;
    this.#createTimer = this.options.clock.setTimeout(
      () => {
        this.#createTimer = undefined;
        this.#pump();
      },
      delay,
      true,
    );
  }

  #validate(slot: Slot<C>, failureReason: "validation-failed" | "keepalive-failed"): void {
    this.#slots.toValidating(slot);
    this.#connector.validate(slot.connection, this.options.validationTimeout).then(
      () => {
        if (slot.state !== "validating") return;
        if (slot.broken !== undefined || this.#closing) {
          this.#destroy(slot, this.#closing ? "closed" : "broken", slot.broken);
        } else {
          slot.lastCheckedAt = this.options.clock.now();
          this.#offer(slot);
        }
        this.#pump();
      },
      (error: unknown) => {
        this.#counters.validationFailures++;
        this.#destroy(slot, failureReason, error);
        this.#pump();
      },
    );
  }

  #onDeath(slot: Slot<C>, error: unknown): void {
    if (slot.state === "idle") {
      this.#suspectSince = this.options.clock.now();
      this.#destroy(slot, "died-idle", error);
      this.#warnBurst("idle connection closed by the server or network; removed", { error });
      this.#fill();
    } else if (slot.state !== "destroyed") {
      slot.broken ??= error ?? new Error("connection died");
    }
  }

  #destroy(slot: Slot<C>, reason: RemovalReason, error: unknown): void {
    if (slot.state === "destroyed") return;
    if (slot.leakTimer !== undefined) this.options.clock.clearTimeout(slot.leakTimer);
    slot.leakTimer = undefined;
    this.#slots.remove(slot);
    this.#destroyed[reason]++;
    this.#connector.destroy(slot.connection);
    if (this.events.has("remove"))
      this.events.emit("remove", { connection: slot.connection, reason, error });
  }

  #reportLeak(slot: Slot<C>): void {
    slot.leakTimer = undefined;
    if (slot.state !== "active") return;
    const heldMs = this.options.clock.now() - slot.acquiredAt;
    this.events.emit("leak", { connection: slot.connection, heldMs, stack: slot.acquireStack });
    this.#logger?.warn(
      { heldMs, stack: slot.acquireStack },
      `connection held for ${Math.round(heldMs)} ms without release; possible leak (acquired at the stack shown)`,
    );
  }

  /** Logs the first event of a burst and counts the rest, so an outage cannot flood the log. */
  #warnBurst(message: string, fields: { error: unknown; retryInMs?: number }): void {
    if (!this.#logger) return;
    const now = this.options.clock.now();
    if (now - this.#burst.windowStart < BURST_WINDOW_MS) {
      this.#burst.suppressed++;
      return;
    }
    const suppressed = this.#burst.suppressed;
    this.#burst = { windowStart: now, suppressed: 0 };
    const { code } = classify(fields.error);
    this.#logger.warn(
      { code, suppressedSinceLastWarning: suppressed, retryInMs: fields.retryInMs },
      message,
    );
  }

  #scheduleHousekeeping(): void {
    const clock = this.options.clock;
    this.#housekeepingTimer = clock.setTimeout(
      () => {
        this.#housekeep();
        if (!this.#closing) this.#scheduleHousekeeping();
      },
      this.options.housekeepingInterval,
      true,
    );
  }

  /** Retires idle connections past their idle time or lifetime and pings quiet ones. */
  #housekeep(): void {
    const o = this.options;
    const now = o.clock.now();
    for (const slot of this.#slots.idleSlots()) {
      const reason = this.#retirementReason(slot, now, false);
      if (reason) {
        this.#destroy(slot, reason, slot.broken);
      } else if (
        o.idleTimeout > 0 &&
        now - slot.lastUsedAt >= o.idleTimeout &&
        this.#slots.idleCount > o.minIdle
      ) {
        this.#destroy(slot, "idle-timeout", undefined);
      } else if (o.keepalive > 0 && now - slot.lastCheckedAt >= o.keepalive) {
        this.#validate(slot, "keepalive-failed");
      }
    }
    this.#pump();
  }

  #checkDrained(): void {
    if (
      this.#onDrained &&
      this.#slots.activeCount === 0 &&
      this.#creating === 0 &&
      this.#slots.validatingCount === 0
    ) {
      this.#onDrained();
    }
  }
}
