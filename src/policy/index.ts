export {
  BACKOFF_DEFAULTS,
  type Backoff,
  type BackoffOptions,
  exponentialBackoff,
  type Jitter,
} from "./backoff.js";
export {
  BULKHEAD_DEFAULTS,
  type BulkheadOptions,
  BulkheadPolicy,
  BulkheadRejectedError,
  type BulkheadStats,
  bulkhead,
} from "./bulkhead.js";
export {
  CIRCUIT_BREAKER_DEFAULTS,
  type CircuitBreakerEvents,
  type CircuitBreakerOptions,
  CircuitBreakerPolicy,
  type CircuitBreakerStats,
  type CircuitEvent,
  type CircuitState,
  circuitBreaker,
  type TransitionReason,
} from "./circuit-breaker.js";
export { pipeline } from "./compose.js";
export type { ExecuteOptions, Operation, Policy, PolicyContext } from "./context.js";
export {
  DEADLINE_DEFAULTS,
  type DeadlineEvents,
  type DeadlineOptions,
  DeadlinePolicy,
  deadline,
  type TimeoutEvent,
} from "./deadline.js";
export {
  defaultShouldRetry,
  type GiveUpEvent,
  type GiveUpReason,
  RETRY_DEFAULTS,
  type RetryEvent,
  type RetryEvents,
  type RetryOptions,
  RetryPolicy,
  retry,
  type ShouldRetry,
} from "./retry.js";
export {
  RETRY_BUDGET_DEFAULTS,
  RetryBudget,
  type RetryBudgetOptions,
  type RetryBudgetStats,
  retryBudget,
} from "./retry-budget.js";
