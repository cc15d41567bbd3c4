/**
 * The SWIM core: failure detection and membership by Das, Gupta and Motivala ("SWIM: Scalable
 * Weakly-consistent Infection-style Process Group Membership Protocol", DSN 2002), with the
 * Lifeguard refinements of Dadgar, Phillips and Currey (2018) as HashiCorp memberlist has them.
 *
 * Protocol, per protocol period (probeIntervalMs):
 * - Probe the next member of a shuffled round-robin list with a `ping`; wait probeTimeoutMs
 *   for its `ack`. Without one, ask k random members with `ping-req` to ping it for us and
 *   forward its ack. Without any ack by the end of the period, suspect it.
 * - A suspicion names the incarnation suspected. The suspect refutes it by gossiping `alive`
 *   with a higher incarnation; otherwise, when the suspicion times out, it is declared dead.
 * - At equal incarnation, dead beats suspect beats alive; a higher incarnation beats any status
 *   except that only the member itself raises its incarnation (by refuting).
 * - Updates travel piggybacked on every packet (and in gossip rounds), each sent at most
 *   retransmitMult * ceil(log10(N + 1)) times by each member; a periodic push-pull of full state
 *   with one random member repairs whatever gossip missed (e.g. across a healed partition).
 * Lifeguard: the local health score stretches this member's own probe timeouts when it misses
 * acks or nacks (a failing probe lasts the stretched period; an answered one ends it, and the
 * next probe starts one base period after the last, as memberlist's probe ticker does); a
 * suspicion starts long and shrinks as independent members confirm it; and the suspect is told
 * of its suspicion so that it refutes at once (buddy system): every probe of a suspect carries
 * the suspicion, and so does a ping that a member sends the moment its own probe fails.
 * Ours, beyond the papers (each measured in bench/membership.ts):
 * - stale-news correction: a member that receives news older than the refutation it holds
 *   sends the refutation straight back to the sender (`correct`; in the ack to a ping, or in
 *   a packet of its own at most once per probe period);
 * - last-chance probe: before its own timer declares a suspect dead, a member pings it once
 *   with the suspicion attached, so a refutation it missed comes back in the ack; and for that
 *   last period every packet it sends carries `alive` at the suspected incarnation, which any
 *   member holding a newer refutation answers with it (stale-news correction);
 * - a suspicion of a newer incarnation than the one we suspect replaces ours with a fresh
 *   timer (the suspect refuted ours); memberlist counts it as a confirmation of the old one;
 * - a ping-req helper sends its nack after 80% of the probe timeout, so that it reaches the
 *   requester before its probe ends (sent after the whole timeout, it arrives just late and a
 *   healthy requester raises its own health score);
 * - push-pull also targets dead and reaped members (their tombstones travel as `dead`), so a
 *   healed partition converges even after both sides forgot each other.
 *
 * Pure core: input enters through `handle(from, packet, now)`, `tick(now)`, `join` and `leave`;
 * outputs (packets to send, member events, the time of the next wanted tick) are collected and
 * taken by the driver with `ready()`. No sockets, timers, clock or Math.random inside: time is
 * an argument and randomness an injected Rng.
 *
 * Races tolerated, by design of the protocol: acks arriving after their probe ended are
 * ignored; a duplicated packet replays idempotent rules; gossip arriving out of order is
 * ordered by incarnation; a restarted member that finds itself dead or suspected in the cluster
 * refutes with an incarnation above the one held against it; an update that misses a member
 * (gossip reaches all only with high probability) is repaired by push-pull.
 *
 * Incarnations are uint32 on the wire; a member would need 4 billion refutations to wrap.
 */
import type { Rng } from '../../sim/prng.ts';
import { Awareness } from './awareness.ts';
import { BroadcastQueue } from './broadcast-queue.ts';
import { defaultLanConfig, type MembershipConfig, validateConfig } from './config.ts';
import { type Body, bodySize, type Gossip, gossipSize, type MemberState, type Packet } from './messages.ts';
import { isLive, type Member, type MemberRecord, MemberTable } from './state.ts';
import { expectedConfirmations, Suspicion, suspicionTimeout } from './suspicion.ts';

/** Suspects verified at most per packet (see `Swim.verifying`): a few dozen bytes. */
const MAX_VERIFY = 4;

/** Incarnations travel as uint32. */
const MAX_INCARNATION = 0xffff_ffff;

/** A packet the driver must send: to a member's address. */
export interface Outgoing {
  readonly to: string;
  readonly packet: Packet;
}

/** How a member came to be declared dead. */
export type DeathCause = 'timeout' | 'gossip';

/** A change the application may act on. */
export type MemberEvent =
  /** A member was seen for the first time (or again after being reaped). */
  | { readonly type: 'joined'; readonly member: Member; readonly atMs: number }
  /** A member is suspected by `by`. */
  | { readonly type: 'suspect'; readonly member: Member; readonly atMs: number; readonly by: string }
  /** A suspect, dead or left member is alive again (refuted, or restarted with a higher incarnation). */
  | { readonly type: 'alive'; readonly member: Member; readonly atMs: number }
  /** A member was declared dead: by our own suspicion timer or by gossip. */
  | { readonly type: 'dead'; readonly member: Member; readonly atMs: number; readonly cause: DeathCause }
  /** A member left gracefully. */
  | { readonly type: 'left'; readonly member: Member; readonly atMs: number }
  /** A dead or left member was forgotten. */
  | { readonly type: 'reaped'; readonly member: Member; readonly atMs: number }
  /** This member refuted a suspicion or death held against incarnation `accused`. */
  | { readonly type: 'refuted'; readonly member: Member; readonly atMs: number; readonly accused: number }
  /** The join completed: a seed answered with its state. */
  | { readonly type: 'join-complete'; readonly member: Member; readonly atMs: number; readonly seed: string }
  /** The join gave up: no seed answered within joinAttempts rounds. */
  | { readonly type: 'join-failed'; readonly member: Member; readonly atMs: number };

/**
 * Outputs taken by the driver. Duties: send every packet (best effort, datagram semantics;
 * order does not matter), deliver every event to the application, and call `tick(now)` at or
 * soon after `nextTickAtMs` (calling earlier is harmless).
 */
export interface Ready {
  readonly packets: Outgoing[];
  readonly events: MemberEvent[];
  readonly nextTickAtMs: number;
}

/** Construction options of {@link Swim}. */
export interface SwimOptions {
  /** This member's id (unique in the cluster; at most 255 UTF-8 bytes). */
  readonly id: string;
  /** This member's transport address (defaults to the id). */
  readonly address?: string;
  /** Tunables (defaults: {@link defaultLanConfig}). */
  readonly config?: MembershipConfig;
  /** Randomness for probe order, helper and gossip choice. */
  readonly rng: Rng;
  /** The current time in milliseconds (virtual or real: only differences matter). */
  readonly nowMs: number;
  /**
   * The starting incarnation. A restarted member may start at 0: if the cluster still holds an
   * older life of it as suspect or dead, it refutes with a higher incarnation on joining.
   */
  readonly incarnation?: number;
  /** Members known to be alive at start (simulations; real members join through seeds). */
  readonly members?: ReadonlyArray<{ readonly id: string; readonly address?: string }>;
}

interface Probe {
  readonly target: string;
  readonly address: string;
  readonly seq: number;
  readonly startMs: number;
  readonly directDeadlineMs: number;
  readonly endDeadlineMs: number;
  indirectSent: boolean;
  expectedNacks: number;
  nacks: number;
}

interface Forward {
  readonly requester: string;
  readonly seq: number;
  /** An ack arriving later is not relayed (the requester's probe is over). */
  readonly deadlineMs: number;
  /** When to send the nack, if asked for and still silent (before the requester's probe ends). */
  readonly nackAtMs: number;
  nack: boolean;
}

/**
 * A helper sends its nack after this fraction of the probe timeout: the requester sent the
 * ping-req one probe timeout into its probe and gives up one probe timeout later, so a nack
 * sent after a whole probe timeout would arrive just after the requester stopped counting and
 * count as missing, raising the local health score of a healthy prober.
 */
const NACK_FRACTION = 0.8;

interface JoinState {
  readonly seeds: readonly string[];
  attempts: number;
  nextAtMs: number;
}

/** Push-pull runs less often in large clusters: ceil(log2(n) - log2(32)) + 1 times the interval above 32 members. */
export function pushPullScale(intervalMs: number, n: number): number {
  if (n <= 32) return intervalMs;
  const mult = Math.ceil(Math.log2(n) - Math.log2(32)) + 1;
  return intervalMs * mult;
}

/** One member's SWIM state machine. */
export class Swim {
  readonly id: string;
  readonly address: string;
  readonly config: MembershipConfig;
  private readonly rng: Rng;
  private readonly table: MemberTable;
  private readonly self: MemberRecord;
  private readonly queue: BroadcastQueue;
  private readonly awareness: Awareness;
  private readonly suspicions = new Map<string, Suspicion>();
  /**
   * Suspects in the last period before our own timer declares them dead (last-chance probe
   * sent or skipped), by id, with the incarnation suspected: every packet we send meanwhile
   * carries `alive` at that incarnation, a no-op for members that hold the same, and one that
   * any member holding a newer refutation answers with it (stale-news correction).
   */
  private readonly verifying = new Map<string, number>();
  private readonly forwards = new Map<number, Forward>();
  private readonly reapQueue: Array<{ id: string; changedAtMs: number; atMs: number }> = [];
  private readonly tombQueue: Array<{ id: string; atMs: number }> = [];
  private reapHead = 0;
  private tombHead = 0;
  private probe: Probe | undefined;
  private join_: JoinState | undefined;
  private packets: Outgoing[] = [];
  private events: MemberEvent[] = [];
  private nowMs: number;
  private seq = 0;
  private nextProbeAtMs: number;
  private nextGossipAtMs: number;
  private nextPushPullAtMs: number;
  private leaving = false;
  /** When the last last-chance probe was sent (they are rate-limited). */
  private lastChanceSentMs = Number.NEGATIVE_INFINITY;
  /** When the last correction was sent in a packet of its own (they are rate-limited). */
  private lastCorrectionMs = Number.NEGATIVE_INFINITY;
  /** While a packet's gossip is handled: refutations its sender missed (see `correct`). */
  private corrections: Gossip[] | undefined;

  constructor(options: SwimOptions) {
    this.config = options.config ?? defaultLanConfig;
    validateConfig(this.config);
    this.id = options.id;
    this.address = options.address ?? options.id;
    this.rng = options.rng;
    this.nowMs = options.nowMs;
    this.table = new MemberTable(this.id);
    this.queue = new BroadcastQueue(this.config.retransmitMult);
    this.awareness = new Awareness(this.config.awarenessMaxMultiplier);
    const incarnation = options.incarnation ?? 0;
    this.self = this.table.add(
      { id: this.id, address: this.address, status: 'alive', incarnation, changedAtMs: this.nowMs },
      this.rng,
    );
    for (const m of options.members ?? []) {
      if (m.id === this.id || this.table.get(m.id) !== undefined) continue;
      this.table.add(
        { id: m.id, address: m.address ?? m.id, status: 'alive', incarnation: 0, changedAtMs: this.nowMs },
        this.rng,
        true,
      );
    }
    // Stagger the first probe over one period so members started together do not probe in lockstep.
    this.nextProbeAtMs = this.nowMs + Math.floor(this.rng.next() * this.config.probeIntervalMs);
    this.nextGossipAtMs = this.nowMs + this.config.gossipIntervalMs;
    this.nextPushPullAtMs = this.nowMs + this.pushPullInterval() * (0.5 + this.rng.next());
  }

  // ---------------------------------------------------------------- queries

  /** This member's current incarnation. */
  get incarnation(): number {
    return this.self.incarnation;
  }

  /** Lifeguard local health score (0 = healthy). */
  get healthScore(): number {
    return this.awareness.score;
  }

  /** True after {@link leave}. */
  get isLeaving(): boolean {
    return this.leaving;
  }

  /** True once the news of our leave has been sent as often as every update is. */
  get leaveBroadcastDone(): boolean {
    return this.leaving && !this.queue.has(this.id);
  }

  /** True while a join is retrying its seeds. */
  get joining(): boolean {
    return this.join_ !== undefined;
  }

  /** Live members (alive or suspect), self included. */
  get liveCount(): number {
    return this.table.live;
  }

  /** A member by id (self included), or undefined. */
  member(id: string): Member | undefined {
    const r = this.table.get(id);
    return r === undefined ? undefined : snapshot(r);
  }

  /** Every member in the table (all statuses, self included). */
  members(): Member[] {
    return this.table.records().map(snapshot);
  }

  /** Number of members in the table, reaped excluded. */
  get size(): number {
    return this.table.size;
  }

  /** Updates waiting to be gossiped. */
  get pendingBroadcasts(): number {
    return this.queue.size;
  }

  // ---------------------------------------------------------------- driver interface

  /** Takes the collected outputs. */
  ready(): Ready {
    const r: Ready = { packets: this.packets, events: this.events, nextTickAtMs: this.nextTickAt() };
    this.packets = [];
    this.events = [];
    return r;
  }

  /** Asks seeds (addresses) for their state; retried every joinRetryMs until one answers. */
  join(seeds: readonly string[], nowMs: number): void {
    this.nowMs = Math.max(this.nowMs, nowMs);
    const others = seeds.filter((s) => s !== this.address);
    if (others.length === 0) return;
    this.join_ = { seeds: others, attempts: 0, nextAtMs: this.nowMs };
    this.tickJoin();
  }

  /**
   * Leaves gracefully: gossips that this member left (a `dead` about itself, from itself) and
   * stops probing. The driver keeps handling packets until {@link leaveBroadcastDone} or a
   * timeout of its choice, then stops.
   */
  leave(nowMs: number): void {
    this.nowMs = Math.max(this.nowMs, nowMs);
    if (this.leaving) return;
    this.leaving = true;
    this.probe = undefined;
    this.join_ = undefined;
    this.onDead({ kind: 'dead', id: this.id, incarnation: this.self.incarnation, from: this.id }, 'gossip');
    this.gossipRound(Math.max(1, this.config.gossipNodes));
  }

  /** Advances time: probe stages, suspicion timeouts, gossip, push-pull, reaping, join retries. */
  tick(nowMs: number): void {
    this.nowMs = Math.max(this.nowMs, nowMs);
    const now = this.nowMs;
    const p = this.probe;
    if (p !== undefined && !p.indirectSent && now >= p.directDeadlineMs) this.sendIndirect(p);
    if (p !== undefined && now >= p.endDeadlineMs) this.probeFailed(p);
    if (!this.leaving && now >= this.nextProbeAtMs) this.startProbe();
    for (const [id, s] of this.suspicions) {
      if (this.lastChanceAt(s) <= now) this.lastChance(id, s);
      if (now < this.deathAt(s)) continue;
      this.onDead({ kind: 'dead', id, incarnation: s.incarnation, from: this.id }, 'timeout');
    }
    for (const [seq, f] of this.forwards) {
      if (f.nack && now >= f.nackAtMs) {
        // Lifeguard: tell the requester we tried and the target is silent; it is not the requester's fault.
        f.nack = false;
        this.send(f.requester, { type: 'nack', seq: f.seq });
      }
      if (now >= f.deadlineMs) this.forwards.delete(seq);
    }
    if (this.config.gossipIntervalMs > 0 && now >= this.nextGossipAtMs) {
      this.nextGossipAtMs = now + this.config.gossipIntervalMs;
      if (this.queue.size > 0) this.gossipRound(this.config.gossipNodes);
    }
    if (now >= this.nextPushPullAtMs) {
      this.nextPushPullAtMs = now + this.pushPullInterval();
      if (!this.leaving) this.pushPull();
    }
    this.tickReap();
    this.tickJoin();
  }

  /** Handles one packet received from transport address `from`. */
  handle(from: string, packet: Packet, nowMs: number): void {
    this.nowMs = Math.max(this.nowMs, nowMs);
    // A packet claiming to come from us is a misconfiguration or an echo: ignore it.
    if (packet.from === this.id) return;
    // Gossip first: a suspicion carried by a ping (buddy system) is refuted in the very ack.
    this.corrections = [];
    for (const g of packet.gossip) this.onGossip(g);
    const corrections = this.corrections;
    this.corrections = undefined;
    const b = packet.body;
    // Corrections ride free on the ack to a ping; sent alone, at most one packet per probe
    // period, so that a member that many suspect (it receives stale suspicions of itself on
    // every packet) does not answer each of them.
    const answersPing = b.type === 'ping' && b.target === this.id;
    if (
      corrections.length > 0 &&
      !answersPing &&
      this.nowMs - this.lastCorrectionMs >= this.config.probeIntervalMs
    ) {
      this.lastCorrectionMs = this.nowMs;
      this.send(from, { type: 'gossip' }, corrections);
    }
    switch (b.type) {
      case 'ping':
        this.handlePing(from, b.seq, b.target, corrections);
        return;
      case 'ack':
        this.handleAck(b.seq);
        return;
      case 'nack':
        this.handleNack(b.seq);
        return;
      case 'ping-req':
        this.handlePingReq(from, b.seq, b.target, b.targetAddress, b.nack);
        return;
      case 'push-pull':
        this.handlePushPull(from, packet.from, b.join, b.reply, b.members);
        return;
      case 'gossip':
        return;
    }
  }

  // ---------------------------------------------------------------- probing

  private startProbe(): void {
    // Lifeguard: an unhealthy member gives a failing probe a stretched period, so it waits longer
    // for indirect acks and accuses fewer members; an answered probe shortens it (handleAck).
    this.nextProbeAtMs = this.nowMs + this.awareness.scaleTimeout(this.config.probeIntervalMs);
    // The previous probe ended with its period (tick fails it first), so none is running here.
    this.probe = undefined;
    const target = this.table.nextProbeTarget(this.rng);
    if (target === undefined) return;
    const seq = this.nextSeq();
    this.probe = {
      target: target.id,
      address: target.address,
      seq,
      startMs: this.nowMs,
      directDeadlineMs: this.nowMs + this.awareness.scaleTimeout(this.config.probeTimeoutMs),
      endDeadlineMs: this.nextProbeAtMs,
      indirectSent: false,
      expectedNacks: 0,
      nacks: 0,
    };
    // Buddy system: a suspect learns of its suspicion from the probe itself and refutes at once.
    const extra: Gossip[] =
      this.config.buddySystem && target.status === 'suspect'
        ? [{ kind: 'suspect', id: target.id, incarnation: target.incarnation, from: this.id }]
        : [];
    this.send(target.address, { type: 'ping', seq, target: target.id }, extra);
  }

  private sendIndirect(p: Probe): void {
    p.indirectSent = true;
    const helpers = this.table.randomMembers(
      this.config.indirectChecks,
      this.rng,
      (r) => r.status === 'alive' && r.id !== p.target,
    );
    for (const h of helpers) {
      this.send(h.address, {
        type: 'ping-req',
        seq: p.seq,
        target: p.target,
        targetAddress: p.address,
        nack: this.config.nacks,
      });
      if (this.config.nacks) p.expectedNacks++;
    }
  }

  private probeFailed(p: Probe): void {
    this.probe = undefined;
    // Lifeguard: missing nacks mean our own network or event loop is failing, not the target.
    this.awareness.applyDelta(p.expectedNacks > 0 ? p.expectedNacks - p.nacks : 1);
    const target = this.table.get(p.target);
    // The target died, left or was reaped meanwhile: nothing to suspect.
    if (target === undefined || !isLive(target.status)) return;
    const suspicion: Gossip = {
      kind: 'suspect',
      id: target.id,
      incarnation: target.incarnation,
      from: this.id,
    };
    this.onSuspect(suspicion);
    // Buddy system: tell the suspect now, in a ping carrying the suspicion, so that its refutation
    // comes back in the ack. Otherwise it hears of it only from whoever next sends it a packet
    // (its next prober, up to a period or more away), while our timer already runs: a member
    // that was slow for a moment reads it late and refutes too late (bench/membership.ts traces).
    // memberlist reaches it within 200 ms by gossip rounds, which include suspects; piggyback-only
    // dissemination has no such round, and this one ping per failed probe replaces it.
    if (this.config.buddySystem && target.status === 'suspect') {
      this.send(target.address, { type: 'ping', seq: this.nextSeq(), target: target.id }, [suspicion]);
    }
  }

  private handlePing(from: string, seq: number, target: string, corrections: readonly Gossip[]): void {
    // A ping for another id reached us (our address was reused): answering would vouch for a stranger.
    if (target !== this.id) return;
    this.send(from, { type: 'ack', seq }, corrections);
  }

  private handleAck(seq: number): void {
    const p = this.probe;
    if (p !== undefined && p.seq === seq) {
      this.probe = undefined;
      this.awareness.applyDelta(-1);
      // Lifeguard stretches the period of a failing probe, not of one answered: the next probe
      // starts one base period after this one began (or at the next period boundary if the ack
      // came later), as memberlist's ticker, which skips only the ticks a long probe overran.
      // A slow member that stretched every period would probe, and so talk, least exactly
      // while it must hear of suspicions of itself and spread its refutations.
      const interval = this.config.probeIntervalMs;
      const periods = Math.max(1, Math.ceil((this.nowMs - p.startMs) / interval));
      this.nextProbeAtMs = Math.min(this.nextProbeAtMs, p.startMs + periods * interval);
      return;
    }
    const f = this.forwards.get(seq);
    // An ack for nobody: late (its probe ended) or invented. Ignore.
    if (f === undefined) return;
    this.forwards.delete(seq);
    this.send(f.requester, { type: 'ack', seq: f.seq });
  }

  private handleNack(seq: number): void {
    const p = this.probe;
    if (p !== undefined && p.seq === seq && p.nacks < p.expectedNacks) p.nacks++;
  }

  private handlePingReq(
    from: string,
    seq: number,
    target: string,
    targetAddress: string,
    nack: boolean,
  ): void {
    // Remote input is untrusted: the work a peer can queue here is bounded.
    if (this.forwards.size >= this.config.maxPendingIndirect) return;
    // Asked to ping ourselves: just answer.
    if (target === this.id) {
      this.send(from, { type: 'ack', seq });
      return;
    }
    const mySeq = this.nextSeq();
    this.forwards.set(mySeq, {
      requester: from,
      seq,
      deadlineMs: this.nowMs + this.config.probeTimeoutMs,
      nackAtMs: this.nowMs + Math.floor(NACK_FRACTION * this.config.probeTimeoutMs),
      nack,
    });
    this.send(targetAddress, { type: 'ping', seq: mySeq, target });
  }

  // ---------------------------------------------------------------- state exchange

  private localState(): MemberState[] {
    const state: MemberState[] = this.table.records().map((r) => ({
      id: r.id,
      address: r.address,
      incarnation: r.incarnation,
      status: r.status,
    }));
    // Tombstones travel as dead: a reaped member that is in fact alive (across a healed
    // partition, or restarted) learns the incarnation held against it and refutes above it.
    for (const t of this.table.allTombstones()) {
      state.push({
        id: t.id,
        address: t.address,
        incarnation: t.incarnation,
        status: t.left ? 'left' : 'dead',
      });
    }
    return state;
  }

  private pushPull(): void {
    // Failed members, dead or reaped, are candidates too: after a partition heals, a push-pull
    // across it is what lets each side learn that the other is alive (memberlist leaves this
    // to serf's reconnect). Members that left are not contacted.
    const failed = this.table.tombstoneCount;
    const known = this.table.size - 1;
    let address: string | undefined;
    if (failed > 0 && this.rng.next() * (failed + known) < failed) {
      address = this.table.randomFailedTombstone(this.rng)?.address;
    } else {
      address = this.table.randomMembers(1, this.rng, (r) => r.status !== 'left')[0]?.address;
    }
    if (address === undefined) return;
    this.send(address, { type: 'push-pull', join: false, reply: false, members: this.localState() });
  }

  private handlePushPull(
    from: string,
    fromId: string,
    join: boolean,
    reply: boolean,
    members: readonly MemberState[],
  ): void {
    // Answer before merging, so the reply shows our view as it was, which includes what the
    // sender may need to refute (its own death, if we hold one).
    if (!reply) {
      this.send(from, { type: 'push-pull', join, reply: true, members: this.localState() });
    }
    this.mergeState(fromId, members);
    if (reply && this.join_ !== undefined) {
      this.join_ = undefined;
      this.emit({ type: 'join-complete', member: snapshot(this.self), atMs: this.nowMs, seed: from });
    }
  }

  /** Merges a remote member list: alive and left are taken as gossip; dead is only suspected until our own timer agrees. */
  private mergeState(fromId: string, members: readonly MemberState[]): void {
    for (const m of members) {
      switch (m.status) {
        case 'alive':
          this.onAlive({ kind: 'alive', id: m.id, incarnation: m.incarnation, address: m.address });
          break;
        case 'left':
          this.onDead({ kind: 'dead', id: m.id, incarnation: m.incarnation, from: m.id }, 'gossip');
          break;
        case 'suspect':
        case 'dead':
          this.onSuspect({ kind: 'suspect', id: m.id, incarnation: m.incarnation, from: fromId });
          break;
      }
    }
  }

  // ---------------------------------------------------------------- rules

  private onGossip(g: Gossip): void {
    switch (g.kind) {
      case 'alive':
        this.onAlive(g);
        return;
      case 'suspect':
        this.onSuspect(g);
        return;
      case 'dead':
        this.onDead(g, 'gossip');
        return;
    }
  }

  /** `alive`: a member exists at an incarnation. */
  private onAlive(g: Extract<Gossip, { kind: 'alive' }>): void {
    // About us: someone holds an incarnation of ours we have not used (an older life of ours?): refute above it.
    if (g.id === this.id) {
      if (!this.leaving && g.incarnation > this.self.incarnation) this.refute(g.incarnation);
      return;
    }
    const m = this.table.get(g.id);
    if (m === undefined) {
      const tomb = this.table.tombstone(g.id);
      // A reaped member returns only with a newer incarnation: older news must not resurrect it.
      if (tomb !== undefined && g.incarnation <= tomb.incarnation) return;
      // Remote input is untrusted: the table does not grow without bound.
      if (this.table.size + this.table.tombstoneCount >= this.config.maxMembers && tomb === undefined) return;
      const r = this.table.add(
        {
          id: g.id,
          address: g.address,
          status: 'alive',
          incarnation: g.incarnation,
          changedAtMs: this.nowMs,
        },
        this.rng,
      );
      this.queue.enqueue(g);
      this.emit({ type: 'joined', member: snapshot(r), atMs: this.nowMs });
      return;
    }
    // Older incarnation: the sender missed a refutation, tell it (see `correct`).
    if (g.incarnation < m.incarnation) {
      this.correct(m);
      return;
    }
    // Same incarnation: alive is the weakest claim, it changes nothing.
    if (g.incarnation === m.incarnation) return;
    const was = m.status;
    this.suspicions.delete(g.id);
    m.address = g.address;
    this.table.set(m, 'alive', g.incarnation, this.nowMs);
    this.queue.enqueue(g);
    if (was !== 'alive') this.emit({ type: 'alive', member: snapshot(m), atMs: this.nowMs });
  }

  /** `suspect`: `from` could not reach a member at an incarnation. */
  private onSuspect(g: Extract<Gossip, { kind: 'suspect' }>): void {
    const m = this.table.get(g.id);
    // Unknown (or reaped) member: nothing to suspect.
    if (m === undefined) return;
    // Older incarnation: already refuted; the sender missed the refutation, so spread it again.
    if (g.incarnation < m.incarnation) {
      this.correct(m);
      return;
    }
    const s = this.suspicions.get(g.id);
    // Already suspected at this incarnation: an independent confirmation shortens the timeout
    // (Lifeguard), and is passed on. A suspicion of a newer incarnation means the member refuted
    // the one we hold (a refutation we missed): it replaces ours, with a fresh timer.
    if (s !== undefined && g.incarnation <= s.incarnation) {
      if (s.confirm(g.from)) this.queue.enqueue(g);
      return;
    }
    if (s !== undefined) this.suspicions.delete(g.id);
    // Dead and left are final until the member returns with a higher incarnation.
    if (m.status === 'dead' || m.status === 'left') return;
    // About us: we are alive, say so with a higher incarnation.
    if (g.id === this.id) {
      if (!this.leaving) this.refute(g.incarnation);
      return;
    }
    // Suspect at equal incarnation overrides alive.
    this.table.set(m, 'suspect', g.incarnation, this.nowMs);
    this.queue.enqueue(g);
    const n = this.table.live;
    const k = expectedConfirmations(this.config.suspicionMult, n);
    const minMs = suspicionTimeout(this.config.suspicionMult, n, this.config.probeIntervalMs);
    const maxMs = this.config.suspicionMaxTimeoutMult * minMs;
    this.suspicions.set(g.id, new Suspicion(g.from, g.incarnation, this.nowMs, k, minMs, maxMs));
    this.emit({ type: 'suspect', member: snapshot(m), atMs: this.nowMs, by: g.from });
  }

  /** `dead`: a member was declared dead at an incarnation, or left (when `from` is the member itself). */
  private onDead(g: Extract<Gossip, { kind: 'dead' }>, cause: DeathCause): void {
    const m = this.table.get(g.id);
    // Unknown (or reaped) member: nothing to bury.
    if (m === undefined) return;
    // Older incarnation: already refuted; the sender missed the refutation, so spread it again.
    if (g.incarnation < m.incarnation) {
      this.correct(m);
      return;
    }
    // Already dead or left: nothing new.
    if (m.status === 'dead' || m.status === 'left') return;
    // About us, and we are not leaving: we are alive, refute.
    if (g.id === this.id && !this.leaving) {
      this.refute(g.incarnation);
      return;
    }
    this.suspicions.delete(g.id);
    // A member announcing its own death is leaving gracefully.
    const status = g.from === g.id ? 'left' : 'dead';
    this.table.set(m, status, g.incarnation, this.nowMs);
    this.queue.enqueue(g);
    this.reapQueue.push({ id: m.id, changedAtMs: this.nowMs, atMs: this.nowMs + this.config.reapAfterMs });
    if (status === 'left') this.emit({ type: 'left', member: snapshot(m), atMs: this.nowMs });
    else this.emit({ type: 'dead', member: snapshot(m), atMs: this.nowMs, cause });
  }

  /**
   * Stale news (alive, suspect or dead) arrived about a member we know alive at a newer
   * incarnation: the packet's sender holds the old state (it relays only what it holds), so it
   * missed the refutation, which gossip delivers to all members only with high probability.
   * Tell it directly: the refutation rides on our ack to it, or in a gossip packet of its own
   * (at most one per probe period). Not in memberlist, where a member that misses a refutation
   * declares a live member dead when its own timer expires.
   */
  private correct(m: MemberRecord): void {
    if (!this.config.staleCorrection || m.status !== 'alive' || this.corrections === undefined) return;
    if (this.corrections.some((g) => g.id === m.id)) return;
    this.corrections.push({ kind: 'alive', id: m.id, incarnation: m.incarnation, address: m.address });
  }

  /** Refutes a suspicion or death held against incarnation `accused` by gossiping a higher one. */
  private refute(accused: number): void {
    // Capped to the wire's uint32: forged gossip at the maximum cannot make us unencodable.
    const inc = Math.min(MAX_INCARNATION, Math.max(this.self.incarnation, accused) + 1);
    this.table.set(this.self, 'alive', inc, this.nowMs);
    this.queue.enqueue({ kind: 'alive', id: this.id, incarnation: inc, address: this.address });
    // Lifeguard: being suspected hints that we are the slow one; be more patient with others.
    this.awareness.applyDelta(1);
    this.emit({ type: 'refuted', member: snapshot(this.self), atMs: this.nowMs, accused });
  }

  // ---------------------------------------------------------------- housekeeping

  private gossipRound(fanout: number): void {
    const reapWindow = this.config.reapAfterMs;
    // Gossip to live members, and to recently dead ones so that a falsely declared member can refute.
    const peers = this.table.randomMembers(
      fanout,
      this.rng,
      (r) => isLive(r.status) || (r.status === 'dead' && this.nowMs - r.changedAtMs < reapWindow),
    );
    for (const p of peers) {
      if (this.queue.size === 0) break;
      this.send(p.address, { type: 'gossip' });
    }
  }

  private tickReap(): void {
    const now = this.nowMs;
    while (this.reapHead < this.reapQueue.length && this.reapQueue[this.reapHead]!.atMs <= now) {
      const e = this.reapQueue[this.reapHead++]!;
      const m = this.table.get(e.id);
      // Still dead or left since that same declaration (not returned and died again)?
      if (m === undefined || isLive(m.status) || m.changedAtMs !== e.changedAtMs || m === this.self) continue;
      this.table.reap(e.id, now + this.config.tombstoneMs);
      this.queue.forget(e.id);
      this.tombQueue.push({ id: e.id, atMs: now + this.config.tombstoneMs });
      this.emit({ type: 'reaped', member: snapshot(m), atMs: now });
    }
    compact(this.reapQueue, this.reapHead, (h) => {
      this.reapHead = h;
    });
    while (this.tombHead < this.tombQueue.length && this.tombQueue[this.tombHead]!.atMs <= now) {
      const e = this.tombQueue[this.tombHead++]!;
      const t = this.table.tombstone(e.id);
      if (t !== undefined && t.untilMs <= now) this.table.dropTombstone(e.id);
    }
    compact(this.tombQueue, this.tombHead, (h) => {
      this.tombHead = h;
    });
  }

  private tickJoin(): void {
    const j = this.join_;
    if (j === undefined || this.nowMs < j.nextAtMs) return;
    if (j.attempts >= this.config.joinAttempts) {
      this.join_ = undefined;
      this.emit({ type: 'join-failed', member: snapshot(this.self), atMs: this.nowMs });
      return;
    }
    j.attempts++;
    j.nextAtMs = this.nowMs + this.config.joinRetryMs;
    const state = this.localState();
    for (const s of j.seeds) this.send(s, { type: 'push-pull', join: true, reply: false, members: state });
  }

  /** When the last-chance probe of a suspect is due (never when off or already sent). */
  private lastChanceAt(s: Suspicion): number {
    if (!this.config.lastChanceProbe || s.lastChanceAtMs !== undefined) return Number.POSITIVE_INFINITY;
    return s.deadlineMs - this.config.probeIntervalMs;
  }

  /**
   * When our own timer declares a suspect dead: at the suspicion deadline, but never before
   * the last-chance probe had a probe timeout to be answered (a member that was itself paused
   * sends it late, and must still wait for the answer).
   */
  private deathAt(s: Suspicion): number {
    if (!this.config.lastChanceProbe) return s.deadlineMs;
    if (s.lastChanceAtMs === undefined) return Number.POSITIVE_INFINITY;
    return Math.max(s.deadlineMs, s.lastChanceAtMs + this.awareness.scaleTimeout(this.config.probeTimeoutMs));
  }

  /**
   * Pings a suspect with its suspicion attached (as first raised, so it confirms nothing
   * anew): a live suspect refutes it, or sends back the refutation we missed, in its ack.
   */
  private lastChance(id: string, s: Suspicion): void {
    this.verifying.set(id, s.incarnation);
    // At most one per probe period: under mass failure the extra load stays below one ping per
    // member per period, and the suspicions left unprobed simply expire.
    if (this.nowMs - this.lastChanceSentMs < this.config.probeIntervalMs) {
      s.lastChanceAtMs = Number.NEGATIVE_INFINITY;
      return;
    }
    s.lastChanceAtMs = this.nowMs;
    this.lastChanceSentMs = this.nowMs;
    const m = this.table.get(id);
    if (m === undefined) return;
    this.send(m.address, { type: 'ping', seq: this.nextSeq(), target: id }, [
      { kind: 'suspect', id, incarnation: s.incarnation, from: s.accuser },
    ]);
  }

  private pushPullInterval(): number {
    return pushPullScale(this.config.pushPullIntervalMs, this.table.live);
  }

  private nextTickAt(): number {
    let t = this.nextPushPullAtMs;
    if (!this.leaving) t = Math.min(t, this.nextProbeAtMs);
    const p = this.probe;
    if (p !== undefined) t = Math.min(t, p.indirectSent ? p.endDeadlineMs : p.directDeadlineMs);
    for (const s of this.suspicions.values()) t = Math.min(t, this.deathAt(s), this.lastChanceAt(s));
    for (const f of this.forwards.values()) t = Math.min(t, f.nack ? f.nackAtMs : f.deadlineMs);
    if (this.config.gossipIntervalMs > 0 && this.queue.size > 0) t = Math.min(t, this.nextGossipAtMs);
    const r = this.reapQueue[this.reapHead];
    if (r !== undefined) t = Math.min(t, r.atMs);
    const tb = this.tombQueue[this.tombHead];
    if (tb !== undefined) t = Math.min(t, tb.atMs);
    if (this.join_ !== undefined) t = Math.min(t, this.join_.nextAtMs);
    return Math.max(t, this.nowMs);
  }

  // ---------------------------------------------------------------- output

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  /** Queues a packet, filling its free bytes with piggybacked gossip. */
  private send(to: string, body: Body, extra: readonly Gossip[] = []): void {
    let budget = this.config.maxPacketBytes - bodySize(this.id, body);
    for (const g of extra) budget -= gossipSize(g);
    const verify = this.verifyItems(to);
    for (const g of verify) budget -= gossipSize(g);
    const piggy = this.queue.take(budget, this.table.live, 255 - extra.length - verify.length);
    // An extra item (the buddy suspicion) supersedes queued news about the same member in this packet.
    let gossip =
      extra.length === 0 ? piggy : [...extra, ...piggy.filter((g) => !extra.some((x) => x.id === g.id))];
    if (verify.length > 0) gossip = [...verify, ...gossip];
    this.packets.push({ to, packet: { from: this.id, body, gossip } });
  }

  /**
   * `alive` items for the suspects being verified (see `verifying`), at most MAX_VERIFY, none
   * about the recipient `to` (it refutes its own suspicion); drops resolved ones.
   */
  private verifyItems(to: string): Gossip[] {
    if (this.verifying.size === 0) return [];
    const out: Gossip[] = [];
    for (const [id, inc] of this.verifying) {
      const s = this.suspicions.get(id);
      const m = this.table.get(id);
      if (s === undefined || s.incarnation !== inc || m === undefined) {
        this.verifying.delete(id);
        continue;
      }
      if (out.length < MAX_VERIFY && m.address !== to) {
        out.push({ kind: 'alive', id, incarnation: inc, address: m.address });
      }
    }
    return out;
  }

  private emit(e: MemberEvent): void {
    this.events.push(e);
  }
}

function snapshot(r: MemberRecord): Member {
  return { id: r.id, address: r.address, status: r.status, incarnation: r.incarnation };
}

/** Drops the consumed head of a FIFO array once it is most of the array. */
function compact<T>(q: T[], head: number, setHead: (h: number) => void): void {
  if (head > 64 && head * 2 > q.length) {
    q.splice(0, head);
    setHead(0);
  }
}
