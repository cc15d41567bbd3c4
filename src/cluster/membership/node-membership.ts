/**
 * `node.membership`: the SWIM membership service run by a distribution node.
 *
 * Member ids are node names. Datagrams are sealed by default with a key derived from the node's
 * cookie (HKDF), so only nodes sharing the cookie take part; an explicit key list replaces it
 * (for rotation) and `encrypt` turns on AES-256-GCM. With `autoConnect`, the distribution layer
 * follows the view: it connects to members seen alive and disconnects from members declared
 * dead or gone. Races tolerated: both ends of a pair connect at once (the node's setup resolves
 * simultaneous attempts); a connect to a member that dies meanwhile fails and is only counted.
 */
import { EventEmitter } from 'node:events';
import type { Clock, Timers } from '../../sim/clock.ts';
import type { Rng } from '../../sim/prng.ts';
import { defaultLanConfig, defaultLocalConfig, defaultWanConfig, type MembershipConfig } from './config.ts';
import type { MemberStatus } from './messages.ts';
import { noDrops, PacketSecurity, type SecurityDropReason, sealOverhead } from './security.ts';
import { MembershipService, type MembershipServiceStats } from './service.ts';
import type { MemberEvent } from './swim.ts';

/** What {@link NodeMembership} needs of a node (the `Node` class satisfies it). */
export interface MembershipHost {
  readonly name: string;
  connect(node: string): Promise<void>;
  disconnect(node: string): boolean;
  /** A 32-byte key derived from the cookie for `purpose`. */
  cookieKey(purpose: string): Uint8Array;
}

/** Options of {@link NodeMembership.start}. */
export interface NodeMembershipOptions {
  /** Membership addresses (`host:port`, the UDP ports of other members) to join through. */
  readonly seeds?: readonly string[];
  /** UDP port (default 0: any free port; give a fixed one so others can use it as a seed). */
  readonly port?: number;
  /** Interface to bind (default 127.0.0.1). */
  readonly host?: string;
  /** Host others reach us at (default: `host`). */
  readonly advertiseHost?: string;
  /** Base tunables (default 'lan'). */
  readonly profile?: 'lan' | 'wan' | 'local';
  /** Protocol period; the probe timeout and join retry scale with it unless given in `config`. */
  readonly probeIntervalMs?: number;
  /** Any other tunable, over the profile. */
  readonly config?: Partial<MembershipConfig>;
  /** Explicit keys (first seals, all open), instead of the cookie-derived key. */
  readonly keys?: ReadonlyArray<string | Uint8Array>;
  /** Encrypt datagrams with AES-256-GCM (default false). */
  readonly encrypt?: boolean;
  /** Clock skew tolerated by the replay check (default 60,000 ms). */
  readonly maxClockSkewMs?: number;
  /** Connect the distribution layer to alive members, disconnect from dead and left ones (default false). */
  readonly autoConnect?: boolean;
  readonly rng?: Rng;
  readonly clock?: Clock;
  readonly timers?: Timers;
}

/** One member as `members()` lists it. */
export interface NodeMember {
  readonly node: string;
  readonly status: MemberStatus;
  readonly incarnation: number;
}

/** A change of a member, as the `change` event carries it. */
export interface MemberChange {
  /** `joined` (first seen), `alive` (back), `suspect`, `dead`, `left`, or `reaped` (forgotten). */
  readonly type: 'joined' | 'alive' | 'suspect' | 'dead' | 'left' | 'reaped';
  readonly node: string;
  readonly status: MemberStatus;
  readonly incarnation: number;
}

/** Events of {@link NodeMembership}. */
export interface NodeMembershipEvents {
  change: [change: MemberChange];
  /** No seed answered within the join attempts. */
  'join-failed': [];
  /** A seed answered with its state. */
  'join-complete': [seed: string];
}

/** Counters of the membership layer. */
export interface NodeMembershipStats extends MembershipServiceStats {
  /** Auto-connect attempts that failed. */
  connectFailures: number;
  /** Dropped datagrams by reason (authentication, replay, staleness). */
  drops: Record<SecurityDropReason, number>;
}

/** Errors with stable codes. */
export class NodeMembershipError extends Error {
  readonly code: 'ALREADY_STARTED' | 'NOT_STARTED';
  constructor(code: 'ALREADY_STARTED' | 'NOT_STARTED', message: string) {
    super(message);
    this.name = 'NodeMembershipError';
    this.code = code;
  }
}

/** Builds the tunables from a profile, a probe interval and overrides. */
export function membershipConfig(options: NodeMembershipOptions): MembershipConfig {
  const base =
    options.profile === 'wan'
      ? defaultWanConfig
      : options.profile === 'local'
        ? defaultLocalConfig
        : defaultLanConfig;
  const interval = options.probeIntervalMs ?? options.config?.probeIntervalMs ?? base.probeIntervalMs;
  const scale = interval / base.probeIntervalMs;
  return Object.freeze({
    ...base,
    probeIntervalMs: interval,
    probeTimeoutMs: Math.max(1, Math.round(base.probeTimeoutMs * scale)),
    joinRetryMs: Math.max(1, Math.round(base.joinRetryMs * scale)),
    ...options.config,
  });
}

/** The membership of one node; see the module comment. Start it with {@link NodeMembership.start}. */
export class NodeMembership extends EventEmitter<NodeMembershipEvents> {
  private readonly host: MembershipHost;
  private service: MembershipService | undefined;
  private autoConnect = false;
  private connectFailures = 0;

  constructor(host: MembershipHost) {
    super();
    this.host = host;
  }

  /** Binds the UDP socket and joins `seeds`; resolves with our membership address (`host:port`). */
  async start(options: NodeMembershipOptions = {}): Promise<string> {
    if (this.service !== undefined) {
      throw new NodeMembershipError('ALREADY_STARTED', 'membership is already running');
    }
    const security = new PacketSecurity({
      keys: options.keys ?? [this.host.cookieKey('membership')],
      ...(options.encrypt !== undefined ? { encrypt: options.encrypt } : {}),
      ...(options.maxClockSkewMs !== undefined ? { maxClockSkewMs: options.maxClockSkewMs } : {}),
    });
    const config = membershipConfig(options);
    const svc = await MembershipService.start({
      id: this.host.name,
      // Sealing adds bytes; keep the sealed datagram within the configured size (the MTU by default).
      config:
        options.config?.maxPacketBytes !== undefined
          ? config
          : {
              ...config,
              maxPacketBytes:
                config.maxPacketBytes -
                sealOverhead(Buffer.byteLength(this.host.name), options.encrypt ?? false),
            },
      security,
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.advertiseHost !== undefined ? { advertiseHost: options.advertiseHost } : {}),
      ...(options.rng !== undefined ? { rng: options.rng } : {}),
      ...(options.clock !== undefined ? { clock: options.clock } : {}),
      ...(options.timers !== undefined ? { timers: options.timers } : {}),
    });
    this.service = svc;
    this.autoConnect = options.autoConnect ?? false;
    svc.onEvent((e) => this.onEvent(e));
    if (options.seeds !== undefined && options.seeds.length > 0) svc.join(options.seeds);
    return svc.address;
  }

  /** True between `start` and `leave`/`stop`. */
  get running(): boolean {
    return this.service !== undefined;
  }

  /** Our membership address (`host:port`), once started. */
  get address(): string | undefined {
    return this.service?.address;
  }

  /** The view, self included; empty when not running. */
  members(): NodeMember[] {
    if (this.service === undefined) return [];
    return this.service
      .members()
      .map((m) => ({ node: m.id, status: m.status, incarnation: m.incarnation }))
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  /** One member's state. */
  member(node: string): NodeMember | undefined {
    const m = this.service?.member(node);
    return m === undefined ? undefined : { node: m.id, status: m.status, incarnation: m.incarnation };
  }

  /** Names of alive members, self included, sorted. */
  alive(): string[] {
    return this.members()
      .filter((m) => m.status === 'alive')
      .map((m) => m.node);
  }

  /** Counters: socket, security drops (by reason in `drops`), auto-connect failures. */
  stats(): NodeMembershipStats {
    const s = this.service;
    return {
      sent: s?.stats.sent ?? 0,
      received: s?.stats.received ?? 0,
      decodeErrors: s?.stats.decodeErrors ?? 0,
      oversize: s?.stats.oversize ?? 0,
      sendErrors: s?.stats.sendErrors ?? 0,
      securityDrops: s?.stats.securityDrops ?? 0,
      connectFailures: this.connectFailures,
      drops: { ...noDrops(), ...s?.security?.drops },
    };
  }

  /** Leaves gracefully (others see `left`), then stops. A no-op when not running. */
  async leave(timeoutMs?: number): Promise<void> {
    const svc = this.service;
    if (svc === undefined) return;
    this.service = undefined;
    await svc.leave(timeoutMs);
  }

  /** Stops without a word (others will declare this node dead). A no-op when not running. */
  async stop(): Promise<void> {
    const svc = this.service;
    if (svc === undefined) return;
    this.service = undefined;
    await svc.close();
  }

  private onEvent(e: MemberEvent): void {
    if (e.type === 'join-failed') {
      this.emit('join-failed');
      return;
    }
    if (e.type === 'join-complete') {
      this.emit('join-complete', e.seed);
      return;
    }
    if (e.type === 'refuted') return;
    const m = e.member;
    if (this.autoConnect && m.id !== this.host.name) {
      if ((e.type === 'joined' || e.type === 'alive') && m.status === 'alive') {
        this.host.connect(m.id).catch(() => {
          this.connectFailures++;
        });
      } else if (e.type === 'dead' || e.type === 'left') {
        this.host.disconnect(m.id);
      }
    }
    this.emit('change', { type: e.type, node: m.id, status: m.status, incarnation: m.incarnation });
  }
}
