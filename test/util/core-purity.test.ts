import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";

// The core must run on Deno, Bun and Workers: Web APIs only. Node-only code and drivers live
// behind subpath exports (drivers/, testing/, server/, cli/, redis/, http/ adapters).
const CORE_FOLDERS = [
  "errors",
  "pool",
  "policy",
  "util",
  "db",
  "logging",
  "cache",
  "kv",
  "health",
  "metrics",
];
const FORBIDDEN = /from\s+["'](node:[^"']+|pg|ioredis|fs|net|events|child_process)["']/;

it("core folders import no Node built-ins and no driver", () => {
  const root = new URL("../../src/", import.meta.url).pathname;
  const offenders: string[] = [];
  for (const folder of CORE_FOLDERS) {
    let files: string[];
    try {
      files = readdirSync(join(root, folder), { recursive: true }).map(String);
    } catch {
      continue;
    }
    for (const file of files.filter((f) => f.endsWith(".ts"))) {
      const text = readFileSync(join(root, folder, file), "utf8");
      const match = FORBIDDEN.exec(text);
      if (match) offenders.push(`${folder}/${file}: ${match[1]}`);
    }
  }
  assert.deepEqual(offenders, []);
});
