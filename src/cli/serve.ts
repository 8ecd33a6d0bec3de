import { pino } from "pino";
import { fromEnv } from "../db/env.js";
import type { EmbeddedPostgres } from "../drivers/pglite/index.js";
import { redactSecrets } from "../errors/redact.js";
import { cachePlugin } from "../server/cache-plugin.js";
import { dashboardPlugin } from "../server/dashboard/index.js";
import { metricsPlugin } from "../server/metrics-plugin.js";
import { type Service, startService } from "../server/service.js";
import { type FaultProxy, startFaultProxy } from "../testing/fault-proxy.js";
import { parseDuration } from "../util/duration.js";
import { CliError } from "./errors.js";

/** Options of `steadfast serve`, as parsed from the command line. */
export interface ServeOptions {
  readonly port: string;
  readonly host: string;
  readonly dataDir: string;
  readonly memory: boolean;
  readonly chaos: boolean;
  readonly drain: string;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * Runs the service until SIGTERM/SIGINT: on `DATABASE_URL` when set, otherwise on an embedded
 * PGlite database in `--data-dir` (or `--memory`). Logs one JSON line per event with pino;
 * the startup line says where it listens and which database it uses, password redacted.
 */
export async function serve(options: ServeOptions): Promise<void> {
  const env = fromEnv(process.env);
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new CliError(`--port must be a port number from 0 to 65535, not "${options.port}"`);
  }
  const drainMs = parseDuration(options.drain);
  if (drainMs === undefined)
    throw new CliError(`--drain must be a duration such as "10s", not "${options.drain}"`);
  if (options.chaos && !LOOPBACK.has(options.host)) {
    throw new CliError(
      "--chaos exposes fault controls without a token, so it needs a loopback --host",
    );
  }
  const logger = pino({ base: { service: "steadfast" } });

  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl = env.databaseUrl;
  let database = databaseUrl === undefined ? "" : redactSecrets(databaseUrl);
  if (databaseUrl === undefined) {
    const { startEmbeddedPostgres } = await import("../drivers/pglite/index.js");
    embedded = await startEmbeddedPostgres(
      options.memory ? { memory: true } : { dataDir: options.dataDir },
    );
    databaseUrl = embedded.url;
    database = options.memory
      ? "embedded PGlite (in memory)"
      : `embedded PGlite (${embedded.dataDir})`;
  }

  let proxy: FaultProxy | undefined;
  if (options.chaos) {
    const target = new URL(databaseUrl);
    proxy = await startFaultProxy({
      target: { host: target.hostname.replace(/^\[|\]$/g, ""), port: Number(target.port || 5432) },
    });
    databaseUrl = proxy.url(databaseUrl);
    database += " via a chaos proxy";
  }

  let service: Service;
  try {
    service = await startService({
      databaseUrl,
      host: options.host,
      port,
      drainMs,
      logger,
      adminToken: env.adminToken,
      ...(embedded ? { preset: "local" as const } : {}),
      ...(embedded ? { poolMax: embedded.maxPoolSize } : {}),
      plugins: [
        cachePlugin({ redisUrl: env.redisUrl }),
        metricsPlugin(),
        dashboardPlugin({ ...(proxy ? { chaos: proxy } : {}), label: database }),
      ],
    });
  } catch (error) {
    await proxy?.close();
    await embedded?.close();
    throw error;
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, "shutting down: draining in-flight requests");
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      void service
        .close()
        .then(async () => {
          await proxy?.close();
          await embedded?.close();
          logger.info({}, "stopped");
          resolve();
        })
        .catch((error: unknown) => {
          logger.error({ err: String(error) }, "shutdown failed");
          process.exitCode = 1;
          resolve();
        });
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    // Announced only once the signal handlers are in place: a supervisor may stop us at once.
    logger.info(
      { url: service.url, database, chaos: options.chaos, admin: env.adminToken !== undefined },
      `listening on ${service.url}`,
    );
  });
}
