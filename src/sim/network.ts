/**
 * A simulated packet network (datagrams, as UDP): every packet may be lost, duplicated,
 * delayed or reordered, and links may be cut by partitions, isolation or one-way clogs. All
 * randomness comes from the injected Rng and all delivery goes through the Scheduler with the
 * receiver as owner, so a paused (slow) node receives its packets late, in a burst.
 *
 * Partitions and clogs are checked when a packet is sent: a packet already in flight when a
 * partition starts is still delivered, as on a real network.
 */
import type { Rng } from './prng.ts';
import type { Scheduler } from './scheduler.ts';

/** Fault and latency settings; change them mid-run with {@link SimNetwork.configure}. */
export interface NetworkOptions {
  /** One-way latency, uniform in [min, max] milliseconds unless `delay` is given. */
  delayMs: { min: number; max: number };
  /** Probability that a packet is dropped. */
  loss: number;
  /** Probability that a packet is delivered twice (the copy has its own delay). */
  duplicate: number;
  /** Probability that a packet gets an extra delay of up to `reorderExtraMs`, so it overtakes nothing and is overtaken. */
  reorder: number;
  /** Upper bound of the extra delay of a reordered packet (default: 4 * delayMs.max). */
  reorderExtraMs?: number;
  /** A latency distribution replacing the uniform `delayMs`; returns milliseconds. */
  delay?: (rng: Rng) => number;
}

/** Counters over the network's life (or since {@link SimNetwork.resetStats}). */
export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
}

type Handler<P> = (from: string, packet: P) => void;

/** A lossy datagram network in virtual time. */
export class SimNetwork<P> {
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };
  /** Packets sent per source address (for per-member load measures). */
  readonly sentBy: Map<string, number> = new Map();
  private options: NetworkOptions;
  private readonly scheduler: Scheduler;
  private readonly rng: Rng;
  private readonly handlers = new Map<string, Handler<P>>();
  private groupOf: Map<string, number> | undefined;
  private readonly isolated = new Set<string>();
  private readonly clogged = new Set<string>();
  private readonly inboundLag = new Map<string, { min: number; max: number; lastMs: number }>();

  constructor(scheduler: Scheduler, rng: Rng, options: NetworkOptions) {
    this.scheduler = scheduler;
    this.rng = rng;
    this.options = { ...options };
    checkOptions(this.options);
  }

  /** Changes some options from now on (packets in flight keep their delays). */
  configure(options: Partial<NetworkOptions>): void {
    const next = { ...this.options, ...options };
    checkOptions(next);
    this.options = next;
  }

  /** Connects `addr` to the network; packets to it are passed to `handler`. */
  attach(addr: string, handler: (from: string, packet: P) => void): void {
    this.handlers.set(addr, handler);
  }

  /** Disconnects `addr` (a crashed node): packets to it, including those in flight, are dropped. */
  detach(addr: string): void {
    this.handlers.delete(addr);
  }

  /** Sends one datagram, subject to partitions, loss, duplication, delay and reordering. */
  send(from: string, to: string, packet: P): void {
    this.stats.sent++;
    this.sentBy.set(from, (this.sentBy.get(from) ?? 0) + 1);
    if (!this.canTalk(from, to) || this.rngChance(this.options.loss)) {
      this.stats.dropped++;
      return;
    }
    this.schedule(from, to, packet);
    if (this.rngChance(this.options.duplicate)) {
      this.stats.duplicated++;
      this.schedule(from, to, packet);
    }
  }

  /**
   * Splits the network: only addresses in the same group talk to each other; an address in no
   * group talks to no one. {@link heal} ends it.
   */
  partition(...groups: string[][]): void {
    const m = new Map<string, number>();
    groups.forEach((g, i) => {
      for (const a of g) m.set(a, i);
    });
    this.groupOf = m;
  }

  /** Removes partitions and isolations (clogs stay until unclogged). */
  heal(): void {
    this.groupOf = undefined;
    this.isolated.clear();
  }

  /** Cuts `addr` off from every other address until {@link heal}. */
  isolate(addr: string): void {
    this.isolated.add(addr);
  }

  /** Drops every packet from `from` to `to` (one direction) while on. */
  clog(from: string, to: string, on: boolean): void {
    const key = `${from}\u0000${to}`;
    if (on) this.clogged.add(key);
    else this.clogged.delete(key);
  }

  /** True when a packet sent now from `from` to `to` could arrive (ignoring loss). */
  canTalk(from: string, to: string): boolean {
    if (from === to) return true;
    if (this.isolated.has(from) || this.isolated.has(to)) return false;
    if (this.clogged.size > 0 && this.clogged.has(`${from}\u0000${to}`)) return false;
    if (this.groupOf !== undefined) {
      const g = this.groupOf.get(from);
      if (g === undefined || g !== this.groupOf.get(to)) return false;
    }
    return true;
  }

  /**
   * Makes `addr` slow to process what it receives, as a member whose receive queue backs up
   * (CPU starvation): each packet to it waits an extra delay, uniform in [min, max] ms, and
   * packets are read in arrival order (a queue: none overtakes an earlier one). Its own timers
   * are not delayed, so its timeouts fire before late replies are read. Undefined makes it
   * fast again.
   */
  slowInbound(addr: string, lagMs: { min: number; max: number } | undefined): void {
    if (lagMs === undefined) this.inboundLag.delete(addr);
    else this.inboundLag.set(addr, { min: lagMs.min, max: lagMs.max, lastMs: Number.NEGATIVE_INFINITY });
  }

  /** Zeroes the counters (e.g. after a warm-up). */
  resetStats(): void {
    this.stats.sent = 0;
    this.stats.delivered = 0;
    this.stats.dropped = 0;
    this.stats.duplicated = 0;
    this.sentBy.clear();
  }

  private rngChance(p: number): boolean {
    return p > 0 && (p >= 1 || this.rng.next() < p);
  }

  private schedule(from: string, to: string, packet: P): void {
    const o = this.options;
    let delay =
      o.delay !== undefined
        ? o.delay(this.rng)
        : o.delayMs.min + this.rng.next() * (o.delayMs.max - o.delayMs.min);
    if (this.rngChance(o.reorder)) delay += this.rng.next() * (o.reorderExtraMs ?? 4 * o.delayMs.max);
    let at = this.scheduler.now() + Math.max(0, delay);
    const lag = this.inboundLag.size > 0 ? this.inboundLag.get(to) : undefined;
    if (lag !== undefined) {
      at = Math.max(at + lag.min + this.rng.next() * (lag.max - lag.min), lag.lastMs);
      lag.lastMs = at;
    }
    this.scheduler.at(
      at,
      () => {
        const h = this.handlers.get(to);
        if (h === undefined) {
          this.stats.dropped++;
          return;
        }
        this.stats.delivered++;
        h(from, packet);
      },
      to,
      'io',
    );
  }
}

function checkOptions(o: NetworkOptions): void {
  for (const k of ['loss', 'duplicate', 'reorder'] as const) {
    const p = o[k];
    if (!(p >= 0 && p <= 1)) throw new RangeError(`NetworkOptions.${k} must be in [0, 1], got ${p}`);
  }
  if (!(o.delayMs.min >= 0 && o.delayMs.max >= o.delayMs.min)) {
    throw new RangeError(
      `NetworkOptions.delayMs needs 0 <= min <= max, got ${o.delayMs.min}..${o.delayMs.max}`,
    );
  }
}
