#!/usr/bin/env node
/**
 * The `steadfast` command: `serve` (the service), `doctor` (diagnose a connection) and `proxy`
 * (the fault proxy for testing your own app).
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { ConfigError } from "../errors/config-error.js";
import { redactSecrets } from "../errors/redact.js";
import { doctor } from "./doctor/command.js";
import { CliError } from "./errors.js";
import { proxyCommand } from "./proxy.js";
import { serve } from "./serve.js";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

const program = new Command()
  .name("steadfast")
  .description("Resilient PostgreSQL access for TypeScript backends")
  .version(version(), "-v, --version")
  .option("--verbose", "print stack traces with errors")
  .showHelpAfterError('(run "steadfast --help" for usage)')
  .exitOverride();

program
  .command("serve")
  .description("run the service: the KV store as a JSON API, health, metrics and a live dashboard")
  .option("-p, --port <port>", "port to listen on (0: any free port)", process.env.PORT ?? "8080")
  .option("--host <address>", "address to listen on", "127.0.0.1")
  .option(
    "--data-dir <dir>",
    "embedded database directory (without DATABASE_URL)",
    ".steadfast-data",
  )
  .option("--memory", "embedded database in memory only (nothing kept)", false)
  .option("--chaos", "put a fault proxy before the database, with controls on the dashboard", false)
  .option("--drain <duration>", "time in-flight requests get on SIGTERM", "10s")
  .addHelpText(
    "after",
    `
Environment:
  DATABASE_URL            PostgreSQL to use (without it: an embedded PGlite database)
  REDIS_URL               shared cache and invalidation bus between instances
  STEADFAST_ADMIN_TOKEN   enables POST /admin/reconnect (bearer token, 16+ characters)
  STEADFAST_*             option overrides, e.g. STEADFAST_PRESET=serverless STEADFAST_POOL_MAX=5

Examples:
  steadfast serve                          # embedded database in ./.steadfast-data, port 8080
  steadfast serve --memory --chaos         # throwaway database, fault controls on the dashboard
  DATABASE_URL=postgres://app@db/app steadfast serve --port 3000`,
  )
  .action(serve);

program
  .command("doctor")
  .description("diagnose a PostgreSQL connection and recommend settings")
  .argument("[url]", "connection URL (default: $DATABASE_URL)")
  .option("--json", "print a JSON report", false)
  .option("--timeout <duration>", "limit of each step", "3s")
  .addHelpText(
    "after",
    `
Checks DNS, TCP, TLS, authentication and the first query (with timings), the server's
version, connection limits, idle and statement timeouts and TCP keepalive, whether a pooler
is in front, and prints the Steadfast settings that fit. Exit code 1 when the database
cannot be used, with the classified cause. Passwords never appear in the output.

Examples:
  steadfast doctor postgres://app@db.internal:5432/app
  DATABASE_URL=... steadfast doctor --json`,
  )
  .action(doctor);

program
  .command("proxy")
  .description("run the fault proxy in front of a server, to test your app against a bad network")
  .requiredOption("--target <host:port>", "the server to forward to")
  .option("--listen <host:port>", "where to listen", "127.0.0.1:6432")
  .option("--latency <duration>", "delay each direction by this much")
  .option("--jitter <duration>", "add up to this much random delay")
  .option("--blackhole", "start with nothing flowing (a half-open network)", false)
  .option("--refuse", "start refusing new connections", false)
  .option("--drop-ratio <p>", "reset this fraction of new connections")
  .option("--drop-after <duration>", "how long after accept a dropped connection is reset", "0ms")
  .addHelpText(
    "after",
    `
On a terminal, keys toggle faults while it runs: b blackhole/heal, r refuse/resume,
k kill all connections, l cycle latency, q quit.

Examples:
  steadfast proxy --target 127.0.0.1:5432 --listen 6432 --latency 200ms
  DATABASE_URL=postgres://app@127.0.0.1:6432/app npm start   # your app, through the proxy`,
  )
  .action(proxyCommand);

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    const verbose = program.opts<{ verbose?: boolean }>().verbose === true;
    // One line per failure: a ConfigError lists its fields inline.
    const message =
      error instanceof ConfigError
        ? `invalid configuration: ${error.issues.map((i) => `${i.field}: expected ${i.expected}, received ${i.received}`).join("; ")}`
        : error instanceof Error
          ? error.message
          : String(error);
    process.stderr.write(`steadfast: ${redactSecrets(message)}\n`);
    if (verbose && error instanceof Error && error.stack)
      process.stderr.write(`${redactSecrets(error.stack)}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  }
}

await main();
