/**
 * `steadfast/pg`: Steadfast on the `pg` driver.
 *
 * - {@link Pool}: a drop-in replacement for `pg.Pool` (same options, methods, events and
 *   counters) on Steadfast's self-healing pool.
 * - {@link pgConnector}: the `pg` connector for `ConnectionPool`, for custom setups.
 * - {@link sendCancelRequest}: server-side cancellation of a running statement.
 *
 * @module
 */
export { type CancelTarget, cancelTargetOf, sendCancelRequest } from "./cancel.js";
export { type PgConnectorOptions, pgConnector } from "./connector.js";
export { pgDriver } from "./driver.js";
export { createDatabaseFromEnv } from "./from-env.js";
export { type PgNotifyBusOptions, pgNotifyBus } from "./notify-bus.js";
export { type ConnectCallback, type PgPoolConfig, Pool, type PoolClient } from "./pool.js";
