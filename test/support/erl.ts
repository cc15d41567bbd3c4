import { execFileSync } from 'node:child_process';
import { describe, it } from 'vitest';

/** True when an `erl` executable answers on this machine. */
export const erlAvailable: boolean = (() => {
  try {
    execFileSync('erl', ['-noshell', '-eval', 'halt().'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
})();

const required = process.env.REQUIRE_ERLANG === '1';

/**
 * `describe` for suites that need a real `erl`. Without `erl` the suite skips with a one-line
 * reason, unless `REQUIRE_ERLANG=1` (as in CI): then it fails, so no interop test can skip there.
 */
export function describeErl(name: string, body: () => void): void {
  if (erlAvailable) {
    describe(name, body);
  } else if (required) {
    describe(name, () => {
      it('needs erl', () => {
        throw new Error('REQUIRE_ERLANG=1 but no `erl` on PATH (install erlang-nox)');
      });
    });
  } else {
    describe.skip(`${name} (skipped: no erl on PATH; install erlang-nox)`, body);
  }
}
