/**
 * The election service over real distribution: three TypeScript nodes in this process, a
 * private epmd, file storage in a temporary directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ElectionError } from '../../src/cluster/election/errors.ts';
import { ELECTION_PROCESS_NAME, ElectionService } from '../../src/cluster/election/service.ts';
import {
  type ElectionStorage,
  FileStorage,
  type HardState,
  initialHardState,
} from '../../src/cluster/election/storage.ts';
import { decodeElectionMessage, encodeElectionMessage } from '../../src/cluster/election/wire.ts';
import { Node } from '../../src/node/node.ts';
import { atom, Tuple } from '../../src/term/types.ts';
import { until } from '../support/dist-helpers.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';

let epmd: EpmdProcess;
let dir: string;
const nodes: Node[] = [];
const services: ElectionService[] = [];
let seq = 0;

beforeAll(async () => {
  epmd = await startEpmd();
  dir = await mkdtemp(join(tmpdir(), 'election-service-'));
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});
afterAll(async () => {
  await epmd?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function startNode(name: string): Promise<Node> {
  const node = await Node.start({ name, cookie: 'election', epmd: 'external', epmdPort: epmd.port });
  nodes.push(node);
  return node;
}

async function startVoter(node: Node, voters: string[]): Promise<ElectionService> {
  const s = await ElectionService.start({
    node,
    voters,
    storage: new FileStorage(join(dir, `${node.name}.json`)),
  });
  services.push(s);
  return s;
}

function agreed(group: readonly ElectionService[]): ElectionService | undefined {
  const leader = group.find((s) => s.hasLease());
  if (leader === undefined) return undefined;
  return group.every((s) => s.leader === leader.id && s.term === leader.term) ? leader : undefined;
}

async function cluster(n: number): Promise<ElectionService[]> {
  const names = Array.from({ length: n }, () => `el${++seq}@127.0.0.1`);
  const started = await Promise.all(names.map(startNode));
  return await Promise.all(started.map((node) => startVoter(node, names)));
}

describe('wire format', () => {
  it('round-trips every message type through a term', () => {
    const base = { from: 'a@h', to: 'b@h', term: 4, voterSet: 99 };
    for (const m of [
      { type: 'PreVote', ...base },
      { type: 'RequestVote', ...base },
      { type: 'PreVoteResponse', ...base, granted: true },
      { type: 'RequestVoteResponse', ...base, granted: false },
      { type: 'Heartbeat', ...base, sentAt: 12 },
      { type: 'HeartbeatResponse', ...base, sentAt: 12.25, ok: true },
    ] as const) {
      expect(decodeElectionMessage(encodeElectionMessage(m))).toEqual(m);
    }
  });

  it('refuses other terms with invalid-message', () => {
    for (const t of [atom('x'), new Tuple([atom('$distribute_election'), 2]), new Tuple([])]) {
      expect(() => decodeElectionMessage(t)).toThrow(ElectionError);
    }
  });
});

describe('ElectionService over distribution', () => {
  it('three nodes agree on one leader, which holds a lease and a token equal to its term', async () => {
    const group = await cluster(3);
    await until(() => agreed(group) !== undefined, 5_000, 'an agreed leader');
    const leader = agreed(group)!;
    expect(leader.fencingToken()).toBe(leader.term);
    for (const s of group.filter((x) => x !== leader)) {
      expect(s.role).toBe('follower');
      expect(() => s.fencingToken()).toThrow(expect.objectContaining({ code: 'not-leader' }));
    }
  });

  it('elects a new leader with a higher token when the leader stops, and a restart remembers its term', async () => {
    const group = await cluster(3);
    await until(() => agreed(group) !== undefined, 5_000, 'an agreed leader');
    const first = agreed(group)!;
    const token = first.fencingToken();
    const idx = group.indexOf(first);
    await first.stop();
    await nodes[nodes.length - 3 + idx]!.stop();
    const rest = group.filter((s) => s !== first);
    await until(() => agreed(rest) !== undefined, 5_000, 'a new leader');
    const second = agreed(rest)!;
    expect(second.fencingToken()).toBeGreaterThan(token);

    // The stopped voter comes back on a new node with the same name and the same file.
    const again = await startVoter(
      await startNode(first.id),
      group.map((s) => s.id),
    );
    expect(again.term).toBeGreaterThanOrEqual(first.term);
    await until(
      () => again.leader === second.id && again.term === second.term,
      5_000,
      'the restarted voter to follow',
    );
  });

  it('sends nothing that depends on a vote until the vote is durable', async () => {
    const names = [`el${++seq}@127.0.0.1`, `el${++seq}@127.0.0.1`, `el${++seq}@127.0.0.1`];
    const node = await startNode(names[0]!);
    const saved: HardState[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const storage: ElectionStorage = {
      load: () => Promise.resolve(initialHardState),
      save: async (hs) => {
        await gate;
        saved.push(hs);
      },
    };
    const s = await ElectionService.start({ node, voters: names, storage, config: { preVote: false } });
    services.push(s);
    await until(() => s.role === 'candidate', 5_000, 'a campaign');
    // The RequestVotes wait for the write.
    expect(s.stats.sent).toBe(0);
    release();
    await until(() => s.stats.sent === 2, 5_000, 'the RequestVotes');
    expect(saved[0]).toEqual({ term: 1, vote: node.name });
  });

  it('stops and reports a storage failure', async () => {
    const name = `el${++seq}@127.0.0.1`;
    const node = await startNode(name);
    const storage: ElectionStorage = {
      load: () => Promise.resolve(initialHardState),
      save: () => Promise.reject(new Error('disk on fire')),
    };
    const s = await ElectionService.start({ node, voters: [name], storage });
    services.push(s);
    const failed = new Promise<ElectionError>((resolve) => s.once('error', resolve));
    const err = await failed;
    expect(err.code).toBe('storage-failed');
    expect(s.hasLease()).toBe(false);
    expect(() => s.fencingToken()).toThrow(expect.objectContaining({ code: 'not-leader' }));
  });

  it('counts and drops messages that are not election messages', async () => {
    const group = await cluster(3);
    await until(() => agreed(group) !== undefined, 5_000, 'an agreed leader');
    const target = group[0]!;
    const from = nodes.find((n) => n.name === group[1]!.id)!;
    const before = target.stats.rejected;
    from.send(
      [atom(ELECTION_PROCESS_NAME), atom(target.id)],
      new Tuple([atom('$distribute_election'), 1, atom('Nope')]),
    );
    from.send([atom(ELECTION_PROCESS_NAME), atom(target.id)], 'garbage');
    await until(() => target.stats.rejected >= before + 2, 5_000, 'the bad messages to be counted');
    await until(() => agreed(group) !== undefined, 5_000, 'the leader to hold its lease still');
  });
});
