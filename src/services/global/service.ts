/**
 * The shell of the global name server on a {@link Node}: the processes other nodes talk to, and
 * the driver that feeds the pure core (core.ts) and performs what it asks.
 *
 * Processes (each a real process of the node, so other nodes can monitor them and send to them):
 * - `global_name_server` (registered): receives casts, calls and raw protocol messages, the DOWNs
 *   of the pids the core watches, and the service's own events (nodeup/nodedown, timers, results).
 *   Node events go through its mailbox so they keep their order with the messages around them: a
 *   nodedown comes after the DOWNs of that node's processes, as OTP relies on.
 * - the locker, the registrar and the API lock client: the callers of the core's gen_server calls
 *   (their pids are part of lock ids and are recorded as lock holders on every node). Each takes
 *   the replies and the DOWNs of its calls' monitors from its own mailbox.
 *
 * Calls go out as OTP 25's `gen_server:multi_call` sends them (`{'$gen_call', {Pid, {Ref, Node}},
 * Req}`), with one difference on our side only: where multi_call monitors `{global_name_server,
 * Node}` for each call, each caller here keeps one monitor per node for as long as the server
 * lives, and its DOWN fails every call in flight there (a "bad node", as multi_call's DOWN does).
 * That saves a MONITOR_P and a DEMONITOR_P per remote call; the peer sees a long-lived monitor.
 * Likewise the monitor of a remote lock holder outlives its lock for a while (`linger`), as the
 * same registrar locks again on the next registration.
 *
 * Conflict resolution runs `global:resolve_it/4` where OTP runs it: on the node of the pid being
 * asked. Here through `node.rpc` (erpc, or rex for peers without SPAWN), and this node exposes
 * `global:resolve_it/4` so a BEAM node that resolves a clash involving one of our pids reaches us
 * the same way it reaches another BEAM node.
 *
 * @module
 */

import type { Logger } from '../../dist/logger.ts';
import { RefMap } from '../../node/churn-map.ts';
import { isExitSignal } from '../../node/errors.ts';
import { genReply } from '../../node/net-kernel.ts';
import type { Node } from '../../node/node.ts';
import type { ProcessContext } from '../../node/process.ts';
import { pidKey, refKey } from '../../node/signals.ts';
import { Prng } from '../../sim/prng.ts';
import { equals } from '../../term/compare.ts';
import { type Atom, atom, atoms, ExportFun, Pid, Reference, type Term, Tuple } from '../../term/types.ts';
import { RpcError } from '../errors.ts';
import { GlobalCore, type GlobalInput, type GlobalOutput, globalCoreDefaults } from './core.ts';
import { GlobalError } from './errors.ts';
import type { Actor } from './locks.ts';
import { G, genCall, genCast, inSync, TS_RESOLVER } from './messages.ts';
import { builtinMethod, resolveBuiltin, TermKeyMap } from './names.ts';

/** Options of the global service. */
export interface GlobalOptions {
  /** `prevent_overlapping_partitions` (OTP 25's default: true). Set before connecting. */
  readonly preventOverlappingPartitions?: boolean;
  /** How long a clash waits for `resolve_it` on another node, in ms; then `{badrpc, timeout}`. Default 30 000. */
  readonly resolveTimeoutMs?: number;
  /** Most names the table holds. Default 1 000 000. */
  readonly maxNames?: number;
  /** Most locked resources at once. Default 100 000. */
  readonly maxLocks?: number;
}

/** Defaults of {@link GlobalOptions} the service adds to the core's. */
export const globalDefaults: { readonly resolveTimeoutMs: number } = Object.freeze({
  // OTP waits forever (rpc:call/4); a hung peer must not hold a connect session, and its lock, for ever.
  resolveTimeoutMs: 30_000,
});

/** A TypeScript conflict resolver: the pid that keeps the name, or `'none'` to drop it everywhere. */
export type ResolveFunction = (name: Term, pid1: Pid, pid2: Pid) => Pid | 'none' | Promise<Pid | 'none'>;

/** An event of the service itself, delivered through the server's mailbox (never a term). */
class ServiceEvent {
  readonly input: GlobalInput;
  constructor(input: GlobalInput) {
    this.input = input;
  }
}

interface PendingCall {
  /** The call's tag. */
  readonly ref: Reference;
  readonly id: number;
  readonly node: Atom;
  /** The monitor of `{global_name_server, Node}` that fails this call if the server goes. */
  readonly link: Link;
}

/**
 * One caller's monitor of `{global_name_server, Node}`, shared by all its calls there (OTP's
 * multi_call monitors per call; the DOWN means the same: every call in flight is a bad node).
 */
interface Link {
  readonly key: string;
  readonly ref: Reference;
  /** The calls in flight through this monitor. */
  readonly pending: RefMap<PendingCall>;
}

/**
 * Most lingering monitors (see the core's `unwatch` output): enough for the lockers and
 * registrars of a large cluster; a peer's many lock clients cannot make us hold more.
 */
const MAX_LINGERING = 64;
const NOCONNECTION = atom('noconnection');
const EXIT = atom('EXIT');
const DOWN = atom('DOWN');
const BADFUN = atom('badfun');
const JS_ERROR = atom('js_error');

/** The global service of one node. Use it through `node.global` (api.ts). */
export class GlobalService {
  readonly node: Node;
  readonly core: GlobalCore;
  readonly #logger: Logger;
  #resolveTimeoutMs: number;
  readonly #ctx = new Map<Actor, ProcessContext>();
  readonly #pids: Record<Actor, Pid>;
  /** Calls in flight, by their tag (a RefMap: one comes and goes per call; see churn-map.ts). */
  readonly #calls = new RefMap<PendingCall>();
  /** Monitors of remote servers, by `actor\0node`, and by the refKey of the monitor. */
  readonly #links = new Map<string, Link>();
  readonly #linkRefs = new Map<string, Link>();
  readonly #watches = new Map<string, Reference>();
  readonly #watchRefs = new Map<string, Pid>();
  /** Monitors the core dropped with `linger` (lock holders), kept for its next `watch`; oldest first. */
  readonly #lingering = new Map<string, Reference>();
  /** The core's timers, by id: what cancels each. */
  readonly #timers = new Map<number, () => void>();
  readonly #ops = new Map<number, { resolve(v: Term): void; reject(e: unknown): void }>();
  readonly #handlers = new TermKeyMap<{ readonly pid: Pid; readonly fn: ResolveFunction }>();
  #nextOp = 1;
  #feeding = false;
  /** Inputs waiting for the current one to finish, or for the processes to start. */
  readonly #backlog: GlobalInput[] = [];
  #stopped = false;

  constructor(node: Node, logger: Logger, options: GlobalOptions = {}) {
    this.node = node;
    this.#logger = logger;
    this.#resolveTimeoutMs = options.resolveTimeoutMs ?? globalDefaults.resolveTimeoutMs;
    const t = node.processes;
    const server = t.spawn((self) => this.#serverLoop(self), { name: G.global_name_server, trapExit: true });
    const locker = t.spawn((self) => this.#actorLoop('locker', self), { trapExit: true });
    const registrar = t.spawn((self) => this.#actorLoop('registrar', self), { trapExit: true });
    const client = t.spawn((self) => this.#actorLoop('client', self), { trapExit: true });
    this.#pids = { server, locker, registrar, client };
    const seed = Number.parseInt(node.creation.toString(16).slice(-7), 16) ^ (Date.now() & 0x7fffffff);
    this.core = new GlobalCore({
      node: node.atom,
      creation: node.creation,
      pids: this.#pids,
      rng: new Prng(seed >>> 0),
      isAlive: (pid) => t.isAlive(pid),
      preventOverlappingPartitions:
        options.preventOverlappingPartitions ?? globalCoreDefaults.preventOverlappingPartitions,
      ...(options.maxNames !== undefined ? { maxNames: options.maxNames } : {}),
      ...(options.maxLocks !== undefined ? { maxLocks: options.maxLocks } : {}),
    });
    node.on('nodeup', (name, info) => {
      if (!info.hidden) this.#event({ kind: 'nodeup', node: atom(name) });
    });
    node.on('nodedown', (name, info) => {
      if (!info.hidden) this.#event({ kind: 'nodedown', node: atom(name) });
    });
    // BEAM nodes resolving a clash that involves one of our pids call us here (rpc:call/4).
    node.rpc.expose(G.global, {
      resolve_it: { fn: (m: Term, n: Term, p1: Term, p2: Term) => this.resolveIt(m, n, p1, p2), arity: 4 },
    });
  }

  /** Changes settings from now on (see {@link GlobalOptions}); a bad value throws `bad_argument`. */
  configure(options: GlobalOptions): void {
    checkOptions(options);
    if (options.resolveTimeoutMs !== undefined) this.#resolveTimeoutMs = options.resolveTimeoutMs;
    this.core.configure({
      ...(options.preventOverlappingPartitions !== undefined
        ? { preventOverlappingPartitions: options.preventOverlappingPartitions }
        : {}),
      ...(options.maxNames !== undefined ? { maxNames: options.maxNames } : {}),
      ...(options.maxLocks !== undefined ? { maxLocks: options.maxLocks } : {}),
    });
  }

  /** The pids of the service's processes. */
  get pids(): Readonly<Record<Actor, Pid>> {
    return this.#pids;
  }

  /** Starts an API request; resolves with the core's result. */
  request(make: (op: number) => GlobalInput): Promise<Term> {
    if (this.#stopped) return Promise.reject(stoppedError());
    const op = this.#nextOp++;
    const p = new Promise<Term>((resolve, reject) => this.#ops.set(op, { resolve, reject }));
    this.#feed(make(op));
    return p;
  }

  /**
   * Remembers the TypeScript resolver of a name we registered for `pid` (the method on the wire is
   * {@link TS_RESOLVER}); `undefined` forgets it.
   */
  setHandler(name: Term, handler: { readonly pid: Pid; readonly fn: ResolveFunction } | undefined): void {
    if (handler === undefined) this.#handlers.delete(name);
    else this.#handlers.set(name, handler);
  }

  /**
   * `global:resolve_it/4` on this node: `catch Method(Name, Pid1, Pid2)`. Built-in methods run
   * as OTP's (the loser is killed or notified from here); a name registered with a TypeScript
   * resolver runs it; any other method gives `{'EXIT', {badfun, Method}}`, which global treats
   * as "delete the name everywhere".
   */
  async resolveIt(method: Term, name: Term, pid1: Term, pid2: Term): Promise<Term> {
    const now = this.#resolveNow(method, name, pid1, pid2);
    if (now !== undefined) return now;
    // Undefined only when our resolver for one of the two pids is registered here.
    const h = this.#handlers.get(name)!;
    try {
      const r = await h.fn(name, pid1 as Pid, pid2 as Pid);
      return r === 'none' ? G.none : r;
    } catch (e) {
      return new Tuple([EXIT, new Tuple([JS_ERROR, e instanceof Error ? e.message : String(e)])]);
    }
  }

  /**
   * {@link resolveIt} where it needs no waiting (a built-in method, a bad argument, an unknown
   * method, a TS resolver that is not here); `undefined` when this node's TS resolver must run.
   */
  #resolveNow(method: Term, name: Term, pid1: Term, pid2: Term): Term | undefined {
    if (!(pid1 instanceof Pid) || !(pid2 instanceof Pid)) return new Tuple([EXIT, atoms.badarg]);
    const builtin = builtinMethod(method);
    if (builtin !== undefined) {
      const { result, effects } = resolveBuiltin(builtin, name, pid1, pid2);
      this.#logger.info?.({ code: 'name_conflict', method: builtin }, 'global: name conflict resolved');
      for (const e of effects) {
        if (e.kind === 'exit') this.node.processes.exit(e.pid, e.reason, this.#pids.server);
        else this.node.processes.send(e.pid, e.message, this.#pids.server);
      }
      return result;
    }
    if (method instanceof ExportFun && equals(method, TS_RESOLVER)) {
      const h = this.#handlers.get(name);
      // No resolver here for this owner (registered elsewhere, or since forgotten): OTP's default.
      if (h === undefined || !(equals(h.pid, pid1) || equals(h.pid, pid2))) {
        return this.#resolveNow(randomExit, name, pid1, pid2);
      }
      return undefined;
    }
    return new Tuple([EXIT, new Tuple([BADFUN, method])]);
  }

  // --- processes ---

  #started(actor: Actor, self: ProcessContext): void {
    this.#ctx.set(actor, self);
    if (this.#ctx.size < 4) return;
    const first = this.#backlog.shift();
    if (first !== undefined) this.#feed(first);
  }

  async #serverLoop(self: ProcessContext): Promise<void> {
    this.#started('server', self);
    try {
      for (;;) {
        // What is queued is taken without a promise per message; wait only when empty.
        const m = (self.tryReceive() ?? (await self.receive())) as unknown;
        if (m instanceof ServiceEvent) {
          this.#feed(m.input);
          continue;
        }
        const t = m as Term;
        const down = this.#downOf(t);
        if (down !== undefined) {
          const pid = this.#watchRefs.get(refKey(down));
          if (pid !== undefined) {
            this.#watchRefs.delete(refKey(down));
            // A lingering monitor's DOWN: the core no longer watches the pid.
            if (this.#lingering.delete(pidKey(pid))) continue;
            this.#watches.delete(pidKey(pid));
            this.#feed({ kind: 'down', pid });
            continue;
          }
        }
        this.#feed({ kind: 'message', message: t });
      }
    } catch (e) {
      if (!isExitSignal(e)) this.#logger.error?.({ code: 'internal', err: e }, 'global_name_server crashed');
    } finally {
      this.#stop();
    }
  }

  async #actorLoop(actor: Actor, self: ProcessContext): Promise<void> {
    this.#started(actor, self);
    try {
      for (;;) {
        const m = self.tryReceive() ?? (await self.receive());
        if (this.#callAnswer(m)) continue;
        if (actor === 'locker') this.#feed({ kind: 'locker_message', message: m });
      }
    } catch (e) {
      if (!isExitSignal(e))
        this.#logger.error?.({ code: 'internal', actor, err: e }, 'global process crashed');
    }
  }

  /** A reply `{{Ref, Node}, Reply}` to one of our calls, or the DOWN of a server we call (bad node). */
  #callAnswer(m: Term): boolean {
    if (!(m instanceof Tuple)) return false;
    const down = this.#downOf(m);
    if (down !== undefined) {
      const link = this.#linkRefs.get(refKey(down));
      if (link === undefined) return false;
      this.#linkRefs.delete(refKey(down));
      this.#links.delete(link.key);
      for (const call of link.pending.values()) {
        if (!this.#calls.delete(call.ref)) continue;
        this.#feed({ kind: 'reply', id: call.id, node: call.node, reply: undefined });
      }
      return true;
    }
    if (m.length !== 2) return false;
    const tag = m.elements[0];
    if (!(tag instanceof Tuple) || tag.length !== 2 || !(tag.elements[0] instanceof Reference)) return false;
    const ref = tag.elements[0];
    const call = this.#calls.get(ref);
    if (call === undefined) return false;
    this.#calls.delete(ref);
    call.link.pending.delete(ref);
    this.#feed({ kind: 'reply', id: call.id, node: call.node, reply: m.elements[1] as Term });
    return true;
  }

  #downOf(m: Term): Reference | undefined {
    if (!(m instanceof Tuple) || m.length !== 5 || m.elements[0] !== DOWN) return undefined;
    const ref = m.elements[1];
    return ref instanceof Reference ? ref : undefined;
  }

  // --- the driver ---

  #event(input: GlobalInput): void {
    if (this.#stopped) return;
    this.node.processes.send(this.#pids.server, new ServiceEvent(input) as unknown as Term);
  }

  #feed(input: GlobalInput): void {
    if (this.#stopped) return;
    // Outputs need the four processes: until they all run (right after the node starts), wait.
    if (this.#feeding || this.#ctx.size < 4) {
      this.#backlog.push(input);
      return;
    }
    this.#feeding = true;
    try {
      let next: GlobalInput | undefined = input;
      while (next !== undefined) {
        let out: GlobalOutput[];
        try {
          out = this.core.step(next);
        } catch (e) {
          this.#logger.error?.(
            { code: 'internal', err: e, input: next.kind },
            'global core failed on an input',
          );
          out = [];
        }
        for (const o of out) {
          try {
            this.#perform(o);
          } catch (e) {
            this.#logger.error?.(
              { code: 'internal', err: e, output: o.kind },
              'global could not perform an output',
            );
          }
        }
        next = this.#backlog.shift();
      }
    } finally {
      this.#feeding = false;
    }
  }

  #perform(o: GlobalOutput): void {
    const t = this.node.processes;
    switch (o.kind) {
      case 'cast':
        this.#context(o.from).send([G.global_name_server, o.node], genCast(o.message));
        return;
      case 'info':
        if (o.noconnect && this.node.connection(o.node.name) === undefined) return;
        this.#context(o.from).send([G.global_name_server, o.node], o.message);
        return;
      case 'send':
        this.#context(o.from).send(o.to, o.message);
        return;
      case 'call': {
        const ctx = this.#context(o.from);
        const linkKey = `${o.from}\u0000${o.node.name}`;
        let link = this.#links.get(linkKey);
        if (link === undefined) {
          // Monitored before the request goes, so a missing server answers with a DOWN.
          const ref = ctx.monitor([G.global_name_server, o.node]);
          link = { key: linkKey, ref, pending: new RefMap() };
          this.#links.set(linkKey, link);
          this.#linkRefs.set(refKey(ref), link);
        }
        const tag = t.makeRef();
        const call: PendingCall = { ref: tag, id: o.id, node: o.node, link };
        this.#calls.set(call);
        link.pending.set(call);
        ctx.send([G.global_name_server, o.node], genCall(ctx.pid, new Tuple([tag, o.node]), o.request));
        return;
      }
      case 'reply': {
        const r = genReply(o.to, o.reply);
        if (r !== undefined) this.#context('server').send(r.to, r.message);
        return;
      }
      case 'watch': {
        const key = pidKey(o.pid);
        if (this.#watches.has(key)) return;
        const kept = this.#lingering.get(key);
        if (kept !== undefined) {
          this.#lingering.delete(key);
          this.#watches.set(key, kept);
          return;
        }
        const ref = this.#context('server').monitor(o.pid);
        this.#watches.set(key, ref);
        this.#watchRefs.set(refKey(ref), o.pid);
        return;
      }
      case 'unwatch': {
        const key = pidKey(o.pid);
        const ref = this.#watches.get(key);
        if (ref === undefined) return;
        this.#watches.delete(key);
        if (o.linger === true) {
          this.#lingering.set(key, ref);
          if (this.#lingering.size <= MAX_LINGERING) return;
          const [oldKey, oldRef] = this.#lingering.entries().next().value as [string, Reference];
          this.#lingering.delete(oldKey);
          this.#dropMonitor(oldRef);
          return;
        }
        this.#dropMonitor(ref);
        return;
      }
      case 'timer': {
        const fire = (): void => {
          this.#timers.delete(o.id);
          this.#event({ kind: 'timeout', id: o.id });
        };
        // OTP's `after 0` (the locker just after a sync) fires at once when nothing is queued; Node's
        // setTimeout(0) waits at least 1 ms, so a zero wait runs after this turn's I/O instead.
        if (o.ms <= 0) {
          const h = setImmediate(fire);
          this.#timers.set(o.id, () => clearImmediate(h));
          return;
        }
        const h = setTimeout(fire, o.ms);
        h.unref();
        this.#timers.set(o.id, () => clearTimeout(h));
        return;
      }
      case 'cancel_timer': {
        this.#timers.get(o.id)?.();
        this.#timers.delete(o.id);
        return;
      }
      case 'connect':
        // OTP dials from processes it spawns (`sync_others/1`), so the server's casts of the same
        // step (`new_nodes`, the lock's release) leave first. Dialing here at once would put a
        // connection set-up's synchronous part (the EPMD socket) ahead of them: measured in the
        // heal, 0.1-0.4 ms per dial on the path to the last node that learns the names.
        setImmediate(this.#dial, o.node);
        return;
      case 'disconnect':
        this.node.disconnect(o.node.name);
        return;
      case 'exit':
        t.exit(o.pid, o.reason, this.#pids.server);
        return;
      case 'resolve_it': {
        const id = o.id;
        // Resolved here without waiting: the result goes to the core right after this step, not
        // a mailbox hop and the writes of this turn later (it is on a heal's critical path).
        const now =
          o.node === this.node.atom ? this.#resolveNow(o.method, o.name, o.pid1, o.pid2) : undefined;
        if (now !== undefined) {
          this.#feed({ kind: 'resolve_result', id, result: now });
          return;
        }
        this.#resolveAt(o.node, o.method, o.name, o.pid1, o.pid2).then(
          (result) => this.#event({ kind: 'resolve_result', id, result }),
          (e: unknown) => {
            this.#logger.warn?.({ code: 'resolve_failed', err: e }, 'global: resolve_it failed');
            this.#event({ kind: 'resolve_result', id, result: new Tuple([G.badrpc, NOCONNECTION]) });
          },
        );
        return;
      }
      case 'done': {
        const p = this.#ops.get(o.op);
        this.#ops.delete(o.op);
        p?.resolve(o.result);
        return;
      }
      case 'log':
        this.#logger[o.level]?.({ code: o.code }, o.message);
        return;
    }
  }

  /** `rpc:call(Node, global, resolve_it, Args)`: `{badrpc, Reason}` when the call itself fails. */
  async #resolveAt(node: Atom, method: Term, name: Term, pid1: Pid, pid2: Pid): Promise<Term> {
    if (node === this.node.atom) return await this.resolveIt(method, name, pid1, pid2);
    try {
      return await this.node.rpc.call(node, G.global, G.resolve_it, [method, name, pid1, pid2], {
        timeoutMs: this.#resolveTimeoutMs,
      });
    } catch (e) {
      if (e instanceof RpcError) {
        if (e.code === 'exception' && e.reason !== undefined)
          return new Tuple([G.badrpc, new Tuple([EXIT, e.reason])]);
        return new Tuple([G.badrpc, e.term ?? atom(e.code)]);
      }
      return new Tuple([G.badrpc, NOCONNECTION]);
    }
  }

  #dropMonitor(ref: Reference): void {
    this.#watchRefs.delete(refKey(ref));
    this.#context('server').demonitor(ref, { flush: true });
  }

  #context(actor: Actor): ProcessContext {
    const ctx = this.#ctx.get(actor);
    if (ctx === undefined) throw new Error(`global: the ${actor} process is not running`);
    return ctx;
  }

  /** `sync_other/2`: connect to `node`, then cast it `in_sync`; `extra_nodedown` if that fails. */
  readonly #dial = (node: Atom): void => {
    if (this.#stopped) return;
    this.node.connect(node.name).then(
      () => {
        if (this.#stopped) return;
        this.#context('server').send([G.global_name_server, node], genCast(inSync(this.node.atom)));
      },
      () => this.#event({ kind: 'connect_failed', node }),
    );
  };

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const cancel of this.#timers.values()) cancel();
    this.#timers.clear();
    const ops = [...this.#ops.values()];
    this.#ops.clear();
    for (const p of ops) p.reject(stoppedError());
  }
}

const randomExit: Term = new ExportFun(G.global, G.random_exit_name, 3);

function checkOptions(o: GlobalOptions): void {
  for (const [k, v] of [
    ['resolveTimeoutMs', o.resolveTimeoutMs],
    ['maxNames', o.maxNames],
    ['maxLocks', o.maxLocks],
  ] as const) {
    if (v !== undefined && !(typeof v === 'number' && v > 0)) {
      throw new GlobalError('bad_argument', `${k} must be a positive number, got ${String(v)}`);
    }
  }
}

function stoppedError(): GlobalError {
  return new GlobalError('stopped', 'global: the node stopped');
}
