/**
 * The Hono example's three routes on Express 5: Steadfast's HTTP handlers are Web-standard
 * (`Request` → `Response`), so Express mounts them through a small adapter (`web()` below);
 * the cached read is plain Express.
 *
 * Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch node --import tsx examples/express/main.ts
 * (PORT picks the port; default 0, any free one). Stops cleanly on SIGTERM or Ctrl-C.
 */
import express, { type RequestHandler } from "express";
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
const cache = createCache<Product>({
  ttl: "30s",
  grace: "10m",
  softTimeout: "200ms",
  unavailable: () => db.breaker?.rejection(),
});
const health = healthHandlers(createHealth(db, { cache }));
const metrics = prometheusMetrics(db, { cache });

await db.write(`create table if not exists express_example_products (
  id int primary key, name text not null, price_cents int not null)`);
await db.write(
  `insert into express_example_products values (1, 'teapot', 2500), (2, 'kettle', 4000)
   on conflict (id) do nothing`,
);

/** Adapts a Web-standard handler to Express: build a `Request`, copy the `Response` back. */
function web(handler: (request: Request) => Promise<Response>): RequestHandler {
  return async (req, res) => {
    const request = new Request(
      `${req.protocol}://${req.get("host") ?? "localhost"}${req.originalUrl}`,
      {
        method: req.method,
      },
    );
    const response = await handler(request);
    // forEach, not Object.fromEntries(response.headers): the latter needs the DOM.Iterable lib.
    response.headers.forEach((value, name) => {
      res.setHeader(name, value);
    });
    res.status(response.status).send(Buffer.from(await response.arrayBuffer()));
  };
}

const app = express();
app.get("/health", web(health.health));
app.get("/health/live", web(health.live));
app.get("/health/ready", web(health.ready));
app.get("/metrics", web(metricsHandler(metrics.registry)));
// Express 5 passes a rejected promise to the error handler, so no try/catch is needed here.
app.get("/products/:id", async (req, res) => {
  const id = Number(req.params.id);
  if (!Number.isSafeInteger(id)) {
    res.status(400).json({ error: "id must be a number" });
    return;
  }
  const result = await cache.getOrLoadEntry(`product:${id}`, async () => {
    const { rows } = await db.read<Product>(
      "select id, name, price_cents from express_example_products where id = $1",
      [id],
    );
    return rows[0];
  });
  res.set("Cache-Status", cacheStatus(result));
  if (result.value) res.json(result.value);
  else res.status(404).json({ error: "not found" });
});

const server = app.listen(Number(process.env.PORT ?? 0), "127.0.0.1", (error) => {
  if (error) throw error;
  const address = server.address();
  if (address && typeof address === "object")
    console.log(`listening on http://127.0.0.1:${address.port}`);
});

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
