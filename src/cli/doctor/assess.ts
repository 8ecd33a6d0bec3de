import type { ServerFacts } from "./probe.js";

/** What doctor concludes about a pooler in front of the database. */
export interface PoolerVerdict {
  readonly kind:
    | "none detected"
    | "PgBouncer / Supavisor (transaction mode)"
    | "Neon pooler"
    | "Supabase pooler (Supavisor)";
  readonly evidence: string;
  readonly meaning?: string;
}

const TRANSACTION_MODE =
  "transaction pooling: no session state between transactions (SET, temp tables, advisory locks), no LISTEN/NOTIFY, and named prepared statements only with pooler support — set serverTimeout: false";

/** Detects a pooler by hostname and by behaviour (two statements served by different backends). */
export function detectPooler(
  host: string,
  port: number,
  facts: ServerFacts | undefined,
): PoolerVerdict {
  if (/-pooler\./.test(host))
    return { kind: "Neon pooler", evidence: `hostname ${host}`, meaning: TRANSACTION_MODE };
  if (/pooler\.supabase\.com$/.test(host) || (port === 6543 && /supabase/.test(host))) {
    return {
      kind: "Supabase pooler (Supavisor)",
      evidence: `hostname ${host}:${port}`,
      meaning: TRANSACTION_MODE,
    };
  }
  const [a, b] = facts?.backendPids ?? [];
  if (a !== undefined && b !== undefined && a !== b) {
    return {
      kind: "PgBouncer / Supavisor (transaction mode)",
      evidence: `two statements ran on backends ${a} and ${b}`,
      meaning: TRANSACTION_MODE,
    };
  }
  return {
    kind: "none detected",
    evidence: a === undefined ? "not checked" : `both statements ran on backend ${a}`,
  };
}

/** Parses a setting like `60000ms`, `5min` or `0` into ms (0: off). */
function ms(setting: string | undefined): number {
  if (setting === undefined) return 0;
  const m = /^(\d+)(ms|s|min)?$/.exec(setting);
  if (!m) return 0;
  const n = Number(m[1]);
  return m[2] === "s" ? n * 1000 : m[2] === "min" ? n * 60_000 : n;
}

/** The recommended Steadfast settings for what doctor found, as code. */
export function recommend(
  facts: ServerFacts | undefined,
  pooler: PoolerVerdict,
): { preset: string; snippet: string; reasons: string[] } {
  const reasons: string[] = [];
  const serverless = pooler.kind !== "none detected";
  const preset = serverless ? "serverless" : "server";
  reasons.push(
    serverless
      ? "a pooler is in front: few connections per instance, short idle and lifetime"
      : "a direct connection: the server preset",
  );
  const pool: string[] = [];
  const idleCut = Math.min(
    ...[
      ms(facts?.settings.idle_session_timeout),
      ms(facts?.settings.idle_in_transaction_session_timeout),
    ].filter((v) => v > 0),
  );
  if (Number.isFinite(idleCut)) {
    const idle = Math.max(1_000, Math.floor(idleCut / 2));
    pool.push(`idleTimeout: "${idle}ms"`, `keepalive: "${Math.max(500, Math.floor(idle / 2))}ms"`);
    reasons.push(
      `the server closes idle sessions after ${idleCut} ms: retire and ping idle connections well before`,
    );
  }
  const max = Number(facts?.settings.max_connections ?? 0);
  const reserved = Number(facts?.settings.superuser_reserved_connections ?? 0);
  if (max > 0 && !serverless) {
    const suggested = Math.max(2, Math.min(20, Math.floor((max - reserved) / 10)));
    pool.push(`max: ${suggested}`);
    reasons.push(`max_connections is ${max}: leave room for other instances (about a tenth each)`);
  }
  const lines = [
    "createDatabase({",
    "  driver: pgDriver({ connectionString: process.env.DATABASE_URL }),",
    `  preset: "${preset}",`,
    ...(pool.length > 0 ? [`  pool: { ${pool.join(", ")} },`] : []),
    ...(serverless
      ? ["  serverTimeout: false, // no session settings through a transaction pooler"]
      : []),
    "});",
  ];
  return { preset, snippet: lines.join("\n"), reasons };
}
