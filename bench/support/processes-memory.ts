/**
 * Child of bench/processes.ts (run with --expose-gc): heap per idle process. Spawns N processes
 * that each wait in a receive, collects garbage, and prints `RESULT <bytes per process>`:
 * (heap used after GC with the processes - heap used after GC before them) / N.
 *
 * `node --expose-gc --import tsx bench/support/processes-memory.ts <N>`
 */
import type { ProcessContext } from '../../src/node/process.ts';
import { ProcessTable } from '../../src/node/process-table.ts';
import type { RemoteSignals } from '../../src/node/signals.ts';
import { atom } from '../../src/term/types.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const noRemote: RemoteSignals = {
  send: () => {
    throw new Error('no remote in this bench');
  },
  monitorNode: () => {},
};

/** An idle process: waits for one message (as the BEAM side's `receive stop -> ok end`). */
async function idle(self: ProcessContext): Promise<void> {
  await self.receive();
}

/** Lets every queued start and promise reaction run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

function heapAfterGc(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

async function measure(n: number): Promise<number> {
  const table = new ProcessTable({ node: atom('bench@localhost'), creation: 1, remote: noRemote });
  await settle();
  const before = heapAfterGc();
  for (let i = 0; i < n; i++) table.spawn(idle);
  await settle();
  const after = heapAfterGc();
  if (table.count !== n) throw new Error(`expected ${n} processes, have ${table.count}`);
  return (after - before) / n;
}

const n = Number(process.argv[2]);
if (!Number.isInteger(n) || n <= 0) throw new Error('usage: processes-memory.ts <N>');
console.log(`RESULT ${(await measure(n)).toFixed(1)}`);
