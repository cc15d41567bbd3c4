/**
 * Processes against the BEAM, in one run (`npm run bench -- processes`):
 *
 * - `spawn` (`spawn+exit`, ops/s): a parent spawns N children that each send `child_done` to it
 *   and return; the parent waits for all N messages.
 * - `send_receive` (msg/s): `one-way`, a producer sends N `{msg, I}` to a consumer that receives
 *   them one by one; `ping-pong`, N round trips between two processes (2 messages each).
 * - `memory_per_process` (bytes, `n=100000` and `n=1000000`): N processes that each wait in a
 *   receive. TS: heap used after GC, with minus without them, divided by N, measured in a child
 *   `node --expose-gc` (bench/support/processes-memory.ts). BEAM: `erlang:memory(processes)`
 *   grown by N such processes, divided by N.
 *
 * The BEAM side is bench/erl/processes_bench.erl, doing the same work and timed the same way.
 * The machine is shared and its load changes by the second, so the timed cases run in ROUNDS
 * alternating rounds (erl, then ts, RUNS times each per round) and each side keeps its best: a
 * load spike then penalises neither side alone. Compare the ratios of one run, not figures across
 * runs. `BENCH_MEMORY_NS=100000` limits the memory cases (the million takes a while).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessContext } from '../src/node/process.ts';
import { ProcessTable } from '../src/node/process-table.ts';
import type { RemoteSignals } from '../src/node/signals.ts';
import { atom, type Pid, Tuple } from '../src/term/types.ts';
import { loaderArgs } from './support/peer.ts';
import { type ResultRow, writeResults } from './support/results.ts';

const SPAWN_N = 50_000;
const ONE_WAY_N = 200_000;
const PING_PONG_N = 50_000;
const MEMORY_NS = (process.env.BENCH_MEMORY_NS ?? '100000,1000000').split(',').map(Number);
const RUNS = 3;
const ROUNDS = 3;

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const erlScript = join(here, 'erl', 'processes_bench.erl');
const memoryChild = join(here, 'support', 'processes-memory.ts');

const noRemote: RemoteSignals = {
  send: () => {
    throw new Error('no remote in this bench');
  },
  monitorNode: () => {},
};

const msg = atom('msg');
const ping = atom('ping');
const pong = atom('pong');
const done = atom('done');
const childDone = atom('child_done');
const kill = atom('kill');

function newTable(): ProcessTable {
  return new ProcessTable({
    node: atom('bench@localhost'),
    creation: 1,
    remote: noRemote,
    mailboxLimit: Number.POSITIVE_INFINITY,
  });
}

/** Runs `body` as a process and resolves when it returns. */
function inProcess(table: ProcessTable, body: (self: ProcessContext) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    table.spawn(async (self) => {
      try {
        await body(self);
        resolve();
      } catch (error) {
        reject(error);
      }
    });
  });
}

async function spawnExit(n: number): Promise<void> {
  await inProcess(newTable(), async (self) => {
    const parent = self.pid;
    const child = (c: ProcessContext): void => c.send(parent, childDone);
    for (let i = 0; i < n; i++) self.spawn(child);
    for (let i = 0; i < n; i++) await self.receive();
  });
}

async function oneWay(n: number): Promise<void> {
  await inProcess(newTable(), async (self) => {
    const parent = self.pid;
    const consumer = self.spawn(async (c) => {
      for (let i = 0; i < n; i++) await c.receive();
      c.send(parent, done);
    });
    for (let i = 1; i <= n; i++) self.send(consumer, new Tuple([msg, i]));
    await self.receive();
  });
}

async function pingPong(n: number): Promise<void> {
  await inProcess(newTable(), async (self) => {
    const ponger = self.spawn(async (p) => {
      for (;;) {
        const m = (await p.receive()) as Tuple;
        p.send(m.elements[1] as Pid, pong);
      }
    });
    const request = new Tuple([ping, self.pid]);
    for (let i = 0; i < n; i++) {
      self.send(ponger, request);
      await self.receive();
    }
    self.sendExit(ponger, kill);
  });
}

/** Best (shortest) of RUNS, in microseconds. */
async function best(run: () => Promise<void>): Promise<number> {
  let min = Number.POSITIVE_INFINITY;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    await run();
    min = Math.min(min, performance.now() - t0);
  }
  return min * 1000;
}

/** Runs a command and resolves with its stdout; rejects on a non-zero exit. */
function run(command: string, args: readonly string[], timeoutMs: number): Promise<string> {
  const child = spawn(command, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ERL_CRASH_DUMP_SECONDS: '0' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  })
    .finally(() => clearTimeout(killer))
    .then((code) => {
      if (code !== 0) throw new Error(`${command} exited with ${code}: ${stderr}${stdout}`);
      return stdout;
    });
}

/** One erl run: the timed cases (`memoryNs` empty) or the memory cases. */
async function runErl(memoryNs: readonly number[], runs: number): Promise<ResultRow[]> {
  const path = JSON.stringify(erlScript);
  const boot =
    `{ok, M, B} = compile:file(${path}, [binary, return_errors]),` +
    `{module, M} = code:load_binary(M, ${path}, B),` +
    `M:main([${SPAWN_N}, ${ONE_WAY_N}, ${PING_PONG_N}, ${runs}, [${memoryNs.join(', ')}]]), halt().`;
  // +P: room for a million processes (the default limit is 262,144).
  const stdout = await run('erl', ['+P', '2100000', '-noinput', '-eval', boot], 600_000);
  const rows: ResultRow[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^RESULT (\S+) (\S+) ([\d.]+) (\S+)$/.exec(line.trim());
    if (m === null) continue;
    rows.push({
      case: m[2] as string,
      impl: 'erl',
      metric: m[1] as string,
      value: Number(m[3]),
      unit: m[4] as string,
    });
  }
  return rows;
}

async function memoryPerProcess(n: number): Promise<number> {
  const stdout = await run(
    process.execPath,
    ['--expose-gc', '--max-old-space-size=8192', ...loaderArgs(), memoryChild, String(n)],
    600_000,
  );
  const m = /^RESULT ([\d.]+)$/m.exec(stdout);
  if (m === null) throw new Error(`no result from the memory child: ${stdout}`);
  return Number(m[1]);
}

/** The TS side of the timed cases, best of RUNS each. */
async function runTs(): Promise<ResultRow[]> {
  const row = (metric: string, name: string, value: number, unit: string): ResultRow => ({
    case: name,
    impl: 'ts',
    metric,
    value,
    unit,
  });
  return [
    row('spawn', 'spawn+exit', (SPAWN_N * 1e6) / (await best(() => spawnExit(SPAWN_N))), 'ops/s'),
    row('send_receive', 'one-way', (ONE_WAY_N * 1e6) / (await best(() => oneWay(ONE_WAY_N))), 'msg/s'),
    row(
      'send_receive',
      'ping-pong',
      (2 * PING_PONG_N * 1e6) / (await best(() => pingPong(PING_PONG_N))),
      'msg/s',
    ),
  ];
}

/** Keeps, per impl, metric and case, the best value (all timed units are per second: higher wins). */
function keepBest(into: Map<string, ResultRow>, rows: readonly ResultRow[]): void {
  for (const r of rows) {
    const key = `${r.impl} ${r.metric} ${r.case}`;
    const old = into.get(key);
    if (old === undefined || r.value > old.value) into.set(key, r);
  }
}

export async function main(): Promise<void> {
  const timed = new Map<string, ResultRow>();
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round}/${ROUNDS}: erl (processes_bench.erl), then ts, best of ${RUNS} each ...`);
    keepBest(timed, await runErl([], RUNS));
    keepBest(timed, await runTs());
  }
  console.log(`memory: erl, then ts (${MEMORY_NS.join(', ')} processes) ...\n`);
  const rows: ResultRow[] = [...timed.values(), ...(await runErl(MEMORY_NS, 1))];
  for (const n of MEMORY_NS) {
    rows.push({
      case: `n=${n}`,
      impl: 'ts',
      metric: 'memory_per_process',
      value: await memoryPerProcess(n),
      unit: 'bytes',
    });
  }
  rows.sort((a, b) => (a.metric + a.case).localeCompare(b.metric + b.case) || a.impl.localeCompare(b.impl));
  writeResults('processes', rows, 'erl');
}
