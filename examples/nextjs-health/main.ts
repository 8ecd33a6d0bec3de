/**
 * Calls the route handler the way Next.js does, with a Web `Request`, and prints the answer;
 * no Next.js needed.
 *
 * Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch node --import tsx examples/nextjs-health/main.ts
 */
import { GET } from "./app/api/health/route.js";
import { steadfast } from "./lib/steadfast.js";

try {
  const response = await GET(new Request("http://localhost:3000/api/health"));
  const report = (await response.json()) as {
    status: string;
    serviceId?: string;
    checks?: Record<string, { status: string }[]>;
  };
  console.log(`GET /api/health -> ${response.status} ${response.headers.get("content-type")}`);
  console.log(`status: ${report.status} (serviceId: ${report.serviceId})`);
  for (const [name, [check]] of Object.entries(report.checks ?? {})) {
    console.log(`  ${name}: ${check?.status}`);
  }
} finally {
  await steadfast().db.close();
}
