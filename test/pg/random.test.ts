/**
 * Randomized pg runs on 3-5 TypeScript nodes in this process (real sockets): random joins,
 * leaves, exits, disconnects and reconnects, driven by one seed (printed on failure; replay
 * with PG_SEED=<seed>). Messages flow between steps for a random number of event-loop turns, so
 * operations interleave with deliveries. Afterwards the mesh is restored and, within a deadline,
 * every node's view of every group must equal the truth: the multiset of live processes that
 * joined it and did not leave.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Node } from '../../src/node/node.ts';
import { Prng } from '../../src/sim/prng.ts';
import { atom, type Pid, type Term } from '../../src/term/index.ts';
import { until } from '../support/dist-helpers.ts';
import { pidSet, TsCluster } from './support.ts';

const GROUPS: Term[] = ['a', 'b', atom('c'), 'd'];
const STEPS = 70;

interface Member {
  readonly pid: Pid;
  readonly node: Node;
  /** Joins per group index. */
  readonly joins: number[];
}

const cluster = new TsCluster('pgr');
afterEach(async () => {
  await cluster.stop();
});

function turns(n: number): Promise<void> {
  let p = Promise.resolve();
  for (let i = 0; i < n; i++) p = p.then(() => new Promise<void>((r) => setImmediate(r)));
  return p;
}

async function runSeed(seed: number): Promise<void> {
  const rng = new Prng(seed);
  const count = 3 + rng.int(3);
  const nodes: Node[] = [];
  for (let i = 0; i < count; i++) nodes.push(await cluster.node());
  // Some scopes start before the mesh, some after (discover at start vs at nodeup).
  for (const n of nodes) if (rng.int(2) === 0) n.groups.default;
  await cluster.mesh(nodes);
  for (const n of nodes) n.groups.default;
  const members: Member[] = [];
  const log: string[] = [];
  for (let step = 0; step < STEPS; step++) {
    const r = rng.int(100);
    if (r < 35 || members.length === 0) {
      // A new or existing process joins a group (sometimes twice at once).
      const reuse = members.length > 0 && rng.int(2) === 0;
      const node = reuse ? undefined : (nodes[rng.int(nodes.length)] as Node);
      const m: Member = reuse
        ? (members[rng.int(members.length)] as Member)
        : {
            pid: (node as Node).spawn(async (self) => {
              await self.receive();
            }),
            node: node as Node,
            joins: GROUPS.map(() => 0),
          };
      if (!reuse) members.push(m);
      const g = rng.int(GROUPS.length);
      const twice = rng.int(4) === 0;
      m.node.groups.join(GROUPS[g] as Term, twice ? [m.pid, m.pid] : m.pid);
      m.joins[g] = (m.joins[g] as number) + (twice ? 2 : 1);
      log.push(`join ${m.pid} ${String(GROUPS[g])}${twice ? ' x2' : ''}`);
    } else if (r < 60) {
      const m = members[rng.int(members.length)] as Member;
      const g = rng.int(GROUPS.length);
      const left = m.node.groups.leave(GROUPS[g] as Term, m.pid);
      expect(left).toBe((m.joins[g] as number) > 0);
      if (left) m.joins[g] = (m.joins[g] as number) - 1;
      log.push(`leave ${m.pid} ${String(GROUPS[g])} ${left}`);
    } else if (r < 72) {
      const i = rng.int(members.length);
      const m = members[i] as Member;
      members.splice(i, 1);
      m.node.send(m.pid, atom('stop'));
      log.push(`exit ${m.pid}`);
    } else if (r < 86) {
      const x = nodes[rng.int(nodes.length)] as Node;
      const y = nodes[rng.int(nodes.length)] as Node;
      if (x !== y) {
        x.disconnect(y.name);
        log.push(`disconnect ${x.name} ${y.name}`);
      }
    } else {
      const x = nodes[rng.int(nodes.length)] as Node;
      const y = nodes[rng.int(nodes.length)] as Node;
      if (x !== y) {
        log.push(`connect ${x.name} ${y.name}`);
        await x.connect(y.name).catch(() => undefined);
      }
    }
    await turns(rng.int(4));
  }
  // Heal: every pair connected again, then wait for every view to equal the truth.
  await until(
    async () => {
      await cluster.mesh(nodes).catch(() => undefined);
      return nodes.every((n) => n.nodes('connected').length === nodes.length - 1);
    },
    10_000,
    'mesh restored',
  );
  const truth = (g: number): string[] => {
    const pids: Pid[] = [];
    for (const m of members) for (let k = 0; k < (m.joins[g] as number); k++) pids.push(m.pid);
    return pidSet(pids);
  };
  const converged = (): boolean =>
    nodes.every((n) =>
      GROUPS.every((group, g) => {
        const want = truth(g);
        const have = pidSet(n.groups.members(group));
        return have.length === want.length && have.every((v, i) => v === want[i]);
      }),
    );
  try {
    await until(converged, 10_000, 'views equal the truth');
  } catch (e) {
    const detail = nodes
      .map(
        (n) =>
          `${n.name}: ${GROUPS.map((group) => `${String(group)}=[${pidSet(n.groups.members(group)).join(' ')}]`).join(' ')}`,
      )
      .join('\n');
    const want = GROUPS.map((group, g) => `${String(group)}=[${truth(g).join(' ')}]`).join(' ');
    throw new Error(
      `seed ${seed}: ${(e as Error).message}\nwant ${want}\n${detail}\nlog:\n${log.join('\n')}`,
    );
  }
  // Local views agree with the truth too, and whichGroups lists exactly the non-empty groups.
  for (const n of nodes) {
    const nonEmpty = GROUPS.filter((_, g) => truth(g).length > 0)
      .map(String)
      .sort();
    expect(n.groups.whichGroups().map(String).sort(), `seed ${seed}`).toEqual(nonEmpty);
    for (const [g, group] of GROUPS.entries()) {
      const local = members.filter((m) => m.node === n);
      const want = pidSet(local.flatMap((m) => Array.from({ length: m.joins[g] as number }, () => m.pid)));
      expect(pidSet(n.groups.localMembers(group)), `seed ${seed}`).toEqual(want);
    }
  }
}

describe('pg randomized across 3-5 TS nodes', () => {
  const fixed = process.env.PG_SEED;
  const seeds = fixed !== undefined ? [Number(fixed)] : [1, 2, 3, 4, 5, 6];
  for (const seed of seeds) {
    it(`seed ${seed}: converges to the truth after joins, leaves, exits, disconnects, reconnects`, async () => {
      await runSeed(seed);
    }, 40_000);
  }
});
