/**
 * The term shapes of OTP's `global` protocol, version 8 (OTP 25), as they travel between
 * `global_name_server` processes: builders for what we send and validating readers for what we
 * receive. Remote input is untrusted: a reader returns undefined for a malformed message, and the
 * core drops it (as the BEAM's server would crash or log, we only log).
 *
 * | wrapper | messages |
 * |---|---|
 * | gen_server cast `{'$gen_cast', Msg}` | init_connect, lock_set, exchange, resolved, new_nodes, in_sync |
 * | raw message | init_connect_ack, cancel_connect, lost_connection, remove_connection |
 * | gen_server call `{'$gen_call', {Pid, Tag}, Req}` | set_lock, del_lock, register, unregister, register_ext |
 *
 * See shared/reference/erlang-global.md §0-§6 for each shape as captured on the wire.
 *
 * @module
 */

import { compare } from '../../term/compare.ts';
import { Atom, atom, ExportFun, Fun, Pid, type Term, Tuple } from '../../term/types.ts';

/** The protocol version we speak (OTP 25's `?vsn`). */
export const GLOBAL_VSN = 8;
/** First version that answers `init_connect` with `init_connect_ack` (`?verify_connect_vsn`). */
export const VERIFY_CONNECT_VSN = 8;
/** First version that understands `lost_connection` (`?pop_vsn`). */
export const POP_VSN = 7;
/** First version whose known lists carry versions (`?pgpv_vsn`). */
export const PGPV_VSN = 7;

/** Atoms of the protocol, held strongly. */
export const G: {
  readonly global_name_server: Atom;
  readonly $gen_cast: Atom;
  readonly $gen_call: Atom;
  readonly init_connect: Atom;
  readonly init_connect_ack: Atom;
  readonly cancel_connect: Atom;
  readonly locker: Atom;
  readonly no_longer_a_pid: Atom;
  readonly lock_set: Atom;
  readonly exchange: Atom;
  readonly resolved: Atom;
  readonly unused: Atom;
  readonly new_nodes: Atom;
  readonly in_sync: Atom;
  readonly insert: Atom;
  readonly delete: Atom;
  readonly vsn: Atom;
  readonly lock: Atom;
  readonly global: Atom;
  readonly set_lock: Atom;
  readonly del_lock: Atom;
  readonly register: Atom;
  readonly unregister: Atom;
  readonly register_ext: Atom;
  readonly yes: Atom;
  readonly no: Atom;
  readonly ok: Atom;
  readonly none: Atom;
  readonly lost_connection: Atom;
  readonly remove_connection: Atom;
  readonly global_name_conflict: Atom;
  readonly badrpc: Atom;
  readonly random_exit_name: Atom;
  readonly random_notify_name: Atom;
  readonly notify_all_name: Atom;
  readonly resolve_it: Atom;
  readonly get_known: Atom;
  readonly get_synced: Atom;
  readonly get_protocol_version: Atom;
  readonly kill: Atom;
  readonly rex: Atom;
  readonly call: Atom;
  readonly user: Atom;
  readonly nonode: Atom;
} = Object.freeze({
  global_name_server: atom('global_name_server'),
  $gen_cast: atom('$gen_cast'),
  $gen_call: atom('$gen_call'),
  init_connect: atom('init_connect'),
  init_connect_ack: atom('init_connect_ack'),
  cancel_connect: atom('cancel_connect'),
  locker: atom('locker'),
  no_longer_a_pid: atom('no_longer_a_pid'),
  lock_set: atom('lock_set'),
  exchange: atom('exchange'),
  resolved: atom('resolved'),
  unused: atom('unused'),
  new_nodes: atom('new_nodes'),
  in_sync: atom('in_sync'),
  insert: atom('insert'),
  delete: atom('delete'),
  vsn: atom('vsn'),
  lock: atom('lock'),
  global: atom('global'),
  set_lock: atom('set_lock'),
  del_lock: atom('del_lock'),
  register: atom('register'),
  unregister: atom('unregister'),
  register_ext: atom('register_ext'),
  yes: atom('yes'),
  no: atom('no'),
  ok: atom('ok'),
  none: atom('none'),
  lost_connection: atom('lost_connection'),
  remove_connection: atom('remove_connection'),
  global_name_conflict: atom('global_name_conflict'),
  badrpc: atom('badrpc'),
  random_exit_name: atom('random_exit_name'),
  random_notify_name: atom('random_notify_name'),
  notify_all_name: atom('notify_all_name'),
  resolve_it: atom('resolve_it'),
  get_known: atom('get_known'),
  get_synced: atom('get_synced'),
  get_protocol_version: atom('get_protocol_version'),
  kill: atom('kill'),
  rex: atom('rex'),
  call: atom('call'),
  user: atom('user'),
  nonode: atom('nonode@nohost'),
});

/** `fun global:random_exit_name/3`: the method we send for the OTP default. */
export const RANDOM_EXIT_NAME: ExportFun = new ExportFun(G.global, G.random_exit_name, 3);
/** `fun global:random_notify_name/3`. */
export const RANDOM_NOTIFY_NAME: ExportFun = new ExportFun(G.global, G.random_notify_name, 3);
/** `fun global:notify_all_name/3`. */
export const NOTIFY_ALL_NAME: ExportFun = new ExportFun(G.global, G.notify_all_name, 3);
/**
 * The method of a name whose conflicts a TypeScript function decides. Only the node that owns the
 * pid ever evaluates a method (global calls `resolve_it` on `node(Pid2)`), so this export only has
 * to mean something to us; a BEAM node that evaluated it would get `undef`, and global then
 * deletes the name everywhere (the safe outcome).
 */
export const TS_RESOLVER: ExportFun = new ExportFun(atom('distribute_global'), atom('on_conflict'), 3);

/** A lock id `{ResourceId, LockRequesterId}`. */
export interface LockId {
  readonly resource: Term;
  readonly requester: Term;
}

/** One registered name as exchanged: `{Name, Pid, Method}`. */
export interface NameEntry {
  readonly name: Term;
  readonly pid: Pid;
  readonly method: Term;
}

/** An operation of `resolved`/`new_nodes`: `{insert, {Name, Pid, Method}}` or `{delete, Name}`. */
export type NameOp =
  | { readonly op: 'insert'; readonly entry: NameEntry }
  | { readonly op: 'delete'; readonly name: Term };

/** A member of a known list: `Node` (old peers) or `{Node, Vsn}` (vsn 7+). */
export interface KnownNode {
  readonly node: Atom;
  /** 0 when the peer sent a bare node name (the version is then looked up locally). */
  readonly vsn: number;
}

/** Messages `global_name_server` receives from other nodes (and, for a few, from itself). */
export type ServerMessage =
  | {
      readonly kind: 'init_connect';
      readonly hisVsn: number;
      readonly hisTag: Term;
      readonly node: Atom;
      readonly hisLocker: Pid;
      /** The `{locker, ...}` tuple, kept to re-cast it when it arrives before nodeup. */
      readonly initMsg: Tuple;
    }
  | {
      readonly kind: 'init_connect_ack';
      readonly node: Atom;
      readonly hisMyTag: Term;
      readonly hisHisTag: Term;
    }
  | { readonly kind: 'cancel_connect'; readonly node: Atom; readonly tag: Term }
  | {
      readonly kind: 'lock_set';
      readonly pid: Pid;
      readonly set: boolean;
      readonly hisKnown: Term;
      readonly tag: Term | undefined;
    }
  | {
      readonly kind: 'exchange';
      readonly node: Atom;
      readonly names: readonly NameEntry[];
      readonly tag: Term;
    }
  | {
      readonly kind: 'resolved';
      readonly node: Atom;
      readonly ops: readonly NameOp[];
      readonly known: readonly KnownNode[];
      readonly namesExt: Term;
      readonly tag: Term;
    }
  | {
      readonly kind: 'new_nodes';
      readonly node: Atom;
      readonly ops: readonly NameOp[];
      readonly namesExt: Term;
      readonly nodes: readonly KnownNode[];
      readonly extraInfo: Term;
    }
  | { readonly kind: 'in_sync'; readonly node: Atom }
  | {
      readonly kind: 'lost_connection';
      readonly nodeA: Atom;
      readonly xCreation: Term;
      readonly opId: Term;
      readonly nodeB: Atom;
      readonly raw: Tuple;
    }
  | { readonly kind: 'remove_connection'; readonly node: Atom }
  | { readonly kind: 'call'; readonly from: Tuple; readonly fromPid: Pid; readonly request: CallRequest };

/** Requests of the gen_server calls a remote node makes to our server. */
export type CallRequest =
  | { readonly kind: 'set_lock'; readonly id: LockId }
  | { readonly kind: 'del_lock'; readonly id: LockId }
  | { readonly kind: 'register'; readonly entry: NameEntry }
  | { readonly kind: 'register_ext'; readonly entry: NameEntry }
  | { readonly kind: 'unregister'; readonly name: Term }
  | { readonly kind: 'get_known' }
  | { readonly kind: 'get_synced' }
  | { readonly kind: 'get_protocol_version' }
  | { readonly kind: 'unknown'; readonly request: Term };

// ---- builders ----

/** `{'$gen_cast', Msg}`. */
export function genCast(msg: Term): Tuple {
  return new Tuple([G.$gen_cast, msg]);
}

/** `{'$gen_call', {Pid, Tag}, Request}`. */
export function genCall(from: Pid, tag: Term, request: Term): Tuple {
  return new Tuple([G.$gen_call, new Tuple([from, tag]), request]);
}

/** `{global, [L1, L2]}`: the connect lock id both lockers compute (pids in Erlang term order). */
export function connectLockId(a: Pid, b: Pid): LockId {
  return { resource: G.global, requester: compare(a, b) <= 0 ? [a, b] : [b, a] };
}

/** `{ResourceId, LockRequesterId}` as a term. */
export function lockIdTerm(id: LockId): Tuple {
  return new Tuple([id.resource, id.requester]);
}

/** `{init_connect, {8, MyTag}, Me, {locker, no_longer_a_pid, Known, Locker}}`. */
export function initConnect(myTag: Term, me: Atom, known: Term, locker: Pid): Tuple {
  return new Tuple([
    G.init_connect,
    new Tuple([GLOBAL_VSN, myTag]),
    me,
    new Tuple([G.locker, G.no_longer_a_pid, known, locker]),
  ]);
}

/** `{init_connect_ack, Me, HisTag, MyTag}`. */
export function initConnectAck(me: Atom, hisTag: Term, myTag: Term): Tuple {
  return new Tuple([G.init_connect_ack, me, hisTag, myTag]);
}

/** `{cancel_connect, Me, HisTag}`. */
export function cancelConnect(me: Atom, hisTag: Term): Tuple {
  return new Tuple([G.cancel_connect, me, hisTag]);
}

/** `{lock_set, Locker, IsSet, Known, HisTag}` (vsn 8) or the 4-tuple without the tag (older peers). */
export function lockSet(locker: Pid, set: boolean, known: readonly Atom[], hisTag: Term | undefined): Tuple {
  return hisTag === undefined
    ? new Tuple([G.lock_set, locker, set, [...known]])
    : new Tuple([G.lock_set, locker, set, [...known], hisTag]);
}

/** `{exchange, Me, Names, [], HisTag}`. */
export function exchange(me: Atom, names: readonly NameEntry[], hisTag: Term): Tuple {
  return new Tuple([G.exchange, me, names.map(nameEntryTerm), [], hisTag]);
}

/** `{resolved, Me, Resolved, Known, unused, NamesExt, HisTag}`. */
export function resolved(
  me: Atom,
  ops: readonly NameOp[],
  known: readonly Term[],
  namesExt: Term,
  hisTag: Term,
): Tuple {
  return new Tuple([G.resolved, me, ops.map(nameOpTerm), [...known], G.unused, namesExt, hisTag]);
}

/** `{new_nodes, Me, Ops, NamesExt, Nodes, ExtraInfo}`. */
export function newNodes(
  me: Atom,
  ops: readonly NameOp[],
  namesExt: Term,
  nodes: readonly Term[],
  extraInfo: Term,
): Tuple {
  return new Tuple([G.new_nodes, me, ops.map(nameOpTerm), namesExt, [...nodes], extraInfo]);
}

/** `{in_sync, Me, true}`. */
export function inSync(me: Atom): Tuple {
  return new Tuple([G.in_sync, me, true]);
}

/** `{lost_connection, Me, XCreation, OpId, LostNode}`. */
export function lostConnection(me: Atom, xCreation: Term, opId: Term, lost: Atom): Tuple {
  return new Tuple([G.lost_connection, me, xCreation, opId, lost]);
}

/** `{remove_connection, Me}`. */
export function removeConnection(me: Atom): Tuple {
  return new Tuple([G.remove_connection, me]);
}

/** `{Name, Pid, Method}`. */
export function nameEntryTerm(e: NameEntry): Tuple {
  return new Tuple([e.name, e.pid, e.method]);
}

/** `{insert, {Name, Pid, Method}}` or `{delete, Name}`. */
export function nameOpTerm(op: NameOp): Tuple {
  return op.op === 'insert' ? new Tuple([G.insert, nameEntryTerm(op.entry)]) : new Tuple([G.delete, op.name]);
}

/** `{Node, Vsn}` (vsn 7+ peers) or `Node` (older ones). */
export function knownTerm(k: KnownNode, withVsn: boolean): Term {
  return withVsn ? new Tuple([k.node, k.vsn]) : k.node;
}

/** `[{vsn, Vsn}, {lock, LockId}]`: the extra info of `new_nodes`. */
export function extraInfo(vsn: number | undefined, lock: LockId | undefined): Term {
  return [
    new Tuple([G.vsn, vsn ?? G.unused]),
    new Tuple([G.lock, lock === undefined ? G.unused : lockIdTerm(lock)]),
  ];
}

// ---- readers ----

function tupleOf(t: Term, size: number): readonly Term[] | undefined {
  return t instanceof Tuple && t.length === size ? t.elements : undefined;
}

function isAtom(t: Term | undefined): t is Atom {
  return t instanceof Atom;
}

function isList(t: Term | undefined): t is readonly Term[] {
  return Array.isArray(t);
}

/** A small non-negative version number (a peer's protocol version). */
function vsnOf(t: Term | undefined): number | undefined {
  if (typeof t === 'number' && Number.isInteger(t) && t >= 0 && t < 1_000_000) return t;
  return undefined;
}

/** Reads `{Name, Pid, Method}`. */
export function readNameEntry(t: Term): NameEntry | undefined {
  const e = tupleOf(t, 3);
  if (e === undefined || !(e[1] instanceof Pid)) return undefined;
  return { name: e[0] as Term, pid: e[1], method: e[2] as Term };
}

/** Reads a list of `{Name, Pid, Method}`; undefined if it is not a list. Malformed items are skipped. */
export function readNameList(t: Term): NameEntry[] | undefined {
  if (!isList(t)) return undefined;
  const out: NameEntry[] = [];
  for (const item of t) {
    const e = readNameEntry(item);
    if (e !== undefined) out.push(e);
  }
  return out;
}

/** Reads a list of ops; undefined if it is not a list. Malformed items are skipped. */
export function readOps(t: Term): NameOp[] | undefined {
  if (!isList(t)) return undefined;
  const out: NameOp[] = [];
  for (const item of t) {
    const e = tupleOf(item, 2);
    if (e === undefined) continue;
    if (e[0] === G.insert) {
      const entry = readNameEntry(e[1] as Term);
      if (entry !== undefined) out.push({ op: 'insert', entry });
    } else if (e[0] === G.delete) {
      out.push({ op: 'delete', name: e[1] as Term });
    }
  }
  return out;
}

/** Reads a known list: `[Node | {Node, Vsn}]`. Malformed items are skipped. */
export function readKnown(t: Term): KnownNode[] | undefined {
  if (!isList(t)) return undefined;
  const out: KnownNode[] = [];
  for (const item of t) {
    if (isAtom(item)) {
      out.push({ node: item, vsn: 0 });
      continue;
    }
    const e = tupleOf(item, 2);
    const v = vsnOf(e?.[1]);
    if (e !== undefined && isAtom(e[0]) && v !== undefined) out.push({ node: e[0], vsn: v });
  }
  return out;
}

/** Reads `{ResourceId, LockRequesterId}`. */
export function readLockId(t: Term): LockId | undefined {
  const e = tupleOf(t, 2);
  return e === undefined ? undefined : { resource: e[0] as Term, requester: e[1] as Term };
}

/** The `{lock, {global, ReqId}}` of a new_nodes extra info, if present. */
export function extraInfoLock(extra: Term): LockId | undefined {
  if (!isList(extra)) return undefined;
  for (const item of extra) {
    const e = tupleOf(item, 2);
    if (e !== undefined && e[0] === G.lock) return readLockId(e[1] as Term);
  }
  return undefined;
}

function readCall(from: Term, req: Term): ServerMessage | undefined {
  const f = tupleOf(from, 2);
  if (f === undefined || !(f[0] instanceof Pid)) return undefined;
  const fromTuple = from as Tuple;
  const fromPid = f[0];
  const call = (request: CallRequest): ServerMessage => ({ kind: 'call', from: fromTuple, fromPid, request });
  if (req === G.get_known) return call({ kind: 'get_known' });
  if (req === G.get_synced) return call({ kind: 'get_synced' });
  if (req === G.get_protocol_version) return call({ kind: 'get_protocol_version' });
  if (!(req instanceof Tuple) || req.length === 0) return call({ kind: 'unknown', request: req });
  const [tag, ...rest] = req.elements;
  if ((tag === G.set_lock || tag === G.del_lock) && rest.length === 1) {
    const id = readLockId(rest[0] as Term);
    if (id === undefined) return call({ kind: 'unknown', request: req });
    return call({ kind: tag === G.set_lock ? 'set_lock' : 'del_lock', id });
  }
  if (tag === G.register && rest.length === 3 && rest[1] instanceof Pid) {
    return call({
      kind: 'register',
      entry: { name: rest[0] as Term, pid: rest[1], method: rest[2] as Term },
    });
  }
  if (tag === G.register_ext && rest.length === 4 && rest[1] instanceof Pid) {
    return call({
      kind: 'register_ext',
      entry: { name: rest[0] as Term, pid: rest[1], method: rest[2] as Term },
    });
  }
  if (tag === G.unregister && rest.length === 1) return call({ kind: 'unregister', name: rest[0] as Term });
  return call({ kind: 'unknown', request: req });
}

function readCast(msg: Term): ServerMessage | undefined {
  if (!(msg instanceof Tuple) || msg.length === 0) return undefined;
  const e = msg.elements;
  switch (e[0]) {
    case G.init_connect: {
      if (e.length !== 4 || !isAtom(e[2])) return undefined;
      // The version may be any tuple {Vsn, Tag, ...}: newer peers may add fields.
      const v = e[1];
      if (!(v instanceof Tuple) || v.length < 2) return undefined;
      const hisVsn = vsnOf(v.elements[0]);
      const lockerMsg = tupleOf(e[3] as Term, 4);
      if (hisVsn === undefined || lockerMsg === undefined || lockerMsg[0] !== G.locker) return undefined;
      if (!(lockerMsg[3] instanceof Pid)) return undefined;
      return {
        kind: 'init_connect',
        hisVsn,
        hisTag: v.elements[1] as Term,
        node: e[2],
        hisLocker: lockerMsg[3],
        initMsg: e[3] as Tuple,
      };
    }
    case G.lock_set:
      return readLockSet(msg);
    case G.exchange: {
      if (e.length !== 5 || !isAtom(e[1])) return undefined;
      const names = readNameList(e[2] as Term);
      if (names === undefined) return undefined;
      return { kind: 'exchange', node: e[1], names, tag: e[4] as Term };
    }
    case G.resolved: {
      if (e.length !== 7 || !isAtom(e[1])) return undefined;
      const ops = readOps(e[2] as Term);
      const known = readKnown(e[3] as Term);
      if (ops === undefined || known === undefined) return undefined;
      return { kind: 'resolved', node: e[1], ops, known, namesExt: e[5] as Term, tag: e[6] as Term };
    }
    case G.new_nodes: {
      if (e.length !== 6 || !isAtom(e[1])) return undefined;
      const ops = readOps(e[2] as Term);
      const nodes = readKnown(e[4] as Term);
      if (ops === undefined || nodes === undefined) return undefined;
      return { kind: 'new_nodes', node: e[1], ops, namesExt: e[3] as Term, nodes, extraInfo: e[5] as Term };
    }
    case G.in_sync:
      if (e.length !== 3 || !isAtom(e[1])) return undefined;
      return { kind: 'in_sync', node: e[1] };
    default:
      return undefined;
  }
}

function readInfo(msg: Tuple): ServerMessage | undefined {
  const e = msg.elements;
  switch (e[0]) {
    case G.init_connect_ack:
      if (e.length !== 4 || !isAtom(e[1])) return undefined;
      return { kind: 'init_connect_ack', node: e[1], hisMyTag: e[2] as Term, hisHisTag: e[3] as Term };
    case G.cancel_connect:
      if (e.length !== 3 || !isAtom(e[1])) return undefined;
      return { kind: 'cancel_connect', node: e[1], tag: e[2] as Term };
    case G.lost_connection:
      if (e.length !== 5 || !isAtom(e[1]) || !isAtom(e[4])) return undefined;
      if (!isInteger(e[2]) || !isInteger(e[3])) return undefined;
      return { kind: 'lost_connection', nodeA: e[1], xCreation: e[2], opId: e[3], nodeB: e[4], raw: msg };
    case G.remove_connection:
      if (e.length !== 2 || !isAtom(e[1])) return undefined;
      return { kind: 'remove_connection', node: e[1] };
    default:
      return undefined;
  }
}

/**
 * Reads `{lock_set, Pid, IsSet, Known, Tag}` (vsn 8) or the 4-tuple without the tag, which an old
 * peer, or a locker rejecting a session it does not know, sends straight to our locker's pid.
 */
export function readLockSet(msg: Term): Extract<ServerMessage, { kind: 'lock_set' }> | undefined {
  if (!(msg instanceof Tuple) || msg.elements[0] !== G.lock_set) return undefined;
  const e = msg.elements;
  if ((e.length !== 5 && e.length !== 4) || !(e[1] instanceof Pid) || typeof e[2] !== 'boolean')
    return undefined;
  return {
    kind: 'lock_set',
    pid: e[1],
    set: e[2],
    hisKnown: e[3] as Term,
    tag: e.length === 5 ? (e[4] as Term) : undefined,
  };
}

function isInteger(t: Term | undefined): t is number | bigint {
  return typeof t === 'bigint' || (typeof t === 'number' && Number.isInteger(t));
}

/**
 * Reads a message that arrived at `global_name_server`: a cast, a call or a raw message.
 * Undefined when it is none of the protocol's (the core logs and drops it).
 */
export function readServerMessage(msg: Term): ServerMessage | undefined {
  if (!(msg instanceof Tuple) || msg.length === 0) return undefined;
  const e = msg.elements;
  if (e[0] === G.$gen_cast && e.length === 2) return readCast(e[1] as Term);
  if (e[0] === G.$gen_call && e.length === 3) return readCall(e[1] as Term, e[2] as Term);
  return readInfo(msg);
}

/** True for the `fun global:F/3` and `#Fun<global...>` methods a TypeScript node can evaluate itself. */
export function isGlobalMethod(method: Term): boolean {
  if (method instanceof ExportFun) return method.module === G.global && method.arity === 3;
  return method instanceof Fun && method.module === G.global && method.arity === 3;
}

/** The term of a call request we make (the inverse of the reader). */
export function callRequestTerm(req: CallRequest): Term {
  switch (req.kind) {
    case 'set_lock':
      return new Tuple([G.set_lock, lockIdTerm(req.id)]);
    case 'del_lock':
      return new Tuple([G.del_lock, lockIdTerm(req.id)]);
    case 'register':
      return new Tuple([G.register, req.entry.name, req.entry.pid, req.entry.method]);
    case 'register_ext':
      return new Tuple([G.register_ext, req.entry.name, req.entry.pid, req.entry.method, req.entry.pid.node]);
    case 'unregister':
      return new Tuple([G.unregister, req.name]);
    case 'get_known':
      return G.get_known;
    case 'get_synced':
      return G.get_synced;
    case 'get_protocol_version':
      return G.get_protocol_version;
    case 'unknown':
      return req.request;
  }
}
