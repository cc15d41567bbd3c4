/**
 * The locker: the one process of a node that takes the cluster lock for a new connection, as
 * `loop_the_locker/1` and friends in OTP 25's `global.erl`. A pure state machine with its own
 * mailbox, because the original relies on selective receive: while it waits for the other side's
 * `lock_set` (or for the server's `cancel`), other messages stay queued in order.
 *
 * Protocol (vsn 8; the lockers never talk directly, the servers proxy `lock_set`):
 * - `his_the_locker` from our server adds the other side ("him") to the pending list.
 * - After a wait (0 ms just after a sync, 200 ms when we know nobody, else
 *   min(1000 + 100 * known, 3000) ms), if `global` is not locked here, the locker picks a random
 *   him it does not know yet and locks, with the connect lock id `{global, sort([Me, Him])}`: the
 *   boss first, then `[Me, HisNode]`, then our known nodes (`lock_nodes_safely/3`). On success it
 *   casts `{lock_set, Me, true, Known, HisTag}` to his server and waits for his answer.
 * - A `lock_set true` that arrives while idle (his side went first) makes it lock its own
 *   partition only (boss, self, known) and answer `lock_set` true or false: every `lock_set true`
 *   gets an answer, or the other locker waits forever.
 * - Both lock_set true: it tells our server `lock_is_set`, then holds the lock until the server
 *   sends `cancel` (after the names are merged, with the `new_nodes` casts to run first, so third
 *   nodes get them while the lock still protects them), and releases it, boss last.
 *
 * Races tolerated as OTP does: `lock_set` of an older session (other tag) is discarded while
 * waiting; a `cancel` with the tag `undefined` is ignored (it may come from an old nodedown and
 * must not cancel a new nodeup); a `cancel` carrying a fun that reaches the idle loop is dropped.
 *
 * @module
 */

import type { Rng } from '../../sim/prng.ts';
import { equals } from '../../term/compare.ts';
import { type Atom, atoms, type Pid, type Term } from '../../term/types.ts';
import { type CallHost, deleteGlobalLock, delLock, setLockOnNodes, theBoss } from './locks.ts';
import { connectLockId, G, type LockId } from './messages.ts';

/** The other side of a connection the locker is asked to lock for (`#him{}`). */
export interface Him {
  readonly node: Atom;
  readonly locker: Pid;
  readonly vsn: number;
  readonly myTag: Term;
  readonly hisTag: Term;
}

/** Messages in the locker's mailbox. */
export type LockerMessage =
  | { readonly kind: 'his_the_locker'; readonly him: Him }
  | {
      readonly kind: 'cancel';
      readonly node: Atom;
      readonly tag: Term | undefined;
      /** Run by the locker before it releases the lock (the `new_nodes` casts). */
      readonly fun: (() => void) | undefined;
    }
  | {
      readonly kind: 'lock_set';
      readonly pid: Pid;
      readonly set: boolean;
      /** undefined for the 4-tuple of peers older than vsn 8. */
      readonly tag: Term | undefined;
    }
  | { readonly kind: 'add_to_known'; readonly nodes: readonly Atom[] }
  | { readonly kind: 'remove_from_known'; readonly node: Atom };

/** What the locker needs from the core. */
export interface LockerHost extends CallHost {
  readonly lockerPid: Pid;
  readonly rng: Rng;
  /** Runs `fn` after the current step (the locker runs as its own process would). */
  schedule(fn: () => void): void;
  cancelTimer(id: number): void;
  /** `is_global_lock_set/0` on the local table. */
  isGlobalLockSet(): boolean;
  /** `{lock_set, Me, IsSet, Known, HisTag}` cast to his server; `direct` sends the 4-tuple to his pid (vsn < 6). */
  sendLockSet(to: Pid, set: boolean, known: readonly Atom[], hisTag: Term | undefined, direct: boolean): void;
  /** `{lock_is_set, Node, MyTag, LockId}` cast to our own server. */
  lockIsSet(node: Atom, myTag: Term, lockId: LockId): void;
  /** True for nodes on our host (served first). */
  isLocalHost(node: Atom): boolean;
}

type Phase =
  | { readonly kind: 'top' }
  | { readonly kind: 'wait'; readonly timer: number | undefined }
  | { readonly kind: 'busy' }
  | {
      readonly kind: 'select';
      readonly match: (m: LockerMessage) => boolean;
      readonly handle: (m: LockerMessage) => void;
    };

/** Same tag: `undefined` (no tag) equals only itself. */
export function tagEq(a: Term | undefined, b: Term | undefined): boolean {
  const au = a === undefined || a === atoms.undefined;
  const bu = b === undefined || b === atoms.undefined;
  if (au || bu) return au && bu;
  return equals(a, b);
}

/** The locker state machine (`#multi{}` plus its mailbox). */
export class Locker {
  readonly #h: LockerHost;
  #local: Him[] = [];
  #remote: Him[] = [];
  #known: Atom[] = [];
  #boss: Atom;
  #justSynced = false;
  readonly #mailbox: LockerMessage[] = [];
  #phase: Phase = { kind: 'top' };
  #running = false;
  #scheduled = false;

  constructor(host: LockerHost) {
    this.#h = host;
    this.#boss = host.me;
  }

  /** Nodes the locker counts as known (a copy of the server's). */
  get known(): readonly Atom[] {
    return this.#known;
  }

  /** Hims waiting for a lock, local host first. */
  get pending(): readonly Him[] {
    return [...this.#local, ...this.#remote];
  }

  /** What the locker is doing: `idle`, `waiting` (for its timer), `locking`, or `holding` (select). */
  get state(): 'idle' | 'waiting' | 'locking' | 'holding' {
    const p = this.#phase;
    if (p.kind === 'busy') return 'locking';
    if (p.kind === 'select') return 'holding';
    return p.kind === 'wait' && p.timer !== undefined ? 'waiting' : 'idle';
  }

  /** A message for the locker (`Locker ! Msg`): queued, handled after the current step. */
  deliver(m: LockerMessage): void {
    this.#mailbox.push(m);
    this.#wake();
  }

  #wake(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#h.schedule(() => {
      this.#scheduled = false;
      this.#run();
    });
  }

  /** `loop_the_locker/1`. */
  #loop(): void {
    this.#phase = { kind: 'top' };
    if (!this.#running) this.#run();
  }

  #run(): void {
    this.#running = true;
    try {
      for (;;) {
        const p = this.#phase;
        if (p.kind === 'busy') return;
        if (p.kind === 'select') {
          const i = this.#mailbox.findIndex(p.match);
          if (i < 0) return;
          const m = this.#mailbox.splice(i, 1)[0]!;
          this.#phase = { kind: 'busy' };
          p.handle(m);
          continue;
        }
        if (this.#mailbox.length > 0) {
          if (p.kind === 'wait' && p.timer !== undefined) this.#h.cancelTimer(p.timer);
          const m = this.#mailbox.shift()!;
          this.#phase = { kind: 'busy' };
          this.#message(m);
          continue;
        }
        if (p.kind === 'wait') return;
        // `after 0`: nothing queued. Wait for a message, or the timeout when someone is pending.
        let timeout: number | undefined;
        if (this.#local.length > 0 || this.#remote.length > 0) {
          timeout = this.#justSynced
            ? 0
            : this.#known.length === 0
              ? 200
              : Math.min(1000 + 100 * this.#known.length, 3000);
        }
        this.#justSynced = false;
        const timer =
          timeout === undefined ? undefined : this.#h.setTimer(timeout, () => this.#onTimeout(timer));
        this.#phase = { kind: 'wait', timer };
        return;
      }
    } finally {
      this.#running = false;
    }
  }

  #onTimeout(timer: number | undefined): void {
    const p = this.#phase;
    if (p.kind !== 'wait' || p.timer !== timer) return;
    // A registration or another connect holds `global` here: wait again.
    if (this.#h.isGlobalLockSet()) {
      this.#loop();
      return;
    }
    this.#phase = { kind: 'busy' };
    this.#selectNode();
  }

  /** `the_locker_message/2`. */
  #message(m: LockerMessage): void {
    switch (m.kind) {
      case 'his_the_locker':
        if (this.#h.isLocalHost(m.him.node)) this.#local.unshift(m.him);
        else this.#remote.unshift(m.him);
        this.#loop();
        return;
      case 'cancel':
        // A cancel with a fun only means something while holding the lock.
        if (m.fun === undefined && m.tag !== undefined && m.tag !== atoms.undefined)
          this.#removeNode(m.node, m.tag);
        this.#loop();
        return;
      case 'lock_set':
        if (!m.set) {
          this.#loop();
          return;
        }
        this.#spontaneous(m.pid, m.tag);
        return;
      case 'add_to_known':
      case 'remove_from_known':
        this.#updateKnown(m);
        this.#loop();
        return;
    }
  }

  /** His locker locked first: lock our partition (not his node) and answer. */
  #spontaneous(pid: Pid, tag: Term | undefined): void {
    const node = pid.node;
    const him = this.#findNodeTag(node);
    if (him === undefined || (tag !== undefined && !tagEq(him.myTag, tag))) {
      // Not a connection we know of: reject, the way OTP answers an unknown node (as vsn 5).
      this.#h.sendLockSet(pid, false, this.#known, undefined, true);
      this.#loop();
      return;
    }
    const myTag = him.myTag;
    const lockId = connectLockId(this.#h.lockerPid, pid);
    this.#lockNodesSafely(lockId, [], (ok) => {
      this.#sendLockSet(ok, pid, him.vsn, him.hisTag);
      const known2 = [this.#h.me, ...this.#known];
      if (!ok) {
        this.#justSynced = false;
        this.#loop();
        return;
      }
      this.#h.lockIsSet(node, myTag, lockId);
      this.#waitCancelLock(node, lockId, myTag, known2, () => {
        this.#justSynced = true;
        this.#removeNode(node, myTag);
        this.#loop();
      });
    });
  }

  /** `select_node/1`: lock for a random pending him, local host first. */
  #selectNode(): void {
    const useRemote = this.#local.length === 0;
    const others = (useRemote ? this.#remote : this.#local).filter((h) => !this.#known.includes(h.node));
    if (useRemote) this.#remote = others;
    else this.#local = others;
    if (others.length === 0) {
      this.#loop();
      return;
    }
    const him = others[this.#h.rng.int(others.length)]!;
    const lockId = connectLockId(this.#h.lockerPid, him.locker);
    // Locking his node too (HisNode) prevents a deadlock between the two partitions.
    this.#lockNodesSafely(lockId, [him.node], (ok) => {
      if (!ok) {
        this.#loop();
        return;
      }
      const known1 = [this.#h.me, him.node, ...this.#known];
      this.#sendLockSet(true, him.locker, him.vsn, him.hisTag);
      this.#lockIsSet(him, him.myTag, known1, lockId);
    });
  }

  /** `send_lock_set/5`. */
  #sendLockSet(set: boolean, to: Pid, vsn: number, hisTag: Term): void {
    if (vsn < 6) this.#h.sendLockSet(to, set, this.#known, undefined, true);
    else if (vsn < 8) this.#h.sendLockSet(to, set, this.#known, undefined, false);
    else this.#h.sendLockSet(to, set, this.#known, hisTag, false);
  }

  /** `lock_nodes_safely/3`: the boss, then `[Me | Extra]`, then our known nodes; undo on failure. */
  #lockNodesSafely(lockId: LockId, extra: readonly Atom[], cont: (ok: boolean) => void): void {
    const h = this.#h;
    const first = this.#boss === G.nonode ? [] : [this.#boss];
    // Locking ourselves could stop a node that already locked the boss: only probe it here.
    const firstIsMe = first.length === 1 && first[0] === h.me;
    if (!firstIsMe && !h.canSetLock(lockId)) {
      cont(false);
      return;
    }
    setLockOnNodes(h, 'locker', lockId, first, (ok1) => {
      if (!ok1) {
        cont(false);
        return;
      }
      this.#drainKnownUpdates();
      const second = [h.me, ...extra].filter((n) => !first.includes(n) && n !== G.nonode);
      setLockOnNodes(h, 'locker', lockId, second, (ok2) => {
        if (!ok2) {
          delLock(h, 'locker', lockId, first, () => cont(false));
          return;
        }
        const rest = this.#known.filter((n) => !first.includes(n));
        setLockOnNodes(h, 'locker', lockId, rest, (ok3) => {
          if (ok3) cont(true);
          else delLock(h, 'locker', lockId, [...first, ...second], () => cont(false));
        });
      });
    });
  }

  /** `lock_is_set/5`: wait for his `lock_set` (or a cancel), leaving other messages queued. */
  #lockIsSet(him: Him, myTag: Term, known1: readonly Atom[], lockId: LockId): void {
    const node = him.node;
    this.#phase = {
      kind: 'select',
      match: (m) =>
        (m.kind === 'lock_set' && m.pid.node === node) ||
        (m.kind === 'cancel' && m.node === node && tagEq(m.tag, myTag)),
      handle: (m) => {
        if (m.kind === 'cancel') {
          m.fun?.();
          deleteGlobalLock(this.#h, 'locker', lockId, known1, () => {
            this.#removeNode(node, myTag);
            this.#loop();
          });
          return;
        }
        if (m.kind !== 'lock_set') return;
        const current = m.tag === undefined || tagEq(m.tag, myTag);
        if (!current) {
          // An older session's answer: keep waiting for ours.
          this.#lockIsSet(him, myTag, known1, lockId);
          this.#resume();
          return;
        }
        if (!m.set) {
          deleteGlobalLock(this.#h, 'locker', lockId, known1, () => this.#loop());
          return;
        }
        this.#h.lockIsSet(node, myTag, lockId);
        this.#waitCancelLock(node, lockId, myTag, known1, () => {
          this.#justSynced = true;
          this.#local = this.#local.filter((x) => x !== him);
          this.#remote = this.#remote.filter((x) => x !== him);
          this.#loop();
        });
      },
    };
    this.#resume();
  }

  /** `wait_cancel_lock/6`: hold the lock until our server cancels this session, then release it. */
  #waitCancelLock(node: Atom, lockId: LockId, myTag: Term, known: readonly Atom[], cont: () => void): void {
    this.#phase = {
      kind: 'select',
      match: (m) => m.kind === 'cancel' && m.node === node && tagEq(m.tag, myTag),
      handle: (m) => {
        if (m.kind === 'cancel') m.fun?.();
        deleteGlobalLock(this.#h, 'locker', lockId, known, cont);
      },
    };
    this.#resume();
  }

  /** Continue handling the mailbox after a phase change made outside `#run`. */
  #resume(): void {
    if (!this.#running) this.#run();
  }

  /** `update_locker_known/1`: apply queued add/remove messages now (selective receive). */
  #drainKnownUpdates(): void {
    for (let i = 0; i < this.#mailbox.length; ) {
      const m = this.#mailbox[i]!;
      if (m.kind === 'add_to_known' || m.kind === 'remove_from_known') {
        this.#mailbox.splice(i, 1);
        this.#updateKnown(m);
      } else {
        i++;
      }
    }
  }

  #updateKnown(m: LockerMessage): void {
    if (m.kind === 'add_to_known') {
      this.#known = [...m.nodes, ...this.#known];
    } else if (m.kind === 'remove_from_known') {
      const i = this.#known.indexOf(m.node);
      if (i >= 0) this.#known.splice(i, 1);
    }
    this.#boss = theBoss([this.#h.me, ...this.#known]);
  }

  #findNodeTag(node: Atom): Him | undefined {
    return this.#local.find((h) => h.node === node) ?? this.#remote.find((h) => h.node === node);
  }

  /** `remove_node/3`: the first him of `node` with `tag`. */
  #removeNode(node: Atom, tag: Term): void {
    const drop = (list: Him[]): Him[] => {
      const i = list.findIndex((h) => h.node === node && tagEq(h.myTag, tag));
      return i < 0 ? list : [...list.slice(0, i), ...list.slice(i + 1)];
    };
    this.#local = drop(this.#local);
    this.#remote = drop(this.#remote);
  }
}
