/**
 * Distribution control messages: the operation codes, a typed view of the control tuple (and its
 * payload), and their encoding.
 *
 * Variants that differ only by a seq-trace token (`_TT`) or by where the exit reason travels
 * (`PAYLOAD_*`) decode to one `kind`; `op` keeps the exact code. Tokens are kept but never acted
 * on. Anything that does not match a known shape is a {@link ControlError}: the connection that
 * sent it is dropped, as the BEAM does.
 *
 * @module
 */
import { Atom, atoms, Pid, Reference, type Term, Tuple } from '../term/types.ts';

export const LINK = 1;
export const SEND = 2;
export const EXIT = 3;
export const UNLINK = 4;
export const NODE_LINK = 5;
export const REG_SEND = 6;
export const GROUP_LEADER = 7;
export const EXIT2 = 8;
export const SEND_TT = 12;
export const EXIT_TT = 13;
export const REG_SEND_TT = 16;
export const EXIT2_TT = 18;
export const MONITOR_P = 19;
export const DEMONITOR_P = 20;
export const MONITOR_P_EXIT = 21;
export const SEND_SENDER = 22;
export const SEND_SENDER_TT = 23;
export const PAYLOAD_EXIT = 24;
export const PAYLOAD_EXIT_TT = 25;
export const PAYLOAD_EXIT2 = 26;
export const PAYLOAD_EXIT2_TT = 27;
export const PAYLOAD_MONITOR_P_EXIT = 28;
export const SPAWN_REQUEST = 29;
export const SPAWN_REQUEST_TT = 30;
export const SPAWN_REPLY = 31;
export const SPAWN_REPLY_TT = 32;
export const ALIAS_SEND = 33;
export const ALIAS_SEND_TT = 34;
export const UNLINK_ID = 35;
export const UNLINK_ID_ACK = 36;

/** SPAWN_REPLY flag bits. */
export const SPAWN_REPLY_LINK = 1;
export const SPAWN_REPLY_MONITOR = 2;

/** A decoded control message. */
export type ControlMessage =
  | { readonly kind: 'link'; readonly from: Pid; readonly to: Pid }
  /** SEND, SEND_TT, SEND_SENDER, SEND_SENDER_TT. `from` only for the *_SENDER forms. */
  | {
      readonly kind: 'send';
      readonly op: number;
      readonly from: Pid | undefined;
      readonly to: Pid;
      readonly message: Term;
      readonly token?: Term;
    }
  /** REG_SEND, REG_SEND_TT. */
  | {
      readonly kind: 'reg_send';
      readonly op: number;
      readonly from: Pid;
      readonly to: Atom;
      readonly message: Term;
      readonly token?: Term;
    }
  /** EXIT, EXIT_TT, PAYLOAD_EXIT, PAYLOAD_EXIT_TT: a linked process died. */
  | {
      readonly kind: 'exit';
      readonly op: number;
      readonly from: Pid;
      readonly to: Pid;
      readonly reason: Term;
      readonly token?: Term;
    }
  /** EXIT2, EXIT2_TT, PAYLOAD_EXIT2, PAYLOAD_EXIT2_TT: `exit(To, Reason)`. */
  | {
      readonly kind: 'exit2';
      readonly op: number;
      readonly from: Pid;
      readonly to: Pid;
      readonly reason: Term;
      readonly token?: Term;
    }
  /** The old link protocol's UNLINK (peers without UNLINK_ID). */
  | { readonly kind: 'unlink'; readonly from: Pid; readonly to: Pid }
  | { readonly kind: 'node_link' }
  | { readonly kind: 'group_leader'; readonly from: Pid; readonly to: Pid }
  | { readonly kind: 'monitor'; readonly from: Pid; readonly to: Pid | Atom; readonly ref: Reference }
  | { readonly kind: 'demonitor'; readonly from: Pid; readonly to: Pid | Atom; readonly ref: Reference }
  /** MONITOR_P_EXIT, PAYLOAD_MONITOR_P_EXIT. `from` is the name atom when monitored by name. */
  | {
      readonly kind: 'monitor_exit';
      readonly op: number;
      readonly from: Pid | Atom;
      readonly to: Pid;
      readonly ref: Reference;
      readonly reason: Term;
    }
  /** SPAWN_REQUEST, SPAWN_REQUEST_TT. */
  | {
      readonly kind: 'spawn_request';
      readonly op: number;
      readonly reqId: Reference;
      readonly from: Pid;
      readonly groupLeader: Pid;
      readonly module: Atom;
      readonly function: Atom;
      readonly arity: number;
      readonly options: readonly Term[];
      readonly args: readonly Term[];
      readonly token?: Term;
    }
  /** SPAWN_REPLY, SPAWN_REPLY_TT. `result` is the new pid, or an error atom. */
  | {
      readonly kind: 'spawn_reply';
      readonly op: number;
      readonly reqId: Reference;
      readonly to: Pid;
      readonly flags: number;
      readonly result: Pid | Atom;
      readonly token?: Term;
    }
  /** ALIAS_SEND, ALIAS_SEND_TT. */
  | {
      readonly kind: 'alias_send';
      readonly op: number;
      readonly from: Pid;
      readonly alias: Reference;
      readonly message: Term;
      readonly token?: Term;
    }
  | { readonly kind: 'unlink_id'; readonly id: number | bigint; readonly from: Pid; readonly to: Pid }
  | { readonly kind: 'unlink_id_ack'; readonly id: number | bigint; readonly from: Pid; readonly to: Pid };

export type ControlErrorCode =
  /** The control term is not a tuple starting with an integer. */
  | 'bad_control'
  /** An operation code we do not know. */
  | 'unknown_op'
  /** A known operation with elements of the wrong type, wrong arity, or a payload where none belongs (or none where one does). */
  | 'malformed_control';

/** An unacceptable control message. */
export class ControlError extends Error {
  readonly code: ControlErrorCode;
  /** The operation code, when there was one. */
  readonly op: number | undefined;
  constructor(code: ControlErrorCode, op: number | undefined, message: string) {
    super(message);
    this.name = 'ControlError';
    this.code = code;
    this.op = op;
  }
}

/** True for operations followed by a payload term. */
export function hasPayload(op: number): boolean {
  switch (op) {
    case SEND:
    case REG_SEND:
    case SEND_TT:
    case REG_SEND_TT:
    case SEND_SENDER:
    case SEND_SENDER_TT:
    case PAYLOAD_EXIT:
    case PAYLOAD_EXIT_TT:
    case PAYLOAD_EXIT2:
    case PAYLOAD_EXIT2_TT:
    case PAYLOAD_MONITOR_P_EXIT:
    case SPAWN_REQUEST:
    case SPAWN_REQUEST_TT:
    case ALIAS_SEND:
    case ALIAS_SEND_TT:
      return true;
    default:
      return false;
  }
}

function malformed(op: number, what: string): ControlError {
  return new ControlError('malformed_control', op, `control message ${op}: ${what}`);
}

function pid(t: Term | undefined, op: number, what: string): Pid {
  if (t instanceof Pid) return t;
  throw malformed(op, `${what} is not a pid`);
}

function ref(t: Term | undefined, op: number, what: string): Reference {
  if (t instanceof Reference) return t;
  throw malformed(op, `${what} is not a reference`);
}

function name(t: Term | undefined, op: number, what: string): Atom {
  if (t instanceof Atom) return t;
  throw malformed(op, `${what} is not an atom`);
}

function pidOrName(t: Term | undefined, op: number, what: string): Pid | Atom {
  if (t instanceof Pid || t instanceof Atom) return t;
  throw malformed(op, `${what} is neither a pid nor an atom`);
}

function unlinkId(t: Term | undefined, op: number): number | bigint {
  if ((typeof t === 'number' && Number.isInteger(t) && t > 0) || (typeof t === 'bigint' && t > 0n)) return t;
  throw malformed(op, 'unlink id is not a positive integer');
}

/**
 * Decodes the control tuple and its payload (`undefined` when the frame had none).
 * Throws {@link ControlError}.
 */
export function decodeControl(control: Term, payload: Term | undefined): ControlMessage {
  if (!(control instanceof Tuple) || control.length === 0 || typeof control.elements[0] !== 'number') {
    throw new ControlError('bad_control', undefined, 'control message is not a tuple with an operation code');
  }
  const e = control.elements;
  const op = e[0] as number;
  const n = e.length;
  const withPayload = hasPayload(op);
  if (withPayload && payload === undefined) throw malformed(op, 'payload missing');
  if (!withPayload && payload !== undefined && isKnown(op)) throw malformed(op, 'unexpected payload');
  switch (op) {
    case LINK:
      arity(n, 3, op);
      return { kind: 'link', from: pid(e[1], op, 'from'), to: pid(e[2], op, 'to') };
    case SEND:
      arity(n, 3, op);
      return { kind: 'send', op, from: undefined, to: pid(e[2], op, 'to'), message: payload as Term };
    case SEND_TT:
      arity(n, 4, op);
      return {
        kind: 'send',
        op,
        from: undefined,
        to: pid(e[2], op, 'to'),
        message: payload as Term,
        token: e[3]!,
      };
    case SEND_SENDER:
      arity(n, 3, op);
      return {
        kind: 'send',
        op,
        from: pid(e[1], op, 'from'),
        to: pid(e[2], op, 'to'),
        message: payload as Term,
      };
    case SEND_SENDER_TT:
      arity(n, 4, op);
      return {
        kind: 'send',
        op,
        from: pid(e[1], op, 'from'),
        to: pid(e[2], op, 'to'),
        message: payload as Term,
        token: e[3]!,
      };
    case REG_SEND:
      arity(n, 4, op);
      return {
        kind: 'reg_send',
        op,
        from: pid(e[1], op, 'from'),
        to: name(e[3], op, 'to'),
        message: payload as Term,
      };
    case REG_SEND_TT:
      arity(n, 5, op);
      return {
        kind: 'reg_send',
        op,
        from: pid(e[1], op, 'from'),
        to: name(e[3], op, 'to'),
        message: payload as Term,
        token: e[4]!,
      };
    case EXIT:
    case EXIT2: {
      arity(n, 4, op);
      const kind = op === EXIT ? 'exit' : 'exit2';
      return { kind, op, from: pid(e[1], op, 'from'), to: pid(e[2], op, 'to'), reason: e[3]! };
    }
    case EXIT_TT:
    case EXIT2_TT: {
      arity(n, 5, op);
      const kind = op === EXIT_TT ? 'exit' : 'exit2';
      return { kind, op, from: pid(e[1], op, 'from'), to: pid(e[2], op, 'to'), reason: e[4]!, token: e[3]! };
    }
    case PAYLOAD_EXIT:
    case PAYLOAD_EXIT2: {
      arity(n, 3, op);
      const kind = op === PAYLOAD_EXIT ? 'exit' : 'exit2';
      return { kind, op, from: pid(e[1], op, 'from'), to: pid(e[2], op, 'to'), reason: payload as Term };
    }
    case PAYLOAD_EXIT_TT:
    case PAYLOAD_EXIT2_TT: {
      arity(n, 4, op);
      const kind = op === PAYLOAD_EXIT_TT ? 'exit' : 'exit2';
      return {
        kind,
        op,
        from: pid(e[1], op, 'from'),
        to: pid(e[2], op, 'to'),
        reason: payload as Term,
        token: e[3]!,
      };
    }
    case UNLINK:
      arity(n, 3, op);
      return { kind: 'unlink', from: pid(e[1], op, 'from'), to: pid(e[2], op, 'to') };
    case NODE_LINK:
      arity(n, 1, op);
      return { kind: 'node_link' };
    case GROUP_LEADER:
      arity(n, 3, op);
      return { kind: 'group_leader', from: pid(e[1], op, 'from'), to: pid(e[2], op, 'to') };
    case MONITOR_P:
    case DEMONITOR_P:
      arity(n, 4, op);
      return {
        kind: op === MONITOR_P ? 'monitor' : 'demonitor',
        from: pid(e[1], op, 'from'),
        to: pidOrName(e[2], op, 'to'),
        ref: ref(e[3], op, 'ref'),
      };
    case MONITOR_P_EXIT:
      arity(n, 5, op);
      return {
        kind: 'monitor_exit',
        op,
        from: pidOrName(e[1], op, 'from'),
        to: pid(e[2], op, 'to'),
        ref: ref(e[3], op, 'ref'),
        reason: e[4]!,
      };
    case PAYLOAD_MONITOR_P_EXIT:
      arity(n, 4, op);
      return {
        kind: 'monitor_exit',
        op,
        from: pidOrName(e[1], op, 'from'),
        to: pid(e[2], op, 'to'),
        ref: ref(e[3], op, 'ref'),
        reason: payload as Term,
      };
    case SPAWN_REQUEST:
    case SPAWN_REQUEST_TT: {
      arity(n, op === SPAWN_REQUEST ? 6 : 7, op);
      const mfa = e[4];
      if (!(mfa instanceof Tuple) || mfa.length !== 3) throw malformed(op, 'MFA is not a 3-tuple');
      const arityN = mfa.elements[2];
      if (typeof arityN !== 'number' || !Number.isInteger(arityN) || arityN < 0 || arityN > 255) {
        throw malformed(op, 'arity is not 0..255');
      }
      const options = e[5];
      if (!Array.isArray(options)) throw malformed(op, 'options are not a proper list');
      if (!Array.isArray(payload)) throw malformed(op, 'arguments are not a proper list');
      const msg = {
        kind: 'spawn_request' as const,
        op,
        reqId: ref(e[1], op, 'request id'),
        from: pid(e[2], op, 'from'),
        groupLeader: pid(e[3], op, 'group leader'),
        module: name(mfa.elements[0], op, 'module'),
        function: name(mfa.elements[1], op, 'function'),
        arity: arityN,
        options: options as readonly Term[],
        args: payload as readonly Term[],
      };
      return op === SPAWN_REQUEST ? msg : { ...msg, token: e[6]! };
    }
    case SPAWN_REPLY:
    case SPAWN_REPLY_TT: {
      arity(n, op === SPAWN_REPLY ? 5 : 6, op);
      const flags = e[3];
      if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0)
        throw malformed(op, 'bad flags');
      const msg = {
        kind: 'spawn_reply' as const,
        op,
        reqId: ref(e[1], op, 'request id'),
        to: pid(e[2], op, 'to'),
        flags,
        result: pidOrName(e[4], op, 'result'),
      };
      return op === SPAWN_REPLY ? msg : { ...msg, token: e[5]! };
    }
    case ALIAS_SEND:
      arity(n, 3, op);
      return {
        kind: 'alias_send',
        op,
        from: pid(e[1], op, 'from'),
        alias: ref(e[2], op, 'alias'),
        message: payload as Term,
      };
    case ALIAS_SEND_TT:
      arity(n, 4, op);
      return {
        kind: 'alias_send',
        op,
        from: pid(e[1], op, 'from'),
        alias: ref(e[2], op, 'alias'),
        message: payload as Term,
        token: e[3]!,
      };
    case UNLINK_ID:
    case UNLINK_ID_ACK:
      arity(n, 4, op);
      return {
        kind: op === UNLINK_ID ? 'unlink_id' : 'unlink_id_ack',
        id: unlinkId(e[1], op),
        from: pid(e[2], op, 'from'),
        to: pid(e[3], op, 'to'),
      };
    default:
      throw new ControlError('unknown_op', op, `unknown control message ${op}`);
  }
}

function arity(n: number, expected: number, op: number): void {
  if (n !== expected) throw malformed(op, `arity ${n}, expected ${expected}`);
}

function isKnown(op: number): boolean {
  return (op >= 1 && op <= 8) || op === 12 || op === 13 || op === 16 || (op >= 18 && op <= 36);
}

/** What the encoder needs of a term writer (`TermWriter` from src/term satisfies it). */
export interface TermSink {
  u8(n: number): void;
  /** Writes a term without the 131 version byte. */
  writeTerm(term: Term): void;
}

const SMALL_TUPLE_EXT = 104;
const SMALL_INTEGER_EXT = 97;

function header(w: TermSink, arity: number, op: number): void {
  w.u8(SMALL_TUPLE_EXT);
  w.u8(arity);
  w.u8(SMALL_INTEGER_EXT);
  w.u8(op);
}

/** The operation code `msg` goes out with: its `op` when it has one, else the kind's plain code. */
export function opOf(msg: ControlMessage): number {
  switch (msg.kind) {
    case 'link':
      return LINK;
    case 'unlink':
      return UNLINK;
    case 'node_link':
      return NODE_LINK;
    case 'group_leader':
      return GROUP_LEADER;
    case 'monitor':
      return MONITOR_P;
    case 'demonitor':
      return DEMONITOR_P;
    case 'unlink_id':
      return UNLINK_ID;
    case 'unlink_id_ack':
      return UNLINK_ID_ACK;
    default:
      return msg.op;
  }
}

/**
 * Writes `msg`'s control tuple (no version byte) and returns its payload term, or undefined.
 * `msg.op` picks the exact form (e.g. PAYLOAD_EXIT vs EXIT); the token is written only for
 * `_TT` codes. The `''` placeholders of SEND and REG_SEND are written as the BEAM does.
 */
export function writeControl(w: TermSink, msg: ControlMessage): Term | undefined {
  const op = opOf(msg);
  switch (msg.kind) {
    case 'link':
    case 'unlink':
    case 'group_leader':
      header(w, 3, op);
      w.writeTerm(msg.from);
      w.writeTerm(msg.to);
      return undefined;
    case 'node_link':
      header(w, 1, op);
      return undefined;
    case 'send':
      if (op === SEND || op === SEND_TT) {
        header(w, op === SEND ? 3 : 4, op);
        w.writeTerm(atoms.empty);
      } else if (op === SEND_SENDER || op === SEND_SENDER_TT) {
        if (msg.from === undefined) throw new RangeError('SEND_SENDER needs a sender');
        header(w, op === SEND_SENDER ? 3 : 4, op);
        w.writeTerm(msg.from);
      } else {
        throw new RangeError(`op ${op} is not a send`);
      }
      w.writeTerm(msg.to);
      if (op === SEND_TT || op === SEND_SENDER_TT) w.writeTerm(msg.token ?? atoms.undefined);
      return msg.message;
    case 'reg_send':
      header(w, op === REG_SEND ? 4 : 5, op);
      w.writeTerm(msg.from);
      w.writeTerm(atoms.empty);
      w.writeTerm(msg.to);
      if (op === REG_SEND_TT) w.writeTerm(msg.token ?? atoms.undefined);
      return msg.message;
    case 'exit':
    case 'exit2': {
      const tt = op === EXIT_TT || op === EXIT2_TT || op === PAYLOAD_EXIT_TT || op === PAYLOAD_EXIT2_TT;
      const inPayload =
        op === PAYLOAD_EXIT || op === PAYLOAD_EXIT2 || op === PAYLOAD_EXIT_TT || op === PAYLOAD_EXIT2_TT;
      header(w, 3 + (tt ? 1 : 0) + (inPayload ? 0 : 1), op);
      w.writeTerm(msg.from);
      w.writeTerm(msg.to);
      if (tt) w.writeTerm(msg.token ?? atoms.undefined);
      if (inPayload) return msg.reason;
      w.writeTerm(msg.reason);
      return undefined;
    }
    case 'monitor':
    case 'demonitor':
      header(w, 4, op);
      w.writeTerm(msg.from);
      w.writeTerm(msg.to);
      w.writeTerm(msg.ref);
      return undefined;
    case 'monitor_exit':
      if (op === PAYLOAD_MONITOR_P_EXIT) {
        header(w, 4, op);
      } else {
        header(w, 5, op);
      }
      w.writeTerm(msg.from);
      w.writeTerm(msg.to);
      w.writeTerm(msg.ref);
      if (op === PAYLOAD_MONITOR_P_EXIT) return msg.reason;
      w.writeTerm(msg.reason);
      return undefined;
    case 'spawn_request':
      header(w, op === SPAWN_REQUEST ? 6 : 7, op);
      w.writeTerm(msg.reqId);
      w.writeTerm(msg.from);
      w.writeTerm(msg.groupLeader);
      w.writeTerm(new Tuple([msg.module, msg.function, msg.arity]));
      w.writeTerm(msg.options);
      if (op === SPAWN_REQUEST_TT) w.writeTerm(msg.token ?? atoms.undefined);
      return msg.args;
    case 'spawn_reply':
      header(w, op === SPAWN_REPLY ? 5 : 6, op);
      w.writeTerm(msg.reqId);
      w.writeTerm(msg.to);
      w.writeTerm(msg.flags);
      w.writeTerm(msg.result);
      if (op === SPAWN_REPLY_TT) w.writeTerm(msg.token ?? atoms.undefined);
      return undefined;
    case 'alias_send':
      header(w, op === ALIAS_SEND ? 3 : 4, op);
      w.writeTerm(msg.from);
      w.writeTerm(msg.alias);
      if (op === ALIAS_SEND_TT) w.writeTerm(msg.token ?? atoms.undefined);
      return msg.message;
    case 'unlink_id':
    case 'unlink_id_ack':
      header(w, 4, op);
      w.writeTerm(msg.id);
      w.writeTerm(msg.from);
      w.writeTerm(msg.to);
      return undefined;
  }
}
