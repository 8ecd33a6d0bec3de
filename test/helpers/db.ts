import { after } from "node:test";
import pg from "pg";
import { databaseUrl, TEST_DATABASE_URL } from "./env.js";

let counter = 0;

/** A database created for one test file, dropped when the file's tests finish. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** Runs SQL on the test database through a short-lived admin connection. */
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<T[]>;
}

/**
 * Creates a fresh database on the test server and registers its removal with `after()`.
 * Names carry the process id so parallel test files never collide. Call it at the top level
 * of a test file (`const db = await freshDatabase()`): `after()` then runs when the file ends.
 */
export async function freshDatabase(label = "t"): Promise<TestDatabase> {
  const safeLabel = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .slice(0, 20);
  const name = `sf_test_${safeLabel}_${process.pid}_${counter++}_${Date.now().toString(36)}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  const url = databaseUrl(name);
  after(async () => {
    await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
  return {
    name,
    url,
    async sql(text, values) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(text, values)).rows;
      } finally {
        await client.end();
      }
    },
  };
}

/** Runs one statement on the maintenance database (`TEST_DATABASE_URL`). */
export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values?: unknown[],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}
