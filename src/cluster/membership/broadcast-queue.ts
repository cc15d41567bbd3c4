/**
 * The transmit-limited broadcast queue of infection-style dissemination. Each member update
 * is piggybacked on outgoing packets at most `retransmitLimit(mult, N)` times, least-sent
 * first (so fresh news overtakes old), newest first among equals. A newer update about the
 * same member replaces the queued one: only the latest state of a member is worth spreading.
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
  readonly seq: number;
  transmits: number;
}

/** Sorts least transmitted first, then newest first. */
function before(a: Item, b: Item): boolean {
  return a.transmits < b.transmits || (a.transmits === b.transmits && a.seq > b.seq);
}

/** A queue of member updates waiting to be piggybacked, keyed by member id. */
export class BroadcastQueue {
  private items: Item[] = [];
  private readonly byId = new Map<string, Item>();
  private seq = 0;
  private readonly retransmitMult: number;

  constructor(retransmitMult: number) {
    this.retransmitMult = retransmitMult;
  }

  /** Updates waiting. */
  get size(): number {
    return this.items.length;
  }

  /** True when an update about `id` is still queued. */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Queues an update, replacing any queued update about the same member. */
  enqueue(gossip: Gossip): void {
    const old = this.byId.get(gossip.id);
    if (old !== undefined) this.remove(old);
    const item: Item = { gossip, bytes: gossipSize(gossip), seq: this.seq++, transmits: 0 };
    this.byId.set(gossip.id, item);
    this.insert(item);
  }

  /** Drops any queued update about `id` (e.g. a reaped member). */
  forget(id: string): void {
    const old = this.byId.get(id);
    if (old !== undefined) this.remove(old);
  }

  /**
   * Takes updates fitting in `budgetBytes` (at most `maxCount`) for one outgoing packet and
   * counts a transmission for each; an update sent `retransmitLimit(mult, n)` times leaves the queue.
   */
  take(budgetBytes: number, n: number, maxCount = 255): Gossip[] {
    if (this.items.length === 0 || budgetBytes <= 0 || maxCount <= 0) return [];
    const limit = retransmitLimit(this.retransmitMult, n);
    const taken: Item[] = [];
    let left = budgetBytes;
    for (const it of this.items) {
      if (left < 8 || taken.length >= maxCount) break; // 8 bytes: smaller than any gossip item
      if (it.bytes > left) continue;
      taken.push(it);
      left -= it.bytes;
    }
    if (taken.length === 0) return [];
    const takenSet = new Set(taken);
    this.items = this.items.filter((it) => !takenSet.has(it));
    const out: Gossip[] = [];
    for (const it of taken) {
      out.push(it.gossip);
      it.transmits++;
      if (it.transmits >= limit) this.byId.delete(it.gossip.id);
      else this.insert(it);
    }
    return out;
  }

  /** The queued updates, in sending order (for inspection and tests). */
  pending(): Gossip[] {
    return this.items.map((it) => it.gossip);
  }

  private insert(item: Item): void {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(this.items[mid]!, item)) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, item);
  }

  private remove(item: Item): void {
    const i = this.items.indexOf(item);
    if (i >= 0) this.items.splice(i, 1);
    this.byId.delete(item.gossip.id);
  }
}
