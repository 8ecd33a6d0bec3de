/**
 * One database handle per server process, shared by every route handler.
 *
 * Created on first use, not at import: `next build` imports route modules to collect their
 * config, and must not need a database (or DATABASE_URL) to do that. Kept on `globalThis`
 * because `next dev` re-evaluates modules on every edit, and each evaluation would otherwise
 * open another pool.
 */
import { createHealth } from "steadfast";
import { type HealthHandlers, healthHandlers } from "steadfast/http";
import { createDatabaseFromEnv } from "steadfast/pg";

export interface Steadfast {
  readonly db: ReturnType<typeof createDatabaseFromEnv>;
  readonly health: HealthHandlers;
}

const shared = globalThis as typeof globalThis & { __steadfast?: Steadfast };

/** The process's handle: `DATABASE_URL` plus `STEADFAST_*` overrides, serverless preset. */
export function steadfast(): Steadfast {
  shared.__steadfast ??= (() => {
    // Serverless preset: few connections per instance, short idle and lifetime (see
    // examples/serverless). Behind a transaction-mode pooler add serverTimeout: false.
    const db = createDatabaseFromEnv({ preset: "serverless" });
    return { db, health: healthHandlers(createHealth(db, { serviceId: "nextjs-health-example" })) };
  })();
  return shared.__steadfast;
}
