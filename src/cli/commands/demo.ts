/**
 * `distribute demo [--nodes 5] [--with-erl] [--interactive]`: the first command a newcomer runs.
 *
 * Starts that many TypeScript nodes, each its own OS process, on a private embedded EPMD (and a
 * real `erl` node with `--with-erl`), with SWIM membership and Raft election on, a pg group and
 * a global name, and runs a narrated scenario (demo/scenario.ts): converge, elect, register and
 * call a global name, SIGKILL the leader (detection and re-election measured), restart it,
 * let a node leave gracefully. It ends with a summary table; the exit code is 0 only when every
 * step did what it claimed, 1 otherwise, 2 for a bad command line or `--with-erl` without
 * `erl`. `--interactive` keeps the cluster running until Ctrl-C; `--json` prints one JSON
 * summary instead of the screen. See docs/demo.md.
 *
 * @module
 */
import type { CliContext } from '../context.ts';
import { DemoCluster, erlInstalled } from '../demo/cluster.ts';
import { type DemoMeasures, runScenario, type StepResult } from '../demo/scenario.ts';
import { DemoScreen, measuresLine, summaryTable } from '../demo/screen.ts';
import { CliError, usageError } from '../errors.ts';

/** Options of `demo`. */
export interface DemoOptions {
  readonly nodes?: string;
  readonly withErl?: boolean;
  readonly interactive?: boolean;
}

/** Fewest nodes: a majority must survive the leader's death. */
export const DEMO_MIN_NODES = 3;
/** Most nodes: each is a Node.js process; more would swamp a laptop. */
export const DEMO_MAX_NODES = 9;

/** Parses `--nodes`. Throws a usage error outside [{@link DEMO_MIN_NODES}, {@link DEMO_MAX_NODES}]. */
export function parseNodeCount(text: string | undefined): number {
  if (text === undefined) return 5;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < DEMO_MIN_NODES || n > DEMO_MAX_NODES) {
    throw usageError(
      `--nodes must be an integer from ${DEMO_MIN_NODES} to ${DEMO_MAX_NODES}, got ${JSON.stringify(text)}`,
    );
  }
  return n;
}

/** Runs `distribute demo`; see the module comment. */
export async function demo(ctx: CliContext, options: DemoOptions): Promise<void> {
  const count = parseNodeCount(options.nodes);
  const withErl = options.withErl === true;
  if (withErl && !(await erlInstalled())) {
    throw usageError(
      '--with-erl needs Erlang/OTP: no `erl` on PATH (install erlang-nox, or run without --with-erl)',
    );
  }
  const json = ctx.out.json;
  const live = !json && process.stdout.isTTY === true;
  const stop = ctx.waitForStop();
  const cluster = await DemoCluster.create(count);
  const screen = new DemoScreen(ctx.out, cluster, live, () => process.stdout.columns);
  const c = screen.color;
  const narrate = (text: string): void => {
    if (!json) screen.narrate(text);
  };
  const measures: DemoMeasures = {};
  let results: StepResult[] = [];
  let interrupted: string | undefined;
  const onChange = (): void => {
    const all = [...cluster.children.values()];
    const starting = all.filter((x) => x.state === 'starting').length;
    if (starting > 0 && !json) {
      screen.progress(`starting nodes: ${all.filter((x) => x.state === 'up').length}/${all.length} up`);
    } else {
      screen.done();
    }
  };
  cluster.on('change', onChange);
  try {
    narrate(
      `${c.bold('distribute demo')}: ${count} TypeScript nodes${withErl ? ' and an erl node' : ''} on a private EPMD (127.0.0.1:${cluster.epmd.port}), cookie ${cluster.cookie}`,
    );
    screen.start();
    const scenario = runScenario(
      cluster,
      { withErl },
      {
        narrate,
        stepStarted: (name, claim) => narrate(`${c.bold(c.cyan(name))}: ${claim}`),
        stepEnded: (r) =>
          narrate(
            r.status === 'ok'
              ? `  ${c.green('ok')} ${r.detail}`
              : `  ${c.red('FAILED')} ${r.detail} (after ${Math.round(r.ms)} ms)`,
          ),
      },
      measures,
    );
    const outcome = await Promise.race([scenario, stop]);
    if (typeof outcome === 'string') {
      interrupted = outcome;
    } else {
      results = outcome;
      if (options.interactive === true) {
        const via = cluster.up()[0]?.name ?? cluster.names[0];
        narrate(
          `interactive: the cluster keeps running until Ctrl-C. Try: ERL_EPMD_PORT=${cluster.epmd.port} npx distribute members --via ${via} --cookie ${cluster.cookie}`,
        );
        interrupted = await stop;
      }
    }
  } finally {
    cluster.off('change', onChange);
    screen.stop();
    if (!json) screen.printTable();
    await cluster.shutdown();
  }
  const failed = results.filter((r) => r.status !== 'ok');
  // An interrupted run passed only if it was the --interactive wait that was interrupted.
  const ok =
    failed.length === 0 && results.length > 0 && (interrupted === undefined || options.interactive === true);
  if (json) {
    ctx.out.result('', {
      ok,
      nodes: count,
      withErl,
      ...(interrupted !== undefined ? { interrupted } : {}),
      steps: results.map((r) => ({
        name: r.name,
        claim: r.claim,
        status: r.status,
        ms: Math.round(r.ms),
        detail: r.detail,
      })),
      measures: roundMeasures(measures),
    });
  } else if (results.length > 0) {
    screen.print(summaryTable(results, c));
    const m = measuresLine(measures);
    if (m !== '') screen.print(m);
  }
  if (interrupted !== undefined && (results.length === 0 || options.interactive !== true)) {
    throw new CliError('failed', `demo interrupted (${interrupted}); every node process was stopped`);
  }
  if (failed.length > 0) {
    const first = failed[0];
    throw new CliError('failed', `demo: step ${first?.name} failed: ${first?.detail}`);
  }
  if (!json) screen.print(c.green(`all ${results.length} steps did what they claimed`));
}

/** The measures as JSON, in whole milliseconds. */
function roundMeasures(m: DemoMeasures): Record<string, number | Record<string, number>> {
  const out: Record<string, number | Record<string, number>> = {};
  for (const [k, v] of Object.entries(m)) {
    if (typeof v === 'number') out[k] = Math.round(v);
    else if (v !== undefined)
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, number>).map(([n, ms]) => [n, Math.round(ms)]),
      );
  }
  return out;
}
