/**
 * The global registry among TypeScript nodes only (real nodes over loopback, one OS process):
 * the same protocol as with BEAM nodes, both lockers active.
 */
import { describe, expect, it } from 'vitest';
import type { Node } from '../../src/node/node.ts';
import { atom, equals, type Pid, type Term, Tuple } from '../../src/term/index.ts';
import { useTestCluster } from '../support/cluster.ts';
import { until } from '../support/dist-helpers.ts';

const COOKIE = 'global-ts';

describe('global among TS nodes', () => {
  const cluster = useTestCluster({ cookie: COOKIE, prefix: 't', netTicktimeMs: 4000 });
  let seq = 0;

  async function nodes(n: number, prefix = 't'): Promise<Node[]> {
    const out: Node[] = [];
    for (let i = 0; i < n; i++) {
      out.push(await cluster.tsNode({ name: `${prefix}${++seq}@127.0.0.1`, hidden: false }));
    }
    return out;
  }

  function proc(node: Node, inbox: Term[] = []): Pid {
    return node.spawn(async (self) => {
      for (;;) {
        const m = await self.receive();
        inbox.push(m);
        if (m === atom('stop')) return;
      }
    });
  }

  async function meshed(all: readonly Node[]): Promise<void> {
    await until(
      () =>
        all.every(
          (n) => n.global.knownNodes().length === all.length - 1 && n.nodes().length === all.length - 1,
        ),
      15_000,
      'a full mesh where every node knows every other',
    );
    await Promise.all(all.map((n) => n.global.sync()));
  }

  /** Four nodes as two partitions, each synced: {a, b} and {c, d}. */
  async function partitions(): Promise<Node[]> {
    const [a, b, c, d] = await nodes(4);
    await b!.connect(a!.name);
    await d!.connect(c!.name);
    await meshed([a!, b!]);
    await meshed([c!, d!]);
    return [a!, b!, c!, d!];
  }

  it('five nodes mesh through one seed; names registered anywhere are seen everywhere', async () => {
    const all = await nodes(5);
    const pids = all.map((n) => proc(n));
    for (let i = 0; i < all.length; i++)
      expect(await all[i]!.global.register(atom(`n${i}`), pids[i]!)).toBe(true);
    for (const n of all.slice(1)) await n.connect(all[0]!.name);
    await meshed(all);
    for (const n of all) {
      for (let i = 0; i < all.length; i++)
        expect(equals(n.global.whereis(atom(`n${i}`)) ?? atom('undefined'), pids[i]!)).toBe(true);
    }
    // A registration after the mesh reaches all; a death removes the name everywhere.
    const late = proc(all[3]!);
    expect(await all[3]!.global.register('late', late)).toBe(true);
    for (const n of all) expect(equals(n.global.whereis('late') ?? atom('undefined'), late)).toBe(true);
    all[3]!.send(late, atom('stop'));
    await until(() => all.every((n) => n.global.whereis('late') === undefined), 5000, 'late gone everywhere');
    // A name cannot be taken twice; unregister frees it everywhere.
    expect(await all[1]!.global.register('late', proc(all[1]!))).toBe(true);
    expect(await all[2]!.global.register('late', proc(all[2]!))).toBe(false);
    await all[4]!.global.unregister('late');
    for (const n of all) expect(n.global.whereis('late')).toBeUndefined();
  });

  it('a partition heal with the same name on both sides keeps exactly one owner', async () => {
    const [a, b, c, d] = await partitions();
    const pb = proc(b!);
    const pd = proc(d!);
    const notified: Term[] = [];
    const pc = proc(c!, notified);
    expect(await b!.global.register(atom('x'), pb)).toBe(true);
    expect(await d!.global.register(atom('x'), pd)).toBe(true);
    expect(await a!.global.register(atom('y'), proc(a!), { onConflict: 'notify_all' })).toBe(true);
    expect(await c!.global.register(atom('y'), pc, { onConflict: 'notify_all' })).toBe(true);
    await a!.connect(c!.name);
    await meshed([a!, b!, c!, d!]);
    const owner = a!.global.whereis(atom('x'));
    expect(owner).toBeDefined();
    for (const n of [a!, b!, c!, d!])
      expect(equals(n.global.whereis(atom('x')) ?? atom('undefined'), owner!)).toBe(true);
    // random_exit: the loser (pid on the greater node name) is killed, the winner lives.
    const loser = equals(owner!, pb) ? pd : pb;
    await until(
      () => !(loser.node === b!.atom ? b! : d!).processes.isAlive(loser),
      5000,
      'the loser is killed',
    );
    // notify_all: the name is gone everywhere and both owners are told.
    for (const n of [a!, b!, c!, d!]) expect(n.global.whereis(atom('y'))).toBeUndefined();
    await until(() => notified.length > 0, 5000, 'c is notified');
    expect(notified[0]).toEqual(
      expect.objectContaining({
        elements: expect.arrayContaining([atom('global_name_conflict'), atom('y')]),
      }),
    );
  });

  it("a heal's new_nodes casts leave before the dials of the same step", async () => {
    // OTP dials from spawned processes (sync_others), so the server's casts go first; a dial's
    // synchronous part must not delay the names on their way to the third nodes.
    const [a, b, c, d] = await partitions();
    const events: string[] = [];
    const toB = a!.connection(b!.name)!;
    const sendRegistered = toB.sendRegistered.bind(toB);
    toB.sendRegistered = (from, to, message) => {
      const inner = message instanceof Tuple ? message.elements[1] : undefined;
      if (inner instanceof Tuple) events.push(`send ${String(inner.elements[0])}`);
      sendRegistered(from, to, message);
    };
    const connect = a!.connect.bind(a!);
    a!.connect = (name) => {
      events.push(`dial ${name}`);
      return connect(name);
    };
    await a!.connect(c!.name);
    await meshed([a!, b!, c!, d!]);
    const sent = events.indexOf('send new_nodes');
    const dialed = events.indexOf(`dial ${d!.name}`);
    expect(sent).toBeGreaterThanOrEqual(0);
    expect(dialed).toBeGreaterThan(sent);
  });

  it('random_notify: one owner everywhere; the loser lives and is told', async () => {
    const [a, b] = await nodes(2, 'n');
    const inboxA: Term[] = [];
    const inboxB: Term[] = [];
    const pa = proc(a!, inboxA);
    const pb = proc(b!, inboxB);
    expect(await a!.global.register(atom('w'), pa, { onConflict: 'random_notify' })).toBe(true);
    expect(await b!.global.register(atom('w'), pb, { onConflict: 'random_notify' })).toBe(true);
    await a!.connect(b!.name);
    await meshed([a!, b!]);
    const owner = a!.global.whereis(atom('w'));
    expect(owner).toBeDefined();
    expect(equals(b!.global.whereis(atom('w')) ?? atom('undefined'), owner!)).toBe(true);
    const [loser, loserNode, inbox] = equals(owner!, pa) ? [pb, b!, inboxB] : [pa, a!, inboxA];
    await until(() => inbox.length > 0, 5000, 'the loser is told');
    expect(inbox[0]).toEqual(new Tuple([atom('global_name_conflict'), atom('w')]));
    expect(loserNode.processes.isAlive(loser)).toBe(true);
    // The winner heard nothing.
    expect((equals(owner!, pa) ? inboxA : inboxB).length).toBe(0);
  });

  it('a TypeScript resolver decides a clash', async () => {
    const [a, b] = await nodes(2, 'r');
    const pa = proc(a!);
    const pb = proc(b!);
    const seen: Term[] = [];
    const keepB = (name: Term, p1: Pid, p2: Pid): Pid => {
      seen.push(name);
      return p1.node === b!.atom ? p1 : p2;
    };
    expect(await a!.global.register(atom('z'), pa, { onConflict: keepB })).toBe(true);
    expect(await b!.global.register(atom('z'), pb, { onConflict: keepB })).toBe(true);
    await a!.connect(b!.name);
    await meshed([a!, b!]);
    expect(seen.length).toBe(1);
    expect(equals(a!.global.whereis(atom('z')) ?? atom('undefined'), pb)).toBe(true);
    expect(equals(b!.global.whereis(atom('z')) ?? atom('undefined'), pb)).toBe(true);
    expect(a!.processes.isAlive(pa)).toBe(true);
  });

  it("locks exclude each other across nodes; a holder's death releases its lock", async () => {
    const [a, b, c] = await nodes(3);
    await b!.connect(a!.name);
    await c!.connect(a!.name);
    await meshed([a!, b!, c!]);
    expect(await a!.global.setLock(['db', 'a'], undefined, 0)).toBe(true);
    expect(await b!.global.setLock(['db', 'b'], undefined, 0)).toBe(false);
    const waiting = b!.global.setLock(['db', 'b']);
    await a!.global.delLock(['db', 'a']);
    expect(await waiting).toBe(true);
    expect(await c!.global.trans(['db', 'c'], () => 1, undefined, 0)).toBe('aborted');
    await b!.global.delLock(['db', 'b']);
    let inside = 0;
    let max = 0;
    const work = async (n: Node, who: string): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await n.global.trans(['counter', who], async () => {
          inside++;
          max = Math.max(max, inside);
          await new Promise((r) => setTimeout(r, 5));
          inside--;
        });
      }
    };
    await Promise.all([work(a!, 'a'), work(b!, 'b'), work(c!, 'c')]);
    expect(max).toBe(1);
    // c takes the lock and goes away: the monitors of its holder release it everywhere.
    expect(await c!.global.setLock(['db', 'c'], undefined, 0)).toBe(true);
    expect(await a!.global.setLock(['db', 'a'], undefined, 0)).toBe(false);
    await c!.stop();
    await until(
      async () => await a!.global.setLock(['db', 'a'], [a!.name, b!.name], 0),
      10_000,
      'the lock is free',
    );
  });

  it('without prevent_overlapping_partitions, a lost link removes only that node', async () => {
    const [a, b, c] = await nodes(3);
    for (const n of [a!, b!, c!]) n.global.configure({ preventOverlappingPartitions: false });
    await b!.connect(a!.name);
    await c!.connect(a!.name);
    await meshed([a!, b!, c!]);
    a!.disconnect(b!.name);
    await until(
      () => a!.global.knownNodes().length === 1 && b!.global.knownNodes().length === 1,
      10_000,
      'a, b apart',
    );
    expect(c!.global.knownNodes().sort()).toEqual([a!.name, b!.name].sort());
    expect(c!.nodes().length).toBe(2);
  });

  it('prevents overlapping partitions among TS nodes and recovers on reconnect', async () => {
    const [a, b, c] = await nodes(3);
    await b!.connect(a!.name);
    await c!.connect(a!.name);
    await meshed([a!, b!, c!]);
    const pc = proc(c!);
    expect(await c!.global.register('svc', pc)).toBe(true);
    a!.disconnect(b!.name);
    await until(() => [a!, b!, c!].every((n) => n.global.knownNodes().length === 0), 10_000, 'all apart');
    expect(c!.global.whereis('svc')).toBeDefined();
    expect(a!.global.whereis('svc')).toBeUndefined();
    await a!.connect(b!.name);
    await c!.connect(b!.name);
    await meshed([a!, b!, c!]);
    for (const n of [a!, b!, c!]) expect(equals(n.global.whereis('svc') ?? atom('undefined'), pc)).toBe(true);
  });
});
