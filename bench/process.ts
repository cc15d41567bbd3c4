/**
 * Local process throughput and latency: the process table (`ts`) against the BEAM (`erl`,
 * bench/erl/process_bench.erl, started by this run, same workloads, same timing: best of RUNS).
 *
 * - one-way: a producer sends N `{msg, I}` to a consumer; messages per second until it has all.
 * - ping-pong: round trips between two processes; microseconds per round trip.
 * - ping-pong-selective: the same, with JUNK unmatched messages parked in the pinger's mailbox,
 *   so every receive scans past them (selective receive cost).
 * - spawn-exit: N children that each send `child_done` to the parent and return.
 *
 * `npx tsx bench/run.ts process`.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessContext } from '../src/node/process.ts';
import { ProcessTable } from '../src/node/process-table.ts';
import type { RemoteSignals } from '../src/node/signals.ts';
import { atom, type Pid, type Term, Tuple } from '../src/term/types.ts';
import { type ResultRow, writeResults } from './support/results.ts';

const ONE_WAY_N = 200_000;
const PING_PONG_N = 50_000;
const SPAWN_N = 50_000;
const JUNK = 100;
const RUNS = 5;

const erlScript = join(dirname(fileURLToPath(import.meta.url)), 'erl', 'process_bench.erl');

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
const junk = atom('junk');

function newTable(): ProcessTable {
  return new ProcessTable({
    node: atom('bench@localhost'),
    creation: 1,
    remote: noRemote,
    mailboxLimit: Infinity,
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

async function oneWay(n: number): Promise<void> {
  const table = newTable();
  await inProcess(table, async (self) => {
    const parent = self.pid;
    const consumer = self.spawn(async (c) => {
      for (let i = 0; i < n; i++) await c.receive();
      c.send(parent, done);
    });
    for (let i = 1; i <= n; i++) self.send(consumer, new Tuple([msg, i]));
    await self.receive();
  });
}

async function pingPong(n: number, junkCount: number): Promise<void> {
  const table = newTable();
  await inProcess(table, async (self) => {
    const ponger = self.spawn(async (p) => {
      for (;;) {
        const m = (await p.receive()) as Tuple;
        p.send(m.elements[1] as Pid, pong);
      }
    });
    for (let j = 1; j <= junkCount; j++) self.send(self.pid, new Tuple([junk, j]));
    const isPong = (m: Term): boolean => m === pong;
    const request = new Tuple([ping, self.pid]);
    for (let i = 0; i < n; i++) {
      self.send(ponger, request);
      await self.receive({ match: isPong });
    }
    self.sendExit(ponger, atom('kill'));
  });
}

async function spawnExit(n: number): Promise<void> {
  const table = newTable();
  await inProcess(table, async (self) => {
    const parent = self.pid;
    for (let i = 0; i < n; i++) self.spawn((c) => c.send(parent, childDone));
    for (let i = 0; i < n; i++) await self.receive();
  });
}

async function best(run: () => Promise<void>): Promise<number> {
  let min = Number.POSITIVE_INFINITY;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    await run();
    min = Math.min(min, performance.now() - t0);
  }
  return min * 1000; // microseconds
}

async function runErl(): Promise<Map<string, { value: number; unit: string }>> {
  const path = JSON.stringify(erlScript);
  const boot =
    `{ok, M, B} = compile:file(${path}, [binary, return_errors]),` +
    `{module, M} = code:load_binary(M, ${path}, B),` +
    `M:main([${ONE_WAY_N}, ${PING_PONG_N}, ${SPAWN_N}, ${JUNK}, ${RUNS}]), halt().`;
  const child = spawn('erl', ['-noinput', '-eval', boot], {
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
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (exitCode) => resolve(exitCode));
  }).finally(() => clearTimeout(killer));
  if (code !== 0) throw new Error(`erl bench exited with ${code}: ${stderr}${stdout}`);
  const results = new Map<string, { value: number; unit: string }>();
  for (const line of stdout.split('\n')) {
    const m = /^RESULT (\S+) ([\d.]+) (\S+)$/.exec(line.trim());
    if (m !== null) results.set(m[1] as string, { value: Number(m[2]), unit: m[3] as string });
  }
  return results;
}

export async function main(): Promise<void> {
  console.log(`erl: process_bench.erl, best of ${RUNS} ...`);
  const erl = await runErl();
  console.log(`ts: best of ${RUNS} ...\n`);
  const rows: ResultRow[] = [];
  const add = (name: string, value: number, unit: string): void => {
    rows.push({ case: name, impl: 'ts', metric: name, value, unit });
    const beam = erl.get(name);
    if (beam !== undefined)
      rows.push({ case: name, impl: 'erl', metric: name, value: beam.value, unit: beam.unit });
  };
  add('one-way', (ONE_WAY_N * 1e6) / (await best(() => oneWay(ONE_WAY_N))), 'msg/s');
  add('ping-pong', (await best(() => pingPong(PING_PONG_N, 0))) / PING_PONG_N, 'us/round-trip');
  add('ping-pong-selective', (await best(() => pingPong(PING_PONG_N, JUNK))) / PING_PONG_N, 'us/round-trip');
  add('spawn-exit', (SPAWN_N * 1e6) / (await best(() => spawnExit(SPAWN_N))), 'spawn/s');
  writeResults('process', rows, 'erl');
}
