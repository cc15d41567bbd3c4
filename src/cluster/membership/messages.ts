/**
 * SWIM packets and their compact binary codec (for the UDP transport; the simulator passes
 * the objects themselves).
 *
 * Every packet is one protocol message plus piggybacked gossip, as in the SWIM paper's
 * "infection-style" dissemination:
 *
 *   packet  = version:u8 type:u8 from:str body gossipCount:u8 gossip*
 *   str     = len:u8 utf8-bytes            (ids and addresses are at most 255 bytes)
 *   PING      body = seq:u32 target:str
 *   ACK       body = seq:u32
 *   PING_REQ  body = seq:u32 target:str targetAddress:str flags:u8 (bit 0: nack wanted)
 *   NACK      body = seq:u32
 *   PUSH_PULL body = flags:u8 (bit 0: join, bit 1: reply) count:u32 (id:str address:str incarnation:u32 status:u8)*
 *   GOSSIP    body = (empty: the packet only carries gossip)
 *   gossip  = kind:u8 id:str incarnation:u32 (ALIVE: address:str | SUSPECT, DEAD: from:str)
 *
 * Integers are big-endian. Decoding never trusts a length: it checks every read against the
 * buffer and the limits, and fails with a {@link MembershipCodecError} whose `code` is stable.
 */

/** Member status, ordered as the incarnation rules order them at equal incarnation. */
export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

/** Gossip: a member state update, piggybacked on other messages. */
export type Gossip =
  | { readonly kind: 'alive'; readonly id: string; readonly incarnation: number; readonly address: string }
  | { readonly kind: 'suspect'; readonly id: string; readonly incarnation: number; readonly from: string }
  | { readonly kind: 'dead'; readonly id: string; readonly incarnation: number; readonly from: string };

/** One member as carried by a push-pull state exchange. */
export interface MemberState {
  readonly id: string;
  readonly address: string;
  readonly incarnation: number;
  readonly status: MemberStatus;
}

/** The protocol message of a packet. */
export type Body =
  | { readonly type: 'ping'; readonly seq: number; readonly target: string }
  | { readonly type: 'ack'; readonly seq: number }
  | {
      readonly type: 'ping-req';
      readonly seq: number;
      readonly target: string;
      readonly targetAddress: string;
      readonly nack: boolean;
    }
  | { readonly type: 'nack'; readonly seq: number }
  | {
      readonly type: 'push-pull';
      readonly join: boolean;
      readonly reply: boolean;
      readonly members: readonly MemberState[];
    }
  | { readonly type: 'gossip' };

/** A packet: who sent it (member id), its message and piggybacked gossip. */
export interface Packet {
  readonly from: string;
  readonly body: Body;
  readonly gossip: readonly Gossip[];
}

export const VERSION = 1;
export const PING = 1;
export const ACK = 2;
export const PING_REQ = 3;
export const NACK = 4;
export const PUSH_PULL = 5;
export const GOSSIP = 6;
export const GOSSIP_ALIVE = 1;
export const GOSSIP_SUSPECT = 2;
export const GOSSIP_DEAD = 3;

const STATUS_CODE: Readonly<Record<MemberStatus, number>> = { alive: 0, suspect: 1, dead: 2, left: 3 };
const STATUS_OF: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

/** Stable codes of codec failures. */
export type MembershipCodecErrorCode =
  | 'TRUNCATED'
  | 'BAD_VERSION'
  | 'BAD_TYPE'
  | 'BAD_STRING'
  | 'TOO_LARGE'
  | 'TOO_MANY'
  | 'TRAILING_BYTES'
  | 'BAD_VALUE';

/** A packet that cannot be encoded or decoded. */
export class MembershipCodecError extends Error {
  readonly code: MembershipCodecErrorCode;
  constructor(code: MembershipCodecErrorCode, message: string) {
    super(message);
    this.name = 'MembershipCodecError';
    this.code = code;
  }
}

/** Decoding limits; remote input is untrusted. */
export interface CodecLimits {
  /** Largest packet accepted (UDP datagrams: 65,507; push-pull over a stream may allow more). */
  readonly maxPacketBytes: number;
  /** Most members a push-pull may carry. */
  readonly maxMembers: number;
}

/** Limits for datagrams. */
export const defaultCodecLimits: CodecLimits = Object.freeze({ maxPacketBytes: 65_507, maxMembers: 10_000 });

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encoded size of a string field (length byte + UTF-8). */
export function strSize(s: string): number {
  // ASCII fast path: ids and addresses are nearly always ASCII.
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return 1 + encoder.encode(s).length;
    n++;
  }
  return 1 + n;
}

/** Encoded size of one gossip item. */
export function gossipSize(g: Gossip): number {
  return 1 + strSize(g.id) + 4 + strSize(g.kind === 'alive' ? g.address : g.from);
}

/** Encoded size of a packet header and body, without gossip (the count byte is included). */
export function bodySize(from: string, body: Body): number {
  const head = 2 + strSize(from) + 1;
  switch (body.type) {
    case 'ping':
      return head + 4 + strSize(body.target);
    case 'ack':
    case 'nack':
      return head + 4;
    case 'ping-req':
      return head + 4 + strSize(body.target) + strSize(body.targetAddress) + 1;
    case 'push-pull': {
      let n = head + 1 + 4;
      for (const m of body.members) n += strSize(m.id) + strSize(m.address) + 4 + 1;
      return n;
    }
    case 'gossip':
      return head;
  }
}

class Writer {
  buf: Uint8Array;
  view: DataView;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }
  u8(v: number): void {
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }
  u32(v: number): void {
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }
  str(s: string): void {
    const bytes = encoder.encode(s);
    if (bytes.length > 255)
      throw new MembershipCodecError('BAD_STRING', `string of ${bytes.length} bytes exceeds 255`);
    this.u8(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
}

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new MembershipCodecError('BAD_VALUE', `${name} must be a uint32, got ${v}`);
  }
}

/** Encodes a packet. Throws {@link MembershipCodecError} on a value that does not fit the format. */
export function encodePacket(p: Packet): Uint8Array {
  if (p.gossip.length > 255)
    throw new MembershipCodecError('TOO_MANY', `${p.gossip.length} gossip items exceed 255`);
  let size = bodySize(p.from, p.body);
  for (const g of p.gossip) size += gossipSize(g);
  const w = new Writer(size);
  w.u8(VERSION);
  const b = p.body;
  switch (b.type) {
    case 'ping':
      w.u8(PING);
      w.str(p.from);
      checkU32('seq', b.seq);
      w.u32(b.seq);
      w.str(b.target);
      break;
    case 'ack':
    case 'nack':
      w.u8(b.type === 'ack' ? ACK : NACK);
      w.str(p.from);
      checkU32('seq', b.seq);
      w.u32(b.seq);
      break;
    case 'ping-req':
      w.u8(PING_REQ);
      w.str(p.from);
      checkU32('seq', b.seq);
      w.u32(b.seq);
      w.str(b.target);
      w.str(b.targetAddress);
      w.u8(b.nack ? 1 : 0);
      break;
    case 'push-pull':
      w.u8(PUSH_PULL);
      w.str(p.from);
      w.u8((b.join ? 1 : 0) | (b.reply ? 2 : 0));
      w.u32(b.members.length);
      for (const m of b.members) {
        w.str(m.id);
        w.str(m.address);
        checkU32('incarnation', m.incarnation);
        w.u32(m.incarnation);
        w.u8(STATUS_CODE[m.status]);
      }
      break;
    case 'gossip':
      w.u8(GOSSIP);
      w.str(p.from);
      break;
  }
  w.u8(p.gossip.length);
  for (const g of p.gossip) {
    w.u8(g.kind === 'alive' ? GOSSIP_ALIVE : g.kind === 'suspect' ? GOSSIP_SUSPECT : GOSSIP_DEAD);
    w.str(g.id);
    checkU32('incarnation', g.incarnation);
    w.u32(g.incarnation);
    w.str(g.kind === 'alive' ? g.address : g.from);
  }
  if (w.pos !== size) throw new Error(`encodePacket size mismatch: ${w.pos} != ${size}`);
  return w.buf;
}

class Reader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos = 0;
  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new MembershipCodecError('TRUNCATED', `packet truncated at byte ${this.pos}: needs ${n} more`);
    }
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  str(): string {
    const n = this.u8();
    this.need(n);
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return decoder.decode(bytes);
    } catch {
      throw new MembershipCodecError('BAD_STRING', `invalid UTF-8 in string at byte ${this.pos - n}`);
    }
  }
}

/** Decodes a packet, checking every length against the buffer and `limits`. */
export function decodePacket(bytes: Uint8Array, limits: CodecLimits = defaultCodecLimits): Packet {
  if (bytes.length > limits.maxPacketBytes) {
    throw new MembershipCodecError(
      'TOO_LARGE',
      `packet of ${bytes.length} bytes exceeds ${limits.maxPacketBytes}`,
    );
  }
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== VERSION) throw new MembershipCodecError('BAD_VERSION', `unknown packet version ${version}`);
  const type = r.u8();
  const from = r.str();
  let body: Body;
  switch (type) {
    case PING: {
      const seq = r.u32();
      body = { type: 'ping', seq, target: r.str() };
      break;
    }
    case ACK:
      body = { type: 'ack', seq: r.u32() };
      break;
    case NACK:
      body = { type: 'nack', seq: r.u32() };
      break;
    case PING_REQ: {
      const seq = r.u32();
      const target = r.str();
      const targetAddress = r.str();
      const flags = r.u8();
      body = { type: 'ping-req', seq, target, targetAddress, nack: (flags & 1) !== 0 };
      break;
    }
    case PUSH_PULL: {
      const flags = r.u8();
      const count = r.u32();
      if (count > limits.maxMembers) {
        throw new MembershipCodecError(
          'TOO_MANY',
          `push-pull of ${count} members exceeds ${limits.maxMembers}`,
        );
      }
      // Each member takes at least 7 bytes: a count the buffer cannot hold is rejected before allocating.
      r.need(count * 7);
      const members: MemberState[] = [];
      for (let i = 0; i < count; i++) {
        const id = r.str();
        const address = r.str();
        const incarnation = r.u32();
        const code = r.u8();
        const status = STATUS_OF[code];
        if (status === undefined)
          throw new MembershipCodecError('BAD_VALUE', `unknown member status ${code}`);
        members.push({ id, address, incarnation, status });
      }
      body = { type: 'push-pull', join: (flags & 1) !== 0, reply: (flags & 2) !== 0, members };
      break;
    }
    case GOSSIP:
      body = { type: 'gossip' };
      break;
    default:
      throw new MembershipCodecError('BAD_TYPE', `unknown packet type ${type}`);
  }
  const n = r.u8();
  const gossip: Gossip[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.u8();
    const id = r.str();
    const incarnation = r.u32();
    const other = r.str();
    if (kind === GOSSIP_ALIVE) gossip.push({ kind: 'alive', id, incarnation, address: other });
    else if (kind === GOSSIP_SUSPECT) gossip.push({ kind: 'suspect', id, incarnation, from: other });
    else if (kind === GOSSIP_DEAD) gossip.push({ kind: 'dead', id, incarnation, from: other });
    else throw new MembershipCodecError('BAD_TYPE', `unknown gossip kind ${kind}`);
  }
  if (r.pos !== bytes.length) {
    throw new MembershipCodecError('TRAILING_BYTES', `${bytes.length - r.pos} bytes after the packet`);
  }
  return { from, body, gossip };
}
