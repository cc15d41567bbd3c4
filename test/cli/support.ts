/**
 * Runs the `distribute` CLI as child processes (`node bin/distribute.js ...`) against a private
 * EPMD (`ERL_EPMD_PORT`). Every child is tracked; `killAllCli()` (afterAll/afterEach) kills
 * those still running, so a failing test never leaks a process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { killAll } from '../support/processes.ts';

const BIN = fileURLToPath(new URL('../../bin/distribute.js', import.meta.url));
const running = new Set<ChildProcess>();

/** The outcome of a CLI run. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function spawnCli(args: readonly string[], epmdPort: number): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ERL_EPMD_PORT: String(epmdPort), NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Runs the CLI to completion (killed past `timeoutMs`). */
export function runCli(args: readonly string[], epmdPort: number, timeoutMs = 25_000): Promise<CliResult> {
  const child = spawnCli(args, epmdPort);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`distribute ${args.join(' ')}: no exit within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running CLI process (`distribute start`). */
export interface CliProcess {
  readonly child: ChildProcess;
  /** Everything printed so far. */
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the first stdout line `match` accepts (rejects at the deadline or on exit). */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

/** Starts a CLI process that keeps running. */
export function startCli(args: readonly string[], epmdPort: number): CliProcess {
  const child = spawnCli(args, epmdPort);
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    for (const l of listeners) l();
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    err += c;
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForLine: (match, timeoutMs = 25_000) =>
      new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const line = out.split('\n').find((l) => l.length > 0 && match(l));
          if (line === undefined) return;
          done();
          resolve(line);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no matching line within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`));
        }, timeoutMs);
        const onExit = (): void => {
          check();
          done();
          reject(new Error(`the process exited before printing the line\nstdout: ${out}\nstderr: ${err}`));
        };
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('close', onExit);
        };
        listeners.add(check);
        child.once('close', onExit);
        check();
      }),
  };
}

/** Kills every CLI child still running (SIGKILL) and waits for them. */
export async function killAllCli(): Promise<void> {
  await killAll(running);
}

/** Parses the last non-empty stdout line as JSON. */
export function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.split('\n').filter((l) => l.trim().length > 0);
  return JSON.parse(lines[lines.length - 1] ?? 'null') as Record<string, unknown>;
}
