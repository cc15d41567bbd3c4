/** `node.membership` and `node.health` on real nodes in one process (private EPMD, loopback UDP). */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHealth, HealthError } from '../../src/cluster/health.ts';
import type { NodeMember } from '../../src/cluster/membership/node-membership.ts';
import { membershipConfig, NodeMembershipError } from '../../src/cluster/membership/node-membership.ts';
import { Node } from '../../src/node/node.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';

const fast = { probeIntervalMs: 100, config: { suspicionMult: 3, pushPullIntervalMs: 2000 } } as const;

async function waitFor(pred: () => boolean, ms: number, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('health over a view', () => {
  const view = (self: string, members: Array<[string, NodeMember['status']]>): ClusterHealth =>
    new ClusterHealth({
      self,
      members: () => members.map(([node, status]) => ({ node, status, incarnation: 0 })),
    });

  it('reports healthy, degraded and isolated from the current view only', () => {
    expect(
      view('a', [
        ['a', 'alive'],
        ['b', 'alive'],
      ]).cluster(),
    ).toEqual({
      status: 'healthy',
      alive: 2,
      suspect: 0,
      dead: 0,
      left: 0,
      total: 2,
    });
    expect(
      view('a', [
        ['a', 'alive'],
        ['b', 'alive'],
        ['c', 'dead'],
      ]).cluster().status,
    ).toBe('degraded');
    expect(
      view('a', [
        ['a', 'alive'],
        ['b', 'suspect'],
      ]).cluster().status,
    ).toBe('degraded');
    // Once the dead member is reaped the cluster is healthy again (no sticky "degraded").
    expect(
      view('a', [
        ['a', 'alive'],
        ['b', 'alive'],
      ]).cluster().status,
    ).toBe('healthy');
    // ... unless the caller says how many it expects.
    expect(
      view('a', [
        ['a', 'alive'],
        ['b', 'alive'],
      ]).cluster(3).status,
    ).toBe('degraded');
    expect(
      view('a', [
        ['a', 'alive'],
        ['b', 'left'],
      ]).cluster().status,
    ).toBe('isolated');
    expect(view('a', []).cluster()).toMatchObject({ status: 'isolated', alive: 1, total: 1 });
    expect(view('a', []).cluster(1).status).toBe('healthy');
  });

  it('counts quorum over alive members and picks the same leader from every node', () => {
    const statuses: Array<[string, NodeMember['status']]> = [
      ['n2', 'alive'],
      ['n1', 'dead'],
      ['n3', 'alive'],
      ['n4', 'suspect'],
    ];
    expect(view('n3', statuses).hasQuorum(5)).toBe(false);
    expect(view('n3', statuses).hasQuorum(3)).toBe(true);
    // A node's own view includes itself, so every node names the same leader.
    expect(['n2', 'n3', 'n4'].map((self) => view(self, statuses).leader())).toEqual(['n2', 'n2', 'n2']);
    // Even when a node's source omits it.
    expect(view('a', [['b', 'alive']]).leader()).toBe('a');
    expect(() => view('a', []).hasQuorum(0)).toThrow(HealthError);
    try {
      view('a', []).cluster(1.5);
    } catch (e) {
      expect((e as HealthError).code).toBe('BAD_EXPECTED');
    }
  });

  it('scales the probe timeout and join retry with the probe interval', () => {
    const c = membershipConfig({ probeIntervalMs: 100 });
    expect([c.probeIntervalMs, c.probeTimeoutMs, c.joinRetryMs]).toEqual([100, 50, 100]);
    expect(membershipConfig({ probeIntervalMs: 100, config: { probeTimeoutMs: 30 } }).probeTimeoutMs).toBe(
      30,
    );
  });
});

describe('node.membership on real nodes', () => {
  let epmd: EpmdProcess;
  const nodes: Node[] = [];
  let seq = 0;
  beforeAll(async () => {
    epmd = await startEpmd();
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });
  afterAll(async () => {
    await epmd?.stop();
  });

  async function node(cookie = 'membership-cookie'): Promise<Node> {
    const n = await Node.start({
      name: `m${++seq}@127.0.0.1`,
      cookie,
      epmd: 'external',
      epmdPort: epmd.port,
    });
    nodes.push(n);
    return n;
  }

  it('joins, auto-connects, detects a failure, sees a leave, and agrees on health and leader', async () => {
    const [a, b, c, d] = [await node(), await node(), await node(), await node()];
    const seed = await a.membership.start({ ...fast, autoConnect: true });
    const changes: string[] = [];
    a.membership.on('change', (ch) => changes.push(`${ch.type}:${ch.node}`));
    for (const n of [b, c, d]) await n.membership.start({ ...fast, seeds: [seed], autoConnect: true });
    const all = [a, b, c, d];
    const names = all.map((n) => n.name).sort();
    await waitFor(() => all.every((n) => n.membership.alive().join() === names.join()), 5000, 'convergence');
    // The distribution layer followed the view.
    await waitFor(() => all.every((n) => n.nodes('connected').length === 3), 5000, 'auto-connect').catch(
      (e) => {
        throw new Error(
          `${e}: ${JSON.stringify(all.map((n) => [n.nodes('connected'), n.membership.stats().connectFailures]))}`,
        );
      },
    );
    for (const n of all) {
      expect(n.health.cluster()).toMatchObject({ status: 'healthy', alive: 4 });
      expect(n.health.leader()).toBe(names[0]);
      expect(n.health.hasQuorum(4)).toBe(true);
    }
    expect(a.membership.members().map((m) => m.status)).toEqual(['alive', 'alive', 'alive', 'alive']);
    expect(changes).toContain(`joined:${b.name}`);

    // c's membership stops without a word: the others declare it dead and drop the connection.
    await c.membership.stop();
    const rest = [a, b, d];
    await waitFor(() => rest.every((n) => n.membership.member(c.name)?.status === 'dead'), 8000, 'dead');
    await waitFor(() => rest.every((n) => !n.nodes('connected').includes(c.name)), 3000, 'disconnect');
    expect(changes).toContain(`dead:${c.name}`);
    for (const n of rest) {
      expect(n.health.cluster()).toMatchObject({ status: 'degraded', alive: 3, dead: 1 });
      expect(n.health.hasQuorum(5)).toBe(true);
      expect(n.health.hasQuorum(7)).toBe(false);
    }

    // d stops the node: it leaves the membership first, so the others see `left`.
    await d.stop();
    await waitFor(() => [a, b].every((n) => n.membership.member(d.name)?.status === 'left'), 3000, 'left');
    expect(a.membership.stats().securityDrops).toBe(0);
    expect(a.membership.stats().decodeErrors).toBe(0);
  });

  it('keeps nodes with another cookie out, counting their packets as unknown-key drops', async () => {
    const a = await node('cookie-one');
    const b = await node('cookie-two');
    const seed = await a.membership.start(fast);
    await b.membership.start({ ...fast, seeds: [seed] });
    await waitFor(() => a.membership.stats().drops['unknown-key'] > 0, 3000, 'drops');
    expect(a.membership.member(b.name)).toBeUndefined();
    expect(b.membership.member(a.name)).toBeUndefined();
    expect(a.health.cluster().status).toBe('isolated');
    await expect(a.membership.start(fast)).rejects.toBeInstanceOf(NodeMembershipError);
  });

  it('works with explicit keys and encryption', async () => {
    const keys = ['a-shared-explicit-key-0123456789'];
    const a = await node('cookie-one');
    const b = await node('cookie-two');
    const seed = await a.membership.start({ ...fast, keys, encrypt: true });
    await b.membership.start({ ...fast, keys, encrypt: true, seeds: [seed] });
    await waitFor(
      () => a.membership.alive().length === 2 && b.membership.alive().length === 2,
      5000,
      'convergence',
    );
    await a.membership.leave();
    await waitFor(() => b.membership.member(a.name)?.status === 'left', 3000, 'left');
    expect(a.membership.running).toBe(false);
  });
});
