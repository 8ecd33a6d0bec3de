import type { Database } from "../db/database.js";
import { classify } from "../errors/classify.js";
import { redactSecrets } from "../errors/redact.js";
import { type HealthOptions, type ResolvedHealthOptions, resolveHealthOptions } from "./options.js";
import {
  type CacheHealthSource,
  type HealthCheck,
  type HealthReport,
  type HealthStatus,
  worst,
} from "./types.js";

/** A database probe's outcome, kept for `cacheFor`. */
interface Probe {
  readonly at: number;
  readonly wallTime: string;
  readonly latencyMs: number;
  readonly error?: unknown;
}

const RECENT_TIMEOUTS_MS = 60_000;

/**
 * Health reports for one database handle: liveness (never touches the database), readiness
 * (can this instance serve?) and a detailed report with database latency, pool saturation,
 * breaker state and cache checks. Database probes are cached for `cacheFor` and shared by
 * concurrent callers, so the endpoint cannot become load on the database.
 *
 * Create it with {@link createHealth}; serve it with `healthHandlers` from `steadfast/http`.
 *
 * @example
 * ```ts
 * const health = createHealth(db, { cache });
 * const report = await health.check(); // application/health+json
 * if (report.status === "fail") console.warn(report.output);
 * ```
 */
export class Health {
  /** @internal The resolved options. */
  readonly options: ResolvedHealthOptions;
  readonly #db: Database<unknown>;
  #probe: Probe | undefined;
  #inFlight: Promise<Probe> | undefined;
  #draining = false;
  #timeoutsAt: number[] = [];
  /** Database round trips made by probes (for tests and metrics). */
  probes = 0;

  constructor(db: Database<unknown>, options?: HealthOptions) {
    this.options = resolveHealthOptions(options);
    this.#db = db;
    db.pool.events.on("acquire-timeout", () => {
      this.#timeoutsAt.push(db.options.clock.now());
      if (this.#timeoutsAt.length > 100) this.#timeoutsAt.shift();
    });
  }

  /** Readiness fails from now on (graceful shutdown): load balancers stop sending traffic. */
  drain(): void {
    this.#draining = true;
  }

  /** Whether {@link drain} was called or the pool is closing. */
  get draining(): boolean {
    return this.#draining || this.#db.pool.closing;
  }

  /** Reports on `cache` from now on (for a cache created after the health checks). */
  useCache(cache: CacheHealthSource): void {
    (this.options as { cache: CacheHealthSource | undefined }).cache = cache;
  }

  /** Retires every pooled connection (idle now, busy on release): the admin reconnect. */
  reconnect(): void {
    this.#db.pool.reset();
  }

  /** Liveness: the process answers. Never depends on the database. */
  live(): HealthReport {
    return { status: "pass", ...this.#identity() };
  }

  /**
   * Readiness: `fail` while draining or closed; database trouble only fails it with
   * `readinessRequiresDatabase` (see that option for why it is off by default).
   */
  async ready(): Promise<HealthReport> {
    if (this.draining) return { status: "fail", output: "draining", ...this.#identity() };
    if (!this.options.readinessRequiresDatabase) return { status: "pass", ...this.#identity() };
    const check = this.#databaseCheck(await this.#probeDatabase());
    return { status: check.status === "fail" ? "fail" : "pass", ...this.#identity() };
  }

  /** The detailed report: every check, and the worst status as the overall one. */
  async check(): Promise<HealthReport> {
    const now = new Date().toISOString();
    const checks: Record<string, HealthCheck[]> = {
      "postgresql:responseTime": [await this.#databaseCheckUnlessSaturated(now)],
      "postgresql:connections": [this.#poolCheck(now)],
      "postgresql:circuitBreaker": [this.#breakerCheck(now)],
    };
    const cache = this.#cacheChecks(now);
    if (cache) Object.assign(checks, cache);
    let status: HealthStatus = this.draining ? "fail" : "pass";
    for (const list of Object.values(checks))
      for (const c of list) status = worst(status, c.status);
    return {
      status,
      ...this.#identity(),
      ...(this.draining ? { output: "draining" } : {}),
      checks,
    };
  }

  #identity(): Pick<HealthReport, "version" | "serviceId" | "description"> {
    const o = this.options;
    return {
      ...(o.version ? { version: o.version } : {}),
      ...(o.serviceId ? { serviceId: o.serviceId } : {}),
      ...(o.description ? { description: o.description } : {}),
    };
  }

  /** A cached probe while fresh; otherwise one shared round trip however many callers ask. */
  #probeDatabase(): Promise<Probe> {
    const clock = this.#db.options.clock;
    const cached = this.#probe;
    if (cached && clock.now() - cached.at < this.options.cacheFor) return Promise.resolve(cached);
    if (this.#inFlight) return this.#inFlight;
    const started = clock.now();
    this.probes++;
    this.#inFlight = this.#db
      .read(this.options.probeSql, [], { timeout: this.options.probeTimeout })
      .then(
        () => undefined,
        (error: unknown) => error,
      )
      .then((error) => {
        const probe: Probe = {
          at: clock.now(),
          wallTime: new Date().toISOString(),
          latencyMs: clock.now() - started,
          ...(error === undefined ? {} : { error }),
        };
        this.#probe = probe;
        this.#inFlight = undefined;
        return probe;
      });
    return this.#inFlight;
  }

  /**
   * With every connection busy, a probe would queue behind the callers and time out, blaming
   * the database for what is the pool's trouble (reported by the pool check). So say that
   * instead of probing.
   */
  async #databaseCheckUnlessSaturated(time: string): Promise<HealthCheck> {
    const s = this.#db.pool.stats();
    if (s.idle === 0 && s.total + s.creating >= s.max && s.pending > 0) {
      return {
        componentId: this.#db.runtime.driver.target,
        componentType: "datastore",
        status: "warn",
        time,
        output: "not probed: every connection is busy and callers are waiting",
      };
    }
    return this.#databaseCheck(await this.#probeDatabase());
  }

  #databaseCheck(probe: Probe): HealthCheck {
    const base = {
      componentId: this.#db.runtime.driver.target,
      componentType: "datastore",
      observedValue: Math.round(probe.latencyMs * 10) / 10,
      observedUnit: "ms",
      time: probe.wallTime,
    } as const;
    if (probe.error !== undefined) {
      const c = classify(probe.error);
      const message = probe.error instanceof Error ? probe.error.message : String(probe.error);
      return {
        ...base,
        status: "fail",
        output: redactSecrets(`${c.code}: ${message}`).slice(0, 300),
      };
    }
    if (probe.latencyMs >= this.options.slowProbe) {
      return {
        ...base,
        status: "warn",
        output: `round trip slower than ${this.options.slowProbe} ms`,
      };
    }
    return { ...base, status: "pass" };
  }

  #poolCheck(time: string): HealthCheck {
    const s = this.#db.pool.stats();
    const utilization = s.max === 0 ? 0 : s.active / s.max;
    const now = this.#db.options.clock.now();
    const recentTimeouts = this.#timeoutsAt.filter((t) => now - t < RECENT_TIMEOUTS_MS).length;
    const reasons: string[] = [];
    if (utilization >= this.options.saturation)
      reasons.push(`${s.active} of ${s.max} connections in use`);
    if (s.pending > 0) reasons.push(`${s.pending} callers waiting`);
    if (recentTimeouts > 0) reasons.push(`${recentTimeouts} acquire timeouts in the last minute`);
    return {
      componentType: "component",
      status: reasons.length > 0 ? "warn" : "pass",
      observedValue: Math.round(utilization * 1000) / 10,
      observedUnit: "percent",
      time,
      ...(reasons.length > 0 ? { output: reasons.join("; ") } : {}),
    };
  }

  #breakerCheck(time: string): HealthCheck {
    const state = this.#db.breaker?.state ?? "disabled";
    const status: HealthStatus =
      state === "open" ? "fail" : state === "half-open" ? "warn" : "pass";
    return {
      componentType: "component",
      status,
      observedValue: state,
      time,
      ...(status === "pass" ? {} : { output: `circuit breaker ${state}` }),
    };
  }

  #cacheChecks(time: string): Record<string, HealthCheck[]> | undefined {
    const cache = this.options.cache;
    if (!cache) return undefined;
    const { hits, misses } = cache.stats();
    const ratio = hits + misses === 0 ? 1 : hits / (hits + misses);
    const checks: Record<string, HealthCheck[]> = {
      "cache:hitRatio": [
        {
          componentType: "component",
          status: "pass",
          observedValue: Math.round(ratio * 1000) / 10,
          observedUnit: "percent",
          time,
        },
      ],
    };
    const l2 = cache.l2Reachable?.();
    if (l2 !== undefined) {
      checks["redis:reachable"] = [
        {
          componentType: "datastore",
          // A Redis outage degrades to the in-memory cache: worth a warning, never a failure.
          status: l2 ? "pass" : "warn",
          observedValue: l2,
          time,
          ...(l2 ? {} : { output: "L2 cache unreachable; serving from memory" }),
        },
      ];
    }
    return checks;
  }
}

/**
 * Creates the health reports for `db`.
 *
 * @example
 * ```ts
 * const health = createHealth(db, { version: process.env.APP_VERSION });
 * const report = await health.check(); // { status: "pass", checks: { "postgresql:responseTime": [...] } }
 * ```
 */
export function createHealth<C>(db: Database<C>, options?: HealthOptions): Health {
  return new Health(db as Database<unknown>, options);
}
