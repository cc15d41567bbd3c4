/**
 * Waiting on the `distribute` CLI with a deadline: run a command again and again until its
 * output says what the test waits for. Each run is a fresh process (a second or so under tsx),
 * which paces the loop; there is no sleep in it.
 */
import type { CliResult } from '../cli/support.ts';

/** Runs `run` until `accept` takes its result; rejects with the last result past `timeoutMs`. */
export async function pollCli(
  run: () => Promise<CliResult>,
  accept: (r: CliResult) => boolean,
  timeoutMs = 25_000,
): Promise<CliResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await run();
    if (accept(r)) return r;
    if (Date.now() > deadline) {
      throw new Error(
        `no accepted answer within ${timeoutMs} ms; last: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
      );
    }
  }
}

/** The JSON document on the last stdout line of a run, or undefined when it is not JSON. */
export function tryJson(r: CliResult): Record<string, unknown> | undefined {
  const lines = r.stdout.split('\n').filter((l) => l.trim().length > 0);
  try {
    return JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
