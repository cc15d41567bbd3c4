/**
 * The short-lived hidden node every client command (`ping`, `nodes`, `rpc`, `send`) runs on, as
 * `erl_call` does: a random alive name (`distribute-cli-<hex>`), a host part of the same kind as
 * the target's (long or short name, since OTP refuses to mix them), the cookie from `--cookie` or
 * `~/.erlang.cookie`, and the EPMD of `ERL_EPMD_PORT` (4369 by default).
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import type { Logger } from '../dist/logger.ts';
import { Node } from '../node/node.ts';
import { NodeError, type NodeName, parseNodeName, readCookieFile, shortHostname } from '../node/options.ts';
import { CliError, unreachable, usageError } from './errors.ts';

/** Options every client command takes. */
export interface ClientOptions {
  readonly cookie?: string;
  readonly logger: Logger;
}

/** Parses a node name given on the command line; a malformed one is a usage error. */
export function targetName(text: string): NodeName {
  try {
    return parseNodeName(text);
  } catch (e) {
    throw usageError(`bad node name ${JSON.stringify(text)}: ${(e as Error).message}`);
  }
}

/** The cookie: `--cookie`, else `~/.erlang.cookie` as `erl` reads it. */
export function resolveCookie(cookie: string | undefined): string {
  if (cookie !== undefined) {
    if (cookie.length === 0) throw usageError('--cookie must not be empty');
    return cookie;
  }
  try {
    return readCookieFile();
  } catch (e) {
    throw new CliError('start_failed', `no --cookie given and ${(e as Error).message}`, { cause: e });
  }
}

/** A host part for our own name that suits `target`: same kind, and reachable back where we can tell. */
export function clientHost(target: NodeName): string {
  if (!target.long) return shortHostname();
  const h = target.host;
  if (h === 'localhost' || h.startsWith('127.') || h === '::1') return '127.0.0.1';
  const own = hostname();
  if (isIP(h) === 0 && own.includes('.')) return own;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') return a.address;
  }
  return '127.0.0.1';
}

/** Runs `fn` on a fresh hidden node named for `target`, and stops the node afterwards. */
export async function withClient<T>(
  target: NodeName,
  options: ClientOptions,
  fn: (node: Node) => Promise<T>,
): Promise<T> {
  const cookie = resolveCookie(options.cookie);
  const alive = `distribute-cli-${randomBytes(4).toString('hex')}`;
  let node: Node;
  try {
    node = await Node.start({
      name: `${alive}@${clientHost(target)}`,
      cookie,
      hidden: true,
      logger: options.logger,
    });
  } catch (e) {
    throw new CliError('start_failed', `cannot start the client node: ${(e as Error).message}`, { cause: e });
  }
  try {
    return await fn(node);
  } finally {
    await node.stop();
  }
}

/** Connects to `target`, turning a failure into a one-line {@link CliError}. */
export async function connectTo(node: Node, target: string): Promise<void> {
  try {
    await node.connect(target);
  } catch (e) {
    throw unreachable(target, e);
  }
  if (node.connection(target) === undefined) {
    throw unreachable(target, new NodeError('connection_closed', 'the connection closed'));
  }
}
