/**
 * The membership service on a real network: a {@link Swim} core driven over one UDP socket.
 *
 * The shell is thin, as the core is pure: datagrams are decoded (bad ones are counted and
 * dropped, the member stays up) and handed to the core; after every input the shell takes the
 * core's outputs, encodes and sends its packets, emits its events, and arms one timer for the
 * core's next wanted tick. Clock, timers and randomness are injectable, so the same shell runs
 * in tests with fakes.
 *
 * Addresses are `host:port` strings (IPv6 as `[::1]:7946`). Push-pull state travels in one
 * datagram, so it is bounded by the UDP limit (65,507 bytes, about 2,000 members with short
 * names); a larger state is not sent and is counted in `stats.oversize`.
 *
 * With a {@link PacketSecurity}, every datagram is sealed (HMAC or AES-256-GCM, see security.ts)
 * and every incoming one must open: forged, replayed, stale and plain ones are counted by reason
 * in `security.drops` (their total in `stats.securityDrops`) and dropped.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { type Clock, systemClock, systemTimers, type Timers } from '../../sim/clock.ts';
import { Prng, type Rng } from '../../sim/prng.ts';
import { defaultLanConfig, type MembershipConfig } from './config.ts';
import { type CodecLimits, decodePacket, encodePacket, MembershipCodecError } from './messages.ts';
import type { PacketSecurity } from './security.ts';
import type { Member } from './state.ts';
import { type MemberEvent, Swim } from './swim.ts';

/** Largest UDP payload over IPv4. */
const MAX_DATAGRAM = 65_507;

/** Options of {@link MembershipService.start}. */
export interface MembershipServiceOptions {
  /** This member's id, unique in the cluster. */
  readonly id: string;
  /** Interface to bind (default 127.0.0.1). */
  readonly host?: string;
  /** UDP port (default 0: any free port). */
  readonly port?: number;
  /** Host other members should use to reach us (default: `host`). */
  readonly advertiseHost?: string;
  /** Tunables (default LAN). */
  readonly config?: MembershipConfig;
  /** Seeds to join through, as `host:port`. */
  readonly seeds?: readonly string[];
  /** Starting incarnation (a restarted member may pass a persisted one; 0 works too, it refutes). */
  readonly incarnation?: number;
  /** Randomness (default: a Prng seeded from the OS). */
  readonly rng?: Rng;
  readonly clock?: Clock;
  readonly timers?: Timers;
  /** Seals and opens datagrams (default: none, plain packets). All members must agree. */
  readonly security?: PacketSecurity;
}

/** Counters of the service's socket. */
export interface MembershipServiceStats {
  sent: number;
  received: number;
  /** Datagrams that failed to decode (dropped). */
  decodeErrors: number;
  /** Packets too large for one datagram (not sent). */
  oversize: number;
  /** Send errors reported by the socket. */
  sendErrors: number;
  /** Datagrams dropped by the security layer (by reason in `security.drops`). */
  securityDrops: number;
}

/** Errors of the service, with stable codes. */
export class MembershipServiceError extends Error {
  readonly code: 'BAD_ADDRESS' | 'CLOSED';
  constructor(code: 'BAD_ADDRESS' | 'CLOSED', message: string) {
    super(message);
    this.name = 'MembershipServiceError';
    this.code = code;
  }
}

/** Splits `host:port` (or `[v6]:port`). Throws {@link MembershipServiceError} `BAD_ADDRESS`. */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = m === null ? Number.NaN : Number(m[3]);
  if (m === null || !(port > 0 && port < 65_536)) {
    throw new MembershipServiceError('BAD_ADDRESS', `not a host:port address: ${JSON.stringify(address)}`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

/** A SWIM member on a UDP socket. */
export class MembershipService {
  readonly id: string;
  /** Our advertised `host:port`. */
  readonly address: string;
  readonly stats: MembershipServiceStats = {
    sent: 0,
    received: 0,
    decodeErrors: 0,
    oversize: 0,
    sendErrors: 0,
    securityDrops: 0,
  };
  /** The security layer, when packets are sealed. */
  readonly security: PacketSecurity | undefined;
  private readonly swim: Swim;
  private readonly socket: Socket;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly limits: CodecLimits;
  private readonly listeners: Array<(e: MemberEvent) => void> = [];
  private timer: unknown;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private closed = false;
  /** Sends handed to the socket and not yet completed. */
  private inFlight = 0;
  private drained: (() => void) | undefined;

  private constructor(
    swim: Swim,
    socket: Socket,
    address: string,
    clock: Clock,
    timers: Timers,
    security: PacketSecurity | undefined,
  ) {
    this.swim = swim;
    this.security = security;
    this.id = swim.id;
    this.socket = socket;
    this.address = address;
    this.clock = clock;
    this.timers = timers;
    this.limits = { maxPacketBytes: MAX_DATAGRAM, maxMembers: swim.config.maxMembers };
  }

  /** Binds the socket, starts probing, and joins `seeds` if given. */
  static async start(options: MembershipServiceOptions): Promise<MembershipService> {
    const host = options.host ?? '127.0.0.1';
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port ?? 0, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const port = socket.address().port;
    const advertise = options.advertiseHost ?? host;
    const address = advertise.includes(':') ? `[${advertise}]:${port}` : `${advertise}:${port}`;
    const clock = options.clock ?? systemClock;
    const swim = new Swim({
      id: options.id,
      address,
      config: options.config ?? defaultLanConfig,
      rng: options.rng ?? new Prng(randomBytes(4).readUInt32LE(0)),
      nowMs: clock.now(),
      ...(options.incarnation !== undefined ? { incarnation: options.incarnation } : {}),
    });
    const svc = new MembershipService(
      swim,
      socket,
      address,
      clock,
      options.timers ?? systemTimers,
      options.security,
    );
    socket.on('message', (msg, rinfo) => svc.onDatagram(msg, rinfo.address, rinfo.port));
    // A socket error (e.g. ICMP unreachable surfacing on some platforms) must not stop the member.
    socket.on('error', () => {
      svc.stats.sendErrors++;
    });
    if (options.seeds !== undefined && options.seeds.length > 0) swim.join(options.seeds, clock.now());
    svc.flush();
    return svc;
  }

  /** Calls `fn` for every membership event of this member. */
  onEvent(fn: (e: MemberEvent) => void): void {
    this.listeners.push(fn);
  }

  /** The member table, self included. */
  members(): Member[] {
    return this.swim.members();
  }

  /** A member by id. */
  member(id: string): Member | undefined {
    return this.swim.member(id);
  }

  /** Live (alive or suspect) members, self included. */
  get liveCount(): number {
    return this.swim.liveCount;
  }

  /** Joins (again) through `seeds` (`host:port`). */
  join(seeds: readonly string[]): void {
    if (this.closed) throw new MembershipServiceError('CLOSED', 'membership service is closed');
    for (const s of seeds) parseAddress(s);
    this.swim.join(seeds, this.clock.now());
    this.flush();
  }

  /** Leaves gracefully: gossips the leave, waits until it is out or `timeoutMs` passes, then closes. */
  async leave(timeoutMs: number = 5 * this.swim.config.probeIntervalMs): Promise<void> {
    if (this.closed) return;
    this.swim.leave(this.clock.now());
    this.flush();
    const deadline = this.clock.now() + timeoutMs;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.closed || this.swim.leaveBroadcastDone || this.clock.now() >= deadline) resolve();
        else this.timers.setTimeout(check, Math.min(50, this.swim.config.probeIntervalMs / 4));
      };
      check();
    });
    await this.close();
  }

  /**
   * Stops: no more probes or answers (others will detect this member as failed unless it left).
   * Datagrams already handed to the socket are flushed first, so a leave is not lost.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
      });
    }
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private onDatagram(msg: Buffer, host: string, port: number): void {
    if (this.closed) return;
    this.stats.received++;
    let bytes: Uint8Array = msg;
    let sender: string | undefined;
    if (this.security !== undefined) {
      const opened = this.security.open(msg);
      if (!opened.ok) {
        this.stats.securityDrops++;
        return;
      }
      bytes = opened.payload;
      sender = opened.sender;
    }
    let packet: ReturnType<typeof decodePacket>;
    try {
      packet = decodePacket(bytes, this.limits);
    } catch (err) {
      // Remote input is untrusted: a bad datagram is counted and dropped, the member stays up.
      if (err instanceof MembershipCodecError) {
        this.stats.decodeErrors++;
        return;
      }
      throw err;
    }
    if (sender !== undefined && sender !== packet.from) {
      // The sealed header names who holds the counter; a packet claiming another sender is dropped.
      this.security?.countDrop('sender-mismatch');
      this.stats.securityDrops++;
      return;
    }
    const from = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.swim.handle(from, packet, this.clock.now());
    this.flush();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAtMs = Number.POSITIVE_INFINITY;
    if (this.closed) return;
    this.swim.tick(this.clock.now());
    this.flush();
  }

  /** Performs the core's outputs: send packets, emit events, arm the timer for its next tick. */
  private flush(): void {
    const r = this.swim.ready();
    for (const o of r.packets) this.sendPacket(o.to, o.packet);
    for (const e of r.events) for (const fn of this.listeners) fn(e);
    if (this.closed) return;
    if (r.nextTickAtMs < this.timerAtMs) {
      if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
      this.timerAtMs = r.nextTickAtMs;
      const delay = Math.max(0, r.nextTickAtMs - this.clock.now());
      this.timer = this.timers.setTimeout(() => this.onTimer(), delay);
    }
  }

  private sendPacket(to: string, packet: Parameters<typeof encodePacket>[0]): void {
    if (this.closed) return;
    let target: { host: string; port: number };
    try {
      target = parseAddress(to);
    } catch {
      this.stats.sendErrors++;
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = encodePacket(packet);
      if (this.security !== undefined) bytes = this.security.seal(this.id, bytes);
    } catch (err) {
      // A value that does not fit the wire format (e.g. an id over 255 bytes) loses this packet only.
      if (!(err instanceof MembershipCodecError)) throw err;
      this.stats.sendErrors++;
      return;
    }
    if (bytes.length > MAX_DATAGRAM) {
      this.stats.oversize++;
      return;
    }
    this.stats.sent++;
    this.inFlight++;
    this.socket.send(bytes, target.port, target.host, (err) => {
      if (err !== null && err !== undefined) this.stats.sendErrors++;
      this.inFlight--;
      if (this.inFlight === 0 && this.drained !== undefined) this.drained();
    });
  }
}
