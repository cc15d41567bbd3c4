/**
 * The short-lived hidden node every client command (`ping`, `nodes`, `rpc`, `send`, `members`,
 * `leader`) runs on, as `erl_call` does: a random alive name (`distribute-cli-<hex>`), a host
 * part of the same kind as the target's (long or short name, since OTP refuses to mix them), the
 * cookie from `--cookie` or `~/.erlang.cookie`, and the EPMD of `ERL_EPMD_PORT` (4369 by default).
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import type { Logger } from '../dist/logger.ts';
import { Node } from '../node/node.ts';
import {
  NodeError,
  type NodeName,
  parseNodeName,
  readCookieFile,
  shortHostname,
  type TlsOptions,
} from '../node/options.ts';
import { isRpcError } from '../services/errors.ts';
import { inspect } from '../term/inspect.ts';
import { Atom, atom, atoms, type Term } from '../term/types.ts';
import { CLI_MODULE } from './builtins.ts';
import { type CliContext, parseTimeout } from './context.ts';
import { CliError, errorText, unreachable, usageError } from './errors.ts';

/** The TLS distribution files (`--tls-cert`, `--tls-key`, `--tls-ca`). */
export interface TlsFiles {
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsCa?: string;
}

/** Options every client command takes. */
export interface ClientOptions extends TlsFiles {
  readonly cookie?: string;
  readonly logger: Logger;
}

/** Reads the TLS files; undefined when none is given. Cert and key go together. */
export async function tlsOptions(o: TlsFiles): Promise<TlsOptions | undefined> {
  if (o.tlsCert === undefined && o.tlsKey === undefined && o.tlsCa === undefined) return undefined;
  if (o.tlsCert === undefined || o.tlsKey === undefined) {
    throw usageError('TLS needs both --tls-cert and --tls-key');
  }
  const read = async (path: string, what: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (e) {
      throw new CliError('start_failed', `cannot read ${what} ${path}: ${errorText(e)}`, { cause: e });
    }
  };
  const cert = await read(o.tlsCert, '--tls-cert');
  const key = await read(o.tlsKey, '--tls-key');
  if (o.tlsCa === undefined) return { cert, key };
  return { cert, key, ca: await read(o.tlsCa, '--tls-ca') };
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
  const tls = await tlsOptions(options);
  const alive = `${CLIENT_NODE_PREFIX}${randomBytes(4).toString('hex')}`;
  let node: Node;
  try {
    node = await Node.start({
      name: `${alive}@${clientHost(target)}`,
      cookie,
      hidden: true,
      ...(tls !== undefined ? { tls } : {}),
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

/**
 * Calls `distribute_cli:FUN/0` on `target` (see builtins.ts). `undef` (a BEAM node, or a TS node
 * not started by `distribute start`) and `undefined` (the service is not running there) become
 * one-line failures that say which; anything else is returned as the map it should be.
 */
export async function callCliBuiltin(
  node: Node,
  target: string,
  fun: 'members' | 'leader',
  timeoutMs: number,
  notRunning: string,
): Promise<ReadonlyMap<Term, Term>> {
  let result: Term;
  try {
    result = await node.rpc.call(target, CLI_MODULE, fun, [], { timeoutMs });
  } catch (e) {
    if (isRpcError(e, 'undef')) {
      throw new CliError(
        'rpc_failed',
        `${target} does not answer ${CLI_MODULE}:${fun}/0: it is not a node started by \`distribute start\` (a BEAM node has no such service)`,
        { cause: e },
      );
    }
    throw e;
  }
  if (result === atoms.undefined) throw new CliError('rpc_failed', `${target} ${notRunning}`);
  if (!(result instanceof Map)) {
    throw new CliError('rpc_failed', `${target} answered ${CLI_MODULE}:${fun}/0 with something not a map`);
  }
  return result as ReadonlyMap<Term, Term>;
}

/** The alive part of every client node's name starts with this (`distribute-cli-<hex>`). */
export const CLIENT_NODE_PREFIX = 'distribute-cli-';

/** Options of a command that asks a `distribute_cli` built-in of a node started by `start`. */
export interface ViaOptions extends TlsFiles {
  readonly via: string;
  readonly cookie?: string;
  readonly timeout?: string;
}

/**
 * Runs `members`/`leader --via NODE`: a client node calls `distribute_cli:<fun>/0` on NODE and
 * hands the answer to `show`, with `bad`, the error for an answer of the wrong shape.
 */
export async function askBuiltin(
  ctx: CliContext,
  options: ViaOptions,
  fun: 'members' | 'leader',
  notRunning: string,
  show: (view: ReadonlyMap<Term, Term>, target: string, bad: () => CliError) => void,
): Promise<void> {
  const target = targetName(options.via);
  const timeoutMs = parseTimeout(options.timeout, 5_000);
  if (Number.isNaN(timeoutMs)) throw usageError(`--timeout must be milliseconds or infinity`);
  await withClient(target, { ...options, logger: ctx.logger }, async (node) => {
    await connectTo(node, target.full);
    const view = await callCliBuiltin(node, target.full, fun, timeoutMs, notRunning);
    const bad = (): CliError =>
      new CliError(
        'rpc_failed',
        `${target.full} answered ${fun}/0 with ${inspect(view, { maxLength: 200 })}`,
      );
    show(view, target.full, bad);
  });
}

/** `map`'s value under the atom `key`. */
export function field(map: ReadonlyMap<Term, Term>, key: string): Term | undefined {
  return map.get(atom(key));
}

/** An atom's name, or undefined for the atom `undefined` and anything not an atom. */
export function atomName(term: Term | undefined): string | undefined {
  return term instanceof Atom && term !== atoms.undefined ? term.name : undefined;
}
