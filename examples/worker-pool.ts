/**
 * A worker pool on process groups (OTP `pg`): worker processes on three nodes join the group
 * `workers`; a dispatcher on a fourth node spreads jobs over `members()`, round robin. Then a
 * worker exits and a whole worker node stops, and the pool shrinks on its own: `pg` drops members
 * whose process exits or whose node goes away.
 *
 *   npx tsx examples/worker-pool.ts
 *
 * All four nodes live in this process and register with a private, embedded EPMD on a free port,
 * so the example never touches an EPMD on 4369.
 */
import { atom, inspect, Node, type Pid, startEpmdServer, type Term, Tuple, tuple } from '../src/index.ts';

const cookie = 'distribute-worker-pool';
const group = atom('workers');
const epmd = await startEpmdServer({ port: 0, host: '127.0.0.1' });
const start = (name: string): Promise<Node> =>
  Node.start({ name, cookie, epmd: { host: '127.0.0.1', port: epmd.port }, netTicktimeMs: 4000 });

const boss = await start('boss@127.0.0.1');
const workerNodes = await Promise.all(['w1', 'w2', 'w3'].map((n) => start(`${n}@127.0.0.1`)));
console.log(`started ${boss.name} (the dispatcher) and ${workerNodes.map((n) => n.name).join(', ')}`);

// Every worker node runs two workers. A worker answers {job, From, N} with {done, N, N*N, Worker}
// and exits on `stop`. It joins the group itself; pg removes it when it exits.
for (const node of workerNodes) {
  for (let i = 0; i < 2; i++) {
    const pid = node.spawn(async (self) => {
      for await (const m of self) {
        if (m === atom('stop')) self.exit(atom('normal'));
        if (!(m instanceof Tuple) || m.at(0) !== atom('job')) continue;
        const [, from, n] = m.elements as [Term, Pid, number];
        self.send(from, tuple(atom('done'), n, n * n, self.pid));
      }
    });
    node.groups.join(group, pid);
  }
}

// Connecting is enough: the pg scopes of connected nodes find each other.
await Promise.all(workerNodes.map((n) => boss.connect(n.name)));
await until(() => boss.groups.members(group).length === 6, 'six workers in the group');
console.log(`the dispatcher sees ${boss.groups.members(group).length} workers in group ${inspect(group)}`);

// The pool shrinks by itself: narrate pg's leave events.
const monitor = boss.groups.monitor(group);
monitor.on('leave', (_group, pids) => console.log(`pg: ${pids.map(String).join(', ')} left the group`));

/** Spreads `jobs` over the group's current members and waits for every answer. */
async function dispatch(jobs: number[]): Promise<Map<string, number>> {
  const perNode = new Map<string, number>();
  await new Promise<void>((resolve, reject) => {
    boss.spawn(async (self) => {
      try {
        const members = boss.groups.members(group);
        jobs.forEach((n, i) => {
          self.send(members[i % members.length] as Pid, tuple(atom('job'), self.pid, n));
        });
        let sum = 0;
        for (let i = 0; i < jobs.length; i++) {
          const reply = await self.receive({ timeoutMs: 5000 });
          const [, , square, worker] = (reply as Tuple).elements as [Term, number, number, Pid];
          sum += square;
          perNode.set(worker.node.name, (perNode.get(worker.node.name) ?? 0) + 1);
        }
        console.log(`  ${jobs.length} jobs done, sum of squares ${sum}`);
        resolve();
      } catch (e) {
        reject(e);
      }
    });
  });
  return perNode;
}

const jobs = Array.from({ length: 12 }, (_, i) => i + 1);
console.log(`round 1 over ${boss.groups.members(group).length} workers`);
report(await dispatch(jobs));

// One worker exits: the pool shrinks to five.
const leaving = workerNodes[0]?.groups.localMembers(group)[0] as Pid;
boss.send(leaving, atom('stop'));
await until(() => boss.groups.members(group).length === 5, 'the group to shrink to five');
console.log(`a worker exited; the pool has ${boss.groups.members(group).length} workers`);
console.log(`round 2 over ${boss.groups.members(group).length} workers`);
report(await dispatch(jobs));

// A whole worker node stops: its two workers leave with it.
const gone = workerNodes[2] as Node;
await gone.stop();
await until(() => boss.groups.members(group).length === 3, 'the group to shrink to three');
console.log(`${gone.name} stopped; the pool has ${boss.groups.members(group).length} workers`);
console.log(`round 3 over ${boss.groups.members(group).length} workers`);
const last = await dispatch(jobs);
report(last);
if (last.has(gone.name)) throw new Error('a job went to a stopped node');

boss.groups.demonitor(monitor.ref);
await Promise.all([boss, ...workerNodes].map((n) => n.stop()));
await epmd.close();
console.log('stopped');

function report(perNode: Map<string, number>): void {
  const parts = [...perNode].sort(([a], [b]) => a.localeCompare(b)).map(([n, c]) => `${n}: ${c}`);
  console.log(`  jobs per node: ${parts.join(', ')}`);
}

async function until(check: () => boolean, what: string, deadlineMs = 15_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
