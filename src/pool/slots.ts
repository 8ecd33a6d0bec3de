import type { TimerHandle } from "../util/clock.js";
import type { ResolvedPoolOptions } from "./options.js";

/** Where a pooled connection is in its life. */
export type SlotState = "idle" | "active" | "validating" | "taken" | "destroyed";

/** The pool's bookkeeping for one connection. */
export interface Slot<C> {
  readonly connection: C;
  readonly createdAt: number;
  /** When it retires (creation + lifetime − jitter); `Infinity` when lifetimes are off. */
  readonly retireAt: number;
  /** The `reset()` generation it was created in; older ones retire. */
  readonly generation: number;
  state: SlotState;
  /** Last hand-back by a caller (drives `idleTimeout`). */
  lastUsedAt: number;
  /** Last round trip known to have worked (drives validation and keepalive). */
  lastCheckedAt: number;
  uses: number;
  acquiredAt: number;
  /** The error that killed it while it was out or being validated. */
  broken: unknown;
  leakTimer: TimerHandle | undefined;
  acquireStack: string | undefined;
}

/**
 * Every open connection of a pool with its state, and the idle ones as a LIFO stack: the most
 * recently used connection goes out first, so it usually skips validation (it was used within
 * the bypass window) and the extras age out through `idleTimeout`.
 */
export class SlotRegistry<C> {
  readonly #byConnection = new Map<C, Slot<C>>();
  #idle: Slot<C>[] = [];
  #active = 0;
  #validating = 0;
  readonly #options: ResolvedPoolOptions;

  constructor(options: ResolvedPoolOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#byConnection.size;
  }
  get idleCount(): number {
    return this.#idle.length;
  }
  get activeCount(): number {
    return this.#active;
  }
  get validatingCount(): number {
    return this.#validating;
  }

  get(connection: C): Slot<C> | undefined {
    return this.#byConnection.get(connection);
  }

  /** Registers a new connection in the `taken` state (move it on with `toIdle` or `toActive`). */
  add(connection: C, now: number, generation: number): Slot<C> {
    const { maxLifetime, lifetimeJitter, random } = this.#options;
    const retireAt =
      maxLifetime > 0
        ? now + maxLifetime * (1 - lifetimeJitter * random())
        : Number.POSITIVE_INFINITY;
    const slot: Slot<C> = {
      connection,
      createdAt: now,
      retireAt,
      generation,
      state: "taken",
      lastUsedAt: now,
      lastCheckedAt: now,
      uses: 0,
      acquiredAt: now,
      broken: undefined,
      leakTimer: undefined,
      acquireStack: undefined,
    };
    this.#byConnection.set(connection, slot);
    return slot;
  }

  popIdle(): Slot<C> | undefined {
    const slot = this.#idle.pop();
    if (slot) slot.state = "taken"; // between states until the caller moves it on
    return slot;
  }

  toIdle(slot: Slot<C>): void {
    this.#leave(slot);
    slot.state = "idle";
    this.#idle.push(slot);
  }

  toActive(slot: Slot<C>): void {
    this.#leave(slot);
    slot.state = "active";
    this.#active++;
  }

  toValidating(slot: Slot<C>): void {
    this.#leave(slot);
    slot.state = "validating";
    this.#validating++;
  }

  /** Forgets the connection; its state becomes `destroyed`. */
  remove(slot: Slot<C>): void {
    this.#leave(slot);
    slot.state = "destroyed";
    this.#byConnection.delete(slot.connection);
  }

  /** Snapshot of idle slots, most recently used last. */
  idleSlots(): Slot<C>[] {
    return [...this.#idle];
  }

  activeSlots(): Slot<C>[] {
    return [...this.#byConnection.values()].filter((s) => s.state === "active");
  }

  validatingSlots(): Slot<C>[] {
    return [...this.#byConnection.values()].filter((s) => s.state === "validating");
  }

  #leave(slot: Slot<C>): void {
    switch (slot.state) {
      case "idle": {
        const index = this.#idle.lastIndexOf(slot);
        if (index >= 0) this.#idle.splice(index, 1);
        break;
      }
      case "active":
        this.#active--;
        break;
      case "validating":
        this.#validating--;
        break;
      case "taken":
      case "destroyed":
        break;
    }
  }
}
