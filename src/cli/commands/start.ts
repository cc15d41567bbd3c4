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
 * @module
 */

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EpmdMode } from '../../epmd/registration.ts';
import { Node } from '../../node/node.ts';
import type { RpcExposed } from '../../services/rex.ts';
import { exposeBuiltins } from '../builtins.ts';
import { resolveCookie, type TlsFiles, tlsOptions } from '../client.ts';
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
  try {
    exposeBuiltins(node);
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
  } catch (e) {
    await node.stop();
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
  });
  const signal = await stopSignal;
  await node.stop();
  ctx.out.result(`${c.dim('stopped')} ${node.name} (${signal})`, {
    event: 'stopped',
    node: node.name,
    signal,
  });
}
