#!/usr/bin/env node
// Runs every test/**/*.test.ts (or the files/folders given as arguments) with Node's test
// runner and tsx. Node 20's runner does not expand globs itself, hence this script.
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function collect(path) {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { recursive: true })
    .map((entry) => join(path, String(entry)))
    .filter((file) => file.endsWith(".test.ts") && !file.includes("node_modules"));
}

const targets = process.argv.slice(2);
const files = (targets.length > 0 ? targets : ["test"]).flatMap(collect).sort();
if (files.length === 0) {
  console.error("run-tests: no test files found");
  process.exit(1);
}
const child = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
    ...files,
  ],
  { stdio: "inherit" },
);
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
