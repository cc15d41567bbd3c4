/**
 * pg interop with real OTP 25 nodes (`-kernel start_pg true`, plus a scope started with
 * `pg:start/1`), with the TS node connected hidden (the TS side discovers: a BEAM scope never
 * discovers hidden nodes) and visible (both sides discover). Each scenario also checks that the
 * BEAM's scope processes are the ones it started with: a message of ours it did not expect
 * would have crashed them.
 */
import { expect, it } from 'vitest';
import type { Node } from '../../src/node/node.ts';
import { atom, type Pid, type Term, Tuple } from '../../src/term/index.ts';
import { useTestCluster } from '../support/cluster.ts';
import { until } from '../support/dist-helpers.ts';
import { describeErl } from '../support/erl.ts';
import type { ErlNode } from '../support/erl-node.ts';
import { idle, pidSet, sameMembers, waitMembers } from './support.ts';

const COOKIE = 'pg-interop';

describeErl('pg interop with erl', () => {
  const cluster = useTestCluster({ cookie: COOKIE, prefix: 'pgts', netTicktimeMs: 4000 });
  let seq = 0;

  const tsNode = (hidden: boolean): Promise<Node> => cluster.tsNode({ hidden });

  async function erlNode(): Promise<ErlNode> {
    const e = await cluster.erlNode(`pgerl${++seq}`, { args: ['-kernel', 'start_pg', 'true'] });
    await e.eval('{ok, _} = pg:start(my_scope), ok');
    return e;
  }

  /** Polls `expr` on erl until it gives a pid list equal (as a multiset) to `want`. */
  async function erlMembers(e: ErlNode, expr: string, want: readonly Pid[], ms = 10_000): Promise<void> {
    let last: Term = [];
    try {
      await until(
        async () => {
          last = await e.eval(expr);
          return Array.isArray(last) && sameMembers(last as Pid[], want);
        },
        ms,
        expr,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}: have ${pidSet(last as Pid[])}; want ${pidSet(want)}`);
    }
  }

  for (const [label, hidden] of [
    ['hidden', true],
    ['visible', false],
  ] as const) {
    it(`${label}: joins, leaves and exits both ways, monitors both ways, two scopes`, async () => {
      const e = await erlNode();
      const scopesBefore = await e.eval('{whereis(pg), whereis(my_scope)}');
      const ts = await tsNode(hidden);
      // Our default scope starts before the connection, the named one after it.
      ts.groups.default;
      await ts.connect(e.name);
      if (!hidden) expect(await e.eval('nodes()')).toEqual([atom(ts.name)]);
      else expect(await e.eval('nodes(hidden)')).toEqual([atom(ts.name)]);
      const mine = ts.groups.scope('my_scope');
      await until(() => ts.groups.default.peers().length === 1 && mine.peers().length === 1, 10_000, 'peers');

      // erl watches the whole default scope and one group of my_scope.
      await e.eval('{ScopeRef, #{}} = pg:monitor_scope(), {GroupRef, []} = pg:monitor(my_scope, room), ok');

      // TS joins: erl sees the pid (a JS string is a binary there).
      const p1 = idle(ts);
      const p2 = idle(ts);
      ts.groups.join('chat', p1);
      mine.join(atom('room'), [p1, p2]);
      await erlMembers(e, 'pg:get_members(<<"chat">>)', [p1]);
      await erlMembers(e, 'pg:get_members(my_scope, room)', [p1, p2]);
      expect(await e.eval('pg:get_local_members(<<"chat">>)')).toEqual([]);
      expect(await e.eval('receive {ScopeRef, join, G, Ps} -> {G, Ps} after 5000 -> timeout end')).toEqual(
        new Tuple([Buffer.from('chat'), [p1]]),
      );
      expect(
        await e.eval('receive {GroupRef, join, G2, Ps2} -> {G2, Ps2} after 5000 -> timeout end'),
      ).toEqual(new Tuple([atom('room'), [p1, p2]]));

      // erl joins: TS sees it, groups come back as strings, and TS monitors see it.
      const watch = ts.groups.monitor('chat');
      const joins: Array<readonly Pid[]> = [];
      watch.on('join', (_g, pids) => joins.push(pids));
      const e1 = (await e.eval('E1 = spawn(fun() -> receive stop -> ok end end)')) as Pid;
      const e2 = (await e.eval('E2 = spawn(fun() -> receive stop -> ok end end)')) as Pid;
      await e.eval('ok = pg:join(<<"chat">>, E1), ok = pg:join(my_scope, room, [E2, E2]), ok');
      await waitMembers(() => ts.groups.members('chat'), [p1, e1]);
      await waitMembers(() => mine.members(atom('room')), [p1, p2, e2, e2]);
      expect(ts.groups.localMembers('chat')).toEqual([p1]);
      expect(ts.groups.whichGroups()).toEqual(['chat']);
      expect(joins.map(pidSet)).toEqual([pidSet([e1])]);

      // Leaves both ways.
      expect(mine.leave(atom('room'), p2)).toBe(true);
      await erlMembers(e, 'pg:get_members(my_scope, room)', [p1, e2, e2]);
      await e.eval('ok = pg:leave(my_scope, room, E2), ok');
      await waitMembers(() => mine.members(atom('room')), [p1, e2]);

      // A TS process exits: erl sees it gone from every group; an erl process exits: TS sees it gone.
      ts.send(p1, atom('stop'));
      await erlMembers(e, 'pg:get_members(<<"chat">>)', [e1]);
      await erlMembers(e, 'pg:get_members(my_scope, room)', [e2]);
      await e.eval('E1 ! stop, ok');
      await waitMembers(() => ts.groups.members('chat'), []);
      expect(
        await e.eval('receive {ScopeRef, leave, <<"chat">>, Ps3} -> Ps3 after 5000 -> timeout end'),
      ).toEqual([p1]);

      // The BEAM's scopes never crashed on anything we sent.
      expect(await e.eval('{whereis(pg), whereis(my_scope)}')).toEqual(scopesBefore);
    }, 60_000);

    it(`${label}: an erl node killed with SIGKILL: its members vanish on the TS side`, async () => {
      const e = await erlNode();
      const ts = await tsNode(hidden);
      await ts.connect(e.name);
      const ep = (await e.eval(
        'P = spawn(fun() -> receive stop -> ok end end), ok = pg:join(g, P), P',
      )) as Pid;
      await waitMembers(() => ts.groups.members(atom('g')), [ep]);
      const pt = idle(ts);
      ts.groups.join(atom('g'), pt);
      await erlMembers(e, 'pg:get_members(g)', [ep, pt]);
      await e.kill('SIGKILL');
      await waitMembers(() => ts.groups.members(atom('g')), [pt]);
      expect(ts.groups.default.peers()).toEqual([]);
    }, 60_000);

    it(`${label}: a TS node that stops: its members vanish on erl`, async () => {
      const e = await erlNode();
      const ts = await tsNode(hidden);
      const other = await tsNode(hidden);
      await ts.connect(e.name);
      await other.connect(e.name);
      const pt = idle(ts);
      const po = idle(other);
      ts.groups.join(atom('g'), pt);
      other.groups.join(atom('g'), po);
      await erlMembers(e, 'pg:get_members(g)', [pt, po]);
      const scopeBefore = await e.eval('whereis(pg)');
      await ts.stop();
      await erlMembers(e, 'pg:get_members(g)', [po]);
      expect(await e.eval('whereis(pg)')).toEqual(scopeBefore);
    }, 60_000);
  }
});
