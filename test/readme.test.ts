import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { freshDatabase } from "./helpers/db.js";

// The README's first TypeScript block, run as written against a real database: only its
// package imports are pointed at the sources, and its database handle is exported so the test
// can close it.
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
const src = new URL("../src/", import.meta.url).pathname;
const code = `${block
  .replace(/from "steadfast"/g, `from "${src}index.ts"`)
  .replace(/from "steadfast\/pg"/g, `from "${src}drivers/pg/index.ts"`)
  .replace(/from "steadfast\/http"/g, `from "${src}http/index.ts"`)}\nexport { db, cache };\n`;

interface ReadmeModule {
  getUser(id: string): Promise<{ value: unknown; provenance: string }>;
  placeOrder(userId: string, requestId: string): Promise<string>;
  GET(request: Request): Promise<Response>;
  db: { close(): Promise<void> };
}

const target = await freshDatabase("readme");
await target.sql("CREATE TABLE users (id text PRIMARY KEY, name text NOT NULL)");
await target.sql("CREATE TABLE orders (id serial PRIMARY KEY, user_id text NOT NULL)");
await target.sql("INSERT INTO users VALUES ('1', 'Ada')");
const dir = mkdtempSync(join(tmpdir(), "steadfast-readme-"));
const file = join(dir, "example.ts");
writeFileSync(file, code);
process.env.DATABASE_URL = target.url;
const example = (await import(pathToFileURL(file).href)) as ReadmeModule;
after(async () => {
  await example.db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the README's ten-line example", () => {
  it("has ten lines or fewer of code", () => {
    assert.ok(block.trim().split("\n").length <= 10, block);
  });

  it("reads through the cache: fresh from the database, then cached", async () => {
    const first = await example.getUser("1");
    assert.deepEqual(first.value, { id: "1", name: "Ada" });
    assert.equal(first.provenance, "fresh");
    assert.equal((await example.getUser("1")).provenance, "cached");
  });

  it("places an order once per request id, however often it is called", async () => {
    assert.equal(await example.placeOrder("1", "req-1"), "placed");
    assert.equal(await example.placeOrder("1", "req-1"), "placed");
    const rows = await target.sql("SELECT * FROM orders");
    assert.equal(rows.length, 1);
  });

  it("serves application/health+json", async () => {
    const response = await example.GET(new Request("http://localhost/health"));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/health+json");
    assert.equal(((await response.json()) as { status: string }).status, "pass");
  });
});
