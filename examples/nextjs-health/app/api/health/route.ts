/**
 * `GET /api/health` as a Next.js App Router route handler: Steadfast's health handler is
 * already a Web-standard `(Request) => Promise<Response>`, so it is returned as it is
 * (200 with `application/health+json` for pass/warn, 503 when a check fails).
 *
 * In a Next.js app this file is `app/api/health/route.ts`, and the import below would usually
 * be `@/lib/steadfast`.
 */
import { steadfast } from "../../../lib/steadfast.js";

/** `pg` needs Node's sockets: not the Edge runtime. */
export const runtime = "nodejs";
/** Never prerender or cache a health check. */
export const dynamic = "force-dynamic";

export function GET(request: Request): Promise<Response> {
  return steadfast().health.health(request);
}
