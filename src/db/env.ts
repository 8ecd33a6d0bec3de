import { ConfigError, type ConfigIssue } from "../errors/config-error.js";
import type { LogLevel } from "../logging/logger.js";
import type { PoolOptions } from "../pool/options.js";
import { parseDuration } from "../util/duration.js";
import { closest } from "../util/options.js";
import type { DatabaseOptions } from "./options.js";
import type { PresetName } from "./presets.js";

/** What {@link fromEnv} read. */
export interface EnvConfig {
  /** `DATABASE_URL`, validated (never echoed in errors: it may hold a password). */
  readonly databaseUrl: string | undefined;
  /** `REDIS_URL`, validated. */
  readonly redisUrl: string | undefined;
  /** `STEADFAST_ADMIN_TOKEN`: enables the admin reconnect endpoint. */
  readonly adminToken: string | undefined;
  /** Database options from `STEADFAST_*` (everything but the driver). */
  readonly options: Omit<DatabaseOptions<unknown>, "driver">;
}

type Setter = (value: string, into: Draft) => string | undefined;
interface Draft {
  options: { -readonly [K in keyof DatabaseOptions<unknown>]?: DatabaseOptions<unknown>[K] };
  pool: { -readonly [K in keyof PoolOptions]?: PoolOptions[K] };
  log: { level?: LogLevel; slowQuery?: number };
}

const duration =
  (apply: (ms: number, d: Draft) => void): Setter =>
  (value, d) => {
    const ms = parseDuration(value);
    if (ms === undefined) return 'a duration such as "250ms", "5s", "2m" or milliseconds';
    apply(ms, d);
    return undefined;
  };
const integer =
  (min: number, apply: (n: number, d: Draft) => void): Setter =>
  (value, d) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || n < min) return `a whole number of at least ${min}`;
    apply(n, d);
    return undefined;
  };

/** Every variable {@link fromEnv} understands besides `DATABASE_URL`, `REDIS_URL` and the token. */
const VARIABLES: Record<string, Setter> = {
  STEADFAST_PRESET: (v, d) => {
    if (v !== "serverless" && v !== "server" && v !== "local") return "serverless, server or local";
    d.options.preset = v as PresetName;
    return undefined;
  },
  STEADFAST_TIMEOUT: duration((ms, d) => {
    d.options.timeout = ms;
  }),
  STEADFAST_SERVER_TIMEOUT: (v, d) => {
    if (v !== "true" && v !== "false") return "true or false";
    d.options.serverTimeout = v === "true";
    return undefined;
  },
  STEADFAST_POOL_MAX: integer(1, (n, d) => {
    d.pool.max = n;
  }),
  STEADFAST_POOL_MIN_IDLE: integer(0, (n, d) => {
    d.pool.minIdle = n;
  }),
  STEADFAST_ACQUIRE_TIMEOUT: duration((ms, d) => {
    d.pool.acquireTimeout = ms;
  }),
  STEADFAST_CONNECT_TIMEOUT: duration((ms, d) => {
    d.pool.connectTimeout = ms;
  }),
  STEADFAST_IDLE_TIMEOUT: duration((ms, d) => {
    d.pool.idleTimeout = ms;
  }),
  STEADFAST_MAX_LIFETIME: duration((ms, d) => {
    d.pool.maxLifetime = ms;
  }),
  STEADFAST_KEEPALIVE: duration((ms, d) => {
    d.pool.keepalive = ms;
  }),
  STEADFAST_RETRY_MAX_ATTEMPTS: integer(1, (n, d) => {
    d.options.retry = { maxAttempts: n };
  }),
  STEADFAST_LOG_LEVEL: (v, d) => {
    if (!["silent", "error", "warn", "info", "debug"].includes(v))
      return "silent, error, warn, info or debug";
    d.log.level = v as LogLevel;
    return undefined;
  },
  STEADFAST_SLOW_QUERY: duration((ms, d) => {
    d.log.slowQuery = ms;
  }),
};
const KNOWN = [...Object.keys(VARIABLES), "STEADFAST_ADMIN_TOKEN"];

/**
 * Reads the configuration from environment variables: `DATABASE_URL`, `REDIS_URL`,
 * `STEADFAST_ADMIN_TOKEN`, and `STEADFAST_*` overrides (`STEADFAST_PRESET`, `STEADFAST_TIMEOUT`,
 * `STEADFAST_POOL_MAX`, …; durations as `"250ms"`, `"5s"`, `"2m"` or ms). Every bad variable is
 * reported at once, with the expected form; a malformed URL is reported without its text.
 *
 * @param env the variables, e.g. `process.env` (the core never reads globals itself).
 * @throws ConfigError listing every bad or unknown `STEADFAST_*` variable.
 * @example
 * ```ts
 * const { databaseUrl, options } = fromEnv(process.env);
 * const db = createDatabase({ driver: pgDriver({ connectionString: databaseUrl }), ...options });
 * ```
 */
export function fromEnv(env: Readonly<Record<string, string | undefined>>): EnvConfig {
  const issues: ConfigIssue[] = [];
  const draft: Draft = { options: {}, pool: {}, log: {} };
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("STEADFAST_") || value === undefined || value === "") continue;
    const setter = VARIABLES[name];
    if (setter === undefined) {
      if (name === "STEADFAST_ADMIN_TOKEN") continue;
      const hint = closest(name, KNOWN);
      issues.push({
        field: name,
        expected: hint ? `a known variable (did you mean ${hint}?)` : `one of ${KNOWN.join(", ")}`,
        received: "an unknown variable",
      });
      continue;
    }
    const expected = setter(value.trim(), draft);
    if (expected)
      issues.push({ field: name, expected, received: JSON.stringify(value.slice(0, 40)) });
  }
  const databaseUrl = checkUrl(
    env.DATABASE_URL,
    "DATABASE_URL",
    ["postgres:", "postgresql:"],
    issues,
  );
  const redisUrl = checkUrl(env.REDIS_URL, "REDIS_URL", ["redis:", "rediss:"], issues);
  const adminToken = env.STEADFAST_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 16) {
    issues.push({
      field: "STEADFAST_ADMIN_TOKEN",
      expected: "a secret of at least 16 characters",
      received: "a shorter value",
    });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const options = { ...draft.options };
  if (Object.keys(draft.pool).length > 0) options.pool = draft.pool;
  if (Object.keys(draft.log).length > 0) options.log = draft.log;
  return { databaseUrl, redisUrl, adminToken, options };
}

function checkUrl(
  value: string | undefined,
  name: string,
  schemes: readonly string[],
  issues: ConfigIssue[],
): string | undefined {
  if (value === undefined || value === "") return undefined;
  const expected = `a URL such as ${schemes[0]}//user:password@host:port/… (percent-encode special characters in the password)`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    issues.push({
      field: name,
      expected,
      received: "a value that is not a URL (not shown: it may hold a password)",
    });
    return undefined;
  }
  if (!schemes.includes(url.protocol)) {
    issues.push({
      field: name,
      expected,
      received: `a URL with the scheme "${url.protocol.slice(0, 20)}"`,
    });
    return undefined;
  }
  return value;
}
