/**
 * `node.election`, the per-node API, on three TypeScript nodes in this process.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ElectionLeader } from '../../src/cluster/election/node-election.ts';
import { MemoryStorage } from '../../src/cluster/election/storage.ts';
import { Node } from '../../src/node/node.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';

let epmd: EpmdProcess;
const nodes: Node[] = [];
let seq = 0;

beforeAll(async () => {
  epmd = await startEpmd();
});
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.election.stop()));
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});
afterAll(async () => {
  await epmd?.stop();
});

async function until<T>(pred: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = pred();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function cluster(n: number): Promise<Node[]> {
  const names = Array.from({ length: n }, () => `ne${++seq}@127.0.0.1`);
  const started = await Promise.all(
    names.map((name) => Node.start({ name, cookie: 'election', epmd: 'external', epmdPort: epmd.port })),
  );
  nodes.push(...started);
  await Promise.all(
    started.map((node) => node.election.start({ voters: names, storage: new MemoryStorage() })),
  );
  return started;
}

function agreed(group: readonly Node[]): Node | undefined {
  const leader = group.find((n) => n.election.isLeader());
  if (leader === undefined) return undefined;
  const term = leader.election.leader()?.term;
  return group.every((n) => n.election.leader()?.node === leader.name && n.election.leader()?.term === term)
    ? leader
    : undefined;
}

describe('node.election', () => {
  it('is idle until started: no leader, not leader, no token', async () => {
    const node = await Node.start({
      name: `ne${++seq}@127.0.0.1`,
      cookie: 'election',
      epmd: 'external',
      epmdPort: epmd.port,
    });
    nodes.push(node);
    expect(node.election.leader()).toBeUndefined();
    expect(node.election.isLeader()).toBe(false);
    expect(node.election.elect()).toEqual({ kind: 'no_leader' });
    expect(() => node.election.fencingToken()).toThrow(expect.objectContaining({ code: 'not-leader' }));
    expect(node.election.service).toBeUndefined();
  });

  it('agrees on a leader, reports it to every voter, and emits leader events', async () => {
    const names = Array.from({ length: 3 }, () => `ne${++seq}@127.0.0.1`);
    const group = await Promise.all(
      names.map((name) => Node.start({ name, cookie: 'election', epmd: 'external', epmdPort: epmd.port })),
    );
    nodes.push(...group);
    const events: (ElectionLeader | undefined)[] = [];
    group[0]!.election.on('leader', (l) => events.push(l));
    await Promise.all(
      group.map((node) => node.election.start({ voters: names, storage: new MemoryStorage() })),
    );

    const leader = await until(() => agreed(group), 5_000, 'an agreed leader');
    const info = leader.election.leader()!;
    expect(leader.election.fencingToken()).toBe(info.term);
    for (const n of group) expect(n.election.elect()).toEqual({ kind: 'leader', node: leader.name });
    for (const n of group.filter((x) => x !== leader)) {
      expect(n.election.isLeader()).toBe(false);
      expect(() => n.election.fencingToken()).toThrow(expect.objectContaining({ code: 'not-leader' }));
    }
    await until(
      () => (events.some((e) => e?.node === leader.name) ? true : undefined),
      5_000,
      'a leader event',
    );
    expect(events.at(-1)).toEqual(info);
  });

  it('refuses a second start, and may start again after stop', async () => {
    const [node] = await cluster(1);
    const election = node!.election;
    await expect(
      election.start({ voters: [node!.name], storage: new MemoryStorage() }),
    ).rejects.toMatchObject({
      code: 'invalid-config',
    });
    await until(() => (election.isLeader() ? true : undefined), 5_000, 'a single voter to lead');
    await election.stop();
    expect(election.isLeader()).toBe(false);
    expect(election.leader()).toBeUndefined();
    await election.start({ voters: [node!.name], storage: new MemoryStorage() });
    await until(() => (election.isLeader() ? true : undefined), 5_000, 'leading again after a restart');
  });

  it('reconnects to a voter after its connection drops, without traffic from the application', async () => {
    const group = await cluster(3);
    const leader = await until(() => agreed(group), 5_000, 'an agreed leader');
    const other = group.find((n) => n !== leader)!;
    const before = leader.election.service!.stats.dials;
    leader.disconnect(other.name);
    await until(
      () => (leader.nodes('connected').includes(other.name) ? true : undefined),
      5_000,
      'the voters to reconnect',
    );
    expect(leader.election.service!.stats.dials).toBeGreaterThan(before);
    await until(() => agreed(group), 5_000, 'agreement after the reconnect');
  });
});
