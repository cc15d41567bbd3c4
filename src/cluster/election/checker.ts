/**
 * The election's safety invariants, checked from outside: the checker sees every node, every
 * message sent, every state persisted, and real (virtual) time, which no node sees.
 *
 * - election safety: at most one leader per term, over the whole run and across restarts;
 * - one vote per term: a node's persisted vote for a term never changes, its persisted term
 *   never decreases, and a granted vote only leaves a node after it was persisted;
 * - leases: at no instant do two nodes hold a valid lease (each judged on its own drifted clock);
 * - fencing: the token of the lease holder only grows over real time, strictly when the
 *   holder or its term changes.
 */
import type { ElectionMessage, NodeId } from './messages.ts';
import type { RaftElection } from './raft.ts';
import type { HardState } from './storage.ts';

/** A broken invariant, with when and where. */
export interface Violation {
  readonly atMs: number;
  readonly invariant:
    | 'one-leader-per-term'
    | 'one-vote-per-term'
    | 'term-regressed'
    | 'vote-not-persisted'
    | 'two-leases'
    | 'token-regressed';
  readonly detail: string;
}

/** Thrown by a fail-fast checker. */
export class InvariantError extends Error {
  readonly violation: Violation;

  constructor(v: Violation) {
    super(`invariant ${v.invariant} broken at ${v.atMs.toFixed(3)} ms: ${v.detail}`);
    this.name = 'InvariantError';
    this.violation = v;
  }
}

/** Watches a simulated cluster; call the `on*` hooks from the driver and `check` after every event. */
export class ElectionChecker {
  readonly violations: Violation[] = [];
  /** term -> the node that led it. */
  readonly leaders: Map<number, NodeId> = new Map();
  /** `${node}@${term}` -> the persisted vote. */
  readonly #votes = new Map<string, NodeId>();
  /** node -> its last persisted term. */
  readonly #terms = new Map<NodeId, number>();
  #holder: NodeId | undefined;
  #holderToken = 0;
  /** Leases observed (a new holder or a new token), a measure of how much the run exercised. */
  leasesGranted = 0;
  checks = 0;

  /** Stops at the first violation when true (the test reports it with its seed). */
  readonly failFast: boolean;

  constructor(failFast = true) {
    this.failFast = failFast;
  }

  /** A node made `hs` durable. */
  onPersist(atMs: number, id: NodeId, hs: HardState): void {
    const last = this.#terms.get(id) ?? 0;
    if (hs.term < last) this.#fail(atMs, 'term-regressed', `${id} persisted term ${hs.term} after ${last}`);
    this.#terms.set(id, hs.term);
    if (hs.vote === null) return;
    const key = `${id}@${hs.term}`;
    const prev = this.#votes.get(key);
    if (prev !== undefined && prev !== hs.vote) {
      this.#fail(atMs, 'one-vote-per-term', `${id} voted for ${prev} and then ${hs.vote} in term ${hs.term}`);
    }
    this.#votes.set(key, hs.vote);
  }

  /** A node handed `m` to the network (after persisting). */
  onSend(atMs: number, m: ElectionMessage): void {
    if (m.type !== 'RequestVoteResponse' || !m.granted) return;
    const vote = this.#votes.get(`${m.from}@${m.term}`);
    if (vote !== m.to) {
      this.#fail(
        atMs,
        'vote-not-persisted',
        `${m.from} granted ${m.to} a vote in term ${m.term}; persisted vote: ${vote ?? 'none'}`,
      );
    }
  }

  /** Checks the instant `atMs` over the live nodes. */
  check(atMs: number, nodes: Iterable<RaftElection>): void {
    this.checks++;
    let holder: RaftElection | undefined;
    for (const n of nodes) {
      if (n.role === 'leader') {
        const led = this.leaders.get(n.term);
        if (led === undefined) this.leaders.set(n.term, n.id);
        else if (led !== n.id)
          this.#fail(atMs, 'one-leader-per-term', `${led} and ${n.id} both led term ${n.term}`);
        if (n.hasLease()) {
          if (holder !== undefined) {
            this.#fail(
              atMs,
              'two-leases',
              `${holder.id} (term ${holder.term}) and ${n.id} (term ${n.term}) hold leases`,
            );
          }
          holder = n;
        }
      }
    }
    if (holder === undefined) return;
    const token = holder.fencingToken();
    if (holder.id !== this.#holder || token !== this.#holderToken) {
      // A new leadership: its token must be above every earlier one.
      if (token <= this.#holderToken) {
        this.#fail(
          atMs,
          'token-regressed',
          `${holder.id} holds token ${token} after ${this.#holder} held ${this.#holderToken}`,
        );
      }
      this.#holder = holder.id;
      this.#holderToken = token;
      this.leasesGranted++;
    }
  }

  #fail(atMs: number, invariant: Violation['invariant'], detail: string): void {
    const v: Violation = { atMs, invariant, detail };
    this.violations.push(v);
    if (this.failFast) throw new InvariantError(v);
  }
}
