/**
 * distribute: a Node.js process as a first-class node of an Erlang cluster.
 *
 * The public API, layer by layer (see docs/architecture.md): terms, EPMD, the node and its
 * processes, and the cluster services built on them.
 *
 * @module
 */

// Election (Raft election with leases and fencing tokens)
export {
  defaultElectionConfig,
  type ElectionConfig,
} from './cluster/election/config.ts';
export { ElectionError, type ElectionErrorCode } from './cluster/election/errors.ts';
export {
  type ElectionLeader,
  type ElectResult,
  NodeElection,
  type NodeElectionEvents,
  type NodeElectionStartOptions,
} from './cluster/election/node-election.ts';
export {
  type ElectionEvent,
  type ElectionStatus,
  RaftElection,
  type RaftElectionOptions,
  type Ready as ElectionReady,
  type Role as ElectionRole,
} from './cluster/election/raft.ts';
export {
  DEFAULT_RECONNECT_MAX_MS,
  DEFAULT_RECONNECT_MIN_MS,
  ELECTION_PROCESS_NAME,
  ElectionService,
  type ElectionServiceOptions,
} from './cluster/election/service.ts';
export {
  type ElectionStorage,
  FileStorage,
  type HardState,
  initialHardState,
  MemoryStorage,
} from './cluster/election/storage.ts';
// Cluster health over the membership view
export {
  ClusterHealth,
  type ClusterReport,
  type ClusterStatus,
  HealthError,
  type HealthSource,
} from './cluster/health.ts';
// Membership (SWIM with Lifeguard)
export {
  defaultLanConfig,
  defaultLocalConfig,
  defaultWanConfig,
  type MemberState,
  type MemberStatus,
  type MembershipConfig,
  MembershipConfigError,
  MembershipService,
  MembershipServiceError,
  type MembershipServiceOptions,
  NodeMembership,
  NodeMembershipError,
  type NodeMembershipOptions,
  PacketSecurity,
  SecurityError,
  Swim,
} from './cluster/membership/index.ts';
// The wire's errors and logger shape
export { HandshakeError, type HandshakeErrorCode } from './dist/handshake.ts';
export type { Logger, LogMethod } from './dist/logger.ts';
export { SetupError, type SetupErrorCode } from './dist/setup.ts';
// EPMD
export * from './epmd/index.ts';
// Nodes and processes
export {
  type CallDestination,
  CallError,
  type CallErrorCode,
  type CallOptions,
  DEFAULT_CALL_TIMEOUT_MS,
} from './node/call.ts';
export {
  CorrelationError,
  type CorrelationErrorCode,
  currentCorrelation,
  MAX_CORRELATION_ID_BYTES,
  newCorrelationId,
  withCorrelation,
  withoutCorrelation,
} from './node/correlation.ts';
export {
  ProcessError,
  type ProcessErrorCode,
  ReceiveAbortedError,
  ReceiveTimeoutError,
} from './node/errors.ts';
export { exitReasonOf } from './node/exit-reason.ts';
export {
  type CallResult,
  type CastResult,
  cast,
  From,
  replyDestination,
  type ServerOptions,
  type ServerSpec,
  ServerStartError,
  type ServerStartErrorCode,
  startServer,
} from './node/gen-server.ts';
export {
  type ControlHook,
  Node,
  type NodeDownInfo,
  type NodeEvents,
  type NodesKind,
  type NodeUpInfo,
} from './node/node.ts';
export {
  NodeError,
  type NodeErrorCode,
  type NodeName,
  type NodeOptions,
  nodeDefaults,
  OptionError,
  parseNodeName,
  type TlsOptions,
  validateNodeOptions,
} from './node/options.ts';
export type {
  Destination,
  MessagesOptions,
  MonitorOptions,
  ProcessContext,
  ReceiveOptions,
  ValidatedReceiveOptions,
} from './node/process.ts';
export {
  DEFAULT_MAILBOX_LIMIT,
  type ProcessInfo,
  ProcessTable,
  type ProcessTableOptions,
  type SpawnOptions,
} from './node/process-table.ts';
export type { MessageOf, RemoteSignals, Signal, TypedPid } from './node/signals.ts';
// RPC in both directions
export {
  type ErlangClass,
  ErlangException,
  isRpcError,
  RpcError,
  type RpcErrorCode,
  type RpcErrorDetails,
} from './services/errors.ts';
// Global registry (OTP global, protocol version 8)
export {
  GlobalRegistry,
  type LockId,
  type OnConflict,
  type RegisterOptions as GlobalRegisterOptions,
  TypedName,
  typedName,
} from './services/global/api.ts';
export { GlobalError, type GlobalErrorCode } from './services/global/errors.ts';
export { type GlobalOptions, globalDefaults, type ResolveFunction } from './services/global/service.ts';
// Process groups (OTP pg)
export * from './services/pg/index.ts';
export { type RpcExposed, type RpcFunctionSpec, type RpcHandler, validated } from './services/rex.ts';
export {
  type MulticallResult,
  Rpc,
  type RpcCallOptions,
  type RpcOptions,
  rpcDefaults,
} from './services/rpc.ts';
// Simulation (drives the pure cores deterministically)
export { Prng, type Rng, Scheduler, SimNetwork } from './sim/index.ts';
// Terms
export * from './term/index.ts';
