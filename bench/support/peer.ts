/**
 * A benchmark's TypeScript peer: a script run as its own OS process (as each BEAM node is its own
 * VM), which prints a line starting with `ready` once its node is up and exits when its stdin
 * closes.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';

/**
 * The loader flags this process was started with (`--import`, `--require`, `--loader`, with their
 * values), for a child that must load modules as this process does: under tsx, and from the
 * build when the benchmark runs with bench/support/shipped.mjs. Other flags (`--cpu-prof`, ...)
 * are not passed on.
 */
export function loaderArgs(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (/^--(import|require|loader|experimental-loader)=/.test(a)) out.push(a);
    else if (/^(--import|--require|-r|--loader|--experimental-loader)$/.test(a) && i + 1 < argv.length) {
      out.push(a, argv[++i]!);
    }
  }
  return out.length > 0 ? out : ['--import', 'tsx'];
}

/**
 * Starts `script` with `args`, loading modules as this process does ({@link loaderArgs}), after
 * `nodeArgs` (e.g. `--cpu-prof`); resolves with the child and the rest of its `ready` line once
 * it prints one, rejects if it exits first.
 */
export async function startPeerScript(
  script: string,
  args: readonly string[],
  nodeArgs: readonly string[] = [],
): Promise<{ child: ChildProcess; ready: string }> {
  const child = spawn(process.execPath, [...nodeArgs, ...loaderArgs(), script, ...args], {
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
