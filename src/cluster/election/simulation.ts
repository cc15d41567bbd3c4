/**
 * Drives election cores over the simulator (src/sim): virtual time, a lossy packet network,
 * drifting clocks, crashes and restarts with storage that survives them, and an outside
 * checker after every event. Used by the simulation tests and by bench/election.ts.
 */

import type { Clock } from '../../sim/clock.ts';
import { type NetworkOptions, SimNetwork } from '../../sim/network.ts';
import { Prng } from '../../sim/prng.ts';
import type { Scheduler, TimerHandle } from '../../sim/scheduler.ts';
import { ElectionChecker } from './checker.ts';
import type { ElectionConfig } from './config.ts';
import { ElectionError } from './errors.ts';
import type { ElectionMessage, NodeId } from './messages.ts';
import { type ElectionEvent, RaftElection } from './raft.ts';
import { MemoryStorage } from './storage.ts';

/**
 * A node's clock: piecewise linear in real (virtual) time, its rate always within
 * [1 - drift, 1 + drift], so it is monotonic and obeys the drift bound the core assumes.
 */
export class DriftClock implements Clock {
  readonly #scheduler: Scheduler;
  #baseReal: number;
  #baseLocal: number;
  #rate: number;

  constructor(scheduler: Scheduler, offsetMs: number, rate: number) {
    this.#scheduler = scheduler;
    this.#baseReal = scheduler.now();
    this.#baseLocal = offsetMs;
    this.#rate = rate;
  }

  now(): number {
    return this.#baseLocal + (this.#scheduler.now() - this.#baseReal) * this.#rate;
  }

  get rate(): number {
    return this.#rate;
  }

  /** Changes the rate from now on (the reading is continuous). */
  setRate(rate: number): void {
    this.#baseLocal = this.now();
    this.#baseReal = this.#scheduler.now();
    this.#rate = rate;
  }

  /** Real time at which this clock will read `localMs`, if the rate stays as it is. */
  realTimeAt(localMs: number): number {
    return this.#baseReal + (localMs - this.#baseLocal) / this.#rate;
  }
}

/** One simulated process running an election core. */
export class SimElectionNode {
  readonly id: NodeId;
  /** Survives crashes, like a disk. */
  storage: MemoryStorage = new MemoryStorage();
  core: RaftElection | undefined;
  clock: DriftClock;
  /** Errors the core raised on input (counted, never fatal). */
  rejected = 0;
  readonly #cluster: SimElectionCluster;
  #timer: TimerHandle | undefined;

  constructor(cluster: SimElectionCluster, id: NodeId) {
    this.#cluster = cluster;
    this.id = id;
    this.clock = cluster.newClock();
  }

  get alive(): boolean {
    return this.core !== undefined;
  }

  start(): void {
    if (this.core !== undefined) throw new Error(`${this.id} is already running`);
    const c = this.#cluster;
    // A new process: a new monotonic clock with its own origin and rate.
    this.clock = c.newClock();
    if (c.amnesia) this.storage = new MemoryStorage();
    this.core = new RaftElection({
      id: this.id,
      voters: c.ids,
      clock: this.clock,
      rng: c.rng.fork(),
      hardState: this.storage.loadSync(),
      config: c.config,
    });
    c.network.attach(this.id, (_from, m) => this.#onMessage(m));
    this.#flush();
    this.#schedule();
  }

  crash(): void {
    if (this.core === undefined) return;
    this.core = undefined;
    this.#cluster.network.detach(this.id);
    if (this.#timer !== undefined) this.#cluster.scheduler.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Re-arms the tick timer after the clock's rate changed. */
  reschedule(): void {
    this.#schedule();
  }

  #onMessage(m: ElectionMessage): void {
    const core = this.core;
    if (core === undefined) return;
    try {
      core.step(m);
    } catch (err) {
      if (!(err instanceof ElectionError)) throw err;
      this.rejected++;
    }
    this.#flush();
    this.#schedule();
  }

  #onTimer(): void {
    this.#timer = undefined;
    const core = this.core;
    if (core === undefined) return;
    core.tick();
    this.#flush();
    this.#schedule();
  }

  /** The driver's duties, in order: persist, then send, then advance. */
  #flush(): void {
    const core = this.core;
    if (core === undefined || !core.hasReady()) return;
    const c = this.#cluster;
    const rd = core.ready();
    const now = c.scheduler.now();
    if (rd.hardState !== undefined) {
      this.storage.saveSync(rd.hardState);
      c.checker.onPersist(now, this.id, rd.hardState);
    }
    for (const m of rd.messages) {
      c.checker.onSend(now, m);
      c.network.send(this.id, m.to, m);
    }
    core.advance();
    for (const e of rd.events) c.onEvent?.(this, e);
  }

  #schedule(): void {
    const core = this.core;
    if (core === undefined) return;
    const s = this.#cluster.scheduler;
    // The deadline is on this node's clock; a timer that fires early finds nothing to do
    // and re-arms, one that fires late is a slow event loop.
    const at = Math.max(this.clock.realTimeAt(core.nextDeadline()), s.now()) + 1e-6;
    if (this.#timer !== undefined) {
      if (this.#timer.time === at) return;
      s.clearTimeout(this.#timer);
    }
    this.#timer = s.at(at, () => this.#onTimer(), this.id);
  }
}

/** Settings of one simulated cluster. */
export interface SimClusterOptions {
  readonly voters: number;
  readonly seed: number;
  readonly config: Partial<ElectionConfig>;
  readonly network: NetworkOptions;
  /** Clock drift actually applied (at most the configured bound, unless testing the checker). */
  readonly driftRate: number;
  /** Restarted nodes forget their persisted state (breaks an assumption; for checker tests). */
  readonly amnesia?: boolean;
  /** Throw at the first broken invariant (default) or only record it (benchmarks count them). */
  readonly failFast?: boolean;
}

/** A cluster of simulated election nodes with a checker. */
export class SimElectionCluster {
  readonly scheduler: Scheduler;
  readonly rng: Prng;
  readonly network: SimNetwork<ElectionMessage>;
  readonly checker: ElectionChecker;
  readonly ids: readonly NodeId[];
  readonly nodes: readonly SimElectionNode[];
  readonly config: Partial<ElectionConfig>;
  readonly driftRate: number;
  readonly amnesia: boolean;
  /** Called with every event a node's core reports, after its Ready was performed. */
  onEvent: ((node: SimElectionNode, event: ElectionEvent) => void) | undefined;

  constructor(scheduler: Scheduler, options: SimClusterOptions) {
    this.scheduler = scheduler;
    this.rng = new Prng(options.seed);
    this.network = new SimNetwork<ElectionMessage>(scheduler, this.rng.fork(), options.network);
    this.config = options.config;
    this.driftRate = options.driftRate;
    this.amnesia = options.amnesia ?? false;
    this.checker = new ElectionChecker(options.failFast ?? true);
    this.ids = Array.from({ length: options.voters }, (_, i) => `n${i + 1}`);
    this.nodes = this.ids.map((id) => new SimElectionNode(this, id));
  }

  /** A fresh clock with a random origin and a rate within the drift bound. */
  newClock(): DriftClock {
    return new DriftClock(this.scheduler, this.rng.range(0, 1e6), this.randomRate());
  }

  randomRate(): number {
    return 1 + this.rng.range(-this.driftRate, this.driftRate);
  }

  live(): RaftElection[] {
    const out: RaftElection[] = [];
    for (const n of this.nodes) if (n.core !== undefined) out.push(n.core);
    return out;
  }

  /** Runs events until `untilMs`, checking the invariants after each. */
  runUntil(untilMs: number, stop?: () => boolean): boolean {
    const s = this.scheduler;
    for (;;) {
      if (stop?.()) return true;
      const t = s.peekTime();
      if (t === undefined || t > untilMs) break;
      s.step();
      this.checker.check(s.now(), this.live());
    }
    if (untilMs > s.now()) s.runUntil(untilMs);
    return stop?.() ?? false;
  }

  /** The node all of `members` agree leads, holding a lease, or undefined. */
  agreedLeader(members: readonly SimElectionNode[]): SimElectionNode | undefined {
    const leader = members.find((n) => n.core?.role === 'leader' && n.core.hasLease());
    if (leader === undefined) return undefined;
    const term = leader.core!.term;
    for (const n of members) {
      if (n.core === undefined || n.core.term !== term || n.core.leader !== leader.id) return undefined;
    }
    return leader;
  }
}
