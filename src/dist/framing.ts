/**
 * Length-prefixed frames on a byte stream: 2-byte lengths during the TCP handshake, 4-byte
 * lengths afterwards (and from the start over TLS). A zero-length 4-byte frame is a tick.
 *
 * The parser buffers chunks as they arrive and hands out each frame body as a view of the chunk
 * it sits in; only a frame split across chunks is copied. It is pull-based (`next()`) so the
 * caller can switch the header size between two frames of one chunk, exactly where the
 * handshake ends.
 *
 * @module
 */

/** Default cap on one frame's body: large enough for a 64 KiB fragment and unfragmented big messages. */
export const DEFAULT_MAX_FRAME_BYTES: number = 128 * 1024 * 1024;

export type FramingErrorCode = 'frame_too_large';

/** A framing failure; the connection cannot continue. */
export class FramingError extends Error {
  readonly code: FramingErrorCode;
  /** The length the peer announced. */
  readonly length: number;
  constructor(code: FramingErrorCode, length: number, message: string) {
    super(message);
    this.name = 'FramingError';
    this.code = code;
    this.length = length;
  }
}

const EMPTY: Buffer = Buffer.alloc(0);

/** Splits a byte stream into frames. */
export class FrameParser {
  /** Size of the length prefix: 2 (TCP handshake) or 4. May change between two `next()` calls. */
  headerBytes: 2 | 4;
  /** Frames longer than this fail with `frame_too_large` as soon as their header arrives. */
  maxFrameBytes: number;
  private readonly chunks: Buffer[] = [];
  /** Bytes of `chunks[0]` already consumed: frames are read in place, without re-slicing the chunk. */
  private head = 0;
  private buffered = 0;
  /** Body length of the frame whose header has been read, or -1 while reading a header. */
  private pending = -1;

  constructor(opts: { headerBytes: 2 | 4; maxFrameBytes?: number }) {
    this.headerBytes = opts.headerBytes;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Adds received bytes. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next complete frame body (empty for a tick), or undefined when more bytes are needed.
   * Throws {@link FramingError} for an oversized frame.
   */
  next(): Buffer | undefined {
    if (this.pending < 0) {
      const hb = this.headerBytes;
      if (this.buffered < hb) return undefined;
      const first = this.chunks[0]!;
      const at = this.head;
      let len: number;
      if (first.length - at >= hb) {
        len = hb === 4 ? first.readUInt32BE(at) : first.readUInt16BE(at);
        this.skip(first, hb);
      } else {
        const h = this.consume(hb);
        len = hb === 4 ? h.readUInt32BE(0) : h.readUInt16BE(0);
      }
      if (len > this.maxFrameBytes) {
        throw new FramingError(
          'frame_too_large',
          len,
          `frame of ${len} bytes exceeds maxFrameBytes ${this.maxFrameBytes}`,
        );
      }
      this.pending = len;
    }
    const len = this.pending;
    if (len === 0) {
      this.pending = -1;
      return EMPTY;
    }
    if (this.buffered < len) return undefined;
    this.pending = -1;
    return this.consume(len);
  }

  /** Forgets everything buffered (the connection is closing). */
  clear(): void {
    this.chunks.length = 0;
    this.head = 0;
    this.buffered = 0;
    this.pending = -1;
  }

  /** Takes `n` buffered bytes: a view when they sit in one chunk, a copy otherwise. */
  private consume(n: number): Buffer {
    const first = this.chunks[0]!;
    const at = this.head;
    if (first.length - at >= n) {
      const view = at === 0 && first.length === n ? first : first.subarray(at, at + n);
      this.skip(first, n);
      return view;
    }
    this.buffered -= n;
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const from = this.head;
      const take = Math.min(c.length - from, n - filled);
      c.copy(out, filled, from, from + take);
      filled += take;
      if (from + take === c.length) {
        this.chunks.shift();
        this.head = 0;
      } else {
        this.head = from + take;
      }
    }
    return out;
  }

  /** Advances past `n` bytes of `first` (the first chunk, which holds them). */
  private skip(first: Buffer, n: number): void {
    this.buffered -= n;
    this.head += n;
    if (this.head === first.length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}

/** `Len:16 | body` for a handshake message over TCP. */
export function frame2(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(2 + body.length);
  out.writeUInt16BE(body.length, 0);
  out.set(body, 2);
  return out;
}

/** `Len:32 | body`. */
export function frame4(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}
