/**
 * `distribute members --via NODE`: NODE's SWIM membership view (every member with its status and
 * incarnation, NODE included), asked by RPC (`distribute_cli:members/0`, see builtins.ts). Only
 * a TS node started with `distribute start --membership` answers; a BEAM node, or a TS node
 * without membership, is a clear failure (exit 1).
 *
 * @module
 */

import Table from 'cli-table3';
import { inspect } from '../../term/inspect.ts';
import type { Term } from '../../term/types.ts';
import {
  atomName,
  callCliBuiltin,
  connectTo,
  field,
  type TlsFiles,
  targetName,
  withClient,
} from '../client.ts';
import { type CliContext, parseTimeout } from '../context.ts';
import { CliError, usageError } from '../errors.ts';

/** Options of `members`. */
export interface MembersOptions extends TlsFiles {
  readonly via: string;
  readonly cookie?: string;
  readonly timeout?: string;
}

/** One member as `members` prints it. */
export interface MemberRow {
  readonly node: string;
  readonly status: string;
  readonly incarnation: number;
}

/** Runs `distribute members --via NODE`. */
export async function members(ctx: CliContext, options: MembersOptions): Promise<void> {
  const target = targetName(options.via);
  const timeoutMs = parseTimeout(options.timeout, 5_000);
  if (Number.isNaN(timeoutMs)) throw usageError(`--timeout must be milliseconds or infinity`);
  await withClient(target, { ...options, logger: ctx.logger }, async (node) => {
    await connectTo(node, target.full);
    const view = await callCliBuiltin(
      node,
      target.full,
      'members',
      timeoutMs,
      'does not run membership (start it with `distribute start --membership`)',
    );
    const address = field(view, 'address');
    const list = field(view, 'members');
    const bad = (): CliError =>
      new CliError(
        'rpc_failed',
        `${target.full} answered members/0 with ${inspect(view, { maxLength: 200 })}`,
      );
    if (!Array.isArray(list)) throw bad();
    const rows: MemberRow[] = (list as readonly unknown[]).map((m) => {
      if (!(m instanceof Map)) throw bad();
      const member = m as ReadonlyMap<Term, Term>;
      const name = atomName(field(member, 'node'));
      const status = atomName(field(member, 'status'));
      const incarnation = field(member, 'incarnation');
      if (name === undefined || status === undefined || typeof incarnation !== 'number') throw bad();
      return { node: name, status, incarnation };
    });
    const addressText = address instanceof Uint8Array ? Buffer.from(address).toString() : undefined;
    const c = ctx.out.color;
    const table = new Table({
      head: ['node', 'status', 'incarnation'],
      style: c.isColorSupported ? { head: ['cyan'] } : { head: [], border: [] },
    });
    const paint = (s: string): string =>
      s === 'alive' ? c.green(s) : s === 'suspect' ? c.yellow(s) : s === 'dead' ? c.red(s) : c.dim(s);
    for (const r of rows) table.push([r.node, paint(r.status), r.incarnation]);
    const alive = rows.filter((r) => r.status === 'alive').length;
    const human = `${table.toString()}\n${alive} of ${rows.length} alive (as seen by ${target.full}${
      addressText !== undefined ? `, membership ${addressText}` : ''
    })`;
    ctx.out.result(human, {
      ok: true,
      via: target.full,
      address: addressText ?? null,
      members: rows.map((r) => ({ ...r })),
    });
  });
}
