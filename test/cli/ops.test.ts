/**
 * The operator commands end to end: three `distribute start --membership --election` processes
 * on a private EPMD, asked by `members --via` and `leader --via` from other CLI processes (real
 * sockets, UDP membership, Raft over distribution). Then one node stops on SIGTERM and the
 * others see it leave; a plain `start` stops on SIGINT and leaves the EPMD; a BEAM node and a
 * node without the services are clear failures; bad flags are usage errors.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { names as epmdNames } from '../../src/epmd/client.ts';
import { pollCli, tryJson } from '../support/cli.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { describeErl } from '../support/erl.ts';
import { type ErlNode, startErlNode, stopAllErlNodes } from '../support/erl-node.ts';
import { type CliProcess, type CliResult, killAllCli, lastJson, runCli, startCli } from './support.ts';

const COOKIE = 'ops-test-cookie';
const NODES = ['o1@127.0.0.1', 'o2@127.0.0.1', 'o3@127.0.0.1'] as const;
const [O1, O2, O3] = NODES;
const VOTERS = NODES.join(',');
const E = 'ops_e1@127.0.0.1';

interface MembersDoc {
  ok: boolean;
  via: string;
  address: string;
  members: { node: string; status: string; incarnation: number }[];
}
interface LeaderDoc {
  ok: boolean;
  via: string;
  source: string;
  leader: string | null;
  term: number | null;
  role: string | null;
  lease: boolean | null;
}

let epmd: EpmdProcess;
let dataDir: string;
const procs = new Map<string, CliProcess>();

const cli = (...args: string[]): Promise<CliResult> => runCli(args, epmd.port);
const membersJson = (via: string): Promise<CliResult> =>
  cli('--json', 'members', '--via', via, '--cookie', COOKIE);
const leaderJson = (via: string): Promise<CliResult> =>
  cli('--json', 'leader', '--via', via, '--cookie', COOKIE);
const statusOf = (r: CliResult, node: string): string | undefined =>
  (tryJson(r) as MembersDoc | undefined)?.members?.find((m) => m.node === node)?.status;

function startMember(name: string, index: number, seeds: string | undefined): CliProcess {
  const p = startCli(
    [
      'start',
      '--json',
      '--name',
      name,
      '--cookie',
      COOKIE,
      '--epmd',
      'external',
      '--membership',
      '--probe-interval',
      '200',
      ...(seeds !== undefined ? ['--seeds', seeds] : []),
      '--election',
      '--voters',
      VOTERS,
      // Every vote waits for an fsync, and the client processes polling the cluster load the
      // machine: a second of timeout keeps a loaded CI box from electing forever.
      '--election-timeout',
      '1000',
      '--data-dir',
      join(dataDir, String(index)),
      '--log-level',
      'error',
    ],
    epmd.port,
  );
  procs.set(name, p);
  return p;
}

async function upDoc(p: CliProcess): Promise<Record<string, unknown>> {
  return JSON.parse(await p.waitForLine((l) => l.includes('"event":"up"'), 40_000)) as Record<
    string,
    unknown
  >;
}

beforeAll(async () => {
  epmd = await startEpmd();
  dataDir = await mkdtemp(join(tmpdir(), 'distribute-ops-'));
});

afterAll(async () => {
  await killAllCli();
  await stopAllErlNodes();
  await epmd?.stop();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

describe('distribute start --membership --election, members and leader', () => {
  beforeAll(async () => {
    const first = await upDoc(startMember(O1, 1, undefined));
    expect(first).toMatchObject({ event: 'up', node: O1, election: { voters: [...NODES] } });
    const seed = first.membership as string;
    expect(seed).toMatch(/^127\.0\.0\.1:\d+$/);
    const [second, third] = await Promise.all([
      upDoc(startMember(O2, 2, seed)),
      upDoc(startMember(O3, 3, seed)),
    ]);
    expect(second.membership).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(third.election).toEqual({ voters: [...NODES], dataDir: join(dataDir, '3') });
  }, 90_000);

  it('members --via each node: all three alive (JSON), and as a table', async () => {
    const docs = await Promise.all(
      NODES.map((via) =>
        pollCli(
          () => membersJson(via),
          (r) => r.code === 0 && NODES.every((n) => statusOf(r, n) === 'alive'),
        ),
      ),
    );
    for (const [i, r] of docs.entries()) {
      const doc = tryJson(r) as unknown as MembersDoc;
      expect(doc.ok).toBe(true);
      expect(doc.via).toBe(NODES[i]);
      expect(doc.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(doc.members.map((m) => m.node)).toEqual([...NODES]);
      for (const m of doc.members) expect(m.incarnation).toBeGreaterThanOrEqual(0);
    }
    const table = await cli('members', '--via', O2, '--cookie', COOKIE);
    expect(table.code, table.stderr).toBe(0);
    for (const n of NODES)
      expect(table.stdout).toMatch(new RegExp(`│ ${n.replace(/\./g, '\\.')} +│ alive +│ \\d+ +│`));
    expect(table.stdout).toMatch(
      /3 of 3 alive \(as seen by o2@127\.0\.0\.1, membership 127\.0\.0\.1:\d+\)\n$/,
    );
  }, 60_000);

  it('leader --via every node names the same leader in the same term', async () => {
    // Elections settle within a few timeouts; poll until the three views agree.
    let views: LeaderDoc[] = [];
    const deadline = Date.now() + 40_000;
    for (;;) {
      const rs = await Promise.all(NODES.map((via) => leaderJson(via)));
      views = rs.map((r) => (tryJson(r) ?? {}) as unknown as LeaderDoc);
      const l = views[0]?.leader;
      if (
        rs.every((r) => r.code === 0) &&
        typeof l === 'string' &&
        views.every((v) => v.leader === l && v.term === views[0]?.term)
      )
        break;
      if (Date.now() > deadline) throw new Error(`leaders never agreed: ${JSON.stringify(views)}`);
    }
    const leaderName = views[0]?.leader as string;
    expect(NODES).toContain(leaderName);
    for (const [i, v] of views.entries()) {
      expect(v).toMatchObject({ ok: true, via: NODES[i], source: 'election' });
      expect(v.term).toBeGreaterThanOrEqual(1);
      expect(v.role).toBe(v.via === leaderName ? 'leader' : 'follower');
    }
    const text = await cli('leader', '--via', leaderName, '--cookie', COOKIE);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /^o\d@127\.0\.0\.1 leads term \d+ \(as seen by o\d@127\.0\.0\.1, which is leader/,
    );
  }, 60_000);

  it('members/leader fail with exit 1: unknown node, wrong cookie', async () => {
    const [ghost, cookie] = await Promise.all([
      cli('members', '--via', 'ghost@127.0.0.1', '--cookie', COOKIE),
      cli('--json', 'leader', '--via', O1, '--cookie', 'not-the-cookie'),
    ]);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr.trim()).toBe(
      'error: cannot reach ghost@127.0.0.1: no such node (its host EPMD does not know the name, or cannot be asked)',
    );
    expect(cookie.code).toBe(1);
    expect(cookie.stderr.trim()).toMatch(/^error: cannot reach o1@127\.0\.0\.1: .*wrong cookie/);
    expect(lastJson(cookie.stdout)).toMatchObject({ ok: false, error: { code: 'unreachable' } });
  }, 60_000);

  it('SIGTERM on a member: it exits 0 after leaving; the others see it left', async () => {
    const p = procs.get(O2) as CliProcess;
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(lastJson(p.stdout())).toEqual({ event: 'stopped', node: O2, signal: 'SIGTERM' });
    for (const via of [O1, O3]) {
      const r = await pollCli(
        () => membersJson(via),
        (x) => x.code === 0 && ['left', 'dead'].includes(statusOf(x, O2) ?? ''),
      );
      expect(statusOf(r, via)).toBe('alive');
    }
    expect((await epmdNames({ epmdPort: epmd.port })).names.map((n) => n.name)).not.toContain('o2');
  }, 60_000);
});

describe('distribute start without the services', () => {
  it('members/leader against it are exit 1 with a clear message; SIGINT stops it and unregisters it', async () => {
    const name = 'plain@127.0.0.1';
    const p = startCli(['start', '--name', name, '--cookie', COOKIE, '--epmd', 'external'], epmd.port);
    await p.waitForLine((l) => l.startsWith(`up ${name}`), 40_000);
    const [m, l] = await Promise.all([
      cli('members', '--via', name, '--cookie', COOKIE),
      cli('--json', 'leader', '--via', name, '--cookie', COOKIE),
    ]);
    expect(m.code).toBe(1);
    expect(m.stderr.trim()).toBe(
      'error: plain@127.0.0.1 does not run membership (start it with `distribute start --membership`)',
    );
    expect(l.code).toBe(1);
    expect(lastJson(l.stdout)).toMatchObject({ ok: false, error: { code: 'rpc_failed' } });
    expect(l.stderr).toContain('runs neither the election nor membership');
    const before = await cli('names');
    expect(before.stdout).toMatch(/│ plain +│/);
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
    expect(p.stdout()).toMatch(/stopped plain@127\.0\.0\.1 \(SIGINT\)\n$/);
    const after = await cli('--json', 'names');
    expect(after.code).toBe(0);
    expect((lastJson(after.stdout).names as { name: string }[]).map((n) => n.name)).not.toContain('plain');
  }, 60_000);

  it('bad flags are usage errors (exit 2)', async () => {
    const start = (...extra: string[]): string[] => [
      'start',
      '--name',
      'bad@127.0.0.1',
      '--cookie',
      COOKIE,
      ...extra,
    ];
    const cases = [
      start('--seeds', '127.0.0.1:1'),
      start('--membership', '--seeds', 'nohostport'),
      start('--membership', '--probe-interval', 'fast'),
      start('--election'),
      start('--voters', 'a@h'),
      start('--membership', '--swim-port', '70000'),
      ['members', '--cookie', COOKIE],
      ['leader', '--via', 'not a name!', '--cookie', COOKIE],
      ['members', '--via', O1, '--timeout', 'soon', '--cookie', COOKIE],
    ];
    // Three at a time: each is a Node process compiling the CLI, and the machine is shared.
    const results: CliResult[] = [];
    for (let i = 0; i < cases.length; i += 3) {
      results.push(
        ...(await Promise.all(cases.slice(i, i + 3).map((args) => runCli(args, epmd.port, 60_000)))),
      );
    }
    for (const [i, r] of results.entries()) {
      expect(r.code, `${cases[i]?.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/^error: /);
    }
    expect(results[0]?.stderr.trim()).toBe('error: --seeds needs --membership');
    expect(results[3]?.stderr.trim()).toBe(
      'error: --election needs --voters A,B,C (node names, this one included)',
    );
  }, 120_000);
});

describeErl('members and leader against erl', () => {
  let erl: ErlNode;
  beforeAll(async () => {
    erl = await startErlNode({ name: E, cookie: COOKIE, epmdPort: epmd.port });
  });

  it('exit 1 with a message that says a BEAM node has no such service', async () => {
    expect(erl.name).toBe(E);
    const [m, l] = await Promise.all([
      cli('members', '--via', E, '--cookie', COOKIE),
      cli('--json', 'leader', '--via', E, '--cookie', COOKIE),
    ]);
    expect(m.code).toBe(1);
    expect(m.stderr.trim()).toBe(
      'error: ops_e1@127.0.0.1 does not answer distribute_cli:members/0: it is not a node started by `distribute start` (a BEAM node has no such service)',
    );
    expect(l.code).toBe(1);
    expect(lastJson(l.stdout)).toMatchObject({ ok: false, error: { code: 'rpc_failed' } });
    expect(l.stderr).toContain('does not answer distribute_cli:leader/0');
  }, 60_000);
});
