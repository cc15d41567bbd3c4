/**
 * The processes of `distribute demo`: a private embedded EPMD, one OS process per TypeScript
 * node (worker.ts, through `child_process.fork`) and, with `--with-erl`, a real `erl` node.
 *
 * The parent is not a node: it keeps what each child last reported (its own beliefs, never the
 * parent's guess), asks children to act over their IPC channel, and kills them. Nothing outlives
 * it: {@link DemoCluster.shutdown} kills every child and `erl`; a hook on the process `exit`
 * event does the same if the parent ends another way; and if the parent is killed, each child
 * sees its IPC channel close and `erl` sees its stdin close, and both exit.
 *
 * The EPMD listens on 127.0.0.1 on a free port (never 4369, so a user's own EPMD and nodes are
 * never touched); every child and `erl` (through `ERL_EPMD_PORT`) registers there.
 *
 * @module
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EpmdServer, startEpmdServer } from '../../epmd/server.ts';
import {
  type ChildConfig,
  CONFIG_ENV,
  type DemoReport,
  type DemoRequest,
  type DemoTimings,
  type Snapshot,
} from './protocol.ts';

/** Host part of every demo node name. */
export const DEMO_HOST = '127.0.0.1';

/** Defaults of {@link DemoTimings}, with the reason for each. */
export const demoTimings: DemoTimings = Object.freeze({
  // Five probes a second: a dead node is suspected within a few hundred ms on loopback.
  probeIntervalMs: 200,
  // Above the stalls of a busy laptop's event loop, so no spurious election happens while it
  // watches; still well under a second to a new leader.
  electionTimeoutMinMs: 500,
  electionTimeoutMaxMs: 1000,
  heartbeatIntervalMs: 100,
  // Four chat broadcasts a second per node: visible traffic without load.
  chatIntervalMs: 250,
  // Four piggybacks per update (the profiles' default) and a push-pull every 5 s rather than the
  // 'local' profile's 15 s keep joins and rejoins within about a second.
  retransmitMult: 4,
  pushPullIntervalMs: 5000,
});

/** Lifecycle of a demo node as the parent knows it. */
export type ChildState = 'starting' | 'up' | 'killed' | 'left' | 'exited';

/** One demo node process. */
export interface DemoChild {
  readonly name: string;
  state: ChildState;
  /** The OS process id of the current incarnation. */
  pid: number | undefined;
  /** Its latest report, or undefined before the first one (and after a restart, until the next). */
  snapshot: Snapshot | undefined;
  /** Messages received per second, over the last second or so of snapshots. */
  rate: number;
  /** How many times it was started. */
  starts: number;
  /** Exit code of the last incarnation that exited on its own (or null when killed by a signal). */
  exitCode: number | null | undefined;
  /** @internal */
  proc: ChildProcess | undefined;
  /** @internal Recent (at, messages) samples for `rate`. */
  samples: Array<readonly [number, number]>;
  /** @internal Last lines the child wrote on stderr, for error messages. */
  stderr: string;
}

/** The Erlang node of `--with-erl`. */
export interface DemoErl {
  readonly name: string;
  state: 'starting' | 'up' | 'exited';
  pid: number | undefined;
  /** @internal */
  proc: ChildProcess | undefined;
}

/** Events of {@link DemoCluster}. */
export interface DemoClusterEvents {
  /** Something changed: a report arrived, a process started or ended. */
  change: [];
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** Where worker.ts is, and how to run it: compiled (dist/) or through tsx (sources). */
function workerEntry(): { file: string; execArgv: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return {
      file: fileURLToPath(new URL('./worker.ts', here)),
      execArgv: ['--import', import.meta.resolve('tsx')],
    };
  }
  return { file: fileURLToPath(new URL('./worker.js', here)), execArgv: [] };
}

/** True when an `erl` executable can be started. */
export async function erlInstalled(): Promise<boolean> {
  return await new Promise((resolve) => {
    const p = spawn('erl', ['-noshell', '-eval', 'halt().'], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('exit', (code) => resolve(code === 0));
  });
}

/** The processes of one demo run; see the module comment. */
export class DemoCluster extends EventEmitter<DemoClusterEvents> {
  readonly epmd: EpmdServer;
  readonly cookie: string;
  readonly names: readonly string[];
  readonly children: ReadonlyMap<string, DemoChild>;
  readonly timings: DemoTimings;
  erl: DemoErl | undefined;
  readonly #dir: string;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  readonly #onExit = (): void => this.#killAll();

  private constructor(epmd: EpmdServer, count: number, timings: DemoTimings) {
    super();
    this.epmd = epmd;
    this.timings = timings;
    this.cookie = `demo-${randomBytes(12).toString('hex')}`;
    this.#dir = mkdtempSync(join(tmpdir(), 'distribute-demo-'));
    const names: string[] = [];
    const children = new Map<string, DemoChild>();
    for (let i = 1; i <= count; i++) {
      const name = `n${i}@${DEMO_HOST}`;
      names.push(name);
      children.set(name, {
        name,
        state: 'exited',
        pid: undefined,
        snapshot: undefined,
        rate: 0,
        starts: 0,
        exitCode: undefined,
        proc: undefined,
        samples: [],
        stderr: '',
      });
    }
    this.names = names;
    this.children = children;
    process.on('exit', this.#onExit);
  }

  /** Starts the private EPMD; no node yet. */
  static async create(count: number, timings: DemoTimings = demoTimings): Promise<DemoCluster> {
    const epmd = await startEpmdServer({ port: 0, host: DEMO_HOST });
    return new DemoCluster(epmd, count, timings);
  }

  /** The child called `name` (throws for an unknown name: a bug of the scenario). */
  child(name: string): DemoChild {
    const c = this.children.get(name);
    if (c === undefined) throw new Error(`no demo node ${name}`);
    return c;
  }

  /** Children that are up. */
  up(): DemoChild[] {
    return [...this.children.values()].filter((c) => c.state === 'up');
  }

  /** Forks the node process `name` and resolves once its node is up (or rejects when it fails). */
  startNode(name: string): Promise<void> {
    const c = this.child(name);
    const config: ChildConfig = {
      name,
      cookie: this.cookie,
      epmdPort: this.epmd.port,
      voters: this.names,
      electionFile: join(this.#dir, `${name.replace(/[^A-Za-z0-9_-]/g, '_')}.election`),
      ...this.timings,
    };
    const entry = workerEntry();
    const proc = fork(entry.file, [], {
      execArgv: entry.execArgv,
      env: { ...process.env, [CONFIG_ENV]: JSON.stringify(config) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    c.proc = proc;
    c.pid = proc.pid;
    c.state = 'starting';
    c.snapshot = undefined;
    c.samples = [];
    c.rate = 0;
    c.stderr = '';
    c.exitCode = undefined;
    c.starts++;
    this.emit('change');
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        if (err === undefined) resolve();
        else reject(err);
      };
      proc.stderr?.on('data', (chunk: Buffer) => {
        c.stderr = (c.stderr + chunk.toString('utf8')).slice(-2000);
      });
      proc.on('message', (m: DemoReport) => {
        if (c.proc !== proc) return;
        if (m.t === 'up') {
          c.state = 'up';
          settle();
        } else if (m.t === 'snapshot') {
          this.#onSnapshot(c, m.snapshot);
        } else if (m.t === 'result') {
          const p = this.#pending.get(m.id);
          if (p !== undefined) {
            this.#pending.delete(m.id);
            if (m.ok) p.resolve(m.value);
            else p.reject(new Error(m.error ?? 'failed'));
          }
        } else if (m.t === 'fatal') {
          c.stderr = `${c.stderr}\n${m.message}`.slice(-2000);
          settle(new Error(`${name}: ${m.message}`));
        }
        this.emit('change');
      });
      proc.on('error', (e) => settle(new Error(`${name}: ${e.message}`)));
      proc.on('exit', (code) => {
        if (c.proc === proc) {
          if (c.state !== 'killed' && c.state !== 'left') c.state = 'exited';
          c.exitCode = code;
          c.proc = undefined;
        }
        const tail = c.stderr.trim().split('\n').slice(-3).join(' | ');
        settle(new Error(`${name} exited (code ${code})${tail ? `: ${tail}` : ''}`));
        this.emit('change');
      });
    });
  }

  /** Sends `req` (without its id) to `name` and resolves with the child's answer. */
  request(name: string, req: DistributiveOmit<DemoRequest, 'id'>, timeoutMs: number): Promise<unknown> {
    const c = this.child(name);
    const proc = c.proc;
    if (proc === undefined || !proc.connected) return Promise.reject(new Error(`${name} is not running`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${name} did not answer ${req.t} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        proc.off('exit', onExit);
      };
      const onExit = (): void => {
        done();
        this.#pending.delete(id);
        reject(new Error(`${name} exited before answering ${req.t}`));
      };
      proc.once('exit', onExit);
      this.#pending.set(id, {
        resolve: (v) => {
          done();
          resolve(v);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      proc.send({ ...req, id } as DemoRequest);
    });
  }

  /** SIGKILLs the node process `name`: no goodbye to anyone. */
  kill(name: string): void {
    const c = this.child(name);
    c.state = 'killed';
    c.proc?.kill('SIGKILL');
    this.emit('change');
  }

  /** Marks `name` as leaving gracefully (its process exits by itself). */
  markLeft(name: string): void {
    this.child(name).state = 'left';
    this.emit('change');
  }

  /** Resolves with the exit code once the process of `name` has exited. */
  exited(name: string): Promise<number | null> {
    const c = this.child(name);
    const proc = c.proc;
    if (proc === undefined) return Promise.resolve(c.exitCode ?? null);
    return new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }

  /**
   * Starts `erl` as `erl_demo@127.0.0.1` on the demo's EPMD, with a pg member in the group and a
   * watchdog that halts it when its stdin closes. Resolves once its -eval ran.
   */
  startErl(group: string, deadlineMs: number): Promise<DemoErl> {
    const name = `erl_demo@${DEMO_HOST}`;
    const script = [
      `P = spawn(fun Loop() -> receive _ -> Loop() end end)`,
      `ok = pg:join(${group}, P)`,
      `io:format("ready~n")`,
      // The parent holds our stdin: when it goes, so do we.
      `_ = io:get_line("")`,
      `erlang:halt()`,
    ].join(', ');
    const proc = spawn(
      'erl',
      [
        '-noshell',
        '-name',
        name,
        '-setcookie',
        this.cookie,
        '-kernel',
        'start_pg',
        'true',
        '-start_epmd',
        'false',
        '-eval',
        `${script}.`,
      ],
      { env: { ...process.env, ERL_EPMD_PORT: String(this.epmd.port) }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const erl: DemoErl = { name, state: 'starting', pid: proc.pid, proc };
    this.erl = erl;
    this.emit('change');
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error(`erl did not start within ${deadlineMs} ms: ${out.trim()}`)),
        deadlineMs,
      );
      const onData = (chunk: Buffer): void => {
        out = (out + chunk.toString('utf8')).slice(-2000);
        if (erl.state === 'starting' && out.includes('ready')) {
          clearTimeout(timer);
          erl.state = 'up';
          this.emit('change');
          resolve(erl);
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        erl.state = 'exited';
        erl.proc = undefined;
        this.emit('change');
        reject(new Error(`erl exited (code ${code}): ${out.trim()}`));
      });
    });
  }

  /** Kills every child and `erl`, waits for them to go, closes the EPMD and removes the files. */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const exits: Promise<unknown>[] = [];
    for (const p of this.#procs()) {
      if (p.exitCode === null && p.signalCode === null) {
        exits.push(new Promise((resolve) => p.once('exit', resolve)));
      }
    }
    this.#killAll();
    await Promise.all(exits);
    process.off('exit', this.#onExit);
    for (const p of this.#pending.values()) p.reject(new Error('the demo is shutting down'));
    this.#pending.clear();
    await this.epmd.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #procs(): ChildProcess[] {
    const out: ChildProcess[] = [];
    for (const c of this.children.values()) if (c.proc !== undefined) out.push(c.proc);
    if (this.erl?.proc !== undefined) out.push(this.erl.proc);
    return out;
  }

  /** Synchronous, so that it also works from the process `exit` hook. */
  #killAll(): void {
    for (const p of this.#procs()) {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
  }

  #onSnapshot(c: DemoChild, s: Snapshot): void {
    c.snapshot = s;
    c.samples.push([s.at, s.messages]);
    while (c.samples.length > 2 && (c.samples[0]?.[0] ?? s.at) < s.at - 1500) c.samples.shift();
    const first = c.samples[0];
    if (first !== undefined && s.at > first[0]) c.rate = ((s.messages - first[1]) * 1000) / (s.at - first[0]);
  }
}

/** `Omit` over each member of a union. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
