import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CacheStats } from "../cache/types.js";
import type { Database } from "../db/database.js";

/** Options of {@link prometheusMetrics}. */
export interface PrometheusOptions {
  /** Where the metrics register. Default: a new registry (serve it with {@link metricsHandler}). */
  readonly registry?: Registry;
  /**
   * The `db_client_connection_pool_name` label. Default: the driver's target
   * (`host:port/database`, as the OpenTelemetry conventions say; it never holds credentials).
   */
  readonly poolName?: string;
  /** A cache whose reads are counted by provenance. */
  readonly cache?: {
    /** The cache's counters (a Steadfast `Cache` fits). */
    stats(): CacheStats;
  };
}

const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const MAX_CODES = 100;
const CODE = /^[A-Z][A-Z0-9_]{0,31}$/;
const BREAKER_LEVEL: Record<string, number> = { closed: 0, "half-open": 1, open: 2, isolated: 2 };

/**
 * Prometheus metrics for a database handle, named after the OpenTelemetry database-client
 * conventions (`db.client.operation.duration` → `db_client_operation_duration_seconds`, …)
 * plus Steadfast's own (retries, breaker, removals, unknown outcomes, cache reads). Label
 * values are bounded enums — call kind, connection state, removal reason, error code (at most
 * 100 distinct, then `other`) — never SQL, keys or connection strings. Gauges read the pool at
 * scrape time.
 *
 * @returns the registry and a function that detaches the listeners.
 * @example
 * ```ts
 * const { registry } = prometheusMetrics(db);
 * app.get("/metrics", (c) => metricsHandler(registry)(c.req.raw));
 * ```
 */
export function prometheusMetrics<C>(
  db: Database<C>,
  options: PrometheusOptions = {},
): {
  /** The registry the metrics are in. */
  registry: Registry;
  /** Detaches the listeners; the metrics stop updating. */
  stop: () => void;
} {
  const registry = options.registry ?? new Registry();
  const pool = options.poolName ?? db.runtime.driver.target;
  const codes = new Set<string>();
  const code = (value: string | undefined): string => {
    if (value === undefined) return "";
    if (!CODE.test(value)) return "other";
    if (!codes.has(value) && codes.size >= MAX_CODES) return "other";
    codes.add(value);
    return value;
  };
  const system = { db_system_name: "postgresql", db_client_connection_pool_name: pool };
  const duration = new Histogram({
    name: "db_client_operation_duration_seconds",
    help: "Duration of database calls, all attempts included.",
    labelNames: [
      "db_system_name",
      "db_client_connection_pool_name",
      "db_operation_name",
      "error_type",
    ],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: "db_client_connection_count",
    help: "Connections by state (idle, used).",
    labelNames: ["db_client_connection_pool_name", "db_client_connection_state"],
    registers: [registry],
    collect() {
      const s = db.pool.stats();
      this.set(
        { db_client_connection_pool_name: pool, db_client_connection_state: "idle" },
        s.idle,
      );
      this.set(
        { db_client_connection_pool_name: pool, db_client_connection_state: "used" },
        s.active + s.validating,
      );
    },
  });
  const poolGauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["db_client_connection_pool_name"],
      registers: [registry],
      collect() {
        this.set({ db_client_connection_pool_name: pool }, read());
      },
    });
  poolGauge("db_client_connection_max", "Most connections allowed.", () => db.pool.stats().max);
  poolGauge(
    "db_client_connection_idle_min",
    "Idle connections kept warm.",
    () => db.pool.stats().minIdle,
  );
  poolGauge(
    "db_client_connection_pending_requests",
    "Callers waiting for a connection.",
    () => db.pool.stats().pending,
  );
  poolGauge(
    "steadfast_breaker_state",
    "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
    () => BREAKER_LEVEL[db.breaker?.state ?? "closed"] ?? 0,
  );
  const poolLabels = ["db_client_connection_pool_name"] as const;
  const timeouts = new Counter({
    name: "db_client_connection_timeouts_total",
    help: "Acquire timeouts.",
    labelNames: poolLabels,
    registers: [registry],
  });
  const seconds = (name: string, help: string) =>
    new Histogram({
      name,
      help,
      labelNames: poolLabels,
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
  const createTime = seconds(
    "db_client_connection_create_time_seconds",
    "Time to open a connection.",
  );
  const waitTime = seconds(
    "db_client_connection_wait_time_seconds",
    "Time callers waited for a connection.",
  );
  const useTime = seconds("db_client_connection_use_time_seconds", "Time connections were held.");
  const retries = new Counter({
    name: "steadfast_retries_total",
    help: "Attempts retried, by call kind and the failure's code.",
    labelNames: ["db_client_connection_pool_name", "db_operation_name", "error_type"],
    registers: [registry],
  });
  const transitions = new Counter({
    name: "steadfast_breaker_transitions_total",
    help: "Circuit breaker transitions.",
    labelNames: ["db_client_connection_pool_name", "from", "to"],
    registers: [registry],
  });
  const removed = new Counter({
    name: "steadfast_connections_removed_total",
    help: "Connections closed by the pool, by reason.",
    labelNames: ["db_client_connection_pool_name", "reason"],
    registers: [registry],
  });
  const unknown = new Counter({
    name: "steadfast_unknown_outcomes_total",
    help: "Writes whose outcome could not be known.",
    labelNames: ["db_client_connection_pool_name", "db_operation_name"],
    registers: [registry],
  });
  const p = { db_client_connection_pool_name: pool };
  const offs = [
    db.on("call", (e) =>
      duration.observe(
        {
          ...system,
          db_operation_name: e.kind,
          error_type: e.error === undefined ? "" : code(db.classify(e.error).code),
        },
        e.durationMs / 1000,
      ),
    ),
    db.on("retry", (e) =>
      retries.inc({ ...p, db_operation_name: e.kind, error_type: code(e.classification.code) }),
    ),
    db.on("breaker", (e) => transitions.inc({ ...p, from: e.from, to: e.to })),
    db.on("unknown-outcome", (e) => unknown.inc({ ...p, db_operation_name: e.kind })),
    db.pool.events.on("acquire-timeout", () => timeouts.inc(p)),
    db.pool.events.on("connect", (e) => createTime.observe(p, e.durationMs / 1000)),
    db.pool.events.on("acquire", (e) => waitTime.observe(p, e.waitedMs / 1000)),
    db.pool.events.on("release", (e) => useTime.observe(p, e.heldMs / 1000)),
    db.pool.events.on("remove", (e) => removed.inc({ ...p, reason: e.reason })),
  ];
  if (options.cache) cacheMetrics(registry, options.cache);
  return {
    registry,
    stop: () => {
      for (const off of offs) off();
    },
  };
}

/** Cache reads by provenance, from the cache's counters at scrape time. */
function cacheMetrics(registry: Registry, cache: { stats(): CacheStats }): void {
  const last = { hit: 0, miss: 0, stale: 0, fallback: 0 };
  new Counter({
    name: "steadfast_cache_reads_total",
    help: "Cache reads by result: hit, miss (loaded), stale (served expired data), fallback.",
    labelNames: ["result"],
    registers: [registry],
    collect() {
      const s = cache.stats();
      const now = { hit: s.hits, miss: s.misses, stale: s.staleServed, fallback: s.fallbacks };
      for (const result of Object.keys(now) as (keyof typeof now)[]) {
        const delta = now[result] - last[result];
        if (delta > 0) this.inc({ result }, delta);
        else this.inc({ result }, 0);
        last[result] = now[result];
      }
    },
  });
}

/**
 * `GET /metrics` as a Web-standard handler: the Prometheus text exposition, never cached.
 *
 * @example
 * ```ts
 * const { registry } = prometheusMetrics(db);
 * app.get("/metrics", (c) => metricsHandler(registry)(c.req.raw));
 * ```
 */
export function metricsHandler(registry: Registry): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response(
        JSON.stringify({ error: { code: "METHOD_NOT_ALLOWED", message: "Use GET" } }),
        {
          status: 405,
          headers: { allow: "GET, HEAD", "content-type": "application/json" },
        },
      );
    }
    return new Response(await registry.metrics(), {
      headers: { "content-type": registry.contentType, "cache-control": "no-store" },
    });
  };
}
