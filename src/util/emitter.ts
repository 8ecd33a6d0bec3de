/**
 * A minimal typed event emitter that works on every runtime (no `node:events`), with a cheap
 * `has()` so hot paths build event payloads only when someone listens.
 *
 * @example
 * ```ts
 * const events = new Emitter<{ open: { at: number } }>();
 * const off = events.on("open", (e) => console.log(e.at));
 * events.emit("open", { at: Date.now() });
 * off();
 * ```
 */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => this.off(event, listener);
  }

  /** Removes a listener added with {@link Emitter.on}. */
  off<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): void {
    this.#listeners.get(event)?.delete(listener as (payload: never) => void);
  }

  /** True when at least one listener is registered for `event`. */
  has(event: keyof Events): boolean {
    const set = this.#listeners.get(event);
    return set !== undefined && set.size > 0;
  }

  /**
   * Calls every listener of `event`. A listener that throws is isolated (its error goes to
   * {@link Emitter.onListenerError}), because an observer must never break the pool or a query.
   */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set || set.size === 0) return;
    for (const listener of set) {
      try {
        (listener as (payload: Events[K]) => void)(payload);
      } catch (err) {
        this.onListenerError(err, String(event));
      }
    }
  }

  /** Called when a listener throws; override to log. The default ignores the error. */
  onListenerError(_err: unknown, _event: string): void {}
}
