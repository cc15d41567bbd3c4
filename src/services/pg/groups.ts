/**
 * `node.groups`: process groups compatible with OTP `pg`. The object itself is the default scope
 * `pg` (what `-kernel start_pg true` starts on a BEAM node, and what `pg:join/2` uses);
 * `node.groups.scope(name)` gives any other scope (what `pg:start_link(Scope)` starts).
 *
 * Scopes start on first use: the first call on `node.groups` starts `pg`, the first
 * `scope(name)` starts `name`. Creating the facade costs nothing, so a node that never uses
 * groups runs no scope and sends no pg traffic. Starting late loses nothing: a scope discovers
 * the scopes of every connected node (visible or hidden) when it starts, and of every node that
 * connects later. (A BEAM scope sends its own `discover` only when it starts and on a visible
 * nodeup; one sent while our scope did not exist yet is dropped, and ours makes up for it.)
 *
 * A scope that exits (its process killed) loses its state, as a crashed OTP scope does; the next
 * `scope(name)` (or call on `node.groups` for `pg`) starts a fresh one.
 *
 * ```ts
 * const pid = node.spawn(async (self) => { for await (const m of self) console.log(m); });
 * node.groups.join('chat', pid);               // Erlang sees pg:get_members(<<"chat">>)
 * node.groups.broadcast('chat', 'hello');
 * const mon = node.groups.monitor('chat');     // { ref, members } + join/leave events
 * mon.on('join', (group, pids) => console.log('joined', pids));
 * const other = node.groups.scope('my_scope');
 * ```
 *
 * @module
 */

import { type Logger, silentLogger } from '../../dist/logger.ts';
import { Atom, atom, type Pid, type Reference, type Term } from '../../term/types.ts';
import { PgError } from './errors.ts';
import { pgAtoms } from './messages.ts';
import type { GroupMonitor, ScopeMonitor } from './monitor.ts';
import {
  type PgBroadcastOptions,
  type PgHost,
  type PgMonitorOptions,
  PgScope,
  type PgScopeOptions,
} from './scope.ts';

/** The pg scopes of one node; itself the default scope `pg` (see the module comment). */
export class Groups {
  readonly #host: PgHost;
  readonly #logger: Logger;
  readonly #scopes = new Map<Atom, PgScope>();

  /** @internal Made by the node. */
  constructor(init: { readonly node: PgHost; readonly logger?: Logger }) {
    this.#host = init.node;
    this.#logger = init.logger ?? silentLogger;
  }

  /**
   * The scope `name` (an atom or a string naming one), started now if it is not running.
   * `options` apply when this call starts it. Throws {@link PgError} `name_taken` when another
   * process holds the name, `scope_down` when the node is stopped.
   */
  scope(name: Atom | string = pgAtoms.pg, options?: PgScopeOptions): PgScope {
    const a = typeof name === 'string' ? atom(name) : name;
    if (!(a instanceof Atom)) throw new PgError('bad_argument', 'a scope name is an atom or a string');
    const running = this.#scopes.get(a);
    if (running?.running) return running;
    if (this.#host.isStopped) throw new PgError('scope_down', 'the node is stopped');
    const scope = new PgScope({
      host: this.#host,
      logger: this.#logger,
      name: a,
      options,
      onRetire: (s) => {
        if (this.#scopes.get(a) === s) this.#scopes.delete(a);
      },
    });
    this.#scopes.set(a, scope);
    return scope;
  }

  /** The default scope `pg`, started on first use. */
  get default(): PgScope {
    return this.scope(pgAtoms.pg);
  }

  /** The scopes running on this node. */
  running(): PgScope[] {
    return [...this.#scopes.values()].filter((s) => s.running);
  }

  /** {@link PgScope.join} on the default scope. */
  join(group: Term, pids: Pid | readonly Pid[]): void {
    this.default.join(group, pids);
  }

  /** {@link PgScope.leave} on the default scope. */
  leave(group: Term, pids: Pid | readonly Pid[]): boolean {
    return this.default.leave(group, pids);
  }

  /** {@link PgScope.members} on the default scope. */
  members(group: Term): Pid[] {
    return this.default.members(group);
  }

  /** {@link PgScope.localMembers} on the default scope. */
  localMembers(group: Term): Pid[] {
    return this.default.localMembers(group);
  }

  /** {@link PgScope.whichGroups} on the default scope. */
  whichGroups(): Term[] {
    return this.default.whichGroups();
  }

  /** {@link PgScope.whichLocalGroups} on the default scope. */
  whichLocalGroups(): Term[] {
    return this.default.whichLocalGroups();
  }

  /** {@link PgScope.broadcast} on the default scope. */
  broadcast(group: Term, message: Term, options?: PgBroadcastOptions): number {
    return this.default.broadcast(group, message, options);
  }

  /** {@link PgScope.monitor} on the default scope. */
  monitor(group: Term, options?: PgMonitorOptions): GroupMonitor {
    return this.default.monitor(group, options);
  }

  /** {@link PgScope.monitorScope} on the default scope. */
  monitorScope(options?: PgMonitorOptions): ScopeMonitor {
    return this.default.monitorScope(options);
  }

  /** {@link PgScope.demonitor} on the default scope. */
  demonitor(ref: Reference): boolean {
    return this.default.demonitor(ref);
  }
}
