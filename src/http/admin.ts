import { type Clock, systemClock } from "../util/clock.js";
import { OptionsReader } from "../util/options.js";
import { json, problem } from "./respond.js";

/** Options of {@link reconnectHandler}. */
export interface ReconnectOptions {
  /**
   * The bearer token the request must carry (`Authorization: Bearer <token>`), at least 16
   * characters. Without one the endpoint is disabled and answers 403.
   */
  readonly token?: string | undefined;
  /** Requests allowed per minute (failed attempts count too). Default 5. */
  readonly perMinute?: number;
  /** Time source for the rate limit. Default the system clock. */
  readonly clock?: Clock;
}

/**
 * `POST` → `reset()`: retires every pooled connection (idle ones now, busy ones when released),
 * the fix an operator reaches for after a failover. Only `POST` with the configured bearer
 * token; the token is compared in constant time; requests are rate limited; `GET` is never an
 * action (405).
 *
 * @example
 * ```ts
 * const reconnect = reconnectHandler(() => db.pool.reset(), { token: process.env.STEADFAST_ADMIN_TOKEN });
 * app.post("/admin/reconnect", (c) => reconnect(c.req.raw));
 * ```
 */
export function reconnectHandler(
  reset: () => void,
  options: ReconnectOptions = {},
): (request: Request) => Promise<Response> {
  const r = new OptionsReader(options, "admin", ["token", "perMinute", "clock"]);
  const token = r.string("token", { secret: true });
  if (token !== undefined && token.length < 16) {
    r.report("token", "a secret of at least 16 characters", token, true);
  }
  const perMinute = r.integer("perMinute", 5, { min: 1, max: 10_000 });
  const clock = (r.raw("clock") as Clock | undefined) ?? systemClock;
  r.finish();
  const expected = token === undefined ? undefined : digest(token);
  const bucket = { tokens: perMinute, at: clock.now() };

  return async (request) => {
    if (request.method !== "POST") {
      return problem(405, "METHOD_NOT_ALLOWED", "Use POST: a GET never changes anything", {
        allow: "POST",
      });
    }
    if (expected === undefined) {
      return problem(403, "ADMIN_DISABLED", "Set an admin token to enable this endpoint");
    }
    // Refill, then spend: failed attempts cost a token too, which bounds guessing.
    const now = clock.now();
    bucket.tokens = Math.min(perMinute, bucket.tokens + ((now - bucket.at) * perMinute) / 60_000);
    bucket.at = now;
    if (bucket.tokens < 1) {
      const retryAfter = Math.ceil(((1 - bucket.tokens) * 60_000) / perMinute / 1000);
      return problem(429, "RATE_LIMITED", "Too many admin requests", {
        "retry-after": String(retryAfter),
      });
    }
    bucket.tokens -= 1;
    const header = request.headers.get("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match?.[1] || !equalDigests(await expected, await digest(match[1]))) {
      return problem(401, "UNAUTHORIZED", "A valid bearer token is required", {
        "www-authenticate": 'Bearer realm="steadfast-admin"',
      });
    }
    reset();
    return json(202, { status: "accepted", action: "reconnect" });
  };
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Compares two SHA-256 digests without an early exit, so timing reveals nothing. */
function equalDigests(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
