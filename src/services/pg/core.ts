/**
 * The state of one `pg` scope, as a pure state machine: inputs are calls (a local join, a
 * message from a peer scope, a monitored process going down, a node going up or down), outputs
 * are collected in {@link PgCore.takeOutputs} for the shell (scope.ts) to perform: messages to
 * send, process monitors to set or drop, notifications for subscribers. No clock, no sockets.
 *
 * State (as OTP 25's `pg.erl`):
 * - `groups`: every group with all its members and its local members (OTP's ETS table). A pid
 *   joined twice appears twice.
 * - `locals`: each local member and the groups it joined (with repeats); monitored, so a member
 *   that exits leaves, and the leave is broadcast.
 * - `peers`: each known peer scope (monitored) and its `Group -> [Pid]` map, which only that peer
 *   changes (join, leave, sync) and which goes whole when the peer scope goes down or its node
 *   disconnects. Remote members are not monitored: their node announces their leaves.
 * - watchers: subscriptions to a group or to the whole scope (OTP 25.1 `monitor/2`,
 *   `monitor_scope/1`), told of every join and leave.
 *
 * Protocol invariant (why we never crash a BEAM scope). OTP 25's `leave` handler does
 * `maps:get(Group, PeerGroups)`: a `leave` naming a group the BEAM does not have for us crashes
 * its scope process. Every `join` and `leave` we send is relative to the membership the peer
 * got in our last `sync`, so a peer must have our `sync` before any of them:
 * - a peer enters `peers` either on its `discover` (we answer with `sync` before anything else)
 *   or on its `sync` when we did not know it (we then send our `sync` at once, unasked; OTP
 *   accepts a `sync` at any time);
 * - a peer that may have forgotten us is dropped first: on `nodedown` (without waiting for the
 *   monitor's DOWN, which comes later) and, in case a nodedown was missed, on `nodeup`. A BEAM
 *   forgets a peer only when its monitor fires, which happens only with a new connection or a
 *   dead scope.
 *
 * Races tolerated (named as in pg.erl):
 * - `join`/`leave` from a peer we do not know (it left the overlay; its node flickered): dropped.
 * - `leave` naming members or groups the peer never announced (a BEAM would crash): the rest
 *   is applied.
 * - a DOWN for a pid no longer monitored: ignored (the shell flushes DOWNs of dropped monitors).
 *
 * Differences from OTP 25, on purpose: a `sync` that changes a known group's members notifies
 * watchers of the joins and leaves it implies (OTP notifies only whole new or gone groups);
 * a local `leave` of several pids announces and notifies only those that were members.
 *
 * @module
 */

import { pidKey, refKey, samePid } from '../../node/signals.ts';
import { equals } from '../../term/compare.ts';
import { TermMap } from '../../term/map.ts';
import type { Atom, Pid, Reference, Term } from '../../term/types.ts';
import {
  discoverMessage,
  joinMessage,
  leaveMessage,
  notificationMessage,
  type PgMessage,
  type PgRejected,
  parsePgMessage,
  syncMessage,
} from './messages.ts';

/** Limits on what peers may make us hold. Remote input is untrusted. */
export interface PgLimits {
  /**
   * Peer scopes tracked at once; a `discover` or `sync` from one more is dropped (logged
   * `pg_peer_limit`). A legitimate cluster has one peer per node and scope.
   */
  readonly maxPeers: number;
  /**
   * Members (pid occurrences) one peer may have us hold; a `join` or `sync` that would pass it
   * is dropped (logged `pg_member_limit`).
   */
  readonly maxMembersPerPeer: number;
}

/** Defaults of {@link PgLimits}, each with its reason. */
export const pgDefaults: PgLimits = Object.freeze({
  // Far above any real cluster (one peer per node), low enough that forged pids cannot grow memory freely.
  maxPeers: 10_000,
  // A million members is ~100 MB of pids: plenty for real groups, a bound for a hostile peer.
  maxMembersPerPeer: 1_000_000,
});

/** Configuration of a {@link PgCore}. */
export interface PgCoreConfig {
  /** Our scope process. */
  readonly self: Pid;
  /** The scope name (the registered name of every scope process of the overlay). */
  readonly scope: Atom;
  /** True while a connection to `node` is up. Messages to peers on other nodes are dropped (`noconnect`). */
  readonly isConnected: (node: Atom) => boolean;
  readonly limits?: Partial<PgLimits>;
}

/** What the shell must do. Perform them in order. */
export type PgOutput =
  /** Send `message` to a pid or to `[name, node]`, only if connected (OTP's `[noconnect]`). */
  | { readonly kind: 'send'; readonly to: Pid | readonly [Atom, Atom]; readonly message: Term }
  /** Start monitoring `pid`; report its DOWN with {@link PgCore.down}. */
  | { readonly kind: 'monitor'; readonly pid: Pid }
  /** Stop monitoring `pid` and drop its DOWN if one is queued. */
  | { readonly kind: 'demonitor'; readonly pid: Pid }
  /** Tell the subscription `ref` (one without a process) of a change. */
  | {
      readonly kind: 'notify';
      readonly ref: Reference;
      readonly action: 'join' | 'leave';
      readonly group: Term;
      readonly pids: readonly Pid[];
    }
  /** The subscription `ref` ended (demonitored, or its process exited). */
  | { readonly kind: 'ended'; readonly ref: Reference };

/** Why an input was dropped; the shell logs it with this code. */
export type PgIgnoreCode =
  /** A pg message whose parts do not have the protocol's shape. */
  | 'pg_malformed'
  /** Not a pg message at all. */
  | 'pg_unknown_message'
  /** `join`/`leave` from a peer scope we do not know (a tolerated race). */
  | 'pg_unknown_peer'
  /** `discover`/`sync` naming a pid of our own node as the peer scope. */
  | 'pg_local_peer'
  /** `discover`/`sync` from a peer whose node is no longer connected (a tolerated race). */
  | 'pg_not_connected'
  /** See {@link PgLimits.maxPeers}. */
  | 'pg_peer_limit'
  /** See {@link PgLimits.maxMembersPerPeer}. */
  | 'pg_member_limit';

/** An input that was dropped, and why. */
export interface PgIgnored {
  readonly code: PgIgnoreCode;
  readonly detail: string;
}

interface GroupRow {
  readonly all: Pid[];
  readonly local: Pid[];
}

interface LocalMember {
  readonly pid: Pid;
  /** Groups joined, a group once per join. */
  readonly groups: Term[];
}

interface Peer {
  readonly pid: Pid;
  groups: TermMap<Term, Pid[]>;
  /** Pid occurrences in `groups`. */
  members: number;
}

interface Watcher {
  readonly ref: Reference;
  /** The local process told by message; undefined for an in-process subscription (`notify` output). */
  readonly pid: Pid | undefined;
  /** The group watched; {@link SCOPE} for the whole scope. */
  readonly group: Term | typeof SCOPE;
}

const SCOPE: unique symbol = Symbol('scope');

/** Removing more pids than this at once from a list goes through a count map instead of scans. */
const BULK_REMOVE = 8;

/** One pg scope's state machine (see the module comment). */
export class PgCore {
  readonly self: Pid;
  readonly scope: Atom;
  readonly limits: PgLimits;
  readonly #isConnected: (node: Atom) => boolean;
  readonly #groups = termKeyed<GroupRow>();
  readonly #locals = new Map<string, LocalMember>();
  readonly #peers = new Map<string, Peer>();
  /** Monitored pids and how many reasons (member, peer, watcher) each has. */
  readonly #monitored = new Map<string, { readonly pid: Pid; roles: number }>();
  readonly #watchers = new Map<string, Watcher>();
  readonly #scopeWatchers = new Set<Watcher>();
  readonly #groupWatchers = termKeyed<Watcher[]>();
  #out: PgOutput[] = [];

  constructor(config: PgCoreConfig) {
    this.self = config.self;
    this.scope = config.scope;
    this.#isConnected = config.isConnected;
    this.limits = { ...pgDefaults, ...config.limits };
    for (const [k, v] of Object.entries(this.limits)) {
      if (!(typeof v === 'number' && v >= 1)) throw new RangeError(`pg limit ${k} must be >= 1, got ${v}`);
    }
  }

  /** The outputs collected since the last call, in order. */
  takeOutputs(): PgOutput[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  // ---- inputs: node events ----

  /** The scope started: discover the scope on every connected node (visible or hidden). */
  start(nodes: Iterable<Atom>): void {
    for (const node of nodes) this.#discover(node);
  }

  /**
   * A connection to `node` came up: discover its scope. Sent over hidden connections too (a BEAM
   * scope only discovers visible nodes; our discover makes the exchange work both ways).
   */
  nodeUp(node: Atom): void {
    if (node === this.self.node) return;
    // A peer still known there belongs to a connection that is gone: it forgot us.
    this.#dropPeersOn(node);
    this.#discover(node);
  }

  /** The connection to `node` went down: its peer scopes and their members go now. */
  nodeDown(node: Atom): void {
    this.#dropPeersOn(node);
  }

  /** A process this core asked to monitor went down (a local member, a peer scope, a watcher). */
  down(pid: Pid): void {
    const key = pidKey(pid);
    if (!this.#monitored.delete(key)) return;
    const local = this.#locals.get(key);
    if (local !== undefined) {
      this.#locals.delete(key);
      for (const group of local.groups) this.#removeFromGroup(group, [pid], true);
      this.#broadcast(leaveMessage(this.self, local.pid, local.groups));
    }
    const peer = this.#peers.get(key);
    if (peer !== undefined) this.#forgetPeer(key, peer);
    for (const w of [...this.#watchers.values()])
      if (w.pid !== undefined && pidKey(w.pid) === key) this.#dropWatcher(w);
  }

  // ---- inputs: messages from peer scopes ----

  /** A message that reached the scope process (other than a DOWN). Returns why it was dropped, if it was. */
  handleMessage(message: Term): PgIgnored | undefined {
    const m = parsePgMessage(message);
    if (m.kind === 'rejected') return ignored(m);
    return this.handle(m);
  }

  /** A parsed protocol message. */
  handle(m: PgMessage): PgIgnored | undefined {
    switch (m.kind) {
      case 'discover':
        return this.#handleDiscover(m.peer);
      case 'sync':
        return this.#handleSync(m.peer, m.groups);
      case 'join':
        return this.#handleJoin(m.peer, m.group, m.pids);
      case 'leave':
        return this.#handleLeave(m.peer, m.pids, m.groups);
    }
  }

  #handleDiscover(peer: Pid): PgIgnored | undefined {
    const bad = this.#checkPeer(peer);
    if (bad !== undefined) return bad;
    const key = pidKey(peer);
    const known = this.#peers.has(key);
    if (!known && this.#peers.size >= this.limits.maxPeers) return peerLimit(this.limits.maxPeers);
    this.#send(peer, syncMessage(this.self, this.#localGroups()));
    if (known) return undefined;
    this.#addPeer(key, peer);
    this.#send(peer, discoverMessage(this.self));
    return undefined;
  }

  #handleSync(peer: Pid, groups: ReadonlyArray<readonly [Term, Pid[]]>): PgIgnored | undefined {
    const bad = this.#checkPeer(peer);
    if (bad !== undefined) return bad;
    let total = 0;
    for (const [, pids] of groups) total += pids.length;
    if (total > this.limits.maxMembersPerPeer) return memberLimit(this.limits.maxMembersPerPeer);
    const key = pidKey(peer);
    let p = this.#peers.get(key);
    if (p === undefined) {
      if (this.#peers.size >= this.limits.maxPeers) return peerLimit(this.limits.maxPeers);
      p = this.#addPeer(key, peer);
      // It learnt of us through our discover, and holds nothing of ours yet: our joins and
      // leaves must find our sync there first (see the module comment).
      this.#send(peer, syncMessage(this.self, this.#localGroups()));
    }
    const old = p.groups;
    const next = new TermMap<Term, Pid[]>();
    for (const [group, pids] of groups) if (pids.length > 0) next.set(group, pids);
    p.groups = next;
    p.members = total;
    for (const [group, pids] of next) {
      const before = old.get(group);
      if (before === undefined) {
        this.#addToGroup(group, pids, false);
        continue;
      }
      old.delete(group);
      const { added, removed } = multisetDiff(before, pids);
      if (removed.length > 0) this.#removeFromGroup(group, removed, false);
      if (added.length > 0) this.#addToGroup(group, added, false);
    }
    for (const [group, pids] of old) this.#removeFromGroup(group, pids, false);
    return undefined;
  }

  #handleJoin(peer: Pid, group: Term, pids: Pid[]): PgIgnored | undefined {
    const p = this.#peers.get(pidKey(peer));
    if (p === undefined)
      return { code: 'pg_unknown_peer', detail: `join from ${peer}, not a known peer scope` };
    if (pids.length === 0) return undefined;
    if (p.members + pids.length > this.limits.maxMembersPerPeer)
      return memberLimit(this.limits.maxMembersPerPeer);
    const list = p.groups.get(group);
    if (list === undefined) p.groups.set(group, pids.slice());
    else for (const pid of pids) list.push(pid);
    p.members += pids.length;
    this.#addToGroup(group, pids, false);
    return undefined;
  }

  #handleLeave(peer: Pid, pids: Pid[], groups: Term[]): PgIgnored | undefined {
    const p = this.#peers.get(pidKey(peer));
    if (p === undefined)
      return { code: 'pg_unknown_peer', detail: `leave from ${peer}, not a known peer scope` };
    for (const group of groups) {
      const list = p.groups.get(group);
      if (list === undefined) continue;
      const removed = removePids(list, pids);
      if (removed.length === 0) continue;
      p.members -= removed.length;
      if (list.length === 0) p.groups.delete(group);
      this.#removeFromGroup(group, removed, false);
    }
    return undefined;
  }

  #checkPeer(peer: Pid): PgIgnored | undefined {
    if (peer.node === this.self.node) return { code: 'pg_local_peer', detail: `${peer} is on this node` };
    if (!this.#isConnected(peer.node))
      return { code: 'pg_not_connected', detail: `${peer.node.name} is not connected` };
    return undefined;
  }

  // ---- inputs: the local API ----

  /**
   * Local processes join `group` (a pid, or several: each may join many times). The caller
   * checked they are local. `group` should already be normalized ({@link ownGroup}).
   */
  join(group: Term, pidOrPids: Pid | readonly Pid[]): void {
    const pids = Array.isArray(pidOrPids) ? (pidOrPids as readonly Pid[]) : [pidOrPids as Pid];
    for (const pid of pids) {
      const key = pidKey(pid);
      let m = this.#locals.get(key);
      if (m === undefined) {
        m = { pid, groups: [] };
        this.#locals.set(key, m);
        this.#retain(key, pid);
      }
      m.groups.push(group);
    }
    if (pids.length === 0) return;
    this.#addToGroup(group, pids, true);
    this.#broadcast(joinMessage(this.self, group, pidOrPids));
  }

  /**
   * Local processes leave `group`, once each (a pid joined twice stays once). Returns false
   * when none of them was a member (OTP's `not_joined`).
   */
  leave(group: Term, pidOrPids: Pid | readonly Pid[]): boolean {
    const single = !Array.isArray(pidOrPids);
    const pids = single ? [pidOrPids as Pid] : (pidOrPids as readonly Pid[]);
    const removed: Pid[] = [];
    for (const pid of pids) {
      const key = pidKey(pid);
      const m = this.#locals.get(key);
      if (m === undefined) continue;
      const i = indexOfGroup(m.groups, group);
      if (i < 0) continue;
      m.groups.splice(i, 1);
      removed.push(m.pid);
      if (m.groups.length === 0) {
        this.#locals.delete(key);
        this.#release(key);
      }
    }
    if (removed.length === 0) return false;
    this.#removeFromGroup(group, removed, true);
    this.#broadcast(leaveMessage(this.self, single ? (removed[0] as Pid) : removed, [group]));
    return true;
  }

  /**
   * Subscribes to changes of `group` (OTP 25.1 `pg:monitor/2`); returns its members now.
   * `watcher`: a local process told by `{Ref, join | leave, Group, Pids}` messages (dropped when it
   * exits); without one, changes come out as `notify` outputs for `ref`.
   */
  monitorGroup(ref: Reference, group: Term, watcher?: Pid): Pid[] {
    const w: Watcher = { ref, pid: watcher, group };
    this.#addWatcher(w);
    const list = this.#groupWatchers.get(group);
    if (list === undefined) this.#groupWatchers.set(group, [w]);
    else list.push(w);
    return this.members(group);
  }

  /** Subscribes to every change of the scope (OTP 25.1 `pg:monitor_scope/1`); returns all groups and members now. */
  monitorScope(ref: Reference, watcher?: Pid): TermMap<Term, Pid[]> {
    const w: Watcher = { ref, pid: watcher, group: SCOPE };
    this.#addWatcher(w);
    this.#scopeWatchers.add(w);
    const snapshot = new TermMap<Term, Pid[]>();
    for (const [group, row] of this.#groups) snapshot.set(group, row.all.slice());
    return snapshot;
  }

  /** Ends a subscription; false if `ref` is none of ours. */
  demonitor(ref: Reference): boolean {
    const w = this.#watchers.get(refKey(ref));
    if (w === undefined) return false;
    this.#dropWatcher(w);
    return true;
  }

  // ---- reads (no outputs) ----

  /** All members of `group`, each as many times as it joined (order unspecified). */
  members(group: Term): Pid[] {
    return this.#groups.get(group)?.all.slice() ?? [];
  }

  /** The members of `group` on this node. */
  localMembers(group: Term): Pid[] {
    return this.#groups.get(group)?.local.slice() ?? [];
  }

  /** Groups with at least one member. */
  whichGroups(): Term[] {
    return [...this.#groups.keys()];
  }

  /** Groups with at least one local member. */
  whichLocalGroups(): Term[] {
    const out: Term[] = [];
    for (const [group, row] of this.#groups) if (row.local.length > 0) out.push(group);
    return out;
  }

  /** Peer scopes we know. */
  peers(): Pid[] {
    return [...this.#peers.values()].map((p) => p.pid);
  }

  /** Active subscriptions. */
  get watcherCount(): number {
    return this.#watchers.size;
  }

  // ---- internals ----

  #discover(node: Atom): void {
    this.#out.push({ kind: 'send', to: [this.scope, node], message: discoverMessage(this.self) });
  }

  #send(to: Pid, message: Term): void {
    this.#out.push({ kind: 'send', to, message });
  }

  #broadcast(message: Term): void {
    for (const p of this.#peers.values()) this.#out.push({ kind: 'send', to: p.pid, message });
  }

  /** Our local members by group: what a `sync` carries. */
  #localGroups(): Array<readonly [Term, readonly Pid[]]> {
    const out: Array<readonly [Term, readonly Pid[]]> = [];
    for (const [group, row] of this.#groups) if (row.local.length > 0) out.push([group, row.local.slice()]);
    return out;
  }

  #addPeer(key: string, pid: Pid): Peer {
    const p: Peer = { pid, groups: new TermMap(), members: 0 };
    this.#peers.set(key, p);
    this.#retain(key, pid);
    return p;
  }

  /** The peer's members leave (its monitor already fired, or is being dropped by the caller). */
  #forgetPeer(key: string, p: Peer): void {
    this.#peers.delete(key);
    for (const [group, pids] of p.groups) this.#removeFromGroup(group, pids, false);
  }

  #dropPeersOn(node: Atom): void {
    for (const [key, p] of [...this.#peers]) {
      if (p.pid.node !== node) continue;
      this.#forgetPeer(key, p);
      this.#release(key);
    }
  }

  #addWatcher(w: Watcher): void {
    this.#watchers.set(refKey(w.ref), w);
    if (w.pid !== undefined) this.#retain(pidKey(w.pid), w.pid);
  }

  #dropWatcher(w: Watcher): void {
    this.#watchers.delete(refKey(w.ref));
    if (w.group === SCOPE) {
      this.#scopeWatchers.delete(w);
    } else {
      const list = this.#groupWatchers.get(w.group);
      if (list !== undefined) {
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.#groupWatchers.delete(w.group);
      }
    }
    if (w.pid !== undefined) this.#release(pidKey(w.pid));
    this.#out.push({ kind: 'ended', ref: w.ref });
  }

  /** One more reason to monitor `pid`; the first one asks the shell to monitor it. */
  #retain(key: string, pid: Pid): void {
    const m = this.#monitored.get(key);
    if (m !== undefined) {
      m.roles++;
      return;
    }
    this.#monitored.set(key, { pid, roles: 1 });
    this.#out.push({ kind: 'monitor', pid });
  }

  /** One reason less; the last one asks the shell to demonitor. */
  #release(key: string): void {
    const m = this.#monitored.get(key);
    if (m === undefined) return;
    if (--m.roles > 0) return;
    this.#monitored.delete(key);
    this.#out.push({ kind: 'demonitor', pid: m.pid });
  }

  #addToGroup(group: Term, pids: readonly Pid[], local: boolean): void {
    let row = this.#groups.get(group);
    if (row === undefined) {
      row = { all: [], local: [] };
      this.#groups.set(group, row);
    }
    for (const pid of pids) row.all.push(pid);
    if (local) for (const pid of pids) row.local.push(pid);
    this.#notify('join', group, pids);
  }

  /** Removes one occurrence of each pid (they are known to be members). */
  #removeFromGroup(group: Term, pids: readonly Pid[], local: boolean): void {
    const row = this.#groups.get(group);
    if (row === undefined) return;
    const removed = removePids(row.all, pids);
    if (local) removePids(row.local, pids);
    if (row.all.length === 0) this.#groups.delete(group);
    if (removed.length > 0) this.#notify('leave', group, removed);
  }

  #notify(action: 'join' | 'leave', group: Term, pids: readonly Pid[]): void {
    if (this.#watchers.size === 0) return;
    for (const w of this.#scopeWatchers) this.#tell(w, action, group, pids);
    const list = this.#groupWatchers.get(group);
    if (list !== undefined) for (const w of list) this.#tell(w, action, group, pids);
  }

  #tell(w: Watcher, action: 'join' | 'leave', group: Term, pids: readonly Pid[]): void {
    if (w.pid !== undefined) {
      this.#out.push({
        kind: 'send',
        to: w.pid,
        message: notificationMessage(w.ref, action, group, pids.slice()),
      });
    } else {
      this.#out.push({ kind: 'notify', ref: w.ref, action, group, pids: pids.slice() });
    }
  }
}

/**
 * A Map whose keys compare as Erlang terms (`equals`): a {@link TermMap}, whose type allows only
 * term values (it is also what the decoder makes) though it stores anything.
 */
function termKeyed<V>(): Map<Term, V> {
  return new TermMap() as unknown as Map<Term, V>;
}

function ignored(r: PgRejected): PgIgnored {
  return { code: r.code, detail: r.detail };
}

function peerLimit(limit: number): PgIgnored {
  return { code: 'pg_peer_limit', detail: `already ${limit} peer scopes` };
}

function memberLimit(limit: number): PgIgnored {
  return { code: 'pg_member_limit', detail: `a peer may hold at most ${limit} members` };
}

function indexOfGroup(groups: readonly Term[], group: Term): number {
  for (let i = 0; i < groups.length; i++) if (equals(groups[i] as Term, group)) return i;
  return -1;
}

/**
 * Removes one occurrence of each of `pids` from `list` (in place, like Erlang's `--`) and returns
 * the ones that were there. Scans for a few pids, counts through a map for many.
 */
export function removePids(list: Pid[], pids: readonly Pid[]): Pid[] {
  const removed: Pid[] = [];
  if (pids.length <= BULK_REMOVE) {
    for (const pid of pids) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (samePid(list[i] as Pid, pid)) {
          list.splice(i, 1);
          removed.push(pid);
          break;
        }
      }
    }
    return removed;
  }
  const want = new Map<string, number>();
  for (const pid of pids) {
    const k = pidKey(pid);
    want.set(k, (want.get(k) ?? 0) + 1);
  }
  let w = 0;
  for (let i = 0; i < list.length; i++) {
    const pid = list[i] as Pid;
    const k = pidKey(pid);
    const n = want.get(k);
    if (n !== undefined && n > 0) {
      want.set(k, n - 1);
      removed.push(pid);
    } else {
      list[w++] = pid;
    }
  }
  list.length = w;
  return removed;
}

/** What turns multiset `before` into `after`. */
function multisetDiff(before: readonly Pid[], after: readonly Pid[]): { added: Pid[]; removed: Pid[] } {
  const counts = new Map<string, { pid: Pid; n: number }>();
  for (const pid of before) {
    const k = pidKey(pid);
    const c = counts.get(k);
    if (c === undefined) counts.set(k, { pid, n: 1 });
    else c.n++;
  }
  const added: Pid[] = [];
  for (const pid of after) {
    const c = counts.get(pidKey(pid));
    if (c !== undefined && c.n > 0) c.n--;
    else added.push(pid);
  }
  const removed: Pid[] = [];
  for (const c of counts.values()) for (let i = 0; i < c.n; i++) removed.push(c.pid);
  return { added, removed };
}
