/**
 * `steadfast/testing`: tools to test an application against real database trouble.
 *
 * - {@link startFaultProxy}: a TCP proxy that injects latency, blackholes, resets, refusals
 *   and random drops between your app and its database.
 * - {@link startThrowawayCluster}: a real PostgreSQL server in a temp dir that a test can
 *   stop, start and restart, always cleaned up.
 * - {@link FakeClock}: a clock for Steadfast's timer-driven parts, moved by hand.
 *
 * Node-only (sockets and child processes).
 *
 * @module
 */
export { FakeClock, flushMicrotasks } from "./fake-clock.js";
export {
  type FaultDirection,
  type FaultProxy,
  type FaultProxyOptions,
  type FaultProxyStats,
  startFaultProxy,
} from "./fault-proxy.js";
export {
  type ReapedCluster,
  reapStaleClusters,
  startThrowawayCluster,
  type ThrowawayCluster,
  ThrowawayClusterError,
  type ThrowawayClusterErrorCode,
  type ThrowawayClusterOptions,
} from "./throwaway-cluster.js";
