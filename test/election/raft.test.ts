/**
 * The election core against the sentences of the Raft paper (Ongaro & Ousterhout, "In Search
 * of an Understandable Consensus Algorithm", §5.1-5.2, Figure 2) and of Ongaro's thesis (§6.2
 * check-quorum, §6.4.1 leases, §9.6 pre-vote) that it implements.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ElectionError } from '../../src/cluster/election/errors.ts';
import type { ElectionMessage } from '../../src/cluster/election/messages.ts';
import { RaftElection } from '../../src/cluster/election/raft.ts';
import { Prng } from '../../src/sim/prng.ts';
import { fire, testNode } from './support/node.ts';

const E = 150; // default electionTimeoutMinMs
const BOOT = 1_000; // testNode's clock at construction

function types(msgs: readonly ElectionMessage[]): string[] {
  return msgs.map((m) => `${m.type}->${m.to}@${m.term}${'granted' in m ? (m.granted ? '+' : '-') : ''}`);
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ElectionError) return err.code;
    throw err;
  }
  return 'no error';
}

/** Makes `t` leader of term 1 in a 3-voter cluster with pre-vote. */
function elect(t: ReturnType<typeof testNode>): void {
  fire(t); // pre-vote
  t.node.step(t.msg('PreVoteResponse', 'b', 1, { granted: true }));
  t.take();
  t.node.step(t.msg('RequestVoteResponse', 'b', 1, { granted: true }));
  t.take();
  expect(t.node.role).toBe('leader');
}

describe('§5.2 leader election', () => {
  it('"A server remains in follower state as long as it receives valid RPCs from a leader"', () => {
    const t = testNode();
    for (let ms = BOOT; ms < BOOT + 2_000; ms += 100) {
      t.at(ms);
      t.node.step(t.msg('Heartbeat', 'b', 1, { sentAt: 0 }));
      t.node.tick();
      expect(t.node.role).toBe('follower');
      expect(t.node.leader).toBe('b');
    }
  });

  it('"If a follower receives no communication over ... the election timeout ... it begins an election"', () => {
    const t = testNode({ config: { preVote: false } });
    const rd = fire(t);
    expect(t.node.role).toBe('candidate');
    // "a follower increments its current term ... votes for itself and issues RequestVote RPCs
    // in parallel to each of the other servers"
    expect(t.node.term).toBe(1);
    expect(t.node.vote).toBe('a');
    expect(rd.hardState).toEqual({ term: 1, vote: 'a' });
    expect(types(rd.messages)).toEqual(['RequestVote->b@1', 'RequestVote->c@1']);
  });

  it('"election timeouts are chosen randomly from a fixed interval (e.g., 150-300ms)"', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 20 }), (seed, hops) => {
        const t = testNode({ seed, config: { preVote: false } });
        for (let i = 0; i < hops; i++) fire(t); // every new campaign draws a new timeout
        const timeout = t.node.nextDeadline() - t.clock.t;
        return timeout >= 150 && timeout < 300;
      }),
    );
    // and they differ between nodes
    const deadlines = new Set([1, 2, 3, 4, 5].map((seed) => testNode({ seed }).node.nextDeadline()));
    expect(deadlines.size).toBe(5);
  });

  it('"each server will vote for at most one candidate in a given term, on a first-come-first-served basis"', () => {
    const t = testNode().at(BOOT + E);
    t.node.step(t.msg('RequestVote', 'b', 1));
    const first = t.take();
    t.node.step(t.msg('RequestVote', 'c', 1));
    const second = t.take();
    expect(types(first.messages)).toEqual(['RequestVoteResponse->b@1+']);
    expect(types(second.messages)).toEqual(['RequestVoteResponse->c@1-']);
    expect(t.node.vote).toBe('b');
  });

  it('Figure 2: the vote is handed out for persistence in the same Ready as the grant', () => {
    const t = testNode().at(BOOT + E);
    t.node.step(t.msg('RequestVote', 'b', 4));
    const rd = t.take();
    expect(rd.hardState).toEqual({ term: 4, vote: 'b' });
    expect(types(rd.messages)).toEqual(['RequestVoteResponse->b@4+']);
  });

  it('a restarted node remembers its vote: it never votes twice in a term', () => {
    const t = testNode().at(BOOT + E);
    t.node.step(t.msg('RequestVote', 'b', 3));
    const hs = t.take().hardState!;
    const again = testNode({ hardState: hs, startMs: 5_000 }).at(5_000 + E);
    again.node.step(again.msg('RequestVote', 'c', 3));
    expect(types(again.take().messages)).toEqual(['RequestVoteResponse->c@3-']);
    again.node.step(again.msg('RequestVote', 'b', 3));
    expect(types(again.take().messages)).toEqual(['RequestVoteResponse->b@3+']);
  });

  it('"A candidate wins an election if it receives votes from a majority of the servers in the full cluster"', () => {
    const t = testNode({ voters: ['a', 'b', 'c', 'd', 'e'], config: { preVote: false } });
    fire(t);
    t.node.step(t.msg('RequestVoteResponse', 'b', 1, { granted: true }));
    expect(t.node.role).toBe('candidate'); // 2 of 5
    t.node.step(t.msg('RequestVoteResponse', 'b', 1, { granted: true }));
    expect(t.node.role).toBe('candidate'); // a duplicate counts once
    t.node.step(t.msg('RequestVoteResponse', 'c', 1, { granted: true }));
    expect(t.node.role).toBe('leader'); // 3 of 5
    // "It then sends heartbeat messages to all of the other servers to establish its authority"
    const rd = t.take();
    expect(rd.events).toContainEqual({ type: 'leader-changed', term: 1, leader: 'a' });
    expect(types(rd.messages)).toEqual([
      'Heartbeat->b@1',
      'Heartbeat->c@1',
      'Heartbeat->d@1',
      'Heartbeat->e@1',
    ]);
  });

  it('a candidate refused by a majority goes back to follower in the same term', () => {
    const t = testNode({ voters: ['a', 'b', 'c', 'd', 'e'], config: { preVote: false } });
    fire(t);
    for (const v of ['b', 'c']) t.node.step(t.msg('RequestVoteResponse', v, 1, { granted: false }));
    expect(t.node.role).toBe('candidate');
    t.node.step(t.msg('RequestVoteResponse', 'd', 1, { granted: false }));
    expect(t.node.role).toBe('follower');
    expect(t.node.term).toBe(1);
  });

  it('"If the leader\'s term is at least as large as the candidate\'s current term, then the candidate ... returns to follower state"', () => {
    const t = testNode({ config: { preVote: false } });
    fire(t);
    t.node.step(t.msg('Heartbeat', 'b', 1, { sentAt: 5 }));
    expect(t.node.role).toBe('follower');
    expect(t.node.leader).toBe('b');
    expect(types(t.take().messages)).toContain('HeartbeatResponse->b@1');
  });

  it('"If the term in the RPC is smaller than the candidate\'s current term, then the candidate rejects the RPC"', () => {
    const t = testNode({ config: { preVote: false } });
    fire(t);
    fire(t); // term 2
    t.take();
    t.node.step(t.msg('Heartbeat', 'b', 1, { sentAt: 5 }));
    expect(t.node.role).toBe('candidate');
    const rd = t.take();
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'HeartbeatResponse', term: 2, ok: false })]);
  });

  it('"If a candidate or leader discovers that its term is out of date, it immediately reverts to follower state" (§5.1)', () => {
    const t = testNode();
    elect(t);
    t.node.step(t.msg('HeartbeatResponse', 'b', 7, { sentAt: t.clock.t, ok: false }));
    expect(t.node.role).toBe('follower');
    expect(t.node.term).toBe(7);
    expect(t.node.vote).toBeNull();
    expect(t.take().hardState).toEqual({ term: 7, vote: null });
  });

  it('a lone voter elects itself', () => {
    const t = testNode({ voters: ['a'] });
    fire(t);
    expect(t.node.role).toBe('leader');
    expect(t.node.fencingToken()).toBe(1);
  });
});

describe('§5.4.1 the election restriction', () => {
  it('is not needed without a log: RequestVote carries no log position and any voter may win', () => {
    const t = testNode({ config: { preVote: false } });
    const rd = fire(t);
    expect(Object.keys(rd.messages[0]!).sort()).toEqual(['from', 'term', 'to', 'type', 'voterSet']);
    // A voter that missed many terms catches up on the term, then can win like any other.
    const late = testNode();
    fire(late);
    late.node.step(late.msg('PreVoteResponse', 'b', 9, { granted: false }));
    expect(late.node.term).toBe(9);
    fire(late);
    late.node.step(late.msg('PreVoteResponse', 'b', 10, { granted: true }));
    late.node.step(late.msg('RequestVoteResponse', 'b', 10, { granted: true }));
    expect(late.node.role).toBe('leader');
  });
});

describe('§9.6 pre-vote', () => {
  it('"a candidate would first ask other servers whether its log was up-to-date enough to get their vote"', () => {
    const t = testNode();
    const rd = fire(t);
    expect(t.node.role).toBe('pre-candidate');
    // Nothing durable changes: the term is raised only on winning the pre-vote.
    expect(t.node.term).toBe(0);
    expect(rd.hardState).toBeUndefined();
    expect(types(rd.messages)).toEqual(['PreVote->b@1', 'PreVote->c@1']);
    t.node.step(t.msg('PreVoteResponse', 'b', 1, { granted: true }));
    expect(t.node.role).toBe('candidate');
    expect(t.node.term).toBe(1);
  });

  it('a node cut off from the cluster keeps its term however often it times out', () => {
    const t = testNode();
    for (let i = 0; i < 50; i++) fire(t);
    expect(t.node.role).toBe('pre-candidate');
    expect(t.node.term).toBe(0);
  });

  it('granting a pre-vote changes neither term nor vote', () => {
    const t = testNode().at(BOOT + E);
    t.node.step(t.msg('PreVote', 'b', 5));
    const rd = t.take();
    expect(types(rd.messages)).toEqual(['PreVoteResponse->b@5+']);
    expect(rd.hardState).toBeUndefined();
    expect(t.node.term).toBe(0);
    // pre-votes are not votes: another candidate may get one too
    t.node.step(t.msg('PreVote', 'c', 5));
    expect(types(t.take().messages)).toEqual(['PreVoteResponse->c@5+']);
  });

  it('a pre-vote for a term that is not newer is refused', () => {
    const t = testNode({ hardState: { term: 5, vote: null } }).at(BOOT + E);
    t.node.step(t.msg('PreVote', 'b', 5));
    expect(types(t.take().messages)).toEqual(['PreVoteResponse->b@5-']);
  });

  it('a pre-vote refused with a newer term makes the pre-candidate a follower of that term', () => {
    const t = testNode();
    fire(t);
    t.node.step(t.msg('PreVoteResponse', 'b', 4, { granted: false }));
    expect(t.node.role).toBe('follower');
    expect(t.node.term).toBe(4);
  });

  it('a majority of refusals ends the pre-campaign', () => {
    const t = testNode();
    fire(t);
    t.node.step(t.msg('PreVoteResponse', 'b', 0, { granted: false }));
    t.node.step(t.msg('PreVoteResponse', 'c', 0, { granted: false }));
    expect(t.node.role).toBe('follower');
    expect(t.node.term).toBe(0);
  });
});

describe('§6.4.1 leases and fencing tokens', () => {
  it('the lease starts at the send time of the round a majority answered and lasts E(1-ρ)/(1+ρ)', () => {
    const t = testNode();
    elect(t);
    const sent = t.clock.t;
    // Elected, but no round answered yet.
    expect(t.node.hasLease()).toBe(false);
    expect(code(() => t.node.fencingToken())).toBe('no-lease');
    t.at(sent + 20);
    t.node.step(t.msg('HeartbeatResponse', 'c', 1, { sentAt: sent, ok: true }));
    expect(t.node.leaseMs).toBeCloseTo((E * 0.99) / 1.01, 9);
    expect(t.node.leaseExpiresAt()).toBeCloseTo(sent + t.node.leaseMs, 9);
    expect(t.node.fencingToken()).toBe(1);
    t.at(sent + t.node.leaseMs - 0.001);
    expect(t.node.hasLease()).toBe(true);
    t.at(sent + t.node.leaseMs);
    expect(t.node.hasLease()).toBe(false);
  });

  it('the lease needs the term to be durable: no lease before advance()', () => {
    const t = testNode({ voters: ['a'] });
    t.at(t.node.nextDeadline());
    t.node.tick();
    expect(t.node.role).toBe('leader');
    expect(t.node.hasLease()).toBe(false);
    t.node.ready(); // the driver writes it ...
    expect(t.node.hasLease()).toBe(false);
    t.node.advance(); // ... and confirms
    expect(t.node.hasLease()).toBe(true);
  });

  it('only a leader has a token; tokens grow with every leadership', () => {
    const t = testNode();
    expect(code(() => t.node.fencingToken())).toBe('not-leader');
    const tokens: number[] = [];
    for (let i = 0; i < 3; i++) {
      fire(t);
      const term = t.node.term + 1;
      t.node.step(t.msg('PreVoteResponse', 'b', term, { granted: true }));
      t.node.step(t.msg('RequestVoteResponse', 'b', term, { granted: true }));
      t.take();
      t.node.step(t.msg('HeartbeatResponse', 'b', term, { sentAt: t.clock.t, ok: true }));
      tokens.push(t.node.fencingToken());
      // deposed by a newer term
      t.node.step(t.msg('HeartbeatResponse', 'c', term + 1, { sentAt: t.clock.t, ok: false }));
      t.take();
      t.at(t.clock.t + 1_000);
    }
    expect(tokens).toEqual([1, 3, 5]);
  });

  it('a follower that heard from a leader within E ignores vote requests and keeps its term', () => {
    const t = testNode().at(BOOT + E);
    t.node.step(t.msg('Heartbeat', 'b', 1, { sentAt: 0 }));
    t.take();
    t.at(BOOT + E + E - 1);
    t.node.step(t.msg('RequestVote', 'c', 2));
    t.node.step(t.msg('PreVote', 'c', 2));
    expect(t.take().messages).toEqual([]);
    expect(t.node.term).toBe(1);
    expect(t.node.stats.inLease).toBe(2);
    t.at(BOOT + E + E);
    t.node.step(t.msg('RequestVote', 'c', 2));
    expect(types(t.take().messages)).toEqual(['RequestVoteResponse->c@2+']);
  });

  it('a node that just started keeps silent for E: it may have promised a leader before a restart', () => {
    const t = testNode();
    t.node.step(t.msg('RequestVote', 'b', 1));
    expect(t.take().messages).toEqual([]);
    expect(t.node.term).toBe(0);
    t.at(BOOT + E);
    t.node.step(t.msg('RequestVote', 'b', 1));
    expect(types(t.take().messages)).toEqual(['RequestVoteResponse->b@1+']);
  });

  it('a leader ignores vote requests of newer terms while it leads', () => {
    const t = testNode();
    elect(t);
    t.node.step(t.msg('RequestVote', 'c', 9));
    expect(t.node.role).toBe('leader');
    expect(t.node.term).toBe(1);
  });

  it('answers from a round outside this leadership do not extend the lease', () => {
    const t = testNode();
    elect(t);
    const since = t.clock.t;
    t.node.step(t.msg('HeartbeatResponse', 'b', 1, { sentAt: since - 1, ok: true }));
    t.node.step(t.msg('HeartbeatResponse', 'c', 1, { sentAt: since + 10_000, ok: true }));
    expect(t.node.hasLease()).toBe(false);
  });
});

describe('§6.2 check-quorum', () => {
  it('a leader that has not heard from a majority within E steps down', () => {
    const t = testNode({ voters: ['a', 'b', 'c', 'd', 'e'], config: { preVote: false } });
    fire(t);
    for (const v of ['b', 'c']) t.node.step(t.msg('RequestVoteResponse', v, 1, { granted: true }));
    t.take();
    const since = t.clock.t;
    // b answers every round, c stops: b + a is not a majority of 5.
    for (let ms = since; ms < since + 2 * E; ms += 10) {
      t.at(ms);
      t.node.step(t.msg('HeartbeatResponse', 'b', 1, { sentAt: since, ok: true }));
      t.node.tick();
    }
    expect(t.node.role).toBe('follower');
    expect(t.node.term).toBe(1);
    expect(t.take().events).toContainEqual({ type: 'leader-changed', term: 1, leader: null });
  });

  it('a leader in touch with a majority stays', () => {
    const t = testNode({ voters: ['a', 'b', 'c', 'd', 'e'], config: { preVote: false } });
    fire(t);
    for (const v of ['b', 'c']) t.node.step(t.msg('RequestVoteResponse', v, 1, { granted: true }));
    const since = t.clock.t;
    for (let ms = since; ms < since + 10 * E; ms += 10) {
      t.at(ms);
      for (const v of ['b', 'c']) t.node.step(t.msg('HeartbeatResponse', v, 1, { sentAt: ms, ok: true }));
      t.node.tick();
    }
    expect(t.node.role).toBe('leader');
    expect(t.node.hasLease()).toBe(true);
  });

  it('without check-quorum an isolated leader stays leader but loses its lease', () => {
    const t = testNode({ config: { checkQuorum: false } });
    elect(t);
    t.at(t.clock.t + 10 * E);
    t.node.tick();
    expect(t.node.role).toBe('leader');
    expect(t.node.hasLease()).toBe(false);
  });

  it('the next deadline of a leader is its next round or its check-quorum deadline', () => {
    const t = testNode();
    elect(t);
    expect(t.node.nextDeadline()).toBe(t.clock.t + 50);
  });
});

describe('inputs the core refuses', () => {
  it('rejects messages it must not act on with a stable code, and stays as it was', () => {
    const t = testNode().at(BOOT + E);
    const before = t.node.status();
    const base = t.msg('RequestVote', 'b', 3);
    expect(code(() => t.node.step({ ...base, to: 'b' }))).toBe('invalid-message');
    expect(code(() => t.node.step({ ...base, from: 'a' }))).toBe('invalid-message');
    expect(code(() => t.node.step({ ...base, from: 'z' }))).toBe('invalid-message');
    expect(code(() => t.node.step({ ...base, voterSet: base.voterSet + 1 }))).toBe('config-mismatch');
    expect(t.node.status()).toEqual(before);
    expect(t.node.hasReady()).toBe(false);
  });

  it('throws clock-regressed when the clock goes back', () => {
    const t = testNode();
    t.clock.t -= 1;
    expect(code(() => t.node.tick())).toBe('clock-regressed');
  });

  it('refuses voter changes with code unsupported', () => {
    const t = testNode();
    expect(code(() => t.node.changeVoters(['a', 'b', 'c', 'd']))).toBe('unsupported');
  });

  it('refuses unsafe configurations', () => {
    const clock = { now: (): number => 0 };
    const rng = new Prng(1);
    const make = (o: Partial<ConstructorParameters<typeof RaftElection>[0]>) => () =>
      new RaftElection({ id: 'a', voters: ['a', 'b', 'c'], clock, rng, ...o });
    expect(code(make({ voters: ['b', 'c'] }))).toBe('invalid-config');
    expect(code(make({ voters: ['a', 'a', 'b'] }))).toBe('invalid-config');
    expect(code(make({ config: { heartbeatIntervalMs: 150 } }))).toBe('invalid-config');
    expect(code(make({ config: { electionTimeoutMaxMs: 150 } }))).toBe('invalid-config');
    expect(code(make({ config: { maxClockDriftRate: 0.9 } }))).toBe('invalid-config');
    expect(code(make({ hardState: { term: 2, vote: 'z' } }))).toBe('invalid-config');
  });
});

describe('Ready', () => {
  it('hands out each change once and reports role and leader changes as events', () => {
    const t = testNode({ config: { preVote: false } });
    const rd = fire(t);
    expect(rd.events).toEqual([{ type: 'role-changed', term: 1, role: 'candidate' }]);
    expect(t.node.hasReady()).toBe(false);
    expect(t.node.ready()).toEqual({ messages: [], events: [] });
    t.node.step(t.msg('RequestVoteResponse', 'b', 1, { granted: true }));
    expect(t.take().events).toEqual([
      { type: 'role-changed', term: 1, role: 'leader' },
      { type: 'leader-changed', term: 1, leader: 'a' },
    ]);
  });
});
