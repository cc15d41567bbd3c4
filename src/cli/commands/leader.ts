/**
 * `distribute leader --via NODE`: the leader NODE knows of, asked by RPC
 * (`distribute_cli:leader/0`, see builtins.ts). With the election running there: the elected
 * leader (or none yet), its term, NODE's own role and whether NODE holds the lease. With only
 * membership running: the membership's leader hint (`node.health.leader()`, the smallest live
 * member), marked as a hint. A BEAM node, or a TS node with neither service, is a clear failure
 * (exit 1).
 *
 * @module
 */

import type { Term } from '../../term/types.ts';
import { askBuiltin, atomName, field, type ViaOptions } from '../client.ts';
import type { CliContext } from '../context.ts';

/** Options of `leader`. */
export type LeaderOptions = ViaOptions;

/** Runs `distribute leader --via NODE`. */
export function leader(ctx: CliContext, options: LeaderOptions): Promise<void> {
  return askBuiltin(
    ctx,
    options,
    'leader',
    'runs neither the election nor membership (start it with `distribute start --election` or `--membership`)',
    (view, via, bad) => {
      const election = field(view, 'election');
      const hint = atomName(field(view, 'hint')) ?? null;
      const c = ctx.out.color;
      if (!(election instanceof Map)) {
        if (hint === null) throw bad();
        ctx.out.result(
          `${c.bold(hint)} (a hint from the membership view of ${via}: no election runs there)`,
          {
            ok: true,
            via: via,
            source: 'membership',
            leader: hint,
            term: null,
            role: null,
            lease: null,
          },
        );
        return;
      }
      const e = election as ReadonlyMap<Term, Term>;
      const leaderName = atomName(field(e, 'leader')) ?? null;
      const term = field(e, 'term');
      const role = atomName(field(e, 'role'));
      const lease = field(e, 'lease');
      if (typeof term !== 'number' || role === undefined || typeof lease !== 'boolean') throw bad();
      const human =
        leaderName === null
          ? `no leader known to ${via} (term ${term}, ${via} is ${role})`
          : `${c.bold(leaderName)} leads term ${term} (as seen by ${via}, which is ${role}${
              lease ? ' and holds the lease' : ''
            })`;
      ctx.out.result(human, {
        ok: true,
        via: via,
        source: 'election',
        leader: leaderName,
        term,
        role,
        lease,
      });
    },
  );
}
