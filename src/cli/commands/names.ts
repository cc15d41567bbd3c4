/**
 * `distribute names [--epmd HOST:PORT]`: the names registered with an EPMD (`epmd -names`).
 *
 * @module
 */

import Table from 'cli-table3';
import { names as epmdNames, epmdPortFromEnv } from '../../epmd/client.ts';
import type { CliContext } from '../context.ts';
import { CliError, usageError } from '../errors.ts';

/** Options of `names`. */
export interface NamesOptions {
  readonly epmd?: string;
}

/** Parses `HOST:PORT` (or `HOST`, with the EPMD port of `ERL_EPMD_PORT`/4369). */
export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  if (colon < 0) {
    if (text.length === 0) throw usageError(`${what} needs HOST:PORT`);
    return { host: text, port: epmdPortFromEnv() };
  }
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const raw = text.slice(colon + 1);
  const port = Number(raw);
  if (host.length === 0 || !/^\d+$/.test(raw) || port < 1 || port > 0xffff) {
    throw usageError(`${what} needs HOST:PORT with a port 1..65535, got ${JSON.stringify(text)}`);
  }
  return { host, port };
}

/** Runs `distribute names`. */
export async function names(ctx: CliContext, options: NamesOptions): Promise<void> {
  const { host, port } =
    options.epmd === undefined
      ? { host: '127.0.0.1', port: epmdPortFromEnv() }
      : parseHostPort(options.epmd, '--epmd');
  let reply: Awaited<ReturnType<typeof epmdNames>>;
  try {
    reply = await epmdNames({ host, epmdPort: port });
  } catch (e) {
    throw new CliError('epmd_failed', `cannot ask the EPMD at ${host}:${port}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const list = reply.names.map((n) => ({ name: n.name, port: n.port }));
  const c = ctx.out.color;
  let human: string;
  if (list.length === 0) {
    human = `no names registered with the EPMD at ${host}:${port}`;
  } else {
    const table = new Table({
      head: ['name', 'port'],
      style: c.isColorSupported ? { head: ['cyan'] } : { head: [], border: [] },
    });
    for (const n of list) table.push([n.name, String(n.port)]);
    human = table.toString();
  }
  ctx.out.result(human, { ok: true, epmd: { host, port }, names: list });
}
