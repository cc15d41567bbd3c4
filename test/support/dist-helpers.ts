/**
 * Helpers for distribution tests: a recording pino-compatible logger, deadline waits, and an
 * echo process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../src/dist/logger.ts';
import type { Node } from '../../src/node/node.ts';
import type { ProcessContext } from '../../src/node/process.ts';
import {
  type Atom,
  atom,
  BitBinary,
  ExportFun,
  float,
  ImproperList,
  Pid,
  Port,
  Reference,
  type Term,
  Tuple,
  tuple,
} from '../../src/term/index.ts';
import { killAll } from './processes.ts';

/** One recorded log call. */
export interface LogRecord {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly message: string | undefined;
}

/** A logger stub that records every call, as pino would receive it. */
export class RecordingLogger implements Logger {
  readonly records: LogRecord[] = [];
  private readonly listeners = new Set<() => void>();

  private record(level: LogRecord['level'], fields: Record<string, unknown>, message?: string): void {
    this.records.push({ level, fields, message });
    for (const l of [...this.listeners]) l();
  }

  readonly debug = (fields: Record<string, unknown>, message?: string): void =>
    this.record('debug', fields, message);
  readonly info = (fields: Record<string, unknown>, message?: string): void =>
    this.record('info', fields, message);
  readonly warn = (fields: Record<string, unknown>, message?: string): void =>
    this.record('warn', fields, message);
  readonly error = (fields: Record<string, unknown>, message?: string): void =>
    this.record('error', fields, message);

  /** The `code` fields logged at `level` (any level when omitted). */
  codes(level?: LogRecord['level']): string[] {
    return this.records
      .filter((r) => level === undefined || r.level === level)
      .map((r) => String(r.fields.code))
      .filter((c) => c !== 'undefined');
  }

  /** Resolves with the first record (past or future) whose `code` is `code`; rejects after `ms`. */
  waitFor(code: string, ms = 10_000, match: (r: LogRecord) => boolean = () => true): Promise<LogRecord> {
    const find = (): LogRecord | undefined => this.records.find((r) => r.fields.code === code && match(r));
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<LogRecord>((resolve, reject) => {
      const check = (): void => {
        const r = find();
        if (r === undefined) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`no log with code ${code} within ${ms} ms; got ${this.codes().join(', ')}`));
      }, ms);
      this.listeners.add(check);
    });
  }
}

/** Resolves with the arguments of the next `event` that passes `filter`; rejects after `ms`. */
export function nextEvent<T extends unknown[]>(
  emitter: EventEmitter,
  event: string,
  ms: number,
  filter: (...args: T) => boolean = () => true,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const on = (...args: unknown[]): void => {
      if (!filter(...(args as T))) return;
      clearTimeout(timer);
      emitter.off(event, on);
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`no ${event} within ${ms} ms`));
    }, ms);
    emitter.on(event, on);
  });
}

/** Polls `pred` every 10 ms until it holds; rejects after `ms`. A deadline, not a sleep. */
export async function until(
  pred: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Spawns a process registered as `name` that answers `{From, M}` with `{echo, M}`. */
export function startEcho(node: Node, name = 'echo'): Pid {
  const echo = atom('echo');
  return node.spawn(
    async (self) => {
      for (;;) {
        const m = await self.receive();
        if (m instanceof Tuple && m.length === 2 && m.elements[0] instanceof Pid) {
          self.send(m.elements[0], tuple(echo, m.elements[1] as Term));
        }
      }
    },
    { name: atom(name) },
  );
}

/** Sends `{Self, term}` to `to` from a fresh process and resolves with the echoed term. */
export function echoVia(
  node: Node,
  to: Pid | readonly [Atom, Atom],
  term: Term,
  timeoutMs = 10_000,
): Promise<Term> {
  return new Promise<Term>((resolve, reject) => {
    node.spawn(async (self) => {
      self.send(to, tuple(self.pid, term));
      try {
        const m = await self.receive({ timeoutMs });
        resolve((m as Tuple).elements[1] as Term);
      } catch (e) {
        reject(e);
      }
    });
  });
}

/**
 * One term of every kind the codec knows, with pids/references/ports of `node` (a TS node's
 * atom and creation), for echo round trips.
 */
export function termCorpus(node: Atom, creation: number): Array<[string, Term]> {
  return [
    ['small integers', [0, 1, 255]],
    ['integers', [256, -1, 2147483647, -2147483648]],
    ['big integers', [2n ** 70n, -(2n ** 70n), 2n ** 2000n]],
    ['floats', [3.14, -2.5e-300, float(1), float(-0)]],
    ['atoms', [atom('ok'), atom('hello world'), atom('αβγ'), atom('')]],
    ['booleans', [true, false]],
    ['tuples', [tuple(), tuple(atom('a'), 1, 'bin'), new Tuple(Array.from({ length: 300 }, (_, i) => i))]],
    ['lists', [[], [1, 2, 3], [atom('a'), [atom('b')]], Array.from({ length: 1000 }, (_, i) => i)]],
    ['improper lists', [new ImproperList([atom('a')], atom('b')), new ImproperList([1, 2], 3)]],
    ['binaries', [Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(100_000, 97)]],
    ['strings (as binaries)', ['text', 'ünïcödé ✓']],
    [
      'bit binaries',
      [new BitBinary(Buffer.from([0b10100000]), 3), new BitBinary(Buffer.from([255, 0x70]), 4)],
    ],
    [
      'maps',
      [
        new Map(),
        new Map<Term, Term>([
          [atom('a'), 1],
          [Buffer.from('b'), [2]],
          [tuple(atom('c')), new Map()],
        ]),
        new Map<Term, Term>(Array.from({ length: 40 }, (_, i) => [i, i * i] as [Term, Term])),
      ],
    ],
    ['plain object', [{ key: 'value', n: 1 }]],
    ['pids', [new Pid(node, 1, 0, creation), new Pid(node, 32767, 8191, creation)]],
    [
      'references',
      [new Reference(node, creation, [1, 2, 3]), new Reference(node, creation, [7, 0, 9, 1, 2])],
    ],
    ['ports', [new Port(node, 5, creation), new Port(node, 2n ** 60n, creation)]],
    ['export fun', [new ExportFun(atom('lists'), atom('map'), 2)]],
    [
      'nested',
      [tuple(atom('nested'), [new Map<Term, Term>([[atom('k'), tuple(1, [2.5, Buffer.from('x')])]])])],
    ],
  ];
}

/** A TS node running in a child process (test/support/ts-node-child.ts). */
export interface TsNodeProcess {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<void>;
  /** Sends `signal` (default SIGKILL). */
  kill(signal?: NodeJS.Signals): void;
}

const childScript = join(dirname(fileURLToPath(import.meta.url)), 'ts-node-child.ts');
const children = new Set<ChildProcess>();

/** Starts a TS node in a child process and waits until it is registered. */
export async function startTsNodeProcess(opts: {
  name: string;
  cookie: string;
  epmdPort: number;
  netTicktimeMs: number;
}): Promise<TsNodeProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      childScript,
      opts.name,
      opts.cookie,
      String(opts.epmdPort),
      String(opts.netTicktimeMs),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      children.delete(child);
      resolve();
    });
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('TS child node did not start within 20 s')), 20_000);
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error('TS child node exited before it was ready'));
    });
  });
  return {
    name: opts.name,
    pid: child.pid ?? -1,
    exited,
    kill: (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Kills every TS child node still running (SIGKILL, after SIGCONT for frozen ones). */
export async function stopAllTsNodeProcesses(): Promise<void> {
  await killAll(children);
}

/**
 * Runs `body` in a fresh process of `node` (a node or a bare process table) and resolves with what
 * it returns (or rejects with its error).
 */
export function inProcess<T>(
  node: { spawn(fn: (self: ProcessContext) => unknown): unknown },
  body: (self: ProcessContext) => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    node.spawn(async (self) => {
      try {
        resolve(await body(self));
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** The `code` of what `f` throws, or undefined when it returns. */
export function thrownCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}
