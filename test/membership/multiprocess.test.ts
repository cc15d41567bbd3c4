/**
 * Five OS processes, each a node running `node.membership` (issue 7): `kill -9` one and every
 * survivor declares it dead within the configured bound; `SIGSTOP` one until it is suspected,
 * then `SIGCONT` before its suspicion times out, and it refutes without ever being declared dead;
 * one leaves gracefully and shows `left` everywhere.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { killAll } from '../support/processes.ts';

const fixture = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/membership-node.ts');
const probeIntervalMs = 100;
const suspicionMult = 6;
const suspicionMaxTimeoutMult = 6;
const settings = {
  probeIntervalMs,
  config: { suspicionMult, suspicionMaxTimeoutMult, pushPullIntervalMs: 2000 },
};
/** Minimum suspicion timeout for 5 members: suspicionMult * max(1, log10(5)) periods. */
const minSuspicionMs = suspicionMult * probeIntervalMs;
/**
 * Detection bound: a probe of the victim within N-1 periods (round-robin), its failure within one
 * more, a lone accuser's full suspicion timeout, a few periods of gossip, and 1 s for scheduling
 * five processes on a shared machine.
 */
const N = 5;
const detectionBoundMs =
  (N + 1) * probeIntervalMs + suspicionMaxTimeoutMult * minSuspicionMs + 3 * probeIntervalMs + 1000;

interface Change {
  readonly type: string;
  readonly node: string;
  readonly status: string;
  readonly incarnation: number;
  readonly at: number;
}

interface Member {
  readonly name: string;
  readonly child: ChildProcess;
  address: string;
  readonly changes: Change[];
  readonly view: Map<string, { status: string; incarnation: number }>;
  left: boolean;
}

const children: ChildProcess[] = [];
let epmd: EpmdProcess | undefined;

beforeAll(async () => {
  epmd = await startEpmd();
});

afterAll(async () => {
  await killAll(children);
  await epmd?.stop();
});

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function startMember(name: string, seed: string): Promise<Member> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fixture, name, String(epmd!.port), seed, JSON.stringify(settings)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.push(child);
  const m: Member = { name, child, address: '', changes: [], view: new Map(), left: false };
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s`)), 30_000);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before it was ready`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (e.event === 'ready') {
        m.address = String(e.address);
        clearTimeout(timer);
        resolve();
      } else if (e.event === 'change') {
        const c = { ...(e as unknown as Change), at: Date.now() };
        m.changes.push(c);
        m.view.set(c.node, { status: c.status, incarnation: c.incarnation });
      } else if (e.event === 'left') {
        m.left = true;
      } else if (e.event === 'error') {
        clearTimeout(timer);
        reject(new Error(`${name}: ${String(e.message)}`));
      }
    });
  });
  await ready;
  return m;
}

describe('membership across 5 OS processes', () => {
  it('detects kill -9 within the bound, survives SIGSTOP/SIGCONT, and shows a leave as left', async () => {
    const first = await startMember('mp1@127.0.0.1', '-');
    const rest = await Promise.all([2, 3, 4, 5].map((i) => startMember(`mp${i}@127.0.0.1`, first.address)));
    const all = [first, ...rest];
    const names = all.map((m) => m.name);
    await waitFor(
      () => all.every((m) => names.every((n) => n === m.name || m.view.get(n)?.status === 'alive')),
      15_000,
      'convergence',
    );

    // SIGSTOP mp4 until someone suspects it, then SIGCONT: it must refute and never be declared dead.
    const [, mp2, mp3, mp4, mp5] = all as [Member, Member, Member, Member, Member];
    const before = mp2.view.get(mp4.name)!.incarnation;
    const suspectedAt = (): number | undefined =>
      all
        .flatMap((m) => m.changes)
        .find((c) => c.node === mp4.name && c.type === 'suspect' && c.incarnation === before)?.at;
    mp4.child.kill('SIGSTOP');
    await waitFor(() => suspectedAt() !== undefined, 5000, 'suspicion of the stopped node');
    mp4.child.kill('SIGCONT');
    const resumedAt = Date.now();
    // The pause after the first suspicion was shorter than the shortest suspicion timeout.
    expect(resumedAt - suspectedAt()!).toBeLessThan(minSuspicionMs);
    const others = all.filter((m) => m !== mp4);
    // Members that suspected mp4 must see its refutation (alive, higher incarnation); an alive
    // member that never suspected it reports no change for the bump, so it must just stay alive.
    const suspected = (m: Member): boolean =>
      m.changes.some((c) => c.node === mp4.name && c.type === 'suspect' && c.incarnation === before);
    await waitFor(
      () =>
        others.every((m) => {
          const v = m.view.get(mp4.name);
          return v?.status === 'alive' && (!suspected(m) || v.incarnation > before);
        }),
      5000,
      'refutation',
    );
    expect(others.some((m) => m.view.get(mp4.name)!.incarnation > before)).toBe(true);
    expect(all.flatMap((m) => m.changes).filter((c) => c.node === mp4.name && c.type === 'dead')).toEqual([]);

    // kill -9 mp5: every survivor declares it dead within the bound.
    const killedAt = Date.now();
    mp5.child.kill('SIGKILL');
    const survivors = all.filter((m) => m !== mp5);
    await waitFor(
      () => survivors.every((m) => m.view.get(mp5.name)?.status === 'dead'),
      detectionBoundMs + 2000,
      'death of the killed node',
    );
    for (const m of survivors) {
      const dead = m.changes.find((c) => c.node === mp5.name && c.type === 'dead');
      expect(dead!.at - killedAt).toBeLessThanOrEqual(detectionBoundMs);
      if (process.env.MEMBERSHIP_TIMINGS) console.info(`${m.name}: dead after ${dead!.at - killedAt} ms`);
    }

    // mp3 leaves gracefully: `left` everywhere.
    mp3.child.stdin!.write('leave\n');
    await waitFor(() => mp3.left, 5000, 'leave');
    await waitFor(
      () => survivors.filter((m) => m !== mp3).every((m) => m.view.get(mp3.name)?.status === 'left'),
      5000,
      'left everywhere',
    );
    // No one ever declared the stopped-then-resumed node dead, even later.
    expect(all.flatMap((m) => m.changes).some((c) => c.node === mp4.name && c.type === 'dead')).toBe(false);
  }, 60_000);
});
