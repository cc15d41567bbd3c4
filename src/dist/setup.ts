/**
 * Runs a {@link Handshake} over a socket: frames its messages (2-byte lengths over TCP, 4-byte
 * over TLS), enforces the per-step deadline (`net_setuptime`, reset at every message received,
 * as OTP does), and hands over the socket and the parser — which may already hold the first
 * frames of the connection — when the handshake succeeds.
 *
 * The decisions the handshake asks of the node (`accept`, `alive`) are answered synchronously
 * by `decide`, so the node's connection table is consulted and updated in one step.
 *
 * @module
 */
import type { Socket } from 'node:net';
import { FrameParser, type FramingError } from './framing.ts';
import type {
  AcceptStatus,
  Handshake,
  HandshakeError,
  HandshakeErrorCode,
  HandshakeOutput,
  HandshakeQuestion,
  HandshakeResult,
} from './handshake.ts';

/** Why a setup failed. */
export type SetupErrorCode =
  | HandshakeErrorCode
  /** A step took longer than the setup timeout. */
  | 'setup_timeout'
  /** The socket closed or failed during the handshake. */
  | 'connection_closed'
  /** A handshake frame over the handshake frame limit. */
  | 'frame_too_large'
  /** The node abandoned this attempt (simultaneous connect, stop). */
  | 'aborted';

/** A failed connection setup. */
export class SetupError extends Error {
  readonly code: SetupErrorCode;
  constructor(code: SetupErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SetupError';
    this.code = code;
  }
}

/** Handshake messages are small; this bounds what a peer can make us buffer before it is known. */
export const MAX_HANDSHAKE_FRAME_BYTES = 65535;

/** Options of {@link runHandshake}. */
export interface SetupOptions {
  readonly socket: Socket;
  readonly handshake: Handshake;
  /** 2 over TCP, 4 over TLS. */
  readonly headerBytes: 2 | 4;
  readonly setupTimeoutMs: number;
  /** Answers the handshake's questions: an {@link AcceptStatus} for `accept`, a boolean for `alive`. */
  readonly decide: (q: HandshakeQuestion) => AcceptStatus | boolean;
  /**
   * The handshake succeeded. `finalFrames` (the acceptor's ack, already framed) must be written by
   * the callee *after* it has dropped any connection the result replaces; `parser` holds bytes
   * already received after the handshake.
   */
  readonly onUp: (
    result: HandshakeResult,
    socket: Socket,
    parser: FrameParser,
    finalFrames: Buffer[],
  ) => void;
  /** The handshake failed; the socket is being closed. */
  readonly onFail: (error: SetupError) => void;
}

/** A handshake in progress; `abort()` kills it. */
export class SetupRun {
  private readonly o: SetupOptions;
  private readonly parser: FrameParser;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ended = false;

  constructor(o: SetupOptions) {
    this.o = o;
    this.parser = new FrameParser({ headerBytes: o.headerBytes, maxFrameBytes: MAX_HANDSHAKE_FRAME_BYTES });
    o.socket.on('data', this.onData);
    o.socket.on('close', this.onClose);
    o.socket.on('error', this.onError);
    this.armTimer();
  }

  /** The handshake's peer name once known. */
  get peer(): string {
    return this.o.handshake.peerName;
  }

  /** True once finished (up or failed). */
  get done(): boolean {
    return this.ended;
  }

  /** Initiator: sends send_name. */
  start(): void {
    this.apply(this.o.handshake.start());
  }

  /** Kills the attempt: the socket is destroyed, `onFail` is called with `aborted`. */
  abort(message = 'connection attempt abandoned'): void {
    this.fail(new SetupError('aborted', message), true);
  }

  private armTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(this.onTimeout, this.o.setupTimeoutMs);
  }

  private readonly onTimeout = (): void => {
    this.fail(
      new SetupError('setup_timeout', `handshake step took more than ${this.o.setupTimeoutMs} ms`),
      true,
    );
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.ended) return;
    this.parser.push(chunk);
    for (;;) {
      let frame: Buffer | undefined;
      try {
        frame = this.parser.next();
      } catch (e) {
        const err = e as FramingError;
        this.fail(new SetupError('frame_too_large', err.message, { cause: e }), true);
        return;
      }
      if (frame === undefined) return;
      this.armTimer();
      this.apply(this.o.handshake.receive(frame));
      if (this.ended) return;
    }
  };

  private readonly onClose = (): void => {
    this.fail(new SetupError('connection_closed', 'connection closed during the handshake'), true);
  };

  private readonly onError = (e: Error): void => {
    this.fail(
      new SetupError('connection_closed', `socket error during the handshake: ${e.message}`, { cause: e }),
      true,
    );
  };

  /**
   * Performs a handshake step's outputs. What one step sends (the acceptor's status and
   * challenge) leaves in one write: one segment the peer reads in one wake-up, not two.
   */
  private apply(out: HandshakeOutput): void {
    const s = this.o.socket;
    s.cork();
    try {
      this.applyCorked(out);
    } finally {
      s.uncork();
    }
  }

  private applyCorked(out: HandshakeOutput): void {
    let o = out;
    // A question is answered at once; its answer is another output.
    while (o.question !== undefined && !this.ended) {
      for (const m of o.send) this.write(m);
      const answer = this.o.decide(o.question);
      if (this.ended) return;
      o =
        o.question.kind === 'accept'
          ? this.o.handshake.answerAccept(answer as AcceptStatus)
          : this.o.handshake.answerAlive(answer as boolean);
    }
    if (this.ended) return;
    if (o.result !== undefined) {
      this.finishUp(
        o.result,
        o.send.map((m) => this.framed(m)),
      );
      return;
    }
    for (const m of o.send) this.write(m);
    if (o.error !== undefined) this.fail(toSetupError(o.error), false);
  }

  private framed(m: Buffer): Buffer {
    const head = Buffer.allocUnsafe(this.o.headerBytes);
    if (this.o.headerBytes === 2) head.writeUInt16BE(m.length, 0);
    else head.writeUInt32BE(m.length, 0);
    return Buffer.concat([head, m]);
  }

  private write(m: Buffer): void {
    if (!this.o.socket.destroyed) this.o.socket.write(this.framed(m));
  }

  private detach(): void {
    this.ended = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.o.socket;
    s.off('data', this.onData);
    s.off('close', this.onClose);
    s.off('error', this.onError);
  }

  private finishUp(result: HandshakeResult, finalFrames: Buffer[]): void {
    this.detach();
    this.o.onUp(result, this.o.socket, this.parser, finalFrames);
  }

  private fail(error: SetupError, hard: boolean): void {
    if (this.ended) return;
    this.detach();
    this.parser.clear();
    const s = this.o.socket;
    // Errors after a detach must not be unhandled.
    s.on('error', ignore);
    if (hard) {
      s.destroy();
    } else {
      // Let a final status (not_allowed, nok) reach the peer, but never wait on it for long.
      s.end();
      setTimeout(destroy, 1_000, s).unref();
    }
    this.o.onFail(error);
  }
}

function toSetupError(e: HandshakeError): SetupError {
  return new SetupError(e.code, e.message, { cause: e });
}

function ignore(): void {}

function destroy(s: Socket): void {
  s.destroy();
}
