import { after } from "node:test";
import type pg from "pg";
import { pgDriver } from "../../src/drivers/pg/index.js";
import { createDatabase, type Database, type DatabaseOptions } from "../../src/index.js";
import { type FaultProxy, startFaultProxy } from "../../src/testing/fault-proxy.js";
import { freshDatabase, type TestDatabase } from "./db.js";

/** A fresh test database, a fault proxy in front of it, and a factory of `createDatabase` handles. */
export interface DatabaseUnderTest {
  readonly target: TestDatabase;
  readonly proxy: FaultProxy;
  /** A handle on the test database (`local` preset), through the proxy when `viaProxy`; closed after the file. */
  database(options?: Partial<DatabaseOptions<pg.Client>>, viaProxy?: boolean): Database<pg.Client>;
}

/** Sets up a {@link DatabaseUnderTest} for one test file; call at top level with `await`. */
export async function databaseUnderTest(label: string): Promise<DatabaseUnderTest> {
  const target = await freshDatabase(label);
  const url = new URL(target.url);
  const proxy = await startFaultProxy({ target: { host: url.hostname, port: Number(url.port) } });
  const open: Database<pg.Client>[] = [];
  after(async () => {
    await Promise.all(open.map((db) => db.close({ drain: 0 })));
    await proxy.close();
  });
  return {
    target,
    proxy,
    database(options = {}, viaProxy = false) {
      const db = createDatabase({
        driver: pgDriver({ connectionString: viaProxy ? proxy.url(target.url) : target.url }),
        preset: "local",
        ...options,
      });
      open.push(db);
      return db;
    },
  };
}
