#!/usr/bin/env node
// The newcomer's path, exactly as the README writes it: clones this checkout into a temporary
// directory, runs the quick tour's first command there (`npm ci && npm start`), waits for the
// service, then runs every other line of the tour through the shell and checks its output
// against the line's comment (fragments separated by `...` must appear in that order). `open`
// lines are fetched instead of opened. Exits non-zero with the failing line on any mismatch.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

class NewcomerError extends Error {}
process.on("uncaughtException", (error) => {
  console.error(error instanceof NewcomerError ? `newcomer: ${error.message}` : error);
  process.exit(1);
});

const root = new URL("..", import.meta.url).pathname;
const readme = readFileSync(join(root, "README.md"), "utf8");
const tour = /## Quick tour of the service\n+```sh\n([\s\S]*?)```/.exec(readme)?.[1];
if (!tour) fail("README.md has no '## Quick tour of the service' sh block");
const lines = tour
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => {
    const hash = l.indexOf("  #");
    return hash < 0
      ? { command: l.trim(), expect: undefined }
      : { command: l.slice(0, hash).trim(), expect: l.slice(hash + 3).trim() };
  });
const [first, ...rest] = lines;
if (first?.command !== "npm ci && npm start")
  fail(`the tour must start with "npm ci && npm start", not "${first?.command}"`);

const dir = mkdtempSync(join(tmpdir(), "steadfast-newcomer-"));
execFileSync("git", ["clone", "--quiet", root, dir], { stdio: "inherit" });
console.log(`newcomer: fresh clone in ${dir}; running: ${first.command}`);
const service = spawn("sh", ["-c", first.command], {
  cwd: dir,
  detached: true,
  stdio: ["ignore", "pipe", "pipe"],
});
let output = "";
service.stdout.on("data", (c) => (output += c));
service.stderr.on("data", (c) => (output += c));
const exited = new Promise((resolve) => service.on("exit", resolve));

try {
  const deadline = Date.now() + 240_000;
  while (!/listening on http/.test(output)) {
    if (service.exitCode !== null)
      fail(`"${first.command}" exited ${service.exitCode}:\n${output.slice(-3000)}`);
    if (Date.now() > deadline)
      fail(`the service did not start within 240 s:\n${output.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log("newcomer: the service is up");
  for (const { command, expect } of rest) {
    const open = /^open (\S+)$/.exec(command);
    let out;
    if (open) {
      const response = await fetch(open[1]);
      out = `${response.status} ${await response.text()}`;
      if (response.status !== 200) fail(`${command} → HTTP ${response.status}`);
    } else {
      try {
        out = execFileSync("sh", ["-c", command], {
          cwd: dir,
          timeout: 30_000,
          stdio: ["ignore", "pipe", "pipe"],
        }).toString();
      } catch (error) {
        fail(`"${command}" failed: ${error.message}`);
      }
    }
    if (expect && !open) {
      let at = 0;
      for (const fragment of expect
        .split("...")
        .map((f) => f.trim())
        .filter(Boolean)) {
        const found = out.indexOf(fragment, at);
        if (found < 0)
          fail(
            `"${command}": expected "${fragment}" (from the README's comment) in:\n${out.slice(0, 2000)}`,
          );
        at = found + fragment.length;
      }
    }
    console.log(`newcomer: ok  ${command}`);
    // The output too, so the CI log shows the tour as a newcomer sees it.
    const shown = open ? out.slice(0, 60) : out.trim().split("\n").slice(0, 12).join("\n");
    console.log(shown.replace(/^/gm, "    "));
  }
  console.log("newcomer: the README's quick tour works as written");
} catch (error) {
  console.error(error instanceof NewcomerError ? `newcomer: ${error.message}` : error);
  process.exitCode = 1;
} finally {
  try {
    process.kill(-service.pid, "SIGTERM");
  } catch {}
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  rmSync(dir, { recursive: true, force: true });
}

function fail(message) {
  throw new NewcomerError(message);
}
