/** Where the test services are; overridable so the suite can run against other servers. */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** `TEST_DATABASE_URL` with its database name replaced. */
export function databaseUrl(database: string, base = TEST_DATABASE_URL): string {
  const url = new URL(base);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}
