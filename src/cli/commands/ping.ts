/**
 * `distribute ping NODE`: `net_adm:ping/1` from a short-lived hidden node. Prints `pong`, or
 * fails (exit 1) with why the node could not be reached.
 *
 * @module
 */

import { performance } from 'node:perf_hooks';
import { connectTo, type TlsFiles, targetName, withClient } from '../client.ts';
import { type CliContext, parseTimeout } from '../context.ts';
import { CliError, usageError } from '../errors.ts';

/** Options of `ping`. */
export interface PingOptions extends TlsFiles {
  readonly cookie?: string;
  readonly timeout?: string;
}

/** Runs `distribute ping NODE`. */
export async function ping(ctx: CliContext, nodeText: string, options: PingOptions): Promise<void> {
  const target = targetName(nodeText);
  const timeoutMs = parseTimeout(options.timeout, 15_000);
  if (Number.isNaN(timeoutMs)) throw usageError(`--timeout must be milliseconds or infinity`);
  await withClient(target, { ...options, logger: ctx.logger }, async (node) => {
    const t0 = performance.now();
    await connectTo(node, target.full);
    const answer = await node.ping(target.full, timeoutMs);
    const ms = Math.round((performance.now() - t0) * 10) / 10;
    if (answer !== 'pong') throw new CliError('unreachable', `pang: ${target.full} did not answer the ping`);
    const c = ctx.out.color;
    ctx.out.result(`${c.green('pong')} ${target.full} ${c.dim(`${ms} ms`)}`, {
      ok: true,
      node: target.full,
      result: 'pong',
      ms,
    });
  });
}
