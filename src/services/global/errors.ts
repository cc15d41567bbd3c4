/**
 * Errors of the global registry API.
 *
 * @module
 */

/** Stable codes of {@link GlobalError}. */
export type GlobalErrorCode =
  /** An argument is not what the API takes (a pid that is not a pid, a bad option). */
  | 'bad_argument'
  /** `send` to a name nobody holds (OTP exits with `{badarg, {Name, Msg}}`). */
  | 'not_registered'
  /** The message fails the schema of a typed name. */
  | 'invalid_message'
  /** The node stopped before the operation finished. */
  | 'stopped';

/** A failure of the global registry API, with a stable `code`. */
export class GlobalError extends Error {
  readonly code: GlobalErrorCode;
  constructor(code: GlobalErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GlobalError';
    this.code = code;
  }
}
