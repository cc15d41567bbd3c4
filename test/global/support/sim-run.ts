/**
 * The randomized run of sim.test.ts, kept apart so a failing seed can be replayed with tracing
 * (`npx tsx test/global/support/sim-run.ts <seed> [name]`).
 */
import { expect } from 'vitest';
import { pidKey } from '../../../src/node/signals.ts';
import { RANDOM_EXIT_NAME } from '../../../src/services/global/messages.ts';
import { atom, type Pid, type Term } from '../../../src/term/index.ts';
import { inspect } from '../../../src/term/inspect.ts';
import { SimCluster } from './sim-cluster.ts';

const NAMES = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9', 'n10', 'n11', 'n12'].map((n) => atom(n));

export function register(
  c: SimCluster,
  node: string,
  name: Term,
  pid: Pid,
  done?: (yes: boolean) => void,
): void {
  c.request(
    node,
    (op) => ({ kind: 'register', op, entry: { name, pid, method: RANDOM_EXIT_NAME }, force: false }),
    (r) => done?.(r === atom('yes')),
  );
}

export function table(c: SimCluster, node: string): string {
  return c
    .node(node)
    .core.nameEntries()
    .map((e) => `${inspect(e.name)}=${inspect(e.pid)}`)
    .sort()
    .join(' ');
}

/**
 * Connects every pair (again and again, as POP may cut) until the cluster is quiet. With
 * `inertSessions`, a session left open with a node already known counts as quiet: OTP leaves one
 * when `in_sync` is handled before the nodeup of the same connection (only possible when traffic
 * may overtake nodeup); it holds no lock and is dropped at the next nodedown.
 */
export function settle(
  c: SimCluster,
  names: readonly string[],
  limitMs = 120_000,
  inertSessions = false,
): void {
  const start = c.sched.now();
  for (;;) {
    for (const a of names) for (const b of names) if (a < b && !c.connected(a, b)) c.connect(a, b);
    c.run(3000);
    const quiet = names.every((a) => {
      const n = c.node(a);
      return (
        names.every((b) => a === b || c.connected(a, b)) &&
        n.core.knownNodes().length === names.length - 1 &&
        n.core.sessions().every((x) => inertSessions && n.core.knownNodes().includes(x)) &&
        n.core.lockEntries().length === 0 &&
        n.calls.size === 0 &&
        n.ops.size === 0
      );
    });
    if (quiet) return;
    if (c.sched.now() - start > limitMs) {
      const state = names
        .map((a) => {
          const n = c.node(a);
          return `${a}: known=${n.core.knownNodes().map((x) => x.name)} sessions=${n.core.sessions().map((x) => x.name)} locker=${n.core.lockerState} calls=${n.calls.size} ops=${n.ops.size} locks=${inspect(n.core.lockEntries().map((l) => [l.resource, l.requester]) as Term)}`;
        })
        .join('\n');
      throw new Error(`the cluster did not settle within ${limitMs} ms:\n${state}`);
    }
  }
}

export function checkConverged(c: SimCluster, names: readonly string[]): void {
  const tables = names.map((n) => `${n}: ${table(c, n)}`);
  const first = table(c, names[0]!);
  if (names.some((n) => table(c, n) !== first)) throw new Error(`the tables differ:\n${tables.join('\n')}`);
  for (const n of names) {
    for (const e of c.node(n).core.nameEntries()) {
      expect(c.node(e.pid.node.name).isAlive(e.pid), `owner of ${inspect(e.name)} alive`).toBe(true);
    }
    expect(c.node(n).core.lockEntries(), `locks left on ${n}`).toEqual([]);
  }
}

/** Variants of {@link randomRun}. */
export interface RunOptions {
  /** Protocol messages may overtake nodeup (OTP's pre_connect case). */
  readonly raceNodeup?: boolean;
  /** prevent_overlapping_partitions (default true). */
  readonly pop?: boolean;
  /** Sees every input and output of every core. */
  readonly trace?: (line: string) => void;
  /** The core's `batchRegistrations` (default false: one job per take of the lock, as a node runs it). */
  readonly batch?: boolean;
  /** Registrations sometimes come in bursts of up to three from one node (default false). */
  readonly bursts?: boolean;
}

/** One randomized run. */
export function randomRun(seed: number, o: RunOptions = {}): void {
  const trace = o.trace;
  const nodeCount = 3 + (seed % 3);
  const names = Array.from({ length: nodeCount }, (_, i) => `q${i + 1}`);
  const c = new SimCluster({
    seed,
    nodes: names,
    delayMs: { min: 1, max: 15 },
    raceNodeup: o.raceNodeup === true,
    preventOverlappingPartitions: o.pop !== false,
    batchRegistrations: o.batch === true,
    ...(trace ? { trace } : {}),
  });
  const rng = c.rng.fork();
  const yes = new Map<string, Pid[]>();
  const unregistered = new Set<string>();
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const livePids = (): Pid[] => names.flatMap((n) => [...c.node(n).live.values()]);
  for (const n of names) for (let i = 0; i < 2; i++) c.spawn(n);
  for (const n of names.slice(1)) c.connect(n, names[0]!);
  // The fault phase.
  const until = c.sched.now() + 30_000;
  while (c.sched.now() < until) {
    c.run(20 + rng.int(200));
    const r = rng.next();
    const node = pick(names);
    if (r < 0.3) {
      const burst = o.bursts === true ? 1 + rng.int(3) : 1;
      for (let b = 0; b < burst; b++) {
        const mine = [...c.node(node).live.values()];
        const pid = mine.length > 0 && rng.chance(0.7) ? pick(mine) : c.spawn(node);
        const name = pick(NAMES);
        register(c, node, name, pid, (y) => {
          if (!y) return;
          const k = inspect(name);
          yes.set(k, [...(yes.get(k) ?? []), pid]);
        });
      }
    } else if (r < 0.38) {
      const name = pick(NAMES);
      unregistered.add(inspect(name));
      c.request(node, (op) => ({ kind: 'unregister', op, name }));
    } else if (r < 0.5) {
      const all = livePids();
      if (all.length > 0) c.kill(pick(all));
    } else if (r < 0.62) {
      const other = pick(names);
      if (other !== node) c.disconnect(node, other);
    } else if (r < 0.85) {
      const other = pick(names);
      if (other !== node) c.connect(node, other);
    } else if (r < 0.92) {
      const id = { resource: atom(`res${rng.int(3)}`), requester: atom(node) };
      const peers = names.filter((n) => n === node || c.connected(node, n)).map((n) => atom(n));
      c.request(
        node,
        (op) => ({ kind: 'set_lock', op, id, nodes: peers, retries: 2 }),
        (ok) => {
          if (ok === true) {
            c.run(0);
            c.request(node, (op) => ({ kind: 'del_lock', op, id, nodes: peers }));
          }
        },
      );
    } else {
      c.spawn(node);
    }
  }
  // Quiescence: heal everything, wait for the cluster to settle.
  settle(c, names, 120_000, o.raceNodeup === true);
  if (o.pop === false) {
    // Without POP, OTP does not promise that overlapping partitions agree (that is why POP
    // exists): only that the cluster settles, owners are alive and new registrations reach all.
    for (const n of names) {
      for (const e of c.node(n).core.nameEntries()) expect(c.node(e.pid.node.name).isAlive(e.pid)).toBe(true);
    }
    checkFresh(c, names);
    return;
  }
  checkConverged(c, names);
  // Completeness: a name registered once (never contested, never unregistered) whose owner lives is there.
  const t = c.node(names[0]!).core;
  for (const [k, pids] of yes) {
    if (pids.length !== 1 || unregistered.has(k)) continue;
    const pid = pids[0]!;
    if (!c.node(pid.node.name).isAlive(pid)) continue;
    const found = t.nameEntries().find((e) => inspect(e.name) === k);
    expect(found && pidKey(found.pid), `uncontested ${k}`).toBe(pidKey(pid));
  }
  checkFresh(c, names);
}

/** Liveness: a fresh registration reaches every node. */
function checkFresh(c: SimCluster, names: readonly string[]): void {
  const nodeCount = names.length;
  const fresh = c.spawn(names[nodeCount - 1]!);
  let ok: boolean | undefined;
  register(c, names[nodeCount - 1]!, atom('fresh'), fresh, (y) => {
    ok = y;
  });
  c.run(5000);
  expect(ok).toBe(true);
  for (const n of names) expect(pidKey(c.node(n).core.whereis(atom('fresh'))!)).toBe(pidKey(fresh));
}

// Replay one seed with a trace: npx tsx test/global/support/sim-run.ts <seed> [filter]
if (process.argv[1]?.endsWith('sim-run.ts')) {
  const seed = Number(process.argv[2]);
  const filter = process.argv[3];
  const lines: string[] = [];
  try {
    randomRun(seed, {
      raceNodeup: process.env.RACE === '1',
      pop: process.env.POP !== '0',
      batch: process.env.BATCH === '1',
      bursts: process.env.BURSTS === '1',
      trace: (l) => {
        if (filter === undefined || l.includes(filter)) lines.push(l);
      },
    });
    console.log(lines.join('\n'));
    console.log('ok');
  } catch (e) {
    console.log(lines.join('\n'));
    console.log(String(e));
  }
}
