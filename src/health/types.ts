/** A check's or a report's status, as the health-check draft (draft-inadarei-api-health-check) names them. */
export type HealthStatus = "pass" | "warn" | "fail";

/** One measurement, in the draft's check-object shape. */
export interface HealthCheck {
  /** Which instance of the component, e.g. the database's `host:port/name`. */
  readonly componentId?: string;
  /** What kind of component was measured. */
  readonly componentType: "datastore" | "component" | "system";
  /** This measurement's verdict. */
  readonly status: HealthStatus;
  /** The value measured (a latency, a utilization, …). */
  readonly observedValue?: number | string | boolean;
  /** Its unit, e.g. `"ms"` or `"percent"`. */
  readonly observedUnit?: string;
  /** ISO 8601 time the value was read (it may come from the short-lived probe cache). */
  readonly time: string;
  /** Why the check is not passing, redacted (never a password or a stack). */
  readonly output?: string;
}

/** An `application/health+json` document. */
export interface HealthReport {
  /** The worst status of all checks. */
  readonly status: HealthStatus;
  /** The service's version, from `HealthOptions.version`. */
  readonly version?: string;
  /** The service's ID, from `HealthOptions.serviceId`. */
  readonly serviceId?: string;
  /** The service's description, from `HealthOptions.description`. */
  readonly description?: string;
  /** Human-readable remarks about the report. */
  readonly notes?: readonly string[];
  /** Why the report is not passing, redacted. */
  readonly output?: string;
  /** Keyed `"component:measurement"`; each value an array, one element per node (here one). */
  readonly checks?: Readonly<Record<string, readonly HealthCheck[]>>;
}

/** What the health module reads from a cache (the stale-serving cache fits as is). */
export interface CacheHealthSource {
  /** The cache's counters. */
  stats(): {
    /** Reads answered from the cache. */
    readonly hits: number;
    /** Reads that had to load. */
    readonly misses: number;
    /** Reads answered with stale data. */
    readonly stale?: number;
  };
  /** Whether the shared L2 (Redis) answered recently; absent when there is no L2. */
  l2Reachable?(): boolean | undefined;
}

/** The worse of two statuses. */
export function worst(a: HealthStatus, b: HealthStatus): HealthStatus {
  if (a === "fail" || b === "fail") return "fail";
  if (a === "warn" || b === "warn") return "warn";
  return "pass";
}
