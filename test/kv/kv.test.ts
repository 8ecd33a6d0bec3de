import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { KvVersionConflictError, ValidationError } from "../../src/index.js";
import { prefixUpperBound } from "../../src/kv/validate.js";
import { databaseUnderTest } from "../helpers/database.js";

const { target, database } = await databaseUnderTest("kv");
const db = database();

/** Statements the handle sent (one per attempt): the round trips a call cost. */
const statements = { count: 0 };
db.on("call", (e) => {
  statements.count += e.attempts;
});

describe("kv: the Supabase kv_store API", () => {
  const kv = db.kv({ namespace: "api" });

  it("get, set, del, has, with versions", async () => {
    assert.equal(await kv.get("missing"), undefined);
    assert.deepEqual(await kv.set("a", { n: 1 }), { version: 1 });
    assert.deepEqual(await kv.set("a", { n: 2 }), { version: 2 });
    assert.deepEqual(await kv.get("a"), { n: 2 });
    const e = await kv.getEntry("a");
    assert.equal(e?.version, 2);
    assert.ok(e?.updatedAt instanceof Date);
    assert.equal(await kv.has("a"), true);
    assert.equal(await kv.del("a"), true);
    assert.equal(await kv.del("a"), false);
    assert.equal(await kv.has("a"), false);
  });

  it("mset, mget and mdel are one statement each, keep order and let a repeated key's last value win", async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `batch:${String(i).padStart(3, "0")}`);
    await kv.mset([...keys.map((k, i) => [k, i] as const), ["batch:000", "last"]]);
    const values = await kv.mget([...keys].reverse());
    assert.equal(values.length, 100);
    assert.equal(values[0], 99);
    assert.equal(values[99], "last");
    assert.deepEqual(await kv.mget(["batch:001", "nope"]), [1, undefined]);
    assert.equal(await kv.mdel([...keys, "nope"]), 100);
    assert.deepEqual(await kv.mget(["batch:001"]), [undefined]);
  });

  it("mget of 100 keys costs one round trip where 100 gets cost 100", async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `rt:${i}`);
    await kv.mset(keys.map((k) => [k, k] as const));
    const before = statements.count;
    assert.equal((await kv.mget(keys)).length, 100);
    const afterMget = statements.count;
    for (const k of keys) await kv.get(k);
    assert.equal(afterMget - before, 1);
    assert.equal(statements.count - afterMget, 100);
  });

  it("prefix scans treat %, _, backslashes, quotes and unicode as plain characters", async () => {
    const keys = [
      "p%",
      "p%x",
      "p_",
      "p_y",
      "pa",
      "pz",
      "p\\",
      "p\\q",
      "p'",
      "p''",
      'p"',
      "pé",
      "p😀",
      "p😀x",
      "q",
    ];
    await kv.mset(keys.map((k) => [k, k] as const));
    for (const prefix of ["p%", "p_", "p\\", "p'", "p😀", "pé", "p"]) {
      const expected = keys.filter((k) => k.startsWith(prefix)).sort(codePointOrder);
      assert.deepEqual(await kv.getByPrefix(prefix), expected, `prefix ${prefix}`);
    }
  });

  it("list pages by key with a cursor; iterate walks a large prefix", async () => {
    const keys = Array.from({ length: 250 }, (_, i) => `page:${String(i).padStart(4, "0")}`);
    await kv.mset(keys.map((k) => [k, { k }] as const));
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await kv.list({ prefix: "page:", limit: 100, ...(after ? { after } : {}) });
      seen.push(...page.items.map((i) => i.key));
      after = page.next;
      pages++;
    } while (after);
    assert.equal(pages, 3);
    assert.deepEqual(seen, keys);
    const iterated: string[] = [];
    for await (const e of kv.iterate({ prefix: "page:", batchSize: 64 })) iterated.push(e.key);
    assert.deepEqual(iterated, keys);
    await assert.rejects(kv.getByPrefix("page:", { limit: 100 }), ValidationError);
  });

  it("namespaces do not see each other", async () => {
    const other = db.kv({ namespace: "other" });
    await kv.set("shared-name", "api");
    await other.set("shared-name", "other");
    assert.equal(await kv.get("shared-name"), "api");
    assert.equal(await other.get("shared-name"), "other");
  });

  it("compare-and-set", async () => {
    assert.deepEqual(await kv.set("cas", 1, { ifVersion: 0 }), { version: 1 });
    await assert.rejects(
      kv.set("cas", 2, { ifVersion: 0 }),
      (e: unknown) => e instanceof KvVersionConflictError && e.actual === 1,
    );
    assert.deepEqual(await kv.set("cas", 2, { ifVersion: 1 }), { version: 2 });
    await assert.rejects(kv.set("cas", 3, { ifVersion: 1 }), KvVersionConflictError);
    assert.equal(await kv.get("cas"), 2);
  });

  it("ttl: an expired key is gone for every read", async () => {
    await kv.set("ttl", "soon", { ttl: "1h" });
    assert.ok((await kv.getEntry("ttl"))?.expiresAt instanceof Date);
    await target.sql(
      "UPDATE steadfast_kv SET expires_at = now() - interval '1 second' WHERE key = 'ttl'",
    );
    assert.equal(await kv.get("ttl"), undefined);
    assert.equal(await kv.has("ttl"), false);
    assert.deepEqual(await kv.mget(["ttl"]), [undefined]);
    assert.deepEqual(await kv.getByPrefix("ttl"), []);
    assert.deepEqual(await kv.set("ttl", "again", { ifVersion: 0 }), { version: 2 });
  });
});

describe("kv: bad input is rejected before anything is written", () => {
  const kv = db.kv({ namespace: "bad" });
  const cases: [string, () => Promise<unknown>, string][] = [
    ["an empty key", () => kv.set("", 1), "key"],
    ["a key over 1024 characters", () => kv.set("k".repeat(1025), 1), "key"],
    ["a NUL in a key", () => kv.set("a\u0000b", 1), "key"],
    ["an unpaired surrogate", () => kv.set("a\uD800", 1), "key"],
    ["undefined", () => kv.set("u", undefined), "value"],
    ["a BigInt", () => kv.set("b", { n: 1n }), "value"],
    ["NaN", () => kv.set("n", [Number.NaN]), "value"],
    ["a function", () => kv.set("f", () => 1), "value"],
    ["a cycle", () => kv.set("c", cyclic()), "value"],
    ["a NUL in a string value", () => kv.set("z", "a\u0000"), "value"],
    [
      "a bad key inside mset",
      () =>
        kv.mset([
          ["ok", 1],
          ["", 2],
        ]),
      "entries[1].key",
    ],
    ["1001 keys", () => kv.mget(Array.from({ length: 1001 }, (_, i) => `k${i}`)), "keys"],
    ["a negative ttl", () => kv.set("t", 1, { ttl: -5 }), "ttl"],
    ["a bad cursor", () => kv.list({ after: "" }), "after"],
  ];
  for (const [label, call, field] of cases) {
    it(label, async () => {
      await assert.rejects(
        call(),
        (e: unknown) => e instanceof ValidationError && e.field === field,
      );
    });
  }
  it("nothing was written", async () => {
    assert.deepEqual(await kv.list(), { items: [], next: undefined });
  });
  it("odd namespace and table names are rejected at creation", () => {
    assert.throws(() => db.kv({ namespace: "a b" }), ValidationError);
    assert.throws(() => db.kv({ namespace: "x".repeat(65) }), ValidationError);
    assert.throws(() => db.kv({ table: "kv; drop table x" }), /kv\.table/);
  });
});

describe("kv: adopting an existing Supabase-style table", () => {
  it("reads and writes a kv_store_* table in place, with exact prefix semantics", async () => {
    await target.sql(
      "CREATE TABLE kv_store_abc123 (key text NOT NULL PRIMARY KEY, value jsonb NOT NULL)",
    );
    await target.sql(
      `INSERT INTO kv_store_abc123 VALUES ('user:1', '{"n":1}'), ('user_1', '"underscore"'), ('user%1', '"percent"'), ('usera', '"a"')`,
    );
    const kv = db.kv({ table: "kv_store_abc123", adopt: true });
    assert.deepEqual(await kv.get("user:1"), { n: 1 });
    assert.deepEqual(await kv.getByPrefix("user_"), ["underscore"]);
    assert.deepEqual(await kv.getByPrefix("user%"), ["percent"]);
    await kv.set("user:2", { n: 2 });
    await kv.mset({ "user:3": 3, "user:4": 4 });
    assert.deepEqual(await kv.getByPrefix("user:"), [{ n: 1 }, { n: 2 }, 3, 4]);
    assert.equal(await kv.del("user:2"), true);
    await assert.rejects(kv.set("user:9", 1, { ttl: "1m" }), ValidationError);
    const rows = await target.sql<{ n: string }>("SELECT count(*) AS n FROM kv_store_abc123");
    assert.equal(Number(rows[0]?.n), 6);
    await assert.rejects(db.kv({ table: "no_such_table", adopt: true }).get("x"), /kv\.table/);
  });
});

describe("prefixUpperBound", () => {
  it("bounds exactly the strings that start with the prefix (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 4 }),
        fc.string({ unit: "grapheme", maxLength: 4 }),
        (prefix, other) => {
          const upper = prefixUpperBound(prefix);
          const inRange =
            codePointOrder(other, prefix) >= 0 &&
            (upper === undefined || codePointOrder(other, upper) < 0);
          return inRange === other.startsWith(prefix);
        },
      ),
    );
    assert.equal(prefixUpperBound("a"), "b");
    assert.equal(prefixUpperBound("a\u{10FFFF}"), "b");
    assert.equal(prefixUpperBound("\u{10FFFF}"), undefined);
    assert.equal(prefixUpperBound("\uD7FF"), "\uE000");
  });
});

function codePointOrder(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function cyclic(): unknown {
  const o: Record<string, unknown> = {};
  o.self = o;
  return o;
}
