/**
 * Election messages as Erlang terms, for the distribution layer:
 *
 *   {'$distribute_election', 1, Type, From, To, Term, VoterSet, Extra}
 *
 * Type is the message's type as an atom (`'RequestVote'`), From and To are node names as
 * UTF-8 binaries, Term and VoterSet integers. Extra is `[]` for requests, the `granted`
 * boolean for vote responses, the float `sentAt` for a Heartbeat and `{SentAt, Ok}` for a
 * HeartbeatResponse. The 1 is the format version. Decoding checks everything.
 *
 * @module
 */
import { Atom, atom, Float, float, type Term, Tuple } from '../../term/types.ts';
import { ElectionError } from './errors.ts';
import { type ElectionMessage, parseElectionMessage } from './messages.ts';

/** First element of every election message. */
export const ELECTION_TAG: Atom = atom('$distribute_election');
/** Format version. */
export const WIRE_VERSION = 1;

/** The term that carries `m`. */
export function encodeElectionMessage(m: ElectionMessage): Tuple {
  let extra: Term;
  switch (m.type) {
    case 'PreVoteResponse':
    case 'RequestVoteResponse':
      extra = m.granted;
      break;
    case 'Heartbeat':
      extra = float(m.sentAt);
      break;
    case 'HeartbeatResponse':
      extra = new Tuple([float(m.sentAt), m.ok]);
      break;
    default:
      extra = [];
  }
  return new Tuple([ELECTION_TAG, WIRE_VERSION, atom(m.type), m.from, m.to, m.term, m.voterSet, extra]);
}

/** True when `t` looks like an election message (its tag), whether or not it is valid. */
export function isElectionTerm(t: Term): boolean {
  return t instanceof Tuple && t.elements[0] === ELECTION_TAG;
}

/** Reads an election message from a term; `invalid-message` on anything else. */
export function decodeElectionMessage(t: Term): ElectionMessage {
  if (!(t instanceof Tuple) || t.length !== 8 || t.elements[0] !== ELECTION_TAG)
    throw invalid('not an election message');
  const [, version, type, from, to, term, voterSet, extra] = t.elements as readonly Term[];
  if (version !== WIRE_VERSION) throw invalid(`unknown version ${String(version)}`);
  if (!(type instanceof Atom)) throw invalid('type is not an atom');
  const fields: Record<string, unknown> = {
    type: type.name,
    from: text(from),
    to: text(to),
    term,
    voterSet,
  };
  switch (type.name) {
    case 'PreVoteResponse':
    case 'RequestVoteResponse':
      fields.granted = extra;
      break;
    case 'Heartbeat':
      fields.sentAt = num(extra);
      break;
    case 'HeartbeatResponse':
      if (!(extra instanceof Tuple) || extra.length !== 2) throw invalid('bad HeartbeatResponse');
      fields.sentAt = num(extra.elements[0]);
      fields.ok = extra.elements[1];
      break;
  }
  return parseElectionMessage(fields);
}

function text(t: Term | undefined): unknown {
  if (t instanceof Uint8Array) return Buffer.from(t.buffer, t.byteOffset, t.byteLength).toString('utf8');
  return t;
}

function num(t: Term | undefined): unknown {
  return t instanceof Float ? t.value : t;
}

function invalid(why: string): ElectionError {
  return new ElectionError('invalid-message', `invalid election message: ${why}`);
}
