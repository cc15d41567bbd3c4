/**
 * A process as its own code sees it: {@link ProcessContext}, the `self` handed to the function a
 * process runs. Its state ({@link ProcessState}) belongs to the process table, which applies
 * signals to it; the context only reads it and asks the table to act.
 *
 * Receive. `receive()` takes the oldest message; `receive({ match })` the oldest one `match`
 * accepts, leaving the others in order (selective receive). `timeoutMs` bounds the wait: when no
 * matching message arrives in time the promise rejects with {@link ReceiveTimeoutError}
 * (code `timeout`); `timeoutMs: 0` only looks at the mailbox (Erlang's `after 0`; use
 * {@link ProcessContext.tryReceive} to get `undefined` instead). `signal` cancels the wait with
 * {@link ReceiveAbortedError} (code `aborted`). One receive at a time: a second concurrent one
 * rejects with code `concurrent_receive`.
 *
 * Validation. `receive({ schema })` validates candidate messages with any Standard Schema
 * (zod, valibot, arktype, ...) and resolves with the schema's output. A candidate that fails is
 * removed from the mailbox, counted (`ProcessInfo.invalidMessages`), logged at `warn`, and the
 * receive goes on waiting (within the same deadline). Why drop rather than leave it queued:
 * messages from the network are untrusted, and a message no receive will ever accept would stay
 * in the mailbox forever, slowing every later scan and growing memory. To wait for one kind of
 * message while others stay queued, select with `match` first: only messages `match` accepts are
 * validated (and dropped when invalid). A schema that throws rejects the receive with its error
 * (the message is gone); asynchronous schemas are awaited.
 *
 * Calls. `self.call(dest, request, { timeoutMs })` is a gen_server call (call.ts): it reaches
 * Erlang gen_servers and TypeScript servers (gen-server.ts) alike, and rejects with a `CallError`.
 *
 * Death. When the process exits (by returning, throwing, `self.exit`, or an exit signal), a
 * pending receive rejects with an {@link ExitSignal}, `self.signal` aborts, and every later
 * operation throws the `ExitSignal` again, so the code unwinds. Catch-all blocks should rethrow it
 * (`if (isExitSignal(e)) throw e`).
 *
 * Correlation. A message sent inside `withCorrelation` (correlation.ts), here or on another
 * TypeScript node, carries its id; after a receive, {@link ProcessContext.messageCorrelation} is
 * the id of the message just received (undefined when it had none).
 *
 * Methods use `this`: call them on the context (`self.receive()`), don't detach them.
 *
 * @module
 */

import type { StandardSchemaV1 } from '@standard-schema/spec';
import { type Atom, atoms, type Pid, type Reference, type Term } from '../term/types.ts';
import { type CallDestination, type CallHost, type CallOptions, callFrom } from './call.ts';
import { RefMap } from './churn-map.ts';
import { ExitSignal, ProcessError, ReceiveAbortedError, ReceiveTimeoutError } from './errors.ts';
import { Mailbox, NO_MESSAGE } from './mailbox.ts';
import type { Scheduler } from './process-table.ts';
import type { MessageOf, TypedPid } from './signals.ts';

/** When an alias is deactivated automatically (`erlang:alias/1`, the `{alias, _}` monitor option). */
export type AliasMode =
  /** Only by `unalias`. */
  | 'explicit_unalias'
  /** After the first message that arrives through it (`alias([reply])`). */
  | 'reply'
  /** (monitor aliases) When the monitor goes: demonitor, or the DOWN message. */
  | 'demonitor'
  /** (monitor aliases) When the monitor goes, or after the first message through it, which also demonitors. */
  | 'reply_demonitor';

/** Where a message goes: a pid, a local name, `[name, node]`, or an alias. */
export type Destination = Pid | Atom | Reference | readonly [Atom | string, Atom | string];

/** Options of {@link ProcessContext.receive}. */
export interface ReceiveOptions<M> {
  /** Selective receive: take the oldest message this accepts. Must be pure. */
  readonly match?: (message: M) => boolean;
  /** Give up after this many milliseconds (rejects with {@link ReceiveTimeoutError}); 0 polls. */
  readonly timeoutMs?: number;
  /** Cancels the wait (rejects with {@link ReceiveAbortedError}). */
  readonly signal?: AbortSignal;
}

/** Options of a validated {@link ProcessContext.receive}. */
export interface ValidatedReceiveOptions<M, S extends StandardSchemaV1> extends ReceiveOptions<M> {
  /** Validates each candidate; invalid ones are dropped, counted and logged (see the module comment). */
  readonly schema: S;
}

/** Options of {@link ProcessContext.messages}. */
export interface MessagesOptions<M> {
  readonly match?: (message: M) => boolean;
  /** Ends the iteration (without error) when aborted. */
  readonly signal?: AbortSignal;
}

/** Options of {@link ProcessContext.monitor}. */
export interface MonitorOptions {
  /** Also make the monitor reference an alias of this process, deactivated as the mode says. */
  readonly alias?: 'explicit_unalias' | 'demonitor' | 'reply_demonitor';
}

/** Options of a spawn from inside a process. */
export interface ChildSpawnOptions {
  /** Register the new process under this name (atomically with the spawn). */
  readonly name?: Atom;
  /** Start trapping exits. */
  readonly trapExit?: boolean;
  /** Mailbox bound of the new process. */
  readonly mailboxLimit?: number;
}

/** @internal One side of a link, in the new link protocol: active when `unlinkId` is 0n. */
export interface LinkState {
  readonly pid: Pid;
  /** 0n: active. Otherwise the id of our unacknowledged UNLINK_ID; the link is then inactive. */
  unlinkId: bigint;
}

/** @internal A monitor this process holds. */
/** What a process keeps of each of its aliases (the table's own record of it). */
export interface AliasRef {
  readonly ref: Reference;
}

export interface MonitorState {
  readonly ref: Reference;
  /** The monitored pid, when known (undefined for a remote name). */
  readonly pid: Pid | undefined;
  /** Set when monitoring by registered name. */
  readonly name: Atom | undefined;
  /** The node of the monitored process. */
  readonly node: Atom;
  readonly alias: AliasMode | undefined;
}

/** @internal A monitor held on this process by `watcher`. */
export interface MonitoredByState {
  readonly ref: Reference;
  readonly watcher: Pid;
  readonly name: Atom | undefined;
}

/** @internal What a context needs from its table. */
export interface ProcessHost {
  readonly node: Atom;
  readonly scheduler: Scheduler;
  /** What `call` needs: connections to other nodes. */
  readonly calls: CallHost;
  /** Logs a warning through the table's logger. */
  warn(message: string, fields: Record<string, unknown>): void;
  send(from: ProcessState, to: Destination, message: Term): void;
  link(self: ProcessState, to: Pid): void;
  unlink(self: ProcessState, to: Pid): void;
  monitor(
    self: ProcessState,
    target: Pid | Atom | readonly [Atom | string, Atom | string],
    alias: AliasMode | undefined,
  ): Reference;
  demonitor(self: ProcessState, ref: Reference, flush: boolean): boolean;
  monitorNode(self: ProcessState, node: Atom, on: boolean): void;
  sendExit(self: ProcessState, to: Pid, reason: Term): void;
  terminate(self: ProcessState, reason: Term): void;
  register(name: Atom, pid: Pid): void;
  unregister(name: Atom): void;
  whereis(name: Atom): Pid | undefined;
  makeRef(): Reference;
  alias(self: ProcessState, mode: AliasMode): Reference;
  unalias(self: ProcessState, ref: Reference): boolean;
  spawnChild(
    parent: ProcessState,
    fn: (self: ProcessContext<never>) => unknown,
    options: ChildSpawnOptions | undefined,
    link: boolean,
    monitor: boolean,
  ): { pid: Pid; ref: Reference | undefined };
}

/** @internal Links, monitors and the rest of what most processes never use: allocated on first use. */
class ProcessExtras {
  links: Map<string, LinkState> | undefined = undefined;
  // ChurnMaps (churn-map.ts): a caller makes and drops a monitor and an alias per call.
  monitors: RefMap<MonitorState> | undefined = undefined;
  monitoredBy: RefMap<MonitoredByState> | undefined = undefined;
  nodeMonitors: Map<Atom, number> | undefined = undefined;
  aliases: RefMap<AliasRef> | undefined = undefined;
  nodes: Set<Atom> | undefined = undefined;
  abort: AbortController | undefined = undefined;
  invalidMessages = 0;
}

/**
 * @internal The state of a live (or just dead) process. Owned by the table.
 *
 * It is its own mailbox (it extends {@link Mailbox}) and keeps links, monitors, aliases and the
 * like in a {@link ProcessExtras} made on first use, so an idle process is a handful of fields:
 * with a million processes, every field is 8 MB.
 */
export class ProcessState extends Mailbox<Term> {
  readonly pid: Pid;
  readonly context: ProcessContext<never>;
  alive = true;
  trapExit = false;
  exitReason: Term | undefined = undefined;
  name: Atom | undefined = undefined;
  groupLeader: Pid;
  mailboxLimit: number;
  /** The function to run, until the process starts. */
  start: ((self: ProcessContext<never>) => unknown) | undefined = undefined;
  #extras: ProcessExtras | undefined = undefined;

  constructor(host: ProcessHost, pid: Pid, groupLeader: Pid, mailboxLimit: number) {
    super();
    this.pid = pid;
    this.groupLeader = groupLeader;
    this.mailboxLimit = mailboxLimit;
    this.context = new ProcessContext<never>(host, this);
  }

  /** The table's key for this process (its 28-bit pid number). */
  get number(): number {
    return this.pid.serial * 0x8000 + this.pid.id;
  }

  /** The mailbox: this object. */
  get mailbox(): Mailbox<Term> {
    return this;
  }

  #more(): ProcessExtras {
    if (this.#extras === undefined) this.#extras = new ProcessExtras();
    return this.#extras;
  }

  get links(): Map<string, LinkState> | undefined {
    return this.#extras?.links;
  }
  set links(value: Map<string, LinkState> | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().links = value;
  }
  get monitors(): RefMap<MonitorState> | undefined {
    return this.#extras?.monitors;
  }
  set monitors(value: RefMap<MonitorState> | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().monitors = value;
  }
  get monitoredBy(): RefMap<MonitoredByState> | undefined {
    return this.#extras?.monitoredBy;
  }
  set monitoredBy(value: RefMap<MonitoredByState> | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().monitoredBy = value;
  }
  /** `monitor_node` instances per node. */
  get nodeMonitors(): Map<Atom, number> | undefined {
    return this.#extras?.nodeMonitors;
  }
  set nodeMonitors(value: Map<Atom, number> | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().nodeMonitors = value;
  }
  /** Keys of this process's active aliases. */
  get aliases(): RefMap<AliasRef> | undefined {
    return this.#extras?.aliases;
  }
  set aliases(value: RefMap<AliasRef> | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().aliases = value;
  }
  /** Remote nodes this process has links or monitors with (the table's index). */
  get nodes(): Set<Atom> | undefined {
    return this.#extras?.nodes;
  }
  set nodes(value: Set<Atom> | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().nodes = value;
  }
  get abort(): AbortController | undefined {
    return this.#extras?.abort;
  }
  set abort(value: AbortController | undefined) {
    if (value !== undefined || this.#extras !== undefined) this.#more().abort = value;
  }
  /** Messages dropped because they failed a receive's schema. */
  get invalidMessages(): number {
    return this.#extras?.invalidMessages ?? 0;
  }
  set invalidMessages(value: number) {
    this.#more().invalidMessages = value;
  }
  /** True when the process has links, monitors, aliases or node monitors (its exit has work to do). */
  get hasExtras(): boolean {
    return this.#extras !== undefined;
  }

  linkMap(): Map<string, LinkState> {
    const x = this.#more();
    if (x.links === undefined) x.links = new Map();
    return x.links;
  }

  monitorMap(): RefMap<MonitorState> {
    const x = this.#more();
    if (x.monitors === undefined) x.monitors = new RefMap();
    return x.monitors;
  }

  monitoredByMap(): RefMap<MonitoredByState> {
    const x = this.#more();
    if (x.monitoredBy === undefined) x.monitoredBy = new RefMap();
    return x.monitoredBy;
  }

  nodeMonitorMap(): Map<Atom, number> {
    const x = this.#more();
    if (x.nodeMonitors === undefined) x.nodeMonitors = new Map();
    return x.nodeMonitors;
  }

  aliasSet(): RefMap<AliasRef> {
    const x = this.#more();
    if (x.aliases === undefined) x.aliases = new RefMap();
    return x.aliases;
  }

  nodeSet(): Set<Atom> {
    const x = this.#more();
    if (x.nodes === undefined) x.nodes = new Set();
    return x.nodes;
  }

  /** The error a dead process's code gets from every operation. */
  exitSignal(): ExitSignal {
    return new ExitSignal(this.pid, this.exitReason ?? 'unknown');
  }
}

/**
 * The handle a process's function receives as `self`: its pid, its mailbox, and the operations
 * of the Erlang "Processes" chapter. `M` is the type of messages it expects (unchecked unless a
 * receive has a `schema`).
 */
export class ProcessContext<M = Term> {
  readonly #host: ProcessHost;
  readonly #state: ProcessState;

  /** @internal Made by the process table. */
  constructor(host: ProcessHost, state: ProcessState) {
    this.#host = host;
    this.#state = state;
  }

  /** This process's pid. */
  get pid(): TypedPid<M> {
    return this.#state.pid;
  }

  /** The node this process runs on. */
  get node(): Atom {
    return this.#host.node;
  }

  /** False once the process has exited. */
  get alive(): boolean {
    return this.#state.alive;
  }

  /** Messages in the mailbox. */
  get messageQueueLen(): number {
    return this.#state.length;
  }

  /** Aborted when the process exits; pass it to `fetch`, timers, streams the process owns. */
  get signal(): AbortSignal {
    const state = this.#state;
    if (state.abort === undefined) {
      state.abort = new AbortController();
      if (!state.alive) state.abort.abort(state.exitSignal());
    }
    return state.abort.signal;
  }

  /** This process's group leader. */
  get groupLeader(): Pid {
    return this.#state.groupLeader;
  }

  /**
   * The correlation id the message received last carried (see correlation.ts), or undefined when
   * it carried none. Set by every `receive`, `tryReceive` and iteration step, so read it right
   * after the receive whose message it describes:
   *
   * ```ts
   * const job = await self.receive();
   * await withCorrelation(self.messageCorrelation ?? newCorrelationId(), () => run(job));
   * ```
   *
   * gen_server callbacks and exposed RPC functions need not read it: they already run inside it.
   */
  get messageCorrelation(): string | undefined {
    return this.#state.correlation;
  }

  /** Waits for the oldest message (see the module comment for options and errors). */
  receive(): Promise<M>;
  receive<N extends M>(
    options: ReceiveOptions<M> & { readonly match: (message: M) => message is N },
  ): Promise<N>;
  receive<S extends StandardSchemaV1>(
    options: ValidatedReceiveOptions<M, S>,
  ): Promise<StandardSchemaV1.InferOutput<S>>;
  receive(options: ReceiveOptions<M>): Promise<M>;
  receive(options?: ReceiveOptions<M> & { readonly schema?: StandardSchemaV1 }): Promise<unknown> {
    const state = this.#state;
    if (!state.alive) return Promise.reject(state.exitSignal());
    if (options === undefined) {
      // The hot path: a queued message, nobody else waiting.
      if (state.length > 0 && !state.waiting) return Promise.resolve(state.take());
      return this.#receive(undefined, undefined, undefined);
    }
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && !(timeoutMs >= 0)) {
      return Promise.reject(new ProcessError('bad_argument', `timeoutMs must be >= 0, got ${timeoutMs}`));
    }
    if (options.schema !== undefined) {
      return this.#receiveValid(options.schema, options.match, timeoutMs, options.signal);
    }
    return this.#receive(options.match, timeoutMs, options.signal);
  }

  /** The oldest message (`match` accepts), removed, or undefined when there is none. Never waits. */
  tryReceive(match?: (message: M) => boolean): M | undefined {
    this.#check();
    const message = this.#state.take(match as ((message: Term) => boolean) | undefined);
    return message === NO_MESSAGE ? undefined : (message as M);
  }

  /**
   * The mailbox as an endless async iterable of messages (`for await (const m of self.messages())`).
   * It ends cleanly when `signal` aborts, and throws the {@link ExitSignal} when the process dies.
   */
  messages(options?: MessagesOptions<M>): AsyncIterable<M> {
    const match = options?.match;
    const signal = options?.signal;
    return { [Symbol.asyncIterator]: () => this.#iterate(match, signal) };
  }

  /** `for await (const m of self)`: {@link messages} without options. */
  [Symbol.asyncIterator](): AsyncIterator<M> {
    return this.#iterate(undefined, undefined);
  }

  /** Sends a message: to a pid, a local name, `[name, node]` or an alias (a reference). */
  send<D extends Destination>(to: D, message: MessageOf<D>): void {
    this.#check();
    this.#host.send(this.#state, to, message as Term);
    this.#check();
  }

  /** Links to `pid` (`link/1`). A dead local pid: `{'EXIT', Pid, noproc}` when trapping exits, else throws code `noproc`. */
  link(pid: Pid): void {
    this.#check();
    this.#host.link(this.#state, pid);
  }

  /** Removes the link to `pid`, if any (`unlink/1`). Afterwards the link has no effect on this process. */
  unlink(pid: Pid): void {
    this.#check();
    this.#host.unlink(this.#state, pid);
  }

  /**
   * Monitors a pid, a local registered name, or `[name, node]` (`monitor(process, _)`). When the target
   * exits (or does not exist: reason `noproc`; or the connection drops: `noconnection`) this process gets
   * `{'DOWN', Ref, process, Who, Reason}`, `Who` being the pid or `{Name, Node}`.
   */
  monitor(target: Pid | Atom | readonly [Atom | string, Atom | string], options?: MonitorOptions): Reference {
    this.#check();
    return this.#host.monitor(this.#state, target, options?.alias);
  }

  /** Removes a monitor; `flush` also removes its DOWN message if one arrived. True if the monitor was active. */
  demonitor(ref: Reference, options?: { readonly flush?: boolean }): boolean {
    this.#check();
    return this.#host.demonitor(this.#state, ref, options?.flush === true);
  }

  /** `monitor_node(Node, On)`: `{nodedown, Node}` when the connection to `node` goes. Instances stack. */
  monitorNode(node: Atom, on = true): void {
    this.#check();
    this.#host.monitorNode(this.#state, node, on);
  }

  /** Sets trap_exit; returns the previous value. */
  trapExit(on: boolean): boolean {
    this.#check();
    const old = this.#state.trapExit;
    this.#state.trapExit = on;
    return old;
  }

  /**
   * Exits this process with `reason` (`exit/1`) and unwinds its code by throwing an {@link ExitSignal}.
   * Unlike Erlang's `exit/1`, catching the throw does not keep the process alive: it is already dead.
   */
  exit(reason: Term = atoms.normal): never {
    this.#check();
    this.#host.terminate(this.#state, reason);
    throw this.#state.exitSignal();
  }

  /** Sends an exit signal to `pid` (`exit/2`): `kill` cannot be trapped; `normal` is ignored by others. */
  sendExit(pid: Pid, reason: Term): void {
    this.#check();
    this.#host.sendExit(this.#state, pid, reason);
    this.#check();
  }

  /** Registers this process under `name`. */
  register(name: Atom): void {
    this.#check();
    this.#host.register(name, this.#state.pid);
  }

  /** Removes a local registered name. */
  unregister(name: Atom): void {
    this.#check();
    this.#host.unregister(name);
  }

  /** The pid registered locally under `name`. */
  whereis(name: Atom): Pid | undefined {
    return this.#host.whereis(name);
  }

  /** A new unique reference. */
  makeRef(): Reference {
    return this.#host.makeRef();
  }

  /** A new alias: a reference that routes messages to this process until deactivated. */
  alias(options?: { readonly reply?: boolean }): Reference {
    this.#check();
    return this.#host.alias(this.#state, options?.reply === true ? 'reply' : 'explicit_unalias');
  }

  /** Deactivates an alias of this process; true if it was active. */
  unalias(ref: Reference): boolean {
    this.#check();
    return this.#host.unalias(this.#state, ref);
  }

  /**
   * Calls a gen_server-compatible server (an Erlang `gen_server`, or a TypeScript one, see
   * gen-server.ts) and resolves with its reply: `await self.call([atom('srv'), atom('erl@host')], req)`.
   * Rejects with a {@link CallError} (`timeout`, `noproc`, `noconnection`, `exit`, `calling_self`);
   * a late reply never reaches this mailbox. See call.ts for the protocol.
   */
  call(destination: CallDestination, request: Term, options?: CallOptions): Promise<Term> {
    this.#check();
    return callFrom(this as unknown as ProcessContext, this.#host.calls, destination, request, options);
  }

  /** Spawns a process (same group leader). */
  spawn<N = Term>(fn: (self: ProcessContext<N>) => unknown, options?: ChildSpawnOptions): TypedPid<N> {
    this.#check();
    return this.#host.spawnChild(
      this.#state,
      fn as unknown as (self: ProcessContext<never>) => unknown,
      options,
      false,
      false,
    ).pid;
  }

  /** Spawns a process linked to this one, atomically. */
  spawnLink<N = Term>(fn: (self: ProcessContext<N>) => unknown, options?: ChildSpawnOptions): TypedPid<N> {
    this.#check();
    return this.#host.spawnChild(
      this.#state,
      fn as unknown as (self: ProcessContext<never>) => unknown,
      options,
      true,
      false,
    ).pid;
  }

  /** Spawns a process monitored by this one, atomically; returns its pid and the monitor reference. */
  spawnMonitor<N = Term>(
    fn: (self: ProcessContext<N>) => unknown,
    options?: ChildSpawnOptions,
  ): [TypedPid<N>, Reference] {
    this.#check();
    const { pid, ref } = this.#host.spawnChild(
      this.#state,
      fn as unknown as (self: ProcessContext<never>) => unknown,
      options,
      false,
      true,
    );
    return [pid, ref as Reference];
  }

  #check(): void {
    if (!this.#state.alive) throw this.#state.exitSignal();
  }

  /** The unvalidated receive: the hot path. One promise per receive, no per-message allocation. */
  #receive(
    match: ((message: M) => boolean) | undefined,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<M> {
    const state = this.#state;
    if (!state.alive) return Promise.reject(state.exitSignal());
    const box = state as unknown as Mailbox<M>;
    if (box.waiting)
      return Promise.reject(
        new ProcessError('concurrent_receive', 'this process already waits in a receive'),
      );
    if (signal?.aborted) return Promise.reject(new ReceiveAbortedError(signal.reason));
    let message: M | typeof NO_MESSAGE;
    try {
      message = box.take(match);
    } catch (error) {
      return Promise.reject(error);
    }
    if (message !== NO_MESSAGE) return Promise.resolve(message);
    if (timeoutMs === 0) return Promise.reject(new ReceiveTimeoutError(0));
    const timed = timeoutMs !== undefined && timeoutMs !== Number.POSITIVE_INFINITY;
    if (!timed && signal === undefined) {
      return new Promise<M>((resolve) => box.waitPromise(match, resolve));
    }
    const scheduler = this.#host.scheduler;
    return new Promise<M>((resolve, reject) => {
      let timer: unknown;
      const cleanup = (): void => {
        if (timer !== undefined) scheduler.clearTimeout(timer);
        timer = undefined;
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        box.cancelWait();
        cleanup();
        reject(new ReceiveAbortedError(signal?.reason));
      };
      box.wait(
        match,
        (m) => {
          cleanup();
          resolve(m);
        },
        (error) => {
          cleanup();
          reject(error);
        },
      );
      if (timed) {
        timer = scheduler.setTimeout(() => {
          timer = undefined;
          box.cancelWait();
          cleanup();
          reject(new ReceiveTimeoutError(timeoutMs));
        }, timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The validated receive: take a candidate, validate, drop invalid ones, within one deadline. */
  async #receiveValid(
    schema: StandardSchemaV1,
    match: ((message: M) => boolean) | undefined,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const state = this.#state;
    const scheduler = this.#host.scheduler;
    const timed = timeoutMs !== undefined && timeoutMs !== Number.POSITIVE_INFINITY;
    const start = timed ? scheduler.now() : 0;
    for (;;) {
      const left = timed ? Math.max(0, timeoutMs - (scheduler.now() - start)) : undefined;
      let message: M;
      try {
        message = await this.#receive(match, left, signal);
      } catch (error) {
        // Report the caller's timeout, not what was left of it.
        if (error instanceof ReceiveTimeoutError && timed) throw new ReceiveTimeoutError(timeoutMs);
        throw error;
      }
      let result = schema['~standard'].validate(message);
      if (result instanceof Promise) result = await result;
      if (!state.alive) throw state.exitSignal();
      if (!result.issues) return result.value;
      state.invalidMessages++;
      this.#host.warn('message dropped: it failed the receive schema', {
        code: 'invalid_message',
        pid: state.pid.toString(),
        issues: result.issues.slice(0, 5).map((issue) => issue.message),
      });
    }
  }

  async *#iterate(
    match: ((message: M) => boolean) | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<M, void, undefined> {
    for (;;) {
      if (signal?.aborted) return;
      let message: M;
      try {
        message = await this.#receive(match, undefined, signal);
      } catch (error) {
        if (error instanceof ReceiveAbortedError) return;
        throw error;
      }
      yield message;
    }
  }
}
