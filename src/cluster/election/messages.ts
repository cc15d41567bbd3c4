/**
 * The election's messages: RequestVote (Raft §5.2), its pre-vote twin (thesis §9.6) and
 * heartbeats (AppendEntries without entries, §5.2), each with its response.
 *
 * There is no log, so RequestVote carries no `lastLogIndex`/`lastLogTerm`: the election
 * restriction of §5.4.1 only orders candidates by how complete their logs are, and every
 * candidate here is equally complete. Every message carries the sender's term (§5.1: a node
 * that sees a larger term adopts it) and the id of its voter set (see `voterSetId`), so nodes
 * configured with different voter sets never count each other's votes.
 *
 * @module
 */
import { ElectionError } from './errors.ts';

/** A node's name, unique within the voter set. */
export type NodeId = string;

interface Envelope {
  /** Sender. */
  readonly from: NodeId;
  /** Recipient. */
  readonly to: NodeId;
  /** The sender's term; for a PreVote, the term the sender would campaign in. */
  readonly term: number;
  /** `voterSetId` of the sender's voter set. */
  readonly voterSet: number;
}

/** "Would you vote for me in `term`?" Sent without changing the sender's term (§9.6). */
export interface PreVote extends Envelope {
  readonly type: 'PreVote';
}

/** Answer to a {@link PreVote}; `term` is the request's term when granted, the voter's when not. */
export interface PreVoteResponse extends Envelope {
  readonly type: 'PreVoteResponse';
  readonly granted: boolean;
}

/** "Vote for me in `term`" (§5.2). */
export interface RequestVote extends Envelope {
  readonly type: 'RequestVote';
}

/** Answer to a {@link RequestVote}; `term` is the voter's term after handling the request. */
export interface RequestVoteResponse extends Envelope {
  readonly type: 'RequestVoteResponse';
  readonly granted: boolean;
}

/**
 * The leader's periodic assertion of authority (an empty AppendEntries, §5.2). `sentAt` is
 * the leader's clock when it sent the round; the follower echoes it so the leader knows which
 * round a majority has seen, which is where its lease starts.
 */
export interface Heartbeat extends Envelope {
  readonly type: 'Heartbeat';
  readonly sentAt: number;
}

/**
 * Answer to a {@link Heartbeat}. `ok` is false when the follower's term is newer, so a stale
 * leader learns it and steps down.
 */
export interface HeartbeatResponse extends Envelope {
  readonly type: 'HeartbeatResponse';
  readonly sentAt: number;
  readonly ok: boolean;
}

/** Any message between election peers. */
export type ElectionMessage =
  | PreVote
  | PreVoteResponse
  | RequestVote
  | RequestVoteResponse
  | Heartbeat
  | HeartbeatResponse;

/** The message kinds, for validation and counting. */
export const MESSAGE_TYPES: readonly ElectionMessage['type'][] = [
  'PreVote',
  'PreVoteResponse',
  'RequestVote',
  'RequestVoteResponse',
  'Heartbeat',
  'HeartbeatResponse',
];

/** Largest node id accepted from the network, in UTF-16 code units. */
export const MAX_NODE_ID_LENGTH = 255;

/**
 * Checks a decoded value from the network and returns it as an {@link ElectionMessage}.
 * Throws an `ElectionError` with code `invalid-message` on anything malformed; it never
 * trusts a field it has not checked.
 */
export function parseElectionMessage(value: unknown): ElectionMessage {
  if (typeof value !== 'object' || value === null) throw invalid('not an object');
  const v = value as Record<string, unknown>;
  const type = v.type;
  if (typeof type !== 'string' || !(MESSAGE_TYPES as readonly string[]).includes(type)) {
    throw invalid('unknown type');
  }
  const from = nodeId(v.from, 'from');
  const to = nodeId(v.to, 'to');
  const term = v.term;
  if (typeof term !== 'number' || !Number.isSafeInteger(term) || term < 0) throw invalid('bad term');
  const voterSet = v.voterSet;
  if (typeof voterSet !== 'number' || !Number.isSafeInteger(voterSet) || voterSet < 0) {
    throw invalid('bad voterSet');
  }
  const base = { from, to, term, voterSet };
  switch (type) {
    case 'PreVote':
    case 'RequestVote':
      return { type, ...base };
    case 'PreVoteResponse':
    case 'RequestVoteResponse':
      return { type, ...base, granted: bool(v.granted, 'granted') };
    case 'Heartbeat':
      return { type, ...base, sentAt: time(v.sentAt) };
    default:
      return { type: 'HeartbeatResponse', ...base, sentAt: time(v.sentAt), ok: bool(v.ok, 'ok') };
  }
}

function nodeId(value: unknown, field: string): NodeId {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NODE_ID_LENGTH) {
    throw invalid(`bad ${field}`);
  }
  return value;
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalid(`bad ${field}`);
  return value;
}

function time(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid('bad sentAt');
  return value;
}

function invalid(why: string): ElectionError {
  return new ElectionError('invalid-message', `invalid election message: ${why}`);
}
