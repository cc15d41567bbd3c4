/**
 * `node.global`: names unique across the cluster and cluster-wide locks, compatible with OTP's
 * `global` (the BEAM nodes of the cluster see the same names and locks).
 *
 * ```ts
 * await node.global.register('counter', pid);          // global:register_name(<<"counter">>, Pid)
 * node.global.whereis('counter');                      // a local read, no round trip
 * node.global.send('counter', 'incr');                 // global:send/2
 * await node.global.trans(['db', node.name], async () => { ... }); // global:trans/2
 * ```
 *
 * Names are any term; a JS string is the UTF-8 binary it encodes to (`<<"counter">>` on the BEAM),
 * so use `atom('counter')` for the BEAM's usual atom names. `whereis`, `send` and
 * `registeredNames` read the local table, as OTP's do; registrations and locks go through the
 * cluster lock and return once every node of our partition has them.
 *
 * @module
 */

import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { CallOptions } from '../../node/call.ts';
import type { TypedPid } from '../../node/signals.ts';
import { type Atom, atom, Pid, type Term } from '../../term/types.ts';
import { GlobalError } from './errors.ts';
import { G, NOTIFY_ALL_NAME, RANDOM_EXIT_NAME, RANDOM_NOTIFY_NAME, TS_RESOLVER } from './messages.ts';
import type { GlobalOptions, GlobalService, ResolveFunction } from './service.ts';

/**
 * What happens to a name registered on both sides of a partition when the partitions meet
 * (`register_name/3`'s method). Run on the node of this side's pid, by the node with the smaller
 * name:
 * - `random_exit` (OTP's default): the pid on the node with the greater name is killed; the other keeps the name;
 * - `random_notify`: that pid gets `{global_name_conflict, Name}` instead, and loses the name;
 * - `notify_all`: both get `{global_name_conflict, Name, OtherPid}`; the name is dropped everywhere;
 * - a function: returns the pid that keeps the name, or `'none'`. It runs on this node; a clash
 *   decided on a BEAM node reaches it through `rpc:call(ThisNode, global, resolve_it, ...)`.
 */
export type OnConflict = 'random_exit' | 'random_notify' | 'notify_all' | ResolveFunction;

/** Options of {@link GlobalRegistry.register}. */
export interface RegisterOptions {
  /** Default `random_exit`, as OTP. */
  readonly onConflict?: OnConflict;
}

/** A lock id: `{ResourceId, LockRequesterId}`. Holders with the same requester id share the lock. */
export type LockId = readonly [resource: Term, requester: Term];

/**
 * A global name bound to the type (and optionally a Standard Schema) of the messages its owner
 * takes, for {@link GlobalRegistry.register}, {@link GlobalRegistry.send} and {@link GlobalRegistry.call}.
 */
export class TypedName<M = Term> {
  readonly name: Term;
  readonly schema: StandardSchemaV1<unknown, M> | undefined;
  declare readonly '~message'?: (message: M) => void;
  constructor(name: Term, schema?: StandardSchemaV1<unknown, M>) {
    this.name = name;
    this.schema = schema;
  }
}

/** `typedName<M>('counter', schema)`: see {@link TypedName}. */
export function typedName<M = Term>(name: Term, schema?: StandardSchemaV1<unknown, M>): TypedName<M> {
  return new TypedName<M>(name, schema);
}

type NameArg<M> = TypedName<M> | Term;

function nameOf<M>(n: NameArg<M>): Term {
  return n instanceof TypedName ? n.name : n;
}

/** The global registry of a node (`node.global`). */
export class GlobalRegistry {
  readonly #s: GlobalService;

  /** @internal Made by the node. */
  constructor(service: GlobalService) {
    this.#s = service;
  }

  /**
   * `global:register_name/3`: registers `pid` as `name` on every node of the partition. True if
   * registered; false if the name is taken or the pid already has a global name.
   */
  async register<M>(name: NameArg<M>, pid: TypedPid<M>, options?: RegisterOptions): Promise<boolean> {
    const n = nameOf(name);
    const { method, fn } = this.#method(pid, options?.onConflict);
    const r = await this.#s.request((op) => ({
      kind: 'register',
      op,
      entry: { name: n, pid, method },
      force: false,
    }));
    if (r !== G.yes) return false;
    this.#s.setHandler(n, fn === undefined ? undefined : { pid, fn });
    return true;
  }

  /** `global:re_register_name/3`: registers `pid` as `name` whether or not the name is taken. */
  async reRegister<M>(name: NameArg<M>, pid: TypedPid<M>, options?: RegisterOptions): Promise<void> {
    const n = nameOf(name);
    const { method, fn } = this.#method(pid, options?.onConflict);
    await this.#s.request((op) => ({ kind: 'register', op, entry: { name: n, pid, method }, force: true }));
    this.#s.setHandler(n, fn === undefined ? undefined : { pid, fn });
  }

  /** `global:unregister_name/1`: removes `name` on every node (no traffic when it is not registered). */
  async unregister(name: NameArg<unknown>): Promise<void> {
    const n = nameOf(name);
    await this.#s.request((op) => ({ kind: 'unregister', op, name: n }));
    this.#s.setHandler(n, undefined);
  }

  /** `global:whereis_name/1`: a local read. */
  whereis<M>(name: TypedName<M>): TypedPid<M> | undefined;
  whereis(name: Term): Pid | undefined;
  whereis(name: NameArg<unknown>): Pid | undefined {
    return this.#s.core.whereis(nameOf(name));
  }

  /**
   * `global:send/2`: sends `message` to the pid registered as `name` and returns that pid. Throws
   * {@link GlobalError} `not_registered` when nobody holds it (OTP exits `{badarg, {Name, Msg}}`),
   * `invalid_message` when a typed name's schema rejects the message.
   */
  send<M>(name: TypedName<M>, message: M): Pid;
  send(name: Term, message: Term): Pid;
  send(name: NameArg<unknown>, message: unknown): Pid {
    const n = nameOf(name);
    const msg = name instanceof TypedName ? validate(name, message) : (message as Term);
    const pid = this.#s.core.whereis(n);
    if (pid === undefined)
      throw new GlobalError('not_registered', `no process is globally registered as ${String(n)}`);
    this.#s.node.processes.send(pid, msg);
    return pid;
  }

  /**
   * `gen_server:call({global, Name}, Request)`: calls the process registered as `name`. Rejects
   * with {@link GlobalError} `not_registered`, or the call's error (`CallError`).
   */
  async call<M>(name: NameArg<M>, request: M extends Term ? M : Term, options?: CallOptions): Promise<Term> {
    const n = nameOf(name);
    const req = name instanceof TypedName ? validate(name, request) : (request as Term);
    const pid = this.#s.core.whereis(n);
    if (pid === undefined)
      throw new GlobalError('not_registered', `no process is globally registered as ${String(n)}`);
    return await new Promise<Term>((resolve, reject) => {
      this.#s.node.processes.spawn(async (self) => {
        try {
          resolve(await self.call(pid, req, options));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /** `global:registered_names/0`: a local read. */
  registeredNames(): Term[] {
    return this.#s.core.registeredNames();
  }

  /**
   * `global:set_lock/3`: takes the lock `id` on `nodes` (default this node and every visible
   * node). Retries with a random backoff (125 ms × 2^n, capped at 8 s) `retries` times (default
   * infinity); false when it could not. The holder is this node's lock client process.
   */
  async setLock(
    id: LockId,
    nodes?: readonly string[],
    retries: number = Number.POSITIVE_INFINITY,
  ): Promise<boolean> {
    const lockId = checkLockId(id);
    if (!(retries >= 0)) throw new GlobalError('bad_argument', `retries must be >= 0, got ${retries}`);
    const ns = this.#nodes(nodes);
    const r = await this.#s.request((op) => ({ kind: 'set_lock', op, id: lockId, nodes: ns, retries }));
    return r === true;
  }

  /** `global:del_lock/2`: releases the lock `id` on `nodes` (default this node and every visible node). */
  async delLock(id: LockId, nodes?: readonly string[]): Promise<void> {
    const lockId = checkLockId(id);
    const ns = this.#nodes(nodes);
    await this.#s.request((op) => ({ kind: 'del_lock', op, id: lockId, nodes: ns }));
  }

  /**
   * `global:trans/4`: runs `fn` holding the lock `id`, then releases it (also when `fn` throws).
   * `'aborted'` when the lock could not be taken.
   */
  async trans<R>(
    id: LockId,
    fn: () => R | Promise<R>,
    nodes?: readonly string[],
    retries?: number,
  ): Promise<R | 'aborted'> {
    const ns = nodes ?? this.#defaultNodes();
    if (!(await this.setLock(id, ns, retries))) return 'aborted';
    try {
      return await fn();
    } finally {
      await this.delLock(id, ns);
    }
  }

  /**
   * `global:sync/0`: resolves once this node has exchanged names with every visible node (or
   * that node went down).
   */
  async sync(nodes?: readonly string[]): Promise<void> {
    const ns = this.#nodes(nodes ?? this.#s.node.nodes('visible'));
    await this.#s.request((op) => ({ kind: 'sync', op, nodes: ns }));
  }

  /**
   * Changes settings from now on: `preventOverlappingPartitions` (OTP 25's default, true; set it
   * before connecting), `resolveTimeoutMs`, `maxNames`, `maxLocks` (see {@link GlobalOptions}).
   */
  configure(options: GlobalOptions): void {
    this.#s.configure(options);
  }

  /** The nodes of our partition (OTP's `known`): the nodes names are registered on. */
  knownNodes(): string[] {
    return this.#s.core.knownNodes().map((n) => n.name);
  }

  /** `global:info/0`-like status, for logs and tests. */
  status(): {
    readonly known: string[];
    readonly synced: string[];
    readonly sessions: string[];
    readonly locker: string;
    readonly names: number;
    readonly locks: number;
  } {
    const c = this.#s.core;
    return {
      known: c.knownNodes().map((n) => n.name),
      synced: c.syncedNodes().map((n) => n.name),
      sessions: c.sessions().map((n) => n.name),
      locker: c.lockerState,
      names: c.registeredNames().length,
      locks: c.lockEntries().length,
    };
  }

  /** The method term for `onConflict`, and the TypeScript resolver to remember if it is one. */
  #method(pid: Pid, onConflict: OnConflict | undefined): { method: Term; fn: ResolveFunction | undefined } {
    if (!(pid instanceof Pid)) throw new GlobalError('bad_argument', 'register needs a pid');
    const how = onConflict ?? 'random_exit';
    if (typeof how === 'function') {
      if (pid.node !== this.#s.node.atom) {
        throw new GlobalError('bad_argument', 'a TypeScript conflict resolver needs a pid of this node');
      }
      return { method: TS_RESOLVER, fn: how };
    }
    switch (how) {
      case 'random_exit':
        return { method: RANDOM_EXIT_NAME, fn: undefined };
      case 'random_notify':
        return { method: RANDOM_NOTIFY_NAME, fn: undefined };
      case 'notify_all':
        return { method: NOTIFY_ALL_NAME, fn: undefined };
      default:
        throw new GlobalError('bad_argument', `unknown onConflict ${String(how)}`);
    }
  }

  #defaultNodes(): string[] {
    return [this.#s.node.name, ...this.#s.node.nodes('visible')];
  }

  #nodes(nodes: readonly string[] | undefined): Atom[] {
    return (nodes ?? this.#defaultNodes()).map((n) => atom(n));
  }
}

export type { GlobalOptions };

function checkLockId(id: LockId): { resource: Term; requester: Term } {
  if (!Array.isArray(id) || id.length !== 2) {
    throw new GlobalError('bad_argument', 'a lock id is [resourceId, requesterId]');
  }
  return { resource: id[0] as Term, requester: id[1] as Term };
}

function validate<M>(name: TypedName<M>, message: unknown): Term {
  const schema = name.schema;
  if (schema === undefined) return message as Term;
  const r = schema['~standard'].validate(message);
  if (r instanceof Promise) throw new GlobalError('invalid_message', 'typed names need a synchronous schema');
  if (r.issues !== undefined) {
    throw new GlobalError(
      'invalid_message',
      `message for ${String(name.name)} fails its schema: ${r.issues.map((i) => i.message).join('; ')}`,
    );
  }
  return r.value as Term;
}
