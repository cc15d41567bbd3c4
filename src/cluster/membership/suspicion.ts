/**
 * Lifeguard's dynamic suspicion timeout. A new suspicion starts at `maxMs` and shrinks
 * logarithmically towards `minMs` as independent members confirm it: with `k` expected
 * confirmations it reaches the minimum. A lone accuser (perhaps slow itself) thus gives the
 * suspect plenty of time to refute, while a member that many see failing is declared dead fast.
 * (Lifeguard, section IV.B.) Pure: the caller holds the clock.
 */

/**
 * The minimum suspicion timeout: `mult * max(1, log10(n)) * intervalMs`, with `n` the number
 * of members. Rounded down to a millisecond.
 */
export function suspicionTimeout(mult: number, n: number, intervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(mult * nodeScale * intervalMs);
}

/**
 * Time left in a suspicion started `elapsedMs` ago that has `confirmations` independent
 * confirmations out of `k` expected: the timeout falls from `maxMs` with log(c + 1) / log(k + 1)
 * and never below `minMs`. May be negative (already expired). With `k < 1` it is `minMs`.
 */
export function remainingSuspicionTime(
  confirmations: number,
  k: number,
  elapsedMs: number,
  minMs: number,
  maxMs: number,
): number {
  if (k < 1) return minMs - elapsedMs;
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  const raw = maxMs - frac * (maxMs - minMs);
  const timeout = Math.max(minMs, Math.floor(raw));
  return timeout - elapsedMs;
}

/**
 * The number of confirmations a suspicion expects: `suspicionMult - 2`, or 0 when the cluster
 * is too small for that many other members to witness it (then the minimum applies at once).
 */
export function expectedConfirmations(suspicionMult: number, n: number): number {
  const k = suspicionMult - 2;
  return n - 2 < k ? 0 : Math.max(0, k);
}

/** One member's suspicion of another, with the set of members that raised or confirmed it. */
export class Suspicion {
  /** Incarnation of the suspect that this suspicion is about. */
  readonly incarnation: number;
  readonly startMs: number;
  readonly k: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** The member that raised the suspicion first. */
  readonly accuser: string;
  private readonly witnesses: Set<string>;
  private confirmed = 0;
  private deadline: number;
  /** When the suspect was pinged once more before the deadline (MembershipConfig.lastChanceProbe). */
  lastChanceAtMs: number | undefined = undefined;

  /** `from` raised the suspicion; it does not count as a confirmation. */
  constructor(from: string, incarnation: number, startMs: number, k: number, minMs: number, maxMs: number) {
    this.incarnation = incarnation;
    this.startMs = startMs;
    this.k = k;
    this.minMs = minMs;
    this.maxMs = Math.max(minMs, maxMs);
    this.accuser = from;
    this.witnesses = new Set([from]);
    this.deadline = startMs + remainingSuspicionTime(0, k, 0, minMs, this.maxMs);
  }

  /** Independent confirmations so far. */
  get confirmations(): number {
    return this.confirmed;
  }

  /** The virtual time at which the suspect is to be declared dead. */
  get deadlineMs(): number {
    return this.deadline;
  }

  /**
   * Records a confirmation from `from`. Returns true when it is new (the caller re-gossips it
   * then); a repeat, or any beyond k, changes nothing.
   */
  confirm(from: string): boolean {
    if (this.confirmed >= this.k) return false;
    if (this.witnesses.has(from)) return false;
    this.witnesses.add(from);
    this.confirmed++;
    this.deadline = this.startMs + remainingSuspicionTime(this.confirmed, this.k, 0, this.minMs, this.maxMs);
    return true;
  }
}
