/**
 * `steadfast/pglite`: an embedded PostgreSQL (PGlite, Postgres compiled to WASM) served on a
 * loopback socket, so the real `pg` driver and Steadfast's pool talk to it exactly as they
 * would to a server. This is what `steadfast serve` uses when no `DATABASE_URL` is set.
 *
 * PGlite is one Postgres session: every socket connection shares it, so statements from two
 * connections interleave in one session and their transactions would mix. Use a pool of one
 * connection with it (`pool: { max: 1 }`), which {@link startEmbeddedPostgres} reports as
 * `maxPoolSize`.
 *
 * @module
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { SteadfastError } from "../../errors/base.js";
import { ConfigError } from "../../errors/config-error.js";

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Where the data lives; created if missing. Default `.steadfast-data` in the working directory. */
  readonly dataDir?: string;
  /** Keep everything in memory (nothing on disk; gone at `close()`). Default `false`. */
  readonly memory?: boolean;
  /** Loopback address to listen on. Default `127.0.0.1`; other addresses are refused. */
  readonly host?: string;
  /** Port; 0 picks a free one. Default 0. */
  readonly port?: number;
}

/** A running embedded database. */
export interface EmbeddedPostgres {
  /** A `postgres://` URL for `pg`, `psql` or Steadfast. */
  readonly url: string;
  /** The loopback host it listens on. */
  readonly host: string;
  /** The port it listens on. */
  readonly port: number;
  /** The data directory, or `undefined` in memory mode. */
  readonly dataDir: string | undefined;
  /** Pool size that is safe against one PGlite session: 1. */
  readonly maxPoolSize: 1;
  /** Stops listening, flushes and closes the database, releases the data directory. Idempotent. */
  close(): Promise<void>;
}

/**
 * The data directory is in use by another live process.
 *
 * @example
 * ```ts
 * try { await startEmbeddedPostgres({ dataDir: ".steadfast-data" }); }
 * catch (err) { if (err instanceof DataDirLockedError) console.error(err.message); }
 * ```
 */
export class DataDirLockedError extends SteadfastError {
  constructor(dir: string, pid: number) {
    super(
      "DATA_DIR_LOCKED",
      `The data directory ${dir} is in use by process ${pid}; stop it, or use --memory or another --data-dir`,
    );
  }
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const LOCK_FILE = "steadfast.lock";
/** Data directories this process holds (the PID in the lock file cannot tell them apart). */
const held = new Set<string>();

/**
 * Starts PGlite on a loopback socket.
 *
 * @example
 * ```ts
 * const embedded = await startEmbeddedPostgres({ dataDir: ".steadfast-data" });
 * const db = createDatabase({ driver: pgDriver({ connectionString: embedded.url }), pool: { max: 1 } });
 * ```
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  const host = options.host ?? "127.0.0.1";
  if (!LOOPBACK.has(host)) {
    throw new ConfigError([
      {
        field: "host",
        expected: "a loopback address (127.0.0.1, ::1 or localhost)",
        received: JSON.stringify(host),
      },
    ]);
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigError([
      { field: "port", expected: "a port from 0 to 65535", received: String(port) },
    ]);
  }
  const memory = options.memory === true;
  const dataDir = memory ? undefined : absolute(options.dataDir ?? ".steadfast-data");
  const release = dataDir === undefined ? () => {} : lock(dataDir);
  let db: PGlite | undefined;
  try {
    db = await PGlite.create(dataDir === undefined ? undefined : { dataDir });
    const server = new PGLiteSocketServer({ db, host, port, maxConnections: 4 });
    await server.start();
    const conn = server.getServerConn();
    const actualPort = Number(conn.slice(conn.lastIndexOf(":") + 1));
    const urlHost = host.includes(":") ? `[${host}]` : host;
    let closing: Promise<void> | undefined;
    const pglite = db;
    return {
      url: `postgres://postgres@${urlHost}:${actualPort}/postgres?sslmode=disable`,
      host,
      port: actualPort,
      dataDir,
      maxPoolSize: 1,
      close() {
        closing ??= (async () => {
          await server.stop();
          await pglite.close();
          release();
        })();
        return closing;
      },
    };
  } catch (error) {
    await db?.close().catch(() => {});
    release();
    throw error;
  }
}

function absolute(dir: string): string {
  return isAbsolute(dir) ? dir : resolve(process.cwd(), dir);
}

/**
 * PGlite is single-process: two processes on one data directory corrupt it. A lock file with
 * the owner's PID keeps a second one out; a lock left by a dead process is taken over.
 */
function lock(dir: string): () => void {
  if (held.has(dir)) throw new DataDirLockedError(dir, process.pid);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.add(dir);
      return () => {
        held.delete(dir);
        rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(readFileSync(file, "utf8").trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new DataDirLockedError(dir, owner);
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new DataDirLockedError(dir, -1);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
