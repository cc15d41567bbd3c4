/**
 * The `distribute` client commands against a real `erl` node (private EPMD, real sockets).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { atom, Tuple } from '../../src/term/types.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { describeErl } from '../support/erl.ts';
import { type ErlNode, startErlNode, stopAllErlNodes } from '../support/erl-node.ts';
import { killAllCli, lastJson, runCli, startCli } from './support.ts';

const COOKIE = 'cli-erl-cookie';
const E = 'cli_e1@127.0.0.1';

let epmd: EpmdProcess;
let erl: ErlNode;
const cli = (...args: string[]) => runCli(args, epmd.port);

describeErl('distribute CLI against erl', () => {
  beforeAll(async () => {
    epmd = await startEpmd();
    erl = await startErlNode({ name: E, cookie: COOKIE, epmdPort: epmd.port });
    // The evaluator's own process takes the name; `receive` below reads what `send` put there.
    await erl.eval('register(inbox, self())');
  });

  afterAll(async () => {
    await killAllCli();
    await stopAllErlNodes();
    await epmd?.stop();
  });

  it("rpc erl lists reverse '[1,2,3]' prints [3,2,1]; --json tags the result", async () => {
    const [text, json, ping] = await Promise.all([
      cli('rpc', E, 'lists', 'reverse', '[1,2,3]', '--cookie', COOKIE),
      cli(
        '--json',
        'rpc',
        E,
        'erlang',
        'list_to_tuple',
        '[a, <<"b">>, 1.0, 123456789012345678901234567890]',
        '--cookie',
        COOKIE,
      ),
      cli('ping', E, '--cookie', COOKIE),
    ]);
    expect(text).toMatchObject({ code: 0, stdout: '[3,2,1]\n' });
    expect(lastJson(json.stdout)).toEqual({
      ok: true,
      result: '{a,<<"b">>,1.0,123456789012345678901234567890}',
      value: {
        $tuple: [
          { $atom: 'a' },
          { $binary: 'Yg==' },
          { $float: 1 },
          { $bigint: '123456789012345678901234567890' },
        ],
      },
    });
    expect(ping.code).toBe(0);
    expect(ping.stdout).toMatch(/^pong cli_e1@127\.0\.0\.1 /);
  });

  it('rpc: a remote exception and a wrong cookie are exit 1 with one line', async () => {
    const [raised, cookie] = await Promise.all([
      cli('rpc', E, 'erlang', 'error', 'boom', '--cookie', COOKIE),
      cli('rpc', E, 'lists', 'reverse', '[1]', '--cookie', 'not-the-cookie'),
    ]);
    expect(raised.code).toBe(1);
    expect(raised.stderr.trim()).toMatch(
      /^error: rpc cli_e1@127\.0\.0\.1 erlang:error\/1: .*\(error: boom\)$/,
    );
    expect(cookie.code).toBe(1);
    expect(cookie.stderr.trim()).toMatch(/^error: cannot reach cli_e1@127\.0\.0\.1: .*wrong cookie/);
  });

  it('send reaches a registered process; nodes --via erl answers', async () => {
    const sent = await cli('send', E, 'inbox', '{hello, "text", <<1,2>>}', '--cookie', COOKIE);
    expect(sent.code).toBe(0);
    expect(await erl.eval('receive M -> M after 5000 -> timeout end')).toEqual(
      new Tuple([atom('hello'), [116, 101, 120, 116], Buffer.from([1, 2])]),
    );
    const nodes = await cli('nodes', '--via', E, '--cookie', COOKIE, '--json');
    expect(lastJson(nodes.stdout)).toEqual({ ok: true, via: E, nodes: [] });
  });

  it('a node run by `distribute start` serves erl: ping, and erlang:nodes/1 both ways', async () => {
    const ts = startCli(
      ['start', '--name', 'cli_ts@127.0.0.1', '--cookie', COOKIE, '--epmd', 'external'],
      epmd.port,
    );
    await ts.waitForLine((l) => l.startsWith('up cli_ts@127.0.0.1'));
    expect(await erl.eval("net_adm:ping('cli_ts@127.0.0.1')")).toEqual(atom('pong'));
    expect(await erl.eval("rpc:call('cli_ts@127.0.0.1', erlang, nodes, [connected])")).toEqual([atom(E)]);
    const [viaErl, viaTs] = await Promise.all([
      cli('nodes', '--via', E, '--cookie', COOKIE, '--json'),
      cli('nodes', '--via', 'cli_ts@127.0.0.1', '--cookie', COOKIE, '--json'),
    ]);
    expect(lastJson(viaErl.stdout)).toEqual({
      ok: true,
      via: E,
      nodes: [{ name: 'cli_ts@127.0.0.1', kind: 'visible' }],
    });
    expect(lastJson(viaTs.stdout)).toEqual({
      ok: true,
      via: 'cli_ts@127.0.0.1',
      nodes: [{ name: E, kind: 'visible' }],
    });
    ts.child.kill('SIGTERM');
    expect(await ts.exited).toBe(0);
  });
});
