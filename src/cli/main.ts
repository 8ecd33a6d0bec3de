#!/usr/bin/env node
/**
 * The `steadfast` command. Subcommands land with the service issue: `serve`, `doctor`, `proxy`.
 */
import { readFileSync } from "node:fs";

const HELP = `steadfast — resilient PostgreSQL access for TypeScript backends

Usage:
  steadfast serve            run the KV/config service (not built yet)
  steadfast --version        print the version
  steadfast --help           show this help
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

const [command] = process.argv.slice(2);
switch (command) {
  case undefined:
  case "--help":
  case "-h":
    process.stdout.write(HELP);
    break;
  case "--version":
  case "-v":
    process.stdout.write(`${version()}\n`);
    break;
  case "serve":
    process.stderr.write(
      "steadfast serve: the service is not built yet; it lands with the service issue.\n",
    );
    process.exitCode = 1;
    break;
  default:
    process.stderr.write(`steadfast: unknown command "${command}". Run "steadfast --help".\n`);
    process.exitCode = 2;
}
