/** What every redacted secret becomes. */
export const REDACTED = "***";

// One vocabulary for field names and for `key=value` text, so the two rules never disagree.
const SECRET_WORDS =
  "password|passwd|pwd|secret|token|api[-_]?key|authorization|credential|private[-_]?key|cookie";
const SECRET_KEY = new RegExp(SECRET_WORDS, "i");

/**
 * True when a field or parameter name denotes a secret (password, passwd, pwd, secret, token,
 * api key, authorization, credential, private key, cookie; case-insensitive, anywhere in the
 * name, so `PGPASSWORD` and `accessToken` count). Such values are replaced whole by `"***"`.
 *
 * @example
 * ```ts
 * isSecretKey("sslPassword"); // true
 * ```
 */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

// Keys are bounded ({0,40}) so that a long word cannot make the match quadratic.
const KEY = String.raw`[\w-]{0,40}?(?:${SECRET_WORDS})[\w-]{0,40}`;
const Q_OPEN = String.raw`(\\?["']?)`;
const SEP = String.raw`(\\?["']?\s*[:=]\s*)`;
const QUOTED = String.raw`"(?:[^"\\]|\\.){0,4096}"|'(?:[^'\\]|\\.){0,4096}'|\\"(?:[^"\\]|\\[^"]){0,4096}\\"`;
/**
 * `key=value`, `key: value`, `"key":"value"`, `key: 'value'`, escaped JSON. An unquoted value
 * runs to the next whitespace: a delimiter such as `&` or `,` could be part of the password, and
 * hiding a little too much beats leaking the rest of a secret.
 */
const KEY_VALUE = new RegExp(String.raw`(?<![\w-])${Q_OPEN}(${KEY})${SEP}(${QUOTED}|\S+)`, "gi");
/** Header-like keys whose unquoted value is a whole line (`Authorization: Digest a=1, b=2`). */
const LINE_VALUE = new RegExp(
  String.raw`(?<![\w-])${Q_OPEN}((?:proxy-)?authorization|(?:set-)?cookie)${SEP}(${QUOTED}|[^\r\n"']+)`,
  "gi",
);
const BEARER = /\b(Bearer|bearer|BEARER|Basic)(\s+)[A-Za-z0-9\-._~+/]+=*/g;
/** SQL: `CREATE ROLE x PASSWORD 'secret'`, as echoed in an error's `internalQuery`. */
const SQL_PASSWORD = /\b(password)(\s+)('(?:[^']|''){0,4096}'|"(?:[^"]|""){0,4096}")/gi;

/**
 * Removes credentials from free text: the password of any `scheme://user:password@host` URL
 * (passwords with unencoded `@`, `:`, `/` included: everything up to the run's last `@` goes),
 * `password=…` / `"token": "…"` / `apiKey: …` key-value forms, `Bearer …` and `Basic …`
 * credentials, and SQL `PASSWORD '…'`. Runs in linear time on any input. Use it on anything a
 * log line, health report or error message might carry.
 *
 * @example
 * ```ts
 * redactSecrets("connect postgres://app:hunter2@db:5432/app failed");
 * // "connect postgres://app:***@db:5432/app failed"
 * ```
 */
export function redactSecrets(text: string): string {
  if (typeof text !== "string") return "";
  let out = redactUrlPasswords(text);
  if (!/[:=]|bearer|basic|password/i.test(out)) return out;
  out = out.replace(LINE_VALUE, keepKey);
  out = out.replace(BEARER, (_m, scheme: string, space: string) => `${scheme}${space}${REDACTED}`);
  out = out.replace(KEY_VALUE, keepKey);
  return out.replace(SQL_PASSWORD, (_m, key: string, space: string, value: string) => {
    const quote = value[0] ?? "'";
    return `${key}${space}${quote}${REDACTED}${quote}`;
  });
}

function keepKey(_m: string, open: string, key: string, sep: string, value: string): string {
  const quote = value.startsWith('\\"')
    ? '\\"'
    : value[0] === '"' || value[0] === "'"
      ? value[0]
      : "";
  return `${open}${key}${sep}${quote}${REDACTED}${quote}`;
}

const RUN_END = /[\s"'`<>]/g;

/**
 * Walks `scheme://` occurrences by hand rather than with one regex: the password ends at the
 * last `@` of the whitespace- or quote-delimited run (as a URL parser would read an unencoded
 * `@`), and each run is scanned once, which keeps hostile input linear.
 */
function redactUrlPasswords(text: string): string {
  if (!text.includes("://")) return text;
  const scheme = /[a-z][a-z0-9+.-]{0,31}:\/\//gi;
  let out = "";
  let copied = 0;
  let runStart = -1;
  let runEnd = -1;
  let runLastAt = -1;
  for (let m = scheme.exec(text); m !== null; m = scheme.exec(text)) {
    const start = m.index + m[0].length;
    if (start >= runEnd) {
      RUN_END.lastIndex = start;
      runStart = start;
      runEnd = RUN_END.exec(text)?.index ?? text.length;
      const at = text.slice(runStart, runEnd).lastIndexOf("@");
      runLastAt = at < 0 ? -1 : runStart + at;
    }
    // The user name: up to the first ':' (bounded), and never containing '@' or '/'.
    let colon = start;
    const limit = Math.min(runEnd, start + 256);
    while (colon < limit && !":@/".includes(text[colon] ?? "/")) colon++;
    if (text[colon] !== ":" || colon >= runEnd || runLastAt <= colon) continue;
    out += text.slice(copied, colon + 1) + REDACTED;
    copied = runLastAt;
    scheme.lastIndex = runLastAt + 1;
  }
  return copied === 0 ? text : out + text.slice(copied);
}
