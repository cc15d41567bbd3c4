/**
 * The tables of `global_name_server` (OTP's `global_names`, `global_locks` and their pid
 * indexes) and the built-in conflict resolution methods.
 *
 * Names and lock resources are any term, compared as Erlang compares them (a JS string is the
 * UTF-8 binary it encodes to). Each table keeps a pid index so that the death of a process (a
 * DOWN, or `noconnection` when its node goes) removes its names and its locks in one lookup.
 *
 * The resolve methods are pure decisions: which pid keeps the name, and which exit signals or
 * messages the loser gets. The caller performs those effects.
 *
 * @module
 */

import { pidKey } from '../../node/signals.ts';
import { equals } from '../../term/compare.ts';
import { TermMap } from '../../term/map.ts';
import { ExportFun, Fun, type Pid, type Term, Tuple } from '../../term/types.ts';
import { G, type LockId, type NameEntry } from './messages.ts';

/** A map keyed by Erlang terms (structural keys, as {@link TermMap}) to any value. */
export class TermKeyMap<V> {
  // TermMap only types term values; the records stored here are never encoded.
  readonly #map = new TermMap<Term, Term>();
  get size(): number {
    return this.#map.size;
  }
  get(key: Term): V | undefined {
    return this.#map.get(key) as V | undefined;
  }
  has(key: Term): boolean {
    return this.#map.has(key);
  }
  set(key: Term, value: V): void {
    this.#map.set(key, value as unknown as Term);
  }
  delete(key: Term): boolean {
    return this.#map.delete(key);
  }
  values(): IterableIterator<V> {
    return this.#map.values() as IterableIterator<V>;
  }
}

/** A registered name. */
export type NameRecord = NameEntry;

/** The registered names of one node, with a pid index. */
export class NameTable {
  readonly #byName = new TermKeyMap<NameRecord>();
  readonly #byPid = new Map<string, Set<NameRecord>>();

  /** Number of names. */
  get size(): number {
    return this.#byName.size;
  }

  get(name: Term): NameRecord | undefined {
    return this.#byName.get(name);
  }

  /** Inserts (or replaces) `entry`; returns the replaced record, if any. */
  insert(entry: NameEntry): NameRecord | undefined {
    const old = this.delete(entry.name);
    const rec: NameRecord = { name: entry.name, pid: entry.pid, method: entry.method };
    this.#byName.set(entry.name, rec);
    const key = pidKey(entry.pid);
    let set = this.#byPid.get(key);
    if (set === undefined) {
      set = new Set();
      this.#byPid.set(key, set);
    }
    set.add(rec);
    return old;
  }

  /** Removes a name; returns its record, if it was there. */
  delete(name: Term): NameRecord | undefined {
    const rec = this.#byName.get(name);
    if (rec === undefined) return undefined;
    this.#byName.delete(name);
    const key = pidKey(rec.pid);
    const set = this.#byPid.get(key);
    set?.delete(rec);
    if (set?.size === 0) this.#byPid.delete(key);
    return rec;
  }

  /** The names `pid` holds (normally at most one). */
  namesOf(pid: Pid): NameRecord[] {
    const set = this.#byPid.get(pidKey(pid));
    return set === undefined ? [] : [...set];
  }

  /** Every record, in insertion order. */
  records(): IterableIterator<NameRecord> {
    return this.#byName.values();
  }
}

/** A lock: the resource, the requester id it is held under, and the holder pids. */
export interface LockRecord {
  readonly resource: Term;
  readonly requester: Term;
  readonly holders: Pid[];
}

/** The locks held on one node, with a pid index. */
export class LockTable {
  readonly #byResource = new TermKeyMap<LockRecord>();
  readonly #byPid = new Map<string, Set<LockRecord>>();

  get size(): number {
    return this.#byResource.size;
  }

  get(resource: Term): LockRecord | undefined {
    return this.#byResource.get(resource);
  }

  /** `can_set_lock/1`: the lock is free, or held under the same requester id. */
  canSet(id: LockId): boolean {
    const rec = this.#byResource.get(id.resource);
    return rec === undefined || equals(rec.requester, id.requester);
  }

  /** True when `resource` is locked. */
  isSet(resource: Term): boolean {
    return this.#byResource.has(resource);
  }

  /** True when `pid` holds the lock on `resource`. */
  holds(resource: Term, pid: Pid): boolean {
    const rec = this.#byResource.get(resource);
    return rec?.holders.some((p) => pidKey(p) === pidKey(pid)) === true;
  }

  /**
   * `handle_set_lock/3`: adds `pid` as a holder of `id` if the lock can be set. Returns `false`
   * when it cannot, `'added'` when `pid` became a holder, `'held'` when it already was one.
   */
  set(id: LockId, pid: Pid): false | 'added' | 'held' {
    let rec = this.#byResource.get(id.resource);
    if (rec !== undefined && !equals(rec.requester, id.requester)) return false;
    if (rec === undefined) {
      rec = { resource: id.resource, requester: id.requester, holders: [] };
      this.#byResource.set(id.resource, rec);
    } else if (rec.holders.some((p) => pidKey(p) === pidKey(pid))) {
      return 'held';
    }
    rec.holders.unshift(pid);
    const key = pidKey(pid);
    let set = this.#byPid.get(key);
    if (set === undefined) {
      set = new Set();
      this.#byPid.set(key, set);
    }
    set.add(rec);
    return 'added';
  }

  /**
   * `handle_del_lock/3` and `remove_lock/6`: removes `pid` from the holders of `id` (only when the
   * requester id matches), deleting the lock when no holder is left. Returns true if `pid` was a
   * holder, and whether the lock itself went.
   */
  remove(id: LockId, pid: Pid): { removed: boolean; deleted: boolean } {
    const rec = this.#byResource.get(id.resource);
    if (rec === undefined || !equals(rec.requester, id.requester)) return { removed: false, deleted: false };
    return this.#removeHolder(rec, pid);
  }

  /** The locks `pid` holds. */
  locksOf(pid: Pid): LockRecord[] {
    const set = this.#byPid.get(pidKey(pid));
    return set === undefined ? [] : [...set];
  }

  /** Removes `pid` from every lock it holds; returns the resources whose lock went. */
  removePid(pid: Pid): Term[] {
    const deleted: Term[] = [];
    for (const rec of this.locksOf(pid)) {
      if (this.#removeHolder(rec, pid).deleted) deleted.push(rec.resource);
    }
    return deleted;
  }

  /** Every lock. */
  records(): IterableIterator<LockRecord> {
    return this.#byResource.values();
  }

  #removeHolder(rec: LockRecord, pid: Pid): { removed: boolean; deleted: boolean } {
    const key = pidKey(pid);
    const i = rec.holders.findIndex((p) => pidKey(p) === key);
    if (i < 0) return { removed: false, deleted: false };
    rec.holders.splice(i, 1);
    const set = this.#byPid.get(key);
    set?.delete(rec);
    if (set?.size === 0) this.#byPid.delete(key);
    if (rec.holders.length > 0) return { removed: true, deleted: false };
    this.#byResource.delete(rec.resource);
    return { removed: true, deleted: true };
  }
}

/** The conflict resolution methods of OTP's `global` module. */
export type BuiltinMethod = 'random_exit' | 'random_notify' | 'notify_all';

/**
 * The built-in a method term stands for: `fun global:random_exit_name/3` and friends, or a local
 * fun of module `global` (BEAM's default method, `fun random_exit_name/3` as a NEW_FUN_EXT: in
 * OTP 25 the only local fun of `global` ever used as a method). Undefined for anything else.
 */
export function builtinMethod(method: Term): BuiltinMethod | undefined {
  if (method instanceof ExportFun) {
    if (method.module !== G.global || method.arity !== 3) return undefined;
    if (method.name === G.random_exit_name) return 'random_exit';
    if (method.name === G.random_notify_name) return 'random_notify';
    if (method.name === G.notify_all_name) return 'notify_all';
    return undefined;
  }
  if (method instanceof Fun && method.module === G.global && method.arity === 3) return 'random_exit';
  return undefined;
}

/** Something a resolve method does to a process. */
export type ResolveEffect =
  | { readonly kind: 'exit'; readonly pid: Pid; readonly reason: Term }
  | { readonly kind: 'send'; readonly pid: Pid; readonly message: Term };

/** `minmax/2` of global: by node name; on the same node the second pid is Min. */
export function minmax(p1: Pid, p2: Pid): { min: Pid; max: Pid } {
  return p1.node.name < p2.node.name ? { min: p1, max: p2 } : { min: p2, max: p1 };
}

/**
 * `resolve_it/4` for a built-in method: the pid that keeps `name` (or `none`) and the effects,
 * exactly as OTP's `random_exit_name/3`, `random_notify_name/3` and `notify_all_name/3`.
 */
export function resolveBuiltin(
  method: BuiltinMethod,
  name: Term,
  pid1: Pid,
  pid2: Pid,
): { result: Term; effects: ResolveEffect[] } {
  switch (method) {
    case 'random_exit': {
      const { min, max } = minmax(pid1, pid2);
      return { result: min, effects: [{ kind: 'exit', pid: max, reason: G.kill }] };
    }
    case 'random_notify': {
      const { min, max } = minmax(pid1, pid2);
      return {
        result: min,
        effects: [{ kind: 'send', pid: max, message: new Tuple([G.global_name_conflict, name]) }],
      };
    }
    case 'notify_all':
      return {
        result: G.none,
        effects: [
          { kind: 'send', pid: pid1, message: new Tuple([G.global_name_conflict, name, pid2]) },
          { kind: 'send', pid: pid2, message: new Tuple([G.global_name_conflict, name, pid1]) },
        ],
      };
  }
}
