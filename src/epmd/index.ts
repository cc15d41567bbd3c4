/**
 * EPMD: the client (register, look up, list), an embedded EPMD-compatible server, and the
 * registration a node keeps for its whole life, with failover.
 *
 * @module
 */

export {
  EpmdRegistration,
  type EpmdTarget,
  epmdClientDefaults,
  epmdPortFromEnv,
  lookup,
  names,
  type RegisterOptions,
  register,
} from './client.ts';
export { EpmdError, type EpmdErrorCode, isEpmdError } from './errors.ts';
export {
  type Alive2Fields,
  type NameEntry,
  type NamesResponse,
  NODE_TYPE_HIDDEN,
  NODE_TYPE_NORMAL,
  type PortInfo,
} from './protocol.ts';
export {
  type EpmdLogger,
  type EpmdMode,
  NodeRegistration,
  type NodeRegistrationEvents,
  type RegistrationOptions,
  type RegistrationTuning,
  type ReregisteredEvent,
  registrationDefaults,
  retryDelayMs,
  startRegistration,
  type Timers,
} from './registration.ts';
export type { RegistryEntry } from './registry.ts';
export {
  EpmdServer,
  type EpmdServerEvents,
  type EpmdServerLimits,
  type EpmdServerOptions,
  epmdServerDefaults,
  startEpmdServer,
} from './server.ts';
