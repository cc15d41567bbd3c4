/**
 * Errors of the `distribute` command and its exit codes.
 *
 * Exit codes (stable, documented in `distribute --help`):
 * - 0: the command did what it said;
 * - 1: it failed (unknown node, unreachable EPMD, wrong cookie, bad term text, remote error);
 * - 2: the command line itself is wrong (unknown command or option, missing argument, bad value).
 *
 * Every failure reaches the user as one line on stderr: {@link describeError} turns the errors of
 * the library (`NodeError`, `EpmdError`, `TermParseError`, `RpcError`) into that line.
 *
 * @module
 */

import { EpmdError } from '../epmd/errors.ts';
import { NodeError } from '../node/options.ts';
import { RpcError } from '../services/errors.ts';
import { inspect } from '../term/inspect.ts';
import { TermParseError } from '../term/parse.ts';

/** Exit codes of the CLI. */
export const EXIT: { readonly ok: 0; readonly failure: 1; readonly usage: 2 } = Object.freeze({
  ok: 0,
  failure: 1,
  usage: 2,
});

/** Stable codes of {@link CliError}. */
export type CliErrorCode =
  /** The command line is wrong (exit 2). */
  | 'usage'
  /** An argument is not valid Erlang term text. */
  | 'bad_term'
  /** The node could not be reached (not in EPMD, connection refused, handshake refused). */
  | 'unreachable'
  /** The remote call failed. */
  | 'rpc_failed'
  /** The EPMD could not be asked. */
  | 'epmd_failed'
  /** The node could not start (name, cookie, listen, EPMD registration, TLS files, --expose module). */
  | 'start_failed'
  /** Anything else. */
  | 'failed';

/** A failure of a command, with its stable code and exit code. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  /** 2 for `usage`, 1 otherwise. */
  readonly exitCode: 1 | 2;

  constructor(code: CliErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = code === 'usage' ? EXIT.usage : EXIT.failure;
  }
}

/** A usage error (exit 2). */
export function usageError(message: string): CliError {
  return new CliError('usage', message);
}

/** Wraps a term parse failure, naming the argument and keeping the offset in the text. */
export function badTerm(what: string, text: string, error: unknown): CliError {
  if (error instanceof TermParseError) {
    return new CliError(
      'bad_term',
      `${what} is not an Erlang term: ${error.message} (in ${JSON.stringify(text)})`,
      { cause: error },
    );
  }
  return new CliError('bad_term', `${what}: ${errorText(error)}`, { cause: error });
}

/** Why connecting to `node` failed, in words a user can act on. */
export function unreachable(node: string, error: unknown): CliError {
  if (error instanceof NodeError) {
    const why: Partial<Record<NodeError['code'], string>> = {
      not_found: 'no such node (its host EPMD does not know the name, or cannot be asked)',
      connect_failed: 'connection refused',
      handshake_failed: 'handshake refused (wrong cookie?)',
      connection_closed: 'the connection closed during the handshake (wrong cookie? TLS on one side only?)',
      setup_timeout: 'the handshake timed out',
      invalid_node: 'not a node name we can reach (alive@host; long and short names do not mix)',
      not_allowed: 'not allowed',
    };
    return new CliError('unreachable', `cannot reach ${node}: ${why[error.code] ?? error.message}`, {
      cause: error,
    });
  }
  return new CliError('unreachable', `cannot reach ${node}: ${errorText(error)}`, { cause: error });
}

/** The one-line message and code of any error a command may end with. */
export function describeError(error: unknown): { code: string; message: string; exitCode: 1 | 2 } {
  if (error instanceof CliError)
    return { code: error.code, message: error.message, exitCode: error.exitCode };
  if (error instanceof RpcError) {
    let message = error.message;
    if (error.code === 'exception' && error.reason !== undefined) {
      message = `${message} (${error.class ?? 'error'}: ${inspect(error.reason, { maxLength: 400 })})`;
    } else if (error.code === 'badrpc' && error.term !== undefined) {
      message = `${message} ({badrpc, ${inspect(error.term, { maxLength: 400 })}})`;
    }
    return { code: `rpc_${error.code}`, message, exitCode: EXIT.failure };
  }
  if (error instanceof EpmdError || error instanceof NodeError || error instanceof TermParseError) {
    return { code: error.code, message: error.message, exitCode: EXIT.failure };
  }
  return { code: 'failed', message: errorText(error), exitCode: EXIT.failure };
}

/** The message of an error, or its text. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
