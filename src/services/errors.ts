/**
 * Errors of RPC, both directions.
 *
 * - {@link RpcError}: what a caller gets when `node.rpc.call` does not return a value. Its `code`
 *   tells the cases apart the way `erpc` does, so a remote function that *returns* a
 *   `{badrpc, _}`-shaped term is a value, never mistaken for an error (over SPAWN_REQUEST; the rex
 *   fallback cannot tell them apart, as on the BEAM).
 * - {@link ErlangException}: what an exposed function throws to raise an Erlang `throw`, `exit` or
 *   `error` with a reason of its choosing (any other JavaScript exception becomes an `error`).
 *
 * @module
 */

import type { Atom, Term } from '../term/types.ts';

/** The class of an Erlang exception. */
export type ErlangClass = 'error' | 'exit' | 'throw';

/** Stable codes of {@link RpcError}. */
export type RpcErrorCode =
  /** No result within the call's timeout (`{badrpc, timeout}`); a late result is dropped. */
  | 'timeout'
  /** The node could not be reached before the call was sent (`{badrpc, nodedown}`). */
  | 'nodedown'
  /** The connection went down while the call was in flight (`{erpc, noconnection}`). */
  | 'noconnection'
  /** The function (or its module) does not exist there, or is not exposed (`{exception, undef, ...}`). */
  | 'undef'
  /** The function raised: see `class`, `reason` and `stacktrace`. */
  | 'exception'
  /** Anything else, with the `term` that `rpc:call` would have returned as `{badrpc, Term}`. */
  | 'badrpc'
  /** A bad local argument (node name, module, function, argument list, timeout, unencodable term). */
  | 'badarg';

/** Details of an {@link RpcError}. */
export interface RpcErrorDetails {
  readonly node: string;
  readonly module: Atom;
  readonly function: Atom;
  readonly arity: number;
  /** `exception` and `undef`: the class of the remote exception. */
  readonly class?: ErlangClass;
  /** `exception` and `undef`: the exception's reason (the thrown value for `throw`). */
  readonly reason?: Term;
  /** `exception` (class `error`) and `undef`: the remote stack trace, `[{M, F, ArityOrArgs, Location}]`. */
  readonly stacktrace?: Term;
  /** `badrpc`: the `Term` of `{badrpc, Term}`. */
  readonly term?: Term;
  readonly cause?: unknown;
}

/** A failed RPC call, with a stable {@link RpcErrorCode}. */
export class RpcError extends Error {
  readonly code: RpcErrorCode;
  /** The node called. */
  readonly node: string;
  readonly module: Atom;
  readonly function: Atom;
  readonly arity: number;
  /** `exception` and `undef`: the class of the remote exception. */
  readonly class: ErlangClass | undefined;
  /** `exception` and `undef`: the remote exception's reason (the thrown value for `throw`). */
  readonly reason: Term | undefined;
  /** `exception` (class `error`) and `undef`: the remote stack trace as a term. */
  readonly stacktrace: Term | undefined;
  /** `badrpc`: the `Term` of `{badrpc, Term}`. */
  readonly term: Term | undefined;

  constructor(code: RpcErrorCode, message: string, details: RpcErrorDetails) {
    super(
      `rpc ${details.node} ${details.module.name}:${details.function.name}/${details.arity}: ${message}`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.name = 'RpcError';
    this.code = code;
    this.node = details.node;
    this.module = details.module;
    this.function = details.function;
    this.arity = details.arity;
    this.class = details.class;
    this.reason = details.reason;
    this.stacktrace = details.stacktrace;
    this.term = details.term;
  }
}

/** True for an {@link RpcError}, optionally of one code. */
export function isRpcError(error: unknown, code?: RpcErrorCode): error is RpcError {
  return error instanceof RpcError && (code === undefined || error.code === code);
}

/**
 * Thrown by an exposed function to raise an Erlang exception: the BEAM caller of `erpc:call` sees
 * `throw:Reason`, `exit:{exception, Reason}` or `error:{exception, Reason, Stack}`; `rpc:call`
 * returns the thrown value, `{badrpc, {'EXIT', Reason}}` or `{badrpc, {'EXIT', {Reason, Stack}}}`.
 *
 * ```ts
 * node.rpc.expose('accounts', { withdraw: (id, amount) => { throw ErlangException.throw(atom('insufficient_funds')); } });
 * ```
 */
export class ErlangException extends Error {
  readonly code: 'erlang_exception' = 'erlang_exception';
  readonly class: ErlangClass;
  readonly reason: Term;
  /** For class `error`: the stack to report; default `[{Module, Function, Arity, []}]` of the exposed function. */
  readonly stacktrace: Term | undefined;

  constructor(cls: ErlangClass, reason: Term, stacktrace?: Term) {
    super(`erlang ${cls}`);
    this.name = 'ErlangException';
    this.class = cls;
    this.reason = reason;
    this.stacktrace = stacktrace;
  }

  /** `throw(Value)`: a non-local return; `rpc:call` returns `value` itself. */
  static throw(value: Term): ErlangException {
    return new ErlangException('throw', value);
  }

  /** `exit(Reason)`. */
  static exit(reason: Term): ErlangException {
    return new ErlangException('exit', reason);
  }

  /** `error(Reason)`, with an optional stack (a list of `{M, F, ArityOrArgs, Location}`). */
  static error(reason: Term, stacktrace?: Term): ErlangException {
    return new ErlangException('error', reason, stacktrace);
  }
}
