/**
 * Two instances of the Steadfast service (`steadfast serve`) sharing one PostgreSQL database
 * and one Redis: Redis holds the shared L2 cache and carries invalidations, so a write on
 * instance A is seen by instance B's next read, and B never keeps serving its cached old
 * value for the rest of its ttl (30 s here).
 *
 * Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch REDIS_URL=redis://127.0.0.1:6379 \
 *      node --import tsx examples/multi-instance/main.ts
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const { DATABASE_URL, REDIS_URL } = process.env;
if (!DATABASE_URL || !REDIS_URL) throw new Error("set DATABASE_URL and REDIS_URL");

// The package's own bin, as `npx steadfast serve` would run it.
const pkgUrl = import.meta.resolve("steadfast/package.json");
const pkg = JSON.parse(readFileSync(new URL(pkgUrl), "utf8")) as { bin: { steadfast: string } };
const cli = new URL(pkg.bin.steadfast, pkgUrl).pathname;

interface Instance {
  readonly name: string;
  readonly child: ChildProcess;
  readonly url: string;
  readonly exit: Promise<number | null>;
}

/** Starts `steadfast serve --port 0` and waits (at most 20 s) for its "listening" log line. */
function start(name: string): Promise<Instance> {
  const child = spawn(process.execPath, [cli, "serve", "--port", "0", "--drain", "2s"], {
    env: { ...process.env, DATABASE_URL, REDIS_URL },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exit = new Promise<number | null>((resolve) => child.on("exit", resolve));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 20 s`)), 20_000);
    void exit.then((code) => reject(new Error(`${name} exited with ${code} before listening`)));
    // The service logs one JSON line per event; the startup line carries the URL.
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let url: string | undefined;
      try {
        url = (JSON.parse(line) as { url?: string }).url;
      } catch {
        return; // not a log line
      }
      if (url) {
        clearTimeout(timer);
        resolve({ name, child, url, exit });
      }
    });
  });
}

async function put(instance: Instance, key: string, value: unknown): Promise<void> {
  const response = await fetch(`${instance.url}/kv/demo/${key}`, {
    method: "PUT",
    body: JSON.stringify(value),
  });
  if (!response.ok) throw new Error(`PUT on ${instance.name}: ${response.status}`);
  await response.arrayBuffer();
  console.log(`${instance.name}: PUT ${key} = ${JSON.stringify(value)}`);
}

async function get(
  instance: Instance,
  key: string,
): Promise<{ value: unknown; cacheStatus: string }> {
  const response = await fetch(`${instance.url}/kv/demo/${key}`);
  const body = (await response.json()) as { value?: unknown };
  return { value: body.value, cacheStatus: response.headers.get("cache-status") ?? "" };
}

const instances: Instance[] = [];
try {
  const [a, b] = await Promise.all([start("A"), start("B")]);
  instances.push(a, b);
  console.log(`A listening on ${a.url}, B listening on ${b.url}`);

  await put(a, "greeting", { text: "hello" });
  const first = await get(b, "greeting");
  console.log(
    `B: GET greeting = ${JSON.stringify(first.value)} (Cache-Status: ${first.cacheStatus})`,
  );
  const second = await get(b, "greeting");
  console.log(
    `B: GET greeting = ${JSON.stringify(second.value)} (Cache-Status: ${second.cacheStatus})`,
  );

  // B holds the old value in memory, fresh for 30 s. A's write invalidates it through Redis
  // pub/sub; delivery is asynchronous, so poll B (bounded: 5 s, far below the ttl).
  await put(a, "greeting", { text: "hello again" });
  const started = Date.now();
  let reads = 0;
  for (;;) {
    const now = await get(b, "greeting");
    reads++;
    if ((now.value as { text?: string } | undefined)?.text === "hello again") {
      console.log(
        `B: GET greeting = ${JSON.stringify(now.value)} (Cache-Status: ${now.cacheStatus})`,
      );
      console.log(`B saw the update after ${reads} read(s), ${Date.now() - started} ms`);
      break;
    }
    if (Date.now() - started > 5_000) throw new Error("B still serves the old value after 5 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  // Leave nothing behind: the delete removes the row and its cache entries (memory and Redis).
  const deleted = await fetch(`${a.url}/kv/demo/greeting`, { method: "DELETE" });
  console.log(`A: DELETE greeting -> ${deleted.status}`);
} finally {
  // SIGTERM: each instance drains in-flight requests, closes Redis and the pool, exits 0.
  for (const instance of instances) instance.child.kill("SIGTERM");
  const codes = await Promise.all(instances.map((i) => i.exit));
  console.log(`instances stopped with exit codes ${codes.join(", ")}`);
}
