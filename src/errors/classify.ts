import { SteadfastError } from "./base.js";
import type { Classification, ClassifyContext, FailureKind } from "./classification.js";
import { TimeoutError } from "./errors.js";

/**
 * How a failure relates to sending the statement; decides phase and outcome.
 * - `before`: it cannot have left the client (connect failures, local refusals), whatever the
 *   context says.
 * - `answered`: the server answered with an error. A server ERROR or FATAL response ends the
 *   statement (and its implicit transaction) without effect, so the outcome is not-applied even
 *   when the connection dies right after (57P01 and friends). The one case where a COMMIT took
 *   effect locally before a shutdown (waiting for a synchronous standby) is deliberately not
 *   answered with the FATAL: the server only warns and closes, which reads as a lost connection.
 * - `in-flight`: lost or abandoned while possibly on the wire: phase from `context.sent`
 *   (default after-send, the safe assumption), outcome unknown when after-send.
 * - `unknown`: after-send with an unknown outcome, whatever the context says.
 */
type When = "before" | "answered" | "in-flight" | "unknown";

interface Rule {
  readonly kind: FailureKind;
  readonly when: When;
  readonly broken: boolean;
  readonly infra: boolean;
}

const rule = (kind: FailureKind, when: When, broken: boolean, infra: boolean): Rule => ({
  kind,
  when,
  broken,
  infra,
});

const CANNOT_CONNECT = rule("transient", "before", true, true);
const SERVER_GONE = rule("transient", "answered", true, true);
const CONFLICT = rule("transient", "answered", false, false);
const LOST = rule("transient", "in-flight", true, true);
const CONNECT_TIMEOUT = rule("timeout", "before", true, true);
const CONFIG = rule("permanent", "before", true, false);
const STATEMENT_ERROR = rule("permanent", "answered", false, false);
const CANCELED = rule("canceled", "in-flight", false, false);
const CALLER_TIMEOUT = rule("timeout", "in-flight", false, false);
const UNKNOWN = rule("permanent", "in-flight", false, false);
const CLOSED = rule("closed", "before", false, false);

/**
 * SQLSTATEs with their own rule (names from PostgreSQL's errcodes appendix). Everything not here
 * or in {@link SQLSTATE_CLASSES} — syntax (42), integrity (23), data (22), 0A000, 25P02, … — is a
 * permanent statement error. Inside an explicit transaction a "retryable" answer (40001, 40P01,
 * 25P03) means the whole transaction must be retried, not the one statement.
 */
const SQLSTATES = new Map<string, Rule>([
  ["08001", CANNOT_CONNECT], // sqlclient_unable_to_establish_sqlconnection
  ["08004", CANNOT_CONNECT], // sqlserver_rejected_establishment_of_sqlconnection
  ["08007", rule("unknown-outcome", "unknown", true, true)], // transaction_resolution_unknown
  ["57P01", SERVER_GONE], // admin_shutdown
  ["57P02", SERVER_GONE], // crash_shutdown
  ["57P05", SERVER_GONE], // idle_session_timeout
  ["25P03", SERVER_GONE], // idle_in_transaction_session_timeout
  ["57P03", CANNOT_CONNECT], // cannot_connect_now (starting up / shutting down)
  ["53300", CANNOT_CONNECT], // too_many_connections
  // The database is fine: the transaction lost a race. PostgreSQL's docs advise retrying.
  ["40001", CONFLICT], // serialization_failure
  ["40P01", CONFLICT], // deadlock_detected
  ["55P03", CONFLICT], // lock_not_available (NOWAIT, lock_timeout)
  // After a failover the connection may still point at the demoted primary: use a fresh one.
  ["25006", rule("transient", "answered", true, true)], // read_only_sql_transaction
  // statement_timeout or a cancel request; only the caller knows whether it was its own cancel.
  ["57014", rule("timeout", "answered", false, false)], // query_canceled
  ["3D000", CONFIG], // invalid_catalog_name (database does not exist)
]);

const BIND_MISMATCH = /^bind message supplies \d+ parameters?, but prepared statement/;

const SQLSTATE_CLASSES = new Map<string, Rule>([
  // Connection exceptions. Poolers also send these (PgBouncer's "server conn crashed?" is 08P01)
  // after losing the backend mid-statement, so the outcome is unknown once sent.
  ["08", LOST],
  ["53", rule("transient", "answered", false, true)], // insufficient resources
  ["28", CONFIG], // invalid authorization: at connect, never fixes itself
]);

// Classes start with a digit or are one of these; Node codes (EPIPE, EPERM) never match.
const SQLSTATE_PATTERN = /^(?:[0-9][0-9A-Z]|HV|P0|XX|F0)[0-9A-Z]{3}$/;

/**
 * Node error codes. DNS failures (ENOTFOUND, EAI_AGAIN) are transient: a serverless host that
 * was just created or resumed may not resolve yet, and AWS's SDK treats ENOTFOUND as transient
 * too. The price — a mistyped host is retried until the deadline — is bounded by the deadline,
 * the retry budget and the breaker, whereas calling it permanent would fail real blips.
 */
const NODE_CODES = new Map<string, Rule>([
  ...["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ENETDOWN"].map(
    (code) => [code, CANNOT_CONNECT] as const,
  ),
  ...["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "ENOTCONN", "ERR_SOCKET_CLOSED"].map(
    (code) => [code, LOST] as const,
  ),
  ["ABORT_ERR", CANCELED],
  ["EPROTO", CONFIG], // TLS handshake on a non-TLS port, version mismatch
]);

const TLS_CODE =
  /^(?:ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_(?:VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT(?:_LOCALLY)?)$|HOSTNAME_MISMATCH$)/;

/** Code-less errors from `pg`, `pg-pool` and PGlite, recognised by their exact message. */
const MESSAGES: readonly (readonly [RegExp, string, Rule])[] = [
  [/^Connection terminated( unexpectedly)?$/, "CONNECTION_LOST", LOST],
  // pg refuses these before writing anything, so they are always before-send.
  [
    /^Client has encountered a connection error and is not queryable$/,
    "CONNECTION_LOST",
    CANNOT_CONNECT,
  ],
  [
    /^Client was closed and is not queryable$/,
    "CLIENT_CLOSED",
    rule("transient", "before", true, false),
  ],
  [/^Connection terminated due to connection timeout$/, "CONNECT_TIMEOUT", CONNECT_TIMEOUT],
  [/^timeout exceeded when trying to connect$/, "CONNECT_TIMEOUT", CONNECT_TIMEOUT],
  [/^timeout expired$/, "CONNECT_TIMEOUT", CONNECT_TIMEOUT], // pg.Client connectionTimeoutMillis
  // query_timeout: pg gave up waiting but the statement may still run; the connection's state is unknown.
  [/^Query read timeout$/, "QUERY_TIMEOUT", rule("timeout", "in-flight", true, true)],
  [/^The server does not support SSL connections$/, "SSL_NOT_SUPPORTED", CONFIG],
  [/^There was an error establishing an SSL connection$/, "SSL_FAILED", CONFIG],
  [/^Cannot use a pool after calling end on the pool$/, "POOL_CLOSED", CLOSED],
  [/^PGlite is closed$/, "CLOSED", CLOSED],
];

/** Our own codes. TIMEOUT is refined by its phase in {@link recognizeOwn}. */
const OWN_CODES = new Map<string, Rule>([
  ["CANCELED", CANCELED],
  ["CIRCUIT_OPEN", rule("circuit-open", "before", false, false)],
  ["UNKNOWN_OUTCOME", rule("unknown-outcome", "unknown", true, true)],
  // The acquire deadline already covered the wait; a retry would only wait again.
  ["POOL_TIMEOUT", rule("pool-exhausted", "before", false, false)],
  ["POOL_QUEUE_FULL", rule("pool-exhausted", "before", false, false)],
  ["BULKHEAD_FULL", rule("pool-exhausted", "before", false, false)],
  ["BULKHEAD_TIMEOUT", rule("pool-exhausted", "before", false, false)],
  ["POOL_CLOSED", CLOSED],
  ["CONFIG_INVALID", rule("permanent", "before", false, false)],
  ["VALIDATION_FAILED", rule("permanent", "before", false, false)],
]);

interface Recognized {
  readonly rule: Rule;
  readonly code: string;
  readonly sqlstate?: string;
  /** Higher is more informative, to choose among an AggregateError's errors. */
  readonly rank: number;
}

const MAX_DEPTH = 8;
const MAX_NODES = 32;

/**
 * Classifies any thrown value — `pg`/PGlite server errors (by SQLSTATE), Node socket and TLS
 * errors, `pg`'s code-less connection errors, `AbortSignal` reasons and Steadfast's own errors —
 * into what the retry, breaker and pool logic needs. Follows `cause` chains and AggregateErrors
 * (bounded, cycle-safe) and never throws. Unrecognised values are `permanent` (never retried)
 * with an unknown outcome unless `context.sent` is false.
 *
 * `code` is, in order: our error code (`"POOL_TIMEOUT"`), `PG_<SQLSTATE>` for server errors
 * (`"PG_40001"`), the Node code (`"ECONNRESET"`), a name for `pg`'s code-less errors
 * (`"CONNECTION_LOST"`, `"CONNECT_TIMEOUT"`), else the value's own string `code` or `"UNKNOWN"`.
 *
 * @param context what the caller knows; `sent: false` makes "connection lost" safe to retry.
 * @example
 * ```ts
 * const c = classify(err, { sent: true });
 * if (c.retryable || (idempotent && c.retryableIfIdempotent)) retry();
 * ```
 */
export function classify(err: unknown, context: ClassifyContext = {}): Classification {
  const seen = new Set<unknown>();
  let found: Recognized | undefined;
  try {
    found = walk(err, 0, seen);
  } catch {
    found = undefined; // a hostile value we could not inspect is simply unrecognised
  }
  const own = stringProp(err, "code");
  const code = own !== undefined && /^[\w.-]{1,64}$/.test(own) ? own : "UNKNOWN";
  return build(found ?? { rule: UNKNOWN, code, rank: 0 }, context);
}

function build(found: Recognized, context: ClassifyContext): Classification {
  const { kind, when, broken, infra } = found.rule;
  const sent = context.sent !== false;
  const phase =
    when === "unknown" || ((when === "answered" || when === "in-flight") && sent)
      ? "after-send"
      : "before-send";
  const outcome =
    when === "unknown" || (when === "in-flight" && phase === "after-send")
      ? "unknown"
      : "not-applied";
  const transientish = kind === "transient" || kind === "timeout";
  return {
    kind,
    phase,
    outcome,
    retryable: transientish && outcome === "not-applied",
    retryableIfIdempotent: transientish,
    connectionBroken: broken,
    infrastructure: infra,
    code: found.code,
    ...(found.sqlstate === undefined ? {} : { sqlstate: found.sqlstate }),
  };
}

function walk(err: unknown, depth: number, seen: Set<unknown>): Recognized | undefined {
  if (err === null || (typeof err !== "object" && typeof err !== "function")) {
    return undefined;
  }
  if (depth > MAX_DEPTH || seen.size >= MAX_NODES || seen.has(err)) return undefined;
  seen.add(err);

  // An AggregateError (multi-address connect) is described best by its most telling member.
  const best = safe(() => bestMember(prop(err, "errors"), depth, seen));
  if (best) return best;
  return safe(() => recognize(err)) ?? walk(prop(err, "cause"), depth + 1, seen);
}

function bestMember(members: unknown, depth: number, seen: Set<unknown>): Recognized | undefined {
  if (!Array.isArray(members)) return undefined;
  let best: Recognized | undefined;
  for (let i = 0; i < Math.min(members.length, 16); i++) {
    const found = safe(() => walk(members[i], depth + 1, seen));
    if (found && (best === undefined || found.rank > best.rank)) best = found;
  }
  return best;
}

function recognize(err: object): Recognized | undefined {
  if (safe(() => err instanceof SteadfastError)) return recognizeOwn(err as SteadfastError);

  const code = stringProp(err, "code");
  if (code !== undefined && SQLSTATE_PATTERN.test(code)) {
    // PostgreSQL itself answers a wrong parameter count with 08P01 on a healthy connection.
    const base = BIND_MISMATCH.test(stringProp(err, "message") ?? "")
      ? STATEMENT_ERROR
      : (SQLSTATES.get(code) ?? SQLSTATE_CLASSES.get(code.slice(0, 2)) ?? STATEMENT_ERROR);
    const severity = stringProp(err, "severity");
    // A FATAL or PANIC answer always ends the session, whatever the SQLSTATE.
    const fatal = severity === "FATAL" || severity === "PANIC";
    const r = fatal && !base.broken ? { ...base, broken: true } : base;
    return { rule: r, code: `PG_${code}`, sqlstate: code, rank: 4 };
  }
  if (code !== undefined) {
    const nodeRule = NODE_CODES.get(code) ?? (TLS_CODE.test(code) ? CONFIG : undefined);
    // Node's AbortError (ABORT_ERR) is reported under our code, like a DOMException AbortError.
    const stable = nodeRule === CANCELED ? "CANCELED" : code;
    if (nodeRule) return { rule: refineBySyscall(nodeRule, err), code: stable, rank: 3 };
  }

  const name = stringProp(err, "name");
  if (name === "AbortError") return { rule: CANCELED, code: "CANCELED", rank: 1 };
  if (name === "TimeoutError") return { rule: CALLER_TIMEOUT, code: "TIMEOUT", rank: 1 };

  const message = stringProp(err, "message");
  if (message !== undefined && message.length < 200) {
    for (const [pattern, messageCode, messageRule] of MESSAGES) {
      if (pattern.test(message)) return { rule: messageRule, code: messageCode, rank: 2 };
    }
  }
  return undefined;
}

function recognizeOwn(err: SteadfastError): Recognized | undefined {
  const code = stringProp(err, "code") ?? "UNKNOWN";
  if (err instanceof TimeoutError) {
    const phase = stringProp(err, "phase");
    // Connect and validation timeouts mean the database is slow or unreachable; acquire
    // timeouts are local contention, and the deadline is the caller's budget, not a db signal.
    const r =
      phase === "acquire"
        ? rule("timeout", "before", false, false)
        : phase === "connect" || phase === "validation"
          ? CONNECT_TIMEOUT
          : phase === "query" || phase === "cancel"
            ? rule("timeout", "in-flight", false, true)
            : CALLER_TIMEOUT;
    return { rule: r, code, rank: 4 };
  }
  const own = OWN_CODES.get(code);
  if (own) return { rule: own, code, rank: 4 };
  // A code this table does not know yet: let its cause speak, but keep our code.
  const inner = safe(() => walk(prop(err, "cause"), 1, new Set([err])));
  return { rule: inner?.rule ?? UNKNOWN, code, rank: 4 };
}

// The syscall pins the phase down: an ETIMEDOUT from connect() never sent anything, an
// EHOSTUNREACH on read() happened mid-statement.
function refineBySyscall(r: Rule, err: object): Rule {
  const syscall = stringProp(err, "syscall");
  if (syscall === "connect" || syscall === "getaddrinfo") {
    return r.when === "before" ? r : { ...r, when: "before" };
  }
  if ((syscall === "read" || syscall === "write") && r === CANNOT_CONNECT) return LOST;
  return r;
}

function prop(value: unknown, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function stringProp(value: unknown, key: string): string | undefined {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) {
    return undefined;
  }
  const v = prop(value, key);
  return typeof v === "string" ? v : undefined;
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
