/**
 * One pg scope on a node: the thin shell around {@link PgCore}. It owns a process registered
 * under the scope name (so `{Scope, Node} ! {discover, Peer}` from any node finds it), feeds the
 * core with what that process receives (the protocol messages, and the DOWN of the processes the
 * core asked to monitor) and with the node's `nodeup`/`nodedown` events, and performs the core's
 * outputs through the process: sends, monitors, demonitors, and deliveries to subscriptions.
 *
 * The local API (`join`, `leave`, `monitor`, ...) runs synchronously on the core, outside the
 * process's mailbox: a join is visible to local reads and on its way to every peer when `join`
 * returns. (OTP serialises writes through the scope process because ETS readers run in parallel;
 * here everything runs on one thread, so the call itself is the serialisation.) Reads answer
 * from local state without a round trip.
 *
 * Outputs are performed in order and never re-entrantly: a subscriber that joins or leaves from
 * inside a notification has its messages queued after the ones being sent, so a peer always sees
 * a join before the leave that follows it.
 *
 * Messages a peer sends that do not fit the protocol are logged with their code (see
 * {@link PgIgnoreCode}) and dropped; the scope goes on. Tolerated races (`pg_unknown_peer`,
 * `pg_not_connected`) are logged at debug, the rest at warn.
 *
 * @module
 */

import type { Logger } from '../../dist/logger.ts';
import type { Node } from '../../node/node.ts';
import type { ProcessContext } from '../../node/process.ts';
import { pidKey, refKey } from '../../node/signals.ts';
import { type Atom, atom, Pid, Reference, type Term, Tuple } from '../../term/types.ts';
import { PgCore, type PgIgnored, type PgLimits, type PgOutput } from './core.ts';
import { PgError } from './errors.ts';
import { ownGroup, pgAtoms } from './messages.ts';
import {
  DEFAULT_MAX_BUFFERED,
  GroupMonitor,
  type PgSubscription,
  ScopeMonitor,
  type SubscriptionHost,
} from './monitor.ts';

/** What a scope needs from its node. A {@link Node} is one. */
export type PgHost = Pick<Node, 'atom' | 'processes' | 'isStopped' | 'nodes' | 'connection' | 'on' | 'off'>;

/** Options of a scope, fixed when it starts. */
export interface PgScopeOptions {
  /** Limits on what peers may make the scope hold (defaults: {@link pgDefaults}). */
  readonly limits?: Partial<PgLimits>;
  /** Default buffer bound of subscription iterators (default {@link DEFAULT_MAX_BUFFERED}). */
  readonly maxBuffered?: number;
}

/** Options of {@link PgScope.monitor} and {@link PgScope.monitorScope}. */
export interface PgMonitorOptions {
  /**
   * Deliver changes to this local process as `{Ref, join | leave, Group, Pids}` messages (as OTP
   * does) instead of as events; the subscription ends when the process exits.
   */
  readonly process?: Pid;
  /** Buffer bound of this subscription's iterator. */
  readonly maxBuffered?: number;
}

/** Options of {@link PgScope.broadcast}. */
export interface PgBroadcastOptions {
  /** The sender the members see (default: the node's system pid). */
  readonly from?: Pid;
}

/** One pg scope (see the module comment). Made by {@link Groups.scope}. */
export class PgScope {
  /** The scope name, which is also its process's registered name. */
  readonly name: Atom;
  /** The scope process. */
  readonly pid: Pid;
  readonly #host: PgHost;
  readonly #logger: Logger;
  readonly #core: PgCore;
  readonly #maxBuffered: number;
  readonly #onRetire: (scope: PgScope) => void;
  /** Monitors the scope process holds, by monitored pid. */
  readonly #monitors = new Map<string, Reference>();
  /** Subscriptions, by reference key. */
  readonly #subs = new Map<string, PgSubscription>();
  readonly #subHost: SubscriptionHost;
  #ctx: ProcessContext | undefined;
  /** Outputs produced before the process ran (it starts after the current synchronous code). */
  #pending: PgOutput[] = [];
  #performing = false;
  #retired = false;

  readonly #onNodeUp = (node: string): void => {
    this.#guard('nodeup', () => this.#core.nodeUp(this.#nodeAtom(node)));
  };
  readonly #onNodeDown = (node: string): void => {
    this.#guard('nodedown', () => this.#core.nodeDown(this.#nodeAtom(node)));
  };

  /** @internal Started by {@link Groups.scope}. */
  constructor(init: {
    host: PgHost;
    logger: Logger;
    name: Atom;
    options: PgScopeOptions | undefined;
    onRetire: (scope: PgScope) => void;
  }) {
    this.#host = init.host;
    this.#logger = init.logger;
    this.name = init.name;
    this.#onRetire = init.onRetire;
    const maxBuffered = init.options?.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    if (!(maxBuffered >= 1))
      throw new PgError('bad_argument', `maxBuffered must be >= 1, got ${maxBuffered}`);
    this.#maxBuffered = maxBuffered;
    this.#subHost = {
      demonitor: (ref) => this.demonitor(ref),
      logListenerError: (error) =>
        this.#logger.error?.(
          { code: 'pg_listener_failed', scope: this.name.name, err: error },
          'a pg subscriber threw',
        ),
    };
    const table = init.host.processes;
    const existing = table.whereis(init.name);
    if (existing !== undefined) {
      throw new PgError(
        'name_taken',
        `${init.name.name} is registered by ${existing}, which is not a pg scope`,
      );
    }
    this.pid = table.spawn((self) => this.#run(self), { name: init.name });
    this.#core = new PgCore({
      self: this.pid,
      scope: init.name,
      isConnected: (node) => this.#host.connection(node.name) !== undefined,
      ...(init.options?.limits !== undefined ? { limits: init.options.limits } : {}),
    });
    init.host.on('nodeup', this.#onNodeUp);
    init.host.on('nodedown', this.#onNodeDown);
    this.#core.start(init.host.nodes('connected').map((n) => this.#nodeAtom(n)));
    this.#perform();
  }

  /** True while the scope process lives. */
  get running(): boolean {
    return !this.#retired && (this.#ctx?.alive ?? this.#host.processes.isAlive(this.pid));
  }

  /** The limits in force. */
  get limits(): PgLimits {
    return this.#core.limits;
  }

  // ---- writes ----

  /**
   * Local processes join `group` (`pg:join/3`). A process may join a group many times and is
   * then listed that many times. `group` is any term; a JS string is a UTF-8 binary on the wire.
   * Throws {@link PgError} `not_local` for a pid of another node (nothing joins then).
   */
  join(group: Term, pids: Pid | readonly Pid[]): void {
    const list = this.#localPids(pids, 'join');
    this.#usable();
    this.#core.join(ownGroup(group), list);
    this.#perform();
  }

  /**
   * Local processes leave `group` once each (`pg:leave/3`). Returns false when none of them was
   * a member (OTP's `not_joined`).
   */
  leave(group: Term, pids: Pid | readonly Pid[]): boolean {
    const list = this.#localPids(pids, 'leave');
    this.#usable();
    const left = this.#core.leave(ownGroup(group), list);
    this.#perform();
    return left;
  }

  /**
   * Sends `message` to every member of `group`, on every node (a member joined twice gets it
   * twice, as a loop over `pg:get_members/2` would). Returns how many sends were made.
   */
  broadcast(group: Term, message: Term, options?: PgBroadcastOptions): number {
    const members = this.#core.members(group);
    const table = this.#host.processes;
    const from = options?.from;
    for (const pid of members) table.send(pid, message, from);
    return members.length;
  }

  /**
   * Subscribes to the joins and leaves of `group` (`pg:monitor/2`, OTP 25.1). The result holds
   * the members now and delivers every later change (see monitor.ts).
   */
  monitor(group: Term, options?: PgMonitorOptions): GroupMonitor {
    const watcher = this.#watcher(options);
    this.#usable();
    const ref = this.#host.processes.makeRef();
    const g = ownGroup(group);
    const members = this.#core.monitorGroup(ref, g, watcher);
    const sub = new GroupMonitor(
      this.#subHost,
      ref,
      watcher,
      options?.maxBuffered ?? this.#maxBuffered,
      g,
      members,
    );
    this.#subs.set(refKey(ref), sub);
    this.#perform();
    return sub;
  }

  /** Subscribes to every join and leave of the scope (`pg:monitor_scope/1`, OTP 25.1). */
  monitorScope(options?: PgMonitorOptions): ScopeMonitor {
    const watcher = this.#watcher(options);
    this.#usable();
    const ref = this.#host.processes.makeRef();
    const groups = this.#core.monitorScope(ref, watcher);
    const sub = new ScopeMonitor(
      this.#subHost,
      ref,
      watcher,
      options?.maxBuffered ?? this.#maxBuffered,
      groups,
    );
    this.#subs.set(refKey(ref), sub);
    this.#perform();
    return sub;
  }

  /** Ends a subscription by its reference (`pg:demonitor/2`); false when it is not active. */
  demonitor(ref: Reference): boolean {
    if (this.#retired) return false;
    const ended = this.#core.demonitor(ref);
    this.#perform();
    return ended;
  }

  // ---- reads: local state, no round trip ----

  /** Every member of `group` on every node (`pg:get_members/2`); a pid joined twice is listed twice. */
  members(group: Term): Pid[] {
    return this.#retired ? [] : this.#core.members(group);
  }

  /** The members of `group` on this node (`pg:get_local_members/2`). */
  localMembers(group: Term): Pid[] {
    return this.#retired ? [] : this.#core.localMembers(group);
  }

  /** Groups with at least one member (`pg:which_groups/1`). */
  whichGroups(): Term[] {
    return this.#retired ? [] : this.#core.whichGroups();
  }

  /** Groups with at least one local member (`pg:which_local_groups/1`). */
  whichLocalGroups(): Term[] {
    return this.#retired ? [] : this.#core.whichLocalGroups();
  }

  /** The peer scopes this scope exchanges with (one per node running the scope). */
  peers(): Pid[] {
    return this.#retired ? [] : this.#core.peers();
  }

  // ---- the process ----

  async #run(self: ProcessContext): Promise<void> {
    this.#ctx = self;
    try {
      const pending = this.#pending;
      this.#pending = [];
      this.#performing = true;
      try {
        for (const o of pending) this.#do(o);
      } finally {
        this.#performing = false;
      }
      this.#perform();
      for (;;) {
        let m: Term | undefined = await self.receive();
        while (m !== undefined) {
          this.#onMessage(m);
          m = self.tryReceive();
        }
      }
    } finally {
      this.#retire();
    }
  }

  #onMessage(m: Term): void {
    try {
      if (m instanceof Tuple && m.length === 5 && m.elements[0] === pgAtoms.DOWN) {
        this.#onDown(m);
        return;
      }
      const ignored = this.#core.handleMessage(m);
      this.#perform();
      if (ignored !== undefined) this.#logIgnored(ignored);
    } catch (error) {
      if (!this.running) throw error;
      this.#logger.error?.(
        { code: 'pg_internal', scope: this.name.name, err: error },
        'a pg scope failed to handle a message',
      );
    }
  }

  /** `{'DOWN', Ref, process, Pid, Reason}` of a monitor the core asked for; anything else is stray. */
  #onDown(m: Tuple): void {
    const [, ref, type, pid] = m.elements;
    if (ref instanceof Reference && type === pgAtoms.process && pid instanceof Pid) {
      const key = pidKey(pid);
      const mine = this.#monitors.get(key);
      if (mine !== undefined && refKey(mine) === refKey(ref)) {
        this.#monitors.delete(key);
        this.#core.down(pid);
        this.#perform();
        return;
      }
    }
    this.#logger.debug?.(
      { code: 'pg_unknown_message', scope: this.name.name },
      'pg scope dropped a DOWN for no monitor of its own',
    );
  }

  /** Performs the core's outputs, in order; a nested call leaves its outputs to the running loop. */
  #perform(): void {
    if (this.#performing) return;
    if (this.#ctx === undefined) {
      for (const o of this.#core.takeOutputs()) this.#pending.push(o);
      return;
    }
    this.#performing = true;
    try {
      for (;;) {
        const outs = this.#core.takeOutputs();
        if (outs.length === 0) return;
        for (const o of outs) {
          if (this.#retired) return;
          this.#do(o);
        }
      }
    } finally {
      this.#performing = false;
    }
  }

  #do(o: PgOutput): void {
    const ctx = this.#ctx as ProcessContext;
    if (!ctx.alive) {
      this.#retire();
      return;
    }
    switch (o.kind) {
      case 'send': {
        const to = o.to;
        if (to instanceof Pid) {
          // OTP sends with [noconnect]: to a node not connected (any more), nothing goes.
          if (to.node !== this.#host.atom && this.#host.connection(to.node.name) === undefined) return;
          ctx.send(to, o.message);
          return;
        }
        if (this.#host.connection(to[1].name) === undefined) return;
        ctx.send(to, o.message);
        return;
      }
      case 'monitor':
        this.#monitors.set(pidKey(o.pid), ctx.monitor(o.pid));
        return;
      case 'demonitor': {
        const key = pidKey(o.pid);
        const ref = this.#monitors.get(key);
        if (ref === undefined) return;
        this.#monitors.delete(key);
        ctx.demonitor(ref, { flush: true });
        return;
      }
      case 'notify': {
        const sub = this.#subs.get(refKey(o.ref));
        sub?.deliver({ ref: o.ref, action: o.action, group: o.group, pids: o.pids });
        return;
      }
      case 'ended': {
        const key = refKey(o.ref);
        const sub = this.#subs.get(key);
        this.#subs.delete(key);
        sub?.end();
        return;
      }
    }
  }

  /** The scope process has exited: the scope stops for good (a new one starts on next use). */
  #retire(): void {
    if (this.#retired) return;
    this.#retired = true;
    this.#host.off('nodeup', this.#onNodeUp);
    this.#host.off('nodedown', this.#onNodeDown);
    this.#pending = [];
    this.#monitors.clear();
    const subs = [...this.#subs.values()];
    this.#subs.clear();
    for (const s of subs) s.end();
    if (!this.#host.isStopped) {
      this.#logger.warn?.(
        { code: 'pg_scope_down', scope: this.name.name },
        `pg scope ${this.name.name} exited`,
      );
    }
    this.#onRetire(this);
  }

  // ---- helpers ----

  #guard(what: string, fn: () => void): void {
    if (this.#retired) return;
    if (!this.running) {
      this.#retire();
      return;
    }
    try {
      fn();
      this.#perform();
    } catch (error) {
      this.#logger.error?.(
        { code: 'pg_internal', scope: this.name.name, event: what, err: error },
        'pg scope failed',
      );
    }
  }

  #usable(): void {
    if (this.running) return;
    this.#retire();
    throw new PgError('scope_down', `pg scope ${this.name.name} is down`);
  }

  #localPids(pids: Pid | readonly Pid[], op: string): Pid | Pid[] {
    const node = this.#host.atom;
    if (pids instanceof Pid) {
      if (pids.node !== node) throw new PgError('not_local', `${op}: ${pids} is not a process of this node`);
      return pids;
    }
    if (!Array.isArray(pids)) throw new PgError('bad_argument', `${op}: want a pid or an array of pids`);
    const list = (pids as readonly unknown[]).slice() as Pid[];
    for (const p of list) {
      if (!(p instanceof Pid)) throw new PgError('bad_argument', `${op}: ${String(p)} is not a pid`);
      if (p.node !== node) throw new PgError('not_local', `${op}: ${p} is not a process of this node`);
    }
    return list;
  }

  #watcher(options: PgMonitorOptions | undefined): Pid | undefined {
    const p = options?.process;
    if (p === undefined) return undefined;
    if (!(p instanceof Pid)) throw new PgError('bad_argument', 'monitor: process must be a pid');
    if (p.node !== this.#host.atom)
      throw new PgError('not_local', `monitor: ${p} is not a process of this node`);
    return p;
  }

  #nodeAtom(node: string): Atom {
    // Node names from the node's own events: already interned by the connection table.
    return atom(node);
  }

  #logIgnored(i: PgIgnored): void {
    const fields = { code: i.code, scope: this.name.name, detail: i.detail };
    const message = `pg scope ${this.name.name} dropped a message: ${i.detail}`;
    if (i.code === 'pg_unknown_peer' || i.code === 'pg_not_connected') this.#logger.debug?.(fields, message);
    else this.#logger.warn?.(fields, message);
  }
}
