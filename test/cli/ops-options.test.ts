/**
 * The pure parts of the operator commands: `start`'s membership and election flags, and the
 * terms `distribute_cli:members/0` and `leader/0` answer, read from a real in-process node.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_MODULE, exposeClusterBuiltins, leaderTerm, membersTerm } from '../../src/cli/builtins.ts';
import {
  DEFAULT_CLI_ELECTION_TIMEOUT_MS,
  defaultDataDir,
  electionOptions,
  membershipOptions,
  parseIntFlag,
} from '../../src/cli/commands/start.ts';
import { CliError } from '../../src/cli/errors.ts';
import { FileStorage } from '../../src/cluster/election/storage.ts';
import { Node } from '../../src/node/node.ts';
import { atom, atoms, type Term } from '../../src/term/types.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';

const usage = (fn: () => unknown, message: string): void => {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(CliError);
  expect((caught as CliError).code).toBe('usage');
  expect((caught as CliError).exitCode).toBe(2);
  expect((caught as CliError).message).toBe(message);
};

describe('start flags', () => {
  it('membership options: seeds, port, host, probe interval; none without --membership', () => {
    expect(membershipOptions({ name: 'a' })).toBeUndefined();
    expect(
      membershipOptions({
        name: 'a',
        membership: true,
        seeds: '127.0.0.1:4000, [::1]:4001',
        swimPort: '0',
        swimHost: '0.0.0.0',
        probeInterval: '200',
        autoConnect: true,
      }),
    ).toEqual({
      seeds: ['127.0.0.1:4000', '[::1]:4001'],
      port: 0,
      host: '0.0.0.0',
      probeIntervalMs: 200,
      autoConnect: true,
    });
    expect(membershipOptions({ name: 'a', membership: true })).toEqual({ seeds: [] });
  });

  it('membership flags: bad values and flags without --membership are usage errors', () => {
    usage(() => membershipOptions({ name: 'a', seeds: 'h:1' }), '--seeds needs --membership');
    usage(() => membershipOptions({ name: 'a', probeInterval: '5' }), '--probe-interval needs --membership');
    usage(
      () => membershipOptions({ name: 'a', membership: true, seeds: 'h:1,,h:2' }),
      '--seeds needs a comma-separated list, got "h:1,,h:2"',
    );
    usage(
      () => membershipOptions({ name: 'a', membership: true, seeds: 'h:99999' }),
      '--seeds: "h:99999" is not a membership address (HOST:PORT)',
    );
    usage(
      () => membershipOptions({ name: 'a', membership: true, swimPort: '-1' }),
      '--swim-port must be a whole number in 0..65535, got "-1"',
    );
    usage(() => parseIntFlag('1e3', '--x', 1, 5000), '--x must be a whole number in 1..5000, got "1e3"');
  });

  it('election options: voters as full names, timeouts derived from --election-timeout', () => {
    expect(electionOptions({ name: 'a' })).toBeUndefined();
    expect(
      electionOptions({
        name: 'a@h',
        election: true,
        voters: 'a@h,b@h',
        dataDir: '/d',
        electionTimeout: '900',
      }),
    ).toEqual({
      voters: ['a@h', 'b@h'],
      dataDir: '/d',
      config: { electionTimeoutMinMs: 900, electionTimeoutMaxMs: 1800, heartbeatIntervalMs: 300 },
    });
    // Without --election-timeout: 1 s, not the library's 150 ms (a process per node, fsync'd votes).
    expect(electionOptions({ name: 'a@h', election: true, voters: 'a@h' })?.config).toEqual({
      electionTimeoutMinMs: DEFAULT_CLI_ELECTION_TIMEOUT_MS,
      electionTimeoutMaxMs: 2 * DEFAULT_CLI_ELECTION_TIMEOUT_MS,
      heartbeatIntervalMs: Math.floor(DEFAULT_CLI_ELECTION_TIMEOUT_MS / 3),
    });
    usage(
      () => electionOptions({ name: 'a', election: true }),
      '--election needs --voters A,B,C (node names, this one included)',
    );
    usage(() => electionOptions({ name: 'a', dataDir: '/d' }), '--data-dir needs --election');
    expect(defaultDataDir('a@h/x')).toBe(join(tmpdir(), 'distribute', 'a@h_x'));
  });
});

describe('distribute_cli builtins', () => {
  let node: Node | undefined;
  let dir: string | undefined;
  let epmd: EpmdProcess | undefined;
  afterEach(async () => {
    await node?.membership.leave();
    await node?.election.stop();
    await node?.stop();
    node = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    await epmd?.stop();
  });

  const get = (m: Term, k: string): Term | undefined => (m as ReadonlyMap<Term, Term>).get(atom(k));

  it('answer undefined while the services are off, then the membership view and the election', async () => {
    epmd = await startEpmd();
    node = await Node.start({
      name: 'ops_unit@127.0.0.1',
      cookie: 'c',
      epmd: 'external',
      epmdPort: epmd.port,
    });
    exposeClusterBuiltins(node);
    expect(membersTerm(node)).toBe(atoms.undefined);
    expect(leaderTerm(node)).toBe(atoms.undefined);
    // Over RPC too (the node calls itself), as a client would.
    expect(await node.rpc.call(node.name, CLI_MODULE, 'members', [])).toBe(atoms.undefined);

    const address = await node.membership.start({ port: 0 });
    const view = membersTerm(node);
    expect(Buffer.from(get(view, 'address') as Uint8Array).toString()).toBe(address);
    expect(get(view, 'node')).toBe(node.atom);
    const [self] = get(view, 'members') as Term[];
    expect(get(self as Term, 'node')).toBe(node.atom);
    expect(get(self as Term, 'status')).toBe(atom('alive'));
    expect(get(leaderTerm(node), 'hint')).toBe(node.atom);
    expect(get(leaderTerm(node), 'election')).toBe(atoms.undefined);

    dir = await mkdtemp(join(tmpdir(), 'distribute-ops-unit-'));
    await node.election.start({ voters: [node.name], storage: new FileStorage(join(dir, 'election.json')) });
    // A single voter elects itself within a few timeouts.
    const n = node;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no leader within 10 s')), 10_000);
      const check = (): void => {
        if (n.election.leader() === undefined) return;
        clearTimeout(timer);
        n.election.off('leader', check);
        resolve();
      };
      n.election.on('leader', check);
      check();
    });
    const e = get(await node.rpc.call(node.name, CLI_MODULE, 'leader', []), 'election') as Term;
    expect(get(e, 'leader')).toBe(node.atom);
    expect(get(e, 'role')).toBe(atom('leader'));
    expect(get(e, 'term')).toBeGreaterThanOrEqual(1);
  });
});
