/**
 * Helpers for the EPMD tests: child processes that are always killed in teardown, and waiting
 * on conditions with deadlines. The private real `epmd` comes from test/support/epmd.ts.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

export { freePort } from '../support/epmd.ts';

/**
 * Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`
 * with `what` in the message. Polling is how we wait on another process's state.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Children started by a test, killed (SIGKILL) in teardown whatever happened. */
export class Children {
  readonly #children = new Set<ChildProcess>();

  spawn(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): LineChild {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.#children.add(child);
    child.on('exit', () => this.#children.delete(child));
    return new LineChild(child);
  }

  async killAll(): Promise<void> {
    const exits: Promise<unknown>[] = [];
    for (const child of this.#children) {
      if (child.exitCode === null && child.signalCode === null) {
        exits.push(once(child, 'exit'));
        child.kill('SIGKILL');
      }
    }
    this.#children.clear();
    await Promise.all(exits);
  }
}

/** A child process whose stdout is collected line by line. */
export class LineChild {
  readonly process: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  #partial = '';

  constructor(child: ChildProcess) {
    this.process = child;
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
  }

  /** Waits for a stdout line matching `match`, seen at or after index `from`. */
  waitForLine(what: string, match: (line: string) => boolean, timeoutMs = 15_000, from = 0): Promise<string> {
    return waitFor(
      `${what} (stdout so far: ${JSON.stringify(this.lines.slice(-5))}, stderr: ${JSON.stringify(this.stderr.slice(-500))})`,
      () => this.lines.slice(from).find(match),
      timeoutMs,
    );
  }

  /** Resolves with the exit code when the process exits. */
  exited(): Promise<number | null> {
    if (this.process.exitCode !== null || this.process.signalCode !== null)
      return Promise.resolve(this.process.exitCode);
    return once(this.process, 'exit').then(([code]) => code as number | null);
  }
}
