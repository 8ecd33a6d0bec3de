// docs/options.md must list exactly the options the code accepts, with the code's defaults and
// the presets' values. Each table follows a `<!-- options: id -->` marker; SPECS below says,
// per id, which compile-checked key list it documents and what the code resolves by default.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CACHE_READ_OPTION_KEYS } from "../../src/cache/cache.js";
import { CACHE_OPTION_KEYS, resolveCacheOptions } from "../../src/cache/options.js";
import type { Database } from "../../src/db/database.js";
import { QUERY_OPTION_KEYS } from "../../src/db/database.js";
import type { DatabaseDriver } from "../../src/db/driver.js";
import {
  DATABASE_IDEMPOTENCY_KEYS,
  DATABASE_OPTION_KEYS,
  DATABASE_RETRY_KEYS,
  DATABASE_TRANSACTION_KEYS,
  type ResolvedDatabaseOptions,
  resolveDatabaseOptions,
} from "../../src/db/options.js";
import type { PresetName } from "../../src/db/presets.js";
import { TRANSACTION_OPTION_KEYS } from "../../src/db/transaction.js";
import {
  PG_NOTIFY_BUS_DEFAULTS,
  PG_NOTIFY_BUS_OPTION_KEYS,
} from "../../src/drivers/pg/notify-bus.js";
import { HEALTH_OPTION_KEYS, resolveHealthOptions } from "../../src/health/options.js";
import { KeyValueStore, KV_OPTION_KEYS, KV_SET_OPTION_KEYS } from "../../src/kv/store.js";
import { LOG_DEFAULTS, LOG_OPTION_KEYS } from "../../src/logging/logger.js";
import { BACKOFF_DEFAULTS, BACKOFF_OPTION_KEYS } from "../../src/policy/backoff.js";
import { BULKHEAD_DEFAULTS, BULKHEAD_OPTION_KEYS } from "../../src/policy/bulkhead.js";
import {
  CIRCUIT_BREAKER_OPTION_KEYS,
  resolveCircuitBreakerOptions,
} from "../../src/policy/circuit-breaker-options.js";
import { EXECUTE_OPTION_KEYS } from "../../src/policy/context.js";
import { DEADLINE_DEFAULTS, DEADLINE_OPTION_KEYS } from "../../src/policy/deadline.js";
import { RETRY_OPTION_KEYS, RetryPolicy } from "../../src/policy/retry.js";
import { RETRY_BUDGET_DEFAULTS, RETRY_BUDGET_KEYS } from "../../src/policy/retry-budget.js";
import { POOL_OPTION_KEYS, resolvePoolOptions } from "../../src/pool/options.js";
import { ACQUIRE_OPTION_KEYS } from "../../src/pool/pool.js";
import { REDIS_BUS_DEFAULTS, REDIS_BUS_OPTION_KEYS } from "../../src/redis/bus.js";
import { REDIS_L2_DEFAULTS, REDIS_L2_OPTION_KEYS } from "../../src/redis/l2.js";
import { parseDuration } from "../../src/util/duration.js";
import { type MarkdownTable, plain, readRepoFile, tablesAfterMarkers } from "./markdown-tables.js";

type Values = Readonly<Record<string, unknown>>;

interface Spec {
  /** Every option name the code accepts, as the table's name column spells it. */
  readonly keys: readonly string[];
  /** What the code uses when an option is omitted, for the options whose default is a value. */
  readonly defaults: Values;
  /** Resolved values under `createDatabase({ preset })`, for tables with a preset column. */
  readonly preset?: (preset: PresetName) => Values;
}

const PRESET_ORDER: readonly PresetName[] = ["server", "serverless", "local"];
const PRESET_COLUMN = "server / serverless / local";

const driver = { name: "fake", target: "fake", connector: {}, query: () => {} };
const database = (preset?: PresetName): ResolvedDatabaseOptions =>
  resolveDatabaseOptions({
    driver: driver as unknown as DatabaseDriver<unknown>,
    ...(preset === undefined ? {} : { preset }),
  });

const prefixed = (prefix: string, values: Values): Values =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [prefix + k, v]));

/** Only the plain (or absent) values: functions and objects are described in words. */
function plainValues(values: object): Values {
  return Object.fromEntries(
    Object.entries(values).filter(
      ([, v]) => v === undefined || (typeof v !== "object" && typeof v !== "function"),
    ),
  );
}

const kv = new KeyValueStore({} as Database<unknown>, {});

const SPECS: Readonly<Record<string, Spec>> = {
  database: {
    keys: DATABASE_OPTION_KEYS,
    defaults: (({ preset, timeout, serverTimeout, cancelGrace, logger, log }) => ({
      preset,
      timeout,
      serverTimeout,
      cancelGrace,
      logger,
      log,
    }))(database()),
    preset: (p) => ({ timeout: database(p).timeout }),
  },
  pool: {
    keys: POOL_OPTION_KEYS,
    defaults: plainValues(resolvePoolOptions(undefined)),
    preset: (p) => plainValues(resolvePoolOptions(database(p).pool)),
  },
  acquire: { keys: ACQUIRE_OPTION_KEYS, defaults: { signal: undefined } },
  "database.retry": {
    keys: DATABASE_RETRY_KEYS.map((k) => `retry.${k}`),
    defaults: { "retry.maxAttempts": database().maxAttempts },
    preset: (p) => ({ "retry.maxAttempts": database(p).maxAttempts }),
  },
  retry: { keys: RETRY_OPTION_KEYS, defaults: { maxAttempts: new RetryPolicy().maxAttempts } },
  backoff: { keys: BACKOFF_OPTION_KEYS, defaults: BACKOFF_DEFAULTS },
  retryBudget: { keys: RETRY_BUDGET_KEYS, defaults: RETRY_BUDGET_DEFAULTS },
  query: { keys: QUERY_OPTION_KEYS, defaults: { signal: undefined } },
  deadline: {
    keys: DEADLINE_OPTION_KEYS,
    defaults: { ...DEADLINE_DEFAULTS, onTimeout: undefined },
  },
  execute: {
    keys: EXECUTE_OPTION_KEYS,
    defaults: { signal: undefined, deadline: undefined, timeout: undefined, idempotent: false },
  },
  circuitBreaker: {
    keys: CIRCUIT_BREAKER_OPTION_KEYS,
    defaults: plainValues(resolveCircuitBreakerOptions()),
    preset: (p) => {
      const breaker = database(p).breaker;
      assert.ok(breaker !== false);
      return plainValues(resolveCircuitBreakerOptions(breaker));
    },
  },
  bulkhead: { keys: BULKHEAD_OPTION_KEYS, defaults: BULKHEAD_DEFAULTS },
  "database.transaction": {
    keys: DATABASE_TRANSACTION_KEYS.map((k) => `transaction.${k}`),
    defaults: { "transaction.maxAttempts": database().transactionAttempts },
  },
  "database.idempotency": {
    keys: DATABASE_IDEMPOTENCY_KEYS.map((k) => `idempotency.${k}`),
    defaults: prefixed("idempotency.", {
      table: database().idempotencyTable,
      ttl: database().idempotencyTtl,
    }),
  },
  transactionCall: {
    keys: TRANSACTION_OPTION_KEYS,
    defaults: { signal: undefined, idempotencyKey: undefined },
  },
  cache: { keys: CACHE_OPTION_KEYS, defaults: plainValues(resolveCacheOptions(undefined)) },
  cacheRead: { keys: CACHE_READ_OPTION_KEYS, defaults: { tags: undefined, fallback: undefined } },
  redisL2: { keys: REDIS_L2_OPTION_KEYS, defaults: { ...REDIS_L2_DEFAULTS, client: undefined } },
  redisBus: { keys: REDIS_BUS_OPTION_KEYS, defaults: REDIS_BUS_DEFAULTS },
  pgNotifyBus: { keys: PG_NOTIFY_BUS_OPTION_KEYS, defaults: PG_NOTIFY_BUS_DEFAULTS },
  kv: {
    keys: KV_OPTION_KEYS,
    defaults: {
      namespace: kv.namespace,
      table: kv.table.name,
      adopt: kv.table.layout === "adopted",
      cache: undefined,
    },
  },
  kvSet: { keys: KV_SET_OPTION_KEYS, defaults: { ttl: undefined, ifVersion: undefined } },
  health: { keys: HEALTH_OPTION_KEYS, defaults: plainValues(resolveHealthOptions(undefined)) },
  log: { keys: LOG_OPTION_KEYS, defaults: LOG_DEFAULTS },
};

/**
 * What a default or preset cell says: `none` (absent/off), a value (a number, duration, size,
 * boolean or quoted string), or words describing something that is not a plain value.
 */
type Cell = { readonly none: true } | { readonly value: unknown } | { readonly words: string };

function readCell(cell: string): Cell {
  const text = plain(cell)
    .replace(/\s*\([^)]*\)$/, "") // "0 (off)", "none (never expires)"
    .trim();
  if (text === "" || text === "none" || text === "—") return { none: true };
  if (text === "true" || text === "false") return { value: text === "true" };
  const quoted = /^"(.*)"$/.exec(text);
  if (quoted) return { value: quoted[1] };
  const mib = /^(\d+) MiB$/.exec(text);
  if (mib) return { value: Number(mib[1]) * 1024 * 1024 };
  const ms = parseDuration(text.replace(/(?<=\d)[,_](?=\d{3})/g, ""));
  return ms === undefined ? { words: text } : { value: ms };
}

function assertCell(cell: string, expected: unknown, where: string): void {
  const read = readCell(cell);
  if (expected === undefined) {
    assert.ok("none" in read, `${where}: the code has no default, the docs say "${cell}"`);
  } else {
    assert.ok(
      "value" in read,
      `${where}: the code's default is ${String(expected)}, docs "${cell}"`,
    );
    assert.equal(read.value, expected, `${where}: docs say "${cell}"`);
  }
}

const nameOf = (row: Record<string, string>): string => plain(row.name ?? "");

function checkTable(id: string, table: MarkdownTable, spec: Spec): void {
  const names = table.rows.map(nameOf);
  assert.deepEqual(
    [...names].sort(),
    [...spec.keys].sort(),
    `docs/options.md table "${id}" must have one row per option the code accepts`,
  );
  for (const [name, expected] of Object.entries(spec.defaults)) {
    const row = table.rows.find((r) => nameOf(r) === name);
    assert.ok(row, `${id}: no row for ${name}`);
    assertCell(row.default ?? "", expected, `${id}.${name} default`);
  }
  const hasPresetColumn = table.header.includes(PRESET_COLUMN);
  assert.equal(hasPresetColumn, spec.preset !== undefined, `${id}: "${PRESET_COLUMN}" column`);
  if (spec.preset === undefined) return;
  const byPreset = PRESET_ORDER.map((p) => spec.preset?.(p) ?? {});
  for (const row of table.rows) {
    const name = nameOf(row);
    const values = byPreset.map((v) => v[name]);
    const differs = byPreset.some((v) => name in v && v[name] !== spec.defaults[name]);
    const cell = row[PRESET_COLUMN] ?? "";
    if (!differs) {
      assert.equal(cell, "", `${id}.${name}: every preset uses the default; leave the cell empty`);
      continue;
    }
    const parts = cell.split(" / ");
    assert.equal(
      parts.length,
      3,
      `${id}.${name}: preset cell must read "server / serverless / local"`,
    );
    parts.forEach((part, i) => {
      assertCell(part, values[i], `${id}.${name} (${PRESET_ORDER[i]})`);
    });
  }
}

const tables = tablesAfterMarkers(readRepoFile("docs/options.md"), "options");

test("docs/options.md has exactly the tables the test knows", () => {
  assert.deepEqual([...tables.keys()].sort(), Object.keys(SPECS).sort());
});

for (const [id, spec] of Object.entries(SPECS)) {
  test(`docs/options.md "${id}" matches the code`, () => {
    const table = tables.get(id);
    assert.ok(table, `docs/options.md has no <!-- options: ${id} --> table`);
    checkTable(id, table, spec);
  });
}

test("every documented type and unit column is filled in for durations", () => {
  for (const [id, table] of tables) {
    for (const row of table.rows) {
      if (plain(row.type ?? "") === "Duration") {
        assert.equal(plain(row.unit ?? ""), "ms", `${id}.${nameOf(row)}: durations are in ms`);
      }
    }
  }
});

/** A preset's resolved value of a README name: `timeout`, `retry.maxAttempts`, `pool.*`, `breaker.*`. */
function presetValue(preset: PresetName, name: string): unknown {
  const resolved = database(preset);
  const [head, key = ""] = name.split(".");
  if (head === "timeout") return resolved.timeout;
  if (head === "retry" && key === "maxAttempts") return resolved.maxAttempts;
  if (head === "pool") return plainValues(resolvePoolOptions(resolved.pool))[key];
  if (head === "breaker" && resolved.breaker !== false) {
    return plainValues(resolveCircuitBreakerOptions(resolved.breaker))[key];
  }
  throw new Error(`README names an option the test cannot resolve: ${name}`);
}

test("the README's per-preset summary matches the presets", () => {
  const readme = readRepoFile("README.md");
  const start = readme.indexOf("| most-used option |");
  assert.ok(start >= 0, "README.md has the most-used options table");
  const rows = readme.slice(start).split("\n\n")[0]?.split("\n").slice(2) ?? [];
  assert.ok(rows.length > 0);
  for (const row of rows) {
    const [nameCell = "", ...cells] = row
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim());
    const names = plain(nameCell.replace(/\s*\([^)]*\)/g, "")).split(" / ");
    PRESET_ORDER.forEach((preset, i) => {
      const values = (cells[i] ?? "").split(" / ");
      names.forEach((name, j) => {
        assertCell(values[j] ?? "", presetValue(preset, name), `README ${name} (${preset})`);
      });
    });
  }
});
