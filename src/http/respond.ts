/** A JSON response that no cache keeps (health and admin answers must be fresh). */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType = "application/json",
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": contentType, "cache-control": "no-store", ...headers },
  });
}

/** The error body every Steadfast endpoint uses: a stable `code` and a human message. */
export function problem(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return json(status, { error: { code, message } }, headers);
}
