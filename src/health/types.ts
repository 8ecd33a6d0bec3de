/** A check's or a report's status, as the health-check draft (draft-inadarei-api-health-check) names them. */
export type HealthStatus = "pass" | "warn" | "fail";

/** One measurement, in the draft's check-object shape. */
export interface HealthCheck {
  readonly componentId?: string;
  readonly componentType: "datastore" | "component" | "system";
  readonly status: HealthStatus;
  readonly observedValue?: number | string | boolean;
  readonly observedUnit?: string;
  /** ISO 8601 time the value was read (it may come from the short-lived probe cache). */
  readonly time: string;
  /** Why the check is not passing, redacted (never a password or a stack). */
  readonly output?: string;
}

/** An `application/health+json` document. */
export interface HealthReport {
  readonly status: HealthStatus;
  readonly version?: string;
  readonly serviceId?: string;
  readonly description?: string;
  readonly notes?: readonly string[];
  readonly output?: string;
  /** Keyed `"component:measurement"`; each value an array, one element per node (here one). */
  readonly checks?: Readonly<Record<string, readonly HealthCheck[]>>;
}

/** What the health module reads from a cache (the stale-serving cache fits as is). */
export interface CacheHealthSource {
  stats(): { readonly hits: number; readonly misses: number; readonly stale?: number };
  /** Whether the shared L2 (Redis) answered recently; absent when there is no L2. */
  l2Reachable?(): boolean | undefined;
}

/** The worse of two statuses. */
export function worst(a: HealthStatus, b: HealthStatus): HealthStatus {
  if (a === "fail" || b === "fail") return "fail";
  if (a === "warn" || b === "warn") return "warn";
  return "pass";
}
