/**
 * Errors of the leader election: one class, a stable `code` per cause.
 *
 * @module
 */

/**
 * Why an election operation failed.
 *
 * - `invalid-config`: options that cannot give a safe election (bad timeouts, drift, voters).
 * - `invalid-message`: a message that is malformed, not addressed to this node, or from a
 *   node outside the voter set; the node ignores it and stays up.
 * - `config-mismatch`: a message from a node configured with another voter set (mixing voter
 *   sets would let two majorities miss each other).
 * - `illegal-transition`: a role change the protocol forbids (a bug, never remote input).
 * - `clock-regressed`: the injected clock went backwards; leases need a monotonic clock.
 * - `not-leader`: the operation needs this node to be the leader.
 * - `no-lease`: this node is the leader but does not hold a valid lease right now.
 * - `unsupported`: voter changes (see `RaftElection.changeVoters`).
 * - `storage-corrupt`: the persisted term and vote cannot be read back.
 * - `storage-failed`: the persisted state could not be written.
 */
export type ElectionErrorCode =
  | 'invalid-config'
  | 'invalid-message'
  | 'config-mismatch'
  | 'illegal-transition'
  | 'clock-regressed'
  | 'not-leader'
  | 'no-lease'
  | 'unsupported'
  | 'storage-corrupt'
  | 'storage-failed';

/** An election failure with a stable {@link ElectionErrorCode}. */
export class ElectionError extends Error {
  /** Stable, machine-readable cause. */
  readonly code: ElectionErrorCode;

  constructor(code: ElectionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ElectionError';
    this.code = code;
  }
}
