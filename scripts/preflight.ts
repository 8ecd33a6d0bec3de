#!/usr/bin/env node
// Fails the test run at once, with one line per missing service, instead of letting every
// test file report its own wall of ECONNREFUSED.
import net from "node:net";
import pg from "pg";
import { reapStaleClusters } from "../src/testing/throwaway-cluster.js";

const databaseUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const redisUrl = new URL(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");

function safeUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(unparseable URL)";
  }
}

async function checkPostgres(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  client.on("error", () => {});
  try {
    await client.connect();
    const { rows } = await client.query("select current_setting('server_version_num')::int as v");
    if (rows[0].v < 140000)
      return `PostgreSQL at ${safeUrl(databaseUrl)} is version ${rows[0].v}; the tests need 14 or newer.`;
    return undefined;
  } catch (error) {
    const err = error as { code?: string; message?: string };
    return `PostgreSQL is not reachable at ${safeUrl(databaseUrl)} (${err.code ?? err.message}): start it (pg_ctlcluster --skip-systemctl-redirect 15 main start) or set TEST_DATABASE_URL.`;
  } finally {
    await client.end().catch(() => {});
  }
}

function checkRedis(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
    const fail = (why: string) => {
      socket.destroy();
      resolve(
        `Redis is not reachable at ${redisUrl.host} (${why}): start it (redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "") or set TEST_REDIS_URL.`,
      );
    };
    socket.setTimeout(3000, () => fail("timeout"));
    socket.on("error", (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => {
      socket.destroy();
      resolve(
        data.toString().startsWith("+PONG")
          ? undefined
          : `Redis at ${redisUrl.host} answered PING with ${JSON.stringify(data.toString().trim())}.`,
      );
    });
  });
}

// Throwaway clusters whose owning test process was killed (SIGKILL, OOM) are stopped and
// removed here, so a crashed run never leaves servers behind for the next one.
for (const reaped of await reapStaleClusters()) {
  if (reaped.problem) console.error(`preflight: could not reap ${reaped.dir}: ${reaped.problem}`);
}

const problems = (await Promise.all([checkPostgres(), checkRedis()])).filter(Boolean);
for (const line of problems) console.error(`preflight: ${line}`);
process.exit(problems.length > 0 ? 1 : 0);
