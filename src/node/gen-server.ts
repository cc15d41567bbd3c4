/**
 * A server behaviour compatible with Erlang's `gen_server`: BEAM processes reach a TypeScript
 * server with `gen_server:call/2,3`, `gen_server:cast/2`, `gen_server:multi_call`, plain messages
 * and `gen_server:stop`, by pid or by `{Name, Node}`, and TypeScript processes with `call`.
 *
 * ```ts
 * const counter = await node.spawnServer(
 *   {
 *     init: () => 0,
 *     handleCall: (request, _from, n) => ({ reply: n + 1, state: n + 1 }),
 *     handleCast: (_msg, _n) => ({ state: 0 }),
 *   },
 *   { name: 'counter' },
 * );
 * ```
 *
 * The server is a process running a loop over its mailbox:
 * - `{'$gen_call', {Pid, Tag}, Request}` goes to `handleCall(request, from, state, self)`. Its
 *   result `{ reply, state }` answers at once; `{ state }` alone defers the answer, which is then
 *   given with `from.reply(value)` (from any process, at any time, like `gen_server:reply/2`);
 *   `{ stop, state }` or `{ stop, reply, state }` stops the server (answering first).
 *   The answer `{Tag, Reply}` goes where OTP's `gen:reply/2` sends it: to the alias when the tag is
 *   `[alias | Ref]` or `[[alias | Ref] | _]` (an OTP 24+ caller, ALIAS_SEND on the wire), else to
 *   the pid, whatever the tag (a plain reference, `{Ref, Node}` from `multi_call`, ...).
 * - `{'$gen_cast', Msg}` goes to `handleCast(msg, state, self)`: `{ state }` or `{ stop, state }`.
 * - `{system, From, Request}` (the `sys` protocol) answers `get_state` with the state, and
 *   `{terminate, Reason}` (what `gen_server:stop/1,3` sends) with `ok`, then stops with `Reason`;
 *   other requests (`suspend`, `get_status`, ...) get `{error, {unknown_system_msg, Request}}`.
 * - `{'EXIT', Parent, Reason}` from the process it was started linked to (`link` option), while
 *   trapping exits, stops it with `Reason`, as gen_server does.
 * - Anything else goes to `handleInfo(msg, state, self)`; without `handleInfo` it is dropped.
 *
 * Stopping: a `stop` result, or a callback that throws, calls `terminate(reason, state, self)` and
 * exits the process with `reason` (for a throw, the error's reason `{js_error, ...}`; the error is
 * also logged). A missing `handleCall` or `handleCast` stops the server with `{bad_call, Request}`
 * or `{bad_cast, Msg}`. An exit signal that kills the process (not trapped) skips `terminate`, as
 * on the BEAM.
 *
 * Requests and messages are `Term`s from anywhere, remote nodes included: treat them as untrusted
 * (validate with a schema before use).
 *
 * Correlation: each callback for a message runs inside `withCorrelation` with the id that message
 * carried (a call or cast made inside `withCorrelation` on any TypeScript node), or with no id
 * when it carried none; `currentCorrelation()` and the node's log lines see it, and replies sent
 * from the callback carry it back.
 *
 * @module
 */

import { type Atom, atom, ImproperList, Pid, Reference, type Term, Tuple } from '../term/types.ts';
import { runCorrelated } from './correlation.ts';
import { ExitSignal, isExitSignal, ProcessError } from './errors.ts';
import { exitReasonOf } from './exit-reason.ts';
import type { Destination, ProcessContext } from './process.ts';
import type { ProcessTable } from './process-table.ts';
import { samePid, signalAtoms, type TypedPid } from './signals.ts';

/** What `handleCall` returns: answer now (`reply`), later (no `reply`: see {@link From.reply}), or stop. */
export type CallResult<S> =
  | { readonly state: S; readonly reply?: Term; readonly stop?: undefined }
  | { readonly state: S; readonly stop: Term; readonly reply?: Term };

/** What `handleCast`, `handleInfo` return: the new state, and `stop` to stop with that reason. */
export interface CastResult<S> {
  readonly state: S;
  readonly stop?: Term;
}

/** The callbacks of a server. Each may be async; the server handles one message at a time. */
export interface ServerSpec<S> {
  /** The initial state. Throwing fails the start (and the process exits with the error's reason). */
  init(self: ProcessContext): S | Promise<S>;
  handleCall?(
    request: Term,
    from: From,
    state: S,
    self: ProcessContext,
  ): CallResult<S> | Promise<CallResult<S>>;
  handleCast?(request: Term, state: S, self: ProcessContext): CastResult<S> | Promise<CastResult<S>>;
  handleInfo?(message: Term, state: S, self: ProcessContext): CastResult<S> | Promise<CastResult<S>>;
  /** Called once when the server stops (not when an untrapped exit signal kills it). */
  terminate?(reason: Term, state: S, self: ProcessContext): void | Promise<void>;
}

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** Register the server under this local name (atomically with the spawn). */
  readonly name?: Atom | string;
  /**
   * Link the server to this local pid (`gen_server:start_link`). With `trapExit`, an exit signal
   * from it stops the server with its reason and `terminate` runs.
   */
  readonly link?: Pid;
  /** Trap exits (`process_flag(trap_exit, true)` in `init`). */
  readonly trapExit?: boolean;
  /** The server's mailbox bound (see process-table.ts). */
  readonly mailboxLimit?: number;
}

/** Stable codes of {@link ServerStartError}. */
export type ServerStartErrorCode = 'init_failed';

/** `init` failed: `reason` is the exit reason of the server process, `cause` what `init` threw. */
export class ServerStartError extends Error {
  readonly code: ServerStartErrorCode;
  readonly reason: Term;

  constructor(reason: Term, cause: unknown) {
    super('the server init failed', { cause });
    this.name = 'ServerStartError';
    this.code = 'init_failed';
    this.reason = reason;
  }
}

/** A gen_server-shaped message: `{'$gen_call', From, Request}`, `{'$gen_cast', Msg}` and friends. */
export const genAtoms: {
  readonly $gen_call: Atom;
  readonly $gen_cast: Atom;
  readonly alias: Atom;
  readonly system: Atom;
  readonly get_state: Atom;
  readonly terminate: Atom;
  readonly error: Atom;
  readonly unknown_system_msg: Atom;
  readonly bad_call: Atom;
  readonly bad_cast: Atom;
  readonly ok: Atom;
} = Object.freeze({
  $gen_call: atom('$gen_call'),
  $gen_cast: atom('$gen_cast'),
  alias: atom('alias'),
  system: atom('system'),
  get_state: atom('get_state'),
  terminate: atom('terminate'),
  error: atom('error'),
  unknown_system_msg: atom('unknown_system_msg'),
  bad_call: atom('bad_call'),
  bad_cast: atom('bad_cast'),
  ok: atom('ok'),
});

/**
 * Where OTP's `gen:reply/2` sends the answer to a call from `{pid, tag}`: the alias of an
 * `[alias | Ref]` or `[[alias | Ref] | _]` tag, else the pid.
 */
export function replyDestination(pid: Pid, tag: Term): Pid | Reference {
  const alias = aliasOfTag(tag);
  return alias ?? pid;
}

/** The `Ref` of an `[alias | Ref]` tag, or of `[[alias | Ref] | Extra]`; undefined for other tags. */
function aliasOfTag(tag: Term): Reference | undefined {
  if (isAliasTag(tag)) return (tag as ImproperList).tail as Reference;
  // [[alias | Ref] | Extra]: a proper list when Extra is one, an improper one otherwise.
  let head: Term | undefined;
  if (tag instanceof ImproperList) head = tag.elements[0];
  else if (Array.isArray(tag) && tag.length > 0) head = tag[0];
  if (head !== undefined && isAliasTag(head)) return (head as ImproperList).tail as Reference;
  return undefined;
}

function isAliasTag(tag: Term): boolean {
  return (
    tag instanceof ImproperList &&
    tag.elements.length === 1 &&
    tag.elements[0] === genAtoms.alias &&
    tag.tail instanceof Reference
  );
}

/** The caller of a `handleCall`: `{Pid, Tag}` in Erlang. Answer with {@link From.reply}. */
export class From {
  /** The calling process (for `multi_call` and proxies, the process that waits for the answer). */
  readonly pid: Pid;
  /** The call's tag, verbatim: the answer is `{Tag, Reply}`. */
  readonly tag: Term;
  readonly #send: (to: Destination, message: Term) => void;

  /** @internal Made by the server loop. */
  constructor(pid: Pid, tag: Term, send: (to: Destination, message: Term) => void) {
    this.pid = pid;
    this.tag = tag;
    this.#send = send;
  }

  /** Answers the call (`gen_server:reply/2`). Usable once the `handleCall` that deferred it returned, from anywhere. */
  reply(value: Term): void {
    this.#send(replyDestination(this.pid, this.tag), new Tuple([this.tag, value]));
  }

  /** `{Pid, Tag}`, as Erlang code sees it (to pass it to an Erlang process that will reply). */
  toTerm(): Tuple {
    return new Tuple([this.pid, this.tag]);
  }
}

/**
 * Starts a server and resolves with its pid once `init` returned (as `gen_server:start_link`
 * returns after `init/1`). Rejects with a {@link ServerStartError} when `init` throws, and with a
 * `ProcessError` (`name_taken`, ...) when the spawn itself fails.
 */
export function startServer<S>(
  table: ProcessTable,
  spec: ServerSpec<S>,
  options?: ServerOptions,
): Promise<TypedPid> {
  return new Promise<TypedPid>((resolve, reject) => {
    const spawnOptions: {
      name?: Atom;
      link?: Pid;
      trapExit?: boolean;
      mailboxLimit?: number;
    } = {};
    if (options?.name !== undefined)
      spawnOptions.name = typeof options.name === 'string' ? atom(options.name) : options.name;
    if (options?.link !== undefined) spawnOptions.link = options.link;
    if (options?.trapExit !== undefined) spawnOptions.trapExit = options.trapExit;
    if (options?.mailboxLimit !== undefined) spawnOptions.mailboxLimit = options.mailboxLimit;
    const parent = options?.link;
    try {
      table.spawn(
        (self) =>
          serve(self, spec, parent, table, {
            started: () => resolve(self.pid),
            failed: (error) => reject(error),
          }),
        spawnOptions,
      );
    } catch (error) {
      reject(error);
    }
  });
}

/**
 * Sends `{'$gen_cast', request}` to a server (`gen_server:cast/2`), through anything with a
 * `send` (a process's `self`, or a node). Never fails, like gen_server:cast.
 */
export function cast(
  sender: { send(to: Destination, message: Term): void },
  to: Destination,
  request: Term,
): void {
  try {
    sender.send(to, new Tuple([genAtoms.$gen_cast, request]));
  } catch (error) {
    // gen_server:cast to a name nobody holds is silently dropped; anything else is a real error.
    if (!(error instanceof ProcessError && error.code === 'not_registered')) throw error;
  }
}

interface StartHooks {
  started(): void;
  failed(error: unknown): void;
}

/** Why the loop ends normally: stop with this reason (after `terminate`). */
class Stop {
  readonly reason: Term;
  constructor(reason: Term) {
    this.reason = reason;
  }
}

async function serve<S>(
  self: ProcessContext,
  spec: ServerSpec<S>,
  parent: Pid | undefined,
  table: ProcessTable,
  hooks: StartHooks,
): Promise<void> {
  let state: S;
  try {
    state = await spec.init(self);
  } catch (error) {
    if (isExitSignal(error)) {
      hooks.failed(new ServerStartError(error.reason, error));
      throw error;
    }
    hooks.failed(new ServerStartError(exitReasonOf(error), error));
    throw error;
  }
  if (!self.alive) {
    // Killed while in init: the start fails with the reason it died with.
    const exit = self.signal.reason as ExitSignal;
    hooks.failed(new ServerStartError(exit.reason, exit));
    throw exit;
  }
  hooks.started();
  // Replies go through the table, so From.reply works after this process is gone, from anywhere.
  const send = (to: Destination, message: Term): void => table.send(to, message, self.pid);
  for (;;) {
    const message = await self.receive();
    const correlation = self.messageCorrelation;
    const current = state;
    let outcome: Stop | undefined;
    try {
      // Callbacks run under the id the message carried, or none (see correlation.ts).
      const next = await runCorrelated(correlation, () => handle(self, spec, parent, current, message, send));
      if (next instanceof Stop) outcome = next;
      else state = next.state;
    } catch (error) {
      if (error instanceof ExitSignal) throw error;
      await runTerminate(spec, exitReasonOf(error), state, self);
      throw error;
    }
    if (outcome !== undefined) {
      await runTerminate(spec, outcome.reason, state, self);
      self.exit(outcome.reason);
    }
  }
}

/** One message: the new state (boxed) or a Stop. */
async function handle<S>(
  self: ProcessContext,
  spec: ServerSpec<S>,
  parent: Pid | undefined,
  state: S,
  message: Term,
  send: (to: Destination, message: Term) => void,
): Promise<{ readonly state: S } | Stop> {
  if (message instanceof Tuple) {
    const e = message.elements;
    if (e.length === 3 && e[0] === genAtoms.$gen_call && isFrom(e[1] as Term)) {
      const fromTerm = (e[1] as Tuple).elements;
      const from = new From(fromTerm[0] as Pid, fromTerm[1] as Term, send);
      const request = e[2] as Term;
      if (spec.handleCall === undefined) return new Stop(new Tuple([genAtoms.bad_call, request]));
      const result = checked(await spec.handleCall(request, from, state, self), 'handleCall');
      if (result.reply !== undefined) from.reply(result.reply);
      if (result.stop !== undefined) return new Stop(result.stop);
      return result;
    }
    if (e.length === 2 && e[0] === genAtoms.$gen_cast) {
      if (spec.handleCast === undefined) return new Stop(new Tuple([genAtoms.bad_cast, e[1] as Term]));
      return afterCast(checked(await spec.handleCast(e[1] as Term, state, self), 'handleCast'));
    }
    if (e.length === 3 && e[0] === genAtoms.system && isFrom(e[1] as Term)) {
      const fromTerm = (e[1] as Tuple).elements;
      const from = new From(fromTerm[0] as Pid, fromTerm[1] as Term, send);
      return system(from, e[2] as Term, state);
    }
    if (
      e.length === 3 &&
      e[0] === signalAtoms.EXIT &&
      parent !== undefined &&
      e[1] instanceof Pid &&
      samePid(e[1], parent)
    ) {
      return new Stop(e[2] as Term);
    }
  }
  if (spec.handleInfo === undefined) return { state };
  return afterCast(checked(await spec.handleInfo(message, state, self), 'handleInfo'));
}

/** The `sys` requests gen_server:stop and sys:get_state send. */
function system<S>(from: From, request: Term, state: S): { readonly state: S } | Stop {
  if (request === genAtoms.get_state) {
    from.reply(state as Term);
    return { state };
  }
  if (request instanceof Tuple && request.length === 2 && request.elements[0] === genAtoms.terminate) {
    // As sys does: `ok` first, then terminate and exit (proc_lib:stop then waits for the DOWN).
    from.reply(genAtoms.ok);
    return new Stop(request.elements[1] as Term);
  }
  from.reply(new Tuple([genAtoms.error, new Tuple([genAtoms.unknown_system_msg, request])]));
  return { state };
}

function afterCast<S>(result: CastResult<S>): { readonly state: S } | Stop {
  if (result.stop !== undefined) return new Stop(result.stop);
  return result;
}

async function runTerminate<S>(
  spec: ServerSpec<S>,
  reason: Term,
  state: S,
  self: ProcessContext,
): Promise<void> {
  if (spec.terminate !== undefined) await spec.terminate(reason, state, self);
}

/** A callback's result must be an object with a `state` (a typo would otherwise lose the state). */
function checked<R extends { readonly state: unknown }>(result: R, callback: string): R {
  if (typeof result !== 'object' || result === null || !('state' in result)) {
    throw new TypeError(`${callback} must return an object with a state, got ${String(result)}`);
  }
  return result;
}

/** `{Pid, Tag}`. */
function isFrom(from: Term): boolean {
  return from instanceof Tuple && from.length === 2 && from.elements[0] instanceof Pid;
}
