/**
 * Interop of a TypeScript node with real OTP 25 `erl` nodes, on a private EPMD.
 */
import { expect, it } from 'vitest';
import { atom, decode, encode, equals, Pid, type Term, type Tuple, tuple } from '../../src/term/index.ts';
import { useTestCluster } from '../support/cluster.ts';
import {
  echoVia,
  nextEvent,
  RecordingLogger,
  startEcho,
  termCorpus,
  until,
} from '../support/dist-helpers.ts';
import { freePort } from '../support/epmd.ts';
import { describeErl } from '../support/erl.ts';

const COOKIE = 'interop-cookie';
const TICK_SEC = 2;

describeErl('distribution interop with erl', () => {
  const cluster = useTestCluster({ cookie: COOKIE, prefix: 'ts', netTicktimeMs: TICK_SEC * 1000 });
  const { tsNode, erlNode } = cluster;

  it('erl pings TS and TS pings erl', async () => {
    const e = await erlNode('ping1');
    const ts = await tsNode();
    const up = nextEvent<[string, { hidden: boolean }]>(ts, 'nodeup', 10_000);
    expect(await e.eval(`net_adm:ping('${ts.name}')`)).toBe(atom('pong'));
    // Visible by default: each lists the other in nodes(), and erl's global:sync() completes.
    expect(await up).toEqual([e.name, { hidden: false }]);
    expect(ts.nodes()).toEqual([e.name]);
    expect(ts.nodes('hidden')).toEqual([]);
    expect(await e.eval('nodes()')).toEqual([atom(ts.name)]);
    expect(await e.eval('global:sync()')).toBe(atom('ok'));
    const ts2 = await tsNode();
    expect(await ts2.ping(e.name)).toBe('pong');
    expect(await ts2.ping('nobody@127.0.0.1')).toBe('pang');
  });

  it('exchanges messages of every term kind both ways, to pids and registered names', async () => {
    const e = await erlNode('terms1');
    const ts = await tsNode();
    startEcho(ts, 'tsecho');
    await e.eval(
      'EchoLoop = fun L() -> receive {P, M} -> P ! {echo, M}, L() end end, register(echo, spawn(EchoLoop)), ok',
    );
    // TS -> erl (by registered name) -> TS.
    for (const [label, value] of termCorpus(ts.atom, ts.creation)) {
      const back = await echoVia(ts, [atom('echo'), atom(e.name)], value);
      expect(equals(back, decode(encode(value))), label).toBe(true);
    }
    // erl -> TS (by registered name, then by pid) -> erl, compared with =:= on the BEAM.
    const terms = `[0, 255, 256, -1, 2147483647, -2147483648, 1 bsl 70, -(1 bsl 70), 1 bsl 2000,
      3.14, 1.0, -0.0, ok, 'hello world', 'αβγ', '', true, false, {}, {a, 1, "s"},
      list_to_tuple(lists:seq(1, 300)), [], [1, 2, 3], "text", [a | b], [1, 2 | c], <<>>, <<1, 2, 3>>,
      <<1:3>>, <<255, 7:4>>, #{}, #{a => 1, <<"b">> => [2], {c} => #{}},
      maps:from_list([{I, I * I} || I <- lists:seq(1, 40)]), self(), make_ref(), hd(erlang:ports()),
      fun lists:map/2, fun(X) -> X + 1 end, {nested, [#{k => {1, [2.5, <<"x">>]}}]}, lists:seq(1, 1000),
      list_to_binary(lists:duplicate(100000, $a))]`;
    const byName = await e.eval(
      `Ts = ${terms}, [T || T <- Ts, begin {tsecho, '${ts.name}'} ! {self(), T}, receive {echo, R} -> R =/= T after 5000 -> true end end]`,
    );
    expect(byName).toEqual([]);
    const echoPid = ts.processes.whereis(atom('tsecho'))!;
    await e.eval(`TsEcho = binary_to_term(base64:decode("${encode(echoPid).toString('base64')}"))`);
    const byPid = await e.eval(
      `[T || T <- ${terms}, begin TsEcho ! {self(), T}, receive {echo, R} -> R =/= T after 5000 -> true end end]`,
    );
    expect(byPid).toEqual([]);
    // And a TS process receives an erl pid and answers it directly.
    const erlPid = await e.eval('self()');
    expect(erlPid).toBeInstanceOf(Pid);
    ts.send(erlPid as Pid, tuple(atom('direct'), 42));
    expect(await e.eval('receive {direct, X} -> X after 5000 -> timeout end')).toBe(42);
  });

  it('moves 8 MiB binaries both ways (fragments)', async () => {
    const e = await erlNode('big1');
    const ts = await tsNode();
    startEcho(ts, 'tsecho');
    await e.eval('register(echo, spawn(fun L() -> receive {P, M} -> P ! {echo, M}, L() end end)), ok');
    const big = Buffer.alloc(8 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    const back = (await echoVia(ts, [atom('echo'), atom(e.name)], big, 20_000)) as Buffer;
    expect(back.length).toBe(big.length);
    expect(back.equals(big)).toBe(true);
    const ok = await e.eval(
      `B = binary:copy(<<1, 2, 3, 4, 5, 6, 7, 8>>, 1024 * 1024), {tsecho, '${ts.name}'} ! {self(), B}, receive {echo, R} -> R =:= B after 20000 -> timeout end`,
      30_000,
    );
    expect(ok).toBe(true);
  });

  it('ends simultaneous connects with exactly one connection', async () => {
    const e = await erlNode('simul1');
    for (let round = 0; round < 4; round++) {
      const ts = await tsNode();
      let ups = 0;
      let downs = 0;
      ts.on('nodeup', () => ups++);
      ts.on('nodedown', () => downs++);
      const [mine, theirs] = await Promise.all([
        ts.connect(e.name).then(
          () => 'ok',
          (err: Error) => err.message,
        ),
        e.eval(`net_kernel:connect_node('${ts.name}')`),
      ]);
      expect(theirs).toBe(true);
      expect(mine).toBe('ok');
      expect(await ts.ping(e.name)).toBe('pong');
      expect(ts.nodes('connected')).toEqual([e.name]);
      expect(await e.eval(`[N || N <- nodes(connected), N =:= '${ts.name}']`)).toEqual([atom(ts.name)]);
      expect([ups, downs]).toEqual([1, 0]);
      await ts.stop();
    }
  });

  it('fails with a wrong cookie in both directions', async () => {
    const e = await erlNode('cookie1');
    const logger = new RecordingLogger();
    const ts = await tsNode({ cookie: 'wrong', logger });
    expect(await ts.ping(e.name)).toBe('pang');
    expect(await e.eval(`net_adm:ping('${ts.name}')`)).toBe(atom('pang'));
    await logger.waitFor('bad_cookie');
    expect(ts.nodes('connected')).toEqual([]);
    expect(await e.eval('nodes(connected)')).toEqual([]);
  });

  it('sees erl killed with SIGKILL as nodedown within the tick period', async () => {
    const e = await erlNode('kill1');
    const ts = await tsNode();
    expect(await ts.ping(e.name)).toBe('pong');
    const down = nextEvent<[string, { reason: string }]>(ts, 'nodedown', TICK_SEC * 1000 + 1000);
    await e.kill('SIGKILL');
    const [name] = await down;
    expect(name).toBe(e.name);
    expect(ts.nodes('connected')).toEqual([]);
  });

  it('drops a frozen erl (SIGSTOP) after the tick time: net_tick_timeout', async () => {
    const e = await erlNode('freeze1');
    const logger = new RecordingLogger();
    const ts = await tsNode({ logger });
    expect(await ts.ping(e.name)).toBe('pong');
    const t0 = Date.now();
    process.kill(e.pid, 'SIGSTOP');
    try {
      const [, info] = await nextEvent<[string, { reason: string }]>(ts, 'nodedown', TICK_SEC * 1000 * 2);
      expect(info.reason).toBe('net_tick_timeout');
      const elapsed = Date.now() - t0;
      expect(elapsed).toBeGreaterThanOrEqual(TICK_SEC * 1000 * 0.7);
      expect(elapsed).toBeLessThan(TICK_SEC * 1000 * 1.6);
      expect(logger.codes('warn')).toContain('net_tick_timeout');
    } finally {
      process.kill(e.pid, 'SIGCONT');
    }
  });

  it('keeps an idle connection alive with ticks', async () => {
    const e = await erlNode('idle1');
    const ts = await tsNode();
    expect(await ts.ping(e.name)).toBe('pong');
    let downs = 0;
    ts.on('nodedown', () => downs++);
    // Three tick times with no traffic: both sides tick, nobody times out.
    await e.eval(`receive after ${TICK_SEC * 3000} -> ok end`, TICK_SEC * 3000 + 5000);
    expect(downs).toBe(0);
    expect(await e.eval(`lists:member('${ts.name}', nodes())`)).toBe(true);
  });

  it('makes erl see nodedown when the TS node stops', async () => {
    const e = await erlNode('stop1');
    const ts = await tsNode();
    expect(await ts.ping(e.name)).toBe('pong');
    await e.eval(`erlang:monitor_node('${ts.name}', true)`);
    await ts.stop();
    expect(await e.eval(`receive {nodedown, N} -> N after 5000 -> timeout end`)).toBe(atom(ts.name));
  });

  it('carries links, monitors and exits both ways', async () => {
    const e = await erlNode('links1');
    const ts = await tsNode();
    expect(await ts.ping(e.name)).toBe('pong');
    // A TS process that waits for `die` and exits with that reason.
    const victim = ts.spawn(async (self) => {
      const m = await self.receive();
      self.exit((m as Tuple).elements[1] as Term);
    });
    await e.eval(
      `V = binary_to_term(base64:decode("${encode(victim).toString('base64')}")), process_flag(trap_exit, true), link(V), Mref = monitor(process, V), ok`,
    );
    // The link must be in place on our side before the exit.
    await until(() => ts.processes.info(victim)?.links.length === 1, 5000, 'link');
    ts.send(victim, tuple(atom('die'), atom('boom')));
    expect(await e.eval(`receive {'EXIT', V, R} -> R after 5000 -> timeout end`)).toBe(atom('boom'));
    expect(await e.eval(`receive {'DOWN', Mref, process, V, R2} -> R2 after 5000 -> timeout end`)).toBe(
      atom('boom'),
    );
    // TS monitors an erl process; it exits.
    const erlProc = (await e.eval('Sleeper = spawn(fun() -> receive stop -> exit(gone) end end)')) as Pid;
    const down = new Promise<Term>((resolve) => {
      ts.spawn(async (self) => {
        self.monitor(erlProc);
        self.send(erlProc, atom('stop'));
        resolve(await self.receive({ timeoutMs: 5000 }));
      });
    });
    const d = (await down) as Tuple;
    expect(d.elements[0]).toBe(atom('DOWN'));
    expect(d.elements[4]).toBe(atom('gone'));
    // A monitor of a name that does not exist there: DOWN noproc at once.
    const noproc = await new Promise<Term>((resolve) => {
      ts.spawn(async (self) => {
        self.monitor([atom('nonexisting'), atom(e.name)]);
        resolve(await self.receive({ timeoutMs: 5000 }));
      });
    });
    expect((noproc as Tuple).elements[4]).toBe(atom('noproc'));
    // exit/2 from erl kills a TS process.
    const target = ts.spawn(async (self) => {
      await self.receive();
    });
    await e.eval(`exit(binary_to_term(base64:decode("${encode(target).toString('base64')}")), kill)`);
    await until(() => !ts.processes.isAlive(target), 5000, 'killed');
  });

  it('fires noconnection for links when erl dies', async () => {
    const e = await erlNode('noconn1');
    const ts = await tsNode();
    const erlProc = (await e.eval('spawn(fun() -> receive after infinity -> ok end end)')) as Pid;
    const exit = new Promise<Term>((resolve) => {
      ts.spawn(async (self) => {
        self.trapExit(true);
        self.link(erlProc);
        resolve(await self.receive({ timeoutMs: 10_000 }));
      });
    });
    await until(() => ts.nodes('connected').length === 1, 10_000, 'connected');
    await e.kill('SIGKILL');
    expect(await exit).toEqual(tuple(atom('EXIT'), erlProc, atom('noconnection')));
  });

  it('lets two TS nodes and an erl node meet in our embedded EPMD', async () => {
    const port = await freePort();
    const a = await tsNode({ epmd: 'embedded', epmdPort: port });
    const e = await erlNode('emb1', { epmdPort: port });
    const b = await tsNode({ epmd: 'external', epmdPort: port });
    expect(await a.ping(b.name)).toBe('pong');
    expect(await b.ping(e.name)).toBe('pong');
    expect(await a.ping(e.name)).toBe('pong');
    expect(await e.eval(`[net_adm:ping('${a.name}'), net_adm:ping('${b.name}')]`)).toEqual([
      atom('pong'),
      atom('pong'),
    ]);
  });
});
