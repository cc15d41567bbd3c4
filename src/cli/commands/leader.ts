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

/** Options of `leader`. */
export interface LeaderOptions extends TlsFiles {
  readonly via: string;
  readonly cookie?: string;
  readonly timeout?: string;
}

/** Runs `distribute leader --via NODE`. */
export async function leader(ctx: CliContext, options: LeaderOptions): Promise<void> {
  const target = targetName(options.via);
  const timeoutMs = parseTimeout(options.timeout, 5_000);
  if (Number.isNaN(timeoutMs)) throw usageError(`--timeout must be milliseconds or infinity`);
  await withClient(target, { ...options, logger: ctx.logger }, async (node) => {
    await connectTo(node, target.full);
    const view = await callCliBuiltin(
      node,
      target.full,
      'leader',
      timeoutMs,
      'runs neither the election nor membership (start it with `distribute start --election` or `--membership`)',
    );
    const bad = (): CliError =>
      new CliError(
        'rpc_failed',
        `${target.full} answered leader/0 with ${inspect(view, { maxLength: 200 })}`,
      );
    const election = field(view, 'election');
    const hint = atomName(field(view, 'hint')) ?? null;
    const c = ctx.out.color;
    if (!(election instanceof Map)) {
      if (hint === null) throw bad();
      ctx.out.result(
        `${c.bold(hint)} (a hint from the membership view of ${target.full}: no election runs there)`,
        {
          ok: true,
          via: target.full,
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
        ? `no leader known to ${target.full} (term ${term}, ${target.full} is ${role})`
        : `${c.bold(leaderName)} leads term ${term} (as seen by ${target.full}, which is ${role}${
            lease ? ' and holds the lease' : ''
          })`;
    ctx.out.result(human, {
      ok: true,
      via: target.full,
      source: 'election',
      leader: leaderName,
      term,
      role,
      lease,
    });
  });
}
