/**
 * Leader lease arithmetic (thesis §6.4.1, "leases"), with a bound on clock drift.
 *
 * The argument, with E = `electionTimeoutMinMs` and ρ = `maxClockDriftRate` (every clock runs
 * at a rate within [1-ρ, 1+ρ] of real time):
 *
 * 1. A leader sends a heartbeat round at real time S. A follower that answers it received it at
 *    some R >= S, and promises not to grant a vote or pre-vote, nor to campaign, until E has
 *    passed on its own clock since then: at least E/(1+ρ) real time, so until S + E/(1+ρ) at
 *    the earliest. A follower that restarts keeps the promise by refusing for E after boot.
 * 2. Any new leader needs a vote from a majority, and every majority contains a follower that
 *    answered the round (or the old leader itself, which does not vote while it leads). So no
 *    other node can lead, let alone hold a lease, before S + E/(1+ρ).
 * 3. The leader holds its lease for D on its own clock from S, which lasts at most D/(1-ρ) real
 *    time. D = E(1-ρ)/(1+ρ) makes D/(1-ρ) = E/(1+ρ): the lease ends before anyone else can lead.
 *
 * So the lease starts at the send time of the latest round a majority answered (the leader
 * counts as answering every round it sends), and lasts {@link leaseDurationMs}.
 *
 * @module
 */

/** D = E(1-ρ)/(1+ρ): the longest lease that cannot outlive the followers' promise (see above). */
export function leaseDurationMs(electionTimeoutMinMs: number, maxClockDriftRate: number): number {
  return (electionTimeoutMinMs * (1 - maxClockDriftRate)) / (1 + maxClockDriftRate);
}

/**
 * The `quorum`-th latest of `times`: the latest instant such that at least `quorum` entries are
 * at or after it. Undefined when fewer than `quorum` entries are defined.
 * With per-voter acknowledged send times it is the lease start; with per-voter last-contact
 * times it is when the leader last had a majority (check-quorum).
 */
export function quorumTime(times: readonly (number | undefined)[], quorum: number): number | undefined {
  // The answer is the largest t among the entries with at least `quorum` entries >= t.
  // Quadratic but allocation-free: voter sets are small and this runs on every heartbeat.
  let best: number | undefined;
  for (const t of times) {
    if (t === undefined || (best !== undefined && t <= best)) continue;
    let atOrAfter = 0;
    for (const u of times) if (u !== undefined && u >= t) atOrAfter++;
    if (atOrAfter >= quorum) best = t;
  }
  return best;
}

/** When a lease that started at `startMs` ends (exclusive), on the leader's clock. */
export function leaseExpiry(startMs: number, durationMs: number): number {
  return startMs + durationMs;
}

/** Until when (exclusive, own clock) a node that last heard from a leader at `heardAtMs` refuses votes. */
export function voteGuardUntil(heardAtMs: number, electionTimeoutMinMs: number): number {
  return heardAtMs + electionTimeoutMinMs;
}
