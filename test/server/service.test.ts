import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { type Service, startService } from "../../src/server/service.js";
import { freshDatabase } from "../helpers/db.js";
import { waitFor } from "../helpers/wait.js";

const target = await freshDatabase("service");
const running: Service[] = [];
after(async () => {
  await Promise.all(running.map((s) => s.close()));
});

async function start(extra: Parameters<typeof startService>[0] = {}): Promise<Service> {
  const service = await startService({
    databaseUrl: target.url,
    port: 0,
    drainMs: 5_000,
    ...extra,
  });
  running.push(service);
  return service;
}

const a = await start({ adminToken: "service-admin-token-123" });
const b = await start();

async function call(
  service: Service,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? JSON.parse(text) : undefined,
  };
}

describe("the KV JSON API", () => {
  it("put, get, delete a key; a write on one instance is read on the other", async () => {
    const put = await call(a, "PUT", "/kv/app/greeting", { hello: "world" });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body, { key: "greeting", version: 1 });
    const got = await call(b, "GET", "/kv/app/greeting");
    assert.equal(got.status, 200);
    assert.deepEqual(got.body.value, { hello: "world" });
    assert.ok(got.headers.get("cache-status")?.startsWith("steadfast"));
    assert.deepEqual((await call(b, "DELETE", "/kv/app/greeting")).body, { deleted: true });
    const gone = await call(a, "GET", "/kv/app/greeting");
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, "KEY_NOT_FOUND");
  });

  it("keys with /, %, _, quotes and unicode round-trip through the path", async () => {
    for (const key of ["a/b/c", "100%_done", 'it\'s "quoted"', "ключ 🔑", "sp ace"]) {
      const path = `/kv/odd/${encodeURIComponent(key)}`;
      const put = await call(a, "PUT", path, JSON.stringify(key));
      assert.equal(put.status, 200, `${key}: ${JSON.stringify(put.body)}`);
      const got = await call(b, "GET", path);
      assert.equal(got.body.key, key);
      assert.equal(got.body.value, key);
    }
    const page = await call(a, "GET", `/kv/odd?prefix=${encodeURIComponent("100%")}`);
    assert.deepEqual(
      page.body.items.map((i: { key: string }) => i.key),
      ["100%_done"],
    );
  });

  it("lists with a cursor, and batches get and put", async () => {
    const entries = Object.fromEntries(
      Array.from({ length: 30 }, (_, i) => [`item:${String(i).padStart(2, "0")}`, i]),
    );
    assert.deepEqual((await call(a, "POST", "/kv/list/_batch/put", { entries })).body, {
      written: 30,
    });
    const first = await call(b, "GET", "/kv/list?prefix=item:&limit=20");
    assert.equal(first.body.items.length, 20);
    const second = await call(
      b,
      "GET",
      `/kv/list?prefix=item:&limit=20&after=${encodeURIComponent(first.body.next)}`,
    );
    assert.equal(second.body.items.length, 10);
    assert.equal(second.body.next, null);
    const batch = await call(b, "POST", "/kv/list/_batch/get", {
      keys: ["item:00", "item:29", "nope"],
    });
    assert.deepEqual(batch.body.values, { "item:00": 0, "item:29": 29, nope: null });
  });

  it("compare-and-set with If-Match", async () => {
    assert.equal((await call(a, "PUT", "/kv/cas/k", 1, { "if-match": "0" })).status, 200);
    const conflict = await call(b, "PUT", "/kv/cas/k", 2, { "if-match": "0" });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error.code, "KV_VERSION_CONFLICT");
    assert.equal((await call(b, "PUT", "/kv/cas/k", 2, { "if-match": "1" })).status, 200);
  });
});

describe("bad requests get a JSON error with a stable code, never a 500", () => {
  it("oversized body → 413", async () => {
    const r = await call(a, "PUT", "/kv/app/big", JSON.stringify("x".repeat(1_100_000)));
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, "PAYLOAD_TOO_LARGE");
  });
  it("malformed JSON → 400 with the position", async () => {
    const r = await call(a, "PUT", "/kv/app/bad", '{"a": 1,, }');
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, "MALFORMED_JSON");
    assert.equal(typeof r.body.error.position, "number");
  });
  it("key rules → 400 naming the field", async () => {
    const r = await call(a, "PUT", `/kv/app/${"k".repeat(1100)}`, 1);
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, "VALIDATION_FAILED");
    assert.equal(r.body.error.field, "key");
    const malformed = await call(a, "GET", "/kv/app/%E0%A4%A");
    assert.equal(malformed.status, 400);
  });
  it("an empty body, a bad namespace, an unknown route, a bad ttl", async () => {
    assert.equal((await call(a, "PUT", "/kv/app/empty")).body.error.code, "BODY_REQUIRED");
    assert.equal((await call(a, "GET", "/kv/bad%20ns/k")).status, 404);
    const unknown = await call(a, "GET", "/nothing/here");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "NOT_FOUND");
    assert.equal((await call(a, "PUT", "/kv/app/t?ttl=soon", 1)).body.error.field, "ttl");
  });
});

describe("health and admin through the service", () => {
  it("serves /health, /health/live, /health/ready and the token-protected reconnect", async () => {
    const health = await call(a, "GET", "/health");
    assert.equal(health.status, 200);
    assert.equal(health.headers.get("content-type"), "application/health+json");
    assert.equal((await call(a, "GET", "/health/live")).status, 200);
    assert.equal((await call(a, "GET", "/health/ready")).status, 200);
    assert.equal((await call(a, "POST", "/admin/reconnect")).status, 401);
    assert.equal((await call(a, "GET", "/admin/reconnect")).status, 405);
    assert.equal(
      (
        await call(a, "POST", "/admin/reconnect", undefined, {
          authorization: "Bearer service-admin-token-123",
        })
      ).status,
      202,
    );
    assert.equal(
      (await call(b, "POST", "/admin/reconnect", undefined, { authorization: "Bearer x" })).status,
      403,
    );
  });
});

describe("graceful shutdown", () => {
  it("readiness fails at once, in-flight requests finish, then the service stops", async () => {
    const service = await start({
      plugins: [
        (ctx) => {
          ctx.routes.push((app) =>
            app.get("/slow", async (c) => {
              await ctx.db.read("SELECT pg_sleep(0.4)");
              return c.json({ done: true });
            }),
          );
        },
      ],
    });
    const slow = fetch(`${service.url}/slow`).then(async (r) => ({
      status: r.status,
      body: await r.json(),
    }));
    await waitFor("the slow request to be in flight", () => service.inFlight === 1);
    const closing = service.close();
    assert.equal(service.context.health.draining, true);
    assert.deepEqual(await slow, { status: 200, body: { done: true } });
    await closing;
    await assert.rejects(fetch(`${service.url}/health/live`), /fetch failed/);
  });
});
