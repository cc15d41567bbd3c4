/**
 * Helpers for the process-layer tests: a RemoteSignals that records what it is asked to send,
 * a logger that records, and "probes": processes the test drives through their context.
 */

import type { ProcessContext } from '../../src/node/process.ts';
import { ProcessTable, type ProcessTableOptions } from '../../src/node/process-table.ts';
import { type RemoteSignals, type Signal, sameRef } from '../../src/node/signals.ts';
import { type Atom, atom, Pid, Reference, type Term, Tuple } from '../../src/term/types.ts';

export const NODE: Atom = atom('ts@localhost');
export const REMOTE: Atom = atom('erl@localhost');

export interface SentSignal {
  readonly node: Atom;
  readonly to: Pid | Atom | Reference;
  readonly signal: Signal;
}

export class RecordingRemote implements RemoteSignals {
  readonly sent: SentSignal[] = [];
  readonly nodeMonitors: { node: Atom; watcher: Pid; on: boolean }[] = [];

  send(toNode: Atom, to: Pid | Atom | Reference, signal: Signal): void {
    this.sent.push({ node: toNode, to, signal });
  }

  monitorNode(node: Atom, watcher: Pid, on: boolean): void {
    this.nodeMonitors.push({ node, watcher, on });
  }

  ofKind<K extends Signal['kind']>(kind: K): (SentSignal & { signal: Extract<Signal, { kind: K }> })[] {
    return this.sent.filter((s) => s.signal.kind === kind) as (SentSignal & {
      signal: Extract<Signal, { kind: K }>;
    })[];
  }
}

export class RecordingLogger {
  readonly entries: {
    level: 'warn' | 'error';
    message: string;
    fields: Record<string, unknown> | undefined;
  }[] = [];
  warn(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'error', message, fields });
  }
}

export interface Setup {
  readonly table: ProcessTable;
  readonly remote: RecordingRemote;
  readonly logger: RecordingLogger;
}

export function setup(options?: Partial<ProcessTableOptions>): Setup {
  const remote = new RecordingRemote();
  const logger = new RecordingLogger();
  const table = new ProcessTable({ node: NODE, creation: 7, remote, logger, ...options });
  return { table, remote, logger };
}

/** A process the test drives: its function waits until released; the test uses `self`. */
export interface Probe {
  readonly pid: Pid;
  readonly self: ProcessContext;
  /** Lets the process function return (exit `normal`). */
  release(): void;
}

export async function probe(
  table: ProcessTable,
  options?: Parameters<ProcessTable['spawn']>[1],
): Promise<Probe> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started!: (self: ProcessContext) => void;
  const ready = new Promise<ProcessContext>((resolve) => {
    started = resolve;
  });
  const pid = table.spawn(async (self) => {
    started(self);
    await held;
  }, options);
  const self = await ready;
  return { pid, self, release };
}

/** A remote pid on REMOTE (or `node`). */
export function remotePid(id: number, node: Atom = REMOTE): Pid {
  return new Pid(node, id, 0, 3);
}

export function remoteRef(n: number, node: Atom = REMOTE): Reference {
  return new Reference(node, 3, [n, 0, 0]);
}

/** Is `m` `{'DOWN', ref, process, _, _}`? */
export function isDown(ref: Reference): (m: Term) => boolean {
  return (m) =>
    m instanceof Tuple && m.elements[0] === atom('DOWN') && sameRef(m.elements[1] as Reference, ref);
}

/** Is `m` `{'EXIT', _, _}`? */
export function isExit(m: Term): boolean {
  return m instanceof Tuple && m.length === 3 && m.elements[0] === atom('EXIT');
}

/**
 * Watches `pid` from a probe; `reason()` resolves with the exit reason from the DOWN message
 * (within `timeoutMs`).
 */
export async function watch(
  table: ProcessTable,
  pid: Pid,
): Promise<{ reason(timeoutMs?: number): Promise<Term> }> {
  const watcher = await probe(table);
  const ref = watcher.self.monitor(pid);
  return {
    async reason(timeoutMs = 2000): Promise<Term> {
      const down = (await watcher.self.receive({ match: isDown(ref), timeoutMs })) as Tuple;
      watcher.release();
      return down.elements[4] as Term;
    },
  };
}

/** A tuple, for expectations. */
export function t(...elements: Term[]): Tuple {
  return new Tuple(elements);
}

/**
 * Spawns `fn` monitored (atomically) by a fresh probe; `reason()` resolves with its exit reason.
 * Use it for processes that may exit before a later `watch` could set its monitor.
 */
export async function spawnWatched(
  table: ProcessTable,
  fn: Parameters<ProcessTable['spawn']>[0],
  options?: Omit<NonNullable<Parameters<ProcessTable['spawn']>[1]>, 'monitor'>,
): Promise<{ pid: Pid; reason(timeoutMs?: number): Promise<Term> }> {
  const watcher = await probe(table);
  const ref = table.makeRef();
  const pid = table.spawn(fn, { ...options, monitor: { watcher: watcher.pid, ref } });
  return {
    pid,
    async reason(timeoutMs = 2000): Promise<Term> {
      const down = (await watcher.self.receive({ match: isDown(ref), timeoutMs })) as Tuple;
      watcher.release();
      return down.elements[4] as Term;
    },
  };
}
