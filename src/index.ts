/**
 * Steadfast: resilient PostgreSQL access for TypeScript backends.
 *
 * The core — failure classification, error types and serialization, the self-healing pool
 * engine, resilience policies — uses Web APIs only and runs on Node, Deno, Bun and Workers.
 * Drivers and Node-only parts live behind subpath exports (`steadfast/pg`,
 * `steadfast/testing`, …).
 *
 * @module
 */

export { Cache, type CacheEvents, createCache, type ReadOptions } from "./cache/cache.js";
export { CACHE_DEFAULTS, type CacheOptions } from "./cache/options.js";
export {
  type CacheL2,
  type CacheResult,
  type CacheStats,
  cacheStatus,
  type InvalidationBus,
  type InvalidationMessage,
  type LoadContext,
  type Loader,
  type Provenance,
  type StaleReason,
  type StoredEntry,
} from "./cache/types.js";
export {
  createDatabase,
  Database,
  type DatabaseStats,
  type QueryOptions,
} from "./db/database.js";
export type { DatabaseDriver, QueryResult } from "./db/driver.js";
export { type EnvConfig, fromEnv } from "./db/env.js";
export type { CallKind, DatabaseEvents } from "./db/events.js";
export type { DatabaseOptions, ResolvedDatabaseOptions } from "./db/options.js";
export { PRESETS, type Preset, type PresetName } from "./db/presets.js";
export type { IsolationLevel, Transaction, TransactionOptions } from "./db/transaction.js";
export { isSteadfastError, SteadfastError } from "./errors/base.js";
export type {
  Classification,
  ClassifyContext,
  FailureKind,
  FailureOutcome,
  FailurePhase,
} from "./errors/classification.js";
export { classify } from "./errors/classify.js";
export { ConfigError, type ConfigIssue } from "./errors/config-error.js";
export {
  CanceledError,
  CircuitOpenError,
  PoolClosedError,
  type PoolCounts,
  PoolQueueFullError,
  PoolTimeoutError,
  type SteadfastErrorCode,
  TimeoutError,
  type TimeoutPhase,
  UnknownOutcomeError,
  ValidationError,
} from "./errors/errors.js";
export { redactSecrets } from "./errors/redact.js";
export {
  type JsonValue,
  type SerializedError,
  type SerializeErrorOptions,
  serializeError,
} from "./errors/serialize.js";
export { createHealth, Health } from "./health/monitor.js";
export { HEALTH_DEFAULTS, type HealthOptions } from "./health/options.js";
export type { CacheHealthSource, HealthCheck, HealthReport, HealthStatus } from "./health/types.js";
export { KV_SCHEMA_VERSION, type KvTable } from "./kv/schema.js";
export {
  KeyValueStore,
  type KvChangeListener,
  type KvEntry,
  type KvOptions,
  type KvPage,
  type KvSetOptions,
  KvVersionConflictError,
} from "./kv/store.js";
export { MAX_BATCH, MAX_KEY_LENGTH, MAX_VALUE_BYTES } from "./kv/validate.js";
export {
  attachLogger,
  type Logger,
  type LogLevel,
  type LogMethod,
  type LogOptions,
} from "./logging/logger.js";
export { type OtelOptions, otelMetrics } from "./metrics/otel.js";
export * from "./policy/index.js";
export type { PoolConnector } from "./pool/connector.js";
export { POOL_DEFAULTS, type PoolOptions, type ResolvedPoolOptions } from "./pool/options.js";
export { type AcquireOptions, ConnectionPool, type PoolHooks } from "./pool/pool.js";
export type {
  ConnectGate,
  PoolEvents,
  PoolLogger,
  PoolStats,
  RemovalReason,
} from "./pool/types.js";
export type { Clock, RandomSource, TimerHandle } from "./util/clock.js";
export { systemClock } from "./util/clock.js";
export { type Duration, type DurationUnit, parseDuration } from "./util/duration.js";
export { Emitter } from "./util/emitter.js";
