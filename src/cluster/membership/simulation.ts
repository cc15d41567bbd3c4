/**
 * A SWIM cluster in deterministic simulation: many {@link Swim} cores in one process, wired to
 * the simulated packet network and virtual clock of src/sim. Used by the tests and by
 * bench/membership.ts; it is also the reference driver a real transport imitates (take
 * `ready()`, send its packets, schedule a tick at `nextTickAtMs`).
 *
 * One seed drives everything (probe order, helper choice, packet delays and losses); the same
 * seed replays the same run.
 */
import { type NetworkOptions, SimNetwork } from '../../sim/network.ts';
import { Prng } from '../../sim/prng.ts';
import { Scheduler, type TimerHandle } from '../../sim/scheduler.ts';
import { type StallModel, stallRepeatedly } from '../../sim/stall.ts';
import { defaultLanConfig, type MembershipConfig } from './config.ts';
import { decodePacket, encodePacket, type Packet } from './messages.ts';
import { type MemberEvent, Swim } from './swim.ts';

/** Options of a simulated cluster. */
export interface SwimSimulationOptions {
  readonly seed: number;
  /** Config of every member (default LAN). */
  readonly config?: MembershipConfig;
  /** Network faults and latency (default: 0.5-2 ms LAN latency, no faults). */
  readonly network?: Partial<NetworkOptions>;
  /** Round-trip every packet through the binary codec (slower; proves the codec in the loop). */
  readonly codec?: boolean;
}

/** A member of the simulation. */
export interface SimMember {
  readonly id: string;
  swim: Swim;
  /** False once crashed (until restarted). */
  up: boolean;
  /** True once left and stopped. */
  stopped: boolean;
  tick: TimerHandle | undefined;
  tickAtMs: number;
}

/** An event as observed in the simulation: which member saw it. */
export interface ObservedEvent {
  readonly observer: string;
  readonly event: MemberEvent;
}

/** A packet as sent or as read by its recipient, with the virtual time of that (tests, traces). */
export interface TracedPacket {
  readonly atMs: number;
  readonly from: string;
  readonly to: string;
  readonly packet: Packet;
}

type Wire = Packet | Uint8Array;

/** A whole cluster of SWIM members on a simulated network. */
export class SwimSimulation {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork<Wire>;
  readonly rng: Prng;
  readonly config: MembershipConfig;
  readonly seed: number;
  private readonly nodes = new Map<string, SimMember>();
  private readonly listeners: Array<(e: ObservedEvent) => void> = [];
  private readonly sendListeners: Array<(p: TracedPacket) => void> = [];
  private readonly readListeners: Array<(p: TracedPacket) => void> = [];
  private readonly codec: boolean;

  constructor(options: SwimSimulationOptions) {
    this.seed = options.seed;
    this.rng = new Prng(options.seed);
    this.scheduler = new Scheduler();
    this.config = options.config ?? defaultLanConfig;
    this.codec = options.codec ?? false;
    this.network = new SimNetwork<Wire>(this.scheduler, this.rng.fork(), {
      delayMs: { min: 0.5, max: 2 },
      loss: 0,
      duplicate: 0,
      reorder: 0,
      ...options.network,
    });
  }

  /** The current virtual time. */
  get nowMs(): number {
    return this.scheduler.now();
  }

  /** Calls `fn` for every member event anywhere in the cluster. */
  onEvent(fn: (e: ObservedEvent) => void): void {
    this.listeners.push(fn);
  }

  /** Calls `fn` for every packet any member sends, before the network delivers or loses it. */
  onSend(fn: (p: TracedPacket) => void): void {
    this.sendListeners.push(fn);
  }

  /** Calls `fn` for every packet a running member reads, just before it handles it. */
  onRead(fn: (p: TracedPacket) => void): void {
    this.readListeners.push(fn);
  }

  /** Ids of every member ever started. */
  ids(): string[] {
    return [...this.nodes.keys()];
  }

  /** The member `id` (throws when unknown). */
  node(id: string): SimMember {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no simulated member ${id}`);
    return n;
  }

  /** Members up (not crashed, not stopped). */
  upIds(): string[] {
    return [...this.nodes.values()].filter((n) => n.up && !n.stopped).map((n) => n.id);
  }

  /**
   * Starts `n` members named `${prefix}0..` that all know each other (a converged cluster),
   * with their first probes staggered over one period.
   */
  bootstrap(n: number, prefix = 'm'): string[] {
    const ids = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const members = ids.map((id) => ({ id }));
    for (const id of ids) this.start(id, { members });
    return ids;
  }

  /** Starts a member; with `seeds` it joins through them. */
  start(
    id: string,
    opts: {
      members?: ReadonlyArray<{ id: string }>;
      seeds?: readonly string[];
      incarnation?: number;
      config?: MembershipConfig;
    } = {},
  ): SimMember {
    const old = this.nodes.get(id);
    if (old?.up && !old.stopped) throw new Error(`member ${id} is already running`);
    const swim = new Swim({
      id,
      config: opts.config ?? this.config,
      rng: this.rng.fork(),
      nowMs: this.nowMs,
      ...(opts.incarnation !== undefined ? { incarnation: opts.incarnation } : {}),
      ...(opts.members !== undefined ? { members: opts.members } : {}),
    });
    const m: SimMember = {
      id,
      swim,
      up: true,
      stopped: false,
      tick: undefined,
      tickAtMs: Number.POSITIVE_INFINITY,
    };
    this.nodes.set(id, m);
    this.network.attach(id, (from, wire) => this.deliver(m, from, wire));
    if (opts.seeds !== undefined) swim.join(opts.seeds, this.nowMs);
    this.flush(m);
    return m;
  }

  /** Crashes a member: it stops at once, without a word; packets to it are lost. */
  crash(id: string): void {
    const m = this.node(id);
    m.up = false;
    if (m.tick !== undefined) this.scheduler.clearTimeout(m.tick);
    m.tick = undefined;
    this.network.detach(id);
  }

  /** Restarts a crashed member as a new process (fresh state) joining through `seeds`. */
  restart(id: string, seeds: readonly string[], incarnation = 0): SimMember {
    return this.start(id, { seeds, incarnation });
  }

  /** Pauses a member's event loop for `ms` (a slow member): its timers and deliveries wait. */
  pause(id: string, ms: number): void {
    this.scheduler.pause(id, this.nowMs + ms);
  }

  /**
   * Makes a member slow from now until `untilMs`: its event loop stalls and runs by turns as
   * `model` says (see src/sim/stall.ts); after each stall its expired timers fire before it
   * reads the packets that arrived meanwhile.
   */
  stall(id: string, model: StallModel, untilMs: number): void {
    stallRepeatedly(this.scheduler, this.rng.fork(), id, model, this.nowMs, untilMs);
  }

  /** Starts a graceful leave; the member stops once its leave is gossiped or `timeoutMs` passes. */
  leave(id: string, timeoutMs: number = 5 * this.config.probeIntervalMs): void {
    const m = this.node(id);
    m.swim.leave(this.nowMs);
    this.flush(m);
    const deadline = this.nowMs + timeoutMs;
    const check = (): void => {
      if (!m.up || m.stopped) return;
      if (m.swim.leaveBroadcastDone || this.nowMs >= deadline) {
        m.stopped = true;
        if (m.tick !== undefined) this.scheduler.clearTimeout(m.tick);
        m.tick = undefined;
        this.network.detach(id);
        return;
      }
      this.scheduler.at(this.nowMs + this.config.gossipIntervalMs / 2 + 1, check, id);
    };
    check();
  }

  /** Runs the simulation for `ms` of virtual time. */
  runFor(ms: number): void {
    this.scheduler.runUntil(this.nowMs + ms);
  }

  /** Runs until `pred()` holds or `ms` of virtual time pass; returns whether it holds. */
  runUntil(pred: () => boolean, ms: number): boolean {
    const limit = this.nowMs + ms;
    // Check between events but at most every millisecond of virtual time: predicates may be O(N^2).
    let checkedAt = Number.NEGATIVE_INFINITY;
    const holds = (): boolean => {
      const t = this.nowMs;
      if (t - checkedAt < 1) return false;
      checkedAt = t;
      return pred();
    };
    this.scheduler.runWhile(() => !holds(), limit);
    return pred();
  }

  /** How `observer` sees `target`: its status, or undefined when unknown or reaped. */
  statusOf(observer: string, target: string): string | undefined {
    return this.node(observer).swim.member(target)?.status;
  }

  /** True when every running member other than `target` sees it with one of `statuses` (or has reaped it, if allowed). */
  allSee(target: string, statuses: readonly string[], reapedCounts = false): boolean {
    for (const id of this.upIds()) {
      if (id === target) continue;
      const s = this.statusOf(id, target);
      if (s === undefined ? !reapedCounts : !statuses.includes(s)) return false;
    }
    return true;
  }

  private deliver(m: SimMember, from: string, wire: Wire): void {
    if (!m.up || m.stopped) return;
    const packet = wire instanceof Uint8Array ? decodePacket(wire) : wire;
    for (const fn of this.readListeners) fn({ atMs: this.nowMs, from, to: m.id, packet });
    m.swim.handle(from, packet, this.nowMs);
    this.flush(m);
  }

  private onTick(m: SimMember): void {
    m.tick = undefined;
    m.tickAtMs = Number.POSITIVE_INFINITY;
    if (!m.up || m.stopped) return;
    m.swim.tick(this.nowMs);
    this.flush(m);
  }

  private flush(m: SimMember): void {
    const r = m.swim.ready();
    for (const o of r.packets) {
      for (const fn of this.sendListeners) fn({ atMs: this.nowMs, from: m.id, to: o.to, packet: o.packet });
      this.network.send(m.id, o.to, this.codec ? encodePacket(o.packet) : o.packet);
    }
    for (const event of r.events) for (const fn of this.listeners) fn({ observer: m.id, event });
    if (!m.up || m.stopped) return;
    // Keep only the earliest wanted tick; an early tick is harmless and reschedules itself.
    if (r.nextTickAtMs < m.tickAtMs) {
      if (m.tick !== undefined) this.scheduler.clearTimeout(m.tick);
      m.tickAtMs = r.nextTickAtMs;
      m.tick = this.scheduler.at(r.nextTickAtMs, () => this.onTick(m), m.id);
    }
  }
}
