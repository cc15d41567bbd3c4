/**
 * A distribution connection after the handshake: 4-byte frames over a TCP or TLS socket.
 *
 * Reading: every chunk goes to the frame parser; each frame is decoded in place (the reader
 * works on views of the received chunk), fragments are reassembled, and the control message
 * goes to the handler. A frame that cannot be decoded drops the connection with a logged code,
 * as the BEAM does.
 *
 * Writing: messages are encoded at once (the sender may mutate its data afterwards) into one
 * growable buffer. The first flush of a wave (after a read from the peer, or after the last
 * turn's flush) is a microtask: a reply (an echo, a call's answer, whatever the handlers and the
 * processes they wake send before it runs) goes out in one write from that microtask, instead of
 * at the end of the event-loop turn (`setImmediate` costs a loop phase and a JS entry: several µs
 * a hop). Whatever is sent after that early flush in the same
 * turn waits for the turn's end (`setImmediate`), so a burst costs at most one write per read
 * chunk plus one per turn. When the socket's buffer is full (`write()` returns false) flushing
 * pauses until `drain`; `writable` tells producers to hold back. Messages whose body
 * exceeds the fragment size go out as fragments when FRAGMENTS is negotiated.
 *
 * Ticks: every `netTicktimeMs / tickIntensity` a tick (an empty frame) is sent if nothing was
 * written in the interval, and the peer is dropped when nothing was read for `tickIntensity`
 * intervals in a row (`net_tick_timeout`).
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { TermWriter } from '../term/encode.ts';
import { type Atom, atoms, type Pid, type Reference, type Term } from '../term/types.ts';
import { AtomCache } from './atom-cache.ts';
import { ControlError, type ControlMessage, decodeControl, writeControl } from './control.ts';
import {
  DFLAG_ALIAS,
  DFLAG_DIST_HDR_ATOM_CACHE,
  DFLAG_DIST_MONITOR,
  DFLAG_DIST_MONITOR_NAME,
  DFLAG_EXIT_PAYLOAD,
  DFLAG_FRAGMENTS,
  DFLAG_SEND_SENDER,
  DFLAG_SPAWN,
  DFLAG_UNLINK_ID,
} from './flags.ts';
import {
  DistFrameError,
  type DistMessage,
  FRAGMENT_SIZE,
  FragmentAssembler,
  type FragmentLimits,
  fragmentFrames,
  readDistFrame,
  type TermSource,
} from './fragments.ts';
import { type FrameParser, FramingError } from './framing.ts';
import type { Logger } from './logger.ts';

/** Default `net_ticktime`, as OTP. */
export const DEFAULT_NET_TICKTIME_MS = 60_000;
/** Default `net_tickintensity`, as OTP. */
export const DEFAULT_TICK_INTENSITY = 4;

/** What the tick timer decided at the end of an interval. */
export type TickAction = 'none' | 'tick' | 'timeout';

/**
 * The tick rule, pure: call {@link step} at the end of every interval with the running read and
 * write counters.
 */
export class TickState {
  readonly intensity: number;
  private lastReads = 0;
  private lastWrites = 0;
  private silent = 0;

  constructor(intensity: number = DEFAULT_TICK_INTENSITY) {
    this.intensity = intensity;
  }

  /** `timeout` after `intensity` intervals without a read; `tick` when nothing was written this interval. */
  step(reads: number, writes: number): TickAction {
    if (reads === this.lastReads) {
      this.silent++;
      if (this.silent >= this.intensity) return 'timeout';
    } else {
      this.silent = 0;
      this.lastReads = reads;
    }
    const wrote = writes !== this.lastWrites;
    this.lastWrites = writes;
    return wrote ? 'none' : 'tick';
  }
}

/** Why a connection closed. */
export type ConnectionCloseCode =
  /** The peer closed the socket, or it failed. */
  | 'connection_closed'
  /** Nothing read for a full tick time. */
  | 'net_tick_timeout'
  /** Closed on purpose by this node (disconnect, stop, replaced). */
  | 'disconnect'
  /** Undecodable input; see {@link ConnectionCloseReason.detail}. */
  | 'bad_input';

/** The reason given to `close` listeners. */
export interface ConnectionCloseReason {
  readonly code: ConnectionCloseCode;
  /** For `bad_input`: the decode error's code (`frame_too_large`, `bad_header`, `truncated`, ...). */
  readonly detail?: string;
  readonly error?: Error;
}

/** Receives a connection's control messages. */
export interface ConnectionHandler {
  /** A control message arrived. Exceptions are logged and do not affect the connection. */
  onControl(conn: Connection, msg: ControlMessage): void;
}

/** Construction parameters of a {@link Connection}. */
export interface ConnectionOptions {
  readonly socket: Socket;
  /** The parser used during the handshake, holding any bytes already received after it. */
  readonly parser: FrameParser;
  readonly peer: Atom;
  readonly peerCreation: number;
  /** Negotiated flags. */
  readonly flags: bigint;
  readonly hidden: boolean;
  readonly handler: ConnectionHandler;
  /** A term reader for this connection (its limits are the node's decode limits). */
  readonly reader: TermSource;
  readonly logger: Logger;
  readonly netTicktimeMs?: number;
  readonly tickIntensity?: number;
  readonly fragmentLimits?: Partial<FragmentLimits>;
  /** Largest frame accepted from the peer. Default the parser's. */
  readonly maxFrameBytes?: number;
  /** Largest message body sent unfragmented. Default 64 KiB, as the BEAM. */
  readonly fragmentSize?: number;
  /** How many atoms one header's atom cache entries may add to the atom table. Default the decoder's. */
  readonly atomBudget?: number;
}

/** Events of a {@link Connection}. */
export interface ConnectionEvents {
  close: [reason: ConnectionCloseReason];
  /** The socket accepted everything queued; producers may resume. */
  drain: [];
}

const TICK: Buffer = Buffer.alloc(4);
const SMALL_TUPLE_EXT = 104;
const SMALL_INTEGER_EXT = 97;
const SEND_OP = 2;
const REG_SEND_OP = 6;
const SEND_SENDER_OP = 22;
const ALIAS_SEND_OP = 33;

/** A live distribution connection. Built by the node once the handshake succeeded. */
export class Connection extends EventEmitter<ConnectionEvents> {
  readonly peer: Atom;
  readonly peerCreation: number;
  readonly flags: bigint;
  readonly hidden: boolean;
  /** Negotiated capabilities the node consults when it maps signals to control messages. */
  readonly exitPayload: boolean;
  readonly sendSender: boolean;
  readonly alias: boolean;
  readonly distMonitor: boolean;
  readonly distMonitorName: boolean;
  readonly unlinkId: boolean;
  readonly spawn: boolean;
  /** `131 68` headers (FRAGMENTS or DIST_HDR_ATOM_CACHE negotiated) rather than pass-through. */
  readonly distHeader: boolean;

  private readonly socket: Socket;
  private readonly parser: FrameParser;
  private readonly handler: ConnectionHandler;
  private readonly reader: TermSource;
  private readonly logger: Logger;
  private readonly assembler: FragmentAssembler;
  /** The peer's atom cache entries (DIST_HDR_ATOM_CACHE negotiated). */
  private readonly atomCache: AtomCache | undefined;
  private readonly fragmentSize: number;
  private readonly decoded: DistMessage = { control: undefined as unknown as Term, payload: undefined };
  /** Starts small and doubles under a burst (then keeps its size): most connections carry little. */
  private readonly out = new TermWriter(4 * 1024);
  /** Buffers ready to write, in order, ahead of `out`. */
  private readonly queue: Buffer[] = [];
  /** Frame lengths not yet written into `out` (offset, length pairs): patched once per flush, not per message. */
  private readonly patches: number[] = [];
  /** A `setImmediate` flush is pending. */
  private flushScheduled = false;
  /** A microtask flush is pending. */
  private earlyScheduled = false;
  /** The early (microtask) flush of this wave was used; reset by a read and by the turn's flush. */
  private earlyUsed = false;
  private blocked = false;
  private closedReason: ConnectionCloseReason | undefined;
  private reads = 0;
  private writes = 0;
  private nextSequence = 1n;
  private readonly ticks: TickState;
  private readonly tickTimer: ReturnType<typeof setInterval>;

  constructor(opts: ConnectionOptions) {
    super();
    this.socket = opts.socket;
    this.parser = opts.parser;
    this.parser.headerBytes = 4;
    if (opts.maxFrameBytes !== undefined) this.parser.maxFrameBytes = opts.maxFrameBytes;
    this.peer = opts.peer;
    this.peerCreation = opts.peerCreation;
    this.flags = opts.flags;
    this.hidden = opts.hidden;
    this.handler = opts.handler;
    this.reader = opts.reader;
    this.logger = opts.logger;
    this.assembler = new FragmentAssembler(opts.fragmentLimits);
    this.fragmentSize = opts.fragmentSize ?? FRAGMENT_SIZE;
    const f = opts.flags;
    this.exitPayload = (f & DFLAG_EXIT_PAYLOAD) !== 0n;
    this.sendSender = (f & DFLAG_SEND_SENDER) !== 0n;
    this.alias = (f & DFLAG_ALIAS) !== 0n;
    this.distMonitor = (f & DFLAG_DIST_MONITOR) !== 0n;
    this.distMonitorName = (f & DFLAG_DIST_MONITOR_NAME) !== 0n;
    this.unlinkId = (f & DFLAG_UNLINK_ID) !== 0n;
    this.spawn = (f & DFLAG_SPAWN) !== 0n;
    this.distHeader = (f & (DFLAG_FRAGMENTS | DFLAG_DIST_HDR_ATOM_CACHE)) !== 0n;
    this.atomCache = (f & DFLAG_DIST_HDR_ATOM_CACHE) !== 0n ? new AtomCache(opts.atomBudget) : undefined;

    this.ticks = new TickState(opts.tickIntensity ?? DEFAULT_TICK_INTENSITY);
    const interval = Math.max(
      1,
      Math.floor((opts.netTicktimeMs ?? DEFAULT_NET_TICKTIME_MS) / this.ticks.intensity),
    );
    this.tickTimer = setInterval(this.onTickInterval, interval);
    this.tickTimer.unref();

    this.socket.on('data', this.onData);
    this.socket.on('close', this.onSocketClose);
    this.socket.on('error', this.onSocketError);
    this.socket.on('drain', this.onDrain);
    // Frames that arrived together with the end of the handshake.
    if (this.parser.bufferedBytes > 0) queueMicrotask(this.processBuffered);
  }

  /** False once closed. */
  get open(): boolean {
    return this.closedReason === undefined;
  }

  /** False while the socket's buffer is full; wait for `drain` before producing more. */
  get writable(): boolean {
    return !this.blocked && this.closedReason === undefined;
  }

  /** Bytes queued here (not yet handed to the socket). */
  get pendingBytes(): number {
    let n = this.out.length;
    for (const b of this.queue) n += b.length;
    return n;
  }

  // --- sending (hot path: no closures, no promises) ---

  /** SEND_SENDER (or SEND when the peer lacks it or there is no sender) to a remote pid. */
  sendMessage(from: Pid | undefined, to: Pid, message: Term): void {
    const w = this.begin();
    const start = w.length - (this.distHeader ? 7 : 6);
    try {
      w.u8(SMALL_TUPLE_EXT);
      w.u8(3);
      w.u8(SMALL_INTEGER_EXT);
      if (from !== undefined && this.sendSender) {
        w.u8(SEND_SENDER_OP);
        w.writeTerm(from);
      } else {
        w.u8(SEND_OP);
        w.writeTerm(EMPTY_ATOM);
      }
      w.writeTerm(to);
      this.payload(w, message);
    } catch (e) {
      this.rollback(start);
      throw e;
    }
    this.end(start);
  }

  /** REG_SEND to a name registered on the peer. */
  sendRegistered(from: Pid, to: Atom, message: Term): void {
    const w = this.begin();
    const start = w.length - (this.distHeader ? 7 : 6);
    try {
      w.u8(SMALL_TUPLE_EXT);
      w.u8(4);
      w.u8(SMALL_INTEGER_EXT);
      w.u8(REG_SEND_OP);
      w.writeTerm(from);
      w.writeTerm(EMPTY_ATOM);
      w.writeTerm(to);
      this.payload(w, message);
    } catch (e) {
      this.rollback(start);
      throw e;
    }
    this.end(start);
  }

  /** ALIAS_SEND to a reference. Returns false (nothing sent) when ALIAS is not negotiated: the BEAM drops such messages too. */
  sendAlias(from: Pid, alias: Reference, message: Term): boolean {
    if (!this.alias) return false;
    const w = this.begin();
    const start = w.length - (this.distHeader ? 7 : 6);
    try {
      w.u8(SMALL_TUPLE_EXT);
      w.u8(3);
      w.u8(SMALL_INTEGER_EXT);
      w.u8(ALIAS_SEND_OP);
      w.writeTerm(from);
      w.writeTerm(alias);
      this.payload(w, message);
    } catch (e) {
      this.rollback(start);
      throw e;
    }
    this.end(start);
    return true;
  }

  /** Any control message; `op` fields pick the exact form. */
  sendControl(msg: ControlMessage): void {
    const w = this.begin();
    const start = w.length - (this.distHeader ? 7 : 6);
    try {
      const payload = writeControl(w, msg);
      if (payload !== undefined) this.payload(w, payload);
    } catch (e) {
      this.rollback(start);
      throw e;
    }
    this.end(start);
  }

  /** Writes what is queued now instead of at the end of the turn. */
  flush(): void {
    if (this.closedReason !== undefined || this.blocked) return;
    if (this.out.length > 0) {
      const bytes = this.out.finish();
      this.patchInto(bytes);
      this.queue.push(bytes);
      this.out.reset();
    }
    const q = this.queue;
    if (q.length === 0) return;
    this.writes++;
    let ok = true;
    if (q.length === 1) {
      ok = this.socket.write(q[0]!);
    } else {
      this.socket.cork();
      for (let i = 0; i < q.length; i++) ok = this.socket.write(q[i]!);
      this.socket.uncork();
    }
    q.length = 0;
    if (!ok) this.blocked = true;
  }

  /**
   * Closes the connection: queued data is written first (unless `hard`), then the socket ends.
   * Emits `close` once.
   */
  close(code: ConnectionCloseCode = 'disconnect', detail?: string, hard = false): void {
    if (this.closedReason !== undefined) return;
    if (!hard) {
      this.blocked = false;
      this.flush();
    }
    this.finish(detail === undefined ? { code } : { code, detail });
    if (hard) this.socket.destroy();
    else this.socket.end();
    // A peer that never reads must not hold the socket open.
    if (!hard) setTimeout(destroyLater, 5_000, this.socket).unref();
  }

  // --- internals ---

  /** Reserves the frame length and writes the header; returns the writer. */
  private begin(): TermWriter {
    if (this.closedReason !== undefined) throw new Error(`connection to ${this.peer.name} is closed`);
    const w = this.out;
    w.u32(0);
    if (this.distHeader) {
      w.u8(131);
      w.u8(68);
      w.u8(0);
    } else {
      w.u8(112);
      w.u8(131);
    }
    return w;
  }

  private payload(w: TermWriter, message: Term): void {
    if (!this.distHeader) w.u8(131);
    w.writeTerm(message);
  }

  /** Patches the frame length, fragments an oversized message, schedules the flush. */
  private end(start: number): void {
    const w = this.out;
    const len = w.length - start - 4;
    if (this.distHeader && len - 3 > this.fragmentSize) {
      const all = w.finish();
      this.patchInto(all);
      w.reset();
      if (start > 0) this.queue.push(all.subarray(0, start));
      const body = all.subarray(start + 7);
      const frames = fragmentFrames(body, this.nextSequence++, this.fragmentSize);
      for (const f of frames) this.queue.push(f);
    } else {
      this.patches.push(start, len);
    }
    if (this.flushScheduled || this.earlyScheduled) return;
    if (!this.earlyUsed) {
      this.earlyUsed = true;
      this.earlyScheduled = true;
      queueMicrotask(this.flushEarly);
    } else {
      this.flushScheduled = true;
      setImmediate(this.flushNow);
    }
  }

  /** Writes the pending frame lengths into `bytes` (a copy of `out`). */
  private patchInto(bytes: Buffer): void {
    const p = this.patches;
    for (let i = 0; i < p.length; i += 2) bytes.writeUInt32BE(p[i + 1]!, p[i]!);
    p.length = 0;
  }

  /** Drops a half-written frame (the payload could not be encoded). */
  private rollback(start: number): void {
    const all = this.out.finish();
    this.out.reset();
    this.out.bytes(all.subarray(0, start));
  }

  private readonly flushNow = (): void => {
    this.flushScheduled = false;
    // The end of a turn: the next send starts a new wave.
    this.earlyUsed = false;
    this.flush();
  };

  private readonly flushEarly = (): void => {
    this.earlyScheduled = false;
    this.flush();
  };

  private readonly onDrain = (): void => {
    if (!this.blocked) return;
    this.blocked = false;
    this.flush();
    if (!this.blocked) this.emit('drain');
  };

  private readonly onData = (chunk: Buffer): void => {
    this.reads++;
    this.earlyUsed = false;
    this.parser.push(chunk);
    this.processBuffered();
  };

  private readonly processBuffered = (): void => {
    const parser = this.parser;
    const decoded = this.decoded;
    while (this.closedReason === undefined) {
      let msg: ControlMessage;
      try {
        const frame = parser.next();
        if (frame === undefined) return;
        if (frame.length === 0) continue; // tick
        if (!readDistFrame(frame, this.distHeader, this.reader, this.assembler, decoded, this.atomCache)) {
          continue;
        }
        msg = decodeControl(decoded.control, decoded.payload);
      } catch (e) {
        this.badInput(e);
        return;
      }
      try {
        this.handler.onControl(this, msg);
      } catch (e) {
        this.logger.error?.(
          { code: 'handler_error', peer: this.peer.name, err: e },
          'error while handling a control message',
        );
      }
    }
  };

  private badInput(e: unknown): void {
    const code = errorCode(e);
    this.logger.warn?.(
      { code, peer: this.peer.name, err: e },
      `dropping connection to ${this.peer.name}: undecodable input (${code})`,
    );
    this.close('bad_input', code, true);
  }

  private readonly onTickInterval = (): void => {
    const action = this.ticks.step(this.reads, this.writes);
    if (action === 'timeout') {
      this.logger.warn?.(
        { code: 'net_tick_timeout', peer: this.peer.name },
        `node ${this.peer.name} not responding: removing the connection`,
      );
      this.close('net_tick_timeout', undefined, true);
    } else if (action === 'tick' && this.queue.length === 0 && this.out.length === 0 && !this.blocked) {
      // Not counted as a write: an idle connection ticks every interval, as the BEAM does.
      this.socket.write(TICK);
    }
  };

  private readonly onSocketError = (e: Error): void => {
    this.logger.debug?.({ code: 'socket_error', peer: this.peer.name, err: e }, 'distribution socket error');
    this.finish({ code: 'connection_closed', error: e });
    this.socket.destroy();
  };

  private readonly onSocketClose = (): void => {
    this.finish({ code: 'connection_closed' });
  };

  private finish(reason: ConnectionCloseReason): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    clearInterval(this.tickTimer);
    this.parser.clear();
    this.assembler.clear();
    this.atomCache?.clear();
    this.queue.length = 0;
    this.patches.length = 0;
    this.out.reset();
    this.socket.off('data', this.onData);
    this.emit('close', reason);
  }
}

const EMPTY_ATOM = atoms.empty;

function destroyLater(socket: Socket): void {
  socket.destroy();
}

function errorCode(e: unknown): string {
  if (e instanceof FramingError || e instanceof DistFrameError || e instanceof ControlError) return e.code;
  if (e !== null && typeof e === 'object' && 'code' in e && typeof e.code === 'string') return e.code;
  return 'decode_failed';
}
