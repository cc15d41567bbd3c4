/**
 * `node.health`: cluster health, quorum and a leader hint, read from the membership view.
 *
 * Every answer is computed from the view as it is now, never from history: a member that died
 * makes the cluster `degraded` until the member is reaped (or comes back), then the view no
 * longer holds it. The local node is always part of its own view, so nodes that agree on the
 * membership agree on `leader()`. The view is eventually consistent: during churn two nodes can
 * name different leaders for a while. Safe leadership (at most one leader at a time) is the job
 * of an election, not of this hint.
 */
import type { MemberStatus } from './membership/messages.ts';
import type { NodeMember } from './membership/node-membership.ts';

/** What health reads (the node's membership satisfies it). */
export interface HealthSource {
  /** The local node's name. */
  readonly self: string;
  /** The view, self included (empty when membership is not running). */
  members(): NodeMember[];
}

/** `healthy`: every member in view is alive; `degraded`: some are suspect or dead, or fewer alive than expected; `isolated`: no other member is alive or suspect. */
export type ClusterStatus = 'healthy' | 'degraded' | 'isolated';

/** The answer of {@link ClusterHealth.cluster}. */
export interface ClusterReport {
  readonly status: ClusterStatus;
  /** Alive members, self included. */
  readonly alive: number;
  readonly suspect: number;
  readonly dead: number;
  readonly left: number;
  /** Members in view (all statuses), self included. */
  readonly total: number;
}

/** Errors with stable codes. */
export class HealthError extends Error {
  readonly code: 'BAD_EXPECTED';
  constructor(code: 'BAD_EXPECTED', message: string) {
    super(message);
    this.name = 'HealthError';
    this.code = code;
  }
}

function checkExpected(expected: number): void {
  if (!(Number.isInteger(expected) && expected > 0)) {
    throw new HealthError('BAD_EXPECTED', `expected must be a positive integer, got ${String(expected)}`);
  }
}

/** Health views over a membership; see the module comment. */
export class ClusterHealth {
  private readonly source: HealthSource;

  constructor(source: HealthSource) {
    this.source = source;
  }

  /** The view with the local node always in it, alive (a node is alive to itself). */
  private view(): NodeMember[] {
    const members = this.source.members();
    if (members.some((m) => m.node === this.source.self)) return members;
    return [...members, { node: this.source.self, status: 'alive', incarnation: 0 }];
  }

  /**
   * Counts by status and the overall status. With `expected` (the cluster size you run), fewer
   * alive members than expected is `degraded` even once the missing ones were forgotten, and a
   * node alone is `healthy` when `expected` is 1.
   */
  cluster(expected?: number): ClusterReport {
    if (expected !== undefined) checkExpected(expected);
    const counts: Record<MemberStatus, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
    const view = this.view();
    for (const m of view) counts[m.status]++;
    const otherLive = view.some(
      (m) => m.node !== this.source.self && (m.status === 'alive' || m.status === 'suspect'),
    );
    let status: ClusterStatus;
    if (!otherLive && !(expected === 1)) status = 'isolated';
    else if (counts.suspect > 0 || counts.dead > 0 || (expected !== undefined && counts.alive < expected))
      status = 'degraded';
    else status = 'healthy';
    return { status, ...counts, total: view.length };
  }

  /** True when alive members (self included; suspects not counted, to stay on the safe side) are a strict majority of `expected`. */
  hasQuorum(expected: number): boolean {
    checkExpected(expected);
    let alive = 0;
    for (const m of this.view()) if (m.status === 'alive') alive++;
    return alive > expected / 2;
  }

  /**
   * A deterministic leader hint: the smallest name (by UTF-16 code units) among live members
   * (alive or suspect: a brief suspicion should not move the leader), the local node included.
   * Eventually consistent; see the module comment.
   */
  leader(): string {
    let best = this.source.self;
    for (const m of this.view()) {
      if ((m.status === 'alive' || m.status === 'suspect') && m.node < best) best = m.node;
    }
    return best;
  }
}
