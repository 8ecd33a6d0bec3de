import type pg from "pg";
import { createDatabase, type Database } from "../../db/database.js";
import { fromEnv } from "../../db/env.js";
import type { DatabaseOptions } from "../../db/options.js";
import { ConfigError } from "../../errors/config-error.js";
import { pgDriver } from "./driver.js";

/**
 * `createDatabase` configured from the environment: `DATABASE_URL` plus the `STEADFAST_*`
 * overrides `fromEnv` documents; `overrides` win over both.
 *
 * @throws ConfigError when `DATABASE_URL` is missing or any variable is invalid.
 * @example
 * ```ts
 * import { createDatabaseFromEnv } from "steadfast/pg";
 * const db = createDatabaseFromEnv({ preset: "serverless" });
 * ```
 */
export function createDatabaseFromEnv(
  overrides: Partial<DatabaseOptions<pg.Client>> = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): Database<pg.Client> {
  const { databaseUrl, options } = fromEnv(env);
  if (databaseUrl === undefined) {
    throw new ConfigError([
      {
        field: "DATABASE_URL",
        expected: "a URL such as postgres://user:password@host:5432/database",
        received: "nothing (the variable is not set)",
      },
    ]);
  }
  return createDatabase({
    driver: pgDriver({ connectionString: databaseUrl }),
    ...options,
    ...overrides,
  });
}
