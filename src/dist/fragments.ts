/**
 * The two encodings of a distribution message, and fragments.
 *
 * Which encoding a connection uses is fixed by the negotiated flags (strict both ways):
 * - pass-through (neither FRAGMENTS nor DIST_HDR_ATOM_CACHE): `112 | 131 Control | [131 Payload]`;
 * - distribution header (FRAGMENTS or DIST_HDR_ATOM_CACHE): `131 68 N [atom cache refs] | Control |
 *   [Payload]`, or a fragmented message: a start `131 69 Seq:64 FragId:64 N [refs] | first part`
 *   followed by continuations `131 70 Seq:64 FragId:64 | part`, FragId counting down to 1.
 *   We send N = 0; a peer's references are read by the connection's {@link AtomCache} as each
 *   header arrives (in frame order), and the message's atoms go with it to the term reader.
 *
 * Fragments of different sequences may interleave (the BEAM numbers sequences per sending
 * process). The {@link FragmentAssembler} holds the parts of incomplete sequences, bounded in
 * count and size, as views of the received frames; a message is concatenated and decoded once,
 * when its last fragment arrives.
 *
 * @module
 */
import type { Atom, Term } from '../term/types.ts';
import type { AtomCache } from './atom-cache.ts';

export const PASS_THROUGH = 112;
export const VERSION_MAGIC = 131;
export const DIST_HEADER = 68;
export const DIST_FRAG_HEADER = 69;
export const DIST_FRAG_CONT = 70;
const COMPRESSED = 80;

/** Bytes of control + payload per fragment, as the BEAM (`ERTS_DIST_FRAGMENT_SIZE`). */
export const FRAGMENT_SIZE: number = 64 * 1024;

/** Limits on what incomplete fragmented messages may hold. */
export interface FragmentLimits {
  /** Largest reassembled message (control + payload bytes). */
  readonly maxFragmentedMessageBytes: number;
  /** Most sequences in progress at once on one connection. */
  readonly maxFragmentSequences: number;
}

/** Defaults of {@link FragmentLimits}, with the reason for each. */
export const fragmentDefaults: Readonly<FragmentLimits> = {
  // Same bound as one unfragmented frame (DEFAULT_MAX_FRAME_BYTES): fragmenting must not be a way around it.
  maxFragmentedMessageBytes: 128 * 1024 * 1024,
  // One per concurrently sending BEAM process with a big message; 256 is far above normal traffic.
  maxFragmentSequences: 256,
};

export type DistFrameErrorCode =
  /** The frame does not start as the negotiated encoding requires. */
  | 'bad_header'
  /**
   * A truncated atom cache section of a header, or references from a peer that did not
   * negotiate DIST_HDR_ATOM_CACHE.
   */
  | 'atom_cache_refs'
  /** An atom cache reference to a slot no earlier header bound. */
  | 'atom_cache_miss'
  /** A continuation for an unknown sequence, out of order, or a second start of a live sequence. */
  | 'bad_fragment'
  /** A fragmented message over `maxFragmentedMessageBytes`. */
  | 'fragment_too_large'
  /** More than `maxFragmentSequences` sequences in progress. */
  | 'too_many_fragment_sequences'
  /** Bytes left after the control message and payload. */
  | 'trailing_bytes'
  /** A compressed term (131 80) as control message or payload. */
  | 'compressed_term';

/** A frame that is not a valid distribution message. The connection is dropped. */
export class DistFrameError extends Error {
  readonly code: DistFrameErrorCode;
  constructor(code: DistFrameErrorCode, message: string) {
    super(message);
    this.name = 'DistFrameError';
    this.code = code;
  }
}

interface Sequence {
  /** The FragmentId the next continuation must carry. */
  next: bigint;
  readonly parts: Buffer[];
  bytes: number;
  /** The atoms of the start fragment's header. */
  readonly refs: readonly Atom[] | undefined;
}

/** Reassembles fragmented messages of one connection. */
export class FragmentAssembler {
  private readonly limits: FragmentLimits;
  private readonly sequences = new Map<bigint, Sequence>();
  private held = 0;

  constructor(limits: Partial<FragmentLimits> = {}) {
    this.limits = { ...fragmentDefaults, ...limits };
  }

  /** Sequences in progress. */
  get pendingSequences(): number {
    return this.sequences.size;
  }

  /** Bytes held by sequences in progress. */
  get pendingBytes(): number {
    return this.held;
  }

  /**
   * A start fragment with `fragments` parts in all (its FragmentId). Returns the whole message
   * body when it is the only fragment, else undefined.
   */
  start(
    seq: bigint,
    fragments: bigint,
    part: Buffer,
    refs: readonly Atom[] | undefined = undefined,
  ): Buffer | undefined {
    if (fragments === 1n) return part;
    if (fragments < 1n) throw new DistFrameError('bad_fragment', `fragment start with id ${fragments}`);
    if (this.sequences.has(seq)) throw new DistFrameError('bad_fragment', `sequence ${seq} started twice`);
    if (this.sequences.size >= this.limits.maxFragmentSequences) {
      throw new DistFrameError(
        'too_many_fragment_sequences',
        `more than ${this.limits.maxFragmentSequences} fragmented messages in progress`,
      );
    }
    this.checkSize(part.length, seq);
    this.sequences.set(seq, { next: fragments - 1n, parts: [part], bytes: part.length, refs });
    this.held += part.length;
    return undefined;
  }

  /** A continuation fragment. Returns the whole message body after the last one, else undefined. */
  continue(seq: bigint, fragmentId: bigint, part: Buffer): Buffer | undefined {
    const s = this.sequences.get(seq);
    if (s === undefined) throw new DistFrameError('bad_fragment', `continuation of unknown sequence ${seq}`);
    if (fragmentId !== s.next) {
      throw new DistFrameError('bad_fragment', `sequence ${seq}: fragment ${fragmentId}, expected ${s.next}`);
    }
    this.checkSize(s.bytes + part.length, seq);
    s.parts.push(part);
    s.bytes += part.length;
    this.held += part.length;
    if (fragmentId > 1n) {
      s.next = fragmentId - 1n;
      return undefined;
    }
    this.sequences.delete(seq);
    this.held -= s.bytes;
    return Buffer.concat(s.parts, s.bytes);
  }

  /** The atoms of sequence `seq`'s header (read them before its last {@link continue}). */
  refsOf(seq: bigint): readonly Atom[] | undefined {
    return this.sequences.get(seq)?.refs;
  }

  /** Drops every incomplete sequence (the connection closed). */
  clear(): void {
    this.sequences.clear();
    this.held = 0;
  }

  private checkSize(bytes: number, seq: bigint): void {
    if (bytes > this.limits.maxFragmentedMessageBytes) {
      throw new DistFrameError(
        'fragment_too_large',
        `sequence ${seq} exceeds maxFragmentedMessageBytes ${this.limits.maxFragmentedMessageBytes}`,
      );
    }
  }
}

/** What decoding needs of a term reader (`TermReader` from src/term satisfies it). */
export interface TermSource {
  /** `atomRefs`: the message's atom cache references, which ATOM_CACHE_REF (82) indexes. */
  reset(bytes: Uint8Array, offset: number, atomRefs?: readonly Atom[]): void;
  readonly offset: number;
  /** A term preceded by the 131 version byte. */
  readVersioned(): Term;
  /** A term without version byte. */
  readTerm(): Term;
}

/** A decoded message: the control term and its payload (undefined when the frame had none). */
export interface DistMessage {
  control: Term;
  payload: Term | undefined;
}

/**
 * Decodes one non-empty frame into `out`. Returns false when the frame was a fragment of a
 * message not yet complete. Throws {@link DistFrameError} and the reader's decode errors.
 *
 * `out` and `reader` are reused across frames so the hot path allocates only the terms.
 * `atomCache` is the connection's when DIST_HDR_ATOM_CACHE was negotiated; without it a header
 * with references is an error.
 */
export function readDistFrame(
  frame: Buffer,
  distHeader: boolean,
  reader: TermSource,
  assembler: FragmentAssembler,
  out: DistMessage,
  atomCache?: AtomCache,
): boolean {
  if (!distHeader) {
    if (frame[0] !== PASS_THROUGH) {
      throw new DistFrameError('bad_header', `pass-through frame starts with ${frame[0]}, expected 112`);
    }
    // The BEAM refuses compressed terms (131 80) at the top level of a message; so do we.
    if (frame[2] === COMPRESSED) throw compressed();
    reader.reset(frame, 1);
    out.control = reader.readVersioned();
    if (reader.offset < frame.length) {
      if (frame[reader.offset + 1] === COMPRESSED) throw compressed();
      out.payload = reader.readVersioned();
    } else {
      out.payload = undefined;
    }
    if (reader.offset !== frame.length) throw trailing(frame.length - reader.offset);
    return true;
  }
  if (frame[0] !== VERSION_MAGIC) {
    throw new DistFrameError('bad_header', `frame starts with ${frame[0]}, expected 131`);
  }
  if (frame.length < 3) throw new DistFrameError('bad_header', 'short distribution header');
  let body: Buffer | undefined;
  let refs: readonly Atom[] | undefined;
  switch (frame[1]) {
    case DIST_HEADER: {
      const n = frame[2]!;
      if (n === 0) return readBody(frame, 3, reader, out, undefined);
      if (atomCache === undefined) throw atomCacheRefs(n);
      const h = atomCache.read(frame, 3, n);
      return readBody(frame, h.end, reader, out, h.refs);
    }
    case DIST_FRAG_HEADER: {
      if (frame.length < 19) throw new DistFrameError('bad_header', 'short fragment header');
      const n = frame[18]!;
      let start = 19;
      if (n !== 0) {
        if (atomCache === undefined) throw atomCacheRefs(n);
        const h = atomCache.read(frame, 19, n);
        refs = h.refs;
        start = h.end;
      }
      body = assembler.start(
        frame.readBigUInt64BE(2),
        frame.readBigUInt64BE(10),
        frame.subarray(start),
        refs,
      );
      break;
    }
    case DIST_FRAG_CONT: {
      if (frame.length < 18) throw new DistFrameError('bad_header', 'short fragment header');
      const seq = frame.readBigUInt64BE(2);
      refs = assembler.refsOf(seq);
      body = assembler.continue(seq, frame.readBigUInt64BE(10), frame.subarray(18));
      break;
    }
    default:
      throw new DistFrameError('bad_header', `unknown distribution header ${frame[1]}`);
  }
  if (body === undefined) return false;
  return readBody(body, 0, reader, out, refs);
}

function readBody(
  bytes: Buffer,
  offset: number,
  reader: TermSource,
  out: DistMessage,
  refs: readonly Atom[] | undefined,
): boolean {
  reader.reset(bytes, offset, refs);
  out.control = reader.readTerm();
  out.payload = reader.offset < bytes.length ? reader.readTerm() : undefined;
  if (reader.offset !== bytes.length) throw trailing(bytes.length - reader.offset);
  return true;
}

function compressed(): DistFrameError {
  return new DistFrameError('compressed_term', 'compressed term at the top level of a message');
}

function trailing(n: number): DistFrameError {
  return new DistFrameError('trailing_bytes', `${n} bytes after the message`);
}

function atomCacheRefs(n: number): DistFrameError {
  return new DistFrameError(
    'atom_cache_refs',
    `distribution header with ${n} atom cache refs (not negotiated)`,
  );
}

/**
 * Frames (4-byte lengths included) for a message body (control + payload, no header) that
 * exceeds `fragmentSize`: a start fragment and continuations. The parts are views of `body`.
 */
export function fragmentFrames(body: Buffer, seq: bigint, fragmentSize: number = FRAGMENT_SIZE): Buffer[] {
  const count = Math.ceil(body.length / fragmentSize);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const part = body.subarray(i * fragmentSize, Math.min(body.length, (i + 1) * fragmentSize));
    const first = i === 0;
    const head = Buffer.allocUnsafe(first ? 23 : 22);
    head.writeUInt32BE((first ? 19 : 18) + part.length, 0);
    head[4] = VERSION_MAGIC;
    head[5] = first ? DIST_FRAG_HEADER : DIST_FRAG_CONT;
    head.writeBigUInt64BE(seq, 6);
    head.writeBigUInt64BE(BigInt(count - i), 14);
    if (first) head[22] = 0;
    out.push(head, part);
  }
  return out;
}
