/**
 * Interop of the global registry with real OTP 25 `erl` nodes (private EPMD): a visible TS node
 * takes part in `global` as a peer of BEAM nodes.
 */
import { expect, it } from 'vitest';
import type { Node } from '../../src/node/node.ts';
import type { NodeOptions } from '../../src/node/options.ts';
import { atom, equals, Pid, type Term, tuple } from '../../src/term/index.ts';
import { useTestCluster } from '../support/cluster.ts';
import { until } from '../support/dist-helpers.ts';
import { describeErl } from '../support/erl.ts';
import type { ErlNode } from '../support/erl-node.ts';

const COOKIE = 'global-cookie';
const TICK_SEC = 4;

describeErl('global with erl', () => {
  const cluster = useTestCluster({ cookie: COOKIE, prefix: 'ts', netTicktimeMs: TICK_SEC * 1000 });
  let seq = 0;

  const tsNode = (prefix = 'ts', opts: Partial<NodeOptions> = {}): Promise<Node> =>
    cluster.tsNode({ name: `${prefix}${++seq}@127.0.0.1`, hidden: false, ...opts });
  const erlNode = (name: string): Promise<ErlNode> => cluster.erlNode(`${name}${++seq}`);

  /** A TS process that stays alive until told `stop`, recording what it receives. */
  function tsProc(node: Node, inbox: Term[] = []): Pid {
    return node.spawn(async (self) => {
      for (;;) {
        const m = await self.receive();
        inbox.push(m);
        if (m === atom('stop')) return;
      }
    });
  }

  it('connects visible: global:sync() returns on erl, names cross both ways', async () => {
    const e = await erlNode('a');
    const ts = await tsNode();
    const p = tsProc(ts);
    expect(await ts.global.register(atom('ts_name'), p)).toBe(true);
    await e.eval(`PA = spawn(fun() -> receive stop -> ok end end), yes = global:register_name(name_a, PA)`);
    await ts.connect(e.name);
    const t0 = Date.now();
    expect(await e.eval('global:sync()', 10_000)).toBe(atom('ok'));
    const syncMs = Date.now() - t0;
    expect(syncMs).toBeLessThan(5000);
    await ts.global.sync();
    const pa = await e.eval('PA');
    expect(equals(ts.global.whereis(atom('name_a')) ?? atom('undefined'), pa)).toBe(true);
    expect(equals(await e.eval('global:whereis_name(ts_name)'), p)).toBe(true);
    expect(ts.global.knownNodes()).toEqual([e.name]);
  });

  it('global:send from erl reaches a TS name, TS send reaches an erl name; deaths remove names everywhere', async () => {
    const e = await erlNode('a');
    const ts = await tsNode();
    const inbox: Term[] = [];
    const p = tsProc(ts, inbox);
    await ts.connect(e.name);
    expect(await e.eval('global:sync()', 10_000)).toBe(atom('ok'));
    // TS registers while connected: the registration goes through erl's global_name_server.
    expect(await ts.global.register(atom('ts_svc'), p)).toBe(true);
    expect(equals(await e.eval('global:whereis_name(ts_svc)'), p)).toBe(true);
    await e.eval('global:send(ts_svc, {hello, node()})');
    await until(() => inbox.length > 0, 5000, 'the message from erl');
    expect(inbox[0]).toEqual(expect.objectContaining({ elements: [atom('hello'), atom(e.name)] }));
    // erl registers its REPL process; TS sends to it.
    await e.eval('yes = global:register_name(erl_shell, self())');
    const shell = ts.global.whereis(atom('erl_shell'));
    expect(shell).toBeInstanceOf(Pid);
    ts.global.send(atom('erl_shell'), atom('from_ts'));
    expect(await e.eval('receive M -> M after 5000 -> timeout end')).toBe(atom('from_ts'));
    // A TS owner dies: erl's monitor removes the name (MONITOR_P_EXIT), ours too.
    ts.send(p, atom('stop'));
    await until(
      async () => (await e.eval('global:whereis_name(ts_svc)')) === atom('undefined'),
      5000,
      'erl drops ts_svc',
    );
    await until(() => ts.global.whereis(atom('ts_svc')) === undefined, 5000, 'TS drops ts_svc');
    // An erl owner dies: our monitor removes it.
    await e.eval('PX = spawn(fun() -> receive stop -> ok end end), yes = global:register_name(erl_x, PX)');
    expect(ts.global.whereis(atom('erl_x'))).toBeInstanceOf(Pid);
    await e.eval('PX ! stop');
    await until(() => ts.global.whereis(atom('erl_x')) === undefined, 5000, 'TS drops erl_x');
    // Unregistration both ways.
    await e.eval('ok = global:unregister_name(erl_shell)');
    expect(ts.global.whereis(atom('erl_shell'))).toBeUndefined();
    const q = tsProc(ts);
    expect(await ts.global.register('bin_name', q)).toBe(true);
    expect(equals(await e.eval('global:whereis_name(<<"bin_name">>)'), q)).toBe(true);
    await ts.global.unregister('bin_name');
    expect(await e.eval('global:whereis_name(<<"bin_name">>)')).toBe(atom('undefined'));
    expect(await ts.global.register('bin_name', q)).toBe(true);
    expect(await ts.global.register('bin_name', p)).toBe(false);
  });

  it('joins an existing BEAM cluster: every name merges, sync returns on every BEAM node', async () => {
    const a = await erlNode('a');
    const b = await erlNode('b');
    expect(await a.eval(`net_adm:ping('${b.name}')`)).toBe(atom('pong'));
    await a.eval(
      'ok = global:sync(), PA = spawn(fun() -> receive stop -> ok end end), yes = global:register_name(name_a, PA)',
    );
    await b.eval(
      'ok = global:sync(), PB = spawn(fun() -> receive stop -> ok end end), yes = global:register_name(name_b, PB)',
    );
    const ts = await tsNode();
    const p = tsProc(ts);
    expect(await ts.global.register(atom('name_ts'), p)).toBe(true);
    await ts.connect(a.name);
    const t0 = Date.now();
    expect(await a.eval('global:sync()', 10_000)).toBe(atom('ok'));
    await until(
      async () => (await b.eval('lists:member(global:whereis_name(name_ts), [undefined])')) === false,
      10_000,
      'b sees name_ts',
    );
    expect(await b.eval('global:sync()', 10_000)).toBe(atom('ok'));
    expect(Date.now() - t0).toBeLessThan(5000);
    await until(() => ts.nodes().length === 2, 5000, 'ts connected to both');
    await ts.global.sync();
    expect(ts.nodes().sort()).toEqual([a.name, b.name].sort());
    expect(ts.global.knownNodes().sort()).toEqual([a.name, b.name].sort());
    expect(equals(ts.global.whereis(atom('name_a')) ?? atoms0, await a.eval('PA'))).toBe(true);
    expect(equals(ts.global.whereis(atom('name_b')) ?? atoms0, await b.eval('PB'))).toBe(true);
    expect(equals(await b.eval('global:whereis_name(name_ts)'), p)).toBe(true);
    // A registration from TS reaches both BEAM nodes.
    const q = tsProc(ts);
    expect(await ts.global.register(atom('name_ts2'), q)).toBe(true);
    expect(equals(await a.eval('global:whereis_name(name_ts2)'), q)).toBe(true);
    expect(equals(await b.eval('global:whereis_name(name_ts2)'), q)).toBe(true);
  });

  it("a clash resolved by erl (the smaller name) kills the TS pid and keeps erl's everywhere", async () => {
    const e = await erlNode('a');
    const ts = await tsNode('ts');
    const inbox: Term[] = [];
    const p = tsProc(ts, inbox);
    expect(await ts.global.register(atom('clash'), p)).toBe(true);
    await e.eval('PC = spawn(fun() -> receive stop -> ok end end), yes = global:register_name(clash, PC)');
    await ts.connect(e.name);
    expect(await e.eval('global:sync()', 10_000)).toBe(atom('ok'));
    await ts.global.sync();
    const pc = await e.eval('PC');
    // random_exit_name: the pid on the greater node name (ts > a) is killed.
    await until(() => !ts.processes.isAlive(p), 5000, 'the TS pid is killed');
    expect(equals(ts.global.whereis(atom('clash')) ?? atoms0, pc)).toBe(true);
    expect(equals(await e.eval('global:whereis_name(clash)'), pc)).toBe(true);
  });

  it("a clash resolved by TS (the smaller name) with random_notify: erl's pid is told and loses the name", async () => {
    const e = await erlNode('z');
    const ts = await tsNode('aats');
    const p = tsProc(ts);
    expect(await ts.global.register(atom('clash'), p, { onConflict: 'random_notify' })).toBe(true);
    await e.eval(
      'Me = self(), PZ = spawn(fun() -> receive M -> Me ! {got, M} end end), yes = global:register_name(clash, PZ)',
    );
    await ts.connect(e.name);
    expect(await e.eval('global:sync()', 10_000)).toBe(atom('ok'));
    await ts.global.sync();
    expect(equals(ts.global.whereis(atom('clash')) ?? atoms0, p)).toBe(true);
    expect(equals(await e.eval('global:whereis_name(clash)'), p)).toBe(true);
    const got = await e.eval('receive {got, M} -> M after 5000 -> timeout end');
    expect(got).toEqual(expect.objectContaining({ elements: [atom('global_name_conflict'), atom('clash')] }));
    expect(ts.processes.isAlive(p)).toBe(true);
  });

  it('a clash decided on a BEAM node with our pid runs our resolver through erpc (resolve_it)', async () => {
    const a = await erlNode('a');
    const b = await erlNode('b');
    const ts = await tsNode('ts');
    const p = tsProc(ts);
    const calls: Term[][] = [];
    expect(
      await ts.global.register(atom('clash'), p, {
        onConflict: (name, pid1, pid2) => {
          calls.push([name, pid1, pid2]);
          return pid2.node === ts.atom ? pid2 : pid1;
        },
      }),
    ).toBe(true);
    await ts.connect(a.name);
    expect(await a.eval('global:sync()', 10_000)).toBe(atom('ok'));
    await b.eval('PB = spawn(fun() -> receive stop -> ok end end), yes = global:register_name(clash, PB)');
    // a < b: a resolves; its entry for clash is our pid, so it asks us (rpc:call to ts).
    expect(await a.eval(`net_adm:ping('${b.name}')`)).toBe(atom('pong'));
    expect(await a.eval('global:sync()', 10_000)).toBe(atom('ok'));
    await until(() => calls.length > 0, 5000, 'our resolver runs');
    expect(calls[0]![0]).toBe(atom('clash'));
    await until(
      async () => equals(await b.eval('global:whereis_name(clash)'), p),
      10_000,
      'b adopts our pid',
    );
    expect(equals(await a.eval('global:whereis_name(clash)'), p)).toBe(true);
    await until(() => ts.global.whereis(atom('clash')) !== undefined, 5000, 'ts keeps clash');
    expect(equals(ts.global.whereis(atom('clash'))!, p)).toBe(true);
  });

  it('set_lock, del_lock and trans exclude each other between erl and TS', async () => {
    const e = await erlNode('a');
    const ts = await tsNode();
    await ts.connect(e.name);
    expect(await e.eval('global:sync()', 10_000)).toBe(atom('ok'));
    const id = [atom('res1'), atom('ts_req')] as const;
    expect(await ts.global.setLock(id, undefined, 0)).toBe(true);
    expect(await e.eval('global:set_lock({res1, self()}, [node() | nodes()], 0)')).toBe(false);
    expect(await e.eval('global:trans({res1, self()}, fun() -> ran end, [node() | nodes()], 0)')).toBe(
      atom('aborted'),
    );
    await ts.global.delLock(id);
    expect(await e.eval('global:set_lock({res1, self()}, [node() | nodes()], 0)')).toBe(true);
    expect(await ts.global.setLock(id, undefined, 0)).toBe(false);
    expect(await ts.global.trans(id, () => 'ran', undefined, 0)).toBe('aborted');
    // erl releases while our retrying set_lock waits: we get it.
    const waiting = ts.global.setLock(id, undefined, 20);
    await e.eval('global:del_lock({res1, self()})');
    expect(await waiting).toBe(true);
    await ts.global.delLock(id);
    expect(await ts.global.trans(id, () => 'ran')).toBe('ran');
    // The same requester id shares the lock (OTP: several pids may hold one lock).
    await e.eval(
      'EP = spawn(fun() -> true = global:set_lock({res2, shared}), receive stop -> global:del_lock({res2, shared}) end end)',
    );
    await until(
      async () => !(await ts.global.setLock([atom('res2'), atom('other')], undefined, 0)),
      5000,
      'erl holds res2',
    );
    expect(await ts.global.setLock([atom('res2'), atom('shared')], undefined, 0)).toBe(true);
  });

  it('registrations from TS and erl interleave when an erl node is the boss (our release is pipelined)', async () => {
    // Node names decide the boss (the greatest): z > b > a. TS registers back to back while erl
    // registers too; our registrar does not wait for the boss's answer to its del_lock, so the
    // boss must still have freed our lock before it grants it again, or everyone stalls.
    const z = await erlNode('z');
    const b = await erlNode('b');
    const ts = await tsNode('a');
    expect(await z.eval(`net_adm:ping('${b.name}')`)).toBe(atom('pong'));
    await ts.connect(z.name);
    await until(() => ts.nodes().length === 2, 10_000, 'ts meshed with z and b');
    expect(await z.eval('global:sync()', 10_000)).toBe(atom('ok'));
    expect(await b.eval('global:sync()', 10_000)).toBe(atom('ok'));
    await ts.global.sync();
    const N = 40;
    const erlDone = b.eval(
      `lists:foreach(fun(I) -> yes = global:register_name({erl_n, I}, spawn(fun() -> receive stop -> ok end end)) end, lists:seq(1, ${N})), done`,
      30_000,
    );
    const pids: Pid[] = [];
    for (let i = 1; i <= N; i++) {
      const p = tsProc(ts);
      pids.push(p);
      expect(await ts.global.register(tuple(atom('ts_n'), i), p)).toBe(true);
    }
    expect(await erlDone).toBe(atom('done'));
    // Every name everywhere, and no lock left behind on any node.
    expect(
      await z.eval(`length([x || I <- lists:seq(1, ${N}), is_pid(global:whereis_name({ts_n, I}))])`),
    ).toBe(N);
    expect(
      await b.eval(`length([x || I <- lists:seq(1, ${N}), is_pid(global:whereis_name({ts_n, I}))])`),
    ).toBe(N);
    for (let i = 1; i <= N; i++) expect(ts.global.whereis(tuple(atom('erl_n'), i))).toBeInstanceOf(Pid);
    expect(equals(await z.eval(`global:whereis_name({ts_n, ${N}})`), pids[N - 1]!)).toBe(true);
    await until(
      async () => (await z.eval('length(ets:tab2list(global_locks))')) === 0,
      5000,
      'z holds no lock',
    );
    expect(await b.eval('length(ets:tab2list(global_locks))')).toBe(0);
    // Unregistration takes the same path.
    for (let i = 1; i <= N; i++) await ts.global.unregister(tuple(atom('ts_n'), i));
    expect(
      await b.eval(`length([x || I <- lists:seq(1, ${N}), is_pid(global:whereis_name({ts_n, I}))])`),
    ).toBe(0);
    expect(await z.eval('length(ets:tab2list(global_locks))')).toBe(0);
  });

  it('prevents overlapping partitions, then a heal with the same name on both sides leaves one owner everywhere', async () => {
    const a = await erlNode('a');
    const b = await erlNode('b');
    const ts = await tsNode('ts');
    expect(await a.eval(`net_adm:ping('${b.name}')`)).toBe(atom('pong'));
    await a.eval('ok = global:sync()');
    await ts.connect(a.name);
    await until(() => ts.nodes().length === 2, 10_000, 'ts meshed with a and b');
    expect(await a.eval('global:sync()', 10_000)).toBe(atom('ok'));
    expect(await b.eval('global:sync()', 10_000)).toBe(atom('ok'));
    await ts.global.sync();
    expect(ts.global.knownNodes().sort()).toEqual([a.name, b.name].sort());
    // a drops b: lost_connection reaches everyone; every node drops the other two (OTP's outcome).
    await a.eval(`erlang:disconnect_node('${b.name}')`);
    await until(() => ts.nodes().length === 0 && ts.global.knownNodes().length === 0, 10_000, 'ts isolated');
    // While apart, ts and b each register `heal`.
    const p = tsProc(ts);
    expect(await ts.global.register(atom('heal'), p)).toBe(true);
    await b.eval('HP = spawn(fun() -> receive stop -> ok end end), yes = global:register_name(heal, HP)');
    // Heal: ts meets b (b < ts: b resolves; random_exit kills the pid on the greater node, ts).
    await ts.connect(b.name);
    expect(await b.eval('global:sync()', 10_000)).toBe(atom('ok'));
    await ts.global.sync();
    const hp = await b.eval('HP');
    await until(() => equals(ts.global.whereis(atom('heal')) ?? atoms0, hp), 5000, "ts adopts b's pid");
    await until(() => !ts.processes.isAlive(p), 5000, 'the losing TS pid is killed');
    expect(await b.eval('is_process_alive(HP)')).toBe(true);
    // a joins again: all three agree on one owner.
    expect(await a.eval(`net_adm:ping('${b.name}')`)).toBe(atom('pong'));
    expect(await a.eval('global:sync()', 10_000)).toBe(atom('ok'));
    await until(() => ts.nodes().length === 2, 10_000, 'ts meshed again');
    await ts.global.sync();
    expect(equals(await a.eval('global:whereis_name(heal)'), hp)).toBe(true);
    expect(equals(await b.eval('global:whereis_name(heal)'), hp)).toBe(true);
    expect(equals(ts.global.whereis(atom('heal')) ?? atoms0, hp)).toBe(true);
  });
});

const atoms0 = atom('undefined');
