/**
 * SWIM membership in simulation: detection time, load, dissemination and false positives,
 * Lifeguard on and off, at N = 10, 100 and 1,000 members (`npm run bench -- membership`).
 *
 * Every run is a deterministic simulation (src/sim): one base seed (`--seed N`, printed at the
 * start) derives every run's seed, so any figure can be replayed. `--n 10,100` picks sizes;
 * `--scenario slow=10` runs only the scenarios whose name contains the text.
 *
 * Lifeguard off is `withoutLifeguard(defaultLanConfig)`: plain SWIM with suspicion as
 * memberlist runs it without Lifeguard (fixed probe timeout and interval, fixed suspicion
 * timeout of 4 * max(1, log10 N) periods, no nacks, no buddy system) and without our two
 * refinements (last-chance probe, stale-news correction). Lifeguard on is the default config.
 * Both see the same seeds, so the same losses and the same slow members.
 *
 * Metrics (one probe period = probeIntervalMs = 1 s, LAN defaults):
 * - first_detection: median time from a crash to the first member suspecting the crashed one
 *   (SWIM's detection; the paper's expectation for its mean is e/(e-1) = 1.58 periods).
 *   first_detection_mean is reported beside it, with the paper's value as the `paper` impl.
 * - full_detection: median time from a crash until every live member holds it dead.
 * - load: packets sent per live member per period, every kind (ping, ack, ping-req, nack,
 *   gossip, push-pull), over the whole run including crashes and joins.
 * - spread: median time from a join until every live member knows the newcomer.
 * - false_positives: live members (not crashed, never left; slow members included) declared
 *   dead by anybody, counted once per member and incarnation, per 10,000 member-periods;
 *   false_positives_healthy counts only members that are not slow (the measure the Lifeguard
 *   paper reports as false positives at healthy members).
 * - false_suspicions: live members suspected (once per member and incarnation), per 10,000
 *   member-periods.
 * Scenarios: packet loss 0/1/5%; 1% loss with 10% slow members (see SLOW_MODEL below). Slow
 * members are never the crashed ones.
 *
 * MEMBERSHIP_TRACE=1 prints, for every false death with Lifeguard on, how it came about (see
 * traceFalseDeaths); the metrics are unchanged.
 *
 * N = 5,000 is not run: every member holds a full member table, so the simulated cluster's
 * memory grows with N^2: about 200 MB of heap at N = 1,000 measured, so about 5 GB at 5,000,
 * beyond Node's default heap limit (4.3 GB here).
 */
import { defaultLanConfig, withoutLifeguard } from '../src/cluster/membership/config.ts';
import { SwimSimulation, type TracedPacket } from '../src/cluster/membership/simulation.ts';
import { Prng } from '../src/sim/prng.ts';
import { seedFromArgs } from '../src/sim/replay.ts';
import { type StallModel, stallDutyCycle } from '../src/sim/stall.ts';
import { type ResultRow, writeResults } from './support/results.ts';
import { median } from './support/stats.ts';

const P = defaultLanConfig.probeIntervalMs;

/**
 * Slow members: CPU-starved event loops, as the Lifeguard paper's anomalous members (slow
 * message processing). Two effects, which together leave a slow member unresponsive for up to
 * 3 s: at least a probe timeout, so that the slow member's own probes and the probes of it
 * fail, and below the minimum suspicion timeout (4 s at N = 10, more at larger N), so that a
 * slow member can always answer a suspicion in time and any death declared, for it or for
 * anyone, is a false positive.
 * - A backlog: every packet it receives waits 0-1.5 s (uniform, first in first out) before it
 *   is read, while its timers run on time: its probe timers and suspicion timers expire before
 *   it reads the acks and refutations that arrived (SimNetwork.slowInbound).
 * - Stalls: its loop blocks for 0.5-1.5 s (log-uniform, from one probe timeout), runs for
 *   0.25-2 s, and blocks again (stalled ~45% of the time; src/sim/stall.ts): nothing is read,
 *   fired or sent while blocked, and at the end the expired timers fire before the packets
 *   that arrived are read.
 */
const SLOW_MODEL: StallModel = {
  stallMs: { min: defaultLanConfig.probeTimeoutMs, max: 1.5 * P },
  runMs: { min: 0.25 * P, max: 2 * P },
};
const SLOW_BACKLOG_MS = { min: 0, max: 1.5 * P };
const PAPER_FIRST_DETECTION = Math.E / (Math.E - 1);

interface Scenario {
  readonly loss: number;
  readonly slow: number;
}

interface Plan {
  readonly runs: number;
  readonly crashes: number;
  readonly crashEveryPeriods: number;
  readonly periods: number;
}

const SCENARIOS: readonly Scenario[] = [
  { loss: 0, slow: 0 },
  { loss: 0.01, slow: 0 },
  { loss: 0.05, slow: 0 },
  { loss: 0.01, slow: 0.1 },
];

/**
 * How much to simulate per case: enough crashes for a median, enough member-periods for
 * false-positive rates, within a few minutes in all. Slow members make every packet carry a
 * full load of gossip (false suspicions and their refutations, and without Lifeguard the
 * deaths), so N=1000 with slow members runs shorter.
 */
function plan(n: number, sc: Scenario): Plan {
  if (n <= 10) return { runs: 30, crashes: 1, crashEveryPeriods: 0, periods: 80 };
  if (n <= 100) return { runs: 4, crashes: 10, crashEveryPeriods: 8, periods: 110 };
  if (sc.slow > 0) return { runs: 1, crashes: 5, crashEveryPeriods: 3, periods: 25 };
  return { runs: 1, crashes: 20, crashEveryPeriods: 2, periods: 70 };
}

interface RunResult {
  firstDetections: number[];
  fullDetections: number[];
  undetected: number;
  spreads: number[];
  loadPerMember: number[];
  falsePositives: number;
  falsePositivesHealthy: number;
  falseSuspicions: number;
  memberPeriods: number;
}

function runOnce(n: number, sc: Scenario, lifeguard: boolean, seed: number, pl: Plan): RunResult {
  const config = lifeguard ? defaultLanConfig : withoutLifeguard(defaultLanConfig);
  const sim = new SwimSimulation({ seed, config, network: { loss: sc.loss } });
  const rng = new Prng(seed ^ 0x5f3759df);
  const ids = sim.bootstrap(n);
  const order = rng.shuffle([...ids]);
  const slowCount = Math.round(sc.slow * n);
  const impaired = new Set(order.slice(0, slowCount));
  const slow = impaired;
  const victims = order.slice(slowCount, slowCount + Math.min(pl.crashes, n - slowCount - 2));
  const joiner = `join-${seed}`;

  const crashedAt = new Map<string, number>();
  const firstSuspect = new Map<string, number>();
  const deadAt = new Map<string, Map<string, number>>();
  const joinedAt = new Map<string, number>();
  const falsePositives = new Set<string>();
  const falseSuspicions = new Set<string>();
  const trace =
    lifeguard && process.env.MEMBERSHIP_TRACE === '1'
      ? traceFalseDeaths(sim, (id) => crashedAt.has(id), `n=${n} ${scenarioName(sc)} seed ${seed}`)
      : undefined;
  sim.onEvent(({ observer, event }) => {
    const id = event.member.id;
    const crashed = crashedAt.has(id);
    if ((event.type === 'suspect' || event.type === 'dead') && crashed && !firstSuspect.has(id)) {
      firstSuspect.set(id, sim.nowMs);
    }
    if (event.type === 'suspect' && !crashed) falseSuspicions.add(`${id}@${event.member.incarnation}`);
    if (event.type === 'dead') {
      if (crashed) {
        const m = deadAt.get(id) ?? new Map<string, number>();
        deadAt.set(id, m);
        if (!m.has(observer)) m.set(observer, sim.nowMs);
      } else {
        falsePositives.add(`${id}@${event.member.incarnation}`);
      }
    }
    if (event.type === 'joined' && id === joiner && !joinedAt.has(observer))
      joinedAt.set(observer, sim.nowMs);
  });

  // Warm up (first probes are staggered over a period), then measure.
  sim.runFor(3 * P);
  sim.network.resetStats();
  const start = sim.nowMs;
  const end = start + pl.periods * P;

  for (const id of slow) {
    sim.network.slowInbound(id, SLOW_BACKLOG_MS);
    sim.scheduler.at(start + rng.next() * P, () => sim.stall(id, SLOW_MODEL, end));
  }
  victims.forEach((v, i) => {
    sim.scheduler.at(start + (5 + i * pl.crashEveryPeriods + rng.next()) * P, () => {
      crashedAt.set(v, sim.nowMs);
      sim.crash(v);
    });
  });
  const joinAt = start + (2 + rng.next()) * P;
  const seedMember = order[order.length - 1]!;
  sim.scheduler.at(joinAt, () => {
    sim.start(joiner, { seeds: [seedMember] });
  });

  sim.runFor(end - start);
  trace?.();

  const steady = ids.filter((id) => !crashedAt.has(id) && !victims.includes(id));
  const res: RunResult = {
    firstDetections: [],
    fullDetections: [],
    undetected: 0,
    spreads: [],
    loadPerMember: [],
    falsePositives: falsePositives.size,
    falsePositivesHealthy: [...falsePositives].filter((k) => !impaired.has(k.slice(0, k.lastIndexOf('@'))))
      .length,
    falseSuspicions: falseSuspicions.size,
    memberPeriods: steady.length * pl.periods,
  };
  for (const [v, t] of crashedAt) {
    const fs = firstSuspect.get(v);
    if (fs === undefined) {
      res.undetected++;
      continue;
    }
    res.firstDetections.push((fs - t) / P);
    const seen = deadAt.get(v) ?? new Map<string, number>();
    const times = steady.map((o) => seen.get(o));
    if (times.some((x) => x === undefined)) res.undetected++;
    else res.fullDetections.push((Math.max(...(times as number[])) - t) / P);
  }
  const spreadTimes = steady.map((o) => joinedAt.get(o));
  if (spreadTimes.every((x) => x !== undefined))
    res.spreads.push((Math.max(...(spreadTimes as number[])) - joinAt) / P);
  for (const id of steady) res.loadPerMember.push((sim.network.sentBy.get(id) ?? 0) / pl.periods);
  return res;
}

/**
 * Records one run for MEMBERSHIP_TRACE and returns the function that prints, for each live
 * member declared dead (once per member and incarnation), the story of that death, times in
 * seconds relative to it: the first suspicion of that incarnation and the members whose own
 * probe raised one, the first packet carrying a suspicion (or death) of it sent to the member
 * and the first one it read, its refutation, and the first packet carrying the refutation sent
 * to and read by the member that declared it dead.
 */
function traceFalseDeaths(sim: SwimSimulation, crashed: (id: string) => boolean, label: string): () => void {
  interface Noted {
    readonly atMs: number;
    readonly observer: string;
    readonly type: string;
    readonly id: string;
    readonly incarnation: number;
    readonly by: string | undefined;
    readonly accused: number | undefined;
  }
  const events: Noted[] = [];
  const sent: TracedPacket[] = [];
  const read: TracedPacket[] = [];
  sim.onSend((p) => {
    if (p.packet.gossip.length > 0) sent.push(p);
  });
  sim.onRead((p) => {
    if (p.packet.gossip.length > 0) read.push(p);
  });
  sim.onEvent(({ observer, event }) => {
    if (event.type !== 'suspect' && event.type !== 'dead' && event.type !== 'refuted') return;
    events.push({
      atMs: event.atMs,
      observer,
      type: event.type,
      id: event.member.id,
      incarnation: event.member.incarnation,
      by: event.type === 'suspect' ? event.by : undefined,
      accused: event.type === 'refuted' ? event.accused : undefined,
    });
  });
  return () => {
    const seen = new Set<string>();
    for (const d of events) {
      if (d.type !== 'dead' || crashed(d.id) || seen.has(`${d.id}@${d.incarnation}`)) continue;
      seen.add(`${d.id}@${d.incarnation}`);
      const { id, incarnation: inc } = d;
      const rel = (t: number | undefined): string =>
        t === undefined ? '-' : ((t - d.atMs) / 1000).toFixed(2);
      const accuses = (p: TracedPacket): boolean =>
        p.to === id && p.packet.gossip.some((g) => g.id === id && g.kind !== 'alive' && g.incarnation >= inc);
      const refutes = (p: TracedPacket): boolean =>
        p.to === d.observer &&
        p.packet.gossip.some((g) => g.id === id && g.kind === 'alive' && g.incarnation > inc);
      const suspicions = events.filter((e) => e.type === 'suspect' && e.id === id && e.incarnation === inc);
      const own = suspicions.filter((e) => e.by === e.observer).map((e) => `${e.observer}@${rel(e.atMs)}`);
      const told = sent.find(accuses);
      const refuted = events.find(
        (e) => e.type === 'refuted' && e.observer === id && (e.accused ?? -1) >= inc,
      );
      console.error(
        `trace ${label}: ${id}@${inc} declared dead by ${d.observer}; first suspected ${rel(suspicions[0]?.atMs)} ` +
          `(own probes: ${own.join(' ') || '-'}); told ${rel(told?.atMs)} by ${told?.from ?? '-'} (${told?.packet.body.type ?? '-'}), ` +
          `read ${rel(read.find(accuses)?.atMs)}; refuted ${rel(refuted?.atMs)}; refutation sent to ${d.observer} ` +
          `${rel(sent.find(refutes)?.atMs)}, read ${rel(read.find(refutes)?.atMs)}`,
      );
    }
  };
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

function scenarioName(sc: Scenario): string {
  return `loss=${pct(sc.loss)} slow=${pct(sc.slow)}`;
}

function caseName(n: number, sc: Scenario, lifeguard: boolean): string {
  return `n=${n} ${scenarioName(sc)} lifeguard=${lifeguard ? 'on' : 'off'}`;
}

function parseSizes(argv: readonly string[]): number[] {
  const i = argv.indexOf('--n');
  if (i < 0) return [10, 100, 1000];
  return (argv[i + 1] ?? '')
    .split(',')
    .map(Number)
    .filter((x) => Number.isInteger(x) && x >= 4);
}

interface Summary {
  readonly n: number;
  readonly sc: Scenario;
  readonly lifeguard: boolean;
  readonly firstMedian: number;
  readonly firstMean: number;
  readonly fullMedian: number;
  readonly load: number;
  readonly loadMin: number;
  readonly loadMax: number;
  readonly spread: number;
  readonly fp: number;
  readonly fpCount: number;
  readonly fpHealthy: number;
  readonly fpHealthyCount: number;
  readonly falseSuspicions: number;
  readonly memberPeriods: number;
  readonly undetected: number;
  readonly crashes: number;
}

export async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const baseSeed = seedFromArgs(argv) ?? 20_020_623;
  const sizes = parseSizes(argv);
  console.log(`membership bench: seed ${baseSeed} (replay with --seed ${baseSeed}), N = ${sizes.join(', ')}`);
  const rows: ResultRow[] = [];
  const summaries: Summary[] = [];
  const t0 = performance.now();
  const ci = argv.indexOf('--scenario');
  const only = ci >= 0 ? argv[ci + 1] : undefined;
  console.log(
    `slow members: backlog ${SLOW_BACKLOG_MS.min}-${SLOW_BACKLOG_MS.max} ms; stall ${SLOW_MODEL.stallMs.min}-${SLOW_MODEL.stallMs.max} ms, run ${SLOW_MODEL.runMs.min}-${SLOW_MODEL.runMs.max} ms: stalled ${pct(stallDutyCycle(SLOW_MODEL))} of the time`,
  );
  for (const n of sizes) {
    for (const [si, sc] of SCENARIOS.entries()) {
      if (only !== undefined && !scenarioName(sc).includes(only)) continue;
      const pl = plan(n, sc);
      for (const lifeguard of [false, true]) {
        const all: RunResult[] = [];
        for (let r = 0; r < pl.runs; r++) {
          // Lifeguard on and off see the same seeds.
          const seed = (baseSeed + n * 7919 + si * 104_729 + r * 1_299_709) >>> 0;
          all.push(runOnce(n, sc, lifeguard, seed, pl));
        }
        const cat = (f: (r: RunResult) => number[]): number[] => all.flatMap(f);
        const loads = cat((r) => r.loadPerMember);
        const memberPeriods = all.reduce((a, r) => a + r.memberPeriods, 0);
        const fpCount = all.reduce((a, r) => a + r.falsePositives, 0);
        const fpHealthyCount = all.reduce((a, r) => a + r.falsePositivesHealthy, 0);
        const suspicions = all.reduce((a, r) => a + r.falseSuspicions, 0);
        const s: Summary = {
          n,
          sc,
          lifeguard,
          firstMedian: median(cat((r) => r.firstDetections)),
          firstMean: mean(cat((r) => r.firstDetections)),
          fullMedian: median(cat((r) => r.fullDetections)),
          load: mean(loads),
          loadMin: Math.min(...loads),
          loadMax: Math.max(...loads),
          spread: median(cat((r) => r.spreads)),
          fp: (fpCount / memberPeriods) * 10_000,
          fpCount,
          fpHealthy: (fpHealthyCount / memberPeriods) * 10_000,
          fpHealthyCount,
          falseSuspicions: (suspicions / memberPeriods) * 10_000,
          memberPeriods,
          undetected: all.reduce((a, r) => a + r.undetected, 0),
          crashes: cat((r) => r.firstDetections).length + all.reduce((a, r) => a + r.undetected, 0),
        };
        summaries.push(s);
        const c = caseName(n, sc, lifeguard);
        const impl = lifeguard ? 'swim+lifeguard' : 'swim';
        rows.push(
          { case: c, impl, metric: 'first_detection', value: s.firstMedian, unit: 'periods' },
          { case: c, impl, metric: 'first_detection_mean', value: s.firstMean, unit: 'periods' },
          {
            case: c,
            impl: 'paper',
            metric: 'first_detection_mean',
            value: PAPER_FIRST_DETECTION,
            unit: 'periods',
          },
          { case: c, impl, metric: 'full_detection', value: s.fullMedian, unit: 'periods' },
          { case: c, impl, metric: 'load', value: s.load, unit: 'msgs/member/period' },
          { case: c, impl, metric: 'spread', value: s.spread, unit: 'periods' },
          { case: c, impl, metric: 'false_positives', value: s.fp, unit: 'per_10k_member_periods' },
          {
            case: c,
            impl,
            metric: 'false_positives_healthy',
            value: s.fpHealthy,
            unit: 'per_10k_member_periods',
          },
          {
            case: c,
            impl,
            metric: 'false_suspicions',
            value: s.falseSuspicions,
            unit: 'per_10k_member_periods',
          },
        );
        console.error(
          `${c}: first ${s.firstMedian.toFixed(2)} (mean ${s.firstMean.toFixed(2)}) full ${s.fullMedian.toFixed(2)} ` +
            `load ${s.load.toFixed(3)} [${s.loadMin.toFixed(2)}..${s.loadMax.toFixed(2)}] spread ${s.spread.toFixed(2)} ` +
            `fp ${s.fpCount} (healthy ${s.fpHealthyCount}) suspicions ${s.falseSuspicions.toFixed(1)}/10k, ${s.memberPeriods} member-periods, undetected ${s.undetected}/${s.crashes} ` +
            `(${((performance.now() - t0) / 1000).toFixed(0)} s)`,
        );
      }
    }
  }
  writeResults('membership', rows, 'paper');
  report(summaries, sizes);
}

/** Prints each target of the issue with the measured figures and whether it is met. */
function report(ss: readonly Summary[], sizes: readonly number[]): void {
  const lines: string[] = ['', 'targets:'];
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT MET');
  // Load constant in N: max/min of the mean per-member load across N, per scenario and mode.
  for (const sc of SCENARIOS) {
    for (const lifeguard of [false, true]) {
      const xs = ss.filter((s) => s.sc === sc && s.lifeguard === lifeguard).map((s) => s.load);
      if (xs.length < 2) continue;
      const ratio = Math.max(...xs) / Math.min(...xs);
      lines.push(
        `  load across N=${sizes.join('/')} (${scenarioName(sc)} lifeguard=${lifeguard ? 'on' : 'off'}): ${xs.map((x) => x.toFixed(3)).join(' / ')}, max/min ${ratio.toFixed(3)} <= 1.2: ${verdict(ratio <= 1.2)}`,
      );
    }
  }
  for (const s of ss) {
    if (s.sc !== SCENARIOS[0]) continue;
    lines.push(
      `  median first detection n=${s.n} lifeguard=${s.lifeguard ? 'on' : 'off'}: ${s.firstMedian.toFixed(2)} <= 2 periods: ${verdict(s.firstMedian <= 2)}`,
    );
  }
  for (const sc of SCENARIOS) {
    if (sc === SCENARIOS[0]) continue;
    for (const n of sizes) {
      const off = ss.find((s) => s.n === n && s.sc === sc && !s.lifeguard);
      const on = ss.find((s) => s.n === n && s.sc === sc && s.lifeguard);
      if (off === undefined || on === undefined) continue;
      const cmp = (name: string, a: number, b: number): string => {
        const ratio = b === 0 ? 'inf' : (a / b).toFixed(1);
        const ok = a === 0 ? 'n/a (none without Lifeguard either)' : verdict(b === 0 || a / b >= 20);
        return `${name} off ${a} / on ${b} (ratio ${ratio}; >= 20x: ${ok})`;
      };
      const zero =
        sc.loss === 0.01 && sc.slow === 0
          ? `; zero with Lifeguard at 1% loss: ${verdict(on.fpCount === 0)}`
          : '';
      lines.push(
        `  n=${n} ${scenarioName(sc)}: ${cmp('false positives', off.fpCount, on.fpCount)}; ` +
          `${cmp('healthy', off.fpHealthyCount, on.fpHealthyCount)}; suspicions/10k off ${off.falseSuspicions.toFixed(1)} on ${on.falseSuspicions.toFixed(1)}${zero}`,
      );
    }
  }
  console.log(lines.join('\n'));
}
