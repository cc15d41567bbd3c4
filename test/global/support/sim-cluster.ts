/**
 * A cluster of global cores (core.ts) in virtual time, for deterministic simulation: a model of
 * the distribution layer just detailed enough for `global`.
 *
 * - Connections are per pair, set up on demand (a send, a monitor, a call or a `connect` output
 *   dials, as on the BEAM) unless the pair is blocked, and torn down by `disconnect` (ours, or a
 *   `disconnect` output). Each direction is a FIFO with a random latency; what is in flight when
 *   the connection goes is lost.
 * - nodeup reaches each side before any traffic of the new connection, as OTP guarantees without
 *   global groups (and as our Node does); with `raceNodeup` it may come after the first messages
 *   (OTP's `pre_connect` case). nodedown always comes after nodeup, after the DOWNs of the other
 *   node's processes and after failing the calls in flight to it.
 * - Processes: each node has its server, locker, registrar and client pids, plus user processes
 *   that the test spawns and kills. Monitors (`watch`) deliver a DOWN when the process dies or its
 *   node disconnects; a watch of a dead pid delivers one at once.
 * - Calls go to the other core as `{'$gen_call', {Pid, {Ref, Node}}, Req}`; their replies come back
 *   as `reply` inputs; a call to a node that cannot be reached, or whose connection drops, gets a
 *   bad-node answer. `resolve_it` runs the built-in methods on the pid's node (rpc).
 *
 * Everything random comes from one seed.
 */

import { pidKey, refKey } from '../../../src/node/signals.ts';
import { GlobalCore, type GlobalInput, type GlobalOutput } from '../../../src/services/global/core.ts';
import { G } from '../../../src/services/global/messages.ts';
import { builtinMethod, resolveBuiltin } from '../../../src/services/global/names.ts';
import { Prng } from '../../../src/sim/prng.ts';
import { Scheduler, type TimerHandle } from '../../../src/sim/scheduler.ts';
import { type Atom, atom, Pid, Reference, type Term, Tuple } from '../../../src/term/index.ts';
import { inspect } from '../../../src/term/inspect.ts';

interface Conn {
  readonly epoch: number;
  /** Time of the last delivery scheduled per direction (`from>to`), to keep FIFO order. */
  readonly last: Map<string, number>;
  /** When each side's nodeup is (or was) delivered. */
  readonly upAt: Map<string, number>;
}

/** One simulated node. */
export class SimNode {
  readonly name: string;
  readonly atom: Atom;
  readonly core: GlobalCore;
  readonly pids: { server: Pid; locker: Pid; registrar: Pid; client: Pid };
  /** Live user processes. */
  readonly live: Map<string, Pid> = new Map();
  /** Messages user processes received. */
  readonly inbox: { to: Pid; message: Term }[] = [];
  readonly watching: Map<string, Pid> = new Map();
  /** Remote nodes monitoring each local pid. */
  readonly monitoredBy: Map<string, Set<string>> = new Map();
  readonly calls: Map<string, { id: number; node: Atom }> = new Map();
  readonly rpcs: Map<number, string> = new Map();
  readonly timers: Map<number, TimerHandle> = new Map();
  readonly ops: Map<number, (result: Term) => void> = new Map();
  readonly log: string[] = [];
  nextPid: number = 10;

  constructor(name: string, core: (pids: SimNode['pids']) => GlobalCore) {
    this.name = name;
    this.atom = atom(name);
    const p = (id: number): Pid => new Pid(this.atom, id, 0, 1);
    this.pids = { server: p(1), locker: p(2), registrar: p(3), client: p(4) };
    this.core = core(this.pids);
  }

  isSystem(pid: Pid): boolean {
    return pid.id <= 4 && pid.node === this.atom;
  }

  isAlive(pid: Pid): boolean {
    return this.isSystem(pid) || this.live.has(pidKey(pid));
  }
}

/** Settings of a {@link SimCluster}. */
export interface SimClusterOptions {
  readonly seed: number;
  readonly nodes: readonly string[];
  /** One-way latency, uniform in [min, max] ms. */
  readonly delayMs?: { min: number; max: number };
  readonly preventOverlappingPartitions?: boolean;
  /** Let protocol messages overtake nodeup (default false). */
  readonly raceNodeup?: boolean;
  /** The core's `batchRegistrations` (default false, as a node's service runs it). */
  readonly batchRegistrations?: boolean;
  /** Sees every input and output of every core, as text. */
  readonly trace?: (line: string) => void;
}

/** The cluster. */
export class SimCluster {
  readonly sched: Scheduler = new Scheduler();
  readonly rng: Prng;
  readonly nodes: Map<string, SimNode> = new Map();
  readonly #conns = new Map<string, Conn>();
  readonly #pending = new Map<string, ((ok: boolean) => void)[]>();
  readonly #blocked = new Set<string>();
  readonly #delay: { min: number; max: number };
  readonly #race: boolean;
  readonly #trace: ((line: string) => void) | undefined;
  #epoch = 0;
  #op = 0;
  #ref = 0;

  constructor(o: SimClusterOptions) {
    this.rng = new Prng(o.seed);
    this.#delay = o.delayMs ?? { min: 1, max: 10 };
    this.#race = o.raceNodeup === true;
    this.#trace = o.trace;
    for (const name of o.nodes) {
      const seed = this.rng.nextU32();
      const n = new SimNode(
        name,
        (pids) =>
          new GlobalCore({
            node: atom(name),
            creation: 1,
            pids,
            rng: new Prng(seed),
            isAlive: (pid) => this.nodes.get(name)!.isAlive(pid),
            ...(o.preventOverlappingPartitions === false ? { preventOverlappingPartitions: false } : {}),
            batchRegistrations: o.batchRegistrations === true,
          }),
      );
      this.nodes.set(name, n);
    }
  }

  node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  // ---- the test's controls ----

  /** Spawns a user process on `node`. */
  spawn(node: string): Pid {
    const n = this.node(node);
    const pid = new Pid(n.atom, n.nextPid++, 0, 1);
    n.live.set(pidKey(pid), pid);
    return pid;
  }

  /** Kills a process (DOWNs go to its watchers). */
  kill(pid: Pid): void {
    const n = this.nodes.get(pid.node.name);
    if (n === undefined || !n.live.delete(pidKey(pid))) return;
    const key = pidKey(pid);
    if (n.watching.has(key)) this.#at(n.name, 0, () => this.#down(n, pid));
    const watchers = n.monitoredBy.get(key);
    n.monitoredBy.delete(key);
    for (const w of watchers ?? []) {
      this.#over(n.name, w, () => {
        const wn = this.node(w);
        if (wn.watching.has(key)) this.#down(wn, pid);
      });
    }
  }

  /** An API request on `node`; `done` gets its result. */
  request(
    node: string,
    make: (op: number) => GlobalInput,
    done: (result: Term) => void = () => undefined,
  ): void {
    const n = this.node(node);
    const op = ++this.#op;
    n.ops.set(op, done);
    this.feed(n, make(op));
  }

  /** Dials `a` to `b` (as `net_kernel:connect_node`). */
  connect(a: string, b: string, done: (ok: boolean) => void = () => undefined): void {
    if (a === b) {
      done(true);
      return;
    }
    const key = pair(a, b);
    if (this.#conns.has(key)) {
      done(true);
      return;
    }
    const waiting = this.#pending.get(key);
    if (waiting !== undefined) {
      waiting.push(done);
      return;
    }
    this.#pending.set(key, [done]);
    this.sched.setTimeout(() => {
      const ws = this.#pending.get(key) ?? [];
      this.#pending.delete(key);
      if (this.#blocked.has(key)) {
        for (const w of ws) w(false);
        return;
      }
      const conn: Conn = { epoch: ++this.#epoch, last: new Map(), upAt: new Map() };
      this.#conns.set(key, conn);
      for (const [x, y] of [
        [a, b],
        [b, a],
      ] as const) {
        // nodeup goes first on the channel towards x, unless racing is on.
        const when =
          this.sched.now() + this.#latency() + (this.#race && this.rng.chance(0.3) ? this.#latency() * 3 : 0);
        conn.upAt.set(x, when);
        if (!this.#race) conn.last.set(`${y}>${x}`, when);
        this.sched.at(
          when,
          () => {
            if (this.#conns.get(key) === conn) this.feed(this.node(x), { kind: 'nodeup', node: atom(y) });
          },
          x,
        );
      }
      for (const w of ws) w(true);
    }, this.#latency());
  }

  /** Tears down the connection between `a` and `b`, if any. */
  disconnect(a: string, b: string): void {
    const key = pair(a, b);
    const conn = this.#conns.get(key);
    if (conn === undefined) return;
    this.#conns.delete(key);
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const when = Math.max(this.sched.now(), (conn.upAt.get(x) ?? 0) + 0.001);
      this.sched.at(when, () => this.#nodeDown(this.node(x), y), x);
    }
  }

  /** Blocks (or unblocks) the pair: no connection can be set up between them. */
  block(a: string, b: string, on: boolean): void {
    if (on) {
      this.#blocked.add(pair(a, b));
      this.disconnect(a, b);
    } else {
      this.#blocked.delete(pair(a, b));
    }
  }

  connected(a: string, b: string): boolean {
    return this.#conns.has(pair(a, b));
  }

  run(ms: number): void {
    this.sched.runUntil(this.sched.now() + ms);
  }

  // ---- the driver ----

  feed(n: SimNode, input: GlobalInput): void {
    const out = n.core.step(input);
    if (this.#trace !== undefined) {
      const t = this.sched.now().toFixed(1);
      this.#trace(`${t} ${n.name} IN ${describe(input)}`);
      for (const o of out) this.#trace(`${t} ${n.name}   OUT ${describe(o)}`);
    }
    for (const o of out) this.#perform(n, o);
  }

  #perform(n: SimNode, o: GlobalOutput): void {
    switch (o.kind) {
      case 'cast':
        this.#send(n.name, o.node.name, false, (to) =>
          this.feed(to, { kind: 'message', message: new Tuple([G.$gen_cast, o.message]) }),
        );
        return;
      case 'info':
        this.#send(n.name, o.node.name, o.noconnect, (to) =>
          this.feed(to, { kind: 'message', message: o.message }),
        );
        return;
      case 'send':
        this.#toPid(n, o.to, o.message);
        return;
      case 'call': {
        const ref = new Reference(n.atom, 1, [++this.#ref, 0, 0]);
        n.calls.set(refKey(ref), { id: o.id, node: o.node });
        const from = new Tuple([n.pids[o.from], new Tuple([ref, o.node])]);
        this.#send(
          n.name,
          o.node.name,
          false,
          (to) => this.feed(to, { kind: 'message', message: new Tuple([G.$gen_call, from, o.request]) }),
          () => this.#callFailed(n, ref),
        );
        return;
      }
      case 'reply': {
        const [pid, tag] = o.to.elements as [Pid, Tuple];
        const ref = tag.elements[0] as Reference;
        this.#send(n.name, pid.node.name, true, (to) => {
          const c = to.calls.get(refKey(ref));
          if (c === undefined) return;
          to.calls.delete(refKey(ref));
          this.feed(to, { kind: 'reply', id: c.id, node: c.node, reply: o.reply });
        });
        return;
      }
      case 'watch': {
        const key = pidKey(o.pid);
        n.watching.set(key, o.pid);
        const owner = o.pid.node.name;
        if (owner === n.name) {
          if (!n.isAlive(o.pid)) this.#at(n.name, 0, () => this.#down(n, o.pid));
          return;
        }
        this.#send(
          n.name,
          owner,
          false,
          (on) => {
            if (on.isAlive(o.pid)) {
              const set = on.monitoredBy.get(key) ?? new Set<string>();
              on.monitoredBy.set(key, set);
              set.add(n.name);
            } else {
              this.#over(owner, n.name, () => {
                if (n.watching.has(key)) this.#down(n, o.pid);
              });
            }
          },
          () => this.#at(n.name, 0, () => n.watching.has(key) && this.#down(n, o.pid)),
        );
        return;
      }
      case 'unwatch':
        n.watching.delete(pidKey(o.pid));
        return;
      case 'timer':
        n.timers.set(
          o.id,
          this.sched.at(
            this.sched.now() + o.ms,
            () => {
              n.timers.delete(o.id);
              this.feed(n, { kind: 'timeout', id: o.id });
            },
            n.name,
          ),
        );
        return;
      case 'cancel_timer': {
        const h = n.timers.get(o.id);
        if (h !== undefined) this.sched.clearTimeout(h);
        n.timers.delete(o.id);
        return;
      }
      case 'connect': {
        const other = o.node.name;
        this.connect(n.name, other, (ok) => {
          if (ok) {
            this.#send(n.name, other, false, (to) =>
              this.feed(to, {
                kind: 'message',
                message: new Tuple([G.$gen_cast, new Tuple([G.in_sync, n.atom, true])]),
              }),
            );
          } else {
            this.#at(n.name, 0, () => this.feed(n, { kind: 'connect_failed', node: o.node }));
          }
        });
        return;
      }
      case 'disconnect':
        this.disconnect(n.name, o.node.name);
        return;
      case 'exit':
        this.#exit(n, o.pid);
        return;
      case 'resolve_it': {
        const id = o.id;
        const answer = (result: Term): void => {
          if (n.rpcs.delete(id)) this.feed(n, { kind: 'resolve_result', id, result });
        };
        n.rpcs.set(id, o.node.name);
        if (o.node === n.atom) {
          const r = this.#resolveLocal(n, o.method, o.name, o.pid1, o.pid2);
          this.#at(n.name, 0, () => answer(r));
          return;
        }
        this.#send(
          n.name,
          o.node.name,
          false,
          (on) => {
            const r = this.#resolveLocal(on, o.method, o.name, o.pid1, o.pid2);
            this.#send(on.name, n.name, true, () => answer(r));
          },
          () => this.#at(n.name, 0, () => answer(new Tuple([G.badrpc, atom('nodedown')]))),
        );
        return;
      }
      case 'done': {
        const k = n.ops.get(o.op);
        n.ops.delete(o.op);
        k?.(o.result);
        return;
      }
      case 'log':
        n.log.push(`${this.sched.now()} ${o.level} ${o.code} ${o.message}`);
        return;
    }
  }

  #resolveLocal(n: SimNode, method: Term, name: Term, pid1: Pid, pid2: Pid): Term {
    const b = builtinMethod(method);
    if (b === undefined) return new Tuple([atom('EXIT'), atom('badfun')]);
    const { result, effects } = resolveBuiltin(b, name, pid1, pid2);
    for (const e of effects) {
      if (e.kind === 'exit') this.#exit(n, e.pid);
      else this.#toPid(n, e.pid, e.message);
    }
    return result;
  }

  #exit(from: SimNode, pid: Pid): void {
    if (pid.node === from.atom) {
      if (!from.isSystem(pid)) this.kill(pid);
      return;
    }
    this.#send(from.name, pid.node.name, false, (on) => {
      if (!on.isSystem(pid)) this.kill(pid);
    });
  }

  #toPid(from: SimNode, pid: Pid, message: Term): void {
    const deliver = (on: SimNode): void => {
      if (pid.id === on.pids.locker.id && pid.node === on.atom)
        this.feed(on, { kind: 'locker_message', message });
      else if (on.live.has(pidKey(pid))) on.inbox.push({ to: pid, message });
    };
    if (pid.node === from.atom) deliver(from);
    else this.#send(from.name, pid.node.name, false, deliver);
  }

  #callFailed(n: SimNode, ref: Reference): void {
    this.#at(n.name, 0, () => {
      const c = n.calls.get(refKey(ref));
      if (c === undefined) return;
      n.calls.delete(refKey(ref));
      this.feed(n, { kind: 'reply', id: c.id, node: c.node, reply: undefined });
    });
  }

  #down(n: SimNode, pid: Pid): void {
    if (!n.watching.delete(pidKey(pid))) return;
    this.feed(n, { kind: 'down', pid });
  }

  /** `x` loses its connection to `y`: DOWNs, failed calls and rpcs, then nodedown. */
  #nodeDown(x: SimNode, y: string): void {
    const ya = atom(y);
    for (const [key, pid] of [...x.watching]) {
      if (pid.node === ya) {
        x.watching.delete(key);
        this.feed(x, { kind: 'down', pid });
      }
    }
    for (const [key, c] of [...x.calls]) {
      if (c.node === ya) {
        x.calls.delete(key);
        this.feed(x, { kind: 'reply', id: c.id, node: c.node, reply: undefined });
      }
    }
    for (const [id, node] of [...x.rpcs]) {
      if (node === y) {
        x.rpcs.delete(id);
        this.feed(x, { kind: 'resolve_result', id, result: new Tuple([G.badrpc, atom('noconnection')]) });
      }
    }
    for (const set of x.monitoredBy.values()) set.delete(y);
    this.feed(x, { kind: 'nodedown', node: ya });
  }

  /**
   * Sends from `a` to `b`: over the connection (FIFO), dialing it first unless `noconnect`. `fail`
   * runs when the message cannot go (no connection and the dial fails, or `noconnect`).
   */
  #send(a: string, b: string, noconnect: boolean, deliver: (to: SimNode) => void, fail?: () => void): void {
    if (a === b) {
      this.#at(a, 0, () => deliver(this.node(b)));
      return;
    }
    if (this.#conns.has(pair(a, b))) {
      this.#over(a, b, () => deliver(this.node(b)));
      return;
    }
    if (noconnect) {
      fail?.();
      return;
    }
    this.connect(a, b, (ok) => {
      if (ok) this.#over(a, b, () => deliver(this.node(b)));
      else fail?.();
    });
  }

  /** Delivers on the current connection a->b, in order; lost if the connection goes first. */
  #over(a: string, b: string, fn: () => void): void {
    const key = pair(a, b);
    const conn = this.#conns.get(key);
    if (conn === undefined) return;
    const dir = `${a}>${b}`;
    const when = Math.max(this.sched.now() + this.#latency(), conn.last.get(dir) ?? 0);
    conn.last.set(dir, when);
    this.sched.at(
      when,
      () => {
        if (this.#conns.get(key) === conn) fn();
      },
      b,
      'io',
    );
  }

  #at(node: string, ms: number, fn: () => void): void {
    this.sched.at(this.sched.now() + ms, fn, node);
  }

  #latency(): number {
    return this.#delay.min + this.rng.next() * (this.#delay.max - this.#delay.min);
  }
}

function describe(x: GlobalInput | GlobalOutput): string {
  return JSON.stringify(x, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (
      v instanceof Tuple ||
      v instanceof Pid ||
      v instanceof Reference ||
      (typeof v === 'object' && v !== null && v.constructor?.name === 'Atom')
    ) {
      return inspect(v as Term);
    }
    return v;
  });
}

function pair(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
