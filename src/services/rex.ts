/**
 * Being called: the functions a node exposes, and the two ways other nodes call them.
 *
 * 1. SPAWN_REQUEST (what `erpc:call`, `rpc:call`, `erpc:cast` and `rpc:cast` of OTP 23+ send, and
 *    what our own `node.rpc.call` sends): `{29, ReqId, From, GL, {erpc, execute_call, 4}, Opts}`
 *    with arguments `[Res, M, F, A]` (`execute_cast/3`: `[M, F, A]`). We run the function, answer
 *    SPAWN_REPLY `{31, ReqId, From, Flags, Pid}` (Flags: 1 = linked, 2 = monitored, as asked),
 *    then end the process with the erpc result as its exit reason:
 *    `{Res, return, V}`, `{Res, throw, V}`, `{Res, exit, R}` or `{Res, error, R, Stack}`. The
 *    caller's monitor (its reference is ReqId) carries that reason back in a DOWN
 *    (PAYLOAD_MONITOR_P_EXIT or MONITOR_P_EXIT); a link carries it as an EXIT.
 *    Any other MFA (`erlang:spawn(Node, M, F, A)`) runs M:F(A...) as the process itself when it
 *    is exposed, and otherwise the process exits `{undef, [{M, F, A, []}]}`, as on the BEAM.
 * 2. The `rex` registered process (OTP's rpc server): `{From, features_request}` is answered
 *    `{features_reply, Node, [erpc]}`; gen_server calls `{call | block_call, M, F, A, GL}`, the cast
 *    `{cast, M, F, A, GL}` and the C-node form `{From, {call, M, F, A, GL}}` (answered
 *    `{rex, Result}`) run exposed functions with rex's result convention (a throw returns the
 *    value, an exit gives `{badrpc, {'EXIT', R}}`, an error `{badrpc, {'EXIT', {R, Stack}}}`);
 *    `{From, {send | sbcast, Name, Msg}}` are served as OTP does.
 *
 * Safety.
 * - Only exposed functions run. Anything else, including a known function called with another
 *   arity, answers exactly as the BEAM answers a missing function: error `undef` with the stack
 *   `[{M, F, Args, []}]`, so `rpc:call` returns `{badrpc, {'EXIT', {undef, [...]}}}`.
 * - A function may validate its argument list with a Standard Schema; a list that fails answers
 *   as if the function had raised `badarg` (stack `[{M, F, Args, [{schema_issues, [Text]}]}]`).
 * - At most `maxConcurrent` calls run at once; past it SPAWN_REQUEST is answered with the error
 *   `system_limit` (`rpc:call` returns `{badrpc, {'EXIT', system_limit}}`, `erpc:call` raises
 *   `{erpc, system_limit}`) and rex answers `{badrpc, {'EXIT', system_limit}}`, as OTP's rex does
 *   when it cannot spawn.
 * - A function's JavaScript exception becomes class `error`, reason `{js_error, #{...}}` (see
 *   exit-reason.ts) and a stack of `{Module, Function, 0, [{file, File}, {line, Line}]}` frames
 *   made from the JavaScript stack down to the exposed function, ending with `{M, F, Arity, []}`:
 *   `erl_error` formats it. A
 *   return value with no Erlang counterpart becomes error `{bad_return_value, Text}`; `undefined`
 *   is returned as `ok` (a function called for its effect).
 *
 * Why the function does not run inside the process's body: the process waits forever and the
 * function runs beside it; when the function settles, the process is killed with the result as
 * reason. A process killed before its body ever started (an early exit signal) would otherwise
 * leave the concurrency count off by one.
 *
 * A function that returns at once (not a promise), and a request for nothing exposed, need no
 * process at all: the pid is born exited (`ProcessTable.spawnExited`): SPAWN_REPLY, then the
 * DOWN and EXIT its monitor and link would get, with nothing started or torn down. Seen from
 * the caller it is a process that ended before anyone could signal it (a late link or monitor is
 * answered `noproc`, as for any ended process). Measured: about 10 us less CPU per call here.
 * Only a promise gets a real process, which the caller can link to, monitor or kill meanwhile.
 *
 * Correlation: a SPAWN_REQUEST_TT from a distribute node carries a correlation id
 * (node/correlation.ts); the function runs inside `withCorrelation` with it, as does the handling
 * of a request to `rex` whose message carried one. Other trace tokens are ignored.
 *
 * Divergences from OTP, by choice: `block_call` runs like `call` (concurrently, never blocking rex);
 * the group leader of a request is kept as the process's group leader but nothing is printed.
 *
 * @module
 */

import { fileURLToPath } from 'node:url';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { type ControlMessage, SPAWN_REPLY, SPAWN_REPLY_LINK, SPAWN_REPLY_MONITOR } from '../dist/control.ts';
import type { Logger } from '../dist/logger.ts';
import { correlationOfToken, runCorrelated } from '../node/correlation.ts';
import { exitReasonOf, MAX_STACK_LINES } from '../node/exit-reason.ts';
import { genReply } from '../node/net-kernel.ts';
import type { ProcessTable } from '../node/process-table.ts';
import { TermWriter } from '../term/encode.ts';
import { Atom, atom, atoms, Pid, type Term, Tuple } from '../term/types.ts';
import { type ErlangClass, ErlangException, RpcError } from './errors.ts';

/** An exposed function: Erlang terms in, a term (or a promise of one) out. */
export type RpcHandler = (...args: never[]) => unknown;

/** An exposed function with its arity and argument validation spelled out. */
export interface RpcFunctionSpec {
  readonly fn: RpcHandler;
  /**
   * The arities it answers (Erlang's `F/N`); a call with any other number of arguments is `undef`.
   * Default `fn.length`: the parameters before the first one with a default or a rest parameter,
   * so declare it for such functions.
   */
  readonly arity?: number | readonly number[];
  /**
   * Validates the argument list (an array of terms) before the call; `fn` gets the schema's output
   * spread as its arguments, so it must be an array too. A list that fails answers as `badarg`.
   */
  readonly schema?: StandardSchemaV1;
}

/**
 * A spec whose function's parameters are typed by its schema, which validates the argument list:
 * `validated(z.tuple([z.number(), z.string()]), (n, s) => ...)`. The arity is the schema's
 * tuple length as `fn.length` sees it; pass `arity` when they differ.
 */
export function validated<S extends StandardSchemaV1>(
  schema: S,
  fn: (...args: Extract<StandardSchemaV1.InferOutput<S>, readonly unknown[]>) => unknown,
  arity?: number | readonly number[],
): RpcFunctionSpec {
  const f = fn as unknown as RpcHandler;
  return arity === undefined ? { schema, fn: f } : { schema, fn: f, arity };
}

/** What `expose` accepts per function name: the function itself (arity `fn.length`) or a spec. */
export type RpcExposed = RpcHandler | RpcFunctionSpec;

/** How a call ended, in erpc's terms. */
export type Outcome =
  | { readonly kind: 'return'; readonly value: Term }
  | { readonly kind: 'throw'; readonly value: Term }
  | { readonly kind: 'exit'; readonly reason: Term }
  | { readonly kind: 'error'; readonly reason: Term; readonly stacktrace: Term }
  /** erpc's own argument errors, `{Res, error, {erpc, Reason}}` (decoded from peers, never produced). */
  | { readonly kind: 'erpc'; readonly reason: Term };

/** Atoms of the RPC protocols. */
export const rpcAtoms: {
  readonly erpc: Atom;
  readonly execute_call: Atom;
  readonly execute_cast: Atom;
  readonly rex: Atom;
  readonly return: Atom;
  readonly throw: Atom;
  readonly exit: Atom;
  readonly error: Atom;
  readonly link: Atom;
  readonly monitor: Atom;
  readonly undef: Atom;
  readonly badrpc: Atom;
  readonly EXIT: Atom;
  readonly system_limit: Atom;
  readonly features_request: Atom;
  readonly features_reply: Atom;
  readonly call: Atom;
  readonly block_call: Atom;
  readonly cast: Atom;
  readonly send: Atom;
  readonly sbcast: Atom;
  readonly nonexisting_name: Atom;
  readonly $gen_call: Atom;
  readonly $gen_cast: Atom;
  readonly user: Atom;
  readonly nocatch: Atom;
  readonly exception: Atom;
  readonly bad_return_value: Atom;
  readonly schema_issues: Atom;
  readonly file: Atom;
  readonly line: Atom;
  readonly apply: Atom;
  readonly erlang: Atom;
  readonly io_request: Atom;
  readonly io_reply: Atom;
  readonly put_chars: Atom;
  readonly enotsup: Atom;
  readonly notsup: Atom;
  readonly abandoned: Atom;
  readonly timeout: Atom;
  readonly nodedown: Atom;
} = Object.freeze({
  erpc: atom('erpc'),
  execute_call: atom('execute_call'),
  execute_cast: atom('execute_cast'),
  rex: atom('rex'),
  return: atom('return'),
  throw: atom('throw'),
  exit: atom('exit'),
  error: atom('error'),
  link: atom('link'),
  monitor: atom('monitor'),
  undef: atom('undef'),
  badrpc: atom('badrpc'),
  EXIT: atom('EXIT'),
  system_limit: atom('system_limit'),
  features_request: atom('features_request'),
  features_reply: atom('features_reply'),
  call: atom('call'),
  block_call: atom('block_call'),
  cast: atom('cast'),
  send: atom('send'),
  sbcast: atom('sbcast'),
  nonexisting_name: atom('nonexisting_name'),
  $gen_call: atom('$gen_call'),
  $gen_cast: atom('$gen_cast'),
  user: atom('user'),
  nocatch: atom('nocatch'),
  exception: atom('exception'),
  bad_return_value: atom('bad_return_value'),
  schema_issues: atom('schema_issues'),
  file: atom('file'),
  line: atom('line'),
  apply: atom('apply'),
  erlang: atom('erlang'),
  io_request: atom('io_request'),
  io_reply: atom('io_reply'),
  put_chars: atom('put_chars'),
  enotsup: atom('enotsup'),
  notsup: atom('notsup'),
  abandoned: atom('abandoned'),
  timeout: atom('timeout'),
  nodedown: atom('nodedown'),
});

const A = rpcAtoms;

/** Schema issues kept in a badarg stack frame, and characters kept of each. */
const MAX_ISSUES = 5;
const MAX_ISSUE_CHARS = 200;
/** JavaScript frames kept in an error's Erlang stack. */
const MAX_JS_FRAMES = Math.min(16, MAX_STACK_LINES);

// --- pure helpers (the wire shapes) ---

/**
 * The link and monitor requests in a SPAWN_REQUEST option list. Lenient: options are atoms or
 * tuples (`monitor`, `{monitor, Opts}`, `link`, `{priority, P}`, ...); unknown ones are ignored.
 */
export function parseSpawnOptions(options: readonly Term[]): { link: boolean; monitor: boolean } {
  let link = false;
  let monitor = false;
  for (const o of options) {
    if (o === A.link) link = true;
    else if (o === A.monitor) monitor = true;
    else if (o instanceof Tuple && o.length >= 1) {
      const key = o.elements[0];
      if (key === A.monitor) monitor = true;
      else if (key === A.link) link = true;
    }
  }
  return { link, monitor };
}

/** The exit reason that carries an erpc result back to `erpc:execute_call/4`'s caller. */
export function erpcReason(res: Term, outcome: Outcome): Term {
  switch (outcome.kind) {
    case 'return':
      return new Tuple([res, A.return, outcome.value]);
    case 'throw':
      return new Tuple([res, A.throw, outcome.value]);
    case 'exit':
      return new Tuple([res, A.exit, outcome.reason]);
    case 'error':
      return new Tuple([res, A.error, outcome.reason, outcome.stacktrace]);
    case 'erpc':
      return new Tuple([res, A.error, new Tuple([A.erpc, outcome.reason])]);
  }
}

/** The reply of OTP's rex for a `{call, M, F, A, GL}`. */
export function rexReply(outcome: Outcome): Term {
  switch (outcome.kind) {
    case 'return':
    case 'throw':
      return outcome.value;
    case 'exit':
    case 'erpc':
      return badrpcExit(outcome.reason);
    case 'error':
      return badrpcExit(new Tuple([outcome.reason, outcome.stacktrace]));
  }
}

/** The exit reason of a plain spawned process (`erlang:spawn(Node, M, F, A)`) whose function ended so. */
export function processExitReason(outcome: Outcome): Term {
  switch (outcome.kind) {
    case 'return':
      return atoms.normal;
    case 'throw':
      return new Tuple([new Tuple([A.nocatch, outcome.value]), []]);
    case 'exit':
    case 'erpc':
      return outcome.reason;
    case 'error':
      return new Tuple([outcome.reason, outcome.stacktrace]);
  }
}

function badrpcExit(reason: Term): Tuple {
  return new Tuple([A.badrpc, new Tuple([A.EXIT, reason])]);
}

/** `error:undef` as the BEAM raises it for a missing `M:F/length(Args)`. */
export function undefOutcome(module: Term, fn: Term, args: Term): Outcome {
  return { kind: 'error', reason: A.undef, stacktrace: [new Tuple([module, fn, args, []])] };
}

/** An Erlang string (a list of code points), as stack locations carry file names. */
function charlist(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) out.push(ch.codePointAt(0) as number);
  return out;
}

/** This module's path, where the frames of the exposed function's callers start. */
const THIS_FILE: string = fileURLToPath(import.meta.url);

const FRAME_RE = /^at (?:async )?(?:(.*?) \()?(.*?):(\d+):\d+\)?$/;

/**
 * A JavaScript error's stack as Erlang stack frames `{Module, Function, 0, [{file, F}, {line, L}]}`
 * (Module: the file's base name without extension), innermost first, Node's internal frames left
 * out, followed by `{M, F, Arity, []}` for the exposed function.
 */
export function erlangStack(error: unknown, module: Atom, fn: Atom, arity: number): Term[] {
  const frames: Term[] = [];
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : '';
  for (const raw of stack.split('\n')) {
    if (frames.length >= MAX_JS_FRAMES) break;
    const m = FRAME_RE.exec(raw.trim());
    if (m === null) continue;
    let file = m[2] as string;
    if (file.startsWith('node:') || file.length === 0) continue;
    if (file.startsWith('file://')) file = file.slice(7);
    // Below the exposed function is our own machinery: of no use to the caller.
    if (file === THIS_FILE) break;
    const base = file.slice(file.lastIndexOf('/') + 1).replace(/\.(?:[cm]?[jt]s|tsx|jsx)$/, '');
    const name = (m[1] ?? '').trim() || '<anonymous>';
    frames.push(
      new Tuple([
        atom(clip(base, 255) || '<js>'),
        atom(clip(name, 255)),
        0,
        [new Tuple([A.file, charlist(clip(file, 1024))]), new Tuple([A.line, Number(m[3])])],
      ]),
    );
  }
  frames.push(new Tuple([module, fn, arity, []]));
  return frames;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max);
}

/** The outcome of a function that threw `thrown` (see the module comment). */
export function thrownOutcome(thrown: unknown, module: Atom, fn: Atom, arity: number): Outcome {
  if (thrown instanceof ErlangException)
    return exceptionOutcome(thrown.class, thrown.reason, thrown.stacktrace, module, fn, arity);
  return { kind: 'error', reason: exitReasonOf(thrown), stacktrace: erlangStack(thrown, module, fn, arity) };
}

function exceptionOutcome(
  cls: ErlangClass,
  reason: Term,
  stacktrace: Term | undefined,
  module: Atom,
  fn: Atom,
  arity: number,
): Outcome {
  switch (cls) {
    case 'throw':
      return { kind: 'throw', value: reason };
    case 'exit':
      return { kind: 'exit', reason };
    case 'error':
      return { kind: 'error', reason, stacktrace: stacktrace ?? [new Tuple([module, fn, arity, []])] };
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

// --- the registry and the server ---

interface Entry {
  readonly fn: RpcHandler;
  readonly arities: readonly number[];
  readonly schema: StandardSchemaV1 | undefined;
}

/** What the server needs of its node. */
export interface RexHost {
  /** This node's name. */
  readonly atom: Atom;
  readonly processes: ProcessTable;
  sendControl(node: Atom, msg: ControlMessage): void;
}

/** The exposed functions of one node, and the two servers that run them (see the module comment). */
export class RexServer {
  /** Calls running at once beyond which new ones are refused with `system_limit`. */
  maxConcurrent: number;

  readonly #host: RexHost;
  readonly #logger: Logger;
  readonly #modules = new Map<Atom, Map<Atom, Entry>>();
  /** Checks that a return value can go on the wire before the process exits with it. */
  #writer = new TermWriter(256);
  #running = 0;
  #refused = 0;

  constructor(host: RexHost, logger: Logger, maxConcurrent: number) {
    this.#host = host;
    this.#logger = logger;
    this.maxConcurrent = maxConcurrent;
  }

  /** Calls running now (from SPAWN_REQUEST and rex). */
  get running(): number {
    return this.#running;
  }

  /** Calls refused because `maxConcurrent` were running. */
  get refused(): number {
    return this.#refused;
  }

  /** See `Rpc.expose`. */
  expose(module: string | Atom, functions: Readonly<Record<string, RpcExposed>>): () => void {
    const m = typeof module === 'string' ? atom(module) : module;
    const added: [Atom, Entry][] = [];
    for (const [name, spec] of Object.entries(functions)) {
      const f = atom(name);
      const fn = typeof spec === 'function' ? spec : spec?.fn;
      const badarg = (why: string): RpcError =>
        new RpcError('badarg', why, { node: this.#host.atom.name, module: m, function: f, arity: -1 });
      if (typeof fn !== 'function') throw badarg('expose needs a function');
      const declared = typeof spec === 'function' ? undefined : spec.arity;
      const arities =
        declared === undefined ? [fn.length] : typeof declared === 'number' ? [declared] : [...declared];
      for (const n of arities) {
        if (!Number.isInteger(n) || n < 0 || n > 255) throw badarg(`arity must be 0..255, got ${n}`);
      }
      const schema = typeof spec === 'function' ? undefined : spec.schema;
      if (schema !== undefined && typeof schema?.['~standard']?.validate !== 'function') {
        throw badarg('schema is not a Standard Schema');
      }
      added.push([f, { fn, arities, schema }]);
    }
    let fns = this.#modules.get(m);
    if (fns === undefined) {
      fns = new Map();
      this.#modules.set(m, fns);
    }
    for (const [f, entry] of added) fns.set(f, entry);
    return () => {
      const now = this.#modules.get(m);
      if (now === undefined) return;
      for (const [f, entry] of added) if (now.get(f) === entry) now.delete(f);
      if (now.size === 0) this.#modules.delete(m);
    };
  }

  /** Removes one function (any arity) or a whole module. */
  unexpose(module: string | Atom, fn?: string | Atom): void {
    const m = typeof module === 'string' ? atom(module) : module;
    if (fn === undefined) {
      this.#modules.delete(m);
      return;
    }
    const fns = this.#modules.get(m);
    fns?.delete(typeof fn === 'string' ? atom(fn) : fn);
    if (fns?.size === 0) this.#modules.delete(m);
  }

  /** True when `module:fn/arity` is exposed. */
  isExposed(module: Atom, fn: Atom, arity: number): boolean {
    return this.#lookup(module, fn, arity) !== undefined;
  }

  #lookup(module: Term, fn: Term, arity: number): Entry | undefined {
    if (!(module instanceof Atom) || !(fn instanceof Atom)) return undefined;
    const entry = this.#modules.get(module)?.get(fn);
    if (entry === undefined) return undefined;
    const a = entry.arities;
    return a.length === 1 ? (a[0] === arity ? entry : undefined) : a.includes(arity) ? entry : undefined;
  }

  /**
   * Runs `module:fn(args...)` if exposed; never rejects. The value is checked to be encodable.
   * `undef` when not exposed with this arity; `badarg` when the module or function is not an atom
   * or the argument list is not a list.
   */
  invoke(module: Term, fn: Term, args: Term): Promise<Outcome> | Outcome {
    // What apply/3 raises for a bad module, function or argument list.
    if (!Array.isArray(args) || !(module instanceof Atom) || !(fn instanceof Atom)) {
      return {
        kind: 'error',
        reason: atoms.badarg,
        stacktrace: [new Tuple([A.erlang, A.apply, [module, fn, args], []])],
      };
    }
    const entry = this.#lookup(module, fn, args.length);
    if (entry === undefined) return undefOutcome(module, fn, args);
    return this.#call(entry, module, fn, args);
  }

  #call(entry: Entry, m: Atom, f: Atom, args: readonly Term[]): Promise<Outcome> | Outcome {
    if (entry.schema !== undefined) return this.#validated(entry, entry.schema, m, f, args);
    let value: unknown;
    try {
      value = entry.fn(...(args as never[]));
    } catch (e) {
      return thrownOutcome(e, m, f, args.length);
    }
    if (isThenable(value)) return this.#settle(value, m, f, args.length);
    return this.#returned(value, m, f, args.length);
  }

  async #validated(
    entry: Entry,
    schema: StandardSchemaV1,
    m: Atom,
    f: Atom,
    args: readonly Term[],
  ): Promise<Outcome> {
    let result: StandardSchemaV1.Result<unknown>;
    try {
      const r = schema['~standard'].validate(args);
      result = r instanceof Promise ? await r : r;
    } catch (e) {
      return thrownOutcome(e, m, f, args.length);
    }
    if (result.issues !== undefined || !Array.isArray(result.value)) {
      const issues = (result.issues ?? [{ message: 'the schema output is not an argument list' }])
        .slice(0, MAX_ISSUES)
        .map((i) => clip(String(i.message), MAX_ISSUE_CHARS));
      this.#logger.warn?.(
        { code: 'rpc_badarg', module: m.name, function: f.name, arity: args.length, issues },
        'rpc: arguments failed the schema',
      );
      return {
        kind: 'error',
        reason: atoms.badarg,
        stacktrace: [new Tuple([m, f, args as Term[], [new Tuple([A.schema_issues, issues])]])],
      };
    }
    const input = result.value as Term[];
    let value: unknown;
    try {
      value = entry.fn(...(input as never[]));
      if (isThenable(value)) value = await value;
    } catch (e) {
      return thrownOutcome(e, m, f, args.length);
    }
    return this.#returned(value, m, f, args.length);
  }

  async #settle(pending: PromiseLike<unknown>, m: Atom, f: Atom, arity: number): Promise<Outcome> {
    let value: unknown;
    try {
      value = await pending;
    } catch (e) {
      return thrownOutcome(e, m, f, arity);
    }
    return this.#returned(value, m, f, arity);
  }

  #returned(value: unknown, m: Atom, f: Atom, arity: number): Outcome {
    if (value === undefined) return { kind: 'return', value: atoms.ok };
    const w = this.#writer;
    w.reset();
    try {
      w.writeTerm(value as Term);
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      return {
        kind: 'error',
        reason: new Tuple([A.bad_return_value, clip(text, MAX_ISSUE_CHARS)]),
        stacktrace: [new Tuple([m, f, arity, []])],
      };
    } finally {
      // Do not keep the buffer a large value grew.
      if (w.length > 64 * 1024) this.#writer = new TermWriter(256);
    }
    return { kind: 'return', value: value as Term };
  }

  // --- SPAWN_REQUEST ---

  /** The node's SPAWN_REQUEST hook. */
  handleSpawnRequest(peer: Atom, msg: Extract<ControlMessage, { kind: 'spawn_request' }>): void {
    if (msg.from.node !== peer) {
      this.#logger.warn?.(
        { code: 'spoofed_sender', peer: peer.name, kind: msg.kind },
        'dropped a SPAWN_REQUEST whose sender is not on the sending node',
      );
      return;
    }
    const table = this.#host.processes;
    const args = msg.args;
    let kind: 'call' | 'cast' | 'apply' | 'undef';
    if (msg.module === A.erpc && msg.arity === args.length) {
      kind =
        msg.function === A.execute_call && msg.arity === 4
          ? 'call'
          : msg.function === A.execute_cast && msg.arity === 3
            ? 'cast'
            : 'undef';
    } else {
      kind =
        msg.arity === args.length && this.#lookup(msg.module, msg.function, msg.arity) !== undefined
          ? 'apply'
          : 'undef';
    }
    if (kind !== 'undef' && this.#running >= this.maxConcurrent) {
      this.#refuse(peer, msg);
      return;
    }
    const { link, monitor } = parseSpawnOptions(msg.options);
    const linker = link ? msg.from : undefined;
    const watch = monitor ? { watcher: msg.from, ref: msg.reqId } : undefined;
    // Nothing runs on a node that is stopping (no process could report it).
    if (table.stopped) {
      this.#refuse(peer, msg);
      return;
    }
    const correlation = correlationOfToken(msg.token);
    // The function runs under the id the request carried from a distribute node, or none.
    const outcome =
      kind === 'undef'
        ? undefined
        : runCorrelated(correlation, () =>
            kind === 'call'
              ? this.invoke(args[1] as Term, args[2] as Term, args[3] as Term)
              : kind === 'cast'
                ? this.invoke(args[0] as Term, args[1] as Term, args[2] as Term)
                : this.invoke(msg.module, msg.function, args as Term[]),
          );
    const reply = (pid: Pid): void => {
      // Before anything the new process does: the reply, then its exit.
      this.#host.sendControl(peer, {
        kind: 'spawn_reply',
        op: SPAWN_REPLY,
        reqId: msg.reqId,
        to: msg.from,
        flags: (link ? SPAWN_REPLY_LINK : 0) | (monitor ? SPAWN_REPLY_MONITOR : 0),
        result: pid,
      });
      this.#logCallUndef(peer, pid, kind, msg, correlation);
    };
    if (!isThenable(outcome)) {
      // Done already (a synchronous function, or nothing to run): the process is born exited, as
      // one that exits before it is scheduled. No process to start and tear down per call.
      const reason =
        outcome === undefined
          ? processExitReason(undefOutcome(msg.module, msg.function, args as Term[]))
          : this.#exitReason(kind as 'call' | 'cast' | 'apply', args, outcome);
      try {
        table.spawnExited(linker, watch, reason, reply);
      } catch {
        // The table is stopped or out of pids.
        this.#refuse(peer, msg);
      }
      return;
    }
    // A promise: a process holds the call until it settles (the caller may link to it, kill it).
    let pid: Pid;
    try {
      pid = table.spawn(waitForever, {
        ...(linker !== undefined ? { link: linker } : {}),
        ...(watch !== undefined ? { monitor: watch } : {}),
        groupLeader: msg.groupLeader,
      });
    } catch {
      // The table is stopped or out of pids.
      this.#refuse(peer, msg);
      return;
    }
    reply(pid);
    this.#running++;
    // invoke never rejects; the catch is for a bug in #end, which must not go unhandled.
    void outcome
      .then((o) => this.#end(pid, this.#exitReason(kind as 'call' | 'cast' | 'apply', args, o)))
      .catch((e: unknown) => this.#internal(e));
  }

  /**
   * Logs a request for nothing exposed (debug): SPAWN_REQUEST of a function we lack, or erpc's
   * call/cast whose `{M, F, A}` names one.
   */
  #logCallUndef(
    peer: Atom,
    pid: Pid,
    kind: 'call' | 'cast' | 'apply' | 'undef',
    msg: Extract<ControlMessage, { kind: 'spawn_request' }>,
    correlation: string | undefined,
  ): void {
    const args = msg.args;
    if (kind === 'undef') {
      this.#logUndef(peer, pid, msg.module, msg.function, msg.arity, correlation);
      return;
    }
    if (kind === 'apply') return;
    const [m, f, a] = kind === 'call' ? [args[1], args[2], args[3]] : [args[0], args[1], args[2]];
    if (Array.isArray(a) && this.#lookup(m as Term, f as Term, a.length) === undefined) {
      this.#logUndef(peer, pid, m as Term, f as Term, a.length, correlation);
    }
  }

  /** A request for a function this node does not expose (debug: a probe or a typo, not an attack). */
  #logUndef(peer: Atom, pid: Pid, m: Term, f: Term, arity: number, correlation: string | undefined): void {
    runCorrelated(correlation, () =>
      this.#logger.debug?.(
        {
          code: 'rpc_undef',
          peer: peer.name,
          pid: pid.toString(),
          module: m instanceof Atom ? m.name : String(m),
          function: f instanceof Atom ? f.name : String(f),
          arity,
        },
        'rpc: call to a function this node does not expose',
      ),
    );
  }

  /** The exit reason that reports `o` to whoever asked for `kind`. */
  #exitReason(kind: 'call' | 'cast' | 'apply', args: readonly Term[], o: Outcome): Term {
    if (kind === 'call') return erpcReason(args[0] as Term, o);
    if (kind === 'cast') return this.#castReason(args, o);
    return processExitReason(o);
  }

  #end(pid: Pid, reason: Term): void {
    this.#running--;
    const table = this.#host.processes;
    // From itself: terminates it with exactly `reason` (`normal` included).
    if (table.isAlive(pid)) table.exit(pid, reason, pid);
  }

  #internal(error: unknown): void {
    this.#logger.error?.({ code: 'internal', err: error }, 'rpc: finishing a call failed');
  }

  #castReason(args: readonly Term[], o: Outcome): Term {
    if (o.kind === 'return') return atoms.normal;
    this.#logger.warn?.(
      {
        code: 'rpc_cast_failed',
        module: String(args[0]),
        function: String(args[1]),
        class: o.kind,
      },
      'rpc: a cast function failed',
    );
    return o.kind === 'error'
      ? new Tuple([A.exception, new Tuple([o.reason, o.stacktrace])])
      : processExitReason(o);
  }

  #refuse(peer: Atom, msg: Extract<ControlMessage, { kind: 'spawn_request' }>): void {
    if (this.#refused++ % 1000 === 0) {
      this.#logger.warn?.(
        { code: 'rpc_system_limit', peer: peer.name, limit: this.maxConcurrent, refused: this.#refused },
        'rpc: too many calls running; refusing with system_limit',
      );
    }
    this.#host.sendControl(peer, {
      kind: 'spawn_reply',
      op: SPAWN_REPLY,
      reqId: msg.reqId,
      to: msg.from,
      flags: 0,
      result: A.system_limit,
    });
  }

  // --- the rex process ---

  /** Starts the `rex` registered process. */
  startRex(): Pid {
    return this.#host.processes.spawn(
      async (self) => {
        for (;;) {
          const m = await self.receive();
          runCorrelated(self.messageCorrelation, () => this.#handleRex(self.pid, m));
        }
      },
      { name: A.rex },
    );
  }

  /** One message to `rex` (see the module comment); anything else is ignored, as OTP's rex does. */
  #handleRex(rex: Pid, m: Term): void {
    if (!(m instanceof Tuple)) return;
    const e = m.elements;
    const table = this.#host.processes;
    if (e.length === 2 && e[0] instanceof Pid) {
      const from = e[0];
      const req = e[1];
      if (req === A.features_request) {
        table.send(from, new Tuple([A.features_reply, this.#host.atom, [A.erpc]]), rex);
        return;
      }
      if (!(req instanceof Tuple)) return;
      const r = req.elements;
      if (r.length === 5 && r[0] === A.call) {
        this.#rexCall(r, (reply) => table.send(from, new Tuple([A.rex, reply]), rex));
      } else if (r.length === 3 && (r[0] === A.sbcast || r[0] === A.send)) {
        this.#rexSend(rex, from, r[0], r[1] as Term, r[2] as Term);
      }
      return;
    }
    if (e.length === 3 && e[0] === A.$gen_call) {
      const req = e[2];
      if (!(req instanceof Tuple) || req.length !== 5) return;
      if (req.elements[0] !== A.call && req.elements[0] !== A.block_call) return;
      const from = e[1] as Term;
      this.#rexCall(req.elements, (reply) => {
        const to = genReply(from, reply);
        if (to !== undefined) table.send(to.to, to.message, rex);
      });
      return;
    }
    if (e.length === 2 && e[0] === A.$gen_cast) {
      const req = e[1];
      if (!(req instanceof Tuple) || req.length !== 5 || req.elements[0] !== A.cast) return;
      const r = req.elements;
      this.#rexCall(r, () => undefined);
    }
  }

  /** `{call, M, F, A, GL}`: runs it and answers with rex's result convention. */
  #rexCall(r: readonly Term[], answer: (reply: Term) => void): void {
    if (this.#running >= this.maxConcurrent) {
      this.#refused++;
      answer(badrpcExit(A.system_limit));
      return;
    }
    this.#running++;
    const done = (o: Outcome): void => {
      this.#running--;
      answer(rexReply(o));
    };
    const outcome = this.invoke(r[1] as Term, r[2] as Term, r[3] as Term);
    if (isThenable(outcome)) void outcome.then(done).catch((e: unknown) => this.#internal(e));
    else done(outcome);
  }

  /** `{From, {sbcast | send, Name, Msg}}`, as OTP's rex. */
  #rexSend(rex: Pid, from: Pid, op: Atom, name: Term, msg: Term): void {
    const table = this.#host.processes;
    const target = name instanceof Atom ? table.whereis(name) : undefined;
    if (target === undefined) {
      table.send(from, new Tuple([A.rex, this.#host.atom, new Tuple([A.nonexisting_name, name])]), rex);
      return;
    }
    if (op === A.sbcast) {
      table.send(target, msg, from);
      table.send(from, new Tuple([A.rex, this.#host.atom, this.#host.atom]), rex);
    } else {
      table.send(target, new Tuple([from, msg]), from);
    }
  }
}

/** The body of a process that runs a call: it only waits; the server ends it with the result. */
function waitForever(): Promise<void> {
  return new Promise<void>(() => undefined);
}
