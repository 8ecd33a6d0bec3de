/**
 * The `serverless` preset, and a configuration for a transaction-mode pooler (Neon's
 * `-pooler` endpoint, Supabase's Supavisor on port 6543, PgBouncer in transaction mode):
 *
 * 1. prints `PRESETS.serverless` and why each value is what it is;
 * 2. shows what `serverTimeout: false` changes: no `SET statement_timeout` on the session
 *    (a pooler hands the session to other clients, so session settings leak or are refused);
 *    the client-side deadline still cancels slow statements;
 * 3. runs `steadfast doctor --json` on the URL and prints what it detects and recommends.
 *
 * Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch node --import tsx examples/serverless/main.ts
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createDatabase, PRESETS, redactSecrets } from "steadfast";
import { pgDriver } from "steadfast/pg";

const connectionString = process.env.DATABASE_URL;
if (!connectionString)
  throw new Error("set DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/scratch");

// 1. The preset, and the reasoning behind its values.
const p = PRESETS.serverless;
console.log(`PRESETS.serverless = ${JSON.stringify(p)}`);
for (const why of [
  `max ${p.pool.max}, minIdle ${p.pool.minIdle}: many instances share one server; an idle function holds nothing`,
  `idleTimeout ${p.pool.idleTimeout}, maxLifetime ${p.pool.maxLifetime}: close connections before the provider or pooler cuts them`,
  `keepalive ${p.pool.keepalive}: idle connections are pinged, so a dead one is found before a request needs it`,
  `connectTimeout ${p.pool.connectTimeout}: a cold start (Neon resuming a suspended compute) can take seconds`,
  `timeout ${p.timeout}, maxAttempts ${p.maxAttempts}, breakDuration ${p.breakDuration}: more retries for a flakier network, a short break`,
]) {
  console.log(`  why: ${why}`);
}

// 2. serverTimeout: true (default) vs false, seen from the session.
async function sessionStatementTimeout(serverTimeout: boolean): Promise<string> {
  const db = createDatabase({
    driver: pgDriver({ connectionString }),
    preset: "serverless",
    serverTimeout,
  });
  try {
    const { rows } = await db.read<{ statement_timeout: string }>("show statement_timeout");
    return rows[0]?.statement_timeout ?? "?";
  } finally {
    await db.close();
  }
}
console.log(
  `serverTimeout: true  -> session statement_timeout = ${await sessionStatementTimeout(true)}`,
);
console.log(
  `serverTimeout: false -> session statement_timeout = ${await sessionStatementTimeout(false)}`,
);

// 3. steadfast doctor --json, through the package's own bin (what `npx steadfast` runs).
const pkgUrl = import.meta.resolve("steadfast/package.json");
const pkg = JSON.parse(readFileSync(new URL(pkgUrl), "utf8")) as { bin: { steadfast: string } };
const cli = new URL(pkg.bin.steadfast, pkgUrl).pathname;
const stdout = await new Promise<string>((resolve, reject) => {
  execFile(
    process.execPath,
    [cli, "doctor", "--json", connectionString],
    { timeout: 30_000 },
    (error, out, err) =>
      // Exit code 1 means "the database cannot be used": the JSON report says why.
      out
        ? resolve(out)
        : reject(new Error(redactSecrets(`doctor failed: ${error?.message} ${err}`))),
  );
});
const report = JSON.parse(stdout) as {
  target: string;
  ok: boolean;
  server: { version: string } | null;
  pooler: { kind: string; evidence: string; meaning?: string };
  recommendation: { preset: string; snippet: string; reasons: string[] } | null;
};
console.log(
  `doctor ${report.target}: ok=${report.ok}, PostgreSQL ${report.server?.version ?? "?"}`,
);
console.log(`doctor pooler: ${report.pooler.kind} (${report.pooler.evidence})`);
if (report.pooler.meaning) console.log(`  which means: ${report.pooler.meaning}`);
if (report.recommendation) {
  console.log(`doctor recommends preset "${report.recommendation.preset}":`);
  console.log(report.recommendation.snippet.replace(/^/gm, "  "));
  for (const reason of report.recommendation.reasons) console.log(`  because: ${reason}`);
}
