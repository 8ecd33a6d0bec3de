/**
 * What the pool needs from a driver to manage its connections. The pool never touches a
 * socket itself: `steadfast/pg` implements this for `pg.Client`, and a test can implement
 * it with anything.
 *
 * @typeParam C - the connection type handed to callers (for `pg`, a `pg.Client`).
 */
export interface PoolConnector<C> {
  /** Opens and authenticates one connection, giving up after `timeoutMs`. */
  connect(timeoutMs: number): Promise<C>;
  /** A cheap round trip; rejects when the connection is dead or slower than `timeoutMs`. */
  validate(connection: C, timeoutMs: number): Promise<void>;
  /** Tears the connection down now. Idempotent; never throws. */
  destroy(connection: C): void;
  /**
   * Registers the pool's one listener for the connection dying on its own (socket error,
   * server terminated the backend) wherever it is. The connector must also keep the driver
   * from treating such an error as unhandled.
   */
  onDeath(connection: C, listener: (error: unknown) => void): void;
  /** False when the connection must not go back to the pool (open transaction, broken state). */
  isReusable(connection: C): boolean;
}
