/**
 * Teardown of OS processes a test spawned.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';

/**
 * Kills every child still running and resolves once all have exited. A frozen child (SIGSTOP)
 * is continued first, so the kill is not left pending; for a running one SIGCONT is a no-op.
 */
export async function killAll(children: Iterable<ChildProcess>): Promise<void> {
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) {
            resolve();
            return;
          }
          c.once('exit', () => resolve());
          c.kill('SIGCONT');
          c.kill('SIGKILL');
        }),
    ),
  );
}
