/**
 * `distribute demo` end to end: the real binary (`node bin/distribute.js demo`), real node
 * processes, a private embedded EPMD. Runs without a terminal, so the output is narration lines
 * (no redraws) and a summary. Every demo process is tracked and killed in teardown; the tests
 * also check that the demo itself left no node process behind.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeErl } from '../support/erl.ts';

const BIN = fileURLToPath(new URL('../../bin/distribute.js', import.meta.url));
const running = new Set<ChildProcess>();

interface Run {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves once stdout has a line matching `re` (rejects at the deadline or on exit). */
  readonly line: (re: RegExp, timeoutMs: number) => Promise<string>;
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function demo(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 170_000): Run {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    for (const l of listeners) l();
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    err += c;
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`distribute ${args.join(' ')}: no exit within ${timeoutMs} ms\n${out}\n${err}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, stdout: out, stderr: err });
    });
  });
  const line = (re: RegExp, ms: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const l = out.split('\n').find((x) => re.test(x));
        if (l === undefined) return;
        finish();
        resolve(l);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no line ${re} within ${ms} ms\n${out}\n${err}`));
      }, ms);
      const onClose = (): void => {
        finish();
        reject(new Error(`exited before ${re}\n${out}\n${err}`));
      };
      const finish = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('close', onClose);
      };
      listeners.add(check);
      child.once('close', onClose);
      check();
    });
  return { child, stdout: () => out, stderr: () => err, line, done };
}

/** Stops every demo still running: SIGTERM (it cleans up), then SIGKILL if it is still there after 10 s. */
async function killAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
          c.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

/** The OS pids in the final node table (the `os pid` column). */
function nodePids(stdout: string): number[] {
  const pids: number[] = [];
  for (const m of stdout.matchAll(/^│ (?:n\d+|erl_demo) +│ (\d+) +│/gm)) pids.push(Number(m[1]));
  return pids;
}

/** True while `pid` runs (a zombie waiting for a reaper counts as gone). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Resolves once none of `pids` runs; rejects after `ms`. Checks at each step of a short interval. */
function allGone(pids: readonly number[], ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const timer = setInterval(() => {
      const left = pids.filter(isRunning);
      if (left.length === 0) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() > end) {
        clearInterval(timer);
        reject(new Error(`still running after ${ms} ms: ${left.join(' ')}`));
      }
    }, 50);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const STEPS = ['start', 'join', 'elect', 'pg', 'global', 'call', 'kill', 're-elect', 'restart', 'leave'];

describe('distribute demo --nodes 3', () => {
  let text: Awaited<Run['done']>;
  let json: Awaited<Run['done']>;

  beforeAll(async () => {
    // Both runs at once: each has its own EPMD and ports.
    [text, json] = await Promise.all([
      demo(['demo', '--nodes', '3']).done,
      demo(['--json', 'demo', '--nodes', '3']).done,
    ]);
  }, 180_000);

  afterAll(killAll);

  it('narrates every step, ends with an all-ok summary and exits 0', () => {
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    const out = text.stdout;
    // No redraws off a terminal: plain lines only.
    expect(out).not.toContain('\x1b[');
    for (const step of STEPS) {
      expect(out).toMatch(new RegExp(`^\\[ *[\\d.]+s\\] ${step}: `, 'm'));
      expect(out).toMatch(new RegExp(`^│ ${step} +│ ok +│`, 'm'));
    }
    expect(out).toMatch(/starting nodes: \d\/3 up/);
    expect(out).toMatch(/SIGKILL n\d \(OS pid \d+\), leader of term \d+/);
    expect(out).toMatch(/ok detected by all 2 survivors in \d/);
    expect(out).toMatch(/ok n\d leads term \d+, followed by every survivor/);
    expect(out).toMatch(/-> demo_worker: \{hello_from,'n\d@127\.0\.0\.1',\d+\}/);
    expect(out).toMatch(/failure detection [\d.]+ m?s · re-election [\d.]+ m?s/);
    expect(out).toContain(`all ${STEPS.length} steps did what they claimed`);
  });

  it('leaves no node process behind', () => {
    const pids = nodePids(text.stdout);
    // Three nodes, one restarted: the table shows the three current processes.
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });

  it('--json prints one summary with the step list', () => {
    expect(json.code).toBe(0);
    const lines = json.stdout.split('\n').filter((l) => l.length > 0);
    expect(lines).toHaveLength(1);
    const doc = JSON.parse(lines[0] ?? '') as {
      ok: boolean;
      nodes: number;
      steps: { name: string; status: string; ms: number }[];
      measures: { detectionMs: number; reelectionMs: number; rejoinMs: number };
    };
    expect(doc.ok).toBe(true);
    expect(doc.nodes).toBe(3);
    expect(doc.steps.map((s) => s.name)).toEqual(STEPS);
    expect(doc.steps.every((s) => s.status === 'ok' && s.ms >= 0)).toBe(true);
    expect(doc.measures.detectionMs).toBeGreaterThan(0);
    expect(doc.measures.reelectionMs).toBeGreaterThan(0);
    expect(doc.measures.rejoinMs).toBeGreaterThanOrEqual(0);
  });
});

describe('distribute demo: usage and interruption', () => {
  afterAll(killAll);

  it('--nodes outside 3..9 is a usage error (exit 2)', async () => {
    const r = await demo(['demo', '--nodes', '2']).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --nodes must be an integer from 3 to 9/);
  });

  it('--with-erl without erl on PATH says why and exits 2', async () => {
    const r = await demo(['demo', '--nodes', '3', '--with-erl'], { PATH: '/nonexistent' }).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--with-erl needs Erlang\/OTP: no `erl` on PATH/);
  });

  it('SIGINT stops the demo and every node process (exit 1)', async () => {
    const run = demo(['demo', '--nodes', '3']);
    await run.line(/ join: /, 120_000);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/demo interrupted \(SIGINT\); every node process was stopped/);
    const pids = nodePids(r.stdout);
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  }, 150_000);
});

describe('distribute demo: the parent killed', () => {
  // A killed demo cannot remove its election files: give it a temporary directory we remove.
  let tmp = '';
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'demo-test-'));
  });
  afterAll(async () => {
    await killAll();
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  it.runIf(process.platform === 'linux')(
    'its node processes exit when it dies by SIGKILL',
    async () => {
      const run = demo(['demo', '--nodes', '3'], { TMPDIR: tmp });
      await run.line(/ join: /, 150_000);
      const pid = run.child.pid ?? 0;
      const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
        .split('\n')
        .map((l) => Number(l.trim()))
        .filter((n) => n > 0);
      expect(children.length).toBeGreaterThanOrEqual(3);
      run.child.kill('SIGKILL');
      await run.done;
      await allGone(children, 20_000);
    },
    180_000,
  );
});

describe('distribute demo --interactive', () => {
  afterAll(killAll);

  it('keeps the cluster up for other commands until SIGINT, then stops it and exits 0', async () => {
    const run = demo(['demo', '--nodes', '3', '--interactive']);
    const hint = await run.line(/interactive: the cluster keeps running/, 150_000);
    const m = /ERL_EPMD_PORT=(\d+) npx distribute members --via (\S+) --cookie (\S+)/.exec(hint);
    expect(m).not.toBeNull();
    const [, port, via, cookie] = m ?? [];
    const names = demo(['names'], { ERL_EPMD_PORT: port });
    const members = demo(['members', '--via', via ?? '', '--cookie', cookie ?? ''], { ERL_EPMD_PORT: port });
    const [n, mem] = await Promise.all([names.done, members.done]);
    expect(n.code, n.stderr).toBe(0);
    // One node left during the scenario; the one the hint names is up.
    expect(n.stdout).toContain(`│ ${via?.split('@')[0]} `);
    expect(mem.code, mem.stderr).toBe(0);
    expect(mem.stdout).toContain(via);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`all ${STEPS.length} steps did what they claimed`);
    const pids = nodePids(r.stdout);
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  }, 180_000);
});

describeErl('distribute demo --with-erl', () => {
  afterAll(killAll);

  it('an erl node joins the pg group, resolves and calls the global name; exit 0', async () => {
    const r = await demo(['demo', '--nodes', '3', '--with-erl']).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^│ erl +│ ok +│/m);
    expect(r.stdout).toMatch(/erl -> demo_worker: .*hello_from,'n\d@127\.0\.0\.1'/);
    expect(r.stdout).toMatch(/ok erl sees 4 pg members and calls demo_worker/);
    expect(r.stdout).toContain(`all ${STEPS.length + 1} steps did what they claimed`);
    const pids = nodePids(r.stdout);
    expect(pids).toHaveLength(4);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  }, 180_000);
});
