/**
 * A TypeScript node in its own OS process, for bench/pg.ts: the TS twin of `start_peer/0` in
 * bench/erl/pg_bench.erl. It runs the default pg scope and a process registered as `pg_bench`
 * that takes
 * - `{watch, Driver}`: subscribe to groups `prop` and `mark`, answer `{watching, Node}`; then
 *   send `{seen, Action, Group}` to Driver for every join and leave of them;
 * - `{members, N, Rounds, Driver}`: spawn N processes that join group `bc`, each sends `done` to
 *   Driver after every Rounds messages; answer `{ready, Node}`;
 * - `{ping, From}`: answer `pong` (the calibration round trip);
 * - `{connect, [Node]}`: connect to these nodes (the mesh the BEAM makes by itself).
 *
 * It also runs a plain TCP echo (bytes back as they come, no protocol): the bench's `node-raw`
 * calibration, what the join fan-out's messages cost Node.js and the kernel before any work.
 *
 * Usage: `tsx bench/support/pg-peer.ts <name> <cookie> <epmdPort>`; prints `ready <echoPort>`
 * once it is registered, exits when its stdin closes.
 */
import { Node } from '../../src/node/node.ts';
import { atom, type Pid, type Term, Tuple } from '../../src/term/index.ts';
import { A } from './pg-atoms.ts';
import { startRawEcho } from './raw-echo.ts';

const [name, cookie, epmdPort] = process.argv.slice(2);
if (name === undefined || cookie === undefined || epmdPort === undefined) {
  console.error('usage: pg-peer.ts <name> <cookie> <epmdPort>');
  process.exit(2);
}
const node = await Node.start({ name, cookie, epmd: 'external', epmdPort: Number(epmdPort) });
const groups = node.groups;
groups.default;

function spawnMembers(n: number, rounds: number, driver: Pid): void {
  const pids: Pid[] = [];
  for (let i = 0; i < n; i++) {
    pids.push(
      node.spawn(async (self) => {
        for (;;) {
          for (let left = rounds; left > 0; left--) {
            // Drain what is queued without a promise per message; wait only when empty.
            if (self.tryReceive() === undefined) await self.receive();
          }
          self.send(driver, A.done);
        }
      }),
    );
  }
  groups.join(A.bc, pids);
}

node.spawn(
  async (self) => {
    for (;;) {
      const m = await self.receive();
      if (!(m instanceof Tuple)) continue;
      const [tag, a, b, c] = m.elements;
      if (tag === A.watch) {
        const driver = a as Pid;
        for (const g of [A.prop, A.mark]) {
          groups.monitor(g).on('change', (change) => {
            node.send(driver, new Tuple([A.seen, change.action === 'join' ? A.join : A.leave, change.group]));
          });
        }
        self.send(driver, new Tuple([A.watching, node.atom]));
      } else if (tag === A.members) {
        spawnMembers(a as number, b as number, c as Pid);
        self.send(c as Pid, new Tuple([A.ready, node.atom]));
      } else if (tag === A.ping) {
        self.send(a as Pid, A.pong);
      } else if (tag === A.connect) {
        for (const peer of a as Term[]) await node.connect(String((peer as { name: string }).name));
      }
    }
  },
  { name: atom('pg_bench') },
);
const { server: raw, port: rawPort } = await startRawEcho();
process.stdin.on('end', () => {
  raw.close();
  void node.stop().then(() => process.exit(0));
});
process.stdin.resume();
console.log(`ready ${rawPort}`);
