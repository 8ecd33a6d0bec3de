import type { PoolConnector } from "../../src/pool/connector.js";

/** A connection of the {@link FakeConnector}: a plain object whose health the test controls. */
export interface FakeConnection {
  readonly id: number;
  alive: boolean;
  inTransaction: boolean;
  destroyed: boolean;
  validations: number;
}

type Outcome = "ok" | "fail" | "hang";

/**
 * A {@link PoolConnector} over in-memory objects, for testing the pool's rules with a fake
 * clock. Only the network is fake here; the pool under test is the real one.
 */
export class FakeConnector implements PoolConnector<FakeConnection> {
  connectOutcome: Outcome | (() => Outcome) = "ok";
  connectError: Error = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
    code: "ECONNREFUSED",
  });
  connectAttempts = 0;
  readonly connections: FakeConnection[] = [];
  readonly #deathListeners = new Map<FakeConnection, (error: unknown) => void>();
  readonly #hanging: { reject: (e: unknown) => void }[] = [];

  connect(): Promise<FakeConnection> {
    this.connectAttempts++;
    const outcome =
      typeof this.connectOutcome === "function" ? this.connectOutcome() : this.connectOutcome;
    if (outcome === "fail") return Promise.reject(this.connectError);
    if (outcome === "hang") return new Promise((_, reject) => this.#hanging.push({ reject }));
    const connection: FakeConnection = {
      id: this.connections.length + 1,
      alive: true,
      inTransaction: false,
      destroyed: false,
      validations: 0,
    };
    this.connections.push(connection);
    return Promise.resolve(connection);
  }

  validate(connection: FakeConnection): Promise<void> {
    connection.validations++;
    return connection.alive
      ? Promise.resolve()
      : Promise.reject(new Error("Connection terminated unexpectedly"));
  }

  destroy(connection: FakeConnection): void {
    connection.destroyed = true;
    connection.alive = false;
  }

  onDeath(connection: FakeConnection, listener: (error: unknown) => void): void {
    this.#deathListeners.set(connection, listener);
  }

  isReusable(connection: FakeConnection): boolean {
    return !connection.destroyed && !connection.inTransaction;
  }

  /** Simulates the server terminating the backend: the driver reports an error event. */
  kill(connection: FakeConnection): void {
    connection.alive = false;
    const error = Object.assign(new Error("terminating connection due to administrator command"), {
      code: "57P01",
    });
    this.#deathListeners.get(connection)?.(error);
  }

  /** Fails every connect that is hanging. */
  failHanging(): void {
    for (const h of this.#hanging.splice(0)) h.reject(this.connectError);
  }

  get open(): FakeConnection[] {
    return this.connections.filter((c) => !c.destroyed);
  }
}
