/**
 * `distribute nodes --via NODE`: the nodes NODE is connected to, visible and hidden, asked by RPC
 * (`erlang:nodes(visible)` and `erlang:nodes(hidden)`). BEAM nodes answer with their BIF; TS
 * nodes answer when started with `distribute start` (see builtins.ts). The CLI's own short-lived
 * client nodes (`distribute-cli-<hex>`, this one and any other command's) are left out.
 *
 * @module
 */

import Table from 'cli-table3';
import { isRpcError } from '../../services/errors.ts';
import { Atom, atom, type Term } from '../../term/types.ts';
import { CLIENT_NODE_PREFIX, connectTo, type TlsFiles, targetName, withClient } from '../client.ts';
import { type CliContext, parseTimeout } from '../context.ts';
import { CliError, usageError } from '../errors.ts';

/** Options of `nodes`. */
export interface NodesOptions extends TlsFiles {
  readonly via: string;
  readonly cookie?: string;
  readonly timeout?: string;
}

/** Runs `distribute nodes --via NODE`. */
export async function nodes(ctx: CliContext, options: NodesOptions): Promise<void> {
  const target = targetName(options.via);
  const timeoutMs = parseTimeout(options.timeout, 5_000);
  if (Number.isNaN(timeoutMs)) throw usageError(`--timeout must be milliseconds or infinity`);
  await withClient(target, { ...options, logger: ctx.logger }, async (node) => {
    await connectTo(node, target.full);
    const ask = async (kind: 'visible' | 'hidden'): Promise<string[]> => {
      let result: Term;
      try {
        result = await node.rpc.call(target.full, 'erlang', 'nodes', [atom(kind)], { timeoutMs });
      } catch (e) {
        if (isRpcError(e, 'undef')) {
          throw new CliError(
            'rpc_failed',
            `${target.full} does not answer erlang:nodes/1 (a TS node answers it when started with \`distribute start\`)`,
            { cause: e },
          );
        }
        throw e;
      }
      if (!Array.isArray(result) || !result.every((n) => n instanceof Atom)) {
        throw new CliError(
          'rpc_failed',
          `${target.full} answered erlang:nodes/1 with something not a list of atoms`,
        );
      }
      // Short-lived client nodes of the CLI (ours and any other command's running now) are left out.
      return (result as Atom[]).map((a) => a.name).filter((n) => !n.startsWith(CLIENT_NODE_PREFIX));
    };
    const visible = await ask('visible');
    const hidden = await ask('hidden');
    const list = [
      ...visible.map((name) => ({ name, kind: 'visible' })),
      ...hidden.map((name) => ({ name, kind: 'hidden' })),
    ];
    let human: string;
    if (list.length === 0) {
      human = `${target.full} is connected to no other node`;
    } else {
      const c = ctx.out.color;
      const table = new Table({
        head: ['node', 'kind'],
        style: c.isColorSupported ? { head: ['cyan'] } : { head: [], border: [] },
      });
      for (const n of list) table.push([n.name, n.kind]);
      human = table.toString();
    }
    ctx.out.result(human, { ok: true, via: target.full, nodes: list });
  });
}
