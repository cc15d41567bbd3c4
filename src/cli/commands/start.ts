/**
 * `distribute start --name N`: runs a node in the foreground until SIGINT or SIGTERM, then stops
 * it cleanly (processes exit `shutdown`, connections close, the EPMD registration goes) and
 * exits 0. Prints one line when the node is up (a JSON document with `--json`) and one when it
 * has stopped.
 *
 * The node answers `erlang:node/0` and `erlang:nodes/0,1` over RPC (builtins.ts), so that
 * `distribute nodes --via` works against it as against a BEAM node. `--expose FILE` (repeatable)
 * imports a module whose default export is `{ moduleName: { fn: (...args) => value } }` and
 * exposes each module with `node.rpc.expose`.
 *
 * `--membership` starts SWIM (`node.membership.start`) on a UDP port (`--swim-port`, default any
 * free one), joining through `--seeds` (membership addresses, `host:port`); the address it bound
 * is printed, for others to use as a seed. `--election --voters A,B,C` starts the Raft election
 * (`node.election.start`) with its term and vote in a file under `--data-dir` (default
 * `<tmpdir>/distribute/<node name>`). Both are answered over RPC as `distribute_cli:members/0`
 * and `distribute_cli:leader/0` (builtins.ts) for `members --via` and `leader --via`. On the stop
 * signal the node leaves the membership (others see `left`), leaves the election, then stops.
 *
 * @module
 */

import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ElectionConfig } from '../../cluster/election/config.ts';
import { FileStorage } from '../../cluster/election/storage.ts';
import type { NodeMembershipOptions } from '../../cluster/membership/node-membership.ts';
import type { EpmdMode } from '../../epmd/registration.ts';
import { Node } from '../../node/node.ts';
import type { RpcExposed } from '../../services/rex.ts';
import { exposeBuiltins, exposeClusterBuiltins } from '../builtins.ts';
import { resolveCookie, type TlsFiles, targetName, tlsOptions } from '../client.ts';
import type { CliContext } from '../context.ts';
import { CliError, errorText, usageError } from '../errors.ts';
import { parseHostPort } from './names.ts';

/** Options of `start`. */
export interface StartOptions extends TlsFiles {
  readonly name: string;
  readonly cookie?: string;
  readonly epmd?: string;
  readonly hidden?: boolean;
  readonly expose?: readonly string[];
  /** Run SWIM membership. */
  readonly membership?: boolean;
  /** Comma-separated membership addresses (`host:port`) to join through. */
  readonly seeds?: string;
  /** UDP port of our membership (default 0: any free port). */
  readonly swimPort?: string;
  /** Interface the membership binds (default 127.0.0.1). */
  readonly swimHost?: string;
  /** Membership protocol period, ms. */
  readonly probeInterval?: string;
  /** Connect to alive members and disconnect from dead ones. */
  readonly autoConnect?: boolean;
  /** Run the Raft election. */
  readonly election?: boolean;
  /** Comma-separated voter node names, this node included. */
  readonly voters?: string;
  /** Directory of the election's state file. */
  readonly dataDir?: string;
  /** Minimum election timeout, ms (the maximum is twice it, the heartbeat a third). */
  readonly electionTimeout?: string;
}

/** Parses a whole number flag in `min..max`; anything else is a usage error. */
export function parseIntFlag(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw usageError(`${flag} must be a whole number in ${min}..${max}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** Splits a comma-separated flag value; an empty item is a usage error. */
export function parseList(text: string, flag: string): string[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s.length === 0))
    throw usageError(`${flag} needs a comma-separated list, got ${JSON.stringify(text)}`);
  return items;
}

/** The membership options of `start`, or undefined without `--membership`. */
export function membershipOptions(o: StartOptions): NodeMembershipOptions | undefined {
  if (o.membership !== true) {
    for (const [flag, v] of [
      ['--seeds', o.seeds],
      ['--swim-port', o.swimPort],
      ['--swim-host', o.swimHost],
      ['--probe-interval', o.probeInterval],
      ['--auto-connect', o.autoConnect],
    ] as const) {
      if (v !== undefined) throw usageError(`${flag} needs --membership`);
    }
    return undefined;
  }
  const seeds = o.seeds === undefined ? [] : parseList(o.seeds, '--seeds');
  for (const seed of seeds) {
    if (
      !/^(?:\[[^\]]+\]|[^:]+):\d{1,5}$/.test(seed) ||
      Number(seed.slice(seed.lastIndexOf(':') + 1)) > 0xffff
    ) {
      throw usageError(`--seeds: ${JSON.stringify(seed)} is not a membership address (HOST:PORT)`);
    }
  }
  return {
    seeds,
    ...(o.swimPort !== undefined ? { port: parseIntFlag(o.swimPort, '--swim-port', 0, 0xffff) } : {}),
    ...(o.swimHost !== undefined ? { host: o.swimHost } : {}),
    ...(o.probeInterval !== undefined
      ? { probeIntervalMs: parseIntFlag(o.probeInterval, '--probe-interval', 1, 3_600_000) }
      : {}),
    ...(o.autoConnect === true ? { autoConnect: true } : {}),
  };
}

/** The election settings of `start`, or undefined without `--election`. */
export function electionOptions(
  o: StartOptions,
): { voters: string[]; dataDir: string | undefined; config: Partial<ElectionConfig> } | undefined {
  if (o.election !== true) {
    for (const [flag, v] of [
      ['--voters', o.voters],
      ['--data-dir', o.dataDir],
      ['--election-timeout', o.electionTimeout],
    ] as const) {
      if (v !== undefined) throw usageError(`${flag} needs --election`);
    }
    return undefined;
  }
  if (o.voters === undefined)
    throw usageError('--election needs --voters A,B,C (node names, this one included)');
  const voters = parseList(o.voters, '--voters').map((v) => targetName(v).full);
  // 1 s by default (etcd's choice), not the library's 150 ms: a `start` node is its own OS process
  // whose every vote waits for an fsync, and 150 ms did not settle on a loaded host.
  const min =
    o.electionTimeout === undefined
      ? DEFAULT_CLI_ELECTION_TIMEOUT_MS
      : parseIntFlag(o.electionTimeout, '--election-timeout', 3, 3_600_000);
  const config: Partial<ElectionConfig> = {
    electionTimeoutMinMs: min,
    electionTimeoutMaxMs: 2 * min,
    heartbeatIntervalMs: Math.floor(min / 3),
  };
  return { voters, dataDir: o.dataDir, config };
}

/** The default `--election-timeout` of `start` (ms): see {@link electionOptions}. */
export const DEFAULT_CLI_ELECTION_TIMEOUT_MS = 1000;

/** The default `--data-dir` of a node: `<tmpdir>/distribute/<name>`, the name made safe as a file name. */
export function defaultDataDir(nodeName: string): string {
  return join(tmpdir(), 'distribute', nodeName.replace(/[^A-Za-z0-9._@-]/g, '_'));
}

/** Parses `--epmd`: `auto`, `external`, `embedded` or `HOST:PORT`. */
export function parseEpmdMode(text: string | undefined): EpmdMode {
  if (text === undefined || text === 'auto' || text === 'external' || text === 'embedded')
    return text ?? 'auto';
  if (!text.includes(':'))
    throw usageError(`--epmd must be auto, external, embedded or HOST:PORT, got ${JSON.stringify(text)}`);
  return parseHostPort(text, '--epmd');
}

/** Imports an `--expose` module and checks its shape: `{ module: { fn: function } }`. */
export async function loadExposed(file: string): Promise<Record<string, Record<string, RpcExposed>>> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown };
  } catch (e) {
    throw new CliError('start_failed', `cannot import --expose ${file}: ${errorText(e)}`, { cause: e });
  }
  const table = mod.default;
  const bad = (why: string): CliError =>
    new CliError(
      'start_failed',
      `--expose ${file}: ${why} (expected export default { module: { fn: (...args) => value } })`,
    );
  if (typeof table !== 'object' || table === null) throw bad('no default export object');
  const out: Record<string, Record<string, RpcExposed>> = {};
  for (const [m, fns] of Object.entries(table)) {
    if (typeof fns !== 'object' || fns === null) throw bad(`module ${m} is not an object of functions`);
    for (const [f, v] of Object.entries(fns)) {
      const ok =
        typeof v === 'function' ||
        (typeof v === 'object' && v !== null && typeof (v as { fn?: unknown }).fn === 'function');
      if (!ok) throw bad(`${m}.${f} is not a function`);
    }
    out[m] = fns as Record<string, RpcExposed>;
  }
  return out;
}

/** Runs `distribute start` until a stop signal. */
export async function start(ctx: CliContext, options: StartOptions): Promise<void> {
  const epmd = parseEpmdMode(options.epmd);
  const membership = membershipOptions(options);
  const election = electionOptions(options);
  const cookie = resolveCookie(options.cookie);
  const tls = await tlsOptions(options);
  const exposed: [string, Record<string, Record<string, RpcExposed>>][] = [];
  for (const file of options.expose ?? []) exposed.push([file, await loadExposed(file)]);
  const stopSignal = ctx.waitForStop();
  let node: Node;
  try {
    node = await Node.start({
      name: options.name,
      cookie,
      epmd,
      ...(options.hidden === true ? { hidden: true } : {}),
      ...(tls !== undefined ? { tls } : {}),
      logger: ctx.logger,
    });
  } catch (e) {
    throw new CliError('start_failed', `cannot start ${options.name}: ${errorText(e)}`, { cause: e });
  }
  const modules: string[] = [];
  let swimAddress: string | undefined;
  let dataDir: string | undefined;
  try {
    exposeBuiltins(node);
    exposeClusterBuiltins(node);
    for (const [file, table] of exposed) {
      for (const [m, fns] of Object.entries(table)) {
        try {
          node.rpc.expose(m, fns);
        } catch (e) {
          throw new CliError('start_failed', `--expose ${file}: ${m}: ${errorText(e)}`, { cause: e });
        }
        modules.push(m);
      }
    }
    if (membership !== undefined) {
      try {
        swimAddress = await node.membership.start(membership);
      } catch (e) {
        throw new CliError('start_failed', `cannot start the membership: ${errorText(e)}`, { cause: e });
      }
    }
    if (election !== undefined) {
      dataDir = resolve(election.dataDir ?? defaultDataDir(node.name));
      try {
        await node.election.start({
          voters: election.voters,
          storage: new FileStorage(join(dataDir, 'election.json')),
          config: election.config,
        });
      } catch (e) {
        throw new CliError('start_failed', `cannot start the election: ${errorText(e)}`, { cause: e });
      }
      // A storage failure stops the service; the node stays up and says so.
      node.election.on('error', (e) => ctx.logger.error?.({ err: e }, 'election stopped'));
    }
  } catch (e) {
    await stopNode(node);
    throw e;
  }
  const epmdText = typeof epmd === 'string' ? epmd : `${epmd.host}:${epmd.port}`;
  const c = ctx.out.color;
  const extras = [
    `port ${node.port}`,
    `epmd ${epmdText}`,
    node.hidden ? 'hidden' : 'visible',
    ...(tls !== undefined ? ['tls'] : []),
    ...(modules.length > 0 ? [`exposes ${modules.join(', ')}`] : []),
    ...(swimAddress !== undefined ? [`membership ${swimAddress}`] : []),
    ...(election !== undefined ? [`election of ${election.voters.length} voters`] : []),
  ];
  ctx.out.result(`${c.green('up')} ${c.bold(node.name)} (${extras.join(', ')}); Ctrl-C to stop`, {
    event: 'up',
    node: node.name,
    port: node.port,
    creation: node.creation,
    hidden: node.hidden,
    tls: tls !== undefined,
    epmd: epmdText,
    exposed: modules,
    membership: swimAddress ?? null,
    election: election === undefined || dataDir === undefined ? null : { voters: election.voters, dataDir },
  });
  const signal = await stopSignal;
  await stopNode(node);
  ctx.out.result(`${c.dim('stopped')} ${node.name} (${signal})`, {
    event: 'stopped',
    node: node.name,
    signal,
  });
}

/** Leaves the membership (others see `left`) and the election, then stops the node. */
async function stopNode(node: Node): Promise<void> {
  await node.membership.leave();
  await node.election.stop();
  await node.stop();
}
