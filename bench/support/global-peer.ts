/**
 * A TS node in its own OS process for bench/global.ts, driven over stdin/stdout: one JSON
 * request per line `{"id": N, "cmd": "...", "arg": "..."}`, one JSON answer per line
 * `{"id": N, "result": ...}` (or `"error"`). Prints `ready` once the node is up. The timed loops
 * (`register_loop`, `whereis_loop`) run here, as bench/erl/global_bench.erl's run in the erl node.
 *
 * `node <loader flags> bench/support/global-peer.ts <name> <cookie> <epmdPort>`: bench/global.ts
 * passes its own (`loaderArgs()`), so under `npm run bench` the peer runs the shipped dist/ code.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Node } from '../../src/node/node.ts';
import { atom, type Pid, tuple } from '../../src/term/index.ts';
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
    case 'register_loop': {
      // `<round> <n>`: n fresh names {r<round>, I}, each to a fresh idle process, one after the
      // other; microseconds per registration. Then unregistered (not timed).
      const [round, n] = arg.split(' ').map(Number) as [number, number];
      const pids = Array.from({ length: n }, () => idle());
      const names = pids.map((_, i) => tuple(atom(`r${round}`), i + 1));
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        if (!(await node.global.register(names[i]!, pids[i]!))) throw new Error('register failed');
      }
      const us = ((performance.now() - t0) * 1000) / n;
      for (let i = 0; i < n; i++) {
        await node.global.unregister(names[i]!);
        node.send(pids[i]!, atom('stop'));
      }
      return us;
    }
    case 'whereis_loop': {
      // n lookups of bench_name; lookups per second.
      const n = Number(arg);
      const name = atom('bench_name');
      let found = 0;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) if (node.global.whereis(name) !== undefined) found++;
      const ms = performance.now() - t0;
      if (found !== n) throw new Error('whereis missed');
      return n / (ms / 1000);
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
