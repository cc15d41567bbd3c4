/**
 * Subscriptions to a pg scope's changes (OTP 25.1 `pg:monitor/2` and `pg:monitor_scope/1`), in
 * TypeScript shape.
 *
 * A subscription is made by `scope.monitor(group)` or `scope.monitorScope()` and carries the
 * snapshot taken at that instant (`members`, or `groups`) and the monitor reference. Every later
 * join and leave is then delivered, in order, in one of two ways:
 * - in process (default): as events (`change`, `join`, `leave`) on the subscription, and through
 *   `for await (const change of subscription)`. The iterator buffers changes that arrive while
 *   the loop body runs, up to `maxBuffered`; past that it throws a {@link PgError} `overflow` (a
 *   consumer that far behind has lost track anyway) and the subscription stays active for
 *   listeners. Events are emitted synchronously; a listener that throws is logged, not propagated;
 * - to a process (`{ process: pid }`): as the Erlang messages `{Ref, join | leave, Group, Pids}`,
 *   exactly as OTP sends them. The subscription ends when that process exits.
 *
 * `demonitor()` ends it (the iterator finishes, `end` is emitted); so does the scope going down.
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import type { TermMap } from '../../term/map.ts';
import type { Pid, Reference, Term } from '../../term/types.ts';
import { PgError } from './errors.ts';

/** One join or leave, as a subscriber sees it. */
export interface PgChange {
  /** The subscription's reference. */
  readonly ref: Reference;
  readonly action: 'join' | 'leave';
  readonly group: Term;
  /** The pids that joined or left (a pid twice when it joined twice at once). */
  readonly pids: readonly Pid[];
}

/** Events of a {@link PgSubscription}. */
export interface PgSubscriptionEvents {
  change: [change: PgChange];
  join: [group: Term, pids: readonly Pid[]];
  leave: [group: Term, pids: readonly Pid[]];
  /** The subscription ended (demonitor, or the scope went down). */
  end: [];
}

/** Default bound of an iterator's buffer, in changes. */
export const DEFAULT_MAX_BUFFERED = 10_000;

/** @internal What a subscription needs from its scope. */
export interface SubscriptionHost {
  demonitor(ref: Reference): boolean;
  logListenerError(error: unknown): void;
}

/** A subscription to a scope's changes (see the module comment). */
export class PgSubscription extends EventEmitter<PgSubscriptionEvents> implements AsyncIterable<PgChange> {
  /** The monitor reference (the `Ref` of OTP's `{Ref, join | leave, Group, Pids}`). */
  readonly ref: Reference;
  /** The local process told by messages, when there is one. */
  readonly process: Pid | undefined;
  readonly #host: SubscriptionHost;
  readonly #maxBuffered: number;
  #active = true;

  /** @internal Made by the scope. */
  constructor(host: SubscriptionHost, ref: Reference, process: Pid | undefined, maxBuffered: number) {
    super();
    this.#host = host;
    this.ref = ref;
    this.process = process;
    this.#maxBuffered = maxBuffered;
  }

  /** True until demonitored or the scope goes down. */
  get active(): boolean {
    return this.#active;
  }

  /** Ends the subscription; false when it had already ended. */
  demonitor(): boolean {
    if (!this.#active) return false;
    this.#host.demonitor(this.ref);
    this.end();
    return true;
  }

  /** @internal A change from the scope. */
  deliver(change: PgChange): void {
    if (!this.#active) return;
    try {
      this.emit('change', change);
      this.emit(change.action, change.group, change.pids);
    } catch (error) {
      this.#host.logListenerError(error);
    }
  }

  /** @internal The subscription ended. */
  end(): void {
    if (!this.#active) return;
    this.#active = false;
    try {
      this.emit('end');
    } catch (error) {
      this.#host.logListenerError(error);
    }
  }

  /** Changes from now on, until the subscription ends. */
  [Symbol.asyncIterator](): AsyncIterator<PgChange> {
    const queue: PgChange[] = [];
    let head = 0;
    let waiting: ((r: IteratorResult<PgChange>) => void) | undefined;
    let failWaiting: ((e: unknown) => void) | undefined;
    let failure: PgError | undefined;
    let finished = !this.#active;
    const detach = (): void => {
      this.off('change', onChange);
      this.off('end', onEnd);
    };
    const onChange = (c: PgChange): void => {
      if (waiting !== undefined) {
        const w = waiting;
        waiting = undefined;
        failWaiting = undefined;
        w({ value: c, done: false });
        return;
      }
      if (queue.length - head >= this.#maxBuffered) {
        failure = new PgError('overflow', `subscriber fell ${this.#maxBuffered} changes behind`);
        detach();
        return;
      }
      queue.push(c);
    };
    const onEnd = (): void => {
      finished = true;
      detach();
      if (waiting !== undefined) {
        const w = waiting;
        waiting = undefined;
        failWaiting = undefined;
        w({ value: undefined, done: true });
      }
    };
    if (!finished) {
      this.on('change', onChange);
      this.on('end', onEnd);
    }
    return {
      next: (): Promise<IteratorResult<PgChange>> => {
        if (head < queue.length) {
          const value = queue[head++] as PgChange;
          if (head > 1024 && head * 2 > queue.length) {
            queue.splice(0, head);
            head = 0;
          }
          return Promise.resolve({ value, done: false });
        }
        if (failure !== undefined) {
          const f = failure;
          failure = undefined;
          finished = true;
          return Promise.reject(f);
        }
        if (finished) return Promise.resolve({ value: undefined, done: true });
        return new Promise<IteratorResult<PgChange>>((resolve, reject) => {
          waiting = resolve;
          failWaiting = reject;
        });
      },
      return: (): Promise<IteratorResult<PgChange>> => {
        finished = true;
        detach();
        queue.length = 0;
        head = 0;
        const w = waiting;
        waiting = undefined;
        failWaiting = undefined;
        w?.({ value: undefined, done: true });
        return Promise.resolve({ value: undefined, done: true });
      },
      throw: (e?: unknown): Promise<IteratorResult<PgChange>> => {
        finished = true;
        detach();
        failWaiting?.(e);
        waiting = undefined;
        failWaiting = undefined;
        return Promise.reject(e);
      },
    };
  }
}

/** A subscription to one group (`pg:monitor/2`): its members when it started, then its changes. */
export class GroupMonitor extends PgSubscription {
  readonly group: Term;
  /** Members of the group when the subscription started. */
  readonly members: readonly Pid[];

  /** @internal Made by the scope. */
  constructor(
    host: SubscriptionHost,
    ref: Reference,
    process: Pid | undefined,
    maxBuffered: number,
    group: Term,
    members: readonly Pid[],
  ) {
    super(host, ref, process, maxBuffered);
    this.group = group;
    this.members = members;
  }
}

/** A subscription to a whole scope (`pg:monitor_scope/1`): every group when it started, then every change. */
export class ScopeMonitor extends PgSubscription {
  /** Every group and its members when the subscription started. */
  readonly groups: TermMap<Term, Pid[]>;

  /** @internal Made by the scope. */
  constructor(
    host: SubscriptionHost,
    ref: Reference,
    process: Pid | undefined,
    maxBuffered: number,
    groups: TermMap<Term, Pid[]>,
  ) {
    super(host, ref, process, maxBuffered);
    this.groups = groups;
  }
}
