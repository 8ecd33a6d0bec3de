/**
 * A Hono service on Steadfast: `/health` (application/health+json), `/metrics` (Prometheus)
 * and a cached read, `/products/:id`, whose `Cache-Status` header (RFC 9211) says whether the
 * answer came from the database or the cache, and when stale, why.
 *
 * Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch node --import tsx examples/hono/main.ts
 * (PORT picks the port; default 0, any free one). Stops cleanly on SIGTERM or Ctrl-C.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { cacheStatus, createCache, createDatabase, createHealth } from "steadfast";
import { healthHandlers, metricsHandler, prometheusMetrics } from "steadfast/http";
import { pgDriver } from "steadfast/pg";

interface Product {
  id: number;
  name: string;
  price_cents: number;
}

const connectionString = process.env.DATABASE_URL;
if (!connectionString)
  throw new Error("set DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/scratch");

const db = createDatabase({ driver: pgDriver({ connectionString }) });
// Fresh for 30 s; then kept 10 min to answer (marked stale) while the database is down or
// slower than 200 ms; the breaker's state tells the cache not to even try while it is open.
const cache = createCache<Product>({
  ttl: "30s",
  grace: "10m",
  softTimeout: "200ms",
  unavailable: () => db.breaker?.rejection(),
});
const health = healthHandlers(createHealth(db, { cache }));
const metrics = prometheusMetrics(db, { cache });

await db.write(`create table if not exists hono_example_products (
  id int primary key, name text not null, price_cents int not null)`);
await db.write(
  `insert into hono_example_products values (1, 'teapot', 2500), (2, 'kettle', 4000)
   on conflict (id) do nothing`,
);

const app = new Hono();
app.get("/health", (c) => health.health(c.req.raw));
app.get("/health/live", (c) => health.live(c.req.raw));
app.get("/health/ready", (c) => health.ready(c.req.raw));
app.get("/metrics", (c) => metricsHandler(metrics.registry)(c.req.raw));
app.get("/products/:id", async (c) => {
  const id = Number(c.req.param("id"));
  if (!Number.isSafeInteger(id)) return c.json({ error: "id must be a number" }, 400);
  // Reads are retried on transient failures; a "not found" (undefined) is cached briefly too.
  const result = await cache.getOrLoadEntry(`product:${id}`, async () => {
    const { rows } = await db.read<Product>(
      "select id, name, price_cents from hono_example_products where id = $1",
      [id],
    );
    return rows[0];
  });
  c.header("Cache-Status", cacheStatus(result));
  return result.value ? c.json(result.value) : c.json({ error: "not found" }, 404);
});

const server = serve(
  { fetch: app.fetch, hostname: "127.0.0.1", port: Number(process.env.PORT ?? 0) },
  (info) => console.log(`listening on http://127.0.0.1:${info.port}`),
);

// Graceful stop: stop accepting, let in-flight requests finish, then release the pool.
function shutdown(signal: string): void {
  console.log(`${signal}: shutting down`);
  server.close(async () => {
    metrics.stop();
    cache.close();
    await db.close({ drain: "2s" });
    console.log("stopped");
  });
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
