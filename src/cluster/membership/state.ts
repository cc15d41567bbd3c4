/**
 * The member table: who we know, in what state, and the round-robin probe order. Pure data
 * with bookkeeping; the protocol rules that change it live in swim.ts.
 *
 * Probe order (SWIM section 4.3): members are probed in a shuffled round-robin, so each is
 * probed by each other member once per N periods at most (bounding worst-case detection time),
 * and a new member is inserted at a uniformly random position. Dead and left members stay in
 * the table until reaped, then leave a tombstone holding their last incarnation, so gossip
 * older than the death cannot bring them back.
 */
import type { Rng } from '../../sim/prng.ts';
import type { MemberStatus } from './messages.ts';

/** A member as the application sees it. */
export interface Member {
  readonly id: string;
  readonly address: string;
  readonly status: MemberStatus;
  readonly incarnation: number;
}

/** A member record; mutable inside the core only. */
export interface MemberRecord {
  id: string;
  address: string;
  status: MemberStatus;
  incarnation: number;
  /** Virtual time of the last status change (reaping counts from it). */
  changedAtMs: number;
  /** Position in `MemberTable.list` (for O(1) removal). */
  index: number;
}

/** What remains of a reaped member. */
export interface Tombstone {
  readonly id: string;
  readonly address: string;
  readonly incarnation: number;
  /** True when it left gracefully (it will not be contacted again). */
  readonly left: boolean;
  readonly untilMs: number;
}

/** The set of known members plus the probe order. */
export class MemberTable {
  private readonly byId = new Map<string, MemberRecord>();
  private readonly list: MemberRecord[] = [];
  private readonly tombstones = new Map<string, Tombstone>();
  /** Tombstones in an array too, for random choice (order irrelevant; swap-removed). */
  private readonly tombList: Tombstone[] = [];
  private probeOrder: string[] = [];
  private probeIndex = 0;
  private liveCount = 0;
  private readonly selfId: string;

  constructor(selfId: string) {
    this.selfId = selfId;
  }

  /** Members in the table (all statuses, self included). */
  get size(): number {
    return this.list.length;
  }

  /** Members alive or suspect, self included: the N of the timeout formulas. */
  get live(): number {
    return this.liveCount;
  }

  /** Tombstones held. */
  get tombstoneCount(): number {
    return this.tombstones.size;
  }

  get(id: string): MemberRecord | undefined {
    return this.byId.get(id);
  }

  tombstone(id: string): Tombstone | undefined {
    return this.tombstones.get(id);
  }

  /** All records, in no particular order (do not mutate the array). */
  records(): readonly MemberRecord[] {
    return this.list;
  }

  /**
   * Adds a new member and inserts it at a random place in the probe order (SWIM 4.3). With
   * `bulk`, the probe order is left alone: it is rebuilt and shuffled at the next pass anyway
   * (used when loading many members at once, where inserting each would cost O(N^2)).
   */
  add(rec: Omit<MemberRecord, 'index'>, rng: Rng, bulk = false): MemberRecord {
    const r: MemberRecord = {
      id: rec.id,
      address: rec.address,
      status: rec.status,
      incarnation: rec.incarnation,
      changedAtMs: rec.changedAtMs,
      index: this.list.length,
    };
    this.list.push(r);
    this.byId.set(r.id, r);
    this.dropTombstone(r.id);
    if (isLive(r.status)) this.liveCount++;
    if (r.id !== this.selfId && !bulk) {
      const at = rng.int(this.probeOrder.length + 1);
      this.probeOrder.splice(at, 0, r.id);
      if (at < this.probeIndex) this.probeIndex++;
    }
    return r;
  }

  /** Changes a member's status and incarnation, keeping the live count. */
  set(rec: MemberRecord, status: MemberStatus, incarnation: number, nowMs: number): void {
    if (isLive(rec.status)) this.liveCount--;
    if (isLive(status)) this.liveCount++;
    if (rec.status !== status) rec.changedAtMs = nowMs;
    rec.status = status;
    rec.incarnation = incarnation;
  }

  /** Removes a member, leaving a tombstone until `tombstoneUntilMs`. */
  reap(id: string, tombstoneUntilMs: number): MemberRecord | undefined {
    const r = this.byId.get(id);
    if (r === undefined) return undefined;
    this.byId.delete(id);
    const last = this.list.pop()!;
    if (last !== r) {
      this.list[r.index] = last;
      last.index = r.index;
    }
    if (isLive(r.status)) this.liveCount--;
    this.dropTombstone(id);
    const t: Tombstone = {
      id,
      address: r.address,
      incarnation: r.incarnation,
      left: r.status === 'left',
      untilMs: tombstoneUntilMs,
    };
    this.tombstones.set(id, t);
    this.tombList.push(t);
    return r;
  }

  /** Forgets a tombstone (its time is up). */
  dropTombstone(id: string): void {
    const t = this.tombstones.get(id);
    if (t === undefined) return;
    this.tombstones.delete(id);
    const i = this.tombList.indexOf(t);
    const last = this.tombList.pop()!;
    if (last !== t) this.tombList[i] = last;
  }

  /** Every tombstone (do not mutate the array). */
  allTombstones(): readonly Tombstone[] {
    return this.tombList;
  }

  /** A random tombstone of a member that did not leave, or undefined (a few draws at most). */
  randomFailedTombstone(rng: Rng): Tombstone | undefined {
    for (let i = 0; i < 3 && this.tombList.length > 0; i++) {
      const t = this.tombList[rng.int(this.tombList.length)]!;
      if (!t.left) return t;
    }
    return undefined;
  }

  /**
   * The next member to probe: round-robin over a shuffled list, reshuffled at the end of each
   * pass; dead, left and reaped members are skipped. Undefined when there is no one to probe.
   */
  nextProbeTarget(rng: Rng): MemberRecord | undefined {
    for (let passes = 0; passes < 2; ) {
      if (this.probeIndex >= this.probeOrder.length) {
        passes++;
        this.probeOrder = [];
        for (const r of this.list) if (r.id !== this.selfId && isLive(r.status)) this.probeOrder.push(r.id);
        shuffle(this.probeOrder, rng);
        this.probeIndex = 0;
        if (this.probeOrder.length === 0) return undefined;
      }
      const id = this.probeOrder[this.probeIndex++]!;
      const r = this.byId.get(id);
      if (r !== undefined && isLive(r.status)) return r;
    }
    return undefined;
  }

  /**
   * Up to `k` distinct random members other than self satisfying `accept`, found by random
   * draws (at most 3 * size of them), so the cost does not grow with the table.
   */
  randomMembers(k: number, rng: Rng, accept: (r: MemberRecord) => boolean): MemberRecord[] {
    const out: MemberRecord[] = [];
    const n = this.list.length;
    if (k <= 0 || n === 0) return out;
    for (let i = 0; i < 3 * n && out.length < k; i++) {
      const r = this.list[rng.int(n)]!;
      if (r.id === this.selfId || !accept(r) || out.includes(r)) continue;
      out.push(r);
    }
    return out;
  }
}

/** Alive and suspect members count as live: they are probed and they count towards N. */
export function isLive(status: MemberStatus): boolean {
  return status === 'alive' || status === 'suspect';
}

function shuffle<T>(xs: T[], rng: Rng): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = xs[i]!;
    xs[i] = xs[j]!;
    xs[j] = t;
  }
}
