/**
 * `call`: a request and its reply, in the gen_server protocol, so the same call reaches an Erlang
 * `gen_server` (or `gen_statem`, `gen_event` manager ...) on any node and a TypeScript server.
 *
 * What goes on the wire is what OTP 25's `gen:do_call/4` does:
 * 1. monitor the server (MONITOR_P, by pid or by name), the monitor reference also an alias that
 *    goes with the monitor (`{alias, demonitor}`);
 * 2. send `{'$gen_call', {Self, [alias | Mref]}, Request}` (SEND to a pid, REG_SEND to a name);
 * 3. wait for `{[alias | Mref], Reply}` (the server replies through the alias: ALIAS_SEND) or the
 *    monitor's DOWN, within the timeout;
 * 4. demonitor with flush (DEMONITOR_P), which also deactivates the alias.
 *
 * Errors are {@link CallError}s with a stable `code`: `timeout`, `noproc` (no such process or
 * name), `noconnection` (the node cannot be reached, or the connection went down during the call),
 * `exit` (the server exited during the call; `reason` is its exit reason), `calling_self`.
 *
 * A late reply never reaches the caller's mailbox. With an alias tag, the alias is deactivated
 * when the call ends (reply, DOWN or timeout), and the node drops messages to inactive aliases.
 * When the server's node did not negotiate ALIAS (an Erlang node before OTP 24, a JInterface or
 * other non-BEAM node), an alias tag would make the server's reply vanish, so the call uses a
 * plain reference tag (`{Self, Mref}`, as OTP 23 did) and, when the timeout is finite, runs in a
 * short-lived proxy process: a reply arriving after the timeout goes to the dead proxy and is
 * dropped (the way OTP 23's `gen_statem` avoided late replies).
 *
 * @module
 */

import { inspect } from '../term/inspect.ts';
import { type Atom, atom, ImproperList, Pid, Reference, type Term, Tuple } from '../term/types.ts';
import { ExitSignal, ProcessError, ReceiveTimeoutError } from './errors.ts';
import type { ProcessContext } from './process.ts';
import type { ProcessTable, Scheduler } from './process-table.ts';
import { samePid, sameRef, signalAtoms } from './signals.ts';

/** Where a call goes: a pid, a local registered name, or `[name, node]`. */
export type CallDestination = Pid | Atom | readonly [Atom | string, Atom | string];

/** Options of a call. */
export interface CallOptions {
  /**
   * Give up after this many milliseconds (rejects with code `timeout`). Default
   * {@link DEFAULT_CALL_TIMEOUT_MS}, gen_server's default; `Infinity` waits as long as the server
   * lives and its node stays connected.
   */
  readonly timeoutMs?: number;
  /** Cancels the wait (rejects with the receive's `aborted` error; a late reply is dropped). */
  readonly signal?: AbortSignal;
}

/** gen_server's default call timeout: 5 seconds. */
export const DEFAULT_CALL_TIMEOUT_MS = 5000;

/** Stable codes of {@link CallError}. */
export type CallErrorCode =
  /** No reply within the timeout. */
  | 'timeout'
  /** The server does not exist (dead pid, unknown name), or died before the call reached it. */
  | 'noproc'
  /** The server's node cannot be reached, or the connection went down during the call. */
  | 'noconnection'
  /** The server exited during the call; `reason` is its exit reason. */
  | 'exit'
  /** A process called itself (it would wait for its own reply forever). */
  | 'calling_self';

/** A call that got no reply. `reason` is the Erlang exit reason a gen_server caller would see. */
export class CallError extends Error {
  readonly code: CallErrorCode;
  /** The server's exit reason (`exit`), else the code as an atom (`timeout`, `noproc`, ...). */
  readonly reason: Term;
  /** Where the call went. */
  readonly destination: CallDestination;

  constructor(code: CallErrorCode, destination: CallDestination, reason?: Term, options?: ErrorOptions) {
    const why = code === 'exit' ? ` (${inspect(reason ?? atom(code), { maxLength: 200 })})` : '';
    super(`call to ${describe(destination)} failed: ${code}${why}`, options);
    this.name = 'CallError';
    this.code = code;
    this.reason = reason ?? atom(code);
    this.destination = destination;
  }
}

/** @internal What a call needs from the node: connections, and a clock for the connect deadline. */
export interface CallHost {
  /** True/false: the connection to `node` negotiated ALIAS or not; undefined while not connected. */
  aliasSupported(node: Atom): boolean | undefined;
  /** Sets up the connection to `node`; rejects when that fails. */
  connect(node: Atom): Promise<void>;
  readonly scheduler: Scheduler;
}

const atoms: {
  readonly $gen_call: Atom;
  readonly alias: Atom;
  readonly noproc: Atom;
  readonly noconnection: Atom;
} = Object.freeze({
  $gen_call: atom('$gen_call'),
  alias: atom('alias'),
  noproc: atom('noproc'),
  noconnection: atom('noconnection'),
});

/** @internal Options of {@link callFrom}: `direct` never uses a proxy process. */
export interface InternalCallOptions extends CallOptions {
  readonly direct?: boolean;
}

/**
 * @internal The call made by `self.call(...)`. `host` answers for the connection to the server's
 * node. See the module comment for the protocol.
 */
export async function callFrom(
  self: ProcessContext,
  host: CallHost,
  destination: CallDestination,
  request: Term,
  options?: InternalCallOptions,
): Promise<Term> {
  const timeoutMs = options?.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  if (!(timeoutMs >= 0)) throw new ProcessError('bad_argument', `timeoutMs must be >= 0, got ${timeoutMs}`);
  const signal = options?.signal;
  const here = self.node;
  let target: Pid | readonly [Atom, Atom];
  let node: Atom;
  if (destination instanceof Pid) {
    target = destination;
    node = destination.node;
  } else if (Array.isArray(destination)) {
    const pair = destination as readonly [Atom | string, Atom | string];
    const name = asAtom(pair[0]);
    node = asAtom(pair[1]);
    target = [name, node];
  } else {
    // A local name is looked up now, as gen:call does (`noproc` when nobody holds it).
    const pid = self.whereis(destination as Atom);
    if (pid === undefined) throw new CallError('noproc', destination);
    target = pid;
    node = here;
  }
  if (target instanceof Pid && samePid(target, self.pid)) throw new CallError('calling_self', destination);

  let alias = true;
  if (node !== here) {
    let known = host.aliasSupported(node);
    if (known === undefined) {
      try {
        await withDeadline(host.connect(node), timeoutMs, host.scheduler);
      } catch (error) {
        if (error instanceof ReceiveTimeoutError)
          throw new CallError('timeout', destination, undefined, { cause: error });
        throw new CallError('noconnection', destination, undefined, { cause: error });
      }
      known = host.aliasSupported(node);
    }
    // Unknown after a successful connect (it dropped again): assume a modern peer.
    alias = known ?? true;
  }
  if (!alias && timeoutMs !== Number.POSITIVE_INFINITY && options?.direct !== true) {
    return viaProxy(self, host, destination, request, timeoutMs, signal);
  }

  const mref = self.monitor(target, alias ? { alias: 'demonitor' } : undefined);
  const tag: Term = alias ? new ImproperList([atoms.alias], mref) : mref;
  self.send(target, new Tuple([atoms.$gen_call, new Tuple([self.pid, tag]), request]));
  const isReply = (m: Term): boolean =>
    m instanceof Tuple && m.length === 2 && isTag(m.elements[0] as Term, mref, alias);
  let answer: Term;
  try {
    answer = await self.receive({
      match: (m) => isReply(m) || isDown(m, mref),
      timeoutMs,
      ...(signal !== undefined ? { signal } : {}),
    });
  } catch (error) {
    if (error instanceof ExitSignal) throw error;
    self.demonitor(mref, { flush: true });
    // A reply may have raced the deadline: take it (gen:do_call does the same).
    const late = self.tryReceive(isReply);
    if (late !== undefined) return (late as Tuple).elements[1] as Term;
    if (error instanceof ReceiveTimeoutError)
      throw new CallError('timeout', destination, undefined, { cause: error });
    throw error;
  }
  const fields = (answer as Tuple).elements;
  if (fields.length === 2) {
    self.demonitor(mref, { flush: true });
    return fields[1] as Term;
  }
  const reason = fields[4] as Term;
  if (reason === atoms.noproc) throw new CallError('noproc', destination);
  if (reason === atoms.noconnection) throw new CallError('noconnection', destination);
  throw new CallError('exit', destination, reason);
}

/** Outcome of a proxied call, sent to the caller's alias (a local message, never encoded). */
class ProxyOutcome {
  readonly alias: Reference;
  readonly ok: boolean;
  readonly value: unknown;
  constructor(alias: Reference, ok: boolean, value: unknown) {
    this.alias = alias;
    this.ok = ok;
    this.value = value;
  }
}

/** A plain-tag call with a finite timeout, made by a short-lived process (see the module comment). */
async function viaProxy(
  self: ProcessContext,
  host: CallHost,
  destination: CallDestination,
  request: Term,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Term> {
  const alias = self.alias({ reply: true });
  const [proxy, mref] = self.spawnMonitor(async (p) => {
    let outcome: ProxyOutcome;
    try {
      outcome = new ProxyOutcome(
        alias,
        true,
        await callFrom(p, host, destination, request, { timeoutMs, direct: true }),
      );
    } catch (error) {
      if (error instanceof ExitSignal) throw error;
      outcome = new ProxyOutcome(alias, false, error);
    }
    p.send(alias, outcome as unknown as Term);
  });
  let answer: Term;
  try {
    // No deadline here: the proxy has it, and it always answers or dies.
    answer = await self.receive({
      match: (m) => (m instanceof ProxyOutcome && m.alias === alias) || isDown(m, mref),
      ...(signal !== undefined ? { signal } : {}),
    });
  } catch (error) {
    if (!(error instanceof ExitSignal)) {
      self.unalias(alias);
      self.demonitor(mref, { flush: true });
      self.sendExit(proxy, atom('kill'));
    }
    throw error;
  }
  self.demonitor(mref, { flush: true });
  if (answer instanceof ProxyOutcome) {
    if (answer.ok) return answer.value as Term;
    throw answer.value;
  }
  self.unalias(alias);
  throw new CallError('exit', destination, (answer as Tuple).elements[4] as Term);
}

/**
 * @internal `node.call(...)` from outside any process: a short-lived process makes the call (a
 * late reply then finds it gone), and the promise settles with its outcome.
 */
export function callOutside(
  table: ProcessTable,
  host: CallHost,
  destination: CallDestination | string,
  request: Term,
  options?: CallOptions,
): Promise<Term> {
  const dest = typeof destination === 'string' ? atom(destination) : destination;
  return new Promise<Term>((resolve, reject) => {
    try {
      table.spawn(async (self) => {
        try {
          resolve(await callFrom(self, host, dest, request, { ...options, direct: true }));
        } catch (error) {
          reject(error);
        }
      });
    } catch (error) {
      reject(error);
    }
  });
}

/** True for a gen_server reply tag made for `mref`: `[alias | Mref]`, or `Mref` itself. */
function isTag(tag: Term, mref: Reference, alias: boolean): boolean {
  if (!alias) return tag instanceof Reference && sameRef(tag, mref);
  return (
    tag instanceof ImproperList &&
    tag.elements.length === 1 &&
    tag.elements[0] === atoms.alias &&
    tag.tail instanceof Reference &&
    sameRef(tag.tail, mref)
  );
}

/** `{'DOWN', Mref, process, _, _}`. */
function isDown(m: Term, mref: Reference): boolean {
  return (
    m instanceof Tuple &&
    m.length === 5 &&
    m.elements[0] === signalAtoms.DOWN &&
    m.elements[1] instanceof Reference &&
    sameRef(m.elements[1], mref)
  );
}

function asAtom(value: Atom | string): Atom {
  return typeof value === 'string' ? atom(value) : value;
}

function describe(destination: CallDestination): string {
  if (Array.isArray(destination)) return `{${String(destination[0])}, ${String(destination[1])}}`;
  return String(destination);
}

/** Rejects with a ReceiveTimeoutError when `promise` takes longer than `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number, scheduler: Scheduler): Promise<T> {
  if (ms === Number.POSITIVE_INFINITY) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = scheduler.setTimeout(() => reject(new ReceiveTimeoutError(ms)), ms);
    promise.then(
      (value) => {
        scheduler.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        scheduler.clearTimeout(timer);
        reject(error);
      },
    );
  });
}
