import { classify } from "../errors/classify.js";
import type { Clock } from "../util/clock.js";
import type { Duration } from "../util/duration.js";
import { optionKeys } from "../util/option-keys.js";
import { OptionsReader } from "../util/options.js";
import { readClock } from "./common-options.js";

/** Where a breaker is: letting calls through, failing them fast, probing, or held open by hand. */
export type CircuitState = "closed" | "open" | "half-open" | "isolated";

/** Why a breaker changed state. */
export type TransitionReason =
  | "failure-ratio"
  | "consecutive-failures"
  | "probe-failed"
  | "break-elapsed"
  | "probe-succeeded"
  | "isolated"
  | "reset";

/**
 * Options of {@link circuitBreaker}; every field is optional.
 *
 * @example
 * ```ts
 * circuitBreaker({ name: "main", probe: () => pool.query("select 1"), breakDuration: "2s" });
 * ```
 */
export interface CircuitBreakerOptions {
  /** Named in `CircuitOpenError` and events. Default `"default"`. */
  readonly name?: string;
  /** Opens when failures / calls in the window reach this. Default `0.5`; in (0, 1]. */
  readonly failureRatio?: number;
  /** Fewest calls in the window before `failureRatio` applies. Default `10`; >= 1. */
  readonly minimumThroughput?: number;
  /** Length of the sliding window (ten buckets). Default `"10s"`. */
  readonly samplingDuration?: Duration;
  /** Also opens after this many failures in a row, whatever the traffic; 0 disables. Default `5`. */
  readonly consecutiveFailures?: number;
  /** How long the first break lasts. Default `"5s"`. */
  readonly breakDuration?: Duration;
  /** Each failed probe multiplies the break by this. Default `2`; >= 1. */
  readonly breakMultiplier?: number;
  /** The longest break. Default `"60s"`; >= `breakDuration`. */
  readonly maxBreakDuration?: Duration;
  /**
   * Whether an error counts against the database. Default: an infrastructure failure
   * (`classify(error).infrastructure`) other than a connection lost under a statement,
   * so a constraint violation or a syntax error never opens the circuit.
   */
  readonly isFailure?: (error: unknown) => boolean;
  /**
   * A cheap health check (`select 1`) the breaker runs itself each time a break ends, so the
   * circuit closes as soon as the database is back, without risking user traffic. Any rejection
   * is a failed probe. Default: none (the first call after the break is the probe).
   */
  readonly probe?: () => PromiseLike<unknown>;
  /** A probe still running after this counts as failed. Default `"5s"`. */
  readonly probeTimeout?: Duration;
  /** Time source. Default `systemClock`. */
  readonly clock?: Clock;
}

/** Defaults of {@link CircuitBreakerOptions} (durations in ms). */
export const CIRCUIT_BREAKER_DEFAULTS = {
  /** `name`. */
  name: "default",
  /** `failureRatio`: half the calls. */
  failureRatio: 0.5,
  /** `minimumThroughput`: 10 calls. */
  minimumThroughput: 10,
  /** `samplingDuration`: 10 s. */
  samplingDuration: 10_000,
  /** `consecutiveFailures`: 5 in a row. */
  consecutiveFailures: 5,
  /** `breakDuration`: 5 s. */
  breakDuration: 5_000,
  /** `breakMultiplier`: doubling. */
  breakMultiplier: 2,
  /** `maxBreakDuration`: 60 s. */
  maxBreakDuration: 60_000,
  /** `probeTimeout`: 5 s. */
  probeTimeout: 5_000,
} as const;

/** Payload of `stateChange`, `open`, `halfOpen` and `close`. */
export interface CircuitEvent {
  /** The breaker's name. */
  readonly name: string;
  /** The state it left. */
  readonly from: CircuitState;
  /** The state it entered. */
  readonly to: CircuitState;
  /** Why it changed state. */
  readonly reason: TransitionReason;
  /** Length of the break just started, for transitions to `open`. */
  readonly breakDurationMs?: number;
  /** The failure that opened the circuit, when one did. */
  readonly error?: unknown;
}

/** Events of a {@link CircuitBreakerPolicy}. */
export interface CircuitBreakerEvents {
  /** Any transition. */
  stateChange: CircuitEvent;
  /** The circuit opened: calls fail fast. */
  open: CircuitEvent;
  /** A break ended: a probe is let through. */
  halfOpen: CircuitEvent;
  /** The circuit closed: calls flow again. */
  close: CircuitEvent;
}

/** A snapshot of a breaker, from {@link CircuitBreakerPolicy.stats}. */
export interface CircuitBreakerStats {
  /** The breaker's name. */
  readonly name: string;
  /** Its state now. */
  readonly state: CircuitState;
  /** Calls counted in the sliding window. */
  readonly calls: number;
  /** Failures counted in the sliding window. */
  readonly failures: number;
  /** Failures in a row since the last success. */
  readonly consecutiveFailures: number;
  /** The current (or next) break length in ms. */
  readonly breakDurationMs: number;
  /** Until the break ends, in ms; 0 when closed. */
  readonly retryAfterMs: number;
  /** Times the circuit opened since creation. */
  readonly opened: number;
}

/** @internal Every option name of {@link CircuitBreakerOptions}. */
export const CIRCUIT_BREAKER_OPTION_KEYS = optionKeys<CircuitBreakerOptions>()([
  "name",
  "failureRatio",
  "minimumThroughput",
  "samplingDuration",
  "consecutiveFailures",
  "breakDuration",
  "breakMultiplier",
  "maxBreakDuration",
  "isFailure",
  "probe",
  "probeTimeout",
  "clock",
]);

/** Options after validation and defaults, durations in ms. */
export interface CircuitBreakerSettings {
  readonly name: string;
  readonly failureRatio: number;
  readonly minimumThroughput: number;
  readonly samplingDuration: number;
  readonly consecutiveFailures: number;
  readonly breakDuration: number;
  readonly breakMultiplier: number;
  readonly maxBreakDuration: number;
  readonly isFailure: (error: unknown) => boolean;
  readonly probe: (() => PromiseLike<unknown>) | undefined;
  readonly probeTimeout: number;
  readonly clock: Clock;
}

/**
 * Validates {@link CircuitBreakerOptions} and applies the defaults.
 *
 * @throws ConfigError naming every invalid field.
 */
export function resolveCircuitBreakerOptions(
  options?: CircuitBreakerOptions,
): CircuitBreakerSettings {
  const d = CIRCUIT_BREAKER_DEFAULTS;
  const r = new OptionsReader(options, "circuitBreaker", CIRCUIT_BREAKER_OPTION_KEYS);
  const failureRatio = r.number("failureRatio", d.failureRatio, { min: 0, max: 1 });
  if (failureRatio === 0) r.report("failureRatio", "a number > 0 and <= 1", 0);
  const breakDuration = r.duration("breakDuration", d.breakDuration);
  const maxBreakDuration = r.duration(
    "maxBreakDuration",
    Math.max(d.maxBreakDuration, breakDuration),
  );
  if (maxBreakDuration < breakDuration) {
    r.report(
      "maxBreakDuration",
      `a duration >= breakDuration (${breakDuration} ms)`,
      r.raw("maxBreakDuration"),
    );
  }
  const settings: CircuitBreakerSettings = {
    name: r.string("name", { nonEmpty: true }) ?? d.name,
    failureRatio,
    minimumThroughput: r.integer("minimumThroughput", d.minimumThroughput, { min: 1 }),
    samplingDuration: r.duration("samplingDuration", d.samplingDuration, { min: 1 }),
    consecutiveFailures: r.integer("consecutiveFailures", d.consecutiveFailures, { min: 0 }),
    breakDuration,
    breakMultiplier: r.number("breakMultiplier", d.breakMultiplier, { min: 1 }),
    maxBreakDuration,
    isFailure: r.fn<(error: unknown) => boolean>("isFailure") ?? isInfrastructureFailure,
    probe: r.fn<() => PromiseLike<unknown>>("probe"),
    probeTimeout: r.duration("probeTimeout", d.probeTimeout, { min: 1 }),
    clock: readClock(r),
  };
  r.finish();
  return settings;
}

/**
 * The default failure rule: only what says the database is unreachable or unhealthy. A
 * connection that dies under a statement (terminated backend, reset socket) is not counted:
 * one dead connection is not an outage, and if the server really is down the reconnect
 * attempts that follow fail before sending anything, and those count.
 */
function isInfrastructureFailure(error: unknown): boolean {
  const c = classify(error);
  return c.infrastructure && (c.phase === "before-send" || !c.connectionBroken);
}
