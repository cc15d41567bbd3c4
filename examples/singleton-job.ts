/**
 * A leader-elected singleton job: three nodes run Raft leader election (`node.election`), and only
 * the node that holds the leader lease runs the job, stamping each run with its fencing token.
 * Then the leader node stops, the other two elect a new leader within a few hundred
 * milliseconds, and the job moves there with a larger token.
 *
 *   npx tsx examples/singleton-job.ts
 *
 * The nodes live in this process and register with a private, embedded EPMD on a free port. Each
 * keeps its term and vote in a `MemoryStorage`; a real deployment uses `FileStorage` so a
 * restarted node never votes twice in a term.
 */
import { MemoryStorage, Node, startEpmdServer } from '../src/index.ts';

const cookie = 'distribute-singleton';
const epmd = await startEpmdServer({ port: 0, host: '127.0.0.1' });
const names = ['n1@127.0.0.1', 'n2@127.0.0.1', 'n3@127.0.0.1'];
const nodes = await Promise.all(
  names.map((name) =>
    Node.start({ name, cookie, epmd: { host: '127.0.0.1', port: epmd.port }, netTicktimeMs: 4000 }),
  ),
);
console.log(`started ${names.join(', ')}`);

// Every node starts the election with the same voter list and its own storage.
await Promise.all(nodes.map((n) => n.election.start({ voters: names, storage: new MemoryStorage() })));
// Narrate each new leader once (every voter emits `leader` when the leader it knows changes).
const announced = new Set<number>();
for (const node of nodes) {
  node.election.on('leader', (l) => {
    if (l === undefined || announced.has(l.term)) return;
    announced.add(l.term);
    console.log(`elected: ${l.node} leads term ${l.term}`);
  });
}

// The singleton job: every node ticks, only the lease holder works. The fencing token (the term)
// goes with each run, so a resource can refuse an old leader that still thinks it leads.
const runs: { node: string; token: number }[] = [];
const timers = nodes.map((node) =>
  setInterval(() => {
    if (node.isStopped || !node.election.isLeader()) return;
    const token = node.election.fencingToken();
    const last = runs.at(-1);
    if (last !== undefined && token < last.token) throw new Error('a stale leader ran the job');
    if (last?.node !== node.name) console.log(`job now runs on ${node.name} with fencing token ${token}`);
    runs.push({ node: node.name, token });
  }, 50),
);

const first = await leaderOf(nodes);
console.log(`${first.name} is the leader; the others agree: ${agree(nodes, first)}`);
await until(() => runs.filter((r) => r.node === first.name).length >= 3, 'three runs of the job');
console.log(`the job ran ${runs.filter((r) => r.node === first.name).length} times on ${first.name}`);

// Stop the leader's node. The survivors are a majority (2 of 3): one of them takes over.
await first.election.stop();
await first.stop();
console.log(`stopped the leader ${first.name}`);
const survivors = nodes.filter((n) => n !== first);
const second = await leaderOf(survivors);
await until(() => runs.at(-1)?.node === second.name, 'the job on the new leader');
const before = runs.filter((r) => r.node === first.name).at(-1)?.token ?? 0;
const after = runs.at(-1)?.token ?? 0;
console.log(`${second.name} took over; fencing token ${before} -> ${after}`);
if (!(after > before)) throw new Error('the new leader must hold a larger token');

for (const t of timers) clearInterval(t);
await Promise.all(survivors.map((n) => n.election.stop()));
await Promise.all(survivors.map((n) => n.stop()));
await epmd.close();
console.log('stopped');

/** Resolves with the node that holds the lease once every node of `group` names it leader. */
async function leaderOf(group: readonly Node[]): Promise<Node> {
  let found: Node | undefined;
  await until(() => {
    found = group.find((n) => n.election.isLeader());
    return found !== undefined && agree(group, found);
  }, 'a leader all agree on');
  return found as Node;
}

function agree(group: readonly Node[], leader: Node): boolean {
  return group.every((n) => n.election.leader()?.node === leader.name);
}

async function until(check: () => boolean, what: string, deadlineMs = 15_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
