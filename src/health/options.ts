import type { Duration } from "../util/duration.js";
import { optionKeys } from "../util/option-keys.js";
import { OptionsReader } from "../util/options.js";
import type { CacheHealthSource } from "./types.js";

/**
 * Options of `createHealth`. Durations accept `"250ms"`, `"5s"` or milliseconds.
 *
 * @example
 * ```ts
 * const health = createHealth(db, { probeTimeout: "500ms", cacheFor: "2s", version: "1.4.2" });
 * ```
 */
export interface HealthOptions {
  /** The database round trip's own timeout (not retried). Default `"1s"`. */
  readonly probeTimeout?: Duration;
  /**
   * How long a probe result is reused. With single-flight on top, any number of health requests
   * cost the database at most one query per period. Default `"1s"`.
   */
  readonly cacheFor?: Duration;
  /** The probe statement. Default `"SELECT 1"`. */
  readonly probeSql?: string;
  /** Round-trip latency at or above which the database check warns. Default `"250ms"`. */
  readonly slowProbe?: Duration;
  /** Pool utilization (in use ÷ max) at or above which the pool check warns. Default `0.9`. */
  readonly saturation?: number;
  /**
   * Whether readiness fails while the database is unreachable. Default `false`: a shared
   * database outage would take every instance out of the load balancer at once, turning a
   * degraded service (cached reads, clean 503s) into no service; the detailed `/health` still
   * reports it. Set `true` when instances have their own databases.
   */
  readonly readinessRequiresDatabase?: boolean;
  /** A cache to report on (hit ratio, L2 reachability). */
  readonly cache?: CacheHealthSource;
  /** The service's version, shown in reports. */
  readonly version?: string;
  /** The service's ID, shown in reports. */
  readonly serviceId?: string;
  /** A description of the service, shown in reports. */
  readonly description?: string;
}

/** Defaults of {@link HealthOptions} (durations in ms). */
export const HEALTH_DEFAULTS = {
  /** `probeTimeout`: 1 s. */
  probeTimeout: 1_000,
  /** `cacheFor`: 1 s. */
  cacheFor: 1_000,
  /** `probeSql`. */
  probeSql: "SELECT 1",
  /** `slowProbe`: 250 ms. */
  slowProbe: 250,
  /** `saturation`: 90 % of the pool in use. */
  saturation: 0.9,
  /** `readinessRequiresDatabase`: off. */
  readinessRequiresDatabase: false,
} as const;

/** @internal */
export interface ResolvedHealthOptions {
  readonly probeTimeout: number;
  readonly cacheFor: number;
  readonly probeSql: string;
  readonly slowProbe: number;
  readonly saturation: number;
  readonly readinessRequiresDatabase: boolean;
  readonly cache: CacheHealthSource | undefined;
  readonly version: string | undefined;
  readonly serviceId: string | undefined;
  readonly description: string | undefined;
}

/** @internal Every option name of {@link HealthOptions}. */
export const HEALTH_OPTION_KEYS = optionKeys<HealthOptions>()([
  "probeTimeout",
  "cacheFor",
  "probeSql",
  "slowProbe",
  "saturation",
  "readinessRequiresDatabase",
  "cache",
  "version",
  "serviceId",
  "description",
]);

/** @internal */
export function resolveHealthOptions(options: HealthOptions | undefined): ResolvedHealthOptions {
  const r = new OptionsReader(options, "health", HEALTH_OPTION_KEYS);
  const d = HEALTH_DEFAULTS;
  const cache = r.raw("cache") as CacheHealthSource | undefined;
  if (cache !== undefined && typeof cache?.stats !== "function") {
    r.report("cache", "an object with stats() (a Steadfast cache)", cache);
  }
  const resolved: ResolvedHealthOptions = {
    probeTimeout: r.duration("probeTimeout", d.probeTimeout, { min: 1 }),
    cacheFor: r.duration("cacheFor", d.cacheFor, { min: 0 }),
    probeSql: r.string("probeSql", { nonEmpty: true }) ?? d.probeSql,
    slowProbe: r.duration("slowProbe", d.slowProbe, { min: 1 }),
    saturation: r.number("saturation", d.saturation, { min: 0, max: 1 }),
    readinessRequiresDatabase: r.boolean("readinessRequiresDatabase", d.readinessRequiresDatabase),
    cache,
    version: r.string("version"),
    serviceId: r.string("serviceId"),
    description: r.string("description"),
  };
  r.finish();
  return resolved;
}
