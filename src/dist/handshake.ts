/**
 * The distribution handshake (version 6, "HANDSHAKE_23"), both roles, as a pure state machine.
 *
 * Messages in and out are handshake message bodies without their length prefix (the shell
 * frames them: 2-byte lengths over TCP, 4-byte over TLS). Randomness (our challenge) is
 * injected; the machine never reads a clock, a socket or a table. Two decisions need the
 * node's connection table and are asked of the caller as a {@link HandshakeQuestion}:
 *
 * - acceptor, after the peer's `N`: which status to answer (allow-list, simultaneous connect,
 *   an existing connection to the same name) — answer with {@link Handshake.answerAccept};
 * - initiator, after status `alive`: is this attempt still the one the node wants (OTP's
 *   `is_pending`) — answer with {@link Handshake.answerAlive}.
 *
 * Sequence (A initiates, B accepts):
 * ```
 * A: N(flagsA, creationA, nameA)             -> B
 * A <- s(status)                                B   (alive: A -> s(true|false))
 * A <- N(flagsB, challengeB, creationB, nameB)  B
 * A: r(challengeA, md5(cookie ++ challengeB)) -> B   (B checks)
 * A <- a(md5(cookie ++ challengeA))             B   (A checks; both are up)
 * ```
 *
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { DFLAG_NAME_ME, DFLAG_PUBLISHED, expandMandatory25, missingFlags, REQUIRED_DFLAGS } from './flags.ts';

/** Handshake message tags. */
export const SEND_NAME_TAG = 0x4e; // 'N' (send_name and challenge share it)
export const STATUS_TAG = 0x73; // 's'
export const CHALLENGE_REPLY_TAG = 0x72; // 'r'
export const CHALLENGE_ACK_TAG = 0x61; // 'a'

/** Why a handshake ended without a connection. */
export type HandshakeErrorCode =
  /** A message too short, or otherwise unparsable. */
  | 'malformed'
  /** A message that has no place in the current step. */
  | 'unexpected_message'
  /** The peer's node name is not `alive@host`. */
  | 'bad_name'
  /** The peer lacks flags we require (acceptor: we answered `not_allowed`). */
  | 'missing_flags'
  /** Rejected by the allow list (either side) or by the peer. */
  | 'not_allowed'
  /** Simultaneous connect lost by the initiator: its peer's own connection will arrive instead. */
  | 'nok'
  /** Simultaneous connect won by the acceptor: we answered `nok`, our own attempt goes on. */
  | 'nok_sent'
  /** A second incoming attempt while another one already replaces an up connection. */
  | 'already_pending'
  /** `alive` answered `false` (by us or by the peer). */
  | 'alive_rejected'
  /** An unknown status text. */
  | 'bad_status'
  /** The acceptor's challenge names another node than the one we dialled. */
  | 'wrong_node'
  /** A digest did not match: different cookies. */
  | 'bad_cookie';

/** A handshake failure. `code` is stable; the message is for humans. */
export class HandshakeError extends Error {
  readonly code: HandshakeErrorCode;
  constructor(code: HandshakeErrorCode, message: string) {
    super(message);
    this.name = 'HandshakeError';
    this.code = code;
  }
}

/** What the acceptor answers to a peer's `N` (OTP's `mark_pending` outcomes). */
export type AcceptStatus = 'ok' | 'ok_simultaneous' | 'nok' | 'not_allowed' | 'alive' | 'already_pending';

/** A decision the caller must make before the handshake can go on. */
export type HandshakeQuestion =
  /** Acceptor: the peer introduced itself; answer with `answerAccept`. */
  | { readonly kind: 'accept'; readonly peer: string; readonly flags: bigint; readonly creation: number }
  /** Initiator: the peer already has a connection named like us; answer with `answerAlive`. */
  | { readonly kind: 'alive'; readonly peer: string };

/** A completed handshake. */
export interface HandshakeResult {
  /** The peer's full node name. */
  readonly peer: string;
  /** The peer's creation (its incarnation). */
  readonly peerCreation: number;
  /** The peer's flags as it sent them, with the bit-26 digest expanded. */
  readonly peerFlags: bigint;
  /** The negotiated capabilities: ours AND theirs. */
  readonly flags: bigint;
  /** True unless both sides published (DFLAG_PUBLISHED). */
  readonly hidden: boolean;
  /**
   * Acceptor after `alive`/`true`: the peer restarted; the node must drop its old connection
   * to the peer before it writes the final ack (`send`) and brings this one up.
   */
  readonly replacesExisting: boolean;
}

/** What one input produced. The caller sends `send` in order, then acts on the rest. */
export interface HandshakeOutput {
  /** Message bodies to send, in order (frame each with the handshake's length prefix). */
  readonly send: readonly Buffer[];
  /** Set when the caller must answer before more input is accepted. */
  readonly question?: HandshakeQuestion;
  /** Set when the handshake succeeded; the connection is up once `send` is written. */
  readonly result?: HandshakeResult;
  /** Set when the handshake failed; write `send` (a final status, if any), then close. */
  readonly error?: HandshakeError;
}

/** Configuration shared by both roles. */
export interface HandshakeOptions {
  /** Our full node name, `alive@host` (ASCII). */
  readonly thisNode: string;
  /** Our flag word (see `ourFlags`). */
  readonly thisFlags: bigint;
  /** Our creation, from the EPMD registration. */
  readonly thisCreation: number;
  /** The cookie. A string is taken as Latin-1 bytes, as OTP reads `~/.erlang.cookie`. */
  readonly cookie: string | Uint8Array;
  /** Our challenge: a random unsigned 32-bit integer, injected for determinism. */
  readonly challenge: number;
  /** Flags the peer must have; defaults to OTP 25's mandatory set. */
  readonly requiredFlags?: bigint;
}

type State =
  | 'idle'
  | 'await_name'
  | 'await_accept'
  | 'await_alive_reply'
  | 'await_reply'
  | 'await_status'
  | 'await_alive_answer'
  | 'await_challenge'
  | 'await_ack'
  | 'done'
  | 'failed';

const none: readonly Buffer[] = Object.freeze([]);

/** One handshake, either role. Create with {@link Handshake.initiator} or {@link Handshake.acceptor}. */
export class Handshake {
  readonly role: 'initiator' | 'acceptor';
  private readonly opts: HandshakeOptions;
  private readonly cookie: Buffer;
  private readonly required: bigint;
  private stateName: State;
  /** Initiator: the node we dialled. Acceptor: the name the peer sent. */
  private peer: string;
  private peerFlags = 0n;
  private peerCreation = 0;
  private replacesExisting = false;

  private constructor(role: 'initiator' | 'acceptor', opts: HandshakeOptions, peer: string) {
    this.role = role;
    this.opts = opts;
    this.cookie =
      typeof opts.cookie === 'string' ? Buffer.from(opts.cookie, 'latin1') : Buffer.from(opts.cookie);
    this.required = opts.requiredFlags ?? REQUIRED_DFLAGS;
    this.peer = peer;
    this.stateName = role === 'initiator' ? 'idle' : 'await_name';
  }

  /** The side that dialled `peer` (the full node name it expects in the challenge). */
  static initiator(opts: HandshakeOptions & { readonly peer: string }): Handshake {
    return new Handshake('initiator', opts, opts.peer);
  }

  /** The side that accepted a connection; waits for the peer's `N`. */
  static acceptor(opts: HandshakeOptions): Handshake {
    return new Handshake('acceptor', opts, '');
  }

  /** Current step, for logs and tests. */
  get state(): string {
    return this.stateName;
  }

  /** The peer's node name, once known ('' before the acceptor has read `N`). */
  get peerName(): string {
    return this.peer;
  }

  /** Initiator: the first message (send_name). */
  start(): HandshakeOutput {
    if (this.role !== 'initiator' || this.stateName !== 'idle')
      throw new Error('start() is for a new initiator');
    this.stateName = 'await_status';
    const name = Buffer.from(this.opts.thisNode, 'latin1');
    const msg = Buffer.allocUnsafe(15 + name.length);
    msg[0] = SEND_NAME_TAG;
    msg.writeBigUInt64BE(BigInt.asUintN(64, this.opts.thisFlags), 1);
    msg.writeUInt32BE(this.opts.thisCreation >>> 0, 9);
    msg.writeUInt16BE(name.length, 13);
    name.copy(msg, 15);
    return { send: [msg] };
  }

  /** Feeds one received handshake message (without its length prefix). */
  receive(msg: Uint8Array): HandshakeOutput {
    const m = Buffer.isBuffer(msg) ? msg : Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
    switch (this.stateName) {
      case 'await_name':
        return this.recvName(m);
      case 'await_alive_reply':
        return this.recvAliveReply(m);
      case 'await_reply':
        return this.recvChallengeReply(m);
      case 'await_status':
        return this.recvStatus(m);
      case 'await_challenge':
        return this.recvChallenge(m);
      case 'await_ack':
        return this.recvChallengeAck(m);
      case 'await_accept':
      case 'await_alive_answer':
        return this.fail('unexpected_message', 'message received while a decision is pending');
      default:
        return this.fail('unexpected_message', `message received in state ${this.stateName}`);
    }
  }

  /** Acceptor: the answer to the `accept` question. */
  answerAccept(status: AcceptStatus): HandshakeOutput {
    if (this.stateName !== 'await_accept') throw new Error(`answerAccept() in state ${this.stateName}`);
    switch (status) {
      case 'ok':
      case 'ok_simultaneous':
        return { send: [statusMessage(status), this.challengeMessage()] };
      case 'alive':
        this.stateName = 'await_alive_reply';
        return { send: [statusMessage('alive')] };
      case 'nok':
        return this.fail('nok_sent', `simultaneous connect from ${this.peer}: our own attempt wins`, [
          statusMessage('nok'),
        ]);
      case 'not_allowed':
        return this.fail('not_allowed', `connection from ${this.peer} not allowed`, [
          statusMessage('not_allowed'),
        ]);
      case 'already_pending':
        return this.fail('already_pending', `a connection from ${this.peer} is already being replaced`);
    }
  }

  /** Initiator: the answer to the `alive` question (true: our attempt is still wanted). */
  answerAlive(proceed: boolean): HandshakeOutput {
    if (this.stateName !== 'await_alive_answer') throw new Error(`answerAlive() in state ${this.stateName}`);
    const reply = statusMessage(proceed ? 'true' : 'false');
    if (!proceed) return this.fail('alive_rejected', `${this.peer} has a live connection to us`, [reply]);
    this.stateName = 'await_challenge';
    return { send: [reply] };
  }

  // --- acceptor steps ---

  private recvName(m: Buffer): HandshakeOutput {
    if (m.length < 15 || m[0] !== SEND_NAME_TAG) return this.fail('malformed', 'expected send_name (N)');
    const flags = m.readBigUInt64BE(1);
    const creation = m.readUInt32BE(9);
    const len = m.readUInt16BE(13);
    if (m.length < 15 + len) return this.fail('malformed', 'send_name shorter than its name');
    const name = m.toString('latin1', 15, 15 + len);
    if ((flags & DFLAG_NAME_ME) !== 0n) {
      // Dynamic names are not offered: the peer gets a clean refusal.
      return this.fail('not_allowed', `${name} asked for a dynamic name`, [statusMessage('not_allowed')]);
    }
    if (!isNodeName(name)) return this.fail('bad_name', `bad node name ${JSON.stringify(name)}`);
    this.peer = name;
    this.peerFlags = expandMandatory25(flags);
    this.peerCreation = creation;
    const missing = missingFlags(this.peerFlags, this.required);
    if (missing.length > 0) {
      return this.fail('missing_flags', `${name} cannot handle ${missing.join(', ')}`, [
        statusMessage('not_allowed'),
      ]);
    }
    this.stateName = 'await_accept';
    return { send: none, question: { kind: 'accept', peer: name, flags: this.peerFlags, creation } };
  }

  private recvAliveReply(m: Buffer): HandshakeOutput {
    if (m.length < 1 || m[0] !== STATUS_TAG)
      return this.fail('unexpected_message', 'expected status true/false');
    const text = m.toString('latin1', 1);
    if (text === 'false') return this.fail('alive_rejected', `${this.peer} kept its old connection`);
    if (text !== 'true') return this.fail('bad_status', `unexpected status ${JSON.stringify(text)}`);
    this.replacesExisting = true;
    return { send: [this.challengeMessage()] };
  }

  private challengeMessage(): Buffer {
    this.stateName = 'await_reply';
    const name = Buffer.from(this.opts.thisNode, 'latin1');
    const msg = Buffer.allocUnsafe(19 + name.length);
    msg[0] = SEND_NAME_TAG;
    msg.writeBigUInt64BE(BigInt.asUintN(64, this.opts.thisFlags), 1);
    msg.writeUInt32BE(this.opts.challenge >>> 0, 9);
    msg.writeUInt32BE(this.opts.thisCreation >>> 0, 13);
    msg.writeUInt16BE(name.length, 17);
    name.copy(msg, 19);
    return msg;
  }

  private recvChallengeReply(m: Buffer): HandshakeOutput {
    if (m.length !== 21 || m[0] !== CHALLENGE_REPLY_TAG)
      return this.fail('malformed', 'expected challenge reply (r)');
    const expected = digest(this.cookie, this.opts.challenge);
    if (!timingSafeEqual(expected, m.subarray(5, 21))) {
      return this.fail('bad_cookie', `invalid challenge reply from ${this.peer}`);
    }
    const ack = Buffer.allocUnsafe(17);
    ack[0] = CHALLENGE_ACK_TAG;
    digest(this.cookie, m.readUInt32BE(1)).copy(ack, 1);
    return this.succeed([ack]);
  }

  // --- initiator steps ---

  private recvStatus(m: Buffer): HandshakeOutput {
    if (m.length < 1 || m[0] !== STATUS_TAG) return this.fail('unexpected_message', 'expected status (s)');
    const text = m.toString('latin1', 1);
    switch (text) {
      case 'ok':
      case 'ok_simultaneous':
        this.stateName = 'await_challenge';
        return { send: none };
      case 'nok':
        return this.fail('nok', `${this.peer} is connecting to us: wait for its connection`);
      case 'not_allowed':
        return this.fail('not_allowed', `${this.peer} does not allow us`);
      case 'alive':
        this.stateName = 'await_alive_answer';
        return { send: none, question: { kind: 'alive', peer: this.peer } };
      default:
        // `named:` answers a NAME_ME request we never make.
        return this.fail('bad_status', `unexpected status ${JSON.stringify(text.slice(0, 32))}`);
    }
  }

  private recvChallenge(m: Buffer): HandshakeOutput {
    if (m.length < 19 || m[0] !== SEND_NAME_TAG) return this.fail('malformed', 'expected challenge (N)');
    const flags = expandMandatory25(m.readBigUInt64BE(1));
    const challenge = m.readUInt32BE(9);
    const creation = m.readUInt32BE(13);
    const len = m.readUInt16BE(17);
    if (m.length < 19 + len) return this.fail('malformed', 'challenge shorter than its name');
    const name = m.toString('latin1', 19, 19 + len);
    // Like OTP: the acceptor must call itself exactly what we dialled.
    if (name !== this.peer) return this.fail('wrong_node', `dialled ${this.peer} but ${name} answered`);
    const missing = missingFlags(flags, this.required);
    if (missing.length > 0) return this.fail('missing_flags', `${name} cannot handle ${missing.join(', ')}`);
    this.peerFlags = flags;
    this.peerCreation = creation;
    const reply = Buffer.allocUnsafe(21);
    reply[0] = CHALLENGE_REPLY_TAG;
    reply.writeUInt32BE(this.opts.challenge >>> 0, 1);
    digest(this.cookie, challenge).copy(reply, 5);
    this.stateName = 'await_ack';
    return { send: [reply] };
  }

  private recvChallengeAck(m: Buffer): HandshakeOutput {
    if (m.length !== 17 || m[0] !== CHALLENGE_ACK_TAG)
      return this.fail('malformed', 'expected challenge ack (a)');
    if (!timingSafeEqual(digest(this.cookie, this.opts.challenge), m.subarray(1, 17))) {
      return this.fail('bad_cookie', `invalid challenge ack from ${this.peer}`);
    }
    return this.succeed(none);
  }

  // --- endings ---

  private succeed(send: readonly Buffer[]): HandshakeOutput {
    this.stateName = 'done';
    const flags = this.opts.thisFlags & this.peerFlags;
    return {
      send,
      result: {
        peer: this.peer,
        peerCreation: this.peerCreation,
        peerFlags: this.peerFlags,
        flags,
        hidden: (flags & DFLAG_PUBLISHED) === 0n,
        replacesExisting: this.replacesExisting,
      },
    };
  }

  private fail(code: HandshakeErrorCode, message: string, send: readonly Buffer[] = none): HandshakeOutput {
    this.stateName = 'failed';
    return { send, error: new HandshakeError(code, message) };
  }
}

/** `MD5(cookie ++ decimal(challenge))`: the cookie first, then the challenge as unsigned decimal text. */
export function digest(cookie: string | Uint8Array, challenge: number): Buffer {
  const bytes = typeof cookie === 'string' ? Buffer.from(cookie, 'latin1') : cookie;
  return createHash('md5')
    .update(bytes)
    .update(String(challenge >>> 0), 'latin1')
    .digest();
}

/** `s` + status text. */
export function statusMessage(text: string): Buffer {
  const msg = Buffer.allocUnsafe(1 + text.length);
  msg[0] = STATUS_TAG;
  msg.write(text, 1, 'latin1');
  return msg;
}

/** True for `alive@host` with both parts non-empty and a single `@`. */
export function isNodeName(name: string): boolean {
  const at = name.indexOf('@');
  return at > 0 && at < name.length - 1 && name.indexOf('@', at + 1) === -1;
}
