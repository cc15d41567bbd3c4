/**
 * `node.election` across five OS processes (test/fixtures/election-node.ts), each a TS node on
 * a private epmd with file storage: the leader is killed with SIGKILL, or cut off from the
 * others by allow-lists and disconnects, and the rest must elect another within the bound;
 * after the partition heals the voters reconnect by themselves and agree on one leader.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultElectionConfig } from '../../src/cluster/election/config.ts';
import { DEFAULT_RECONNECT_MAX_MS, DEFAULT_RECONNECT_MIN_MS } from '../../src/cluster/election/service.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';

/**
 * Failover bound: a follower notices a silent leader within `electionTimeoutMaxMs`, then needs a
 * pre-vote and a vote round (a few ms on loopback). Ten maximum timeouts leave room for split
 * votes and for five processes scheduled on a shared two-core machine.
 */
const BOUND_MS = 10 * defaultElectionConfig.electionTimeoutMaxMs;
/** Starting five tsx processes on a loaded machine, and reconnects after a heal (backoff ≤ 1 s). */
const SETUP_MS = 30_000;

const fixture = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'election-node.ts');

interface Status {
  readonly name: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly isLeader: boolean;
  readonly elect: string;
  /** Dials of other voters started by the service. */
  readonly dials: number;
  readonly connected: readonly string[];
}

interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  status: Status | undefined;
  alive: boolean;
  readonly acks: Set<number>;
  readonly errors: string[];
}

let epmd: EpmdProcess;
let dir: string;
let seq = 0;
let cmdSeq = 0;
const children: Child[] = [];
/** Re-checks pending waits whenever a child reports. */
const watchers = new Set<() => void>();

beforeAll(async () => {
  epmd = await startEpmd();
  dir = await mkdtemp(join(tmpdir(), 'election-mp-'));
});
afterEach(async () => {
  await Promise.all(children.splice(0).map(killChild));
});
afterAll(async () => {
  await epmd?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function killChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => c.proc.once('exit', () => resolve()));
  c.proc.kill('SIGKILL');
  await exited;
}

function startChild(name: string, voters: readonly string[]): Child {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', fixture, name, 'election-mp', String(epmd.port), dir, voters.join(',')],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const child: Child = { name, proc, status: undefined, alive: true, acks: new Set(), errors: [] };
  proc.once('exit', () => {
    child.alive = false;
    notify();
  });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let msg: { event?: string; id?: number; message?: string } & Partial<Status>;
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return;
    }
    if (msg.event === 'status') child.status = msg as Status;
    else if (msg.event === 'ack' && typeof msg.id === 'number') child.acks.add(msg.id);
    else if (msg.event === 'error') child.errors.push(line);
    notify();
  });
  children.push(child);
  return child;
}

function notify(): void {
  for (const w of [...watchers]) w();
}

/** Resolves with `pred`'s value once it is defined, re-checked on every report; fails after `timeoutMs`. */
async function until<T>(pred: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const check = (): void => {
      const v = pred();
      if (v === undefined) return;
      done();
      resolve(v);
    };
    const timer = setTimeout(() => {
      done();
      const seen = children.map((c) => ({ alive: c.alive, ...c.status, errors: c.errors }));
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(seen)}`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      watchers.delete(check);
    };
    watchers.add(check);
    check();
  });
}

/** The leader every child in `group` agrees on (same leader, same term, and it holds the lease). */
function agreed(group: readonly Child[]): Status | undefined {
  const leader = group.find((c) => c.alive && c.status?.isLeader === true)?.status;
  if (leader === undefined) return undefined;
  const ok = group.every(
    (c) => c.status?.leader === leader.name && c.status.term === leader.term && c.status.elect === 'leader',
  );
  return ok ? leader : undefined;
}

/**
 * Most dials of one unreachable voter within `ms` under the default backoff: the first at once,
 * then after waits of at least half the current delay, which doubles up to the maximum.
 */
function maxDialsWithin(ms: number): number {
  let n = 1;
  let delay = DEFAULT_RECONNECT_MIN_MS;
  for (let t = delay / 2; t <= ms; t += delay / 2) {
    n++;
    delay = Math.min(delay * 2, DEFAULT_RECONNECT_MAX_MS);
  }
  return n;
}

async function command(c: Child, cmd: string, nodes: readonly string[] | null): Promise<void> {
  const id = ++cmdSeq;
  c.proc.stdin!.write(`${JSON.stringify({ id, cmd, nodes })}\n`);
  await until(() => (c.acks.has(id) ? true : undefined), SETUP_MS, `${c.name} to ack ${cmd}`);
}

async function cluster(): Promise<Child[]> {
  const names = Array.from({ length: 5 }, () => `elmp${++seq}@127.0.0.1`);
  const group = names.map((n) => startChild(n, names));
  await until(() => agreed(group), SETUP_MS, 'five voters to agree on a leader');
  return group;
}

describe('election across five processes', { timeout: 4 * SETUP_MS }, () => {
  it('elects a new leader within the bound after the leader is killed with SIGKILL', async () => {
    const group = await cluster();
    const first = agreed(group)!;
    const victim = group.find((c) => c.name === first.name)!;
    const t0 = performance.now();
    await killChild(victim);
    const rest = group.filter((c) => c !== victim);
    const second = await until(() => agreed(rest), BOUND_MS, 'a new leader among the survivors');
    const elapsed = performance.now() - t0;
    console.log(`failover after SIGKILL: ${elapsed.toFixed(0)} ms (bound ${BOUND_MS} ms)`);
    expect(second.name).not.toBe(first.name);
    expect(second.term).toBeGreaterThan(first.term);
    expect(elapsed).toBeLessThan(BOUND_MS);
  });

  it('an isolated leader steps down, the majority elects another, and after the heal one leader has the highest term', async () => {
    const group = await cluster();
    const first = agreed(group)!;
    const old = group.find((c) => c.name === first.name)!;
    const rest = group.filter((c) => c !== old);
    const restNames = rest.map((c) => c.name);

    // Cut both ways: the old leader admits nobody, the others admit only each other.
    const baseDials = new Map(group.map((c) => [c.name, c.status!.dials]));
    const t0 = performance.now();
    await command(old, 'allow', [old.name]);
    await Promise.all(rest.map((c) => command(c, 'allow', restNames)));
    await command(old, 'disconnect', restNames);
    await Promise.all(rest.map((c) => command(c, 'disconnect', [old.name])));

    await until(
      () => (old.status?.isLeader === false && old.status.role !== 'leader' ? true : undefined),
      BOUND_MS,
      'the isolated leader to step down',
    );
    expect(old.status?.isLeader).toBe(false);
    const second = await until(() => agreed(rest), BOUND_MS, 'the majority to elect another leader');
    console.log(`failover after isolation: ${(performance.now() - t0).toFixed(0)} ms (bound ${BOUND_MS} ms)`);
    expect(second.name).not.toBe(first.name);
    expect(second.term).toBeGreaterThan(first.term);
    // Pre-vote: cut off from a majority, the old leader never raised its term.
    expect(old.status!.term).toBeLessThan(second.term);

    // Backoff: the cut-off node dialled each peer a few times, not once per heartbeat.
    const isolatedMs = performance.now() - t0;
    const isolatedDials = old.status!.dials - baseDials.get(old.name)!;
    expect(isolatedDials).toBeLessThanOrEqual(4 * (maxDialsWithin(isolatedMs) + 1));

    // Heal: nobody restricts anybody; the services redial each other.
    await Promise.all(group.map((c) => command(c, 'allow', null)));
    const healed = await until(
      () => {
        const l = agreed(group);
        if (l === undefined) return undefined;
        return group.every((c) => c.status?.connected.length === 4) ? l : undefined;
      },
      SETUP_MS,
      'all five to reconnect and agree on one leader',
    );
    expect(group.filter((c) => c.status?.isLeader === true)).toHaveLength(1);
    expect(healed.term).toBe(Math.max(...group.map((c) => c.status!.term)));
    expect(healed.term).toBeGreaterThanOrEqual(second.term);
    for (const c of group) expect(c.errors).toEqual([]);
    console.log(`dials by the isolated node: ${isolatedDials} in ${isolatedMs.toFixed(0)} ms`);
  });
});
