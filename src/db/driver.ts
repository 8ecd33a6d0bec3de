import type { PoolConnector } from "../pool/connector.js";

/** What one statement returned, in the shape `pg` uses. */
export interface QueryResult<R = Record<string, unknown>> {
  /** The rows, as objects keyed by column name. */
  readonly rows: R[];
  /** Rows the command affected or returned, or `null` when the server did not say. */
  readonly rowCount: number | null;
  /** The command tag's verb (`SELECT`, `INSERT`, …). */
  readonly command: string;
}

/**
 * What `createDatabase` needs from a driver: the connector the pool manages connections with,
 * a way to run one parameterised statement, and a way to cancel a running one on the server.
 * `steadfast/pg` provides `pgDriver()`; the core never imports a driver.
 *
 * @typeParam C - the driver's connection type.
 */
export interface DatabaseDriver<C> {
  /** A short name for logs and metrics (`"pg"`). */
  readonly name: string;
  /** Where the driver connects, for logs and errors, with any password removed. */
  readonly target: string;
  /** The pool's connector. */
  readonly connector: PoolConnector<C>;
  /**
   * Runs one statement with `$1…$n` parameters. The driver must send the statement as one
   * extended-protocol message, so parameters are never spliced into the SQL text.
   */
  query<R>(
    connection: C,
    sql: string,
    params: readonly unknown[] | undefined,
  ): Promise<QueryResult<R>>;
  /**
   * Asks the server to cancel whatever `connection` is running (a PostgreSQL CancelRequest
   * over a new socket). Resolves `true` when the request was delivered, `false` otherwise;
   * never rejects.
   */
  cancel(connection: C, timeoutMs: number): Promise<boolean>;
  /** The server process id behind `connection`, when known (to terminate an orphan). */
  backendPid?(connection: C): number | undefined;
}
