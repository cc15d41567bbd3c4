import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type EpmdServer, lookup, names, startEpmdServer } from '../../src/epmd/index.ts';
import { describeErl } from '../support/erl.ts';
import { Children, waitFor } from './support.ts';

const run = promisify(execFile);

describeErl('embedded EPMD server used by real erl nodes and the epmd binary', () => {
  const children = new Children();
  let server: EpmdServer;
  const suffix = `${process.pid}`;
  const b = `itb${suffix}`;
  const a = `ita${suffix}`;

  beforeAll(async () => {
    server = await startEpmdServer({ port: 0 });
  });
  afterAll(async () => {
    await children.killAll();
    await server.close();
  });

  const erlEnv = (): NodeJS.ProcessEnv => ({ ERL_EPMD_PORT: String(server.port) });

  it('an erl node registers with it and shows up in names(), lookup() and `epmd -names`', async () => {
    const node = children.spawn(
      'erl',
      [
        '-noshell',
        '-name',
        `${b}@127.0.0.1`,
        '-setcookie',
        'c',
        '-eval',
        'io:format("creation ~p~n", [erlang:system_info(creation)]).',
      ],
      erlEnv(),
    );
    const entry = await waitFor(`${b} to register`, () => server.entries().find((e) => e.name === b), 20_000);
    expect(entry).toMatchObject({ nodeType: 77, protocol: 0, highest: 6, lowest: 5 });
    // The node took the creation we handed out in ALIVE2_X_RESP.
    const line = await node.waitForLine('the creation line', (l) => l.startsWith('creation '));
    expect(Number(line.slice('creation '.length))).toBe(entry.creation);

    expect((await names({ epmdPort: server.port })).names).toContainEqual({ name: b, port: entry.port });
    expect((await lookup(b, { epmdPort: server.port }))?.port).toBe(entry.port);

    const { stdout } = await run('epmd', ['-port', String(server.port), '-names']);
    expect(stdout).toContain(`epmd: up and running on port ${server.port} with data:`);
    expect(stdout).toContain(`name ${b} at port ${entry.port}\n`);
  });

  it('a second erl node finds the first through it: net_adm:ping -> pong, net_adm:names lists both', async () => {
    const script = [
      `io:format("ping ~p~n", [net_adm:ping('${b}@127.0.0.1')]),`,
      `{ok, Names} = net_adm:names("127.0.0.1"),`,
      `io:format("names ~s~n", [string:join(lists:sort([N || {N, _} <- Names]), ",")]),`,
      'halt().',
    ].join(' ');
    const node = children.spawn(
      'erl',
      ['-noshell', '-name', `${a}@127.0.0.1`, '-setcookie', 'c', '-eval', script],
      erlEnv(),
    );
    expect(await node.waitForLine('the ping line', (l) => l.startsWith('ping '), 20_000)).toBe('ping pong');
    const namesLine = await node.waitForLine('the names line', (l) => l.startsWith('names '));
    expect(namesLine).toBe(`names ${[a, b].sort().join(',')}`);
    expect(await node.exited()).toBe(0);
    // Its registration went with its connection.
    await waitFor(`${a} to unregister`, () =>
      server.entries().some((e) => e.name === a) ? undefined : true,
    );
  });

  it('a killed erl node is unregistered', async () => {
    const gone = new Promise<string>((resolve) => server.on('unregistered', (e) => resolve(e.name)));
    await children.killAll();
    expect(await gone).toBe(b);
    expect(await lookup(b, { epmdPort: server.port })).toBeUndefined();
  });
});
