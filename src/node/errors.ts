/**
 * Errors of the process layer. Each has a stable string `code`; the messages are for people.
 *
 * {@link ExitSignal} is different: it is not an error a caller handles but the way a process
 * unwinds when it has exited (by `self.exit(reason)`, or because an exit signal killed it while
 * its JavaScript code was still running). The runner catches it; code that catches everything
 * should rethrow it (see {@link isExitSignal}).
 *
 * @module
 */

import type { Pid, Term } from '../term/types.ts';

/** Stable codes of {@link ProcessError}. */
export type ProcessErrorCode =
  /** A receive found no matching message within `timeoutMs`. */
  | 'timeout'
  /** A receive was cancelled through its `AbortSignal`. */
  | 'aborted'
  /** The process already waits in another receive (a process has one mailbox reader). */
  | 'concurrent_receive'
  /** `register`: the name is held by another process. */
  | 'name_taken'
  /** `register`: the process already has a name. */
  | 'already_registered'
  /** `register`: the atom `undefined` cannot be a name. */
  | 'bad_name'
  /** Send to a local name that nobody holds (the BEAM raises `badarg`), or unregister of a free name. */
  | 'not_registered'
  /** The target process does not exist (`link/1` to a dead local process when not trapping exits, `register` of a dead pid). */
  | 'noproc'
  /** The pid or reference belongs to another node where only local ones are allowed. */
  | 'not_local'
  /** Every pid number is in use. */
  | 'system_limit'
  /** The table was stopped (`stopAll`); no new processes. */
  | 'stopped'
  /** An argument is out of range (a negative timeout, a bad limit). */
  | 'bad_argument';

/** An error of the process layer, with a stable {@link ProcessErrorCode}. */
export class ProcessError extends Error {
  readonly code: ProcessErrorCode;

  constructor(code: ProcessErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ProcessError';
    this.code = code;
  }
}

/** A receive with `timeoutMs` found no matching message in time. */
export class ReceiveTimeoutError extends ProcessError {
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super('timeout', `no matching message within ${timeoutMs} ms`);
    this.name = 'ReceiveTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** A receive was cancelled by its `AbortSignal`; `cause` is the signal's reason. */
export class ReceiveAbortedError extends ProcessError {
  constructor(cause: unknown) {
    super('aborted', 'receive aborted', { cause });
    this.name = 'ReceiveAbortedError';
  }
}

/**
 * Thrown inside a process that has exited, so its code unwinds: by `self.exit(reason)`, and by
 * every process operation (`receive`, `send`, ...) once an exit signal has terminated it.
 * The process is already dead when this is thrown; catching it does not revive it.
 */
export class ExitSignal extends Error {
  /** The process that exited. */
  readonly pid: Pid;
  /** Its exit reason. */
  readonly reason: Term;

  constructor(pid: Pid, reason: Term) {
    super(`process ${pid} exited`);
    this.name = 'ExitSignal';
    this.pid = pid;
    this.reason = reason;
  }
}

/** True for the {@link ExitSignal} a dead process throws; a catch-all should rethrow it. */
export function isExitSignal(error: unknown): error is ExitSignal {
  return error instanceof ExitSignal;
}
