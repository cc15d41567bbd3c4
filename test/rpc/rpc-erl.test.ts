/**
 * RPC interop with real OTP 25 `erl` nodes, both directions: erl calls into a TS node with
 * `rpc:call`, `erpc:call`, `rpc:cast`, `erpc:multicall`, `spawn`, and rex; a TS node calls BEAM
 * functions through SPAWN_REQUEST (erpc) and through rex.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { ControlMessage } from '../../src/dist/control.ts';
import { Node } from '../../src/node/node.ts';
import { RpcError } from '../../src/services/errors.ts';
import { atom, equals, type Pid, type Term, type Tuple, tuple } from '../../src/term/index.ts';
import { until } from '../support/dist-helpers.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { describeErl } from '../support/erl.ts';
import { type ErlNode, startErlNode, stopAllErlNodes } from '../support/erl-node.ts';
import { exposeFixtures, type FixtureProbe, rejection } from './fixtures.ts';

const COOKIE = 'rpc-erl-cookie';

describeErl('rpc interop with erl', () => {
  let epmd: EpmdProcess;
  let ts: Node;
  let probe: FixtureProbe;
  let e: ErlNode;
  let T: string;

  beforeAll(async () => {
    epmd = await startEpmd();
    ts = await Node.start({ name: 'rpcts@127.0.0.1', cookie: COOKIE, epmd: 'external', epmdPort: epmd.port });
    probe = exposeFixtures(ts);
    ts.rpc.expose('erlang', { node: () => ts.atom });
    ts.rpc.expose('Elixir.Greeter', {
      hello: (name: Buffer) => Buffer.from(`hello ${name.toString()}`),
    });
    e = await startErlNode({ name: 'rpcerl@127.0.0.1', cookie: COOKIE, epmdPort: epmd.port });
    T = `'${ts.name}'`;
  }, 60_000);
  afterAll(async () => {
    await ts?.stop();
    await stopAllErlNodes();
    await epmd?.stop();
  });

  // The eval loop keeps bindings between evaluations: `_#` in a variable name becomes a fresh suffix.
  let fresh = 0;
  const ev = (expr: string): Promise<Term> => {
    fresh++;
    return e.eval(expr.replaceAll('_#', `_${fresh}`), 20_000);
  };
  const same = (a: Term, b: Term): boolean => equals(a, b);

  // --- erl calls TS ---

  it('erl: rpc:call and erpc:call return values, sync and async, Elixir module names', async () => {
    expect(await ev(`rpc:call(${T}, fixture, add, [1, 2])`)).toBe(3);
    expect(await ev(`erpc:call(${T}, fixture, async_add, [20, 22])`)).toBe(42);
    expect(await ev(`rpc:call(${T}, fixture, echo, [{a, [1, 2.5], <<"b">>, #{k => v}}])`)).toSatisfy(
      (v: Term) =>
        same(v, tuple(atom('a'), [1, 2.5], Buffer.from('b'), new Map<Term, Term>([[atom('k'), atom('v')]]))),
    );
    expect(await ev(`rpc:call(${T}, 'Elixir.Greeter', hello, [<<"joe">>])`)).toEqual(
      Buffer.from('hello joe'),
    );
    expect(await ev(`erpc:call(${T}, fixture, badrpc, [])`)).toEqual(
      tuple(atom('badrpc'), atom('not_an_error')),
    );
    expect(await ev(`rpc:call(${T}, fixture, nothing, [])`)).toBe(atom('ok'));
  });

  it('erl: throw, exit and error look as they do from a BEAM node', async () => {
    expect(await ev(`rpc:call(${T}, fixture, throws, [oops])`)).toBe(atom('oops'));
    expect(
      await ev(`try erpc:call(${T}, fixture, throws, [oops]) catch throw:V_# -> {thrown, V_#} end`),
    ).toEqual(tuple(atom('thrown'), atom('oops')));
    expect(await ev(`rpc:call(${T}, fixture, exits, [bye])`)).toEqual(
      tuple(atom('badrpc'), tuple(atom('EXIT'), atom('bye'))),
    );
    expect(await ev(`try erpc:call(${T}, fixture, exits, [bye]) catch exit:R_# -> R_# end`)).toEqual(
      tuple(atom('exception'), atom('bye')),
    );
    expect(await ev(`rpc:call(${T}, fixture, errors, [bad])`)).toEqual(
      tuple(
        atom('badrpc'),
        tuple(atom('EXIT'), tuple(atom('bad'), [tuple(atom('fixture'), atom('errors'), 1, [])])),
      ),
    );
    // A JavaScript exception: error {js_error, #{...}} with a stack erl_error can format.
    const text = (await ev(
      `try erpc:call(${T}, fixture, fails, []) catch error:{exception, R_#, S_#} -> iolist_to_binary(erl_error:format_exception(error, R_#, S_#)) end`,
    )) as Buffer;
    expect(text.toString()).toContain('js_error');
    expect(text.toString()).toContain('boom');
    expect(text.toString()).toContain('fixture:fails/0');
    const viaRpc = (await ev(`rpc:call(${T}, fixture, async_fails, [])`)) as Tuple;
    expect(viaRpc.elements[0]).toBe(atom('badrpc'));
  });

  it('erl: undef for missing and unexposed functions and wrong arity, exactly as the BEAM', async () => {
    for (const [m, f, args] of [
      ['fixture', 'nope', '[1]'],
      ['fixture', 'add', '[1, 2, 3]'],
      ['lists', 'reverse', '[[1]]'],
      ['nomod', 'f', '[]'],
    ] as const) {
      const argsTerm = await ev(args);
      expect(await ev(`rpc:call(${T}, ${m}, ${f}, ${args})`)).toSatisfy((v: Term) =>
        same(
          v,
          tuple(
            atom('badrpc'),
            tuple(atom('EXIT'), tuple(atom('undef'), [tuple(atom(m), atom(f), argsTerm, [])])),
          ),
        ),
      );
      expect(
        await ev(`try erpc:call(${T}, ${m}, ${f}, ${args}) catch error:{exception, R_#, _} -> R_# end`),
      ).toBe(atom('undef'));
    }
  });

  it('erl: schema badarg, and the node stays up', async () => {
    const r = (await ev(`rpc:call(${T}, fixture, typed, [1, x])`)) as Tuple;
    const exit = (r.elements[1] as Tuple).elements[1] as Tuple;
    expect(exit.elements[0]).toBe(atom('badarg'));
    const frame = (exit.elements[1] as Tuple[])[0] as Tuple;
    expect(frame.elements.slice(0, 3)).toEqual([atom('fixture'), atom('typed'), [1, atom('x')]]);
    expect(
      await ev(`try erpc:call(${T}, fixture, typed, [1, x]) catch error:{exception, R_#, _} -> R_# end`),
    ).toBe(atom('badarg'));
    expect(await ev(`rpc:call(${T}, fixture, typed, [6, 7])`)).toBe(42);
  });

  it('erl: a timed-out call leaves nothing in the caller mailbox', async () => {
    expect(await ev(`rpc:call(${T}, fixture, sleep, [300], 50)`)).toEqual(
      tuple(atom('badrpc'), atom('timeout')),
    );
    expect(await ev(`try erpc:call(${T}, fixture, sleep, [300], 50) catch error:E_# -> E_# end`)).toEqual(
      tuple(atom('erpc'), atom('timeout')),
    );
    await until(() => ts.rpc.runningCalls === 0, 5000, 'the functions end');
    // One more round trip: anything sent before has arrived.
    expect(await ev(`rpc:call(${T}, fixture, add, [1, 1])`)).toBe(2);
    expect(await ev('process_info(self(), messages)')).toEqual(tuple(atom('messages'), []));
  });

  it('erl: rpc:cast, erpc:multicall, spawn of exposed and unexposed MFAs', async () => {
    const before = probe.recorded.length;
    expect(await ev(`rpc:cast(${T}, fixture, record, [hello])`)).toBe(true);
    expect(await ev(`erpc:cast(${T}, fixture, record, [again])`)).toBe(atom('ok'));
    await probe.waitRecorded(before + 2);
    expect(probe.recorded.slice(before)).toEqual([atom('hello'), atom('again')]);
    expect(await ev(`erpc:multicall([node(), ${T}], erlang, node, [])`)).toEqual([
      tuple(atom('ok'), atom(e.name)),
      tuple(atom('ok'), atom(ts.name)),
    ]);
    const mc = (await ev(`erpc:multicall([${T}, ${T}], fixture, add, [1, 2], 5000)`)) as Term[];
    expect(mc).toEqual([tuple(atom('ok'), 3), tuple(atom('ok'), 3)]);
    expect(await ev(`rpc:multicall([${T}], fixture, add, [2, 2])`)).toEqual(tuple([4], []));
    expect(
      await ev(
        `{P_#, Ref_#} = spawn_monitor(${T}, nomod, nofn, [x]), receive {'DOWN', Ref_#, process, P_#, R_#} -> R_# after 5000 -> timeout end`,
      ),
    ).toEqual(tuple(atom('undef'), [tuple(atom('nomod'), atom('nofn'), [atom('x')], [])]));
    expect(
      await ev(
        `{P2_#, Ref2_#} = spawn_monitor(${T}, fixture, record, [direct]), receive {'DOWN', Ref2_#, process, P2_#, R2_#} -> R2_# after 5000 -> timeout end`,
      ),
    ).toBe(atom('normal'));
    expect(probe.recorded.at(-1)).toBe(atom('direct'));
    // Linked: the exit signal carries the reason, for a function that is done at once (no process
    // runs on the TS side) and for one that returns a promise (a process holds it).
    await ev('process_flag(trap_exit, true)');
    expect(
      await ev(
        `P3_# = spawn_link(${T}, fixture, exits, [bye]), receive {'EXIT', P3_#, R3_#} -> R3_# after 5000 -> timeout end`,
      ),
    ).toBe(atom('bye'));
    expect(
      await ev(
        `P4_# = spawn_link(${T}, fixture, sleep, [10]), receive {'EXIT', P4_#, R4_#} -> R4_# after 5000 -> timeout end`,
      ),
    ).toBe(atom('normal'));
    expect(
      await ev(
        `P5_# = spawn_link(${T}, nomod, nofn, []), receive {'EXIT', P5_#, R5_#} -> element(1, R5_#) after 5000 -> timeout end`,
      ),
    ).toBe(atom('undef'));
    // Its pid is gone for good: a late link is answered noproc.
    expect(
      await ev(
        `P6_# = spawn(${T}, fixture, add, [1, 2]), receive after 50 -> ok end, link(P6_#), receive {'EXIT', P6_#, R6_#} -> R6_# after 5000 -> timeout end`,
      ),
    ).toBe(atom('noproc'));
    await ev('process_flag(trap_exit, false)');
  });

  it('erl: rex answers features_request, gen_server calls and the C-node form', async () => {
    expect(
      await ev(
        `{rex, ${T}} ! {self(), features_request}, receive {features_reply, N_#, L_#} -> {N_#, L_#} after 5000 -> timeout end`,
      ),
    ).toEqual(tuple(atom(ts.name), [atom('erpc')]));
    expect(await ev(`gen_server:call({rex, ${T}}, {call, fixture, add, [1, 2], user})`)).toBe(3);
    expect(await ev(`gen_server:call({rex, ${T}}, {block_call, fixture, add, [2, 2], user})`)).toBe(4);
    expect(await ev(`gen_server:call({rex, ${T}}, {call, fixture, exits, [bye], user})`)).toEqual(
      tuple(atom('badrpc'), tuple(atom('EXIT'), atom('bye'))),
    );
    expect(
      await ev(
        `{rex, ${T}} ! {self(), {call, fixture, add, [3, 3], user}}, receive {rex, R_#} -> R_# after 5000 -> timeout end`,
      ),
    ).toBe(6);
    expect(await ev(`rpc:sbcast([${T}], nobody_here, hi)`)).toEqual(tuple([], [atom(ts.name)]));
  });

  it('erl: past maxConcurrent, calls get system_limit; then they work again', async () => {
    ts.rpc.configure({ maxConcurrent: 2 });
    try {
      await ev(
        `Req1 = erpc:send_request(${T}, fixture, blocked, []), Req2 = erpc:send_request(${T}, fixture, blocked, [])`,
      );
      await until(() => probe.blocked() === 2, 5000, 'two calls held');
      expect(await ev(`rpc:call(${T}, fixture, add, [1, 2])`)).toEqual(
        tuple(atom('badrpc'), tuple(atom('EXIT'), atom('system_limit'))),
      );
      expect(await ev(`try erpc:call(${T}, fixture, add, [1, 2]) catch error:E_# -> E_# end`)).toEqual(
        tuple(atom('erpc'), atom('system_limit')),
      );
      probe.release();
      expect(await ev('{erpc:receive_response(Req1), erpc:receive_response(Req2)}')).toEqual(
        tuple(atom('released'), atom('released')),
      );
      expect(await ev(`rpc:call(${T}, fixture, add, [1, 2])`)).toBe(3);
    } finally {
      ts.rpc.configure({ maxConcurrent: 1024 });
    }
  });

  // --- TS calls erl ---

  it('TS: calls BEAM functions through erpc and through rex', async () => {
    for (const via of ['erpc', 'rex'] as const) {
      expect(await ts.rpc.call(e.name, 'erlang', 'node', [], { via })).toBe(atom(e.name));
      expect(await ts.rpc.call(e.name, 'lists', 'reverse', [[1, 2, 3]], { via })).toEqual([3, 2, 1]);
      // Output of remote code goes to our group leader, which does not block it.
      expect(await ts.rpc.call(e.name, 'io', 'format', ['hi~n'], { via })).toBe(atom('ok'));
      const err = await rejection(ts.rpc.call(e.name, 'erlang', 'error', [atom('boom')], { via }));
      expect(err).toMatchObject({ code: 'exception', class: 'error', reason: atom('boom') });
      const top = (err.stacktrace as Tuple[])[0] as Tuple;
      expect(top.elements.slice(0, 2)).toEqual([atom('erlang'), atom('error')]);
      expect(await rejection(ts.rpc.call(e.name, 'erlang', 'exit', [atom('bye')], { via }))).toMatchObject({
        code: 'exception',
        class: 'exit',
        reason: atom('bye'),
      });
      expect((await rejection(ts.rpc.call(e.name, 'nomod', 'nofn', [1], { via }))).code).toBe('undef');
    }
    expect(await rejection(ts.rpc.call(e.name, 'erlang', 'throw', [atom('t')]))).toMatchObject({
      code: 'exception',
      class: 'throw',
      reason: atom('t'),
    });
    // rex returns a thrown value as the result.
    expect(await ts.rpc.call(e.name, 'erlang', 'throw', [atom('t')], { via: 'rex' })).toBe(atom('t'));
  });

  it('TS: a returned {badrpc, _} is a value; Elixir modules by name', async () => {
    expect(await ts.rpc.call(e.name, 'erlang', 'list_to_tuple', [[atom('badrpc'), atom('x')]])).toEqual(
      tuple(atom('badrpc'), atom('x')),
    );
    const elixir = (await ev(`code:which('Elixir.Enum')`)) !== atom('non_existing');
    if (elixir) {
      expect(await ts.rpc.call(e.name, 'Elixir.Enum', 'count', [[1, 2]])).toBe(2);
    } else {
      const u = await rejection(ts.rpc.call(e.name, 'Elixir.Enum', 'count', [[1, 2]]));
      expect(u.code).toBe('undef');
      expect(u.module).toBe(atom('Elixir.Enum'));
      expect(((u.stacktrace as Tuple[])[0] as Tuple).elements.slice(0, 3)).toEqual([
        atom('Elixir.Enum'),
        atom('count'),
        [[1, 2]],
      ]);
    }
  });

  it('TS: times out, and the late result reaches nobody', async () => {
    await ts.rpc.call(e.name, 'erlang', 'node', []);
    const seen: ControlMessage[] = [];
    const original = ts.onControl.bind(ts);
    const spy = vi.spyOn(ts, 'onControl').mockImplementation((conn, msg) => {
      seen.push(msg);
      original(conn, msg);
    });
    try {
      const t = await rejection(ts.rpc.call(e.name, 'timer', 'sleep', [300], { timeoutMs: 50 }));
      expect(t.code).toBe('timeout');
      // Started after the first and ends after it: the first's result, if sent, has arrived.
      expect(await ts.rpc.call(e.name, 'timer', 'sleep', [400], { timeoutMs: 5000 })).toBe(atom('ok'));
      // The second call's DOWN, and the first's only if erl sent it before our demonitor reached
      // it (a spawn reply later than the timeout, on a loaded machine); either way it reaches no
      // caller: nothing is pending and the first call stayed a timeout.
      const downs = seen.filter((m) => m.kind === 'monitor_exit').length;
      expect(downs).toBeGreaterThanOrEqual(1);
      expect(downs).toBeLessThanOrEqual(2);
      expect(ts.rpc.pendingCalls).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });

  it('TS: multicall, cast, nodedown', async () => {
    const results = await ts.rpc.multicall([e.name, ts.name, 'nobody@127.0.0.1'], 'erlang', 'node', []);
    expect(results.map((r) => (r.ok ? r.value : r.error.code))).toEqual([
      atom(e.name),
      atom(ts.name),
      'nodedown',
    ]);
    const got = new Promise<Term>((resolve) => {
      const pid: Pid = ts.spawn(async (self) => resolve(await self.receive()));
      void ts.rpc.cast(e.name, 'erlang', 'send', [pid, atom('hi')]);
    });
    expect(await got).toBe(atom('hi'));
  });

  it('TS: noconnection when the erl node dies mid-call', async () => {
    const e2 = await startErlNode({ name: 'rpcerl2@127.0.0.1', cookie: COOKIE, epmdPort: epmd.port });
    const call = ts.rpc.call(e2.name, 'timer', 'sleep', [10_000], { timeoutMs: 20_000 });
    const failed = rejection(call);
    await until(() => ts.rpc.pendingCalls === 1, 5000, 'call sent');
    await e2.kill();
    const err = await failed;
    expect(err.code).toBe('noconnection');
    expect(err).toBeInstanceOf(RpcError);
    expect(ts.rpc.pendingCalls).toBe(0);
  });
});
