/**
 * The client side of global's locks: `set_lock/1..3`, `del_lock/1,2` and the "boss first"
 * conventions, as continuation-passing steps over the core's multi-calls (a pure core cannot
 * block; each step ends by calling its continuation when the replies are in).
 *
 * Rules, as `global.erl` (OTP 25) has them:
 * - `set_lock_on_nodes`: with more than one node, first probe the local table (if we are among
 *   the nodes and cannot take the lock here, fail without traffic); then `{set_lock, Id}` to every
 *   node. A node that does not answer (down, no `global_name_server`) counts as a success
 *   (`check_replies`). On a `false` among several replies, release the nodes that said `true`.
 * - `set_lock` with retries sleeps a random time between attempts: uniform in [1, Tmax] ms with
 *   Tmax = 125 * 2^Times, capped at 8 s from Times 6 on (`random_sleep/1`).
 * - The boss (`lists:max` of the node names) is locked first and released last.
 *
 * @module
 */

import type { Rng } from '../../sim/prng.ts';
import type { Atom, Term } from '../../term/types.ts';
import type { CallRequest, LockId } from './messages.ts';

/** The process a call comes from (its pid is the caller the remote side records). */
export type Actor = 'server' | 'locker' | 'registrar' | 'client';

/** Replies of a multi-call: `[Node, Reply]` for each node that answered (bad nodes are absent). */
export type Replies = readonly (readonly [Atom, Term])[];

/** What the lock procedures need from the core. */
export interface CallHost {
  readonly me: Atom;
  readonly rng: Rng;
  /** `gen_server:multi_call(Nodes, global_name_server, Request)` from `actor`. */
  multiCall(
    actor: Actor,
    nodes: readonly Atom[],
    request: CallRequest,
    cont: (replies: Replies) => void,
  ): void;
  /** `can_set_lock/1` on the local table. */
  canSetLock(id: LockId): boolean;
  /** Runs `fn` after `ms` (a core timer). */
  setTimer(ms: number, fn: () => void): number;
}

/** `the_boss/1`: the greatest node name (atom order). */
export function theBoss(nodes: readonly Atom[]): Atom {
  let boss = nodes[0]!;
  for (const n of nodes) if (n.name > boss.name) boss = n;
  return boss;
}

/** Upper bound of `random_sleep(Times)` in ms: 125 * 2^Times, 8000 from Times 6 on. */
export function randomSleepMax(times: number): number {
  return times > 5 ? 8000 : Math.floor(((1 << times) * 1000) / 8);
}

/** A `random_sleep(Times)` duration: uniform in [1, {@link randomSleepMax}]. */
export function randomSleepMs(rng: Rng, times: number): number {
  return 1 + rng.int(randomSleepMax(times));
}

/**
 * `set_lock_on_nodes/2`. `cont` also learns whether a node did not answer (`silent`: it went
 * down meanwhile, and counts as locked, as OTP has it).
 */
export function setLockOnNodes(
  h: CallHost,
  actor: Actor,
  id: LockId,
  nodes: readonly Atom[],
  cont: (ok: boolean, silent?: boolean) => void,
): void {
  if (nodes.length === 0) {
    cont(true);
    return;
  }
  // local_lock_check: probe our own table before asking anyone.
  if (nodes.length > 1 && nodes.includes(h.me) && !h.canSetLock(id)) {
    cont(false);
    return;
  }
  h.multiCall(actor, nodes, { kind: 'set_lock', id }, (replies) =>
    checkReplies(h, actor, id, replies, (ok) => cont(ok, replies.length < new Set(nodes).size)),
  );
}

/** `check_replies/3`: true unless a node said false; then the nodes that said true are released. */
function checkReplies(
  h: CallHost,
  actor: Actor,
  id: LockId,
  replies: Replies,
  cont: (ok: boolean) => void,
): void {
  if (replies.every(([, r]) => r === true)) {
    cont(true);
    return;
  }
  if (replies.length === 1) {
    cont(false);
    return;
  }
  const granted = replies.filter(([, r]) => r === true).map(([n]) => n);
  delLock(h, actor, id, granted, () => cont(false));
}

/** `set_lock(Id, Nodes, Retries)` (Retries `Infinity` for infinity), starting at attempt `times`. */
export function setLock(
  h: CallHost,
  actor: Actor,
  id: LockId,
  nodes: readonly Atom[],
  retries: number,
  times: number,
  cont: (ok: boolean) => void,
): void {
  if (nodes.length === 0) {
    cont(true);
    return;
  }
  setLockOnNodes(h, actor, id, nodes, (ok) => {
    if (ok) cont(true);
    else if (retries <= 0) cont(false);
    else randomSleep(h, times, () => setLock(h, actor, id, nodes, retries - 1, times + 1, cont));
  });
}

/** `del_lock(Id, Nodes)`: every node answers `true`. */
export function delLock(
  h: CallHost,
  actor: Actor,
  id: LockId,
  nodes: readonly Atom[],
  cont: () => void,
): void {
  if (nodes.length === 0) {
    cont();
    return;
  }
  h.multiCall(actor, nodes, { kind: 'del_lock', id }, () => cont());
}

/** `delete_global_lock/2`: every node but the boss, then the boss. */
export function deleteGlobalLock(
  h: CallHost,
  actor: Actor,
  id: LockId,
  nodes: readonly Atom[],
  cont: () => void,
): void {
  if (nodes.length === 0) {
    cont();
    return;
  }
  const { others, boss } = splitBoss(nodes);
  delLock(h, actor, id, others, () => delLock(h, actor, id, [boss], cont));
}

/** `nodes` (not empty) without the boss, and the boss: the order of a release, the boss last. */
export function splitBoss(nodes: readonly Atom[]): { others: Atom[]; boss: Atom } {
  const boss = theBoss(nodes);
  return { others: nodes.filter((n) => n !== boss), boss };
}

/** `random_sleep(Times)` as a core timer. */
export function randomSleep(h: CallHost, times: number, cont: () => void): void {
  h.setTimer(randomSleepMs(h.rng, times), cont);
}
