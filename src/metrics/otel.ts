import { type Attributes, type Meter, metrics, type Tracer, trace } from "@opentelemetry/api";
import type { Database } from "../db/database.js";

/** Options of {@link otelMetrics}. */
export interface OtelOptions {
  /** Default `metrics.getMeter("steadfast")`: a no-op until the application registers an SDK. */
  readonly meter?: Meter;
  /** Default `trace.getTracer("steadfast")`; `false` records no spans. */
  readonly tracer?: Tracer | false;
  /** `db.client.connection.pool.name`. Default the driver's target (`host:port/database`). */
  readonly poolName?: string;
}

const CODE = /^[A-Z][A-Z0-9_]{0,31}$/;

/**
 * OpenTelemetry metrics and spans for a database handle, per the database-client semantic
 * conventions: `db.client.operation.duration` (s), `db.client.connection.count` by state,
 * `.max`, `.idle.min`, `.pending_requests`, `.timeouts`, `.create_time`, `.wait_time`,
 * `.use_time`, plus `steadfast.retries` and `steadfast.unknown_outcomes`; one span per call
 * (`db.operation.name` is the call kind, never SQL). Through `@opentelemetry/api` only: without
 * a registered SDK every instrument is a no-op, so this costs next to nothing.
 *
 * @returns a function that detaches the listeners.
 * @example
 * ```ts
 * // after the application's own NodeSDK/MeterProvider setup:
 * otelMetrics(db);
 * ```
 */
export function otelMetrics<C>(db: Database<C>, options: OtelOptions = {}): () => void {
  const meter = options.meter ?? metrics.getMeter("steadfast");
  const tracer =
    options.tracer === false ? undefined : (options.tracer ?? trace.getTracer("steadfast"));
  const pool: Attributes = {
    "db.client.connection.pool.name": options.poolName ?? db.runtime.driver.target,
  };
  const seconds = (name: string, description: string) =>
    meter.createHistogram(name, { unit: "s", description });
  const duration = seconds(
    "db.client.operation.duration",
    "Duration of database client operations.",
  );
  const createTime = seconds(
    "db.client.connection.create_time",
    "Time it took to create a new connection.",
  );
  const waitTime = seconds(
    "db.client.connection.wait_time",
    "Time it took to obtain an open connection from the pool.",
  );
  const useTime = seconds(
    "db.client.connection.use_time",
    "Time between borrowing a connection and returning it.",
  );
  const timeouts = meter.createCounter("db.client.connection.timeouts", { unit: "{timeout}" });
  const retries = meter.createCounter("steadfast.retries", { unit: "{retry}" });
  const unknown = meter.createCounter("steadfast.unknown_outcomes", { unit: "{operation}" });
  const observe = (name: string, unit: string, read: () => [number, Attributes][]) =>
    meter.createObservableUpDownCounter(name, { unit }).addCallback((result) => {
      for (const [value, attributes] of read()) result.observe(value, { ...pool, ...attributes });
    });
  observe("db.client.connection.count", "{connection}", () => {
    const s = db.pool.stats();
    return [
      [s.idle, { "db.client.connection.state": "idle" }],
      [s.active + s.validating, { "db.client.connection.state": "used" }],
    ];
  });
  observe("db.client.connection.max", "{connection}", () => [[db.pool.stats().max, {}]]);
  observe("db.client.connection.idle.min", "{connection}", () => [[db.pool.stats().minIdle, {}]]);
  observe("db.client.connection.pending_requests", "{request}", () => [
    [db.pool.stats().pending, {}],
  ]);
  const code = (error: unknown) => {
    const c = db.classify(error).code;
    return CODE.test(c) ? c : "other";
  };
  const offs = [
    db.on("call", (e) => {
      const attributes: Attributes = {
        "db.system.name": "postgresql",
        "db.operation.name": e.kind,
        ...pool,
        ...(e.error === undefined ? {} : { "error.type": code(e.error) }),
      };
      duration.record(e.durationMs / 1000, attributes);
      if (tracer) {
        const end = Date.now();
        const span = tracer.startSpan(`${e.kind} postgresql`, {
          startTime: end - e.durationMs,
          attributes: { ...attributes, "steadfast.attempts": e.attempts },
        });
        if (e.error !== undefined) span.setStatus({ code: 2 });
        span.end(end);
      }
    }),
    db.on("retry", (e) =>
      retries.add(1, { ...pool, "db.operation.name": e.kind, "error.type": e.classification.code }),
    ),
    db.on("unknown-outcome", (e) => unknown.add(1, { ...pool, "db.operation.name": e.kind })),
    db.pool.events.on("acquire-timeout", () => timeouts.add(1, pool)),
    db.pool.events.on("connect", (e) => createTime.record(e.durationMs / 1000, pool)),
    db.pool.events.on("acquire", (e) => waitTime.record(e.waitedMs / 1000, pool)),
    db.pool.events.on("release", (e) => useTime.record(e.heldMs / 1000, pool)),
  ];
  return () => {
    for (const off of offs) off();
  };
}
