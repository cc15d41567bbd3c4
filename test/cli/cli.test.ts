/**
 * The `distribute` CLI end to end: real child processes, real sockets, a private EPMD. One
 * `distribute start` node (`a`, exposing test/cli/fixtures/expose.js) is shared by the suite;
 * an in-process node `b` connects to it so that `nodes` and `send` have something to see.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { names as epmdNames } from '../../src/epmd/client.ts';
import { Node } from '../../src/node/node.ts';
import { atom, type Term, Tuple } from '../../src/term/types.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { type CliProcess, killAllCli, lastJson, runCli, startCli } from './support.ts';

const COOKIE = 'cli-test-cookie';
const A = 'a@127.0.0.1';
const B = 'b@127.0.0.1';
const EXPOSE = fileURLToPath(new URL('./fixtures/expose.js', import.meta.url));
const MALFORMED = fileURLToPath(new URL('./fixtures/expose-malformed.js', import.meta.url));

let epmd: EpmdProcess;
let a: CliProcess;
let b: Node;
const received: Term[] = [];

const cli = (...args: string[]) => runCli(args, epmd.port);

describe('distribute CLI (TS nodes)', () => {
  beforeAll(async () => {
    epmd = await startEpmd();
    a = startCli(
      ['start', '--json', '--name', A, '--cookie', COOKIE, '--epmd', 'external', '--expose', EXPOSE],
      epmd.port,
    );
    const up = JSON.parse(await a.waitForLine((l) => l.includes('"event":"up"'))) as Record<string, unknown>;
    expect(up).toMatchObject({ event: 'up', node: A, hidden: false, exposed: ['mathx'] });
    b = await Node.start({ name: B, cookie: COOKIE, epmd: 'external', epmdPort: epmd.port });
    await b.connect(A);
    b.spawn(
      async (self) => {
        for (;;) {
          const m = await self.receive();
          received.push(m);
        }
      },
      { name: atom('inbox') },
    );
  });

  afterAll(async () => {
    await killAllCli();
    await b?.stop();
    await epmd?.stop();
  });

  it('start then ping from another CLI process: pong, text and JSON', async () => {
    const [text, json] = await Promise.all([
      cli('ping', A, '--cookie', COOKIE),
      cli('--json', 'ping', A, '--cookie', COOKIE),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^pong a@127\.0\.0\.1 [\d.]+ ms\n$/);
    expect(json.code).toBe(0);
    expect(lastJson(json.stdout)).toMatchObject({ ok: true, node: A, result: 'pong' });
  });

  it('ping fails with exit 1 and one clear line: wrong cookie, unknown node', async () => {
    const [bad, unknown] = await Promise.all([
      cli('ping', A, '--cookie', 'wrong', '--json'),
      cli('ping', 'nobody@127.0.0.1', '--cookie', COOKIE),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^error: cannot reach a@127\.0\.0\.1: .*wrong cookie/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(lastJson(bad.stdout)).toMatchObject({ ok: false, error: { code: 'unreachable' } });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe(
      'error: cannot reach nobody@127.0.0.1: no such node (its host EPMD does not know the name, or cannot be asked)',
    );
  });

  it('names lists what the EPMD knows; an unreachable EPMD is exit 1', async () => {
    const [text, json, down] = await Promise.all([
      cli('names'),
      cli('names', '--json', '--epmd', `127.0.0.1:${epmd.port}`),
      // Port 1 is privileged and never our EPMD: the connection is refused.
      cli('names', '--epmd', '127.0.0.1:1'),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/│ a +│ \d+ +│/);
    const doc = lastJson(json.stdout);
    expect(doc).toMatchObject({ ok: true, epmd: { host: '127.0.0.1', port: epmd.port } });
    const list = doc.names as { name: string; port: number }[];
    expect(list.map((n) => n.name).sort()).toEqual(['a', 'b']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error: cannot ask the EPMD at 127\.0\.0\.1:1: /);
  });

  it('nodes --via asks a TS node started by the CLI (erlang:nodes/1 built in)', async () => {
    const [text, json] = await Promise.all([
      cli('nodes', '--via', A, '--cookie', COOKIE),
      cli('nodes', '--via', A, '--cookie', COOKIE, '--json'),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/│ b@127\.0\.0\.1 +│ visible +│/);
    // Client nodes of the CLI (this command's and the concurrent one's) are left out.
    expect(text.stdout).not.toContain('distribute-cli-');
    expect(lastJson(json.stdout)).toEqual({ ok: true, via: A, nodes: [{ name: B, kind: 'visible' }] });
  });

  it('nodes --via a node that does not answer erlang:nodes/1 is a clear failure', async () => {
    const r = await cli('nodes', '--via', B, '--cookie', COOKIE);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('does not answer erlang:nodes/1');
  });

  it('rpc calls exposed functions and prints Erlang terms, or tagged JSON', async () => {
    const [add, echo, self] = await Promise.all([
      cli('rpc', A, 'mathx', 'add', '1', '2', '--cookie', COOKIE),
      cli('--json', 'rpc', A, 'mathx', 'echo', '{ok, [1, 2.5, <<"bin">>, #{a => b}]}', '--cookie', COOKIE),
      cli('rpc', A, 'erlang', 'node', '--cookie', COOKIE),
    ]);
    expect(add).toMatchObject({ code: 0, stdout: '3\n' });
    expect(echo.code).toBe(0);
    expect(lastJson(echo.stdout)).toEqual({
      ok: true,
      result: '{ok,[1,2.5,<<"bin">>,#{a => b}]}',
      value: {
        $tuple: [
          { $atom: 'ok' },
          [
            1,
            2.5,
            { $binary: Buffer.from('bin').toString('base64') },
            { $map: [[{ $atom: 'a' }, { $atom: 'b' }]] },
          ],
        ],
      },
    });
    expect(self).toMatchObject({ code: 0, stdout: "'a@127.0.0.1'\n" });
  });

  it('rpc: bad term text (with its offset), an undefined function, an unknown node: exit 1', async () => {
    const [badTerm, undef, unknown] = await Promise.all([
      cli('rpc', A, 'mathx', 'add', '1', '[1, 2', '--cookie', COOKIE, '--json'),
      cli('rpc', A, 'mathx', 'nope', '--cookie', COOKIE),
      cli('rpc', 'ghost@127.0.0.1', 'mathx', 'add', '1', '2', '--cookie', COOKIE),
    ]);
    expect(badTerm.code).toBe(1);
    expect(badTerm.stderr.trim()).toBe(
      'error: argument 2 is not an Erlang term: unexpected_end at offset 5: the text ends inside the list (in "[1, 2")',
    );
    expect(lastJson(badTerm.stdout)).toMatchObject({ ok: false, error: { code: 'bad_term' } });
    expect(undef.code).toBe(1);
    expect(undef.stderr).toMatch(/^error: rpc a@127\.0\.0\.1 mathx:nope\/0: /);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('cannot reach ghost@127.0.0.1: no such node');
  });

  it('send delivers a term to a registered name; bad term text is exit 1', async () => {
    received.length = 0;
    const [ok, json, bad] = await Promise.all([
      cli('send', B, 'inbox', '{hello, [1, 2]}', '--cookie', COOKIE),
      cli('send', B, 'inbox', 'second', '--cookie', COOKIE, '--json'),
      cli('send', B, 'inbox', '{unclosed', '--cookie', COOKIE),
    ]);
    expect(ok).toMatchObject({ code: 0, stdout: 'sent {hello,[1,2]} to inbox on b@127.0.0.1\n' });
    expect(lastJson(json.stdout)).toEqual({ ok: true, node: B, name: 'inbox', message: 'second' });
    // `send` returns once the node confirmed (a ping after the message), so both are here.
    expect(received).toHaveLength(2);
    expect(received).toContainEqual(atom('second'));
    expect(received).toContainEqual(new Tuple([atom('hello'), [1, 2]]));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: TERM is not an Erlang term: unexpected_end at offset 9/);
  });

  it('usage errors exit 2', async () => {
    const results = await Promise.all([
      cli('bogus'),
      cli('ping'),
      cli('ping', A, '--frobnicate'),
      cli('ping', A, '--timeout', 'soon', '--cookie', COOKIE),
      cli('ping', 'not a name!', '--cookie', COOKIE),
      cli('start', '--name', 'x@127.0.0.1', '--cookie', COOKIE, '--epmd', 'sideways'),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^error: /);
    }
  });

  it('start fails with exit 1: a name EPMD already holds, an --expose file that is missing or malformed', async () => {
    const [dup, missing, malformed] = await Promise.all([
      cli('start', '--name', A, '--cookie', COOKIE, '--epmd', 'external'),
      cli('start', '--name', 'd@127.0.0.1', '--cookie', COOKIE, '--expose', '/nonexistent/mod.js'),
      cli('start', '--name', 'd@127.0.0.1', '--cookie', COOKIE, '--expose', MALFORMED),
    ]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^error: cannot start a@127\.0\.0\.1: /);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: cannot import --expose \/nonexistent\/mod\.js: /);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain('mathy.pi is not a function');
  });

  it('SIGTERM stops `start` cleanly: exit 0, unregistered from EPMD', async () => {
    const c = startCli(
      ['start', '--name', 'c@127.0.0.1', '--cookie', COOKIE, '--epmd', 'external'],
      epmd.port,
    );
    await c.waitForLine((l) => l.startsWith('up c@127.0.0.1'));
    expect((await epmdNames({ epmdPort: epmd.port })).names.map((n) => n.name)).toContain('c');
    // It is a node others can reach.
    expect(await b.ping('c@127.0.0.1')).toBe('pong');
    const down = new Promise<string>((resolve) => b.once('nodedown', (n) => resolve(n)));
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    expect(c.stdout()).toMatch(/stopped c@127\.0\.0\.1 \(SIGTERM\)\n$/);
    expect(await down).toBe('c@127.0.0.1');
    expect((await epmdNames({ epmdPort: epmd.port })).names.map((n) => n.name)).not.toContain('c');
  });
});
