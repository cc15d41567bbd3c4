/**
 * Leader election: time to elect a new leader after the leader crashes, and messages per
 * election, in the deterministic simulator (virtual time, so the figures do not depend on this
 * machine's load). The method follows Figure 16 of the Raft paper: the leader is crashed at a
 * uniformly random moment within its heartbeat interval, and the time runs from the crash to
 * the moment a new node becomes leader. There is no BEAM equivalent (OTP has no Raft);
 * `raft-prevote-off` is the same core without pre-vote, the baseline is `raft`.
 *
 * Network: one-way delay uniform in 1-8 ms (a broadcast of about 15 ms, as the paper reports
 * for its cluster), no loss; clocks drift within the configured 1% bound. Every event of every
 * trial runs under the invariant checker; `violations` counts what it found.
 *
 * `npm run bench -- election [--trials N] [--seed N]`.
 */
import { quorum } from '../src/cluster/election/config.ts';
import { SimElectionCluster } from '../src/cluster/election/simulation.ts';
import { Prng } from '../src/sim/prng.ts';
import { seedFromArgs } from '../src/sim/replay.ts';
import { Scheduler } from '../src/sim/scheduler.ts';
import { type ResultRow, writeResults } from './support/results.ts';

const TIMEOUT = { min: 150, max: 300 };
const HEARTBEAT_MS = 50;
/** The Raft paper's worst case over 1,000 trials with 150-300 ms timeouts (Figure 16). */
const PAPER_WORST_MS = 513;

interface Trial {
  readonly electMs: number;
  readonly messages: number;
  readonly violations: number;
}

function runTrial(seed: number, voters: number, preVote: boolean): Trial {
  const rng = new Prng(seed);
  const scheduler = new Scheduler(0);
  const cluster = new SimElectionCluster(scheduler, {
    voters,
    seed: rng.nextU32(),
    config: {
      electionTimeoutMinMs: TIMEOUT.min,
      electionTimeoutMaxMs: TIMEOUT.max,
      heartbeatIntervalMs: HEARTBEAT_MS,
      preVote,
    },
    network: { delayMs: { min: 1, max: 8 }, loss: 0, duplicate: 0, reorder: 0 },
    driftRate: 0.01,
    failFast: false,
  });
  for (const n of cluster.nodes) n.start();
  const up = cluster.runUntil(10_000, () => cluster.agreedLeader(cluster.nodes) !== undefined);
  if (!up) throw new Error(`seed ${seed}: no first leader within 10 s`);
  // Settle, then crash the leader at a random point of its heartbeat interval.
  cluster.runUntil(scheduler.now() + 500 + rng.range(0, HEARTBEAT_MS));
  const old = cluster.nodes.find((n) => n.core?.role === 'leader');
  if (old === undefined) throw new Error(`seed ${seed}: the leader was lost before the crash`);
  const oldTerm = old.core!.term;
  old.crash();
  const crashedAt = scheduler.now();
  cluster.network.resetStats();
  let electedAt: number | undefined;
  cluster.onEvent = (node, e) => {
    if (e.type === 'role-changed' && e.role === 'leader' && e.term > oldTerm && electedAt === undefined) {
      electedAt = scheduler.now();
      void node;
    }
  };
  const elected = cluster.runUntil(crashedAt + 30_000, () => electedAt !== undefined);
  if (!elected || electedAt === undefined) throw new Error(`seed ${seed}: no new leader within 30 s`);
  if (cluster.live().length < quorum(voters)) throw new Error('not enough voters left');
  return {
    electMs: electedAt - crashedAt,
    messages: cluster.network.stats.sent,
    violations: cluster.checker.violations.length,
  };
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const raw = i < 0 ? undefined : process.argv[i + 1];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`${name} must be a positive integer`);
  return n;
}

export async function main(): Promise<void> {
  const trials = flag('--trials', 1_000);
  const baseSeed = seedFromArgs(process.argv) ?? 0x5eed;
  const rows: ResultRow[] = [];
  const started = performance.now();
  for (const voters of [3, 5, 7]) {
    const name = `voters=${voters} timeout=${TIMEOUT.min}-${TIMEOUT.max}ms`;
    for (const [impl, preVote] of [
      ['raft', true],
      ['raft-prevote-off', false],
    ] as const) {
      const results: Trial[] = [];
      for (let i = 0; i < trials; i++)
        results.push(runTrial((baseSeed + i * 0x9e3779b1) >>> 0, voters, preVote));
      const times = results.map((r) => r.electMs).sort((a, b) => a - b);
      const messages = results.reduce((a, r) => a + r.messages, 0) / results.length;
      const violations = results.reduce((a, r) => a + r.violations, 0);
      rows.push(
        { case: name, impl, metric: 'elect_p50', value: percentile(times, 0.5), unit: 'ms' },
        { case: name, impl, metric: 'elect_p99', value: percentile(times, 0.99), unit: 'ms' },
        { case: name, impl, metric: 'elect_max', value: times.at(-1)!, unit: 'ms' },
        { case: name, impl, metric: 'messages', value: messages, unit: 'msgs/election' },
        { case: name, impl, metric: 'violations', value: violations, unit: 'count' },
      );
      await Promise.resolve(); // let the event loop breathe between cases
    }
  }
  console.log(
    `${trials} trials per row in ${((performance.now() - started) / 1000).toFixed(1)} s wall time ` +
      `(virtual time; leader crashed uniformly within its ${HEARTBEAT_MS} ms heartbeat interval)`,
  );
  console.log(
    `reference: the Raft paper (Figure 16) reports a worst case of ${PAPER_WORST_MS} ms over 1,000 trials ` +
      `with ${TIMEOUT.min}-${TIMEOUT.max} ms timeouts and 5 servers; target here: elect_p99 <= 500 ms, 0 violations\n`,
  );
  writeResults('election', rows, 'raft');
}
