/**
 * `distribute members --via NODE`: NODE's SWIM membership view (every member with its status and
 * incarnation, NODE included), asked by RPC (`distribute_cli:members/0`, see builtins.ts). Only
 * a TS node started with `distribute start --membership` answers; a BEAM node, or a TS node
 * without membership, is a clear failure (exit 1).
 *
 * @module
 */

import Table from 'cli-table3';
import type { Term } from '../../term/types.ts';
import { askBuiltin, atomName, field, type ViaOptions } from '../client.ts';
import type { CliContext } from '../context.ts';

/** Options of `members`. */
export type MembersOptions = ViaOptions;

/** One member as `members` prints it. */
export interface MemberRow {
  readonly node: string;
  readonly status: string;
  readonly incarnation: number;
}

/** Runs `distribute members --via NODE`. */
export function members(ctx: CliContext, options: MembersOptions): Promise<void> {
  return askBuiltin(
    ctx,
    options,
    'members',
    'does not run membership (start it with `distribute start --membership`)',
    (view, via, bad) => {
      const address = field(view, 'address');
      const list = field(view, 'members');
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
      const human = `${table.toString()}\n${alive} of ${rows.length} alive (as seen by ${via}${
        addressText !== undefined ? `, membership ${addressText}` : ''
      })`;
      ctx.out.result(human, {
        ok: true,
        via: via,
        address: addressText ?? null,
        members: rows.map((r) => ({ ...r })),
      });
    },
  );
}
