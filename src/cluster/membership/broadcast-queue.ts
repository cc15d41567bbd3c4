/**
 * The transmit-limited broadcast queue of infection-style dissemination. Each member update
 * is piggybacked on outgoing packets at most `retransmitLimit(mult, N)` times, least-sent
 * first (so fresh news overtakes old), newest first among equals. A newer update about the
 * same member replaces the queued one: only the latest state of a member is worth spreading.
 *
 * Items sit in buckets by transmit count, newest at the end of each bucket (among items moved
 * up together; an item moved up is met before older residents of its new bucket); a replaced
 * item is only marked dead and dropped when a scan meets it. Taking for one packet costs the
 * items it looks at, not the length of the queue.
 */
import { type Gossip, gossipSize } from './messages.ts';

/**
 * How many times each member sends one update: `mult * ceil(log10(n + 1))`. With N members,
 * log N rounds of gossip reach all of them with high probability (SWIM section 4.1).
 */
export function retransmitLimit(mult: number, n: number): number {
  const nodeScale = Math.ceil(Math.log10(n + 1));
  return mult * nodeScale;
}

interface Item {
  readonly gossip: Gossip;
  readonly bytes: number;
  transmits: number;
  live: boolean;
}

/** A queue of member updates waiting to be piggybacked, keyed by member id. */
export class BroadcastQueue {
  /** buckets[t]: live (and some dead) items sent t times, oldest first. */
  private buckets: Item[][] = [];
  private readonly byId = new Map<string, Item>();
  private readonly retransmitMult: number;

  constructor(retransmitMult: number) {
    this.retransmitMult = retransmitMult;
  }

  /** Updates waiting. */
  get size(): number {
    return this.byId.size;
  }

  /** True when an update about `id` is still queued. */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Queues an update, replacing any queued update about the same member. */
  enqueue(gossip: Gossip): void {
    this.forget(gossip.id);
    const item: Item = { gossip, bytes: gossipSize(gossip), transmits: 0, live: true };
    this.byId.set(gossip.id, item);
    this.bucket(0).push(item);
  }

  /** Drops any queued update about `id` (e.g. a reaped member). */
  forget(id: string): void {
    const old = this.byId.get(id);
    if (old === undefined) return;
    old.live = false;
    this.byId.delete(id);
  }

  /**
   * Takes updates fitting in `budgetBytes` (at most `maxCount`) for one outgoing packet and
   * counts a transmission for each; an update sent `retransmitLimit(mult, n)` times leaves the queue.
   */
  take(budgetBytes: number, n: number, maxCount = 255): Gossip[] {
    if (this.byId.size === 0 || budgetBytes <= 0 || maxCount <= 0) return [];
    const limit = retransmitLimit(this.retransmitMult, n);
    const taken: Item[] = [];
    let left = budgetBytes;
    for (let t = 0; t < this.buckets.length && left >= 8 && taken.length < maxCount; t++) {
      const b = this.buckets[t]!;
      // Scan from the newest; keep what does not fit, drop dead items, stop when full.
      const skipped: Item[] = [];
      let i = b.length - 1;
      for (; i >= 0 && left >= 8 && taken.length < maxCount; i--) {
        const it = b[i]!;
        if (!it.live) continue;
        if (it.bytes > left) {
          skipped.push(it);
          continue;
        }
        taken.push(it);
        left -= it.bytes;
      }
      b.length = i + 1;
      for (let k = skipped.length - 1; k >= 0; k--) b.push(skipped[k]!);
    }
    const out = taken.map((it) => it.gossip);
    // Requeue oldest first, so that the newest is again met first in its next bucket.
    for (let k = taken.length - 1; k >= 0; k--) {
      const it = taken[k]!;
      it.transmits++;
      if (it.transmits >= limit) {
        it.live = false;
        this.byId.delete(it.gossip.id);
      } else {
        this.bucket(it.transmits).push(it);
      }
    }
    while (this.buckets.length > 0 && this.buckets[this.buckets.length - 1]!.length === 0) this.buckets.pop();
    return out;
  }

  /** The queued updates, in sending order (for inspection and tests). */
  pending(): Gossip[] {
    const out: Gossip[] = [];
    for (const b of this.buckets) {
      for (let i = b.length - 1; i >= 0; i--) if (b[i]!.live) out.push(b[i]!.gossip);
    }
    return out;
  }

  private bucket(t: number): Item[] {
    while (this.buckets.length <= t) this.buckets.push([]);
    return this.buckets[t]!;
  }
}
