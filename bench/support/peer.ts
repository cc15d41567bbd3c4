/**
 * A benchmark's TypeScript peer: a script run as its own OS process (as each BEAM node is its own
 * VM), which prints a line starting with `ready` once its node is up and exits when its stdin
 * closes.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';

/**
 * Starts `script` with `args` under tsx (after `nodeArgs`, e.g. `--cpu-prof`); resolves with the
 * child and the rest of its `ready` line once it prints one, rejects if it exits first.
 */
export async function startPeerScript(
  script: string,
  args: readonly string[],
  nodeArgs: readonly string[] = [],
): Promise<{ child: ChildProcess; ready: string }> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const ready = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /ready([^\n]*)\n/.exec(out);
      if (m !== null) resolve(m[1]!.trim());
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, ready };
}
