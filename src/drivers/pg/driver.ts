import type pg from "pg";
import type { DatabaseDriver, QueryResult } from "../../db/driver.js";
import { ConfigError, describeValue } from "../../errors/config-error.js";
import { cancelTargetOf, sendCancelRequest } from "./cancel.js";
import { type PgConnectorOptions, pgConnector } from "./connector.js";

/**
 * The `pg` driver for `createDatabase`: connections are `pg.Client`s opened by
 * {@link pgConnector} (TCP keepalive, an error listener from birth), statements run with
 * parameters over the extended protocol, and timeouts cancel on the server with a
 * CancelRequest.
 *
 * @param config `pg.ClientConfig`: a `connectionString` or host, port, user, password, database, ssl.
 * @example
 * ```ts
 * import { createDatabase } from "steadfast";
 * import { pgDriver } from "steadfast/pg";
 * const db = createDatabase({ driver: pgDriver({ connectionString: process.env.DATABASE_URL }) });
 * ```
 */
export function pgDriver(
  config: pg.ClientConfig = {},
  options: PgConnectorOptions = {},
): DatabaseDriver<pg.Client> {
  checkConnectionString(config.connectionString);
  return {
    name: "pg",
    target: describeTarget(config),
    connector: pgConnector(config, options),
    query<R>(
      client: pg.Client,
      sql: string,
      params: readonly unknown[] | undefined,
    ): Promise<QueryResult<R>> {
      // pg's result already has the shape (rows, rowCount, command): hand it over as it is.
      return (params === undefined
        ? client.query(sql)
        : client.query(sql, params as unknown[])) as unknown as Promise<QueryResult<R>>;
    },
    async cancel(client, timeoutMs) {
      const target = cancelTargetOf(client);
      return target ? sendCancelRequest(target, timeoutMs) : false;
    },
    backendPid(client) {
      const pid = (client as unknown as { processID?: number | null }).processID;
      return typeof pid === "number" ? pid : undefined;
    },
  };
}

/** Rejects a connection string `pg` would misread, without ever echoing it (it may hold a password). */
function checkConnectionString(value: unknown): void {
  if (value === undefined) return;
  const expected = "a URL such as postgres://user:password@host:5432/database";
  if (typeof value !== "string" || value.length === 0) {
    throw new ConfigError([
      { field: "connectionString", expected, received: describeValue(value, true) },
    ]);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError([
      {
        field: "connectionString",
        expected: `${expected} (percent-encode special characters in the password, e.g. @ as %40)`,
        received: "a string that is not a URL",
      },
    ]);
  }
  if (
    url.protocol !== "postgres:" &&
    url.protocol !== "postgresql:" &&
    url.protocol !== "socket:"
  ) {
    throw new ConfigError([
      {
        field: "connectionString",
        expected,
        received: `a URL with the scheme "${url.protocol.slice(0, 20)}"`,
      },
    ]);
  }
}

/** `host:port/database` with no user or password, for logs and metrics. */
function describeTarget(config: pg.ClientConfig): string {
  let host = config.host;
  let port: string | number | undefined = config.port;
  let database = config.database;
  if (config.connectionString) {
    try {
      const url = new URL(config.connectionString);
      host ??= decodeURIComponent(url.hostname) || undefined;
      port ??= url.port || undefined;
      database ??= decodeURIComponent(url.pathname.slice(1)) || undefined;
    } catch {
      return "postgres (unparsable connection string)";
    }
  }
  return `${host ?? "localhost"}:${port ?? 5432}/${database ?? "postgres"}`;
}
