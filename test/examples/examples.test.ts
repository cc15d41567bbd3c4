/**
 * Every example in examples/ runs as its own process, as a user runs it, and must exit 0 after
 * printing its narration. The Erlang one needs `erl` (describeErl: it fails in CI without it).
 * Each run gets a private embedded EPMD port through `ERL_EPMD_PORT`, so an example that uses the
 * default EPMD never reaches one on 4369.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EpmdServer, startEpmdServer } from '../../src/epmd/index.ts';
import { describeErl, erlAvailable } from '../support/erl.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Under a loaded machine, tsx compiling the sources and `erl` booting take a while. */
const RUN_DEADLINE_MS = 90_000;
const running = new Set<ChildProcess>();

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `examples/<file>` with tsx and resolves when it exits (or kills it at the deadline). */
function runExample(file: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `examples/${file}`], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} did not finish within ${RUN_DEADLINE_MS} ms\n${stdout}\n${stderr}`));
    }, RUN_DEADLINE_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

function expectSuccess(run: Run): void {
  expect(run.code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
}

let epmd: EpmdServer;

beforeAll(async () => {
  epmd = await startEpmdServer({ port: 0, host: '127.0.0.1' });
});
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});
afterAll(async () => {
  await epmd?.close();
});

describe('examples', () => {
  it(
    'two-nodes.ts: two TS nodes ping and echo (and an Erlang node when erl is installed)',
    async () => {
      const run = await runExample('two-nodes.ts', { ERL_EPMD_PORT: String(epmd.port) });
      expectSuccess(run);
      expect(run.stdout).toContain('alice pings bob: pong');
      expect(run.stdout).toContain('alice got back {echo,{hello,[1,2.5,<<"bin">>]}}');
      if (erlAvailable) {
        expect(run.stdout).toContain('alice pings the Erlang node carol: pong');
        expect(run.stdout).toContain('carol (erl) answered {echo,hi_from_typescript}');
      }
      expect(run.stdout).toMatch(/stopped\n$/);
    },
    RUN_DEADLINE_MS + 5000,
  );

  it(
    'worker-pool.ts: jobs spread over pg members; the pool shrinks when a worker and a node go',
    async () => {
      const run = await runExample('worker-pool.ts');
      expectSuccess(run);
      expect(run.stdout).toContain('the dispatcher sees 6 workers in group workers');
      expect(run.stdout).toContain('jobs per node: w1@127.0.0.1: 4, w2@127.0.0.1: 4, w3@127.0.0.1: 4');
      expect(run.stdout).toContain('a worker exited; the pool has 5 workers');
      expect(run.stdout).toContain('w3@127.0.0.1 stopped; the pool has 3 workers');
      expect(run.stdout.match(/12 jobs done, sum of squares 650/g)).toHaveLength(3);
      expect(run.stdout).toMatch(/stopped\n$/);
    },
    RUN_DEADLINE_MS + 5000,
  );

  it(
    'singleton-job.ts: only the leader runs the job; a new leader takes over with a larger token',
    async () => {
      const run = await runExample('singleton-job.ts');
      expectSuccess(run);
      const first = /(n\d@127\.0\.0\.1) is the leader; the others agree: true/.exec(run.stdout)?.[1];
      expect(first).toBeDefined();
      expect(run.stdout).toContain(`stopped the leader ${first}`);
      const takeover = /(n\d@127\.0\.0\.1) took over; fencing token (\d+) -> (\d+)/.exec(run.stdout);
      expect(takeover?.[1]).not.toBe(first);
      expect(Number(takeover?.[3])).toBeGreaterThan(Number(takeover?.[2]));
      expect(run.stdout).toMatch(/stopped\n$/);
    },
    RUN_DEADLINE_MS + 5000,
  );
});

describeErl('examples with erl', () => {
  it(
    'erlang-cluster.ts: a TS node in an Erlang cluster: gen_server, RPC both ways, pg, global',
    async () => {
      const run = await runExample('erlang-cluster.ts');
      expectSuccess(run);
      const out = run.stdout;
      expect(out).toContain('ts@127.0.0.1 pings erl@127.0.0.1: pong; visible nodes: erl@127.0.0.1');
      expect(out).toContain('{module,distribute_example_kv}');
      expect(out).toContain('gen_server:call kv {put, answer, 42} -> ok; {get, answer} -> 42');
      expect(out).toContain("ran rpc:call('ts@127.0.0.1', ts_math, add, [20, 22]) -> 42");
      expect(out).toContain("ran gen_server:call({ts_counter, 'ts@127.0.0.1'}, incr) twice -> 2");
      expect(out).toMatch(/erl@127\.0\.0\.1 sees pg:get_members\(workers\) = \[<.*>,<.*>\]/);
      expect(out).toMatch(/sees global:whereis_name\(ts_worker\) = <ts@127\.0\.0\.1\.\d+\.\d+>/);
      expect(out).toMatch(/stopped\n$/);
    },
    RUN_DEADLINE_MS + 5000,
  );
});
