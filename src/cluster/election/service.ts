/**
 * The election as a service of a {@link Node}: the thin shell around the pure core (raft.ts).
 *
 * Each voter runs one registered process (`distribute_election` by default); peers send it
 * election messages as Erlang terms (wire.ts) to `{Name, Node}`, so the election rides the
 * ordinary distribution protocol and needs no port of its own. The voter ids are the node
 * names. The shell does what a Ready asks, in order: write the term and vote to storage and
 * wait until they are durable, then send, then `advance()`; one Ready at a time, so a slow
 * disk delays messages but never reorders a vote ahead of its write.
 *
 * Connections: the service keeps one to every other voter. It dials each voter at start and
 * again after every `nodedown`; a failed dial is retried with exponential backoff and jitter
 * (`reconnectMinMs` doubling up to `reconnectMaxMs`), so a healed partition reconnects on its
 * own while an unreachable voter costs a dial per backoff period, not one per heartbeat.
 * While a voter's dial is backing off, messages to it are dropped here (counted in
 * `stats.unreachable`) rather than handed to the node, which would start a dial per message.
 *
 * Tolerated races: messages that arrive while a write is in flight are stepped at once (their
 * outputs wait for the next Ready); a message to a peer that is not connected yet is queued by
 * the node while its dial is under way, or dropped (the core tolerates loss); a timer that
 * fires early finds nothing due and re-arms. A storage failure stops the service (it may not answer without its
 * state on disk) and is reported as an `error` event.
 *
 * @module
 */
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Node } from '../../node/node.ts';
import { type Clock, systemClock, systemTimers, type Timers } from '../../sim/clock.ts';
import { Prng, type Rng } from '../../sim/prng.ts';
import { atom, type Term } from '../../term/types.ts';
import type { ElectionConfig } from './config.ts';
import { ElectionError } from './errors.ts';
import type { NodeId } from './messages.ts';
import { type ElectionStatus, RaftElection, type Role } from './raft.ts';
import type { ElectionStorage } from './storage.ts';
import { decodeElectionMessage, encodeElectionMessage } from './wire.ts';

/** Default registered name of the election process on every voter. */
export const ELECTION_PROCESS_NAME = 'distribute_election';

/** How to start an {@link ElectionService}. */
export interface ElectionServiceOptions {
  /** The node this voter runs on; its name is the voter id. */
  readonly node: Node;
  /** Node names of all voters, this one included; the same list on every voter. */
  readonly voters: readonly NodeId[];
  /** Where the term and vote live (a {@link FileStorage} in production). */
  readonly storage: ElectionStorage;
  /** Overrides of the election defaults (config.ts). */
  readonly config?: Partial<ElectionConfig>;
  /** Registered name of the election process. Default {@link ELECTION_PROCESS_NAME}. */
  readonly processName?: string;
  /** Monotonic clock. Default: `performance.now()`. */
  readonly clock?: Clock;
  /** Timers. Default: the global ones. */
  readonly timers?: Timers;
  /** Randomness for election timeouts and reconnect jitter. Default: a generator seeded from the OS. */
  readonly rng?: Rng;
  /** First delay before re-dialling a voter whose dial failed. Default 100 ms (two heartbeats). */
  readonly reconnectMinMs?: number;
  /**
   * Longest delay between dials of an unreachable voter. Default 1 000 ms: a healed partition
   * reconnects within about a second, and a dead voter costs one dial a second.
   */
  readonly reconnectMaxMs?: number;
}

/** Default of {@link ElectionServiceOptions.reconnectMinMs}. */
export const DEFAULT_RECONNECT_MIN_MS = 100;
/** Default of {@link ElectionServiceOptions.reconnectMaxMs}. */
export const DEFAULT_RECONNECT_MAX_MS = 1000;

/** Dial state of one other voter. */
interface Dialer {
  /** Delay before the next retry after a failure. */
  delay: number;
  /** A retry timer is pending: messages to this voter are dropped until it fires. */
  timer: unknown;
  /** A `node.connect` is under way. */
  dialing: boolean;
}

/** Events of an {@link ElectionService}. */
export interface ElectionServiceEvents {
  /** The known leader changed (null: unknown), or the same node leads a new term. */
  'leader-changed': [leader: NodeId | null, term: number];
  /** This voter's role or term changed. */
  'role-changed': [role: Role, term: number];
  /** Storage failed; the service has stopped. */
  error: [error: ElectionError];
}

/** Counters of a running service. */
export interface ElectionServiceStats {
  received: number;
  /** Messages dropped as malformed, misaddressed or from another voter set. */
  rejected: number;
  /** Messages that left the core (after their write was durable), unreachable ones included. */
  sent: number;
  /** Of `sent`, those dropped because the voter was unreachable (its dial was backing off). */
  unreachable: number;
  /** Dials of other voters started by the service. */
  dials: number;
}

/** Raft leader election among the voters, with a lease and fencing tokens. */
export class ElectionService extends EventEmitter<ElectionServiceEvents> {
  /** This voter's id (its node's name). */
  readonly id: NodeId;
  readonly stats: ElectionServiceStats = { received: 0, rejected: 0, sent: 0, unreachable: 0, dials: 0 };
  readonly #core: RaftElection;
  readonly #node: Node;
  readonly #storage: ElectionStorage;
  readonly #timers: Timers;
  readonly #clock: Clock;
  readonly #name: string;
  readonly #abort = new AbortController();
  readonly #rng: Rng;
  readonly #reconnectMinMs: number;
  readonly #reconnectMaxMs: number;
  readonly #dialers = new Map<NodeId, Dialer>();
  readonly #onNodeDown = (name: string): void => this.#dial(name);
  readonly #onNodeUp = (name: string): void => this.#connected(name);
  #timer: unknown;
  #flushing: Promise<void> | undefined;
  #stopped = false;

  private constructor(options: ElectionServiceOptions, core: RaftElection, rng: Rng) {
    super();
    this.id = core.id;
    this.#core = core;
    this.#node = options.node;
    this.#storage = options.storage;
    this.#timers = options.timers ?? systemTimers;
    this.#clock = options.clock ?? systemClock;
    this.#name = options.processName ?? ELECTION_PROCESS_NAME;
    this.#rng = rng;
    this.#reconnectMinMs = options.reconnectMinMs ?? DEFAULT_RECONNECT_MIN_MS;
    this.#reconnectMaxMs = options.reconnectMaxMs ?? DEFAULT_RECONNECT_MAX_MS;
    for (const v of core.voters) {
      if (v !== core.id)
        this.#dialers.set(v, { delay: this.#reconnectMinMs, timer: undefined, dialing: false });
    }
  }

  /**
   * Loads the term and vote from storage and starts taking part. Throws `ElectionError`
   * (`invalid-config`, `storage-corrupt`, `storage-failed`) or the node's error when the
   * process name is taken.
   */
  static async start(options: ElectionServiceOptions): Promise<ElectionService> {
    const min = options.reconnectMinMs ?? DEFAULT_RECONNECT_MIN_MS;
    const max = options.reconnectMaxMs ?? DEFAULT_RECONNECT_MAX_MS;
    if (!(Number.isFinite(min) && min > 0 && Number.isFinite(max) && max >= min)) {
      throw new ElectionError('invalid-config', 'election: need 0 < reconnectMinMs <= reconnectMaxMs');
    }
    const hardState = await options.storage.load();
    const clock = options.clock ?? systemClock;
    const rng = options.rng ?? new Prng(randomInt(0, 2 ** 32));
    const core = new RaftElection({
      id: options.node.name,
      voters: options.voters,
      clock,
      rng,
      hardState,
      ...(options.config === undefined ? {} : { config: options.config }),
    });
    const service = new ElectionService(options, core, rng);
    service.#spawn();
    options.node.on('nodedown', service.#onNodeDown);
    options.node.on('nodeup', service.#onNodeUp);
    for (const v of service.#dialers.keys()) service.#dial(v);
    service.#arm();
    return service;
  }

  /** This voter's role. */
  get role(): Role {
    return this.#core.role;
  }

  /** This voter's current term. */
  get term(): number {
    return this.#core.term;
  }

  /** The leader this voter knows of, or null. */
  get leader(): NodeId | null {
    return this.#core.leader;
  }

  /** True while this voter leads with a valid lease (see `RaftElection.hasLease`). */
  hasLease(): boolean {
    return !this.#stopped && this.#core.hasLease();
  }

  /**
   * The fencing token of this leadership, to pass to guarded resources. Throws
   * `not-leader` or `no-lease` when this voter may not act as leader.
   */
  fencingToken(): number {
    if (this.#stopped) throw new ElectionError('not-leader', `${this.id}: the election service is stopped`);
    return this.#core.fencingToken();
  }

  /** A snapshot for status pages. */
  status(): ElectionStatus {
    return this.#core.status();
  }

  /** Stops taking part: timers stop, the process exits, an in-flight write completes. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#halt();
    await this.#flushing;
  }

  /** Stops timers, dials and the process; the shared part of stop and failure. */
  #halt(): void {
    this.#stopped = true;
    this.#timers.clearTimeout(this.#timer);
    this.#abort.abort();
    this.#node.off('nodedown', this.#onNodeDown);
    this.#node.off('nodeup', this.#onNodeUp);
    for (const d of this.#dialers.values()) {
      this.#timers.clearTimeout(d.timer);
      d.timer = undefined;
    }
  }

  /** Dials `voter` unless connected, dialling, or waiting out a backoff. */
  #dial(voter: string): void {
    const d = this.#dialers.get(voter);
    if (this.#stopped || this.#node.isStopped || d === undefined || d.dialing || d.timer !== undefined)
      return;
    if (this.#node.connection(voter) !== undefined) return;
    d.dialing = true;
    this.stats.dials++;
    void this.#node.connect(voter).then(
      () => {
        d.dialing = false;
        this.#connected(voter);
      },
      () => {
        d.dialing = false;
        if (this.#stopped) return;
        // Full jitter on the upper half: voters that lost each other do not redial in lockstep.
        const wait = d.delay / 2 + this.#rng.next() * (d.delay / 2);
        d.delay = Math.min(d.delay * 2, this.#reconnectMaxMs);
        d.timer = this.#timers.setTimeout(() => {
          d.timer = undefined;
          this.#dial(voter);
        }, Math.ceil(wait));
      },
    );
  }

  /** A voter is reachable again: the next failure starts the backoff from the beginning. */
  #connected(voter: string): void {
    const d = this.#dialers.get(voter);
    if (d === undefined) return;
    d.delay = this.#reconnectMinMs;
    this.#timers.clearTimeout(d.timer);
    d.timer = undefined;
  }

  #spawn(): void {
    this.#node.spawn(
      async (self) => {
        try {
          for await (const term of self.messages({ signal: this.#abort.signal })) this.#onTerm(term);
        } catch {
          // The process was killed (the node stopped): so is the service.
        }
        if (!this.#stopped) void this.stop();
      },
      { name: atom(this.#name) },
    );
  }

  #onTerm(term: Term): void {
    if (this.#stopped) return;
    this.stats.received++;
    try {
      this.#core.step(decodeElectionMessage(term));
    } catch (err) {
      if (!(err instanceof ElectionError)) throw err;
      this.stats.rejected++;
      return;
    }
    this.#flush();
    this.#arm();
  }

  #onTimer(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    this.#core.tick();
    this.#flush();
    this.#arm();
  }

  #arm(): void {
    if (this.#stopped) return;
    this.#timers.clearTimeout(this.#timer);
    const delay = Math.max(0, Math.ceil(this.#core.nextDeadline() - this.#clock.now()));
    this.#timer = this.#timers.setTimeout(() => this.#onTimer(), delay);
  }

  /** Performs Readies one at a time, in order. */
  #flush(): void {
    if (this.#flushing !== undefined || !this.#core.hasReady()) return;
    this.#flushing = this.#drain()
      .catch((err: unknown) => this.#fail(err))
      .finally(() => {
        this.#flushing = undefined;
        // Steps taken during the last write left a Ready behind.
        if (!this.#stopped && this.#core.hasReady()) this.#flush();
      });
  }

  /** Storage failed: stop at once, and tell whoever listens. */
  #fail(err: unknown): void {
    const e =
      err instanceof ElectionError
        ? err
        : new ElectionError('storage-failed', `${this.id}: cannot save the election state`, { cause: err });
    this.#halt();
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }

  async #drain(): Promise<void> {
    while (!this.#stopped && this.#core.hasReady()) {
      const rd = this.#core.ready();
      if (rd.hardState !== undefined) {
        // The write must be durable before any message that depends on it leaves.
        await this.#storage.save(rd.hardState);
      }
      for (const m of rd.messages) {
        if (this.#dialers.get(m.to)?.timer !== undefined) {
          // Backing off: handing it to the node would start a dial per message.
          this.stats.sent++;
          this.stats.unreachable++;
          continue;
        }
        try {
          this.#node.send([atom(this.#name), atom(m.to)], encodeElectionMessage(m));
          this.stats.sent++;
        } catch {
          // A peer we cannot reach now: the election tolerates loss.
        }
      }
      this.#core.advance();
      for (const e of rd.events) {
        if (e.type === 'leader-changed') this.emit('leader-changed', e.leader, e.term);
        else this.emit('role-changed', e.role, e.term);
      }
    }
  }
}
