/**
 * A hand-driven distribution peer for tests: it performs the handshake with our own pure
 * machine, then lets the test write arbitrary frames and read what the node sends, so tests can
 * misbehave on purpose (garbage, huge frames, half fragments, silence).
 */
import { connect, type Socket } from 'node:net';
import { DEFAULT_DFLAGS } from '../../src/dist/flags.ts';
import type { FrameParser } from '../../src/dist/framing.ts';
import { Handshake, type HandshakeResult } from '../../src/dist/handshake.ts';
import { type SetupError, SetupRun } from '../../src/dist/setup.ts';
import { encode, type Term, TermReader, TermWriter } from '../../src/term/index.ts';

/** Options of {@link rawConnect}. */
export interface RawPeerOptions {
  /** The node's distribution port. */
  readonly port: number;
  /** Our (fake) node name. */
  readonly name: string;
  readonly cookie: string;
  /** The node's name. */
  readonly peer: string;
  readonly flags?: bigint;
  readonly creation?: number;
  /** Answer to `alive`. Default true. */
  readonly alive?: boolean;
  readonly timeoutMs?: number;
}

/** A received message. */
export interface RawMessage {
  readonly control: Term;
  readonly payload: Term | undefined;
}

/** A connected raw peer. */
export interface RawPeer {
  readonly socket: Socket;
  readonly result: HandshakeResult;
  /** Messages received so far (ticks excluded). */
  readonly messages: RawMessage[];
  /** Ticks received so far. */
  ticks(): number;
  /** Sends a control message (and payload) in the negotiated encoding. */
  send(control: Term, payload?: Term): void;
  /** Sends one frame body with its 4-byte length. */
  sendFrame(body: Uint8Array): void;
  /** Resolves with the first message (past or future) that `match` accepts. */
  waitMessage(match: (m: RawMessage) => boolean, ms?: number): Promise<RawMessage>;
  /** Resolves when the node closes the connection. */
  readonly closed: Promise<void>;
}

/** Connects to `opts.port` and completes the handshake as an initiator. Rejects with the SetupError. */
export function rawConnect(opts: RawPeerOptions): Promise<RawPeer> {
  return new Promise<RawPeer>((resolve, reject) => {
    const socket = connect(opts.port, '127.0.0.1');
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      const run = new SetupRun({
        socket,
        handshake: Handshake.initiator({
          thisNode: opts.name,
          thisFlags: opts.flags ?? DEFAULT_DFLAGS,
          thisCreation: opts.creation ?? 1,
          cookie: opts.cookie,
          challenge: 12345,
          peer: opts.peer,
        }),
        headerBytes: 2,
        setupTimeoutMs: opts.timeoutMs ?? 5000,
        decide: () => opts.alive ?? true,
        onUp: (result, s, parser) => resolve(attach(s, parser, result)),
        onFail: (e: SetupError) => reject(e),
      });
      run.start();
    });
  });
}

function attach(socket: Socket, parser: FrameParser, result: HandshakeResult): RawPeer {
  parser.headerBytes = 4;
  parser.maxFrameBytes = 1 << 30;
  const distHeader = (result.flags & 0x802000n) !== 0n;
  const messages: RawMessage[] = [];
  const waiters = new Set<() => void>();
  let ticks = 0;
  const reader = new TermReader();
  const onData = (chunk: Buffer): void => {
    parser.push(chunk);
    for (let f = parser.next(); f !== undefined; f = parser.next()) {
      if (f.length === 0) {
        ticks++;
        continue;
      }
      if (distHeader) {
        reader.reset(f, 3);
        const control = reader.readTerm();
        const payload = reader.offset < f.length ? reader.readTerm() : undefined;
        messages.push({ control, payload });
      } else {
        reader.reset(f, 1);
        const control = reader.readVersioned();
        const payload = reader.offset < f.length ? reader.readVersioned() : undefined;
        messages.push({ control, payload });
      }
    }
    for (const w of [...waiters]) w();
  };
  socket.on('data', onData);
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const sendFrame = (body: Uint8Array): void => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length, 0);
    socket.write(Buffer.concat([head, body]));
  };
  return {
    socket,
    result,
    messages,
    closed,
    ticks: () => ticks,
    sendFrame,
    send(control, payload) {
      if (distHeader) {
        const w = new TermWriter();
        w.u8(131);
        w.u8(68);
        w.u8(0);
        w.writeTerm(control);
        if (payload !== undefined) w.writeTerm(payload);
        sendFrame(w.finish());
      } else {
        const parts = [Buffer.from([112]), encode(control)];
        if (payload !== undefined) parts.push(encode(payload));
        sendFrame(Buffer.concat(parts));
      }
    },
    waitMessage(match, ms = 5000) {
      const found = messages.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise<RawMessage>((resolve, reject) => {
        const check = (): void => {
          const m = messages.find(match);
          if (m === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching message within ${ms} ms`));
        }, ms);
        waiters.add(check);
      });
    },
  };
}
