/**
 * One seeded simulation run, TigerBeetle style: settings drawn at random per seed ("swarm"),
 * a safety phase with faults (loss, delay, duplication, reordering, partitions, clogged links,
 * crashes, restarts, slow nodes, clock drift), then a liveness phase that heals a majority and
 * requires a leader they all follow, holding a lease, within a bound.
 */
import { quorum } from '../../../src/cluster/election/config.ts';
import { SimElectionCluster, type SimElectionNode } from '../../../src/cluster/election/simulation.ts';
import type { NetworkOptions } from '../../../src/sim/network.ts';
import { Prng } from '../../../src/sim/prng.ts';
import { Scheduler } from '../../../src/sim/scheduler.ts';

/** What one run did. */
export interface ScenarioResult {
  readonly seed: number;
  readonly voters: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly driftRate: number;
  readonly faults: number;
  readonly events: number;
  readonly leasesGranted: number;
  readonly maxTerm: number;
  /** Virtual ms from healing a majority to a leader they all follow. */
  readonly recoveryMs: number;
}

/** Bounds of a run. */
export interface ScenarioOptions {
  /** Voter count; drawn from 3, 5, 7 when absent. */
  readonly voters?: number;
  /** Length of the faulty phase, virtual ms. */
  readonly faultPhaseMs: number;
  /** A healed majority must agree on a leader within this, virtual ms. */
  readonly livenessBoundMs: number;
  /** Breaks an assumption of the core, to show the checker catches the damage: restarted nodes lose their persisted term and vote. */
  readonly breakAssumption?: 'amnesia';
}

export const defaultScenario: ScenarioOptions = { faultPhaseMs: 3_000, livenessBoundMs: 3_000 };

/** Runs one seed; throws (with the seed in the message) on a broken invariant or liveness. */
export function runScenario(seed: number, options: ScenarioOptions = defaultScenario): ScenarioResult {
  const rng = new Prng(seed);
  const voters = options.voters ?? rng.pick([3, 5, 7]);
  const preVote = rng.chance(0.8);
  const checkQuorum = rng.chance(0.8);
  // The configured drift bound, and clocks that use all of it.
  const driftRate = rng.pick([0, 0.001, 0.01, 0.05, 0.1]);
  const delayMin = rng.range(0, 5);
  const network: NetworkOptions = {
    delayMs: { min: delayMin, max: delayMin + rng.range(1, 30) },
    loss: rng.pick([0, 0.01, 0.05, 0.1, 0.3]),
    duplicate: rng.pick([0, 0.01, 0.1]),
    reorder: rng.pick([0, 0.05, 0.2]),
  };
  const scheduler = new Scheduler(0);
  const cluster = new SimElectionCluster(scheduler, {
    voters,
    seed: rng.nextU32(),
    config: { preVote, checkQuorum, maxClockDriftRate: driftRate },
    network,
    driftRate,
    amnesia: options.breakAssumption === 'amnesia',
  });
  const net = cluster.network;
  const clogs: [string, string][] = [];
  let faults = 0;
  try {
    for (const n of cluster.nodes) n.start();

    // Safety phase: a fault every 0-200 ms.
    const pickNode = (pred: (n: SimElectionNode) => boolean): SimElectionNode | undefined => {
      const c = cluster.nodes.filter(pred);
      return c.length === 0 ? undefined : rng.pick(c);
    };
    for (let t = rng.range(0, 200); t < options.faultPhaseMs; t += rng.range(0, 200)) {
      cluster.runUntil(t);
      faults++;
      const r = rng.next();
      // Faults aimed at the leader half of the time: they are the ones that move leases.
      const leader = cluster.nodes.find((n) => n.core?.role === 'leader');
      const target = leader !== undefined && rng.chance(0.5) ? leader : undefined;
      if (r < 0.12) {
        (target ?? pickNode((n) => n.alive))?.crash();
      } else if (r < 0.3) {
        pickNode((n) => !n.alive)?.start();
      } else if (r < 0.42) {
        const ids = rng.shuffle([...cluster.ids]);
        const cut = 1 + rng.int(ids.length - 1);
        net.partition(ids.slice(0, cut), ids.slice(cut));
      } else if (r < 0.55) {
        net.heal();
      } else if (r < 0.62) {
        net.isolate(target?.id ?? rng.pick(cluster.ids));
      } else if (r < 0.7) {
        const from = rng.pick(cluster.ids);
        const to = rng.pick(cluster.ids.filter((id) => id !== from));
        const on = clogs.length === 0 || rng.chance(0.6);
        if (on) clogs.push([from, to]);
        const [f, tt] = on ? [from, to] : clogs.splice(rng.int(clogs.length), 1)[0]!;
        net.clog(f, tt, on);
      } else if (r < 0.8) {
        // A slow node: a stalled event loop (its clock keeps running).
        scheduler.pause(target?.id ?? rng.pick(cluster.ids), scheduler.now() + rng.range(10, 300));
      } else if (r < 0.92) {
        const n = target ?? pickNode((x) => x.alive);
        if (n !== undefined) {
          n.clock.setRate(cluster.randomRate());
          n.reschedule();
        }
      } else {
        net.configure({ loss: rng.pick([0, 0.05, 0.2, 0.5]), reorder: rng.pick([0, 0.2]) });
      }
    }
    cluster.runUntil(options.faultPhaseMs);

    // Liveness phase: a majority (or more) restarted, connected and on a clean network; the
    // rest stays crashed or cut off.
    const size = quorum(voters) + rng.int(voters - quorum(voters) + 1);
    const members = rng.shuffle([...cluster.nodes]).slice(0, size);
    const memberIds = members.map((m) => m.id);
    for (const m of members) if (!m.alive) m.start();
    net.heal();
    for (const [f, t] of clogs) net.clog(f, t, false);
    net.partition(
      memberIds,
      cluster.ids.filter((id) => !memberIds.includes(id)),
    );
    net.configure({ loss: 0, reorder: 0 });
    const healedAt = scheduler.now();
    const ok = cluster.runUntil(
      healedAt + options.livenessBoundMs,
      () => cluster.agreedLeader(members) !== undefined,
    );
    if (!ok) {
      const states = cluster.nodes
        .map((n) =>
          n.core === undefined ? `${n.id}:down` : `${n.id}:${n.core.role}/t${n.core.term}/l=${n.core.leader}`,
        )
        .join(' ');
      throw new Error(
        `liveness: no leader followed by ${memberIds.join(',')} within ${options.livenessBoundMs} ms of healing (${states})`,
      );
    }
    let maxTerm = 0;
    for (const n of cluster.nodes) maxTerm = Math.max(maxTerm, n.storage.loadSync().term);
    return {
      seed,
      voters,
      preVote,
      checkQuorum,
      driftRate,
      faults,
      events: scheduler.executed,
      leasesGranted: cluster.checker.leasesGranted,
      maxTerm,
      recoveryMs: scheduler.now() - healedAt,
    };
  } catch (err) {
    const how = `voters=${voters} preVote=${preVote} checkQuorum=${checkQuorum} drift=${driftRate} net=${JSON.stringify(network)}`;
    if (err instanceof Error) {
      err.message = `[sim seed=${seed}; replay with SIM_SEED=${seed}] ${err.message} (${how})`;
    }
    throw err;
  }
}
