/**
 * The process table of one node: spawning, local names, aliases, and the signal rules of the
 * Erlang Reference Manual ("Processes") applied to local processes. Signals for processes on other
 * nodes go to a {@link RemoteSignals}; signals that arrive from other nodes come in through
 * {@link ProcessTable.deliver}.
 *
 * Design.
 * - Signals are applied synchronously, in one FIFO per table. A signal produced while another is
 *   being applied (a process dies and its links fire, which kill other processes, ...) is queued
 *   and applied after it, so a chain of a million links uses no stack, and signals between any
 *   two processes keep the order they were sent in (the only ordering the BEAM promises).
 * - A message to a local process that is not draining the queue goes straight to its mailbox:
 *   no signal object, promise or closure per message.
 * - A spawned process starts after the current synchronous code: spawns are queued and one
 *   scheduler task starts them all, in spawn order (no closure or task per spawn). Its function
 *   runs without an async wrapper; the table learns that it ended from one reaction on the
 *   promise it returns. With its state (a few fields, its mailbox inline, links and monitors made
 *   on first use, see process.ts), an idle process costs about 1.1 KB of heap, under half of what
 *   the BEAM's smallest process takes (bench/processes.ts).
 * - A process is a JavaScript function; it cannot be preempted. An exit signal that kills it
 *   marks it dead at once (name released, links and monitors fired, mailbox dropped) and its code
 *   unwinds at its next process operation, which throws an {@link ExitSignal}.
 * - Pids: a 28-bit number split into a 15-bit id and a 13-bit serial, the BEAM's classic layout,
 *   so pids encode the same with or without V4_NC. Numbers are reused only after wrapping around
 *   2^28 spawns, and never while their process lives. `<Node.0.0>` is the table's own pid
 *   ({@link ProcessTable.systemPid}), the sender of signals that no process sends.
 * - References: a counter spread over three 32-bit words (the first one 18 bits, as the BEAM's),
 *   with the node's name and creation: unique per table.
 * - Mailbox bound: when a message would grow a mailbox past its limit (default
 *   {@link DEFAULT_MAILBOX_LIMIT}), the receiving process exits with `{mailbox_overflow, Limit}`
 *   and a warning is logged. A process that is that far behind is broken; its exit is visible
 *   to links, monitors and supervisors, where silently dropping messages would lose replies,
 *   DOWN and EXIT messages and turn the overload into hangs. (The BEAM's analogue, `max_heap_size`,
 *   kills the process as well.)
 *
 * No module-level state: a process may hold many tables (nodes).
 *
 * @module
 */

import { type Atom, atom, atoms, Pid, Reference, type Term, Tuple } from '../term/types.ts';
import { type CallDestination, type CallOptions, callOutside } from './call.ts';
import { ChurnMap, RefMap } from './churn-map.ts';
import {
  bindCorrelation,
  type CorrelatedMessage,
  currentCorrelation,
  withoutCorrelation,
} from './correlation.ts';
import { ExitSignal, ProcessError } from './errors.ts';
import { exitReasonOf } from './exit-reason.ts';
import {
  type AliasMode,
  type ChildSpawnOptions,
  type Destination,
  type MonitorState,
  type ProcessContext,
  type ProcessHost,
  ProcessState,
} from './process.ts';
import {
  downMessage,
  exitMessage,
  exitSignalAction,
  isDownFor,
  type MessageOf,
  pidKey,
  type RemoteSignals,
  type Signal,
  samePid,
  signalAtoms,
  type TypedPid,
} from './signals.ts';

/** Where the process layer reports what nobody asked for: crashes, overflows, dropped messages. */
export interface Logger {
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Time for the process layer: process start, receive timeouts. Inject a virtual one in simulations. */
export interface Scheduler {
  /** Runs `task` after the current synchronous code (a process starts this way). */
  queue(task: () => void): void;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Milliseconds on a monotonic clock. */
  now(): number;
}

/** The real clock: microtasks, Node timers, `performance.now()`. */
export const systemScheduler: Scheduler = Object.freeze({
  queue: (task: () => void): void => queueMicrotask(task),
  setTimeout: (callback: () => void, ms: number): unknown => setTimeout(callback, ms),
  clearTimeout: (handle: unknown): void => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: (): number => performance.now(),
});

/**
 * Default bound of a mailbox, in messages. High enough for bursts a healthy consumer absorbs
 * (a million small messages is on the order of 100 MB), low enough that a stuck consumer fails
 * before the OS process runs out of memory. `Infinity` disables it.
 */
export const DEFAULT_MAILBOX_LIMIT = 1_000_000;

/** Options of a {@link ProcessTable}. */
export interface ProcessTableOptions {
  /** This node's name (`nonode@nohost` when not distributed). */
  readonly node: Atom;
  /** This node's creation (from EPMD), part of every pid and reference. */
  readonly creation: number;
  /** Signals for processes on other nodes go here. */
  readonly remote: RemoteSignals;
  /** Default mailbox bound per process (see the module comment); default {@link DEFAULT_MAILBOX_LIMIT}. */
  readonly mailboxLimit?: number;
  readonly logger?: Logger;
  /** Default {@link systemScheduler}. */
  readonly scheduler?: Scheduler;
}

/** Options of {@link ProcessTable.spawn}. */
export interface SpawnOptions {
  /**
   * Link the new process to this pid, atomically. A local pid gets both sides of the link; a
   * remote one only ours (the remote node set its side, as for a SPAWN_REQUEST with `link`).
   */
  readonly link?: Pid;
  /**
   * `watcher` monitors the new process with `ref`, atomically. A remote watcher gets only our side
   * (as for a SPAWN_REQUEST with `monitor`, where `ref` is the request id).
   */
  readonly monitor?: { readonly watcher: Pid; readonly ref: Reference };
  /** Register the new process under this name; throws (and spawns nothing) if it is taken. */
  readonly name?: Atom;
  /** Start trapping exits. */
  readonly trapExit?: boolean;
  /** This process's mailbox bound. */
  readonly mailboxLimit?: number;
  /** Default: the table's {@link ProcessTable.systemPid}. */
  readonly groupLeader?: Pid;
}

/** A snapshot of a process (`process_info/1`). */
export interface ProcessInfo {
  readonly pid: Pid;
  /** `waiting`: blocked in a receive; `running`: anything else. */
  readonly status: 'running' | 'waiting';
  readonly messageQueueLen: number;
  /** Pids with an active link. */
  readonly links: readonly Pid[];
  /** Monitors this process holds: the pid, or `[name, node]` when by name. */
  readonly monitors: readonly { readonly ref: Reference; readonly target: Pid | readonly [Atom, Atom] }[];
  /** Processes monitoring this one. */
  readonly monitoredBy: readonly Pid[];
  readonly registeredName: Atom | undefined;
  readonly trapExit: boolean;
  readonly groupLeader: Pid;
  readonly mailboxLimit: number;
  /** Messages dropped because they failed a receive's schema. */
  readonly invalidMessages: number;
}

interface AliasState {
  readonly state: ProcessState;
  readonly ref: Reference;
  readonly mode: AliasMode;
}

const PID_NUMBERS = 0x1000_0000; // 2^28: 15-bit id, 13-bit serial
/** The range of a reference's first word as {@link ProcessTable.makeRef} fills it (2^18, as the BEAM). */
export const REF_WORD0 = 0x4_0000;
const WORD = 0x1_0000_0000; // 2^32

/** The processes of one node, and the signal rules between them. */
export class ProcessTable {
  /** This node's name. */
  readonly node: Atom;
  /** This node's creation. */
  readonly creation: number;
  /** `<Node.0.0>`: the sender of signals no process sends (`exit/2` from outside, node stop). */
  readonly systemPid: Pid;

  readonly #remote: RemoteSignals;
  readonly #logger: Logger | undefined;
  readonly #scheduler: Scheduler;
  readonly #mailboxLimit: number;
  readonly #host: ProcessHost;

  /** By pid number; a ChurnMap, as processes come and go at message rate (churn-map.ts). */
  readonly #procs = new ChurnMap<ProcessState>();
  readonly #names = new Map<Atom, ProcessState>();
  readonly #aliases = new RefMap<AliasState>();
  /** Processes with links or monitors involving each remote node. */
  /** Processes with links or monitors to each remote node, by pid number (ChurnMap: see churn-map.ts). */
  readonly #byNode = new Map<Atom, ChurnMap<ProcessState>>();
  #nextNumber = 1;
  #refCounter = 0;
  #unlinkId = 0n;
  #stopped = false;

  /** Spawned processes not started yet, in spawn order; one scheduler task starts them all. */
  #runQueue: ProcessState[] = [];
  #runScheduled = false;
  readonly #startQueued = (): void => this.#startAll();

  // The signal FIFO (two parallel arrays: no object per queued signal).
  #draining = false;
  #queueProcs: ProcessState[] = [];
  #queueSignals: Signal[] = [];

  constructor(options: ProcessTableOptions) {
    const limit = options.mailboxLimit ?? DEFAULT_MAILBOX_LIMIT;
    checkLimit(limit);
    this.node = options.node;
    this.creation = options.creation;
    this.systemPid = new Pid(options.node, 0, 0, options.creation);
    this.#remote = options.remote;
    this.#logger = options.logger;
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#mailboxLimit = limit;
    this.#host = this.#makeHost();
  }

  /** Live processes. */
  get count(): number {
    return this.#procs.size;
  }

  /** True once the table is stopped: nothing spawns any more. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Starts a process running `fn(self)`. It starts after the current synchronous code (the pid is
   * returned first). Returning exits it `normal`; throwing exits it with `{js_error, ...}` (see
   * exit-reason.ts) and logs the error; `self.exit(reason)` exits with `reason`.
   */
  spawn<M = Term>(fn: (self: ProcessContext<M>) => unknown, options?: SpawnOptions): TypedPid<M> {
    if (typeof fn !== 'function') throw new TypeError('spawn needs a function');
    if (this.#stopped) throw new ProcessError('stopped', 'the process table is stopped');
    const name = options?.name;
    if (name !== undefined) this.#checkName(name);
    const limit = options?.mailboxLimit ?? this.#mailboxLimit;
    checkLimit(limit);
    const link = options?.link;
    let linker: ProcessState | undefined;
    if (link !== undefined && link.node === this.node) {
      linker = this.#lookup(link);
      if (linker === undefined) throw new ProcessError('noproc', `spawn: no process ${link} to link to`);
    }
    const monitor = options?.monitor;
    let watcher: ProcessState | undefined;
    if (monitor !== undefined && monitor.watcher.node === this.node) {
      watcher = this.#lookup(monitor.watcher);
      if (watcher === undefined)
        throw new ProcessError('noproc', `spawn: no process ${monitor.watcher} to monitor`);
    }

    const number = this.#allocate();
    const pid = new Pid(this.node, number & 0x7fff, number >>> 15, this.creation);
    const state = new ProcessState(this.#host, pid, options?.groupLeader ?? this.systemPid, limit);
    state.trapExit = options?.trapExit === true;
    this.#procs.set(number, state);
    if (name !== undefined) {
      this.#names.set(name, state);
      state.name = name;
    }
    if (link !== undefined) {
      state.linkMap().set(pidKey(link), { pid: link, unlinkId: 0n });
      if (linker !== undefined) linker.linkMap().set(pidKey(pid), { pid, unlinkId: 0n });
      else this.#trackNode(state, link.node);
    }
    if (monitor !== undefined) {
      state.monitoredByMap().set({
        ref: monitor.ref,
        watcher: monitor.watcher,
        name: undefined,
      });
      if (watcher !== undefined) {
        watcher.monitorMap().set({
          ref: monitor.ref,
          pid,
          name: undefined,
          node: this.node,
          alias: undefined,
        });
      } else {
        this.#trackNode(state, monitor.watcher.node);
      }
    }
    // A process spawned inside a correlation runs inside it, unless it is registered: a named
    // process is a service that outlives the request that happened to start it. The task that
    // starts the batch carries none (it would leak to the other processes of the batch).
    const ambient = currentCorrelation();
    const bound = name === undefined ? ambient : undefined;
    state.start =
      bound === undefined
        ? (fn as unknown as (self: ProcessContext<never>) => unknown)
        : bindCorrelation(bound, fn as unknown as (self: ProcessContext<never>) => unknown);
    this.#runQueue.push(state);
    if (!this.#runScheduled) {
      this.#runScheduled = true;
      if (ambient === undefined) this.#scheduler.queue(this.#startQueued);
      else withoutCorrelation(() => this.#scheduler.queue(this.#startQueued));
    }
    return pid;
  }

  /**
   * A process that exits with `reason` before it runs any code, as `spawn` with these `link` and
   * `monitor` options followed at once by an exit would give, without a process to start, schedule and
   * tear down: a new pid (from the same counter, so not reused before it wraps), then
   * `announce(pid)`, then the exit signal to the linker and the DOWN to the watcher. For work that
   * finished while it was being requested (an erpc call to a synchronous function: `announce`
   * sends the SPAWN_REPLY, which must go before the exit). Throws as `spawn` when the table is
   * stopped or out of pids.
   */
  spawnExited(
    link: Pid | undefined,
    monitor: SpawnOptions['monitor'],
    reason: Term,
    announce: (pid: Pid) => void,
  ): Pid {
    if (this.#stopped) throw new ProcessError('stopped', 'the process table is stopped');
    // A local linker or watcher gets its side of the link or monitor, as `spawn` gives it, so the
    // signals below find what they end.
    const linker = link !== undefined && link.node === this.node ? this.#lookup(link) : undefined;
    const watcher =
      monitor !== undefined && monitor.watcher.node === this.node ? this.#lookup(monitor.watcher) : undefined;
    const number = this.#allocate();
    const pid = new Pid(this.node, number & 0x7fff, number >>> 15, this.creation);
    announce(pid);
    if (link === undefined && monitor === undefined) return pid;
    if (linker !== undefined) linker.linkMap().set(pidKey(pid), { pid, unlinkId: 0n });
    if (watcher !== undefined && monitor !== undefined) {
      watcher.monitorMap().set({ ref: monitor.ref, pid, name: undefined, node: this.node, alias: undefined });
    }
    this.#batch(() => {
      if (link !== undefined) this.#route(link, { kind: 'exit', from: pid, reason, link: true });
      if (monitor !== undefined)
        this.#route(monitor.watcher, { kind: 'down', from: pid, ref: monitor.ref, reason });
    });
    return pid;
  }

  /**
   * Applies a signal that arrived for a local process, name or alias (from a local sender or from
   * the network). Returns false if nobody is there: a message is then dropped (as the BEAM drops
   * it); a link is answered with an exit signal `noproc`, a monitor with a DOWN `noproc`, an
   * UNLINK_ID with its ack; other signals are dropped. Only messages can go to an alias.
   */
  deliver(to: Pid | Atom | Reference, signal: Signal): boolean {
    if (to instanceof Pid) {
      if (to.node !== this.node) return false;
      const state = this.#lookup(to);
      if (state === undefined) {
        this.#noTarget(to, signal);
        return false;
      }
      this.#enqueue(state, signal);
      return true;
    }
    if (to instanceof Reference) {
      return (
        signal.kind === 'message' &&
        this.#deliverAlias(to, signal.message, (signal as CorrelatedMessage).correlation)
      );
    }
    // A monitor by name records the name. (Built field by field: V8 allocated the object spread's
    // result in the old generation, one per gen_server call by name.)
    const named: Signal =
      signal.kind === 'monitor' && signal.name === undefined
        ? { kind: 'monitor', from: signal.from, ref: signal.ref, name: to }
        : signal;
    const state = this.#names.get(to);
    if (state === undefined) {
      this.#noTarget(to, named);
      return false;
    }
    this.#enqueue(state, named);
    return true;
  }

  /**
   * Sends a message to a pid, a local name, `[name, node]` or an alias, local or remote. As on the
   * BEAM, a local name nobody holds throws (code `not_registered`, the BEAM's `badarg`), while a
   * dead pid, an inactive alias or `[name, node]` for a missing local name drop it silently.
   * `from` is the sending process (default {@link systemPid}).
   */
  send<D extends Destination>(to: D, message: MessageOf<D>, from?: Pid): void {
    this.#send(from ?? this.systemPid, to, message as Term);
  }

  /**
   * Calls a gen_server-compatible server from outside any process (a short-lived process makes
   * the call; see call.ts). Rejects with a {@link CallError}.
   */
  call(destination: CallDestination | string, request: Term, options?: CallOptions): Promise<Term> {
    return callOutside(this, this.#host.calls, destination, request, options);
  }

  /** Sends an exit signal (`exit/2`) to `pid` from `from` (default {@link systemPid}). */
  exit(pid: Pid, reason: Term, from?: Pid): void {
    this.#route(pid, { kind: 'exit', from: from ?? this.systemPid, reason, link: false });
  }

  /** Registers a local process under `name` (`register/2`, with its `badarg` cases as error codes). */
  register(name: Atom, pid: Pid): void {
    this.#checkName(name);
    if (pid.node !== this.node) throw new ProcessError('not_local', `register: ${pid} is not a local pid`);
    const state = this.#lookup(pid);
    if (state === undefined) throw new ProcessError('noproc', `register: no process ${pid}`);
    if (state.name !== undefined)
      throw new ProcessError('already_registered', `${pid} is already registered as ${state.name}`);
    this.#names.set(name, state);
    state.name = name;
  }

  /** Removes a registered name; throws code `not_registered` when nobody holds it. */
  unregister(name: Atom): void {
    const state = this.#names.get(name);
    if (state === undefined) throw new ProcessError('not_registered', `no process is registered as ${name}`);
    this.#names.delete(name);
    state.name = undefined;
  }

  /** The pid registered under `name`. */
  whereis(name: Atom): Pid | undefined {
    return this.#names.get(name)?.pid;
  }

  /** Registered names. */
  registered(): Atom[] {
    return [...this.#names.keys()];
  }

  /** True while the local process `pid` lives. */
  isAlive(pid: Pid): boolean {
    return this.#lookup(pid) !== undefined;
  }

  /** A new reference (3 words) of this node. */
  makeRef(): Reference {
    const n = this.#refCounter++;
    const word0 = n % REF_WORD0;
    const rest = Math.floor(n / REF_WORD0);
    return new Reference(this.node, this.creation, [word0, rest % WORD, Math.floor(rest / WORD)]);
  }

  /**
   * The connection to `node` is gone (or could not be made): every link over it fires with
   * `noconnection`, every monitor of a process there delivers a DOWN `noconnection`, monitors held
   * by processes there are dropped, and each `monitor_node` instance delivers `{nodedown, Node}`.
   */
  handleNodeDown(node: Atom): void {
    if (node === this.node) return;
    const states = this.#byNode.get(node);
    if (states === undefined) return;
    this.#byNode.delete(node);
    this.#batch(() => {
      for (const state of states.values()) {
        if (!state.alive) continue;
        state.nodes?.delete(node);
        if (state.links !== undefined) {
          for (const [key, link] of state.links) {
            if (link.pid.node !== node) continue;
            if (link.unlinkId === 0n) {
              this.#enqueue(state, { kind: 'exit', from: link.pid, reason: atoms.noconnection, link: true });
            } else {
              state.links.delete(key);
            }
          }
        }
        if (state.monitors !== undefined) {
          for (const monitor of state.monitors.values()) {
            if (monitor.node !== node) continue;
            const from = monitor.pid ?? (monitor.name as Atom);
            this.#enqueue(state, { kind: 'down', from, ref: monitor.ref, reason: atoms.noconnection });
          }
        }
        if (state.monitoredBy !== undefined) {
          for (const entry of state.monitoredBy.values())
            if (entry.watcher.node === node) state.monitoredBy.delete(entry.ref);
        }
        const count = state.nodeMonitors?.get(node);
        if (count !== undefined) {
          state.nodeMonitors?.delete(node);
          const message = new Tuple([signalAtoms.nodedown, node]);
          for (let i = 0; i < count; i++) this.#enqueue(state, { kind: 'message', message });
        }
      }
    });
  }

  /** A snapshot of a local process, or undefined if it is not alive. */
  info(pid: Pid): ProcessInfo | undefined {
    const state = this.#lookup(pid);
    if (state === undefined) return undefined;
    const links: Pid[] = [];
    for (const link of state.links?.values() ?? []) if (link.unlinkId === 0n) links.push(link.pid);
    const monitors: { ref: Reference; target: Pid | readonly [Atom, Atom] }[] = [];
    for (const m of state.monitors?.values() ?? []) {
      monitors.push({ ref: m.ref, target: m.name !== undefined ? [m.name, m.node] : (m.pid as Pid) });
    }
    return {
      pid: state.pid,
      status: state.waiting ? 'waiting' : 'running',
      messageQueueLen: state.length,
      links,
      monitors,
      monitoredBy: [...(state.monitoredBy?.values() ?? [])].map((e) => e.watcher),
      registeredName: state.name,
      trapExit: state.trapExit,
      groupLeader: state.groupLeader,
      mailboxLimit: state.mailboxLimit,
      invalidMessages: state.invalidMessages,
    };
  }

  /** The queued messages of a local process (a copy), or undefined if it is not alive. */
  messages(pid: Pid): Term[] | undefined {
    return this.#lookup(pid)?.toArray();
  }

  /**
   * Node stop: every process exits with `reason` (untrappable; links and monitors fire, remote ones
   * through {@link RemoteSignals}) and the table accepts no more spawns.
   */
  stopAll(reason: Term): void {
    this.#stopped = true;
    this.#batch(() => {
      for (const state of this.#procs.values()) this.#terminate(state, reason);
    });
  }

  // ---- running processes ----

  #startAll(): void {
    const queue = this.#runQueue;
    // Processes spawned while these start are appended and start in this same pass.
    for (let i = 0; i < queue.length; i++) {
      const state = queue[i] as ProcessState;
      try {
        this.#start(state);
      } catch (error) {
        // Only an internal error gets here (user code is caught in #start); keep the others going.
        this.#log('error', 'process start failed', {
          code: 'internal',
          pid: state.pid.toString(),
          err: error,
        });
      }
    }
    queue.length = 0;
    this.#runScheduled = false;
  }

  /**
   * Runs a process's function. No async wrapper: a settled-promise reaction is all a process
   * costs here (an `async` runner awaiting the function would cost twice the memory).
   */
  #start(state: ProcessState): void {
    const fn = state.start;
    state.start = undefined;
    if (fn === undefined || !state.alive) return;
    let result: unknown;
    try {
      result = fn(state.context);
    } catch (error) {
      this.#ended(state, error, true);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        () => this.#ended(state, undefined, false),
        (error: unknown) => this.#ended(state, error, true),
      );
    } else if (isThenable(result)) {
      Promise.resolve(result).then(
        () => this.#ended(state, undefined, false),
        (error: unknown) => this.#ended(state, error, true),
      );
    } else {
      this.#ended(state, undefined, false);
    }
  }

  /** The process's function returned (`threw` false) or threw `error`. */
  #ended(state: ProcessState, error: unknown, threw: boolean): void {
    if (!threw) {
      this.#terminate(state, atoms.normal);
      return;
    }
    if (error instanceof ExitSignal && error.pid === state.pid) {
      this.#terminate(state, error.reason);
      return;
    }
    if (!state.alive) return;
    this.#log('error', 'process crashed', { code: 'process_crashed', pid: state.pid.toString(), err: error });
    this.#terminate(state, exitReasonOf(error));
  }

  /** Logs through the injected logger; a logger that throws is not allowed to break the table. */
  #log(level: 'warn' | 'error', message: string, fields: Record<string, unknown>): void {
    try {
      this.#logger?.[level](message, fields);
    } catch {
      // Nothing sensible to do: the table must stay consistent.
    }
  }

  #allocate(): number {
    for (let tries = 0; tries < PID_NUMBERS; tries++) {
      const n = this.#nextNumber;
      this.#nextNumber = n + 1 === PID_NUMBERS ? 1 : n + 1;
      if (!this.#procs.has(n)) return n;
    }
    throw new ProcessError('system_limit', 'every pid number is in use');
  }

  #lookup(pid: Pid): ProcessState | undefined {
    if (pid.node !== this.node || pid.creation !== this.creation) return undefined;
    if (pid.id >= 0x8000 || pid.serial >= 0x2000 || pid.id < 0 || pid.serial < 0) return undefined;
    return this.#procs.get(pid.serial * 0x8000 + pid.id);
  }

  #checkName(name: Atom): void {
    if (name === atoms.undefined)
      throw new ProcessError('bad_name', "'undefined' cannot be a registered name");
    if (this.#names.has(name)) throw new ProcessError('name_taken', `${name} is already registered`);
  }

  // ---- the signal queue ----

  /** Applies `signal` to `state` now, or after the signals already queued. */
  #enqueue(state: ProcessState, signal: Signal): void {
    if (this.#draining) {
      this.#queueProcs.push(state);
      this.#queueSignals.push(signal);
      return;
    }
    this.#draining = true;
    try {
      this.#apply(state, signal);
      this.#drain();
    } finally {
      this.#draining = false;
      // Only non-empty if an internal error escaped mid-drain: never replay stale signals.
      this.#queueProcs.length = 0;
      this.#queueSignals.length = 0;
    }
  }

  /** Runs `fn` with signals queued, then applies them. */
  #batch(fn: () => void): void {
    if (this.#draining) {
      fn();
      return;
    }
    this.#draining = true;
    try {
      fn();
      this.#drain();
    } finally {
      this.#draining = false;
      // Only non-empty if an internal error escaped mid-drain: never replay stale signals.
      this.#queueProcs.length = 0;
      this.#queueSignals.length = 0;
    }
  }

  #drain(): void {
    const procs = this.#queueProcs;
    const signals = this.#queueSignals;
    try {
      for (let i = 0; i < procs.length; i++) this.#apply(procs[i] as ProcessState, signals[i] as Signal);
    } finally {
      procs.length = 0;
      signals.length = 0;
    }
  }

  /** Sends `signal` to a pid: applied here when local, handed to the node otherwise. */
  #route(to: Pid, signal: Signal): void {
    if (to.node !== this.node) {
      this.#remoteSend(to.node, to, signal);
      return;
    }
    const state = this.#lookup(to);
    if (state === undefined) this.#noTarget(to, signal);
    else this.#enqueue(state, signal);
  }

  #remoteSend(node: Atom, to: Pid | Atom | Reference, signal: Signal): void {
    try {
      this.#remote.send(node, to, signal);
    } catch (error) {
      this.#log('error', 'remote signal failed', {
        code: 'remote_signal_failed',
        peer: node.name,
        kind: signal.kind,
        err: error,
      });
    }
  }

  /** A signal for a process or name that does not exist. */
  #noTarget(to: Pid | Atom, signal: Signal): void {
    switch (signal.kind) {
      case 'link':
        // BEAM: a link to a missing process is answered with an exit signal `noproc`.
        if (to instanceof Pid)
          this.#route(signal.from, { kind: 'exit', from: to, reason: atoms.noproc, link: true });
        return;
      case 'monitor':
        this.#route(signal.from, {
          kind: 'down',
          from: signal.name ?? to,
          ref: signal.ref,
          reason: atoms.noproc,
        });
        return;
      case 'unlink':
        // Harmless: the sender drops its unlinking state only if the id matches.
        if (signal.id !== 0n && to instanceof Pid)
          this.#route(signal.from, { kind: 'unlink_ack', from: to, id: signal.id });
        return;
      default:
        return;
    }
  }

  /** The signal rules for a live local process. */
  #apply(state: ProcessState, signal: Signal): void {
    if (!state.alive) {
      // It died after the signal was queued: as if it had arrived late.
      this.#noTarget(state.pid, signal);
      return;
    }
    switch (signal.kind) {
      case 'message':
        this.#enqueueMessage(state, signal.message, (signal as CorrelatedMessage).correlation);
        return;
      case 'link': {
        // Link protocol: a LINK creates the link unless link information exists, active or not
        // (with our UNLINK_ID outstanding, the sender will get it after its LINK: no link in the end).
        const links = state.linkMap();
        const key = pidKey(signal.from);
        if (!links.has(key)) {
          links.set(key, { pid: signal.from, unlinkId: 0n });
          this.#trackNode(state, signal.from.node);
        }
        return;
      }
      case 'unlink': {
        const key = pidKey(signal.from);
        if (signal.id === 0n) {
          // Old UNLINK: no ack, the link goes whatever its state.
          state.links?.delete(key);
          return;
        }
        // UNLINK_ID removes an active link; ours being inactive, our own ack will remove it.
        const link = state.links?.get(key);
        if (link !== undefined && link.unlinkId === 0n) state.links?.delete(key);
        this.#route(signal.from, { kind: 'unlink_ack', from: state.pid, id: signal.id });
        return;
      }
      case 'unlink_ack': {
        const key = pidKey(signal.from);
        const link = state.links?.get(key);
        if (link !== undefined && link.unlinkId !== 0n && link.unlinkId === signal.id)
          state.links?.delete(key);
        return;
      }
      case 'exit':
        this.#handleExit(state, signal.from, signal.reason, signal.link);
        return;
      case 'monitor':
        state.monitoredByMap().set({
          ref: signal.ref,
          watcher: signal.from,
          name: signal.name,
        });
        this.#trackNode(state, signal.from.node);
        return;
      case 'demonitor':
        state.monitoredBy?.delete(signal.ref);
        return;
      case 'down':
        this.#handleMonitorPExit(state, signal.from, signal.ref, signal.reason);
        return;
      case 'group_leader':
        state.groupLeader = signal.leader;
        return;
    }
  }

  #handleExit(state: ProcessState, from: Pid, reason: Term, link: boolean): void {
    let linkActive = false;
    if (link) {
      // React if the link is active, then forget it whatever its state.
      const key = pidKey(from);
      const entry = state.links?.get(key);
      if (entry !== undefined) {
        linkActive = entry.unlinkId === 0n;
        state.links?.delete(key);
      }
    }
    const fromSelf = !link && samePid(from, state.pid);
    const outcome = exitSignalAction({ reason, link, linkActive, trapExit: state.trapExit, fromSelf });
    if (outcome.action === 'message') this.#enqueueMessage(state, exitMessage(from, reason));
    else if (outcome.action === 'terminate') this.#terminate(state, outcome.reason);
  }

  /** A DOWN for a monitor `state` holds; dropped if the monitor is gone (demonitored). */
  #handleMonitorPExit(state: ProcessState, from: Pid | Atom, ref: Reference, reason: Term): void {
    const monitor = state.monitors?.get(ref);
    if (monitor === undefined) return;
    state.monitors?.delete(ref);
    if (monitor.alias === 'demonitor' || monitor.alias === 'reply_demonitor') this.#removeAlias(state, ref);
    this.#enqueueMessage(state, downMessage(monitor.ref, whoOf(monitor, from), reason));
  }

  /**
   * Puts a message in a mailbox (or hands it to the waiting receive), within the mailbox bound,
   * with the correlation id it carries, if any.
   */
  #enqueueMessage(state: ProcessState, message: Term, correlation?: string): void {
    if (correlation !== undefined) {
      if (state.offerCorrelated(message, correlation)) return;
    } else if (state.offer(message)) return;
    if (state.length >= state.mailboxLimit) {
      this.#log('warn', 'mailbox overflow: the process exits', {
        code: 'mailbox_overflow',
        pid: state.pid.toString(),
        limit: state.mailboxLimit,
      });
      this.#terminate(state, new Tuple([signalAtoms.mailbox_overflow, state.mailboxLimit]));
      return;
    }
    if (correlation === undefined) state.push(message);
    else state.pushCorrelated(message, correlation);
  }

  #deliverAlias(ref: Reference, message: Term, correlation?: string): boolean {
    const alias = this.#aliases.get(ref);
    if (alias === undefined) return false;
    const state = alias.state;
    if (alias.mode === 'reply') this.#removeAlias(state, ref);
    else if (alias.mode === 'reply_demonitor') this.#demonitor(state, ref, false);
    if (this.#draining) this.#enqueue(state, messageSignal(undefined, message, correlation));
    else this.#enqueueMessage(state, message, correlation);
    return true;
  }

  /**
   * Exit: release the name and aliases, wake the code with an ExitSignal, then send exit signals
   * to linked processes and DOWN to monitoring ones (after the resources, as the BEAM does).
   */
  #terminate(state: ProcessState, reason: Term): void {
    if (!state.alive) return;
    state.alive = false;
    state.exitReason = reason;
    this.#procs.delete(state.number);
    if (state.name !== undefined) this.#names.delete(state.name);
    if (state.aliases !== undefined) for (const a of state.aliases.values()) this.#aliases.delete(a.ref);
    state.aliases = undefined;
    if (state.nodes !== undefined) {
      for (const node of state.nodes) {
        const set = this.#byNode.get(node);
        set?.delete(state.number);
        if (set?.size === 0) this.#byNode.delete(node);
      }
    }
    state.nodes = undefined;
    // An ExitSignal (an Error, with its stack) only when code is there to receive it.
    if (state.waiting) state.fail(state.exitSignal());
    state.clear();
    // Nothing linked, monitored or aliased: nobody to tell (the common, cheap exit).
    if (!state.hasExtras) return;
    const abort = state.abort;
    // Abort listeners are user code: run them outside the signal machinery.
    if (abort !== undefined) this.#scheduler.queue(() => abort.abort(state.exitSignal()));
    if (this.#draining) {
      this.#fireExit(state, reason);
    } else {
      this.#draining = true;
      try {
        this.#fireExit(state, reason);
        this.#drain();
      } finally {
        this.#draining = false;
        this.#queueProcs.length = 0;
        this.#queueSignals.length = 0;
      }
    }
    state.links = undefined;
    state.monitors = undefined;
    state.monitoredBy = undefined;
    state.nodeMonitors = undefined;
  }

  /** Exit signals to linked processes, DOWN to monitoring ones, monitors and node monitors off. */
  #fireExit(state: ProcessState, reason: Term): void {
    const pid = state.pid;
    for (const link of state.links?.values() ?? []) {
      if (link.unlinkId === 0n) this.#route(link.pid, { kind: 'exit', from: pid, reason, link: true });
    }
    for (const monitor of state.monitors?.values() ?? []) this.#sendDemonitor(pid, monitor);
    for (const entry of state.monitoredBy?.values() ?? []) {
      this.#route(entry.watcher, { kind: 'down', from: entry.name ?? pid, ref: entry.ref, reason });
    }
    for (const [node, count] of state.nodeMonitors ?? []) {
      for (let i = 0; i < count; i++) this.#remoteMonitorNode(node, pid, false);
    }
  }

  #sendDemonitor(from: Pid, monitor: MonitorState): void {
    const signal: Signal = { kind: 'demonitor', from, ref: monitor.ref };
    if (monitor.node === this.node) {
      if (monitor.pid !== undefined) this.#route(monitor.pid, signal);
    } else {
      this.#remoteSend(monitor.node, monitor.pid ?? (monitor.name as Atom), signal);
    }
  }

  #remoteMonitorNode(node: Atom, watcher: Pid, on: boolean): void {
    try {
      this.#remote.monitorNode(node, watcher, on);
    } catch (error) {
      this.#log('error', 'remote monitorNode failed', {
        code: 'remote_signal_failed',
        peer: node.name,
        err: error,
      });
    }
  }

  #trackNode(state: ProcessState, node: Atom): void {
    if (node === this.node) return;
    const nodes = state.nodeSet();
    if (nodes.has(node)) return;
    nodes.add(node);
    let set = this.#byNode.get(node);
    if (set === undefined) {
      set = new ChurnMap();
      this.#byNode.set(node, set);
    }
    set.set(state.number, state);
  }

  #addAlias(state: ProcessState, ref: Reference, mode: AliasMode): void {
    const alias: AliasState = { state, ref, mode };
    this.#aliases.set(alias);
    state.aliasSet().set(alias);
  }

  #removeAlias(state: ProcessState, ref: Reference): boolean {
    const alias = this.#aliases.get(ref);
    if (alias === undefined || alias.state !== state) return false;
    this.#aliases.delete(ref);
    state.aliases?.delete(ref);
    return true;
  }

  // ---- operations of a process (through its context) ----

  #send(from: Pid, to: Destination, message: Term): void {
    const correlation = currentCorrelation();
    if (correlation !== undefined) {
      this.#sendCorrelated(from, to, message, correlation);
      return;
    }
    if (to instanceof Pid) {
      if (to.node !== this.node) {
        this.#remoteSend(to.node, to, { kind: 'message', from, message });
        return;
      }
      const state = this.#lookup(to);
      if (state === undefined) return;
      if (this.#draining) this.#enqueue(state, { kind: 'message', from, message });
      else this.#enqueueMessage(state, message);
      return;
    }
    if (to instanceof Reference) {
      if (to.node !== this.node) this.#remoteSend(to.node, to, { kind: 'message', from, message });
      else this.#deliverAlias(to, message);
      return;
    }
    let name: Atom;
    let node: Atom;
    if (Array.isArray(to)) {
      name = asAtom(to[0]);
      node = asAtom(to[1]);
      if (node !== this.node) {
        this.#remoteSend(node, name, { kind: 'message', from, message });
        return;
      }
    } else {
      name = to as Atom;
    }
    const state = this.#names.get(name);
    if (state === undefined) {
      // `Name ! Msg` raises badarg on the BEAM; `{Name, node()} ! Msg` is dropped.
      if (Array.isArray(to)) return;
      throw new ProcessError('not_registered', `no process is registered as ${name}`);
    }
    if (this.#draining) this.#enqueue(state, { kind: 'message', from, message });
    else this.#enqueueMessage(state, message);
  }

  /** {@link #send} inside a correlation: the id goes with the message (see correlation.ts). */
  #sendCorrelated(from: Pid, to: Destination, message: Term, correlation: string): void {
    const signal = messageSignal(from, message, correlation);
    if (to instanceof Pid) {
      if (to.node !== this.node) this.#remoteSend(to.node, to, signal);
      else this.deliver(to, signal);
      return;
    }
    if (to instanceof Reference) {
      if (to.node !== this.node) this.#remoteSend(to.node, to, signal);
      else this.#deliverAlias(to, message, correlation);
      return;
    }
    const remote = Array.isArray(to);
    const name = remote ? asAtom(to[0]) : (to as Atom);
    const node = remote ? asAtom(to[1]) : this.node;
    if (node !== this.node) {
      this.#remoteSend(node, name, signal);
      return;
    }
    const state = this.#names.get(name);
    if (state === undefined) {
      if (remote) return;
      throw new ProcessError('not_registered', `no process is registered as ${name}`);
    }
    this.#enqueue(state, signal);
  }

  #link(self: ProcessState, to: Pid): void {
    if (samePid(to, self.pid)) return;
    const key = pidKey(to);
    const existing = self.links?.get(key);
    if (existing !== undefined && existing.unlinkId === 0n) return;
    if (to.node === this.node && this.#lookup(to) === undefined) {
      // link/1 checks a local target synchronously: a message when trapping, an error otherwise.
      self.links?.delete(key);
      if (self.trapExit) {
        this.#batch(() => this.#enqueueMessage(self, exitMessage(to, atoms.noproc)));
        return;
      }
      throw new ProcessError('noproc', `link: no process ${to}`);
    }
    // Sending LINK (re)activates our side, forgetting an outstanding unlink.
    if (existing !== undefined) existing.unlinkId = 0n;
    else self.linkMap().set(key, { pid: to, unlinkId: 0n });
    this.#trackNode(self, to.node);
    this.#route(to, { kind: 'link', from: self.pid });
  }

  #unlink(self: ProcessState, to: Pid): void {
    const link = self.links?.get(pidKey(to));
    if (link === undefined || link.unlinkId !== 0n) return;
    link.unlinkId = ++this.#unlinkId;
    this.#route(to, { kind: 'unlink', from: self.pid, id: link.unlinkId });
  }

  #monitor(
    self: ProcessState,
    target: Pid | Atom | readonly [Atom | string, Atom | string],
    alias: AliasMode | undefined,
  ): Reference {
    const ref = this.makeRef();
    let pid: Pid | undefined;
    let name: Atom | undefined;
    let node: Atom;
    if (target instanceof Pid) {
      pid = target;
      node = target.node;
    } else if (Array.isArray(target)) {
      name = asAtom(target[0]);
      node = asAtom(target[1]);
      if (node === this.node) pid = this.#names.get(name)?.pid;
    } else {
      name = target as Atom;
      node = this.node;
      pid = this.#names.get(name)?.pid;
    }
    const monitor: MonitorState = { ref, pid, name, node, alias };
    if (node === this.node) {
      const state = pid === undefined ? undefined : this.#lookup(pid);
      if (state === undefined) {
        // No such process: DOWN `noproc` at once; a demonitor-mode alias goes with the monitor.
        if (alias === 'explicit_unalias') this.#addAlias(self, ref, alias);
        this.#batch(() => this.#enqueueMessage(self, downMessage(ref, whoOf(monitor, pid), atoms.noproc)));
        return ref;
      }
      if (alias !== undefined) this.#addAlias(self, ref, alias);
      self.monitorMap().set(monitor);
      const signal: Signal =
        name === undefined
          ? { kind: 'monitor', from: self.pid, ref }
          : { kind: 'monitor', from: self.pid, ref, name };
      this.#enqueue(state, signal);
      return ref;
    }
    if (alias !== undefined) this.#addAlias(self, ref, alias);
    self.monitorMap().set(monitor);
    this.#trackNode(self, node);
    const signal: Signal =
      name === undefined
        ? { kind: 'monitor', from: self.pid, ref }
        : { kind: 'monitor', from: self.pid, ref, name };
    this.#remoteSend(node, pid ?? (name as Atom), signal);
    return ref;
  }

  #demonitor(self: ProcessState, ref: Reference, flush: boolean): boolean {
    const monitor = self.monitors?.get(ref);
    if (monitor !== undefined) {
      self.monitors?.delete(ref);
      if (monitor.alias === 'demonitor' || monitor.alias === 'reply_demonitor') this.#removeAlias(self, ref);
      this.#sendDemonitor(self.pid, monitor);
    }
    if (flush) self.removeFirst((message) => isDownFor(message, ref));
    return monitor !== undefined;
  }

  #monitorNode(self: ProcessState, node: Atom, on: boolean): void {
    if (node === this.node) return;
    const count = self.nodeMonitors?.get(node) ?? 0;
    if (on) {
      self.nodeMonitorMap().set(node, count + 1);
      this.#trackNode(self, node);
    } else {
      // monitor_node(Node, false) removes one instance.
      if (count === 0) return;
      if (count === 1) self.nodeMonitors?.delete(node);
      else self.nodeMonitors?.set(node, count - 1);
    }
    this.#remoteMonitorNode(node, self.pid, on);
  }

  #makeHost(): ProcessHost {
    const remote = this.#remote;
    return {
      node: this.node,
      scheduler: this.#scheduler,
      calls: {
        aliasSupported: (node) => (remote.aliasSupported === undefined ? true : remote.aliasSupported(node)),
        connect: (node) => (remote.connect === undefined ? Promise.resolve() : remote.connect(node)),
        scheduler: this.#scheduler,
      },
      warn: (message, fields) => this.#log('warn', message, fields),
      send: (from, to, message) => this.#send(from.pid, to, message),
      link: (self, to) => this.#link(self, to),
      unlink: (self, to) => this.#unlink(self, to),
      monitor: (self, target, alias) => this.#monitor(self, target, alias),
      demonitor: (self, ref, flush) => this.#demonitor(self, ref, flush),
      monitorNode: (self, node, on) => this.#monitorNode(self, node, on),
      sendExit: (self, to, reason) => this.#route(to, { kind: 'exit', from: self.pid, reason, link: false }),
      terminate: (self, reason) => this.#terminate(self, reason),
      register: (name, pid) => this.register(name, pid),
      unregister: (name) => this.unregister(name),
      whereis: (name) => this.whereis(name),
      makeRef: () => this.makeRef(),
      alias: (self, mode) => {
        const ref = this.makeRef();
        this.#addAlias(self, ref, mode);
        return ref;
      },
      unalias: (self, ref) => this.#removeAlias(self, ref),
      spawnChild: (parent, fn, options, link, monitor) =>
        this.#spawnChild(parent, fn, options, link, monitor),
    };
  }

  #spawnChild(
    parent: ProcessState,
    fn: (self: ProcessContext<never>) => unknown,
    options: ChildSpawnOptions | undefined,
    link: boolean,
    monitor: boolean,
  ): { pid: Pid; ref: Reference | undefined } {
    const ref = monitor ? this.makeRef() : undefined;
    const spawnOptions: {
      -readonly [K in keyof SpawnOptions]: SpawnOptions[K];
    } = { groupLeader: parent.groupLeader };
    if (options?.name !== undefined) spawnOptions.name = options.name;
    if (options?.trapExit !== undefined) spawnOptions.trapExit = options.trapExit;
    if (options?.mailboxLimit !== undefined) spawnOptions.mailboxLimit = options.mailboxLimit;
    if (link) spawnOptions.link = parent.pid;
    if (ref !== undefined) spawnOptions.monitor = { watcher: parent.pid, ref };
    return { pid: this.spawn(fn, spawnOptions), ref };
  }
}

/** `Who` of a DOWN message: `{Name, Node}` for a monitor by name, else the pid. */
function whoOf(monitor: MonitorState, from: Pid | Atom | undefined): Pid | Tuple {
  if (monitor.name !== undefined) return new Tuple([monitor.name, monitor.node]);
  return monitor.pid ?? (from as Pid);
}

/** A message signal, with its correlation id when there is one. */
function messageSignal(from: Pid | undefined, message: Term, correlation: string | undefined): Signal {
  if (correlation === undefined)
    return from === undefined ? { kind: 'message', message } : { kind: 'message', from, message };
  const signal: CorrelatedMessage =
    from === undefined
      ? { kind: 'message', message, correlation }
      : { kind: 'message', from, message, correlation };
  return signal;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function asAtom(value: Atom | string): Atom {
  return typeof value === 'string' ? atom(value) : value;
}

function checkLimit(limit: number): void {
  if (!(limit >= 1)) throw new ProcessError('bad_argument', `mailboxLimit must be >= 1, got ${limit}`);
}
