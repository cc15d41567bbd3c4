/**
 * Process groups compatible with OTP 25 `pg`: scopes, join/leave/members/broadcast, and
 * join/leave subscriptions, interoperable with `pg` on BEAM nodes.
 *
 * @module
 */

export {
  PgCore,
  type PgCoreConfig,
  type PgIgnoreCode,
  type PgIgnored,
  type PgLimits,
  type PgOutput,
  pgDefaults,
} from './core.ts';
export { PgError, type PgErrorCode } from './errors.ts';
export { Groups } from './groups.ts';
export {
  DEFAULT_MAX_BUFFERED,
  GroupMonitor,
  type PgChange,
  PgSubscription,
  type PgSubscriptionEvents,
  ScopeMonitor,
} from './monitor.ts';
export {
  type PgBroadcastOptions,
  type PgHost,
  type PgMonitorOptions,
  PgScope,
  type PgScopeOptions,
} from './scope.ts';
