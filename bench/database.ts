/** A throwaway database on the bench server, for the sections that write. */

import pg from "pg";

export interface ScratchDatabase {
  /** The bench URL pointed at the new database. */
  readonly url: string;
  /** Drops it, ending any connection still open to it. */
  drop(): Promise<void>;
}

/** Creates `sf_bench_<label>_<pid>` (dropping a leftover of the same name first). */
export async function scratchDatabase(url: string, label: string): Promise<ScratchDatabase> {
  const name = `sf_bench_${label}_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    url: target.toString(),
    async drop() {
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}
