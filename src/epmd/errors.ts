/**
 * The one error class of the EPMD layer. Callers branch on `code`, never on the message.
 *
 * @module
 */

/**
 * Stable reasons an EPMD operation fails:
 * - `unreachable`: nothing accepted a TCP connection on the EPMD address (refused, no route);
 * - `duplicate_name`: the EPMD refused the registration (OTP maps every non-zero result to this);
 * - `timeout`: the EPMD did not answer within the deadline;
 * - `protocol`: bytes that do not follow the EPMD protocol (from either side);
 * - `too_large`: a request or response larger than the configured limit;
 * - `closed`: the connection closed before the answer was complete, or a registration's socket closed;
 * - `address_in_use`: the embedded server could not listen because the port is taken;
 * - `listen_failed`: the embedded server could not listen for another reason;
 * - `invalid_argument`: a caller passed a name or port the protocol cannot carry.
 */
export type EpmdErrorCode =
  | 'unreachable'
  | 'duplicate_name'
  | 'timeout'
  | 'protocol'
  | 'too_large'
  | 'closed'
  | 'address_in_use'
  | 'listen_failed'
  | 'invalid_argument';

/** An EPMD failure with a stable {@link EpmdErrorCode}. */
export class EpmdError extends Error {
  /** Why the operation failed; stable across releases. */
  readonly code: EpmdErrorCode;

  constructor(code: EpmdErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EpmdError';
    this.code = code;
  }
}

/** True when `error` is an {@link EpmdError}, optionally with the given code. */
export function isEpmdError(error: unknown, code?: EpmdErrorCode): error is EpmdError {
  return error instanceof EpmdError && (code === undefined || error.code === code);
}
