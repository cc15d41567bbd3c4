/**
 * A TS node in its own OS process for bench/global.ts, driven over stdin/stdout: one JSON
 * request per line `{"id": N, "cmd": "...", "arg": "..."}`, one JSON answer per line
 * `{"id": N, "result": ...}` (or `"error"`). Prints `ready` once the node is up.
 *
 * `node --import tsx bench/support/global-peer.ts <name> <cookie> <epmdPort>`
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Node } from '../../src/node/node.ts';
import { atom, type Pid } from '../../src/term/index.ts';
import { inspect } from '../../src/term/inspect.ts';

const [name, cookie, epmdPort] = process.argv.slice(2);
const node = await Node.start({
  name: name!,
  cookie: cookie!,
  epmd: 'external',
  epmdPort: Number(epmdPort),
  hidden: false,
});

function idle(): Pid {
  return node.spawn(async (self) => {
    await self.receive({ match: (m) => m === atom('stop') });
  });
}

async function handle(cmd: string, arg: string): Promise<unknown> {
  switch (cmd) {
    case 'connect':
      await node.connect(arg);
      return 'ok';
    case 'isolate':
      for (const n of node.nodes()) node.disconnect(n);
      while (node.nodes().length > 0 || node.global.knownNodes().length > 0) await sleep(2);
      return 'ok';
    case 'peers':
      return Math.min(node.nodes().length, node.global.knownNodes().length);
    case 'sync':
      await node.global.sync();
      return 'ok';
    case 'register':
      return await node.global.register(atom(arg), idle());
    case 'unregister':
      await node.global.unregister(atom(arg));
      return 'ok';
    case 'owner': {
      const pid = node.global.whereis(atom(arg));
      return pid === undefined ? 'undefined' : inspect(pid);
    }
    case 'stop':
      await node.stop();
      setImmediate(() => process.exit(0));
      return 'ok';
    default:
      throw new Error(`unknown command ${cmd}`);
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const req = JSON.parse(line) as { id: number; cmd: string; arg: string };
  handle(req.cmd, req.arg).then(
    (result) => process.stdout.write(`${JSON.stringify({ id: req.id, result })}\n`),
    (e: unknown) => process.stdout.write(`${JSON.stringify({ id: req.id, error: String(e) })}\n`),
  );
});
rl.on('close', () => {
  void node.stop().finally(() => process.exit(0));
});
process.stdout.write('ready\n');
