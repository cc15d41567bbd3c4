/**
 * A TypeScript node in a child process, for tests that kill or freeze a TS peer.
 * `node --import tsx test/support/ts-node-child.ts <name> <cookie> <epmdPort> <netTicktimeMs>`:
 * registers an echo process as `echo`, prints `ready`, and exits when stdin closes.
 */
import { Node } from '../../src/node/node.ts';
import { startEcho } from './dist-helpers.ts';

const [name, cookie, epmdPort, tick] = process.argv.slice(2);
if (name === undefined || cookie === undefined || epmdPort === undefined || tick === undefined) {
  console.error('usage: ts-node-child.ts <name> <cookie> <epmdPort> <netTicktimeMs>');
  process.exit(2);
}
const node = await Node.start({
  name,
  cookie,
  epmd: 'external',
  epmdPort: Number(epmdPort),
  netTicktimeMs: Number(tick),
});
startEcho(node);
process.stdin.on('end', () => {
  void node.stop().then(() => process.exit(0));
});
process.stdin.resume();
console.log('ready');
