import { redactSecrets } from "../../errors/redact.js";
import { parseDuration } from "../../util/duration.js";
import { CliError } from "../errors.js";
import { detectPooler, recommend } from "./assess.js";
import { dnsStep, type Step, serverStep, tcpStep, tlsStep } from "./probe.js";

/** Options of `steadfast doctor`. */
export interface DoctorOptions {
  readonly json: boolean;
  readonly timeout: string;
}

/**
 * Diagnoses a connection step by step: DNS, TCP, TLS, authentication and the first query, the
 * server's limits and idle timeouts, a pooler in front; then recommends settings. Exit code 0
 * when the database answers, 1 when it does not (with the classified cause).
 */
export async function doctor(
  urlArgument: string | undefined,
  options: DoctorOptions,
): Promise<void> {
  const url = urlArgument ?? process.env.DATABASE_URL;
  if (!url) throw new CliError("give a connection URL, or set DATABASE_URL", 2);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(
      "the connection string is not a URL (postgres://user:password@host:5432/database; percent-encode special characters)",
      2,
    );
  }
  const timeoutMs = parseDuration(options.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0)
    throw new CliError(`--timeout must be a duration such as "3s", not "${options.timeout}"`, 2);
  const host = decodeURIComponent(parsed.hostname.replace(/^\[|\]$/g, "")) || "localhost";
  const port = Number(parsed.port || 5432);
  const sslmode = parsed.searchParams.get("sslmode") ?? "prefer";
  const shown = redactSecrets(url);
  const tty = process.stdout.isTTY === true && !options.json && !process.env.NO_COLOR;
  const paint = (ok: boolean, text: string) =>
    tty ? `\u001b[${ok ? 32 : 31}m${text}\u001b[0m` : text;
  const progress = (step: Step) => {
    if (options.json) return;
    const time = step.ms === undefined ? "" : ` (${step.ms} ms)`;
    process.stdout.write(
      `${paint(step.ok, step.ok ? "✓" : "✗")} ${step.name.padEnd(12)} ${step.detail}${time}\n`,
    );
  };
  if (!options.json) process.stdout.write(`steadfast doctor — ${shown}\n\n`);

  const steps: Step[] = [];
  const run = async (step: Promise<Step>) => {
    const s = await step;
    steps.push(s);
    progress(s);
    return s.ok;
  };
  let ok = (await run(dnsStep(host, timeoutMs))) && (await run(tcpStep(host, port, timeoutMs)));
  if (ok && sslmode !== "disable") ok = await run(tlsStep(host, port, sslmode, timeoutMs));
  let facts: Awaited<ReturnType<typeof serverStep>>["facts"];
  if (ok) {
    const server = await serverStep(url, timeoutMs);
    facts = server.facts;
    ok = (await run(Promise.resolve(server.auth))) && (await run(Promise.resolve(server.query)));
  }
  const pooler = detectPooler(host, port, facts);
  const advice = ok ? recommend(facts, pooler) : undefined;
  const failure = steps.find((s) => !s.ok);
  const report = {
    target: shown,
    ok,
    steps,
    server: facts ?? null,
    pooler,
    recommendation: advice ?? null,
  };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else if (facts && advice) {
    const s = facts.settings;
    process.stdout.write(
      `\nServer: PostgreSQL ${facts.version}; ${facts.connections} of ${s.max_connections} connections in use (${s.superuser_reserved_connections} reserved)\n`,
    );
    process.stdout.write(
      `Timeouts: idle_session_timeout=${s.idle_session_timeout}, idle_in_transaction_session_timeout=${s.idle_in_transaction_session_timeout}, statement_timeout=${s.statement_timeout}\n`,
    );
    process.stdout.write(
      `TCP keepalive: idle=${s.tcp_keepalives_idle}, interval=${s.tcp_keepalives_interval}, count=${s.tcp_keepalives_count}\n`,
    );
    process.stdout.write(
      `Pooler: ${pooler.kind} (${pooler.evidence})${pooler.meaning ? `\n  means ${pooler.meaning}` : ""}\n`,
    );
    process.stdout.write(`\nRecommended (${advice.reasons.join("; ")}):\n\n${advice.snippet}\n`);
  }
  if (!ok) {
    if (!options.json)
      process.stderr.write(
        `steadfast doctor: cannot use the database: ${failure?.name} failed (${failure?.code ?? "UNKNOWN"}): ${failure?.detail}\n`,
      );
    process.exitCode = 1;
  }
}
