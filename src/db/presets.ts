import type { PoolOptions } from "../pool/options.js";
import type { Duration } from "../util/duration.js";

/** Names of the built-in presets; see {@link PRESETS}. */
export type PresetName = "serverless" | "server" | "local";

/** What a preset sets: pool options and the query path's limits. */
export interface Preset {
  /** Pool options; see `PoolOptions`. */
  readonly pool: PoolOptions;
  /** Default deadline of one call (all attempts and backoff sleeps included). */
  readonly timeout: Duration;
  /** Attempts per call, the first included. */
  readonly maxAttempts: number;
  /** How long the breaker stays open before its first probe (one connection attempt). */
  readonly breakDuration: Duration;
  /** Each failed probe multiplies the break by this (1: probe at a steady pace). */
  readonly breakMultiplier: number;
  /** The longest break. */
  readonly maxBreakDuration: Duration;
}

/**
 * The presets, with the reasoning behind each value.
 *
 * - `serverless` — Neon, Supabase's pooler, RDS Proxy and friends cut idle connections after
 *   minutes (and Neon suspends compute after 5 minutes idle), and cold starts make the first
 *   connect slow. So: few connections per instance (many instances share the server), idle
 *   connections closed after 30 s and recycled every 5 minutes (well before providers' cut-offs),
 *   keepalive pings every 20 s while idle, a connect timeout long enough for a cold start (10 s)
 *   and no warm minimum (an idle function should hold nothing).
 * - `server` — a long-running service close to its database: a larger pool, two connections kept
 *   warm, 10-minute idle timeout, 30-minute lifetime (spreads reconnects, picks up failovers
 *   and DNS changes), keepalive every 2 minutes.
 * - `local` — development and tests against a database on the same machine: short connect and
 *   acquire timeouts so a stopped server is reported at once, a short break.
 *
 * While the database is unreachable the breaker fails calls at once and probes with one
 * connection attempt per break. `server` and `local` probe every 500 ms for as long as the outage
 * lasts: recovery within half a second of the database's return, for two connection attempts a
 * second per instance (a pool without a breaker makes one per waiting call). `serverless` starts
 * at 1 s and backs off ×1.5 to 10 s, because a connect can wake a suspended compute or count
 * against a provider's connection rate limit.
 */
export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  serverless: {
    pool: {
      max: 5,
      minIdle: 0,
      acquireTimeout: "5s",
      connectTimeout: "10s",
      idleTimeout: "30s",
      maxLifetime: "5m",
      keepalive: "20s",
    },
    timeout: "15s",
    maxAttempts: 4,
    breakDuration: "1s",
    breakMultiplier: 1.5,
    maxBreakDuration: "10s",
  },
  server: {
    pool: {
      max: 10,
      minIdle: 2,
      acquireTimeout: "10s",
      connectTimeout: "5s",
      idleTimeout: "10m",
      maxLifetime: "30m",
      keepalive: "2m",
    },
    timeout: "30s",
    maxAttempts: 3,
    breakDuration: "500ms",
    breakMultiplier: 1,
    maxBreakDuration: "500ms",
  },
  local: {
    pool: {
      max: 5,
      minIdle: 0,
      acquireTimeout: "2s",
      connectTimeout: "2s",
      idleTimeout: "1m",
      maxLifetime: "30m",
      keepalive: "1m",
    },
    timeout: "10s",
    maxAttempts: 3,
    breakDuration: "500ms",
    breakMultiplier: 1,
    maxBreakDuration: "500ms",
  },
};
