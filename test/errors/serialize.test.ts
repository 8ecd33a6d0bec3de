import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import pg from "pg";
import { ConfigError } from "../../src/errors/config-error.js";
import { CircuitOpenError, PoolTimeoutError, TimeoutError } from "../../src/errors/errors.js";
import { isSecretKey, redactSecrets } from "../../src/errors/redact.js";
import { type SerializedError, serializeError } from "../../src/errors/serialize.js";
import { freshDatabase } from "../helpers/db.js";

const db = await freshDatabase("serialize");
await db.sql(
  "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL CONSTRAINT users_email_key UNIQUE)",
);
await db.sql("INSERT INTO users VALUES (1, 'a@example.com')");

/** The whole output, as a logger would write it. Must always be valid JSON. */
function json(value: SerializedError): string {
  const text = JSON.stringify(value);
  JSON.parse(text);
  return text;
}

function assertNoSecret(output: SerializedError, ...secrets: string[]): void {
  const text = json(output);
  for (const secret of secrets) {
    assert.ok(
      !text.includes(secret),
      `secret ${JSON.stringify(secret)} leaked: ${text.slice(0, 600)}`,
    );
    assert.ok(
      !text.includes(JSON.stringify(secret).slice(1, -1)),
      `escaped secret leaked: ${secret}`,
    );
  }
}

describe("redactSecrets", () => {
  // [input, secrets that must vanish, a substring the output must keep]
  const cases: [string, string[], string][] = [
    [
      "connect postgres://app:hunter2@db:5432/app failed",
      ["hunter2"],
      "postgres://app:***@db:5432/app failed",
    ],
    ["postgresql://u:S3cr3t!@h/db", ["S3cr3t!"], "postgresql://u:***@h/db"],
    ["redis://default:r3dis@cache:6379/0", ["r3dis"], "redis://default:***@cache:6379/0"],
    ["rediss://:tls-only-pw@cache:6380", ["tls-only-pw"], "rediss://:***@cache:6380"],
    ["amqp://guest:gu3st@mq/vhost", ["gu3st"], "amqp://guest:***@mq/vhost"],
    [
      "special: postgres://u:p@ss:w/rd%40@host:5432/db?x=1",
      ["p@ss", "w/rd%40"],
      "postgres://u:***@host:5432/db?x=1",
    ],
    ["unicode: postgres://ü:pässwörd🔑@hôst/db end", ["pässwörd🔑"], "@hôst/db end"],
    ["encoded: postgres://u:p%40ss%3Aw%2Frd@h/db", ["p%40ss"], "postgres://u:***@h/db"],
    [
      "two: postgres://a:first1@h1/db and redis://b:second2@h2 (both)",
      ["first1", "second2"],
      "postgres://a:***@h1/db and redis://b:***@h2 (both)",
    ],
    ['in JSON: {"url":"postgres://a:jsonpw@h/db","who":"x@y"}', ["jsonpw"], '"who":"x@y"'],
    [
      "multi-host: postgres://u:mh-pw@h1:5432,h2:5432/db",
      ["mh-pw"],
      "postgres://u:***@h1:5432,h2:5432/db",
    ],
    ["host=db password=kv-secret user=app", ["kv-secret"], "host=db password=*** user=app"],
    [
      "host=db password='quoted secret' user=app",
      ["quoted secret", "secret'"],
      "password='***' user=app",
    ],
    ['{"password":"js\\"on","user":"bob"}', ['js\\"on', "on"], '"user":"bob"'],
    [
      "{ password: \"obj-pw\", pwd: 'pwd-pw', passwd: plain-pw }",
      ["obj-pw", "pwd-pw", "plain-pw"],
      "password: ",
    ],
    ["PGPASSWORD=env-pw psql", ["env-pw"], "PGPASSWORD=*** psql"],
    ["?sslpassword=q-pw&application_name=x", ["q-pw"], "sslpassword=***"],
    [
      "secret: s-val, token=t-val, apikey=ak-val, api_key: 'ak2-val', apiKey=ak3",
      ["s-val", "t-val", "ak-val", "ak2-val", "ak3"],
      "secret: ***",
    ],
    [
      "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
      ["eyJhbGciOiJIUzI1NiJ9", "sig"],
      "Authorization: ***",
    ],
    [
      "sent Bearer abc.DEF-ghi_123~+/= to upstream",
      ["abc.DEF-ghi_123"],
      "sent Bearer *** to upstream",
    ],
    ["Authorization: Digest username=bob, response=6629fae4", ["6629fae4"], "Authorization: ***"],
    ['"authorization":"Basic dXNlcjpwYXNz"', ["dXNlcjpwYXNz"], '"authorization":"***"'],
    ['escaped: {\\"password\\":\\"esc pw\\"}', ["esc pw"], '{\\"password\\":\\"***\\"}'],
    ["ALTER ROLE app PASSWORD 'sql''pw'", ["sql''pw", "pw'"], "ALTER ROLE app PASSWORD '***'"],
    ["cookie: sid=ck-1; theme=dark", ["ck-1"], "cookie: ***"],
  ];
  for (const [input, secrets, kept] of cases) {
    it(JSON.stringify(input), () => {
      const out = redactSecrets(input);
      for (const secret of secrets) assert.ok(!out.includes(secret), `${secret} leaked: ${out}`);
      assert.ok(out.includes(kept), `expected ${JSON.stringify(kept)} in ${JSON.stringify(out)}`);
      assert.equal(redactSecrets(out), out, "redaction is idempotent");
    });
  }

  const untouched = [
    'password authentication failed for user "app"',
    "at Object.getToken (file:///srv/app/src/token.ts:10:5)",
    "http://example.com:8080/path and postgres://app@db/app",
    'duplicate key value violates unique constraint "users_email_key"',
    "Key (email)=(a@example.com) already exists.",
  ];
  for (const text of untouched) {
    it(`leaves alone: ${JSON.stringify(text)}`, () => assert.equal(redactSecrets(text), text));
  }

  it("stays fast on hostile input", () => {
    const inputs = [
      "a://".repeat(50_000),
      `postgres://u:${"x".repeat(200_000)}`,
      "password=".repeat(30_000),
      `token: "${"\\".repeat(100_000)}`,
      `${"token-".repeat(30_000)}=1`,
    ];
    for (const input of inputs) {
      const started = performance.now();
      redactSecrets(input);
      assert.ok(performance.now() - started < 1_000, `slow on ${input.slice(0, 20)}…`);
    }
  });

  it("isSecretKey", () => {
    for (const key of [
      "password",
      "PGPASSWORD",
      "sslPassword",
      "accessToken",
      "api_key",
      "apiKey",
      "Authorization",
    ]) {
      assert.equal(isSecretKey(key), true, key);
    }
    for (const key of ["user", "host", "constraint", "retryAfterMs"])
      assert.equal(isSecretKey(key), false, key);
  });
});

describe("serializeError", () => {
  it("a real pg error keeps its PostgreSQL fields (live unique violation)", async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    let err: unknown;
    try {
      await client.query("INSERT INTO users VALUES (2, 'a@example.com')");
    } catch (e) {
      err = e;
    } finally {
      await client.end();
    }
    const out = serializeError(err);
    assert.equal(out.name, "DatabaseError");
    assert.equal(out.code, "23505");
    assert.equal(out.severity, "ERROR");
    assert.equal(out.constraint, "users_email_key");
    assert.equal(out.table, "users");
    assert.equal(out.schema, "public");
    assert.match(out.detail ?? "", /Key \(email\)=\(a@example\.com\) already exists/);
    assert.equal(typeof out.routine, "string");
    assert.equal(typeof out.file, "string");
    assert.equal(out.length, undefined, "pg's protocol length is noise");
    assert.match(out.stack ?? "", /duplicate key/);
    json(out);
  });

  it("our errors keep their fields", () => {
    const counts = { total: 10, idle: 0, active: 10, pending: 4, max: 10 };
    const pool = serializeError(
      new PoolTimeoutError(5_000, counts, new TimeoutError(2_000, "connect")),
    );
    assert.equal(pool.code, "POOL_TIMEOUT");
    assert.deepEqual(pool.counts, counts);
    assert.equal(pool.waitedMs, 5_000);
    assert.equal((pool.cause as SerializedError).phase, "connect");
    assert.equal((pool.cause as SerializedError).timeoutMs, 2_000);
    const circuit = serializeError(new CircuitOpenError(1_500, "main"));
    assert.equal(circuit.retryAfterMs, 1_500);
    assert.equal(circuit.breaker, "main");
    const config = serializeError(
      new ConfigError([{ field: "max", expected: "an integer >= 1", received: "number 0" }]),
    );
    assert.deepEqual(config.issues, [
      { field: "max", expected: "an integer >= 1", received: "number 0" },
    ]);
  });

  it("circular references become [Circular]", () => {
    const a = new Error("a") as Error & { self?: unknown; ctx?: unknown };
    const b = new Error("b", { cause: a });
    a.self = a;
    a.ctx = { back: a, list: [a, { deeper: b }] };
    Object.defineProperty(a, "cause", { value: b, enumerable: false });
    const out = serializeError(a);
    assert.equal(out.self, "[Circular]");
    const cause = out.cause as SerializedError;
    assert.equal(cause.message, "b");
    assert.equal(cause.cause, "[Circular]");
    assert.deepEqual((out.ctx as { back: unknown }).back, "[Circular]");
    json(out);
  });

  it("a cause chain beyond the bound is cut with a marker", () => {
    let err: unknown = new Error("bottom");
    for (let i = 0; i < 30; i++) err = new Error(`level ${i}`, { cause: err });
    let node = serializeError(err);
    let depth = 0;
    while (typeof node.cause === "object") {
      node = node.cause;
      depth++;
    }
    assert.equal(depth, 8);
    assert.equal(node.cause, "[Truncated]");
    assert.equal(countCauses(serializeError(err, { maxDepth: 3 })), 3);
  });

  it("AggregateError members are kept, bounded, with the count left out", () => {
    const members = Array.from({ length: 25 }, (_, i) =>
      Object.assign(new Error(`m${i}`), { code: "ECONNREFUSED" }),
    );
    const out = serializeError(new AggregateError(members, ""));
    assert.equal(out.name, "AggregateError");
    assert.equal(out.errors?.length, 10);
    assert.equal(out.errorsOmitted, 15);
    const first = out.errors?.[0];
    assert.equal(typeof first === "object" ? first.code : first, "ECONNREFUSED");
  });

  it("throwing getters, Proxies and non-Error values never make it throw", () => {
    const boom = () => {
      throw new Error("getter");
    };
    const getters = Object.defineProperties(new Error("g"), {
      message: { get: boom, enumerable: true },
      code: { get: boom },
      cause: { get: boom },
      detail: { get: boom, enumerable: true },
      extra: { get: boom, enumerable: true },
    });
    const proxy = new Proxy(new Error("p"), {
      get: boom,
      ownKeys: boom,
      getPrototypeOf: boom,
      has: boom,
    });
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    const values: unknown[] = [
      getters,
      proxy,
      revocable.proxy,
      "a string",
      42,
      null,
      undefined,
      Symbol("s"),
      10n,
      () => {},
      Object.create(null),
      { message: "plain object", code: 7, nested: { date: new Date(Number.NaN), map: new Map() } },
      [1, 2, 3],
    ];
    for (const value of values) {
      const out = serializeError(value);
      assert.equal(typeof out.name, "string");
      assert.equal(typeof out.message, "string");
      json(out);
    }
    assert.equal(serializeError("a string").message, "a string");
    assert.equal(serializeError(null).name, "NonError");
    assert.equal(serializeError(getters).message, "[Unreadable]");
    assert.equal(serializeError(getters).extra, "[Unreadable]");
  });

  it("fuzz: anything serializes to valid JSON", () => {
    fc.assert(
      fc.property(
        fc.anything({ withNullPrototype: true, withBigInt: true, withObjectString: true }),
        (value) => {
          json(serializeError(value));
          json(serializeError(new Error("wrap", { cause: value })));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("huge messages and objects stay bounded", () => {
    const huge = Object.assign(new Error("x".repeat(5_000_000)), {
      blob: "y".repeat(1_000_000),
      many: Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, i])),
      long: Array.from({ length: 10_000 }, (_, i) => i),
    });
    const out = serializeError(huge);
    const size = json(out).length;
    assert.ok(size < 100_000, `serialized size ${size}`);
    assert.match(out.message, /truncated, 5000000 chars/);
    assert.equal((out.many as Record<string, unknown>).fieldsOmitted, 1_000 - 32);
    const tight = json(serializeError(huge, { maxSize: 2_000, stack: false })).length;
    assert.ok(tight < 4_000, `tight size ${tight}`);
  });

  it("stack: included by default, omitted with { stack: false }", () => {
    const err = new Error("s");
    assert.match(serializeError(err).stack ?? "", /serialize\.test/);
    assert.equal(serializeError(err, { stack: false }).stack, undefined);
  });
});

describe("serializeError never lets a secret through", () => {
  const secrets = ["hunter2", "p@ss:w/rd%40", "pässwörd🔑", "tok-ABC123", "s3cr3t-value"];
  const makers: [string, (s: string) => unknown][] = [
    [
      "URL in message",
      (s) => new Error(`connect to postgres://app:${s}@db.internal:5432/app failed`),
    ],
    [
      "URL in the middle of text in a cause",
      (s) => new Error("outer", { cause: new Error(`x redis://u:${s}@r:6379 y`) }),
    ],
    [
      "URL in a stack only",
      (s) => Object.assign(new Error("m"), { stack: `Error: m postgres://a:${s}@h\n    at x` }),
    ],
    [
      "key=value in detail",
      (s) => Object.assign(new Error("m"), { detail: `password=${s} host=h` }),
    ],
    [
      "secret-named fields",
      (s) =>
        Object.assign(new Error("m"), {
          password: s,
          config: { apiToken: s, nested: { secret: s } },
        }),
    ],
    [
      "a connection config object",
      (s) =>
        Object.assign(new Error("m"), {
          config: { connectionString: `postgres://u:${s}@h/d`, password: s },
        }),
    ],
    [
      "inside an AggregateError member",
      (s) => new AggregateError([new Error(`postgres://u:${s}@h`)], "agg"),
    ],
    ["a thrown string", (s) => `failed: password: "${s}"`],
    ["Bearer token", (s) => new Error(`upstream said 401 for Authorization: Bearer ${s}`)],
    [
      "many secrets in one string",
      (s) => new Error(`a postgres://u:${s}@h b password=${s} c token: '${s}' d Bearer ${s}`),
    ],
    [
      "a secret near the truncation point",
      (s) => new Error(`${"z".repeat(9_000)} postgres://u:${s}@h/db`),
    ],
    // Redaction shrinks the first 17 KB to a few bytes, so the cut of the raw text (17408 chars
    // at the default bounds) lands 2 characters into the URL's password, near what is kept.
    [
      "a secret split by the raw cut",
      (s) => new Error(`password=${"x".repeat(17_383)} postgres://u:${s}@h`),
    ],
  ];
  for (const [label, make] of makers) {
    it(label, () => {
      for (const secret of secrets) {
        const err = make(secret);
        assertNoSecret(serializeError(err), secret);
        assertNoSecret(serializeError(err, { maxStringLength: 64 }), secret);
      }
    });
  }
});

function countCauses(node: SerializedError): number {
  let n = 0;
  let current: SerializedError | string | undefined = node.cause;
  while (typeof current === "object") {
    n++;
    current = current.cause;
  }
  return n;
}
