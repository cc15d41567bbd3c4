/**
 * Two TypeScript nodes on the Erlang distribution protocol: they find each other through EPMD
 * (an embedded one is started when none answers), connect, ping, and exchange Erlang terms
 * between processes. With `erl` installed, an Erlang node joins and echoes a message too.
 *
 *   npm run example
 */
import { spawn as spawnProcess } from 'node:child_process';
import { atom, inspect, Node, type Term, tuple } from '../src/index.ts';

const cookie = 'distribute-example';
const a = await Node.start({ name: 'alice@127.0.0.1', cookie });
const b = await Node.start({ name: 'bob@127.0.0.1', cookie });
console.log(`started ${a.name} and ${b.name}`);

// bob runs a registered echo process: it answers {From, Msg} with {echo, Msg}.
b.spawn(
  async (self) => {
    for await (const m of self) {
      const [from, msg] = [...(m as Iterable<Term>)];
      self.send(from as Parameters<typeof self.send>[0], tuple(atom('echo'), msg as Term));
    }
  },
  { name: atom('echo') },
);

console.log(`alice pings bob: ${await a.ping(b.name)}`);

const reply = await new Promise<Term>((resolve, reject) => {
  a.spawn(async (self) => {
    self.send([atom('echo'), atom(b.name)], tuple(self.pid, tuple(atom('hello'), [1, 2.5, 'bin'])));
    try {
      resolve(await self.receive({ timeoutMs: 5000 }));
    } catch (e) {
      reject(e);
    }
  });
});
console.log(`alice got back ${inspect(reply)}`);

if (await hasErl()) {
  const erl = spawnProcess(
    'erl',
    [
      '-noshell',
      '-name',
      'carol@127.0.0.1',
      '-setcookie',
      cookie,
      '-eval',
      `
      spawn(fun() -> io:get_line(""), halt() end),
      register(echo, self()),
      Loop = fun L() -> receive {From, Msg} -> From ! {echo, Msg}, L() end end,
      Loop().`,
    ],
    // stdin stays a pipe: carol halts when it reads end of file, so it never outlives this process.
    { stdio: ['pipe', 'ignore', 'ignore'] },
  );
  try {
    const pong = await waitFor(async () => (await a.ping('carol@127.0.0.1')) === 'pong', 15_000);
    console.log(`alice pings the Erlang node carol: ${pong ? 'pong' : 'pang'}`);
    // `erl` answers pings before its -eval has registered `echo`: ask until it answers.
    const fromErl = await new Promise<Term>((resolve, reject) => {
      a.spawn(async (self) => {
        for (let attempt = 0; attempt < 20; attempt++) {
          self.send([atom('echo'), atom('carol@127.0.0.1')], tuple(self.pid, atom('hi_from_typescript')));
          try {
            return resolve(await self.receive({ timeoutMs: 500 }));
          } catch {
            // not registered yet
          }
        }
        reject(new Error('carol never answered'));
      });
    });
    console.log(`carol (erl) answered ${inspect(fromErl)}`);
  } finally {
    erl.kill('SIGKILL');
  }
} else {
  console.log('(no erl on PATH: install erlang-nox to see an Erlang node join)');
}

await a.stop();
await b.stop();
console.log('stopped');

async function hasErl(): Promise<boolean> {
  return await new Promise((resolve) => {
    const p = spawnProcess('erl', ['-noshell', '-eval', 'halt().'], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('exit', (code) => resolve(code === 0));
  });
}

async function waitFor(check: () => Promise<boolean>, deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}
