/**
 * pg between three TypeScript nodes in this process, over real sockets, with no BEAM: the
 * interop scenarios (join and leave both ways, exits, a node stopping, disconnect and
 * reconnect), subscriptions, broadcast, named scopes, lazy start, hostile messages.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Node } from '../../src/node/node.ts';
import { PgError } from '../../src/services/pg/errors.ts';
import type { PgChange } from '../../src/services/pg/monitor.ts';
import { atom, Pid, Reference, type Term, type Tuple, tuple } from '../../src/term/index.ts';
import { nextEvent, RecordingLogger, until } from '../support/dist-helpers.ts';
import { collector, idle, pidSet, sameMembers, TsCluster, waitMembers } from './support.ts';

const cluster = new TsCluster('pgc');
afterEach(async () => {
  await cluster.stop();
});

async function three(opts: { hidden?: boolean } = {}): Promise<[Node, Node, Node]> {
  const a = await cluster.node(opts);
  const b = await cluster.node(opts);
  const c = await cluster.node(opts);
  // Scopes first, then connections: discovery happens at nodeup.
  for (const n of [a, b, c]) n.groups.default;
  await cluster.mesh();
  await until(() => [a, b, c].every((n) => n.groups.default.peers().length === 2), 10_000, 'peers');
  return [a, b, c];
}

describe.each([
  ['hidden', true],
  ['visible', false],
])('pg across three TS nodes (%s connections)', (_label, hidden) => {
  it('joins and leaves are seen on every node, both ways', async () => {
    const [a, b, c] = await three({ hidden });
    if (!hidden) expect(a.nodes('visible').sort()).toEqual([b.name, c.name].sort());
    const pa = idle(a);
    const pb = idle(b);
    a.groups.join('chat', pa);
    expect(a.groups.members('chat')).toEqual([pa]);
    await waitMembers(() => b.groups.members('chat'), [pa]);
    await waitMembers(() => c.groups.members('chat'), [pa]);
    b.groups.join('chat', [pb, pb]);
    for (const n of [a, b, c]) await waitMembers(() => n.groups.members('chat'), [pa, pb, pb]);
    expect(c.groups.localMembers('chat')).toEqual([]);
    expect(pidSet(b.groups.localMembers('chat'))).toEqual(pidSet([pb, pb]));
    expect(c.groups.whichGroups()).toEqual(['chat']);
    expect(c.groups.whichLocalGroups()).toEqual([]);
    expect(b.groups.leave('chat', pb)).toBe(true);
    for (const n of [a, b, c]) await waitMembers(() => n.groups.members('chat'), [pa, pb]);
    expect(a.groups.leave('chat', pa)).toBe(true);
    expect(a.groups.leave('chat', pa)).toBe(false);
    for (const n of [a, b, c]) await waitMembers(() => n.groups.members('chat'), [pb]);
  });

  it('a member that exits vanishes everywhere', async () => {
    const [a, b, c] = await three({ hidden });
    const p = idle(a);
    a.groups.join(atom('workers'), p);
    a.groups.join(tuple(atom('room'), 7), p);
    for (const n of [b, c]) await waitMembers(() => n.groups.members(atom('workers')), [p]);
    a.send(p, atom('stop'));
    for (const n of [a, b, c]) {
      await waitMembers(() => n.groups.members(atom('workers')), []);
      await waitMembers(() => n.groups.members(tuple(atom('room'), 7)), []);
    }
    expect(b.groups.whichGroups()).toEqual([]);
  });

  it('a node that stops takes its members with it', async () => {
    const [a, b, c] = await three({ hidden });
    const pc = idle(c);
    const pa = idle(a);
    c.groups.join('g', pc);
    a.groups.join('g', pa);
    for (const n of [a, b]) await waitMembers(() => n.groups.members('g'), [pa, pc]);
    await c.stop();
    for (const n of [a, b]) await waitMembers(() => n.groups.members('g'), [pa]);
    expect(a.groups.default.peers()).toHaveLength(1);
  });

  it('a disconnect drops the peer members; the reconnect brings them back', async () => {
    const [a, b, c] = await three({ hidden });
    const pb = idle(b);
    b.groups.join('g', pb);
    await waitMembers(() => a.groups.members('g'), [pb]);
    const down = nextEvent(a, 'nodedown', 5000);
    a.disconnect(b.name);
    await down;
    expect(a.groups.members('g')).toEqual([]);
    // Changes made while apart reach the other side after the reconnect.
    const pa = idle(a);
    a.groups.join('g', pa);
    b.groups.leave('g', pb);
    const pb2 = idle(b);
    b.groups.join('h', pb2);
    // Between visible nodes, global (prevent_overlapping_partitions) may also have parted c from
    // a or b: restore the whole mesh.
    await until(
      async () => {
        await cluster.mesh([a, b, c]).catch(() => undefined);
        return [a, b, c].every((n) => n.nodes('connected').length === 2);
      },
      10_000,
      'mesh restored',
    );
    await waitMembers(() => a.groups.members('g'), [pa]);
    await waitMembers(() => b.groups.members('g'), [pa]);
    await waitMembers(() => a.groups.members('h'), [pb2]);
    await waitMembers(() => c.groups.members('g'), [pa]);
  });
});

describe('pg subscriptions across TS nodes', () => {
  it('monitorScope sees remote joins and leaves as events and through for await', async () => {
    const [a, b] = await three();
    const pa = idle(a);
    a.groups.join('before', pa);
    await waitMembers(() => b.groups.members('before'), [pa]);
    const mon = b.groups.monitorScope();
    expect([...mon.groups.keys()]).toEqual(['before']);
    expect(mon.groups.get('before')).toEqual([pa]);
    const events: Array<[string, Term, readonly Pid[]]> = [];
    mon.on('join', (g, pids) => events.push(['join', g, pids]));
    mon.on('leave', (g, pids) => events.push(['leave', g, pids]));
    const seen: PgChange[] = [];
    const iterating = (async () => {
      for await (const change of mon) {
        seen.push(change);
        if (seen.length === 2) break;
      }
    })();
    a.groups.join('x', [pa, pa]);
    a.groups.leave('x', pa);
    await iterating;
    expect(seen.map((s) => [s.action, s.group, pidSet(s.pids)])).toEqual([
      ['join', 'x', pidSet([pa, pa])],
      ['leave', 'x', pidSet([pa])],
    ]);
    expect(seen[0]?.ref).toBe(mon.ref);
    expect(events.map((e) => e[0])).toEqual(['join', 'leave']);
    expect(mon.demonitor()).toBe(true);
    expect(mon.active).toBe(false);
    a.groups.join('y', pa);
    await waitMembers(() => b.groups.members('y'), [pa]);
    expect(events).toHaveLength(2);
  });

  it('a group monitor for a process gets {Ref, join | leave, Group, Pids}; it ends with the process', async () => {
    const [a, b] = await three();
    const watcher = collector(b);
    const mon = b.groups.monitor('g', { process: watcher.pid });
    expect(mon.members).toEqual([]);
    const pa = idle(a);
    a.groups.join('g', pa);
    a.groups.join('other', pa);
    a.groups.leave('g', pa);
    await until(() => watcher.inbox.length === 2, 5000, 'two notifications');
    const [j, l] = watcher.inbox as Tuple[];
    expect(j?.elements[0]).toBeInstanceOf(Reference);
    expect(j).toEqual(tuple(mon.ref, atom('join'), 'g', [pa]));
    expect(l).toEqual(tuple(mon.ref, atom('leave'), 'g', [pa]));
    const ended = nextEvent(mon, 'end', 5000);
    b.processes.exit(watcher.pid, atom('kill'));
    await ended;
    expect(mon.active).toBe(false);
  });

  it('a listener that joins from inside a notification keeps the peers consistent', async () => {
    const [a, b] = await three();
    const p = idle(a);
    const q = idle(a);
    const mon = a.groups.monitor('g');
    // Join then leave from inside the join notification: peers must see join before leave.
    mon.on('join', (_g, pids) => {
      if (pids[0] === p) {
        a.groups.join('g', q);
        a.groups.leave('g', p);
      }
    });
    a.groups.join('g', p);
    await waitMembers(() => b.groups.members('g'), [q]);
    expect(sameMembers(a.groups.members('g'), [q])).toBe(true);
  });
});

describe('pg scopes and broadcast', () => {
  it('broadcast reaches every member on every node', async () => {
    const [a, b, c] = await three();
    const members = [collector(a), collector(b), collector(b), collector(c)];
    for (const m of members) {
      const node = [a, b, c].find((n) => n.atom === m.pid.node) as Node;
      node.groups.join('all', m.pid);
    }
    for (const n of [a, b, c])
      await waitMembers(
        () => n.groups.members('all'),
        members.map((m) => m.pid),
      );
    expect(c.groups.broadcast('all', tuple(atom('hello'), 1))).toBe(4);
    await until(() => members.every((m) => m.inbox.length === 1), 5000, 'every member got it');
    for (const m of members) expect(m.inbox[0]).toEqual(tuple(atom('hello'), 1));
    expect(a.groups.broadcast('nobody', 1)).toBe(0);
  });

  it('named scopes are separate overlays; the default one is not started by scope(name)', async () => {
    const a = await cluster.node();
    const b = await cluster.node();
    const sa = a.groups.scope('chat_scope');
    const sb = b.groups.scope(atom('chat_scope'));
    expect(a.groups.running().map((s) => s.name)).toEqual([atom('chat_scope')]);
    expect(a.processes.whereis(atom('chat_scope'))).toEqual(sa.pid);
    expect(a.processes.whereis(atom('pg'))).toBeUndefined();
    await cluster.mesh();
    const p = idle(a);
    sa.join('room', p);
    await waitMembers(() => sb.members('room'), [p]);
    expect(b.groups.scope('chat_scope')).toBe(sb);
    // The default scope on b knows nothing of it.
    expect(b.groups.members('room')).toEqual([]);
    expect(a.groups.scope('chat_scope')).toBe(sa);
  });

  it('a scope started after the connection discovers the peers already connected', async () => {
    const a = await cluster.node();
    const b = await cluster.node();
    const pb = idle(b);
    b.groups.join('g', pb);
    await cluster.mesh();
    // a's scope starts only now: its discover at start finds b's scope.
    await waitMembers(() => a.groups.members('g'), [pb]);
    const pa = idle(a);
    a.groups.join('g', pa);
    await waitMembers(() => b.groups.members('g'), [pa, pb]);
  });

  it('a killed scope restarts empty on next use, and peers forget its members', async () => {
    const logger = new RecordingLogger();
    const a = await cluster.node({ logger });
    const b = await cluster.node();
    a.groups.default;
    b.groups.default;
    await cluster.mesh();
    const pa = idle(a);
    a.groups.join('g', pa);
    await waitMembers(() => b.groups.members('g'), [pa]);
    const old = a.groups.default;
    a.processes.exit(old.pid, atom('kill'));
    await waitMembers(() => b.groups.members('g'), []);
    await logger.waitFor('pg_scope_down', 5000);
    expect(() => old.join('g', pa)).toThrow(PgError);
    expect(old.members('g')).toEqual([]);
    const fresh = a.groups.default;
    expect(fresh).not.toBe(old);
    expect(fresh.members('g')).toEqual([]);
    fresh.join('g', pa);
    await waitMembers(() => b.groups.members('g'), [pa]);
  });

  it('rejects remote pids and non-pids; a taken name is name_taken', async () => {
    const [a, b] = await three();
    const pb = idle(b);
    expect(() => a.groups.join('g', pb)).toThrow(expect.objectContaining({ code: 'not_local' }));
    expect(() => a.groups.join('g', [idle(a), pb])).toThrow(expect.objectContaining({ code: 'not_local' }));
    expect(a.groups.members('g')).toEqual([]);
    expect(() => a.groups.join('g', [1 as unknown as Pid])).toThrow(
      expect.objectContaining({ code: 'bad_argument' }),
    );
    expect(() => a.groups.monitor('g', { process: pb })).toThrow(
      expect.objectContaining({ code: 'not_local' }),
    );
    a.spawn(async (self) => self.receive(), { name: atom('taken') });
    expect(() => a.groups.scope('taken')).toThrow(expect.objectContaining({ code: 'name_taken' }));
  });
});

describe('pg scope and hostile peers', () => {
  it('logs malformed and unknown messages with a code and keeps working', async () => {
    const logger = new RecordingLogger();
    const a = await cluster.node({ logger });
    const b = await cluster.node();
    a.groups.default;
    b.groups.default;
    await cluster.mesh();
    await until(() => a.groups.default.peers().length === 1, 5000, 'peer');
    const to = [atom('pg'), atom(a.name)] as const;
    b.send(to, tuple(atom('join'), 42));
    b.send(to, tuple(atom('leave'), b.groups.default.pid, atom('x'), ['g']));
    b.send(to, atom('garbage'));
    b.send(to, tuple(atom('$gen_call'), tuple(idle(b), atom('tag')), atom('which_groups')));
    b.send(to, tuple(atom('discover'), new Pid(atom(a.name), 1, 0, a.creation)));
    await logger.waitFor('pg_malformed', 5000);
    await logger.waitFor('pg_unknown_message', 5000);
    await logger.waitFor('pg_local_peer', 5000);
    expect(
      logger
        .codes('warn')
        .filter((c) => c.startsWith('pg_'))
        .sort(),
    ).toEqual(['pg_local_peer', 'pg_malformed', 'pg_malformed', 'pg_unknown_message', 'pg_unknown_message']);
    const pb = idle(b);
    b.groups.join('still', pb);
    await waitMembers(() => a.groups.members('still'), [pb]);
    expect(a.groups.default.running).toBe(true);
  });
});
