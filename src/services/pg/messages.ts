/**
 * The four messages between `pg` scope processes of OTP 25 (`kernel/src/pg.erl`), built and
 * parsed. `Peer` is always the sender's scope pid.
 *
 * | message | how it travels |
 * |---|---|
 * | `{discover, Peer}` | plain, to `{Scope, Node}` (at scope start and nodeup) or to a scope pid |
 * | `{'$gen_cast', {sync, Peer, [{Group, [Pid]}]}}` | a gen_server cast to a scope pid; only the sender's local members |
 * | `{join, Peer, Group, PidOrPids}` | plain, to every known peer |
 * | `{leave, Peer, PidOrPids, [Group]}` | plain, to every known peer |
 *
 * A BEAM scope ends `handle_info`/`handle_cast` with `erlang:error(badarg)`: anything else we
 * sent would crash it, so these builders are the only way our scope talks to a peer.
 *
 * Parsing is for untrusted input: a message is accepted only when every part has the shape
 * above (pids are pids, lists are proper lists, sync entries are pairs); otherwise the parser
 * says why, and the scope logs and drops it.
 *
 * @module
 */

import { isUtf8 } from 'node:buffer';
import { TermMap } from '../../term/map.ts';
import { type Atom, atom, BitBinary, Fun, ImproperList, Pid, type Term, Tuple } from '../../term/types.ts';

/** Atoms of the pg protocol, held strongly. */
export const pgAtoms: {
  readonly discover: Atom;
  readonly sync: Atom;
  readonly join: Atom;
  readonly leave: Atom;
  readonly $gen_cast: Atom;
  readonly $gen_call: Atom;
  readonly DOWN: Atom;
  readonly process: Atom;
  readonly pg: Atom;
} = Object.freeze({
  discover: atom('discover'),
  sync: atom('sync'),
  join: atom('join'),
  leave: atom('leave'),
  $gen_cast: atom('$gen_cast'),
  $gen_call: atom('$gen_call'),
  DOWN: atom('DOWN'),
  process: atom('process'),
  pg: atom('pg'),
});

/** A well-formed protocol message from a peer scope. */
export type PgMessage =
  | { readonly kind: 'discover'; readonly peer: Pid }
  | { readonly kind: 'sync'; readonly peer: Pid; readonly groups: ReadonlyArray<readonly [Term, Pid[]]> }
  | { readonly kind: 'join'; readonly peer: Pid; readonly group: Term; readonly pids: Pid[] }
  | { readonly kind: 'leave'; readonly peer: Pid; readonly pids: Pid[]; readonly groups: Term[] };

/** Why a message was not taken: its tag is ours but its shape is not, or it is no pg message at all. */
export interface PgRejected {
  readonly kind: 'rejected';
  readonly code: 'pg_malformed' | 'pg_unknown_message';
  readonly detail: string;
}

/** `{discover, Self}`. */
export function discoverMessage(self: Pid): Tuple {
  return new Tuple([pgAtoms.discover, self]);
}

/** `{'$gen_cast', {sync, Self, [{Group, [Pid]}]}}`: one entry per group, each listing local members. */
export function syncMessage(self: Pid, groups: ReadonlyArray<readonly [Term, readonly Pid[]]>): Tuple {
  const list: Term[] = [];
  for (const [group, pids] of groups) list.push(new Tuple([group, pids as Pid[]]));
  return new Tuple([pgAtoms.$gen_cast, new Tuple([pgAtoms.sync, self, list])]);
}

/** `{join, Self, Group, PidOrPids}`. */
export function joinMessage(self: Pid, group: Term, pidOrPids: Pid | readonly Pid[]): Tuple {
  return new Tuple([pgAtoms.join, self, group, pidOrPids as Term]);
}

/** `{leave, Self, PidOrPids, Groups}`. */
export function leaveMessage(self: Pid, pidOrPids: Pid | readonly Pid[], groups: readonly Term[]): Tuple {
  return new Tuple([pgAtoms.leave, self, pidOrPids as Term, groups as Term[]]);
}

/** `{Ref, join | leave, Group, Pids}`: what a process monitoring a group or a scope receives. */
export function notificationMessage(
  ref: Term,
  action: 'join' | 'leave',
  group: Term,
  pids: readonly Pid[],
): Tuple {
  return new Tuple([ref, action === 'join' ? pgAtoms.join : pgAtoms.leave, group, pids as Pid[]]);
}

function rejected(code: PgRejected['code'], detail: string): PgRejected {
  return { kind: 'rejected', code, detail };
}

/** A pid, or a proper list of pids (`[]` allowed), as a fresh array; undefined otherwise. */
function pidsOf(t: Term | undefined): Pid[] | undefined {
  if (t instanceof Pid) return [t];
  if (!Array.isArray(t)) return undefined;
  for (const p of t) if (!(p instanceof Pid)) return undefined;
  return (t as Pid[]).slice();
}

/** Parses a message that reached a scope process (not a DOWN: the scope handles those itself). */
export function parsePgMessage(m: Term): PgMessage | PgRejected {
  if (!(m instanceof Tuple) || m.length === 0) return rejected('pg_unknown_message', 'not a tagged tuple');
  const e = m.elements;
  const tag = e[0];
  switch (tag) {
    case pgAtoms.discover: {
      if (e.length !== 2 || !(e[1] instanceof Pid))
        return rejected('pg_malformed', 'discover: want {discover, Pid}');
      return { kind: 'discover', peer: e[1] };
    }
    case pgAtoms.join: {
      if (e.length !== 4 || !(e[1] instanceof Pid))
        return rejected('pg_malformed', 'join: want {join, Pid, Group, PidOrPids}');
      const pids = pidsOf(e[3]);
      if (pids === undefined)
        return rejected('pg_malformed', 'join: members must be a pid or a list of pids');
      return { kind: 'join', peer: e[1], group: ownGroup(e[2] as Term), pids };
    }
    case pgAtoms.leave: {
      if (e.length !== 4 || !(e[1] instanceof Pid))
        return rejected('pg_malformed', 'leave: want {leave, Pid, PidOrPids, Groups}');
      const pids = pidsOf(e[2]);
      if (pids === undefined)
        return rejected('pg_malformed', 'leave: members must be a pid or a list of pids');
      const groups = e[3];
      if (!Array.isArray(groups)) return rejected('pg_malformed', 'leave: groups must be a list');
      return { kind: 'leave', peer: e[1], pids, groups: (groups as Term[]).map(ownGroup) };
    }
    case pgAtoms.$gen_cast: {
      const inner = e[1];
      if (e.length !== 2 || !(inner instanceof Tuple) || inner.elements[0] !== pgAtoms.sync) {
        return rejected('pg_unknown_message', 'a cast other than sync');
      }
      return parseSync(inner);
    }
    default:
      return rejected('pg_unknown_message', tag instanceof Tuple ? 'untagged tuple' : `tag ${String(tag)}`);
  }
}

function parseSync(inner: Tuple): PgMessage | PgRejected {
  const [, peer, list] = inner.elements;
  if (inner.length !== 3 || !(peer instanceof Pid) || !Array.isArray(list)) {
    return rejected('pg_malformed', 'sync: want {sync, Pid, [{Group, [Pid]}]}');
  }
  const groups: Array<readonly [Term, Pid[]]> = [];
  const seen = new TermMap<Term, true>();
  for (const entry of list as Term[]) {
    if (!(entry instanceof Tuple) || entry.length !== 2)
      return rejected('pg_malformed', 'sync: an entry is not {Group, Pids}');
    const pids = entry.elements[1];
    if (!Array.isArray(pids)) return rejected('pg_malformed', 'sync: members must be a list of pids');
    const list2 = pidsOf(pids);
    if (list2 === undefined) return rejected('pg_malformed', 'sync: members must be a list of pids');
    const group = ownGroup(entry.elements[0] as Term);
    // A BEAM scope builds the list from a map: a group twice is not something it sends.
    if (seen.has(group)) return rejected('pg_malformed', 'sync: a group is listed twice');
    seen.set(group, true);
    groups.push([group, list2]);
  }
  return { kind: 'sync', peer, groups };
}

/**
 * A group term made safe to keep: a binary holding UTF-8 text becomes a JS string (the same
 * Erlang term, so equality and the wire are unchanged, and readers get `'chat'` whether a TS,
 * Gleam or Elixir node joined `<<"chat">>`); binaries inside are copied, so a kept group never
 * pins the frame it was decoded from.
 */
export function ownGroup(group: Term): Term {
  if (group instanceof Uint8Array) {
    if (isUtf8(group)) return Buffer.from(group.buffer, group.byteOffset, group.byteLength).toString('utf8');
    return Buffer.from(group);
  }
  return detach(group);
}

/** A copy of `t` whose binaries own their bytes; `t` itself when it holds none. */
function detach(t: Term): Term {
  if (t instanceof Uint8Array) return Buffer.from(t);
  if (t instanceof Tuple) {
    const out = detachAll(t.elements);
    return out === t.elements ? t : new Tuple(out as Term[]);
  }
  if (Array.isArray(t)) return detachAll(t as readonly Term[]);
  if (t instanceof ImproperList) {
    const els = detachAll(t.elements);
    const tail = detach(t.tail);
    return els === t.elements && tail === t.tail ? t : new ImproperList(els as Term[], tail);
  }
  if (t instanceof BitBinary) return new BitBinary(Buffer.from(t.data), t.bits);
  if (t instanceof Fun) return new Fun(Buffer.from(t.bytes), t.module, t.arity, t.free.map(detach));
  if (t instanceof Map) {
    let changed = false;
    const entries: Array<[Term, Term]> = [];
    for (const [k, v] of t) {
      const k2 = detach(k);
      const v2 = detach(v);
      if (k2 !== k || v2 !== v) changed = true;
      entries.push([k2, v2]);
    }
    return changed ? new TermMap(entries) : t;
  }
  return t;
}

function detachAll(ts: readonly Term[]): readonly Term[] {
  let out: Term[] | undefined;
  for (let i = 0; i < ts.length; i++) {
    const x = ts[i] as Term;
    const y = detach(x);
    if (y !== x && out === undefined) out = ts.slice(0, i);
    if (out !== undefined) out.push(y);
  }
  return out ?? ts;
}
