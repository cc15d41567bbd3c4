/**
 * Errors of the pg service, each with a stable string `code`.
 *
 * @module
 */

/** Stable codes of {@link PgError}. */
export type PgErrorCode =
  /** `join`/`leave`/a process monitor was given a pid of another node (OTP: `{nolocal, Pid}`). */
  | 'not_local'
  /** An argument has the wrong type (a scope name that is not an atom or string, a non-pid member). */
  | 'bad_argument'
  /** The scope's name is registered by a process that is not this scope. */
  | 'name_taken'
  /** The scope process has exited (killed, or the node stopped); start it again with `scope(name)`. */
  | 'scope_down'
  /** A subscription's async iterator fell more than `maxBuffered` changes behind. */
  | 'overflow';

/** An error of the pg service. */
export class PgError extends Error {
  readonly code: PgErrorCode;

  constructor(code: PgErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PgError';
    this.code = code;
  }
}
