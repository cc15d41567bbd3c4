/**
 * `distribute send NODE NAME TERM`: sends TERM to the process registered as NAME on NODE
 * (`{Name, Node} ! Term`). As in Erlang, a name nobody holds drops the message silently; what
 * we confirm is that it reached the node: after the message we ping the node over the same
 * connection, and signals on one connection arrive in order.
 *
 * @module
 */

import { inspect } from '../../term/inspect.ts';
import { parseTerm } from '../../term/parse.ts';
import { atom, type Term } from '../../term/types.ts';
import { connectTo, type TlsFiles, targetName, withClient } from '../client.ts';
import type { CliContext } from '../context.ts';
import { badTerm, CliError, usageError } from '../errors.ts';

/** Options of `send`. */
export interface SendOptions extends TlsFiles {
  readonly cookie?: string;
}

/** Runs `distribute send NODE NAME TERM`. */
export async function send(
  ctx: CliContext,
  nodeText: string,
  name: string,
  termText: string,
  options: SendOptions,
): Promise<void> {
  const target = targetName(nodeText);
  if (name.length === 0 || name.length > 255)
    throw usageError('NAME must be an atom name of 1..255 characters');
  let message: Term;
  try {
    message = parseTerm(termText);
  } catch (e) {
    throw badTerm('TERM', termText, e);
  }
  await withClient(target, { ...options, logger: ctx.logger }, async (node) => {
    await connectTo(node, target.full);
    node.send([atom(name), atom(target.full)], message);
    // Ordered after the message on the same connection: pong means the node has it.
    if ((await node.ping(target.full)) !== 'pong') {
      throw new CliError('unreachable', `${target.full} went away before the message was confirmed`);
    }
    const text = inspect(message);
    ctx.out.result(`sent ${text} to ${name} on ${target.full}`, {
      ok: true,
      node: target.full,
      name,
      message: text,
    });
  });
}
