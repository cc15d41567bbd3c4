/**
 * RPC: `node.rpc`. Calling out (`call`, `cast`, `multicall`) and being called (`expose`; the
 * servers are in rex.ts).
 *
 * Calling out speaks what OTP 23+'s `erpc` speaks, so it works the same against BEAM and TS nodes:
 * SPAWN_REQUEST `{29, ReqId, Client, Client, {erpc, execute_call, 4}, [monitor]}` with arguments
 * `[Res, M, F, A]`; the peer answers SPAWN_REPLY (a pid, or an error atom such as `system_limit`)
 * and later the DOWN of the monitor (reference ReqId) whose reason is the result:
 * `{Res, return, V}`, `{Res, throw, V}`, `{Res, exit, R}`, `{Res, error, R, Stack}` or
 * `{Res, error, {erpc, R}}`. Because the result travels in that envelope, a function that returns a
 * `{badrpc, _}`-shaped term is a value, never an error. Peers without DFLAG_SPAWN are called
 * through their `rex` gen_server (`{call, M, F, A, user}`); rex's convention cannot tell a returned
 * `{badrpc, _}` from an error, so there it is read as one (as `rpc:call` does).
 *
 * One client process per node is the `From` of every request (and the group leader the request
 * names, answering io requests with `ok` so remote code that prints does not block). Pending calls
 * are a map by ReqId; the node hands SPAWN_REPLY and the matching DOWNs here without going
 * through the client's mailbox (no promise, closure or process per call).
 *
 * Timeouts. A call that times out rejects with code `timeout` and is forgotten: if the peer had
 * replied, we send DEMONITOR_P, so its DOWN never comes; if it had not, the request is abandoned,
 * and when its SPAWN_REPLY comes the new process gets an exit signal `abandoned` (as erts does for
 * `spawn_request_abandon/1`); at most 10 000 such abandoned calls are remembered (past that a
 * peer that answers nothing could grow memory), later ones are forgotten at once. Late results
 * are dropped by the node: they reach no mailbox. As on the BEAM, a function that is already
 * running is not stopped by the caller's timeout.
 *
 * Default timeout: 5 000 ms (`rpcDefaults.timeoutMs`), `gen_server:call`'s default. OTP's
 * `rpc:call/4` waits forever; a finite default means a hung peer or function surfaces as an error
 * instead of a promise that never settles. Pass `timeoutMs: Infinity` to wait forever.
 *
 * Errors: see {@link RpcError}. `nodedown` is "could not reach the node before sending";
 * `noconnection` is "the connection went down while the call was in flight".
 *
 * @module
 */

import type { Connection } from '../dist/connection.ts';
import { type ControlMessage, SPAWN_REPLY_MONITOR } from '../dist/control.ts';
import type { Logger } from '../dist/logger.ts';
import { ChurnMap } from '../node/churn-map.ts';
import { spawnRequestTrace, withoutCorrelation } from '../node/correlation.ts';
import { isExitSignal } from '../node/errors.ts';
import type { ProcessContext } from '../node/process.ts';
import { type ProcessTable, REF_WORD0 } from '../node/process-table.ts';
import { samePid, sameRef } from '../node/signals.ts';
import { Atom, atom, atoms, ImproperList, Pid, Reference, type Term, Tuple } from '../term/types.ts';
import { type ErlangClass, RpcError } from './errors.ts';
import { type Outcome, RexServer, type RpcExposed, rpcAtoms } from './rex.ts';

/** Options of the RPC service. */
export interface RpcOptions {
  /** Timeout of calls that do not give one, in ms. Default {@link rpcDefaults}.timeoutMs. */
  readonly timeoutMs?: number;
  /** Calls into this node running at once; more are refused with `system_limit`. */
  readonly maxConcurrent?: number;
}

/** Defaults of {@link RpcOptions}, with the reason for each. */
export const rpcDefaults: { readonly timeoutMs: number; readonly maxConcurrent: number } = Object.freeze({
  // gen_server:call's default: a hung peer becomes an error, not a promise that never settles.
  timeoutMs: 5_000,
  // Generous for request/response traffic, small enough that a flood cannot hold unbounded work.
  maxConcurrent: 1_024,
});

/** Options of one call. */
export interface RpcCallOptions {
  /**
   * Milliseconds to wait for the result; `Infinity` (or anything above 2^31 - 1, the longest
   * timer) waits forever. Default 5 000 (see the module comment).
   */
  readonly timeoutMs?: number;
  /**
   * How to reach the peer: `erpc` (SPAWN_REQUEST), `rex` (the peer's rex gen_server), or `auto`
   * (default): `erpc` when the connection has DFLAG_SPAWN, else `rex`.
   */
  readonly via?: 'auto' | 'erpc' | 'rex';
}

/** The result of one node in a {@link Rpc.multicall}. */
export type MulticallResult =
  | { readonly node: string; readonly ok: true; readonly value: Term }
  | { readonly node: string; readonly ok: false; readonly error: RpcError };

/** What the RPC service needs of its node. */
export interface RpcHost {
  readonly name: string;
  readonly atom: Atom;
  readonly processes: ProcessTable;
  setControlHook(
    kind: 'spawn_request' | 'spawn_reply',
    hook: ((peer: Atom, msg: ControlMessage) => void) | undefined,
  ): void;
  sendControl(node: Atom, msg: ControlMessage): void;
  connection(node: string): Connection | undefined;
  connect(node: string): Promise<void>;
  on(event: 'nodedown', listener: (node: string, ...rest: never[]) => void): unknown;
}

interface Pending {
  readonly node: Atom;
  readonly from: Pid;
  readonly res: Reference;
  readonly reqId: Reference;
  readonly module: Atom;
  readonly fn: Atom;
  readonly args: readonly Term[];
  readonly resolve: (value: Term) => void;
  readonly reject: (error: RpcError) => void;
  /** When it times out (`performance.now()` ms); Infinity for never, or once it has. */
  deadline: number;
  /** The process the peer created, once SPAWN_REPLY came. */
  pid: Pid | undefined;
  /** Timed out before SPAWN_REPLY: kill the process when it comes. */
  abandoned: boolean;
}

const A = rpcAtoms;
const MONITOR_OPTIONS: readonly Term[] = Object.freeze([A.monitor]) as readonly Term[];
const NO_OPTIONS: readonly Term[] = Object.freeze([]) as readonly Term[];
/** Longest delay a Node timer takes (longer ones fire at once); beyond it we wait forever. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Timed-out calls still waiting for their SPAWN_REPLY that we remember (see #timeout). */
const MAX_ABANDONED = 10_000;

/**
 * `node.rpc`: call functions on other nodes, and expose functions for them to call.
 *
 * ```ts
 * await node.rpc.call('erl@127.0.0.1', 'lists', 'reverse', [[1, 2, 3]]); // [3, 2, 1]
 * node.rpc.expose('math', { add: (a: number, b: number) => a + b });     // rpc:call(ts, math, add, [1, 2])
 * ```
 */
export class Rpc {
  readonly #host: RpcHost;
  readonly #server: RexServer;
  readonly #pending = new ChurnMap<Pending>();
  #timeoutMs: number;
  #client: Pid | undefined;
  /** Entries of `#pending` kept only to kill their process when the SPAWN_REPLY comes. */
  #abandoned = 0;
  /** The timer that times calls out (see `#armSweep`), and the deadline it is armed for. */
  #sweepTimer: ReturnType<typeof setTimeout> | undefined;
  #sweepAt = Number.POSITIVE_INFINITY;

  /** @internal Made by the node. */
  constructor(host: RpcHost, logger: Logger, options: RpcOptions = {}) {
    this.#host = host;
    this.#timeoutMs = checkTimeout(options.timeoutMs ?? rpcDefaults.timeoutMs, 'timeoutMs');
    this.#server = new RexServer(
      host,
      logger,
      checkLimit(options.maxConcurrent ?? rpcDefaults.maxConcurrent),
    );
    host.setControlHook('spawn_request', (peer, msg) => {
      if (msg.kind === 'spawn_request') this.#server.handleSpawnRequest(peer, msg);
    });
    host.setControlHook('spawn_reply', (peer, msg) => {
      if (msg.kind === 'spawn_reply') this.#handleSpawnReply(peer, msg);
    });
    host.on('nodedown', (node) => this.#handleNodeDown(node));
    this.#server.startRex();
  }

  /** Changes the options of {@link RpcOptions} (limits apply to calls that start afterwards). */
  configure(options: RpcOptions): void {
    if (options.timeoutMs !== undefined) this.#timeoutMs = checkTimeout(options.timeoutMs, 'timeoutMs');
    if (options.maxConcurrent !== undefined) this.#server.maxConcurrent = checkLimit(options.maxConcurrent);
  }

  /** Calls made by this node still waiting for their result (abandoned ones included until their reply). */
  get pendingCalls(): number {
    return this.#pending.size;
  }

  /** Calls into this node running now. */
  get runningCalls(): number {
    return this.#server.running;
  }

  // --- being called ---

  /**
   * Makes functions callable from other nodes as `module:name/arity` (see {@link RpcExposed} for the
   * arity and an optional Standard Schema validating the arguments). Only exposed functions can be
   * called; anything else answers `undef`, as a missing function on the BEAM. Exposing a name again
   * replaces it. Returns a function that removes exactly these.
   *
   * Arguments arrive as Erlang terms (binaries as `Buffer`, atoms as `Atom`, ...); the function
   * returns a term or a promise of one (`undefined` is returned as `ok`). Throw
   * {@link ErlangException} to raise `throw`, `exit` or `error` with a reason of your choice; any
   * other exception is an `error` (see rex.ts).
   */
  expose(module: string | Atom, functions: Readonly<Record<string, RpcExposed>>): () => void {
    return this.#server.expose(module, functions);
  }

  /** Removes an exposed function (all its arities), or the whole module when `fn` is omitted. */
  unexpose(module: string | Atom, fn?: string | Atom): void {
    this.#server.unexpose(module, fn);
  }

  // --- calling out ---

  /**
   * Calls `module:fn(...args)` on `node` and resolves with its value. Rejects with an
   * {@link RpcError}: `timeout`, `nodedown`, `noconnection`, `undef`, `exception` (the remote
   * function raised: `class`, `reason`, `stacktrace`), `badrpc` (anything else, with `term`), or
   * `badarg` (bad local arguments). Calling this node itself runs the exposed function directly.
   */
  call(
    node: string | Atom,
    module: string | Atom,
    fn: string | Atom,
    args: readonly Term[],
    options?: RpcCallOptions,
  ): Promise<Term> {
    const nodeName = typeof node === 'string' ? node : node.name;
    const m = toAtom(module);
    const f = toAtom(fn);
    const arity = Array.isArray(args) ? args.length : -1;
    const ctx = { node: nodeName, module: m ?? NO_NAME, function: f ?? NO_NAME, arity };
    if (m === undefined || f === undefined) {
      return Promise.reject(
        new RpcError('badarg', 'module and function must be atoms of at most 255 characters', ctx),
      );
    }
    if (arity < 0) return Promise.reject(new RpcError('badarg', 'args must be an array', ctx));
    let timeoutMs = this.#timeoutMs;
    if (options?.timeoutMs !== undefined) {
      timeoutMs = options.timeoutMs;
      if (!(timeoutMs >= 0)) {
        return Promise.reject(new RpcError('badarg', `timeoutMs must be >= 0, got ${timeoutMs}`, ctx));
      }
    }
    const via = options?.via ?? 'auto';
    if (nodeName === this.#host.name) return this.#callLocal(m, f, args, ctx);
    const conn = this.#host.connection(nodeName);
    if (conn?.open) return this.#callOn(conn, nodeName, m, f, args, timeoutMs, via, ctx);
    return this.#connectThenCall(nodeName, m, f, args, timeoutMs, via, ctx);
  }

  /**
   * Runs `module:fn(...args)` on `node` without waiting for it (`erpc:cast`); resolves once the
   * request is sent. Rejects with `nodedown` when the node cannot be reached, `badarg` for bad
   * arguments. Errors of the function itself are not reported back.
   */
  async cast(
    node: string | Atom,
    module: string | Atom,
    fn: string | Atom,
    args: readonly Term[],
  ): Promise<void> {
    const nodeName = typeof node === 'string' ? node : node.name;
    const m = toAtom(module);
    const f = toAtom(fn);
    const ctx = {
      node: nodeName,
      module: m ?? NO_NAME,
      function: f ?? NO_NAME,
      arity: Array.isArray(args) ? args.length : -1,
    };
    if (m === undefined || f === undefined) {
      throw new RpcError('badarg', 'module and function must be atoms of at most 255 characters', ctx);
    }
    if (!Array.isArray(args)) throw new RpcError('badarg', 'args must be an array', ctx);
    if (nodeName === this.#host.name) {
      void Promise.resolve(this.#server.invoke(m, f, args as Term[]));
      return;
    }
    const conn = await this.#connection(nodeName, ctx);
    const nodeAtom = conn.peer;
    try {
      if (conn.spawn) {
        this.#host.sendControl(nodeAtom, {
          kind: 'spawn_request',
          ...spawnRequestTrace(conn.flags),
          reqId: this.#host.processes.makeRef(),
          from: this.#clientPid(),
          groupLeader: this.#clientPid(),
          module: A.erpc,
          function: A.execute_cast,
          arity: 3,
          options: NO_OPTIONS,
          args: [m, f, args as Term[]],
        });
      } else {
        this.#host.processes.send(
          [A.rex, nodeAtom],
          new Tuple([A.$gen_cast, new Tuple([A.cast, m, f, args as Term[], A.user])]),
          this.#clientPid(),
        );
      }
    } catch (e) {
      throw new RpcError('badarg', `cannot send the request: ${errorText(e)}`, { ...ctx, cause: e });
    }
  }

  /**
   * Calls `module:fn(...args)` on every node at once (`erpc:multicall`) and resolves, when all are
   * settled, with one result per node, in order: `{ node, ok: true, value }` or
   * `{ node, ok: false, error }`. Never rejects.
   */
  multicall(
    nodes: readonly (string | Atom)[],
    module: string | Atom,
    fn: string | Atom,
    args: readonly Term[],
    options?: RpcCallOptions,
  ): Promise<MulticallResult[]> {
    return Promise.all(
      nodes.map((n) => {
        const node = typeof n === 'string' ? n : n.name;
        return this.call(node, module, fn, args, options).then(
          (value): MulticallResult => ({ node, ok: true, value }),
          (error: unknown): MulticallResult => ({
            node,
            ok: false,
            error: asRpcError(error, node, module, fn, args),
          }),
        );
      }),
    );
  }

  // --- internals: calling ---

  async #connectThenCall(
    nodeName: string,
    m: Atom,
    f: Atom,
    args: readonly Term[],
    timeoutMs: number,
    via: 'auto' | 'erpc' | 'rex',
    ctx: Ctx,
  ): Promise<Term> {
    const conn = await this.#connection(nodeName, ctx);
    return await this.#callOn(conn, nodeName, m, f, args, timeoutMs, via, ctx);
  }

  async #connection(nodeName: string, ctx: Ctx): Promise<Connection> {
    try {
      await this.#host.connect(nodeName);
    } catch (e) {
      throw new RpcError('nodedown', `cannot connect: ${errorText(e)}`, { ...ctx, cause: e });
    }
    const conn = this.#host.connection(nodeName);
    if (conn === undefined || !conn.open) throw new RpcError('nodedown', 'the connection went down', ctx);
    return conn;
  }

  #callOn(
    conn: Connection,
    nodeName: string,
    m: Atom,
    f: Atom,
    args: readonly Term[],
    timeoutMs: number,
    via: 'auto' | 'erpc' | 'rex',
    ctx: Ctx,
  ): Promise<Term> {
    if (via === 'rex' || (via === 'auto' && !conn.spawn))
      return this.#callRex(conn, m, f, args, timeoutMs, ctx);
    if (!conn.spawn) {
      // What erts answers locally when the peer lacks DFLAG_SPAWN.
      return Promise.reject(
        new RpcError('badrpc', `${nodeName} does not support SPAWN_REQUEST`, { ...ctx, term: A.notsup }),
      );
    }
    const table = this.#host.processes;
    const reqId = table.makeRef();
    const res = table.makeRef();
    let from: Pid;
    try {
      from = this.#clientPid();
    } catch (e) {
      return Promise.reject(
        new RpcError('nodedown', `this node cannot call: ${errorText(e)}`, { ...ctx, cause: e }),
      );
    }
    const node = conn.peer;
    return new Promise<Term>((resolve, reject) => {
      const p: Pending = {
        node,
        from,
        res,
        reqId,
        module: m,
        fn: f,
        args,
        resolve,
        reject,
        deadline: timeoutMs <= MAX_TIMER_MS ? performance.now() + timeoutMs : Number.POSITIVE_INFINITY,
        pid: undefined,
        abandoned: false,
      };
      const key = refNumber(reqId);
      try {
        conn.sendControl({
          kind: 'spawn_request',
          // SPAWN_REQUEST_TT with the correlation id, to a distribute node inside withCorrelation.
          ...spawnRequestTrace(conn.flags),
          reqId,
          from,
          groupLeader: from,
          module: A.erpc,
          function: A.execute_call,
          arity: 4,
          options: MONITOR_OPTIONS,
          args: [res, m, f, args as Term[]],
        });
      } catch (e) {
        reject(new RpcError('badarg', `cannot send the request: ${errorText(e)}`, { ...ctx, cause: e }));
        return;
      }
      this.#pending.set(key, p);
      if (p.deadline < this.#sweepAt) this.#armSweep(p.deadline);
    });
  }

  /**
   * One timer for every call in flight, armed for the earliest deadline, instead of one per call:
   * a call that ends leaves it be, so a steady stream of calls arms it about once per timeout,
   * not twice per call (at one call at a time, Node created and dropped a timer list per call).
   * Unref'd: a call in flight keeps the process up through its connection, as before.
   */
  #armSweep(at: number): void {
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepAt = at;
    this.#sweepTimer = setTimeout(this.#sweep, Math.max(0, Math.ceil(at - performance.now())));
    this.#sweepTimer.unref();
  }

  /** Times out the calls past their deadline; arms the timer for the next one. */
  readonly #sweep = (): void => {
    this.#sweepTimer = undefined;
    this.#sweepAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    const due: Pending[] = [];
    for (const p of this.#pending.values()) {
      if (p.deadline <= now) due.push(p);
      else if (p.deadline < next) next = p.deadline;
    }
    for (const p of due) this.#timeout(refNumber(p.reqId), p);
    if (next !== Number.POSITIVE_INFINITY) this.#armSweep(next);
  };

  #timeout(key: number | string, p: Pending): void {
    p.deadline = Number.POSITIVE_INFINITY;
    if (this.#pending.get(key) !== p) return;
    if (p.pid === undefined) {
      // Keep the entry: its SPAWN_REPLY will come, and the process it names must be told. Past the
      // cap (a peer that answers nothing), forget it instead: memory stays bounded.
      if (this.#abandoned < MAX_ABANDONED) {
        p.abandoned = true;
        this.#abandoned++;
      } else {
        this.#pending.delete(key);
      }
    } else {
      this.#pending.delete(key);
      this.#host.sendControl(p.node, { kind: 'demonitor', from: p.from, to: p.pid, ref: p.reqId });
    }
    p.reject(new RpcError('timeout', 'no result in time', ctxOf(p)));
  }

  /** The node's SPAWN_REPLY hook: a reply to one of our calls (anything else is ignored). */
  #handleSpawnReply(peer: Atom, msg: Extract<ControlMessage, { kind: 'spawn_reply' }>): void {
    const key = refNumber(msg.reqId);
    const p = this.#pending.get(key);
    if (p === undefined || p.node !== peer || !samePid(p.from, msg.to) || !sameRef(p.reqId, msg.reqId))
      return;
    const result = msg.result;
    if (result instanceof Atom) {
      this.#pending.delete(key);
      if (p.abandoned) this.#abandoned--;
      else this.#finish(p, spawnErrorOf(result, p));
      return;
    }
    if (p.abandoned) {
      this.#pending.delete(key);
      this.#abandoned--;
      this.#host.processes.exit(result, A.abandoned, p.from);
      return;
    }
    if ((msg.flags & SPAWN_REPLY_MONITOR) === 0) {
      this.#pending.delete(key);
      this.#finish(
        p,
        new RpcError('badrpc', 'the peer did not monitor the call', { ...ctxOf(p), term: A.notsup }),
      );
      return;
    }
    p.pid = result;
  }

  /**
   * @internal The node calls this for each MONITOR_P_EXIT it receives; true when it was the result of
   * one of our calls (consumed: it must not reach the process table).
   */
  handleMonitorPExit(msg: Extract<ControlMessage, { kind: 'monitor_exit' }>): boolean {
    if (this.#pending.size === 0) return false;
    const key = refNumber(msg.ref);
    const p = this.#pending.get(key);
    if (
      p === undefined ||
      !sameRef(p.reqId, msg.ref) ||
      !samePid(p.from, msg.to) ||
      !(msg.from instanceof Pid) ||
      msg.from.node !== p.node
    ) {
      return false;
    }
    this.#pending.delete(key);
    if (p.abandoned) this.#abandoned--;
    else this.#finish(p, erpcResult(msg.reason, p));
    return true;
  }

  #finish(p: Pending, result: Term | RpcError): void {
    p.deadline = Number.POSITIVE_INFINITY;
    if (result instanceof RpcError) p.reject(result);
    else p.resolve(result);
  }

  #handleNodeDown(node: string): void {
    if (this.#pending.size === 0) return;
    for (const p of this.#pending.values()) {
      if (p.node.name !== node) continue;
      this.#pending.delete(refNumber(p.reqId));
      if (p.abandoned) this.#abandoned--;
      else this.#finish(p, new RpcError('noconnection', 'the connection went down', ctxOf(p)));
    }
  }

  async #callLocal(m: Atom, f: Atom, args: readonly Term[], ctx: Ctx): Promise<Term> {
    const outcome = await this.#server.invoke(m, f, args as Term[]);
    const r = outcomeResult(outcome, ctx);
    if (r instanceof RpcError) throw r;
    return r;
  }

  /** A gen_server call to `{rex, Node}` with `{call, M, F, A, user}`, from a process of its own. */
  #callRex(
    conn: Connection,
    m: Atom,
    f: Atom,
    args: readonly Term[],
    timeoutMs: number,
    ctx: Ctx,
  ): Promise<Term> {
    const node = conn.peer;
    const useAlias = conn.alias;
    return new Promise<Term>((resolve, reject) => {
      const run = async (self: ProcessContext): Promise<void> => {
        const mref = useAlias
          ? self.monitor([A.rex, node], { alias: 'reply_demonitor' })
          : self.monitor([A.rex, node]);
        const tag: Term = useAlias ? new ImproperList([ALIAS], mref) : mref;
        self.send(
          [A.rex, node],
          new Tuple([
            A.$gen_call,
            new Tuple([self.pid, tag]),
            new Tuple([A.call, m, f, args as Term[], A.user]),
          ]),
        );
        try {
          const answer = await self.receive({
            match: (x) => isRexAnswer(x, mref),
            ...(timeoutMs > MAX_TIMER_MS ? {} : { timeoutMs }),
          });
          const e = (answer as Tuple).elements;
          if (e.length === 5) {
            // DOWN: rex is not there, or the connection went.
            const reason = e[4] as Term;
            reject(
              reason === atoms.noconnection
                ? new RpcError('noconnection', 'the connection went down', ctx)
                : new RpcError('badrpc', 'rex is not running there', {
                    ...ctx,
                    term: new Tuple([A.EXIT, reason]),
                  }),
            );
            return;
          }
          self.demonitor(mref, { flush: true });
          const r = rexResult(e[1] as Term, ctx);
          if (r instanceof RpcError) reject(r);
          else resolve(r);
        } catch (error) {
          if (isExitSignal(error)) {
            reject(
              new RpcError('badrpc', 'the calling process was killed', {
                ...ctx,
                term: new Tuple([A.EXIT, error.reason]),
              }),
            );
            return;
          }
          // Timeout: the monitor (and with it the alias) goes, so a late reply is dropped.
          self.demonitor(mref, { flush: true });
          reject(new RpcError('timeout', 'no result in time', { ...ctx, cause: error }));
        }
      };
      try {
        this.#host.processes.spawn(run);
      } catch (e) {
        reject(new RpcError('nodedown', `this node cannot call: ${errorText(e)}`, { ...ctx, cause: e }));
      }
    });
  }

  /** The process that is the `From` (and group leader) of our requests, started on first use. */
  #clientPid(): Pid {
    const table = this.#host.processes;
    const pid = this.#client;
    if (pid !== undefined && table.isAlive(pid)) return pid;
    // Started by whichever call comes first, it serves them all: no caller's correlation.
    this.#client = withoutCorrelation(() =>
      table.spawn(async (self) => {
        for (;;) {
          const m = await self.receive();
          const reply = ioReply(m);
          if (reply !== undefined) self.send(reply.to, reply.message);
        }
      }),
    );
    return this.#client;
  }
}

type Ctx = { readonly node: string; readonly module: Atom; readonly function: Atom; readonly arity: number };

function ctxOf(p: Pending): Ctx {
  return { node: p.node.name, module: p.module, function: p.fn, arity: p.args.length };
}

/** A number (or string) key with the equality of references for our own request ids. */
function refNumber(ref: Reference): number | string {
  const ids = ref.ids;
  if (ids.length === 3 && ids[2] === 0) return (ids[1] as number) * REF_WORD0 + (ids[0] as number);
  return `${ref.node.name}|${ref.creation}|${ids.join('.')}`;
}

/** The atom for a module or function name, or undefined when it cannot be one. */
function toAtom(name: string | Atom): Atom | undefined {
  if (name instanceof Atom) return name;
  if (typeof name !== 'string') return undefined;
  try {
    return atom(name);
  } catch {
    return undefined;
  }
}

const NO_NAME = atom('');

function checkTimeout(ms: number, what: string): number {
  if (!(ms >= 0)) throw new RangeError(`${what} must be >= 0, got ${ms}`);
  return ms;
}

function checkLimit(n: number): number {
  if (!(Number.isInteger(n) && n >= 1))
    throw new RangeError(`maxConcurrent must be an integer >= 1, got ${n}`);
  return n;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function asRpcError(
  error: unknown,
  node: string,
  module: string | Atom,
  fn: string | Atom,
  args: readonly Term[],
): RpcError {
  if (error instanceof RpcError) return error;
  return new RpcError('badrpc', errorText(error), {
    node,
    module: toAtom(module) ?? NO_NAME,
    function: toAtom(fn) ?? NO_NAME,
    arity: Array.isArray(args) ? args.length : -1,
    term: new Tuple([A.EXIT, errorText(error)]),
    cause: error,
  });
}

/** The answer to an io request sent to our group leader: `ok` for output, `{error, enotsup}` otherwise. */
function ioReply(m: Term): { to: Pid; message: Term } | undefined {
  if (!(m instanceof Tuple) || m.length !== 4 || m.elements[0] !== A.io_request) return undefined;
  const [, from, replyAs, request] = m.elements;
  if (!(from instanceof Pid)) return undefined;
  const output = request instanceof Tuple && request.length >= 2 && request.elements[0] === A.put_chars;
  const reply: Term = output ? atoms.ok : new Tuple([atoms.error, A.enotsup]);
  return { to: from, message: new Tuple([A.io_reply, replyAs as Term, reply]) };
}

function isRexAnswer(x: Term, mref: Reference): boolean {
  if (!(x instanceof Tuple)) return false;
  const e = x.elements;
  if (e.length === 2) {
    const tag = e[0];
    if (tag instanceof Reference) return sameRef(tag, mref);
    return tag instanceof ImproperList && tag.tail instanceof Reference && sameRef(tag.tail, mref);
  }
  return e.length === 5 && e[0] === DOWN && e[1] instanceof Reference && sameRef(e[1], mref);
}

const DOWN = atom('DOWN');
const ALIAS = atom('alias');

// --- results (pure) ---

/**
 * The outcome carried by an erpc DOWN reason (`{Res, return, V}`, ...), or undefined when the
 * reason is not an erpc result for `res` (the process was killed, the connection went, ...).
 */
export function erpcOutcome(reason: Term, res: Reference): Outcome | undefined {
  if (!(reason instanceof Tuple)) return undefined;
  const e = reason.elements;
  if ((e.length !== 3 && e.length !== 4) || !(e[0] instanceof Reference) || !sameRef(e[0], res))
    return undefined;
  const tag = e[1];
  if (e.length === 4) {
    return tag === A.error ? { kind: 'error', reason: e[2] as Term, stacktrace: e[3] as Term } : undefined;
  }
  const v = e[2] as Term;
  if (tag === A.return) return { kind: 'return', value: v };
  if (tag === A.throw) return { kind: 'throw', value: v };
  if (tag === A.exit) return { kind: 'exit', reason: v };
  if (tag === A.error && v instanceof Tuple && v.length === 2 && v.elements[0] === A.erpc) {
    return { kind: 'erpc', reason: v.elements[1] as Term };
  }
  return undefined;
}

/**
 * The outcome of a rex `{call, ...}` reply. Rex cannot tell a returned `{badrpc, _}` (or a thrown
 * value) from an error: `{badrpc, {'EXIT', {R, Stack}}}` reads as an error, `{badrpc, {'EXIT', R}}`
 * as an exit, any other `{badrpc, X}` as `badrpc`, and everything else as the value.
 */
export function rexOutcome(reply: Term): Outcome | { readonly kind: 'badrpc'; readonly term: Term } {
  if (!(reply instanceof Tuple) || reply.length !== 2 || reply.elements[0] !== A.badrpc) {
    return { kind: 'return', value: reply };
  }
  const x = reply.elements[1] as Term;
  if (x instanceof Tuple && x.length === 2 && x.elements[0] === A.EXIT) {
    const r = x.elements[1] as Term;
    if (r instanceof Tuple && r.length === 2 && isStack(r.elements[1] as Term)) {
      return { kind: 'error', reason: r.elements[0] as Term, stacktrace: r.elements[1] as Term };
    }
    return { kind: 'exit', reason: r };
  }
  return { kind: 'badrpc', term: x };
}

function isStack(t: Term): boolean {
  return Array.isArray(t) && t.every((f) => f instanceof Tuple && f.length === 4);
}

/** True when an `error:undef` is about the called function itself (not one it called). */
function isUndefOf(o: Outcome, ctx: Ctx): boolean {
  if (o.kind !== 'error' || o.reason !== A.undef || !Array.isArray(o.stacktrace)) return false;
  const top = o.stacktrace[0];
  if (!(top instanceof Tuple) || top.length !== 4) return false;
  const [m, f, a] = top.elements;
  return (
    m === ctx.module &&
    f === ctx.function &&
    (a === ctx.arity || (Array.isArray(a) && a.length === ctx.arity))
  );
}

/** The value, or the error, a caller gets for an outcome. */
export function outcomeResult(o: Outcome, ctx: Ctx): Term | RpcError {
  switch (o.kind) {
    case 'return':
      return o.value;
    case 'throw':
      return exception('throw', o.value, undefined, ctx);
    case 'exit':
      return exception('exit', o.reason, undefined, ctx);
    case 'error':
      if (isUndefOf(o, ctx)) {
        return new RpcError('undef', 'undefined function', {
          ...ctx,
          class: 'error',
          reason: o.reason,
          stacktrace: o.stacktrace,
        });
      }
      return exception('error', o.reason, o.stacktrace, ctx);
    case 'erpc':
      return new RpcError('badrpc', `erpc error ${String(o.reason)}`, {
        ...ctx,
        term: new Tuple([A.EXIT, o.reason]),
      });
  }
}

function exception(cls: ErlangClass, reason: Term, stacktrace: Term | undefined, ctx: Ctx): RpcError {
  return new RpcError('exception', `${cls} ${brief(reason)}`, {
    ...ctx,
    class: cls,
    reason,
    ...(stacktrace === undefined ? {} : { stacktrace }),
  });
}

/** A short description of a reason for error messages. */
function brief(t: Term): string {
  if (t instanceof Atom) return t.name;
  if (t instanceof Tuple && t.elements[0] instanceof Atom) return `{${t.elements[0].name}, ...}`;
  return typeof t === 'number' || typeof t === 'string' ? String(t) : 'term';
}

/** The result carried by a DOWN of one of our calls. */
function erpcResult(reason: Term, p: Pending): Term | RpcError {
  const ctx = ctxOf(p);
  const o = erpcOutcome(reason, p.res);
  if (o !== undefined) return outcomeResult(o, ctx);
  if (reason === atoms.noconnection) return new RpcError('noconnection', 'the connection went down', ctx);
  // The process died some other way (killed): erpc raises exit {signal, Reason}; rpc gives {badrpc, {'EXIT', Reason}}.
  return new RpcError('badrpc', `the call's process exited: ${brief(reason)}`, {
    ...ctx,
    term: new Tuple([A.EXIT, reason]),
  });
}

/** The error for a SPAWN_REPLY error atom, as `rpc:call` maps `{erpc, Reason}`. */
function spawnErrorOf(reason: Atom, p: Pending): RpcError {
  const ctx = ctxOf(p);
  if (reason === atoms.noconnection) return new RpcError('noconnection', 'the connection went down', ctx);
  if (reason === A.notsup)
    return new RpcError('badrpc', 'the peer does not support spawn', { ...ctx, term: A.notsup });
  return new RpcError('badrpc', `the peer refused the call: ${reason.name}`, {
    ...ctx,
    term: new Tuple([A.EXIT, reason]),
  });
}

/** The value or error of a rex reply. */
function rexResult(reply: Term, ctx: Ctx): Term | RpcError {
  const o = rexOutcome(reply);
  if (o.kind === 'badrpc') {
    if (o.term === A.nodedown) return new RpcError('noconnection', 'the connection went down', ctx);
    if (o.term === A.timeout) return new RpcError('timeout', 'no result in time', ctx);
    return new RpcError('badrpc', `badrpc ${brief(o.term)}`, { ...ctx, term: o.term });
  }
  return outcomeResult(o, ctx);
}
