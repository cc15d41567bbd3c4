/**
 * The election half of Raft (Ongaro & Ousterhout, §5.2; Ongaro's thesis §6.2 check-quorum,
 * §6.4.1 leases, §9.6 pre-vote) as a pure state machine in the etcd-raft manner.
 *
 * Input enters through two doors: `step(message)` for a message from a peer and `tick()` for
 * the passage of time. The clock and the randomness are injected; the core never sends, sleeps
 * or touches a disk. What it wants done is collected in a {@link Ready} that the driver takes:
 * persist `hardState` (and wait for it to be durable), then send `messages`, then call
 * `advance()`. A node's role is the pair of functions `stepFn`/`tickFn`, swapped by the
 * `become*` methods; a transition the protocol forbids throws.
 *
 * Safety, in the order the code enforces it:
 * - One vote per term (§5.2): the vote is part of the hard state, persisted before the grant
 *   leaves the node, and loaded again on restart.
 * - At most one leader per term: a leader needs a strict majority of a fixed voter set, and
 *   two majorities share a voter, who votes once.
 * - Leases (see lease.ts): a node that heard from a leader within `electionTimeoutMinMs`, or
 *   that booted less than that ago, neither votes, pre-votes nor campaigns, and does not even
 *   adopt a newer term from a vote request ("ignored in lease", as etcd's CheckQuorum). A
 *   leader holds a lease from the send time of the latest heartbeat round a majority answered,
 *   for a duration shortened by the drift bound, and only once its term is durable.
 * - Fencing: the token is the term of the leadership; terms only grow, and the token is handed
 *   out only while the lease holds.
 *
 * There is no log, so the election restriction of §5.4.1 (vote only for candidates whose log
 * is at least as up-to-date) has nothing to compare and is omitted: any voter may lead.
 *
 * Tolerated races, each handled where named: stale responses from an earlier term or round
 * (dropped by term and by `sentAt`), duplicated vote requests (re-granted to the same
 * candidate, refused to any other), a heartbeat from a stale leader (answered with our term so
 * it steps down), a pre-vote granted for a term we already moved past (dropped by term).
 *
 * @module
 */
import type { Clock } from '../../sim/clock.ts';
import type { Rng } from '../../sim/prng.ts';
import { checkVoters, type ElectionConfig, quorum, resolveElectionConfig, voterSetId } from './config.ts';
import { ElectionError } from './errors.ts';
import { leaseDurationMs, leaseExpiry, quorumTime, voteGuardUntil } from './lease.ts';
import type { ElectionMessage, Heartbeat, HeartbeatResponse, NodeId } from './messages.ts';
import { type HardState, initialHardState } from './storage.ts';

/** A node's role. A pre-candidate asks for pre-votes without raising its term (§9.6). */
export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Something the driver or the application may want to know. */
export type ElectionEvent =
  | {
      /** The known leader changed, or the same node leads a new term. `leader` is null when unknown. */
      readonly type: 'leader-changed';
      readonly term: number;
      readonly leader: NodeId | null;
    }
  | {
      /** This node's role or term changed. */
      readonly type: 'role-changed';
      readonly term: number;
      readonly role: Role;
    };

/**
 * What the core asks its driver to do, in this order.
 */
export interface Ready {
  /**
   * The new term and vote, present only when they changed. The driver makes it durable
   * (fsync) BEFORE sending any of `messages`: a vote that left the node and was then lost
   * in a crash would let the node vote twice in the term.
   */
  readonly hardState?: HardState;
  /** Messages to send once `hardState` is durable. Any order; losing some is tolerated. */
  readonly messages: readonly ElectionMessage[];
  /** What happened since the last `ready()`; act on it only once `hardState` is durable. */
  readonly events: readonly ElectionEvent[];
}

/** How to build a node. */
export interface RaftElectionOptions {
  /** This node's id; must be one of `voters`. */
  readonly id: NodeId;
  /** The fixed voter set, the same on every node (messages carry its hash to catch mistakes). */
  readonly voters: readonly NodeId[];
  /** This node's monotonic clock, in ms. Its rate must stay within `maxClockDriftRate` of real time. */
  readonly clock: Clock;
  /** Randomness for election timeouts. */
  readonly rng: Rng;
  /** The state loaded from storage; {@link initialHardState} for a new node. */
  readonly hardState?: HardState;
  /** Overrides of {@link defaultElectionConfig}. */
  readonly config?: Partial<ElectionConfig>;
}

/** A snapshot of a node, for tests, logs and status pages. */
export interface ElectionStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  /** Lease end on this node's clock while it leads with a lease, else null. */
  readonly leaseExpiresAt: number | null;
}

/** Counters of inputs the core chose to ignore, by reason. */
export interface ElectionStats {
  /** Vote or pre-vote requests refused or ignored because this node promised a leader its lease. */
  inLease: number;
  /** Messages from an older term. */
  staleTerm: number;
  /** Responses that belong to no current round or campaign. */
  unexpected: number;
  /** Heartbeats from another node claiming to lead this node's own term (a broken peer). */
  conflictingLeader: number;
}

type StepFn = (m: ElectionMessage) => void;

/** One node's election state machine. Not thread-safe by design: one driver owns it. */
export class RaftElection {
  /** This node's id. */
  readonly id: NodeId;
  /** The voter set, sorted. */
  readonly voters: readonly NodeId[];
  /** The resolved configuration. */
  readonly config: ElectionConfig;
  /** Hash of the voter set, carried by every message. */
  readonly voterSet: number;
  /** Votes needed to win. */
  readonly quorum: number;
  /** Lease duration on this node's clock (lease.ts). */
  readonly leaseMs: number;
  /** Ignored inputs by reason. */
  readonly stats: ElectionStats = { inLease: 0, staleTerm: 0, unexpected: 0, conflictingLeader: 0 };

  readonly #voterSet: ReadonlySet<NodeId>;
  readonly #clock: Clock;
  readonly #rng: Rng;

  #term: number;
  #vote: NodeId | null;
  #role: Role = 'follower';
  #leader: NodeId | null = null;
  #stepFn: StepFn;
  #tickFn: () => void;

  /** Latest clock reading; the clock must not go back. */
  #now: number;
  /** When a follower or candidate times out and campaigns. */
  #electionDeadline = 0;
  /** Until when this node refuses votes and does not campaign (its lease promise). */
  #voteGuardUntil: number;

  /** Pre-votes or votes received in the current campaign. */
  readonly #votes = new Map<NodeId, boolean>();

  // Leader state.
  #leaderSince = 0;
  #nextHeartbeatAt = 0;
  /** Position of each voter in `voters`, for the per-voter arrays below. */
  readonly #index: ReadonlyMap<NodeId, number>;
  /** Per voter, the send time of the latest round it answered (the leader: its latest round). */
  readonly #acked: (number | undefined)[];
  /** Per voter, when the leader last heard from it in this term (check-quorum); the leader's own entry stays empty. */
  readonly #lastActive: (number | undefined)[];
  #leaseStart: number | undefined;
  /** When the leader last had a majority (itself included) in contact; undefined for a lone voter. */
  #contactAt: number | undefined;

  // Outputs.
  #messages: ElectionMessage[] = [];
  #events: ElectionEvent[] = [];
  /** Hard state handed out by the latest `ready()`. */
  #readyHardState: HardState;
  /** Hard state the driver confirmed durable through `advance()`. */
  #durableHardState: HardState;
  #lastLeaderEvent: { term: number; leader: NodeId | null };
  /** Term of the latest role-changed event. */
  #roleTerm: number;

  constructor(options: RaftElectionOptions) {
    this.id = options.id;
    this.voters = checkVoters(options.id, options.voters);
    this.#voterSet = new Set(this.voters);
    this.#index = new Map(this.voters.map((v, i) => [v, i]));
    this.#acked = this.voters.map(() => undefined);
    this.#lastActive = this.voters.map(() => undefined);
    this.config = resolveElectionConfig(options.config);
    this.voterSet = voterSetId(this.voters);
    this.quorum = quorum(this.voters.length);
    this.leaseMs = leaseDurationMs(this.config.electionTimeoutMinMs, this.config.maxClockDriftRate);
    this.#clock = options.clock;
    this.#rng = options.rng;
    const hs = options.hardState ?? initialHardState;
    if (hs.vote !== null && !this.#voterSet.has(hs.vote)) {
      throw new ElectionError('invalid-config', `stored vote ${hs.vote} is not a voter`);
    }
    this.#term = hs.term;
    this.#vote = hs.vote;
    this.#readyHardState = hs;
    this.#durableHardState = hs;
    this.#lastLeaderEvent = { term: hs.term, leader: null };
    this.#roleTerm = hs.term;
    this.#now = options.clock.now();
    // A node that just (re)started may have answered a leader's heartbeat before it went down;
    // it keeps that promise by refusing votes for a full minimum timeout after boot.
    this.#voteGuardUntil = voteGuardUntil(this.#now, this.config.electionTimeoutMinMs);
    this.#stepFn = this.#stepFollower;
    this.#tickFn = this.#tickElection;
    this.#resetElectionTimer();
  }

  // ---------------------------------------------------------------- queries

  /** Current term. */
  get term(): number {
    return this.#term;
  }

  /** Vote cast in the current term. */
  get vote(): NodeId | null {
    return this.#vote;
  }

  /** Current role. */
  get role(): Role {
    return this.#role;
  }

  /** The leader of the current term as far as this node knows, or null. */
  get leader(): NodeId | null {
    return this.#leader;
  }

  /**
   * True while this node leads with a valid lease: no other node can be leader at this
   * instant (given the drift bound), so the caller may act alone, e.g. serve a read.
   */
  hasLease(): boolean {
    return this.leaseExpiresAt() !== null;
  }

  /** The lease end on this node's clock, or null when it holds no lease now. */
  leaseExpiresAt(): number | null {
    if (this.#role !== 'leader' || this.#leaseStart === undefined) return null;
    // The lease rests on the term and self-vote being durable: a crash before that could
    // restart the node in the old term and let it lead the same term twice.
    if (this.#durableHardState.term !== this.#term) return null;
    const end = leaseExpiry(this.#leaseStart, this.leaseMs);
    return this.#readClock() < end ? end : null;
  }

  /**
   * The fencing token of this leadership: its term, which grows with every leadership.
   * Pass it with every write to a guarded resource, which rejects tokens lower than the
   * highest it has seen. Throws `not-leader` or `no-lease` when this node may not act.
   */
  fencingToken(): number {
    if (this.#role !== 'leader') {
      throw new ElectionError(
        'not-leader',
        `${this.id} is not the leader (leader: ${this.#leader ?? 'unknown'})`,
      );
    }
    if (!this.hasLease())
      throw new ElectionError('no-lease', `${this.id} leads term ${this.#term} without a lease`);
    return this.#term;
  }

  /** A snapshot for tests and status pages. */
  status(): ElectionStatus {
    return {
      id: this.id,
      role: this.#role,
      term: this.#term,
      vote: this.#vote,
      leader: this.#leader,
      leaseExpiresAt: this.leaseExpiresAt(),
    };
  }

  /**
   * When (on this node's clock) the next `tick()` would change something: the election
   * timeout, or for a leader the next heartbeat round or check-quorum deadline. A driver
   * may schedule its timer for it instead of ticking at a fixed rate.
   */
  nextDeadline(): number {
    if (this.#role !== 'leader') return this.#electionDeadline;
    let next = this.#nextHeartbeatAt;
    if (this.config.checkQuorum && this.#contactAt !== undefined) {
      next = Math.min(next, this.#contactAt + this.config.electionTimeoutMinMs);
    }
    return next;
  }

  // ---------------------------------------------------------------- inputs

  /** Lets time pass: campaigns on an election timeout, sends heartbeats, checks the quorum. */
  tick(): void {
    this.#readClock();
    this.#tickFn();
  }

  /**
   * Handles a message from a peer. Throws `invalid-message` or `config-mismatch` (the state
   * is unchanged) for a message this node must not act on; the driver drops it and carries on.
   */
  step(m: ElectionMessage): void {
    if (m.to !== this.id)
      throw new ElectionError('invalid-message', `message for ${m.to} delivered to ${this.id}`);
    if (m.from === this.id || !this.#voterSet.has(m.from)) {
      throw new ElectionError('invalid-message', `message from ${m.from}, not a peer voter of ${this.id}`);
    }
    if (m.voterSet !== this.voterSet) {
      throw new ElectionError('config-mismatch', `${m.from} is configured with another voter set`);
    }
    const now = this.#readClock();

    if (m.term > this.#term) {
      // A vote request from a newer term must not depose a node that promised a leader its
      // lease: without this a node that cannot reach the leader would disrupt it (§9.6, §6.4.1).
      if ((m.type === 'RequestVote' || m.type === 'PreVote') && this.#inLease(now)) {
        this.stats.inLease++;
        return;
      }
      if (m.type === 'PreVote') {
        // A pre-vote never changes our term: its term is only the sender's proposal.
      } else if (m.type === 'PreVoteResponse' && m.granted) {
        // A granted pre-vote carries the term we proposed; we raise it only on winning.
      } else {
        this.#becomeFollower(m.term, m.type === 'Heartbeat' ? m.from : null);
      }
    } else if (m.term < this.#term) {
      this.stats.staleTerm++;
      // Tell a stale leader or candidate our term so it steps down (§5.1).
      if (m.type === 'Heartbeat') this.#send(this.#heartbeatResponse(m, false));
      else if (m.type === 'PreVote' || m.type === 'RequestVote') this.#reply(m, false);
      return;
    }
    this.#stepFn(m);
  }

  /**
   * Takes what the core wants done. See {@link Ready} for the driver's duties; call
   * {@link advance} once the hard state is durable and the messages handed to the transport.
   */
  ready(): Ready {
    const hs = this.#readyHardState;
    const changed = hs.term !== this.#term || hs.vote !== this.#vote;
    const out: { hardState?: HardState; messages: ElectionMessage[]; events: ElectionEvent[] } = {
      messages: this.#messages,
      events: this.#events,
    };
    if (changed) {
      this.#readyHardState = Object.freeze({ term: this.#term, vote: this.#vote });
      out.hardState = this.#readyHardState;
    }
    this.#messages = [];
    this.#events = [];
    return out;
  }

  /** True when {@link ready} has something to hand out. */
  hasReady(): boolean {
    return (
      this.#messages.length > 0 ||
      this.#events.length > 0 ||
      this.#readyHardState.term !== this.#term ||
      this.#readyHardState.vote !== this.#vote
    );
  }

  /** Confirms that the hard state of the latest {@link ready} is durable. */
  advance(): void {
    this.#durableHardState = this.#readyHardState;
  }

  /**
   * Voter changes are not supported: throws `unsupported`.
   *
   * A safe change (even one voter at a time, thesis §4.1) must be replicated and committed
   * through a log, with the election restriction ordering candidates by how recent their
   * configuration is, and with the leader committing an entry of its own term before changing
   * voters (the single-server change bug found after the paper). An election without a log has
   * none of that, and the lease argument rests on every majority of the old set meeting every
   * majority of the new one. To change voters: stop every node, change the voter set everywhere,
   * start again; nodes with different voter sets refuse each other's messages (`config-mismatch`).
   */
  changeVoters(_voters: readonly NodeId[]): never {
    throw new ElectionError(
      'unsupported',
      'voter changes are unsupported: an election without a replicated log cannot commit a configuration safely; restart every node with the new voter set',
    );
  }

  // ---------------------------------------------------------------- roles

  #becomeFollower(term: number, leader: NodeId | null): void {
    if (term < this.#term) {
      throw new ElectionError(
        'illegal-transition',
        `${this.id}: follower of term ${term} < current ${this.#term}`,
      );
    }
    if (term > this.#term) {
      this.#term = term;
      this.#vote = null;
    }
    this.#stepFn = this.#stepFollower;
    this.#tickFn = this.#tickElection;
    this.#setRole('follower');
    this.#setLeader(leader);
    this.#resetElectionTimer();
    this.#clearLeaderState();
  }

  /** Asks for pre-votes for `term + 1` without changing anything durable (§9.6). */
  #becomePreCandidate(): void {
    if (this.#role === 'leader')
      throw new ElectionError('illegal-transition', `${this.id}: leader -> pre-candidate`);
    this.#stepFn = this.#stepCampaign;
    this.#tickFn = this.#tickElection;
    this.#setRole('pre-candidate');
    this.#setLeader(null);
    this.#resetElectionTimer();
    this.#votes.clear();
    this.#votes.set(this.id, true);
    for (const to of this.voters) {
      if (to !== this.id)
        this.#send({ type: 'PreVote', from: this.id, to, term: this.#term + 1, voterSet: this.voterSet });
    }
    if (this.#tally() === 'won') this.#becomeCandidate();
  }

  /** Raises the term, votes for itself and asks for votes (§5.2). */
  #becomeCandidate(): void {
    if (this.#role === 'leader')
      throw new ElectionError('illegal-transition', `${this.id}: leader -> candidate`);
    // Campaigning is a vote for oneself: never while a lease promise holds. The timers make
    // this unreachable; the check keeps it so.
    if (this.#now < this.#voteGuardUntil) {
      throw new ElectionError('illegal-transition', `${this.id}: campaign while a leader's lease may hold`);
    }
    this.#term++;
    this.#vote = this.id;
    this.#stepFn = this.#stepCampaign;
    this.#tickFn = this.#tickElection;
    this.#setRole('candidate');
    this.#setLeader(null);
    this.#resetElectionTimer();
    this.#votes.clear();
    this.#votes.set(this.id, true);
    for (const to of this.voters) {
      if (to !== this.id)
        this.#send({ type: 'RequestVote', from: this.id, to, term: this.#term, voterSet: this.voterSet });
    }
    if (this.#tally() === 'won') this.#becomeLeader();
  }

  #becomeLeader(): void {
    if (this.#role !== 'candidate') {
      throw new ElectionError('illegal-transition', `${this.id}: ${this.#role} -> leader`);
    }
    this.#stepFn = this.#stepLeader;
    this.#tickFn = this.#tickLeader;
    this.#setRole('leader');
    this.#setLeader(this.id);
    this.#clearLeaderState();
    this.#leaderSince = this.#now;
    // Check-quorum grace: every voter counts as heard from at the start of the term.
    this.#lastActive.fill(this.#now);
    this.#lastActive[this.#index.get(this.id)!] = undefined;
    this.#updateContact();
    // Establish authority at once (§5.2: "sends heartbeat messages to all of the other servers").
    this.#broadcastHeartbeat();
  }

  #setRole(role: Role): void {
    const changed = this.#role !== role || this.#roleTerm !== this.#term;
    this.#role = role;
    this.#roleTerm = this.#term;
    if (changed) this.#events.push({ type: 'role-changed', term: this.#term, role });
  }

  #setLeader(leader: NodeId | null): void {
    this.#leader = leader;
    const last = this.#lastLeaderEvent;
    if (last.leader === leader && (leader === null || last.term === this.#term)) return;
    this.#lastLeaderEvent = { term: this.#term, leader };
    this.#events.push({ type: 'leader-changed', term: this.#term, leader });
  }

  // ---------------------------------------------------------------- ticks

  #tickElection(): void {
    if (this.#now < this.#electionDeadline) return;
    // §5.2: "If a follower receives no communication over a period of time called the
    // election timeout, then it assumes there is no viable leader and begins an election."
    if (this.config.preVote) this.#becomePreCandidate();
    else this.#becomeCandidate();
  }

  #tickLeader(): void {
    if (this.config.checkQuorum) {
      // Check-quorum (thesis §6.2): a leader that has not heard from a majority within an
      // election timeout steps down, so clients find the real leader.
      const contact = this.quorum === 1 ? this.#now : this.#contactAt;
      if (contact === undefined || this.#now - contact >= this.config.electionTimeoutMinMs) {
        this.#becomeFollower(this.#term, null);
        return;
      }
    }
    if (this.#now >= this.#nextHeartbeatAt) this.#broadcastHeartbeat();
  }

  #broadcastHeartbeat(): void {
    const sentAt = this.#now;
    this.#nextHeartbeatAt = sentAt + this.config.heartbeatIntervalMs;
    // The leader answers its own round as it sends it: it does not vote while it leads.
    this.#acked[this.#index.get(this.id)!] = sentAt;
    this.#updateLease();
    for (const to of this.voters) {
      if (to !== this.id)
        this.#send({
          type: 'Heartbeat',
          from: this.id,
          to,
          term: this.#term,
          voterSet: this.voterSet,
          sentAt,
        });
    }
  }

  // ---------------------------------------------------------------- steps (m.term >= term here)

  #stepFollower(m: ElectionMessage): void {
    switch (m.type) {
      case 'Heartbeat':
        this.#onHeartbeat(m);
        return;
      case 'PreVote':
      case 'RequestVote':
        this.#onVoteRequest(m);
        return;
      default:
        this.stats.unexpected++;
    }
  }

  /** Pre-candidate and candidate: alike but for which answers to their own campaign count. */
  #stepCampaign(m: ElectionMessage): void {
    switch (m.type) {
      case 'Heartbeat':
        // §5.2: "If the leader's term is at least as large as the candidate's current term,
        // then the candidate recognizes the leader as legitimate and returns to follower state."
        // A pre-candidate did not raise its term, so such a leader is of its term too.
        this.#becomeFollower(m.term, m.from);
        this.#onHeartbeat(m);
        return;
      case 'PreVote':
      case 'RequestVote':
        this.#onVoteRequest(m);
        return;
      case 'PreVoteResponse':
        // Only answers to this campaign's proposal count; a rejection with a newer term has
        // already made us a follower.
        if (this.#role !== 'pre-candidate') break;
        if (m.term !== this.#term + 1 && !(m.term === this.#term && !m.granted)) break;
        this.#votes.set(m.from, m.granted);
        this.#afterTally(this.#tally(), () => this.#becomeCandidate());
        return;
      case 'RequestVoteResponse':
        if (this.#role !== 'candidate') break;
        this.#votes.set(m.from, m.granted);
        this.#afterTally(this.#tally(), () => this.#becomeLeader());
        return;
    }
    this.stats.unexpected++;
  }

  #stepLeader(m: ElectionMessage): void {
    switch (m.type) {
      case 'HeartbeatResponse':
        this.#onHeartbeatResponse(m);
        return;
      case 'PreVote':
      case 'RequestVote':
        this.#onVoteRequest(m);
        return;
      case 'Heartbeat':
        // Two leaders in one term cannot happen among correct voters; a broken peer is ignored.
        this.stats.conflictingLeader++;
        return;
      default:
        this.stats.unexpected++;
    }
  }

  // ---------------------------------------------------------------- handlers

  #onHeartbeat(m: Heartbeat): void {
    if (this.#leader !== null && this.#leader !== m.from) this.stats.conflictingLeader++;
    this.#setLeader(m.from);
    // The lease promise: no vote, pre-vote or campaign for a minimum timeout from now.
    this.#voteGuardUntil = voteGuardUntil(this.#now, this.config.electionTimeoutMinMs);
    this.#resetElectionTimer();
    this.#send(this.#heartbeatResponse(m, true));
  }

  #onHeartbeatResponse(m: HeartbeatResponse): void {
    const i = this.#index.get(m.from)!;
    this.#lastActive[i] = this.#now;
    this.#updateContact();
    // A round of this leadership, not from the future: anything else is stale or forged.
    if (!m.ok || m.sentAt < this.#leaderSince || m.sentAt > this.#now) {
      this.stats.unexpected++;
      return;
    }
    const prev = this.#acked[i];
    if (prev === undefined || m.sentAt > prev) {
      this.#acked[i] = m.sentAt;
      this.#updateLease();
    }
  }

  /** RequestVote and PreVote, from any role; `m.term >= this.term`. */
  #onVoteRequest(m: ElectionMessage & { type: 'RequestVote' | 'PreVote' }): void {
    const pre = m.type === 'PreVote';
    const repeat = !pre && m.term === this.#term && this.#vote === m.from;
    // The lease promise (lease.ts) comes first; re-granting our own vote changes nothing.
    if (this.#inLease(this.#now) && !repeat) {
      this.stats.inLease++;
      this.#reply(m, false);
      return;
    }
    if (pre) {
      // Would we vote for a campaign in m.term? Only if it is newer than ours.
      this.#reply(m, m.term > this.#term);
      return;
    }
    // §5.2: "each server will vote for at most one candidate in a given term".
    if (this.#vote !== null && this.#vote !== m.from) {
      this.#reply(m, false);
      return;
    }
    this.#vote = m.from;
    // Figure 2: granting a vote restarts the election timer.
    this.#resetElectionTimer();
    this.#reply(m, true);
  }

  #reply(m: ElectionMessage & { type: 'RequestVote' | 'PreVote' }, granted: boolean): void {
    // A granted pre-vote echoes the proposed term; anything else carries ours.
    const term = granted && m.type === 'PreVote' ? m.term : this.#term;
    const type = m.type === 'PreVote' ? 'PreVoteResponse' : 'RequestVoteResponse';
    this.#send({ type, from: this.id, to: m.from, term, voterSet: this.voterSet, granted });
  }

  #heartbeatResponse(m: Heartbeat, ok: boolean): HeartbeatResponse {
    return {
      type: 'HeartbeatResponse',
      from: this.id,
      to: m.from,
      term: this.#term,
      voterSet: this.voterSet,
      sentAt: m.sentAt,
      ok,
    };
  }

  // ---------------------------------------------------------------- helpers

  #tally(): 'won' | 'lost' | 'pending' {
    let granted = 0;
    let rejected = 0;
    for (const g of this.#votes.values()) {
      if (g) granted++;
      else rejected++;
    }
    if (granted >= this.quorum) return 'won';
    if (rejected > this.voters.length - this.quorum) return 'lost';
    return 'pending';
  }

  #afterTally(result: 'won' | 'lost' | 'pending', win: () => void): void {
    if (result === 'won') win();
    else if (result === 'lost') this.#becomeFollower(this.#term, null);
  }

  #inLease(now: number): boolean {
    return this.#role === 'leader' || now < this.#voteGuardUntil;
  }

  /** The leader is always in contact with itself (its entry stays empty), so it needs `quorum - 1` others. */
  #updateContact(): void {
    this.#contactAt = this.quorum === 1 ? undefined : quorumTime(this.#lastActive, this.quorum - 1);
  }

  #updateLease(): void {
    this.#leaseStart = quorumTime(this.#acked, this.quorum);
  }

  #clearLeaderState(): void {
    this.#acked.fill(undefined);
    this.#lastActive.fill(undefined);
    this.#leaseStart = undefined;
    this.#contactAt = undefined;
    this.#votes.clear();
  }

  #resetElectionTimer(): void {
    const { electionTimeoutMinMs: min, electionTimeoutMaxMs: max } = this.config;
    // §5.2: "election timeouts are chosen randomly from a fixed interval (e.g., 150-300ms)".
    this.#electionDeadline = this.#now + min + this.#rng.next() * (max - min);
  }

  #send(m: ElectionMessage): void {
    this.#messages.push(m);
  }

  #readClock(): number {
    const now = this.#clock.now();
    if (!(now >= this.#now)) {
      throw new ElectionError('clock-regressed', `${this.id}: clock went from ${this.#now} to ${now}`);
    }
    this.#now = now;
    return now;
  }
}
