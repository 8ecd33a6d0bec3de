/**
 * The "application" under test: a tiny inventory service on Steadfast. In a real app this is
 * your own module; the point of the example is `app.test.ts`, which tests it against a
 * misbehaving network with the fault proxy.
 */
import { createDatabase, type Duration } from "steadfast";
import { pgDriver } from "steadfast/pg";

export const TABLE = "fault_proxy_example_inventory";

export function createInventory(connectionString: string, options: { timeout?: Duration } = {}) {
  const db = createDatabase({
    driver: pgDriver({ connectionString }),
    preset: "local",
    // Every call answers or fails within this, retries and backoff included.
    timeout: options.timeout ?? "1s",
  });
  return {
    db,
    async migrate(): Promise<void> {
      await db.write(
        `create table if not exists ${TABLE} (sku text primary key, qty int not null)`,
      );
    },
    async restock(sku: string, qty: number): Promise<void> {
      // Idempotent (an upsert to an absolute value): safe to retry even after it was sent.
      await db.write(
        `insert into ${TABLE} values ($1, $2) on conflict (sku) do update set qty = excluded.qty`,
        [sku, qty],
        { idempotent: true },
      );
    },
    /** Units in stock, `undefined` for an unknown SKU. Reads are retried on transient failures. */
    async stock(sku: string): Promise<number | undefined> {
      const { rows } = await db.read<{ qty: number }>(`select qty from ${TABLE} where sku = $1`, [
        sku,
      ]);
      return rows[0]?.qty;
    },
    close: () => db.close({ drain: 0 }),
  };
}
