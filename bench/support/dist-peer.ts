/**
 * A TypeScript node in its own OS process, for bench/dist.ts: it runs a sink and an echo (the
 * same as the bench's in-process ones) and exits when its stdin closes. It also runs a plain TCP
 * echo (no distribution: bytes back as they come, in the same turn), the calibration that shows
 * what a round trip between two Node.js processes costs before any protocol work.
 *
 * Usage: `tsx bench/support/dist-peer.ts <name> <cookie> <epmdPort>`; prints `ready <echoPort>`
 * once it is registered.
 */
import { Node } from '../../src/node/node.ts';
import { atom, type Pid, type Term, type Tuple } from '../../src/term/index.ts';
import { startRawEcho } from './raw-echo.ts';

const [name, cookie, epmdPort] = process.argv.slice(2);
if (name === undefined || cookie === undefined || epmdPort === undefined) {
  console.error('usage: dist-peer.ts <name> <cookie> <epmdPort>');
  process.exit(2);
}
const node = await Node.start({ name, cookie, epmd: 'external', epmdPort: Number(epmdPort) });
const done = atom('done');
node.spawn(
  async (self) => {
    for (;;) {
      const start = (await self.receive()) as Tuple;
      let n = start.elements[1] as number;
      while (n > 0) {
        if (self.tryReceive() === undefined) await self.receive();
        n--;
      }
      self.send(start.elements[2] as Pid, done);
    }
  },
  { name: atom('bench_sink') },
);
node.spawn(
  async (self) => {
    for (;;) {
      const m = (await self.receive()) as Tuple;
      self.send(m.elements[0] as Pid, m.elements[1] as Term);
    }
  },
  { name: atom('bench_echo') },
);
const { server: raw, port: rawPort } = await startRawEcho();
process.stdin.on('end', () => {
  raw.close();
  void node.stop().then(() => process.exit(0));
});
process.stdin.resume();
console.log(`ready ${rawPort}`);
