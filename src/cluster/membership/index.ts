/**
 * Membership: SWIM failure detection with Lifeguard, infection-style gossip, push-pull sync
 * and join through seeds, as a pure core ({@link Swim}) plus a simulated cluster driver.
 */
export { Awareness, clampScore, scaleTimeout } from './awareness.ts';
export { BroadcastQueue, retransmitLimit } from './broadcast-queue.ts';
export type { MembershipConfig } from './config.ts';
export {
  defaultLanConfig,
  defaultLocalConfig,
  defaultWanConfig,
  MembershipConfigError,
  validateConfig,
  withoutLifeguard,
} from './config.ts';
export type {
  Body,
  CodecLimits,
  Gossip,
  MemberState,
  MemberStatus,
  MembershipCodecErrorCode,
  Packet,
} from './messages.ts';
export { decodePacket, defaultCodecLimits, encodePacket, MembershipCodecError } from './messages.ts';
export type {
  MemberChange,
  MembershipHost,
  NodeMember,
  NodeMembershipEvents,
  NodeMembershipOptions,
  NodeMembershipStats,
} from './node-membership.ts';
export { membershipConfig, NodeMembership, NodeMembershipError } from './node-membership.ts';
export type { Opened, PacketSecurityOptions, SecurityDropReason } from './security.ts';
export { deriveKey, PacketSecurity, SecurityError, sealOverhead, securityDefaults } from './security.ts';
export type { MembershipServiceOptions, MembershipServiceStats } from './service.ts';
export { MembershipService, MembershipServiceError, parseAddress } from './service.ts';
export type { ObservedEvent, SimMember, SwimSimulationOptions, TracedPacket } from './simulation.ts';
export { SwimSimulation } from './simulation.ts';
export type { Member } from './state.ts';
export {
  expectedConfirmations,
  remainingSuspicionTime,
  Suspicion,
  suspicionTimeout,
} from './suspicion.ts';
export type { DeathCause, MemberEvent, Outgoing, Ready, SwimOptions } from './swim.ts';
export { pushPullScale, Swim } from './swim.ts';
