import { lookup } from "node:dns/promises";
import { isIP, type Socket, connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import pg from "pg";
import { classify } from "../../errors/classify.js";
import { redactSecrets } from "../../errors/redact.js";

/** One step's outcome. */
export interface Step {
  readonly name: string;
  readonly ok: boolean;
  readonly ms?: number;
  readonly detail: string;
  /** The classified cause when the step failed. */
  readonly code?: string;
}

/** What doctor learned from the server. */
export interface ServerFacts {
  readonly version: string;
  readonly settings: Record<string, string>;
  readonly connections: number;
  /** Backend PIDs of two consecutive statements: different ones mean transaction pooling. */
  readonly backendPids: readonly number[];
}

/** Runs `work` with a time limit; the limit's error names the step. */
export async function timed<T>(
  name: string,
  timeoutMs: number,
  work: () => Promise<T>,
): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          Object.assign(new Error(`${name} took longer than ${timeoutMs} ms`), {
            code: "ETIMEDOUT",
          }),
        ),
      timeoutMs,
    );
  });
  try {
    const value = await Promise.race([work(), limit]);
    return { value, ms: Math.round((performance.now() - started) * 10) / 10 };
  } finally {
    clearTimeout(timer);
  }
}

export function failed(name: string, error: unknown): Step {
  const c = classify(error);
  const message = error instanceof Error ? error.message : String(error);
  return { name, ok: false, code: c.code, detail: redactSecrets(message) };
}

export async function dnsStep(host: string, timeoutMs: number): Promise<Step> {
  if (isIP(host) || host.startsWith("/"))
    return { name: "dns", ok: true, detail: `${host} (no lookup needed)` };
  try {
    const { value, ms } = await timed("DNS lookup", timeoutMs, () => lookup(host, { all: true }));
    return { name: "dns", ok: true, ms, detail: value.map((a) => a.address).join(", ") };
  } catch (error) {
    return failed("dns", error);
  }
}

export async function tcpStep(host: string, port: number, timeoutMs: number): Promise<Step> {
  try {
    const { ms } = await timed("TCP connect", timeoutMs, () =>
      openSocket(host, port).then((s) => s.destroy()),
    );
    return { name: "tcp", ok: true, ms, detail: `${host}:${port} accepts connections` };
  } catch (error) {
    return failed("tcp", error);
  }
}

/** Asks the server for TLS the way libpq does (SSLRequest), and reports what it offers. */
export async function tlsStep(
  host: string,
  port: number,
  sslmode: string,
  timeoutMs: number,
): Promise<Step> {
  let socket: Socket | undefined;
  try {
    const { value, ms } = await timed("TLS handshake", timeoutMs, async () => {
      socket = await openSocket(host, port);
      const s = socket;
      const answer = await new Promise<string>((resolve, reject) => {
        s.once("data", (data: Buffer) => resolve(String.fromCharCode(data[0] ?? 0)));
        s.once("error", reject);
        const request = Buffer.alloc(8);
        request.writeInt32BE(8, 0);
        request.writeInt32BE(80877103, 4);
        s.write(request);
      });
      if (answer !== "S") return "the server does not offer TLS";
      const secure = await new Promise<ReturnType<typeof tlsConnect>>((resolve, reject) => {
        const t = tlsConnect({
          socket: s,
          servername: isIP(host) ? undefined : host,
          rejectUnauthorized: sslmode === "verify-full" || sslmode === "verify-ca",
        });
        t.once("secureConnect", () => resolve(t));
        t.once("error", reject);
      });
      const cert = secure.getPeerCertificate();
      const detail = `${secure.getProtocol()}, certificate for ${cert.subject?.CN ?? "?"} valid until ${cert.valid_to ?? "?"}`;
      secure.destroy();
      return detail;
    });
    const required = sslmode === "require" || sslmode.startsWith("verify");
    const offered = !value.startsWith("the server does not");
    return {
      name: "tls",
      ok: offered || !required,
      ms,
      detail: offered ? value : `${value}${required ? ` but sslmode=${sslmode} requires it` : ""}`,
    };
  } catch (error) {
    return failed("tls", error);
  } finally {
    socket?.destroy();
  }
}

/** Authenticates and runs the first query; then reads the facts doctor reports. */
export async function serverStep(
  url: string,
  timeoutMs: number,
): Promise<{ auth: Step; query: Step; facts?: ServerFacts }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on("error", () => {});
  try {
    const { ms: authMs } = await timed("authentication", timeoutMs, () => client.connect());
    const auth: Step = { name: "auth", ok: true, ms: authMs, detail: "authenticated" };
    const { ms: queryMs } = await timed("first query", timeoutMs, () => client.query("SELECT 1"));
    const query: Step = { name: "first query", ok: true, ms: queryMs, detail: "SELECT 1 answered" };
    const names = [
      "max_connections",
      "superuser_reserved_connections",
      "idle_session_timeout",
      "idle_in_transaction_session_timeout",
      "statement_timeout",
      "tcp_keepalives_idle",
      "tcp_keepalives_interval",
      "tcp_keepalives_count",
    ];
    const { value: facts } = await timed("server facts", timeoutMs, async () => {
      const settings = await client.query<{ name: string; setting: string; unit: string | null }>(
        "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)",
        [names],
      );
      const version =
        (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]
          ?.v ?? "?";
      const connections = Number(
        (
          await client.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend'",
          )
        ).rows[0]?.n ?? 0,
      );
      const pids: number[] = [];
      for (let i = 0; i < 2; i++)
        pids.push(
          (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid ?? 0,
        );
      return {
        version,
        connections,
        backendPids: pids,
        settings: Object.fromEntries(
          settings.rows.map((r) => [r.name, r.unit ? `${r.setting}${r.unit}` : r.setting]),
        ),
      };
    });
    return { auth, query, facts };
  } catch (error) {
    return {
      auth: failed("auth", error),
      query: { name: "first query", ok: false, detail: "not reached" },
    };
  } finally {
    await client.end().catch(() => {});
  }
}

function openSocket(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = host.startsWith("/")
      ? tcpConnect(`${host}/.s.PGSQL.${port}`)
      : tcpConnect({ host, port });
    socket.once("connect", () => resolve(socket));
    socket.once("error", (error) => {
      socket.destroy();
      reject(error);
    });
  });
}
