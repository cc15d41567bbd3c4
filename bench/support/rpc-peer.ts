/**
 * A TypeScript node in its own OS process, for bench/rpc.ts: it exposes `rpc_bench:echo/1` (the
 * function every RPC benchmark calls) and exits when its stdin closes.
 *
 * Usage: `tsx bench/support/rpc-peer.ts <name> <cookie> <epmdPort>`; prints `ready` once it is
 * registered.
 */
import { Node } from '../../src/node/node.ts';
import type { Term } from '../../src/term/index.ts';

const [name, cookie, epmdPort] = process.argv.slice(2);
if (name === undefined || cookie === undefined || epmdPort === undefined) {
  console.error('usage: rpc-peer.ts <name> <cookie> <epmdPort>');
  process.exit(2);
}
const node = await Node.start({ name, cookie, epmd: 'external', epmdPort: Number(epmdPort) });
node.rpc.expose('rpc_bench', { echo: (x: Term) => x });
process.stdin.on('end', () => {
  void node.stop().then(() => process.exit(0));
});
process.stdin.resume();
console.log('ready');
