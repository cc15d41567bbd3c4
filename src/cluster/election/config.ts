/**
 * Election settings: the defaults in one place, a reason on each, and the checks that keep
 * a configuration safe.
 *
 * @module
 */
import { ElectionError } from './errors.ts';
import { MAX_NODE_ID_LENGTH, type NodeId } from './messages.ts';

/** Timing and feature settings of one election node. All times are on the node's own clock. */
export interface ElectionConfig {
  /** Lower bound of the randomised election timeout; also how long a follower keeps its lease promise. */
  readonly electionTimeoutMinMs: number;
  /** Upper bound (exclusive) of the randomised election timeout. */
  readonly electionTimeoutMaxMs: number;
  /** How often a leader sends a heartbeat round. */
  readonly heartbeatIntervalMs: number;
  /** Largest relative rate error of any node's clock (0.01: a clock runs between 0.99x and 1.01x real time). */
  readonly maxClockDriftRate: number;
  /** Ask for pre-votes before raising the term (thesis §9.6). */
  readonly preVote: boolean;
  /** A leader that has not heard from a majority within `electionTimeoutMinMs` steps down (thesis §6.2). */
  readonly checkQuorum: boolean;
}

/** The defaults. */
export const defaultElectionConfig: ElectionConfig = Object.freeze({
  electionTimeoutMinMs: 150, // the Raft paper's recommended 150-300 ms range (§9.3): ample for LAN round trips
  electionTimeoutMaxMs: 300, // a range as wide as its minimum makes split votes rare (§9.3, Figure 16)
  heartbeatIntervalMs: 50, // a third of the minimum timeout: two lost rounds do not start an election, and the lease renews long before it ends
  maxClockDriftRate: 0.01, // 100x the 100 ppm of a common crystal: room for VMs and NTP slewing; costs 2% of the lease
  preVote: true, // a node cut off from the majority never raises the term, so it cannot depose a healthy leader when it returns
  checkQuorum: true, // a leader cut off from the majority stops acting as leader within one minimum timeout
});

/** Validates `partial` over the defaults. Throws `ElectionError` (`invalid-config`) when unsafe or unusable. */
export function resolveElectionConfig(partial: Partial<ElectionConfig> = {}): ElectionConfig {
  const c: ElectionConfig = { ...defaultElectionConfig, ...partial };
  const bad = (why: string): ElectionError => new ElectionError('invalid-config', `election config: ${why}`);
  if (!(Number.isFinite(c.electionTimeoutMinMs) && c.electionTimeoutMinMs > 0)) {
    throw bad('electionTimeoutMinMs must be a positive number');
  }
  if (!(Number.isFinite(c.electionTimeoutMaxMs) && c.electionTimeoutMaxMs > c.electionTimeoutMinMs)) {
    throw bad('electionTimeoutMaxMs must be greater than electionTimeoutMinMs');
  }
  if (!(Number.isFinite(c.heartbeatIntervalMs) && c.heartbeatIntervalMs > 0)) {
    throw bad('heartbeatIntervalMs must be a positive number');
  }
  if (c.heartbeatIntervalMs >= c.electionTimeoutMinMs) {
    throw bad(
      'heartbeatIntervalMs must be less than electionTimeoutMinMs, or followers time out between heartbeats',
    );
  }
  // Past 0.5 the lease shrinks below a third of the timeout and stops being useful.
  if (!(Number.isFinite(c.maxClockDriftRate) && c.maxClockDriftRate >= 0 && c.maxClockDriftRate <= 0.5)) {
    throw bad('maxClockDriftRate must be in [0, 0.5]');
  }
  if (typeof c.preVote !== 'boolean' || typeof c.checkQuorum !== 'boolean') {
    throw bad('preVote and checkQuorum must be booleans');
  }
  return Object.freeze(c);
}

/** Largest voter set accepted: beyond this, elections are slow and a static set is the wrong tool. */
export const MAX_VOTERS = 31;

/** Checks a voter set and that it contains `self`. Returns a sorted copy. */
export function checkVoters(self: NodeId, voters: readonly NodeId[]): readonly NodeId[] {
  const bad = (why: string): ElectionError => new ElectionError('invalid-config', `election voters: ${why}`);
  if (voters.length === 0) throw bad('empty voter set');
  if (voters.length > MAX_VOTERS) throw bad(`more than ${MAX_VOTERS} voters`);
  for (const v of voters) {
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_NODE_ID_LENGTH)
      throw bad(`bad id ${String(v)}`);
  }
  if (new Set(voters).size !== voters.length) throw bad('duplicate voter');
  if (!voters.includes(self)) throw bad(`this node (${self}) is not a voter`);
  return Object.freeze([...voters].sort());
}

/** Votes needed to win: a strict majority of the voter set (§5.2). */
export function quorum(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * A 32-bit FNV-1a hash of the sorted voter ids. Messages carry it so that nodes configured
 * with different voter sets ignore each other instead of counting a "majority" of the wrong set.
 */
export function voterSetId(voters: readonly NodeId[]): number {
  let h = 0x811c9dc5;
  for (const id of [...voters].sort()) {
    for (let i = 0; i < id.length; i++) {
      h ^= id.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0x0a; // separator, so ["ab","c"] and ["a","bc"] differ
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
