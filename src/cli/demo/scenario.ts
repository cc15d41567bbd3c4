/**
 * The scripted scenario of `distribute demo`: each step makes a claim, acts, and checks the
 * claim against what the nodes themselves report, within a deadline. Times are measured from
 * the nodes' own event timestamps (when a node saw a member die, when it learnt of a new
 * leader), so they do not depend on how often the parent looks.
 *
 * A failed step ends the scenario: the steps after it depend on it, and are reported skipped.
 *
 * @module
 */
import type { DemoChild, DemoCluster } from './cluster.ts';
import { type CallResult, DEMO_GROUP, type ErlCheck, type Snapshot } from './protocol.ts';

/** The outcome of one step. */
export interface StepResult {
  readonly name: string;
  readonly claim: string;
  readonly status: 'ok' | 'failed' | 'skipped';
  /** Wall time of the step, ms. */
  readonly ms: number;
  /** What was measured or why it failed. */
  readonly detail: string;
}

/** Times measured during the run (absent when the step did not get that far). */
export interface DemoMeasures {
  startMs?: number;
  convergeMs?: number;
  electionMs?: number;
  /** From the SIGKILL of the leader until every survivor marked it dead. */
  detectionMs?: number;
  /** From the SIGKILL of the leader until every survivor followed the new leader. */
  reelectionMs?: number;
  /** From the restart of the killed node until every node saw it alive again. */
  rejoinMs?: number;
  /** From the leave request until every remaining node marked the node left. */
  leaveMs?: number;
  callMs?: Record<string, number>;
}

/** How a scenario talks to its screen. */
export interface ScenarioHooks {
  /** A line of narration. */
  narrate(text: string): void;
  /** A step started (`claim` is what it will check). */
  stepStarted(name: string, claim: string): void;
  /** A step ended. */
  stepEnded(result: StepResult): void;
}

/** Deadlines of the steps, ms; generous, because a demo machine may be busy. */
export interface ScenarioDeadlines {
  readonly startMs: number;
  readonly convergeMs: number;
  readonly electMs: number;
  readonly pgMs: number;
  readonly globalMs: number;
  readonly callMs: number;
  readonly erlMs: number;
  readonly detectMs: number;
  readonly reelectMs: number;
  readonly rejoinMs: number;
  readonly leaveMs: number;
}

/** Defaults of {@link ScenarioDeadlines}. */
export const scenarioDeadlines: ScenarioDeadlines = Object.freeze({
  // Each node is a fresh Node.js process compiling TypeScript on first run; a loaded CI box is slow.
  startMs: 60_000,
  convergeMs: 20_000,
  electMs: 15_000,
  pgMs: 15_000,
  globalMs: 15_000,
  callMs: 15_000,
  erlMs: 30_000,
  // SWIM with a 200 ms period declares a lone suspicion dead within ~4 s (Lifeguard's 6x); twice that.
  detectMs: 10_000,
  // An election timeout is at most 1 s; a few rounds of split votes fit well within 10 s.
  reelectMs: 10_000,
  rejoinMs: 60_000,
  leaveMs: 15_000,
});

/** A claim that did not hold by its deadline. */
export class StepFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StepFailed';
  }
}

/**
 * Resolves with `check()`'s first non-undefined value, checking on every report from the
 * cluster; rejects with `why()` at the deadline.
 */
export function waitFor<T>(
  cluster: DemoCluster,
  check: () => T | undefined,
  deadlineMs: number,
  why: () => string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const first = check();
    if (first !== undefined) {
      resolve(first);
      return;
    }
    const onChange = (): void => {
      const v = check();
      if (v === undefined) return;
      clearTimeout(timer);
      cluster.off('change', onChange);
      resolve(v);
    };
    const timer = setTimeout(() => {
      cluster.off('change', onChange);
      reject(new StepFailed(`not within ${deadlineMs} ms: ${why()}`));
    }, deadlineMs);
    cluster.on('change', onChange);
  });
}

function short(node: string): string {
  const at = node.indexOf('@');
  return at < 0 ? node : node.slice(0, at);
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** The snapshots of the nodes that are up, or undefined when one has not reported yet. */
function views(cluster: DemoCluster): Snapshot[] | undefined {
  const out: Snapshot[] = [];
  for (const c of cluster.up()) {
    if (c.snapshot === undefined) return undefined;
    out.push(c.snapshot);
  }
  return out;
}

/** The leader and term every up node agrees on, if they do. */
function agreedLeader(cluster: DemoCluster): { node: string; term: number; since: number } | undefined {
  const vs = views(cluster);
  if (vs === undefined || vs.length === 0) return undefined;
  const l = vs[0]?.leader;
  if (l === null || l === undefined) return undefined;
  for (const v of vs) {
    if (v.leader === null || v.leader.node !== l.node || v.leader.term !== l.term) return undefined;
  }
  // The leader must itself be one of the up nodes.
  if (!vs.some((v) => v.node === l.node)) return undefined;
  return { node: l.node, term: l.term, since: Math.max(...vs.map((v) => v.leaderSince)) };
}

function leaderText(cluster: DemoCluster): string {
  return (
    cluster
      .up()
      .map((c) => {
        const l = c.snapshot?.leader;
        return `${short(c.name)}: ${l == null ? 'none' : `${short(l.node)}@${l.term}`}`;
      })
      .join(', ') || 'no node up'
  );
}

function memberText(cluster: DemoCluster, about?: string): string {
  return (
    cluster
      .up()
      .map((c) => {
        const ms = c.snapshot?.members ?? [];
        const list = ms
          .filter((m) => about === undefined || m.node === about)
          .map((m) => `${short(m.node)}=${m.status}/${m.incarnation}`);
        return `${short(c.name)} sees [${list.join(' ')}]`;
      })
      .join('; ') || 'no node up'
  );
}

/** Runs the scenario and returns each step's result; see the module comment. */
export async function runScenario(
  cluster: DemoCluster,
  options: { readonly withErl: boolean; readonly deadlines?: ScenarioDeadlines },
  hooks: ScenarioHooks,
  measures: DemoMeasures,
): Promise<StepResult[]> {
  const d = options.deadlines ?? scenarioDeadlines;
  const n = cluster.names.length;
  const results: StepResult[] = [];
  const plan: Array<[name: string, claim: string, run: () => Promise<string>]> = [];
  let worker = '';
  let killed = '';
  let killedTerm = 0;
  let killedInc = 0;
  let killedAt = 0;
  let erlName: string | undefined;
  /** Membership (UDP) address of each node, for seeds. */
  const addresses = new Map<string, string>();

  const step = (name: string, claim: string, run: () => Promise<string>): void => {
    plan.push([name, claim, run]);
  };

  step('start', `${n} node processes start and register with the demo's EPMD`, async () => {
    const t0 = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        Promise.all(cluster.names.map((name) => cluster.startNode(name))),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new StepFailed(`not all up within ${d.startMs} ms`)), d.startMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    measures.startMs = performance.now() - t0;
    const ports = cluster.epmd.entries().length;
    return `${n} nodes up in ${seconds(measures.startMs)}; the EPMD on port ${cluster.epmd.port} lists ${ports} names`;
  });

  step('join', `SWIM membership: every node sees all ${n} members alive`, async () => {
    const t0 = performance.now();
    const [first, ...rest] = cluster.names;
    if (first === undefined) throw new StepFailed('no nodes');
    const seed = (await cluster.request(first, { t: 'membership', seeds: [] }, 10_000)) as string;
    addresses.set(first, seed);
    await Promise.all(
      rest.map(async (name) => {
        addresses.set(
          name,
          (await cluster.request(name, { t: 'membership', seeds: [seed] }, 10_000)) as string,
        );
      }),
    );
    await waitFor(
      cluster,
      () => {
        const vs = views(cluster);
        if (vs === undefined || vs.length !== n) return undefined;
        return vs.every((v) => v.members.filter((m) => m.status === 'alive').length === n) ? true : undefined;
      },
      d.convergeMs,
      () => memberText(cluster),
    );
    measures.convergeMs = performance.now() - t0;
    return `all ${n} alive in every view after ${seconds(measures.convergeMs)} (seed ${seed})`;
  });

  step('elect', 'Raft election: all nodes follow one leader at one term', async () => {
    const t0 = performance.now();
    const l = await waitFor(
      cluster,
      () => agreedLeader(cluster),
      d.electMs,
      () => leaderText(cluster),
    );
    measures.electionMs = performance.now() - t0;
    return `${short(l.node)} leads term ${l.term}; agreed by all ${n} after ${seconds(measures.electionMs)}`;
  });

  step('pg', `pg group '${DEMO_GROUP}': every node sees ${n} members, one per node`, async () => {
    await waitFor(
      cluster,
      () => {
        const vs = views(cluster);
        if (vs === undefined) return undefined;
        return vs.every((v) => new Set(v.pg).size === n && v.pg.length === n) ? true : undefined;
      },
      d.pgMs,
      () =>
        cluster
          .up()
          .map((c) => `${short(c.name)} sees ${c.snapshot?.pg.length ?? 0}`)
          .join(', '),
    );
    return `${n} members in every view`;
  });

  step(
    'global',
    "a worker registers the global name 'demo_worker'; every node resolves it there",
    async () => {
      const leader = agreedLeader(cluster)?.node;
      worker = cluster.names.find((x) => x !== leader) ?? cluster.names[0] ?? '';
      const pid = (await cluster.request(worker, { t: 'register' }, d.globalMs)) as string;
      hooks.narrate(`${short(worker)} registered demo_worker as ${pid}`);
      await waitFor(
        cluster,
        () => (views(cluster)?.every((v) => v.global === worker) === true ? true : undefined),
        d.globalMs,
        () =>
          cluster
            .up()
            .map((c) => `${short(c.name)}: ${c.snapshot?.global ?? 'unknown'}`)
            .join(', '),
      );
      return `every node resolves demo_worker to ${pid} on ${short(worker)}`;
    },
  );

  step(
    'call',
    `the other nodes call demo_worker (gen_server:call via global) and get its answer`,
    async () => {
      const callers = cluster.names.filter((x) => x !== worker);
      const answers = await Promise.all(
        callers.map(
          async (c) => [c, (await cluster.request(c, { t: 'call' }, d.callMs)) as CallResult] as const,
        ),
      );
      measures.callMs = {};
      for (const [c, a] of answers) {
        if (!a.reply.includes(`'${worker}'`))
          throw new StepFailed(`${short(c)} got ${a.reply}, not ${worker}'s answer`);
        measures.callMs[c] = a.ms;
        hooks.narrate(`${short(c)} -> demo_worker: ${a.reply} in ${seconds(a.ms)}`);
      }
      return answers.map(([c, a]) => `${short(c)} ${seconds(a.ms)}`).join(', ');
    },
  );

  if (options.withErl) {
    step(
      'erl',
      "an erl node joins: it sees every node's pg member, resolves and calls demo_worker, and every node sees its pg member",
      async () => {
        const erl = await cluster.startErl(DEMO_GROUP, d.erlMs);
        erlName = erl.name;
        hooks.narrate(`${erl.name} started (OS pid ${erl.pid})`);
        await Promise.all(
          cluster.names.map((x) => cluster.request(x, { t: 'connect', node: erl.name }, d.erlMs)),
        );
        await waitFor(
          cluster,
          () => (views(cluster)?.every((v) => v.pg.includes(erl.name)) === true ? true : undefined),
          d.erlMs,
          () =>
            cluster
              .up()
              .map((c) => `${short(c.name)} sees ${c.snapshot?.pg.join(',')}`)
              .join('; '),
        );
        // erl's pg learns of the TS members as its scope syncs with theirs: ask until it lists them.
        const deadline = performance.now() + d.erlMs;
        let last = '';
        for (;;) {
          const via = cluster.names.find((x) => x !== worker) ?? worker;
          let r: ErlCheck | undefined;
          try {
            r = (await cluster.request(via, { t: 'erl-check', erl: erl.name }, d.erlMs)) as ErlCheck;
          } catch (e) {
            last = e instanceof Error ? e.message : String(e);
          }
          const pgOk = r !== undefined && cluster.names.every((x) => r.pgNodes.includes(x));
          if (r !== undefined && pgOk && r.globalNode === worker && r.reply.includes(`'${worker}'`)) {
            hooks.narrate(
              `erl: pg:get_members(demo) has ${r.pgNodes.length} members; demo_worker on ${short(worker)}`,
            );
            hooks.narrate(`erl -> demo_worker: ${r.reply}`);
            return `erl sees ${r.pgNodes.length} pg members and calls demo_worker in ${seconds(r.ms)}`;
          }
          if (r !== undefined) last = `pg ${r.pgNodes.join(',')}; global ${r.globalNode}; reply ${r.reply}`;
          if (performance.now() > deadline) throw new StepFailed(`erl does not see it all: ${last}`);
          // Ask again after the next report of the nodes, not after a fixed pause.
          await new Promise<void>((resolve) => cluster.once('change', resolve));
        }
      },
    );
  }

  step('kill', 'the leader is killed with SIGKILL: every survivor marks it dead', async () => {
    const l = agreedLeader(cluster);
    if (l === undefined) throw new StepFailed(`no agreed leader to kill (${leaderText(cluster)})`);
    killed = l.node;
    killedTerm = l.term;
    const child: DemoChild = cluster.child(killed);
    const at = Date.now();
    killedAt = at;
    hooks.narrate(`SIGKILL ${short(killed)} (OS pid ${child.pid}), leader of term ${killedTerm}`);
    cluster.kill(killed);
    const deadAt = await waitFor(
      cluster,
      () => {
        const vs = views(cluster);
        if (vs === undefined) return undefined;
        let latest = at;
        for (const v of vs) {
          const m = v.members.find((x) => x.node === killed);
          if (m !== undefined && m.status !== 'dead') return undefined;
          killedInc = Math.max(killedInc, m?.incarnation ?? 0);
          // Reaped already: it was dead before; count the report time.
          latest = Math.max(latest, m?.since ?? v.at);
        }
        return latest;
      },
      d.detectMs,
      () => memberText(cluster, killed),
    );
    measures.detectionMs = deadAt - at;
    return `detected by all ${n - 1} survivors in ${seconds(measures.detectionMs)}`;
  });

  step('re-elect', 'the survivors elect a new leader at a higher term', async () => {
    const l = await waitFor(
      cluster,
      () => {
        const a = agreedLeader(cluster);
        return a !== undefined && a.term > killedTerm && a.node !== killed ? a : undefined;
      },
      d.reelectMs,
      () => leaderText(cluster),
    );
    measures.reelectionMs = Math.max(0, l.since - killedAt);
    return `${short(l.node)} leads term ${l.term}, followed by every survivor ${seconds(measures.reelectionMs)} after the kill`;
  });

  step(
    'restart',
    'the killed node restarts and rejoins: alive again at a higher incarnation, following the leader',
    async () => {
      const t0 = Date.now();
      await cluster.startNode(killed);
      const upMs = Date.now() - t0;
      hooks.narrate(`${short(killed)} restarted (OS pid ${cluster.child(killed).pid}) in ${seconds(upMs)}`);
      const joinedAt = Date.now();
      const seeds = [...addresses]
        .filter(([k]) => k !== killed && cluster.child(k).state === 'up')
        .map(([, a]) => a);
      addresses.set(killed, (await cluster.request(killed, { t: 'membership', seeds }, 10_000)) as string);
      if (erlName !== undefined) await cluster.request(killed, { t: 'connect', node: erlName }, d.erlMs);
      const groupSize = n + (erlName === undefined ? 0 : 1);
      const r = await waitFor(
        cluster,
        () => {
          const vs = views(cluster);
          if (vs === undefined || vs.length !== n) return undefined;
          const l = agreedLeader(cluster);
          if (l === undefined) return undefined;
          let latest = joinedAt;
          for (const v of vs) {
            const m = v.members.find((x) => x.node === killed);
            if (m === undefined || m.status !== 'alive' || m.incarnation <= killedInc) return undefined;
            if (v.global !== worker || v.pg.length !== groupSize) return undefined;
            latest = Math.max(latest, m.since);
          }
          const inc = vs.find((v) => v.node === killed)?.incarnation ?? 0;
          return { l, latest, inc };
        },
        d.rejoinMs,
        () =>
          `${memberText(cluster, killed)}; leaders ${leaderText(cluster)}; pg ${cluster
            .up()
            .map((c) => `${short(c.name)}:${c.snapshot?.pg.length ?? 0}`)
            .join(',')}`,
      );
      measures.rejoinMs = r.latest - joinedAt;
      return `process up in ${seconds(upMs)}; alive in every view at incarnation ${r.inc} (was ${killedInc}) ${seconds(measures.rejoinMs)} after joining; follows ${short(r.l.node)} at term ${r.l.term}; sees demo_worker and the whole pg group`;
    },
  );

  step(
    'leave',
    'a node leaves gracefully: every other node marks it left (not dead), its pg member goes, a leader remains',
    async () => {
      const l = agreedLeader(cluster);
      const up = cluster.up().map((c) => c.name);
      const leaver =
        up.find((x) => x !== l?.node && x !== worker && x !== killed) ??
        up.find((x) => x !== l?.node && x !== worker) ??
        '';
      if (leaver === '') throw new StepFailed('no node can leave');
      const t0 = Date.now();
      const exited = cluster.exited(leaver);
      cluster.markLeft(leaver);
      hooks.narrate(`${short(leaver)} leaves: pg leave, election stop, SWIM leave, node stop`);
      await cluster.request(leaver, { t: 'leave' }, d.leaveMs);
      const code = await exited;
      if (code !== 0) throw new StepFailed(`${short(leaver)} exited with code ${code}`);
      const r = await waitFor(
        cluster,
        () => {
          const vs = views(cluster);
          const a = agreedLeader(cluster);
          if (vs === undefined || a === undefined) return undefined;
          let latest = t0;
          for (const v of vs) {
            const m = v.members.find((x) => x.node === leaver);
            if (m !== undefined && m.status !== 'left') return undefined;
            if (v.pg.includes(leaver)) return undefined;
            latest = Math.max(latest, m?.since ?? v.at);
          }
          return { latest, a };
        },
        d.leaveMs,
        () => `${memberText(cluster, leaver)}; leaders ${leaderText(cluster)}`,
      );
      measures.leaveMs = r.latest - t0;
      return `${short(leaver)} exited 0 and was marked left by all ${up.length - 1} others in ${seconds(measures.leaveMs)}; ${short(r.a.node)} still leads (term ${r.a.term})`;
    },
  );

  for (const [name, claim, run] of plan) {
    if (results.some((r) => r.status !== 'ok')) {
      results.push({ name, claim, status: 'skipped', ms: 0, detail: 'an earlier step failed' });
      continue;
    }
    hooks.stepStarted(name, claim);
    const t0 = performance.now();
    let r: StepResult;
    try {
      const detail = await run();
      r = { name, claim, status: 'ok', ms: performance.now() - t0, detail };
    } catch (e) {
      r = {
        name,
        claim,
        status: 'failed',
        ms: performance.now() - t0,
        detail: e instanceof Error ? e.message : String(e),
      };
    }
    results.push(r);
    hooks.stepEnded(r);
  }
  return results;
}
