/**
 * SWIM in deterministic simulation: whole clusters on a lossy simulated network in virtual
 * time. Each test runs a few seeds; a failure names its seed, and `SIM_SEED=<n>` replays it.
 */
import { describe, expect, it } from 'vitest';
import { defaultLanConfig, withoutLifeguard } from '../../src/cluster/membership/config.ts';
import {
  type ObservedEvent,
  SwimSimulation,
  type TracedPacket,
} from '../../src/cluster/membership/simulation.ts';
import { suspicionTimeout } from '../../src/cluster/membership/suspicion.ts';
import { simSeeds, withSeed } from '../../src/sim/replay.ts';

const P = defaultLanConfig.probeIntervalMs;

/** Runs `body` for each seed (or just SIM_SEED), naming the seed on failure. */
function forSeeds(base: number, count: number, body: (seed: number) => void): void {
  for (const seed of simSeeds(base, count)) withSeed(seed, body);
}

/**
 * Deaths of healthy members in `members` members at 1% loss over `runMs`, the first two made slow
 * by `slowDown`, with Lifeguard on or off.
 */
function healthyMembersDeclaredDead(
  seed: number,
  lifeguard: boolean,
  members: number,
  runMs: number,
  slowDown: (sim: SwimSimulation, slow: ReadonlySet<string>) => void,
): number {
  const sim = new SwimSimulation({
    seed,
    config: lifeguard ? defaultLanConfig : withoutLifeguard(defaultLanConfig),
    network: { loss: 0.01 },
  });
  const log = record(sim);
  const ids = sim.bootstrap(members);
  const slow = new Set(ids.slice(0, 2));
  slowDown(sim, slow);
  sim.runFor(runMs);
  return log.filter((e) => e.event.type === 'dead' && !slow.has(e.event.member.id)).length;
}

function record(sim: SwimSimulation): ObservedEvent[] {
  const log: ObservedEvent[] = [];
  sim.onEvent((e) => log.push(e));
  return log;
}

describe('SWIM simulation', () => {
  it('a crashed member is detected by every live member within a bound (N=50, 1% loss)', () => {
    forSeeds(101, 2, (seed) => {
      const sim = new SwimSimulation({ seed, network: { loss: 0.01 } });
      const ids = sim.bootstrap(50);
      sim.runFor(5 * P);
      const victim = ids[7]!;
      const crashAt = sim.nowMs;
      sim.crash(victim);
      // Bound: a few periods to be probed, then the Lifeguard suspicion maximum (6 * 4 * log10(50)
      // periods), then dissemination. Confirmations make it far shorter in practice.
      const bound = 5 * P + 6 * suspicionTimeout(4, 50, P) + 10 * P;
      const ok = sim.runUntil(() => sim.allSee(victim, ['dead'], true), bound);
      expect(ok, `not all members saw ${victim} dead within ${bound} ms`).toBe(true);
      expect(sim.nowMs - crashAt).toBeLessThan(bound);
    });
  });

  it('a crash is detected by all of 100 members at 5% loss', () => {
    forSeeds(111, 1, (seed) => {
      const sim = new SwimSimulation({ seed, network: { loss: 0.05 } });
      const ids = sim.bootstrap(100);
      sim.runFor(3 * P);
      sim.crash(ids[42]!);
      const bound = 5 * P + 6 * suspicionTimeout(4, 100, P) + 10 * P;
      expect(sim.runUntil(() => sim.allSee(ids[42]!, ['dead'], true), bound)).toBe(true);
    });
  });

  it('Lifeguard cuts healthy members declared dead because of CPU-starved members at least 20x', () => {
    // Two members read their packets up to 10 s late while their timers run on time: without
    // Lifeguard their failed probes and expiring timers declare healthy members dead; with it,
    // their health score stretches their probes and lone accusations wait long enough.
    forSeeds(212, 1, (seed) => {
      const healthyDeaths = (lifeguard: boolean): number =>
        healthyMembersDeclaredDead(seed, lifeguard, 30, 100 * P, (sim, slow) => {
          for (const id of slow) sim.network.slowInbound(id, { min: 0, max: 10 * P });
        });
      const without = healthyDeaths(false);
      const withLifeguard = healthyDeaths(true);
      // Typically ~150 declarations of healthy members dead without Lifeguard, 0 or 1 with it.
      expect(without, 'the scenario should hurt plain SWIM').toBeGreaterThan(20);
      expect(withLifeguard * 20).toBeLessThanOrEqual(without);
    });
  });

  it('Lifeguard cuts healthy members declared dead because of slow members (backlog and stalls) at least 20x', () => {
    // Two CPU-starved members: every packet waits 0-1.5 s behind a backlog and their loop stalls
    // for 0.5-1.5 s at a time, timers first after each stall (the bench's slow model). Without
    // Lifeguard their probes fail and their suspicion timers expire before they read the
    // refutations, declaring healthy members dead.
    forSeeds(222, 1, (seed) => {
      const healthyDeaths = (lifeguard: boolean): number =>
        healthyMembersDeclaredDead(seed, lifeguard, 12, 150 * P, (sim, slow) => {
          for (const id of slow) {
            sim.network.slowInbound(id, { min: 0, max: 1.5 * P });
            sim.stall(
              id,
              { stallMs: { min: 0.5 * P, max: 1.5 * P }, runMs: { min: 0.25 * P, max: 2 * P } },
              150 * P,
            );
          }
        });
      const without = healthyDeaths(false);
      const withLifeguard = healthyDeaths(true);
      expect(without, 'the scenario should hurt plain SWIM').toBeGreaterThan(20);
      expect(withLifeguard * 20).toBeLessThanOrEqual(without);
    });
  });

  it('a member paused for less than the suspicion timeout refutes and is never declared dead (Lifeguard)', () => {
    forSeeds(202, 2, (seed) => {
      const sim = new SwimSimulation({ seed, network: { loss: 0.01 } });
      const log = record(sim);
      const ids = sim.bootstrap(30);
      sim.runFor(5 * P);
      const slow = ids[4]!;
      const pauseMs = Math.floor(0.5 * suspicionTimeout(4, 30, P)); // ~2.9 s: several missed probes
      for (let i = 0; i < 6; i++) {
        sim.pause(slow, pauseMs);
        sim.runFor(pauseMs + 8 * P);
      }
      const suspected = log.filter((e) => e.event.type === 'suspect' && e.event.member.id === slow);
      const refuted = log.filter((e) => e.event.type === 'refuted' && e.observer === slow);
      const dead = log.filter((e) => e.event.type === 'dead' && e.event.member.id === slow);
      expect(suspected.length, 'the pauses should have caused suspicions').toBeGreaterThan(0);
      expect(refuted.length).toBeGreaterThan(0);
      expect(dead).toEqual([]);
      expect(sim.allSee(slow, ['alive'])).toBe(true);
    });
  });

  it('a member whose probe fails tells the suspect at once, and the suspect refutes in the ack (buddy system)', () => {
    // Without this ping the suspect hears of its suspicion only from whoever next sends it a
    // packet (its next prober, often a period or more later), and a member that was slow for a
    // moment refutes after the accuser's timer (the bench's slow members, before the fix).
    forSeeds(232, 2, (seed) => {
      const sim = new SwimSimulation({ seed });
      const log = record(sim);
      const sent: TracedPacket[] = [];
      sim.onSend((p) => sent.push(p));
      const ids = sim.bootstrap(10);
      sim.runFor(3 * P);
      const slow = ids[3]!;
      for (let i = 0; i < 4; i++) {
        sim.pause(slow, 3 * P);
        sim.runFor(10 * P);
      }
      // Suspicions raised by the accuser's own failed probe, and the pings telling the suspect.
      const accusations = log.filter(
        (e) => e.event.type === 'suspect' && e.event.member.id === slow && e.observer === e.event.by,
      );
      expect(accusations.length, 'the pauses should have failed probes').toBeGreaterThan(0);
      for (const a of accusations) {
        const notice = sent.find(
          (p) =>
            p.atMs === a.event.atMs &&
            p.from === a.observer &&
            p.to === slow &&
            p.packet.body.type === 'ping' &&
            p.packet.gossip.some((g) => g.kind === 'suspect' && g.id === slow),
        );
        expect(notice, `${a.observer} tells ${slow} at ${a.event.atMs}`).toBeDefined();
        const body = notice!.packet.body as { readonly seq: number };
        // The suspect's ack to it carries a refutation (a higher incarnation) straight to the accuser.
        const ack = sent.find(
          (p) =>
            p.from === slow &&
            p.to === a.observer &&
            p.packet.body.type === 'ack' &&
            p.packet.body.seq === body.seq &&
            p.packet.gossip.some((g) => g.kind === 'alive' && g.id === slow && g.incarnation > 0),
        );
        expect(ack, `${slow} answers ${a.observer}'s notice with its refutation`).toBeDefined();
      }
      expect(log.filter((e) => e.event.type === 'dead')).toEqual([]);
    });
  });

  it('a member whose health score is raised probes every period while its probes are answered (Lifeguard, as memberlist)', () => {
    // Lifeguard stretches the period of a failing probe; memberlist's probe ticker starts the
    // next probe on time after an answered one. Stretching every period made a slow member talk
    // least exactly while it had to hear of its suspicions and spread its refutations.
    forSeeds(242, 2, (seed) => {
      const sim = new SwimSimulation({ seed });
      const ids = sim.bootstrap(6);
      sim.runFor(3 * P);
      const m = ids[0]!;
      // Paused, its probes time out before it reads their acks and nacks: its score rises.
      for (let i = 0; i < 3 && sim.node(m).swim.healthScore < 2; i++) {
        sim.pause(m, 2 * P);
        sim.runFor(2 * P + 1);
      }
      const score = sim.node(m).swim.healthScore;
      expect(score, 'the pauses should have raised the health score').toBeGreaterThanOrEqual(2);
      // Each answered probe lowers it by one: back to 0 within about `score` periods when answered
      // probes keep the base period (2 + 3 + ... periods if every period were stretched).
      const ok = sim.runUntil(() => sim.node(m).swim.healthScore === 0, (score + 1.5) * P);
      expect(ok, `score ${score} back to 0 within ${score + 1.5} periods`).toBe(true);
    });
  });

  it('slow members (backlog and stalls shorter than the minimum suspicion timeout) are never declared dead with Lifeguard', () => {
    // The bench's slow model: every packet waits 0-1.5 s behind a backlog and the loop stalls for
    // 0.5-1.5 s at a time, so a slow member is unresponsive for at most ~3 s, below the 4 s
    // minimum suspicion timeout: any death declared is false.
    forSeeds(252, 2, (seed) => {
      const sim = new SwimSimulation({ seed, network: { loss: 0.01 } });
      const log = record(sim);
      const ids = sim.bootstrap(10);
      sim.runFor(3 * P);
      const end = sim.nowMs + 150 * P;
      for (const id of ids.slice(0, 2)) {
        sim.network.slowInbound(id, { min: 0, max: 1.5 * P });
        sim.stall(id, { stallMs: { min: 0.5 * P, max: 1.5 * P }, runMs: { min: 0.25 * P, max: 2 * P } }, end);
      }
      sim.runFor(end - sim.nowMs);
      const suspected = log.filter((e) => e.event.type === 'suspect');
      expect(suspected.length, 'the slow members should be suspected often').toBeGreaterThan(20);
      expect(log.filter((e) => e.event.type === 'dead')).toEqual([]);
    });
  });

  it('after a partition heals, push-pull makes every member see every other alive again', () => {
    forSeeds(303, 2, (seed) => {
      const sim = new SwimSimulation({ seed });
      const ids = sim.bootstrap(20);
      sim.runFor(3 * P);
      const left = ids.slice(0, 10);
      const right = ids.slice(10);
      sim.network.partition(left, right);
      // Fault phase: each side declares the other dead (and may reap it: push-pull still
      // reaches reaped members through their tombstones).
      const gone = (st: string | undefined): boolean => st === 'dead' || st === undefined;
      const split = sim.runUntil(
        () => left.every((a) => right.every((b) => gone(sim.statusOf(a, b)) && gone(sim.statusOf(b, a)))),
        // a member that missed the dead gossip learns it from a push-pull (every 30 s), only as a
        // suspicion, and waits for its own timer (up to the Lifeguard maximum)
        5 * P + 45 * P + 6 * suspicionTimeout(4, 20, P) + 10 * P,
      );
      expect(split, 'each side should declare the other dead').toBe(true);
      sim.network.heal();
      // Liveness phase: converge within a bound.
      const healed = sim.runUntil(
        () => ids.every((a) => ids.every((b) => sim.statusOf(a, b) === 'alive')),
        240 * P,
      );
      expect(healed, 'cluster did not converge after heal').toBe(true);
    });
  });

  it('a partition outlasting the reap time heals too: push-pull reaches reaped members by their tombstones', () => {
    forSeeds(313, 1, (seed) => {
      const sim = new SwimSimulation({ seed });
      const ids = sim.bootstrap(16);
      sim.runFor(3 * P);
      sim.network.partition(ids.slice(0, 8), ids.slice(8));
      sim.runFor(120 * P);
      // Everyone on the other side is forgotten by now.
      expect(sim.statusOf(ids[0]!, ids[15]!)).toBeUndefined();
      sim.network.heal();
      const healed = sim.runUntil(
        () => ids.every((a) => ids.every((b) => sim.statusOf(a, b) === 'alive')),
        400 * P,
      );
      expect(healed, 'cluster did not converge after heal').toBe(true);
    });
  });

  it('a graceful leave shows `left` at every member, never `dead`', () => {
    forSeeds(404, 2, (seed) => {
      const sim = new SwimSimulation({ seed, network: { loss: 0.01 } });
      const log = record(sim);
      const ids = sim.bootstrap(20);
      sim.runFor(3 * P);
      const leaver = ids[5]!;
      sim.leave(leaver);
      const ok = sim.runUntil(() => sim.allSee(leaver, ['left'], true), 10 * P);
      expect(ok).toBe(true);
      expect(log.filter((e) => e.event.type === 'dead' && e.event.member.id === leaver)).toEqual([]);
      // and the leaver stops once its news is out (or after its leave timeout)
      expect(sim.runUntil(() => sim.node(leaver).stopped, 10 * P)).toBe(true);
    });
  });

  it('members joining through one seed reach everyone', () => {
    forSeeds(505, 2, (seed) => {
      const sim = new SwimSimulation({ seed, network: { loss: 0.01 } });
      const ids = Array.from({ length: 30 }, (_, i) => `j${i}`);
      sim.start(ids[0]!);
      for (const id of ids.slice(1)) {
        sim.start(id, { seeds: [ids[0]!] });
        sim.runFor(100);
      }
      const ok = sim.runUntil(
        () => ids.every((a) => ids.every((b) => sim.statusOf(a, b) === 'alive')),
        60 * P,
      );
      expect(ok, 'not everyone sees everyone alive').toBe(true);
    });
  });

  it('a crashed member that restarts rejoins with a higher incarnation and is alive everywhere', () => {
    forSeeds(606, 2, (seed) => {
      const sim = new SwimSimulation({ seed });
      const ids = sim.bootstrap(10);
      sim.runFor(3 * P);
      const m = ids[3]!;
      sim.crash(m);
      expect(sim.runUntil(() => sim.allSee(m, ['dead']), 60 * P)).toBe(true);
      const deadInc = sim.node(ids[0]!).swim.member(m)!.incarnation;
      sim.restart(m, [ids[0]!], 0);
      const ok = sim.runUntil(() => sim.allSee(m, ['alive']), 30 * P);
      expect(ok).toBe(true);
      for (const id of ids) expect(sim.node(id).swim.member(m)!.incarnation).toBeGreaterThan(deadInc);
      // and it sees everyone again
      expect(ids.every((b) => sim.statusOf(m, b) === 'alive')).toBe(true);
    });
  });

  it('no member is falsely declared dead at 1% loss with Lifeguard (N=30, 300 periods)', () => {
    forSeeds(707, 1, (seed) => {
      const sim = new SwimSimulation({ seed, network: { loss: 0.01 } });
      const log = record(sim);
      sim.bootstrap(30);
      sim.runFor(300 * P);
      expect(log.filter((e) => e.event.type === 'dead')).toEqual([]);
    });
  });

  it('runs with every packet through the binary codec', () => {
    forSeeds(808, 1, (seed) => {
      const sim = new SwimSimulation({
        seed,
        codec: true,
        network: { loss: 0.02, duplicate: 0.02, reorder: 0.05 },
      });
      const ids = sim.bootstrap(8);
      sim.runFor(3 * P);
      sim.crash(ids[2]!);
      expect(sim.runUntil(() => sim.allSee(ids[2]!, ['dead'], true), 60 * P)).toBe(true);
    });
  });

  it('one seed replays one history exactly; another seed differs', () => {
    const run = (seed: number, lifeguard: boolean): string => {
      const sim = new SwimSimulation({
        seed,
        config: lifeguard ? defaultLanConfig : withoutLifeguard(defaultLanConfig),
        network: { loss: 0.05, reorder: 0.1 },
      });
      const log = record(sim);
      const ids = sim.bootstrap(12);
      sim.runFor(5 * P);
      sim.crash(ids[1]!);
      sim.pause(ids[2]!, 3 * P);
      sim.runFor(30 * P);
      return JSON.stringify(log.map((e) => [e.observer, e.event.type, e.event.member.id, e.event.atMs]));
    };
    const seed = simSeeds(909, 1)[0]!;
    expect(run(seed, true)).toBe(run(seed, true));
    expect(run(seed, true)).not.toBe(run(seed + 1, true));
  });
});
