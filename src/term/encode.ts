/**
 * Encoder: TypeScript values to the external term format, in the modern forms the BEAM itself
 * emits (smallest integer tag, NEW_FLOAT_EXT, SMALL_ATOM_UTF8_EXT, STRING_EXT for byte lists,
 * NEW_PID_EXT, NEWER_REFERENCE_EXT, NEW_PORT_EXT).
 *
 * `encode` measures a small, plain term first (a walk bounded in bytes and depth), then writes
 * it with plain functions over (buffer, position) into one exactly sized buffer that it returns:
 * one allocation, no copy, no writer object. Any other term goes through a growable
 * {@link TermWriter} (`typeof` tests and `instanceof` chains with the commonest classes first;
 * atoms copy their cached UTF-8 bytes) into a small pooled buffer, copied out exactly sized;
 * binaries of a kilobyte or more skip that buffer and are copied once, into the result. A
 * {@link TermEncoder}, owned by a hot path, writes term after term into blocks it owns and
 * returns views of them. Output is deterministic: the same value always gives the same bytes
 * (maps and objects in iteration order).
 *
 * @module
 */

import { Buffer } from 'node:buffer';
import { deflateSync } from 'node:zlib';
import { BufferView } from './buffer-view.ts';
import { compare, funUniq32 } from './compare.ts';
import { TermEncodeError } from './errors.ts';
import {
  ATOM_UTF8_EXT,
  BINARY_EXT,
  BIT_BINARY_EXT,
  COMPRESSED,
  EXPORT_EXT,
  INTEGER_EXT,
  LARGE_BIG_EXT,
  LARGE_TUPLE_EXT,
  LIST_EXT,
  MAP_EXT,
  NEW_FLOAT_EXT,
  NEW_FUN_EXT,
  NEW_PID_EXT,
  NEW_PORT_EXT,
  NEWER_REFERENCE_EXT,
  NIL_EXT,
  SMALL_ATOM_UTF8_EXT,
  SMALL_BIG_EXT,
  SMALL_INTEGER_EXT,
  SMALL_TUPLE_EXT,
  STRING_EXT,
  V4_PORT_EXT,
  VERSION,
} from './tags.ts';
import {
  Atom,
  BitBinary,
  ExportFun,
  Float,
  Fun,
  ImproperList,
  MAX_ATOM_CHARS,
  Pid,
  Port,
  Reference,
  type Term,
  Tuple,
} from './types.ts';

/** Options of {@link encode}. */
export interface EncodeOptions {
  /**
   * Compress with zlib (`true` = level 6, or a level 1-9), as `term_to_binary(T, [compressed])`.
   * Like the BEAM, the compressed form is returned only when it is smaller than the plain one.
   */
  readonly compressed?: boolean | number;
  /** Deepest nesting of containers accepted (a cycle hits it too). Default 1000. */
  readonly maxDepth?: number;
}

/** Default of {@link EncodeOptions.maxDepth}. */
export const DEFAULT_ENCODE_MAX_DEPTH = 1000;

const TRUE_UTF8 = new Uint8Array([116, 114, 117, 101]);
const FALSE_UTF8 = new Uint8Array([102, 97, 108, 115, 101]);
const TWO_32 = 4294967296;
/** The buffer of a writer made with size 0: empty, so nothing is ever written into it. */
const NO_BYTES: Buffer = Buffer.alloc(0);
/** The first buffer of `encode`: most messages fit, and Node's pool serves it without a syscall. */
const ENCODE_START_BYTES = 128;
/** Largest encoding `encode` sizes before it gives up and writes into a growing buffer. */
const SIZE_LIMIT = 16 * 1024;
/** Nesting `encode` sizes before it gives up likewise. */
const SIZE_DEPTH = 16;
/** Largest result `encode` allocates on V8's heap (V8's limit for typed arrays there). */
const ON_HEAP_BYTES = 64;
/** Binaries from this size on are copied once, straight into `encode`'s result. */
const DEFER_BYTES = 1024;
const MAX_U64 = 0xffff_ffff_ffff_ffffn;

/**
 * A growable, reusable byte writer that encodes terms. Grows by doubling; `reset()` keeps the
 * buffer, so one writer per connection allocates only when a message outgrows every earlier one.
 */
export class TermWriter {
  #buf: Buffer;
  #pos = 0;
  #maxDepth: number = DEFAULT_ENCODE_MAX_DEPTH;
  /** Canonical mode (for structural map keys): maps sorted, -0.0 as 0.0, refs without trailing zero words. */
  #canonical = false;
  /**
   * Large binaries written by reference instead of copied: offset, binary, offset, binary, ...
   * Only `encode` turns this on (see {@link TermWriter.deferLargeBinaries}).
   */
  #deferred: (number | Uint8Array)[] | undefined = undefined;
  /** Set by {@link TermWriter.deferLargeBinaries}; the array is made when first needed. */
  #defer = false;
  /** Bytes held in {@link TermWriter.#deferred}. */
  #deferredBytes = 0;
  /** `#buf.buffer` and `#buf.byteOffset`, for {@link TermWriter.share}, and the buffer they are of. */
  #arrayBuffer: ArrayBuffer | undefined = undefined;
  #arrayBufferOffset = 0;
  #arrayBufferOf: Buffer | undefined = undefined;

  /** `initialSize` 0 allocates nothing until the first write. */
  constructor(initialSize = 256) {
    this.#buf = initialSize > 0 ? Buffer.allocUnsafe(initialSize) : NO_BYTES;
  }

  /** Forgets the bytes written; keeps the buffer. */
  reset(): void {
    this.#pos = 0;
    this.#deferred = undefined;
    this.#deferredBytes = 0;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#pos;
  }

  /** @internal Sets the nesting limit for the next writes. */
  setMaxDepth(maxDepth: number): void {
    this.#maxDepth = maxDepth;
  }

  /** @internal Switches canonical mode (used for structural map keys). */
  setCanonical(canonical: boolean): void {
    this.#canonical = canonical;
  }

  u8(v: number): void {
    if (this.#pos + 1 > this.#buf.length) this.#grow(1);
    this.#buf[this.#pos++] = v;
  }

  u16(v: number): void {
    if (this.#pos + 2 > this.#buf.length) this.#grow(2);
    const b = this.#buf;
    const p = this.#pos;
    b[p] = v >>> 8;
    b[p + 1] = v;
    this.#pos = p + 2;
  }

  u32(v: number): void {
    if (this.#pos + 4 > this.#buf.length) this.#grow(4);
    const b = this.#buf;
    const p = this.#pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.#pos = p + 4;
  }

  u64(v: bigint): void {
    if (this.#pos + 8 > this.#buf.length) this.#grow(8);
    this.#buf.writeBigUInt64BE(BigInt.asUintN(64, v), this.#pos);
    this.#pos += 8;
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    if (this.#pos + n > this.#buf.length) this.#grow(n);
    const buf = this.#buf;
    let p = this.#pos;
    if (n < 48) {
      for (let i = 0; i < n; i++) buf[p++] = b[i]!;
    } else {
      buf.set(b, p);
      p += n;
    }
    this.#pos = p;
  }

  /** Writes 131 then the term. */
  writeVersioned(term: Term): void {
    this.u8(VERSION);
    this.writeTerm(term);
  }

  /** Writes the term without a version byte (the form used inside distribution headers). */
  writeTerm(term: Term): void {
    const start = this.#pos;
    const deferred = this.#deferred?.length ?? 0;
    const deferredBytes = this.#deferredBytes;
    try {
      this.#term(term, 0);
    } catch (e) {
      this.#pos = start;
      if (this.#deferred !== undefined) {
        this.#deferred.length = deferred;
        this.#deferredBytes = deferredBytes;
      }
      throw asEncodeError(e);
    }
  }

  /** A view of the bytes written so far; valid until the next write or reset. */
  view(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  /** A copy of the bytes written, safe to keep. */
  finish(): Buffer {
    if (this.#deferredBytes > 0) return this.#assemble(0);
    const n = this.#pos;
    const out = allocateResult(n);
    const b = this.#buf;
    // A loop beats the native copy's call overhead on the short encodings that are most common.
    if (n <= 64) for (let i = 0; i < n; i++) out[i] = b[i]!;
    else b.copy(out, 0, 0, n);
    return out;
  }

  /** @internal Replaces the buffer with a fresh one of `size` bytes and forgets what was written. */
  allocate(size: number): void {
    this.#buf = Buffer.allocUnsafe(size);
    this.#pos = 0;
  }

  /**
   * @internal For {@link TermEncoder}: the bytes written from `start` on, as a Buffer of their
   * own when large binaries were deferred (then forgets them: the position goes back to
   * `start`), else a view of them (see {@link TermWriter.share}).
   */
  takeFrom(start: number): Buffer {
    if (this.#deferredBytes === 0) return this.share(start, this.#pos);
    const out = this.#assemble(start);
    this.#pos = start;
    this.#deferred = undefined;
    this.#deferredBytes = 0;
    return out;
  }

  /** @internal Bytes the buffer holds, written or not. */
  get capacity(): number {
    return this.#buf.length;
  }

  /**
   * @internal A Buffer over bytes `[start, end)` written so far, sharing their memory: the
   * bytes stay valid as long as the writer is not reset (growing copies them, but the view keeps
   * the old memory).
   */
  share(start: number, end: number): Buffer {
    const b = this.#buf;
    // `buffer` and `byteOffset` are slow getters: read them once per buffer.
    let ab = this.#arrayBuffer;
    if (ab === undefined || this.#arrayBufferOf !== b) {
      ab = this.#arrayBuffer = b.buffer as ArrayBuffer;
      this.#arrayBufferOffset = b.byteOffset;
      this.#arrayBufferOf = b;
    }
    return new BufferView(ab, this.#arrayBufferOffset + start, end - start) as unknown as Buffer;
  }

  /**
   * @internal From now on, binaries of {@link DEFER_BYTES} or more are not copied in as they
   * are written, but once, by `finish()`, straight into the result. Makes `view()` meaningless.
   */
  deferLargeBinaries(): void {
    this.#defer = true;
  }

  /** `finish()` with deferred binaries: the written bytes with each binary spliced in at its offset. */
  #assemble(start: number): Buffer {
    const d = this.#deferred!;
    const out = allocateResult(this.#pos - start + this.#deferredBytes);
    let from = start;
    let to = 0;
    for (let i = 0; i < d.length; i += 2) {
      const at = d[i] as number;
      const bin = d[i + 1] as Uint8Array;
      this.#buf.copy(out, to, from, at);
      to += at - from;
      out.set(bin, to);
      to += bin.length;
      from = at;
    }
    this.#buf.copy(out, to, from, this.#pos);
    return out;
  }

  #grow(need: number): void {
    const old = this.#buf;
    // Double for a run of small writes; one large write gets what it needs (and some slack).
    const size = Math.max(old.length * 2, this.#pos + need + 64);
    const buf = Buffer.allocUnsafe(size);
    old.copy(buf, 0, 0, this.#pos);
    this.#buf = buf;
  }

  #ensure(n: number): void {
    if (this.#pos + n > this.#buf.length) this.#grow(n);
  }

  // Type tests are `typeof x === '...'` chains, not a `switch (typeof x)`: V8 compiles each
  // test to a type check, but a switch to a call that builds the type's name.
  #term(term: Term, depth: number): void {
    if (typeof term === 'object') {
      if (term === null) throw new TermEncodeError('unencodable', 'null has no Erlang counterpart');
      this.#object(term, depth);
    } else if (typeof term === 'number') {
      this.#number(term);
    } else if (typeof term === 'string') {
      this.#string(term);
    } else if (typeof term === 'boolean') {
      this.#atomUtf8(term ? TRUE_UTF8 : FALSE_UTF8);
    } else if (typeof term === 'bigint') {
      this.#bigint(term);
    } else {
      throw new TermEncodeError('unencodable', `a ${typeof term} has no Erlang counterpart`);
    }
  }

  #object(term: object, depth: number): void {
    // Commonest classes first. `instanceof` measured faster here than dispatching on
    // `term.constructor`, a megamorphic load at this site. Binaries are told apart first by
    // `ArrayBuffer.isView`, one type check: their prototype chains are long, and each failed
    // `instanceof` walks all of it.
    if (ArrayBuffer.isView(term)) {
      if (term instanceof Uint8Array) this.#binary(term);
      else throw new TermEncodeError('unencodable', `a ${term.constructor.name} has no Erlang counterpart`);
    } else if (term instanceof Atom) {
      this.#atom(term);
    } else if (term instanceof Tuple) {
      this.#tuple(term.elements, depth);
    } else if (Array.isArray(term)) {
      this.#list(term as readonly Term[], depth);
    } else if (term instanceof Map) {
      this.#map(term as ReadonlyMap<Term, Term>, depth);
    } else if (term instanceof Float) {
      this.#float(term.value);
    } else if (term instanceof Pid) {
      this.#pid(term);
    } else if (term instanceof Reference) {
      this.#reference(term);
    } else if (term instanceof ImproperList) {
      this.#improper(term, depth);
    } else if (term instanceof BitBinary) {
      this.#bitBinary(term);
    } else if (term instanceof Port) {
      this.#port(term);
    } else if (term instanceof ExportFun) {
      this.#exportFun(term);
    } else if (term instanceof Fun) {
      if (this.#canonical) this.#canonicalFun(term, depth);
      else this.bytes(term.bytes);
    } else {
      const proto: unknown = Object.getPrototypeOf(term);
      if (proto !== Object.prototype && proto !== null) {
        const name = (term as { constructor?: { name?: unknown } }).constructor?.name;
        throw new TermEncodeError(
          'unencodable',
          `an instance of ${typeof name === 'string' ? name : 'a class'} has no Erlang counterpart`,
        );
      }
      this.#plainObject(term as Record<string, Term>, depth);
    }
  }

  #number(n: number): void {
    if ((n | 0) === n) {
      if (n >= 0 && n < 256) {
        this.#ensure(2);
        this.#buf[this.#pos] = SMALL_INTEGER_EXT;
        this.#buf[this.#pos + 1] = n;
        this.#pos += 2;
      } else {
        this.#ensure(5);
        const b = this.#buf;
        const p = this.#pos;
        this.#pos = putTagU32(b, p, INTEGER_EXT, n);
      }
    } else if (Number.isInteger(n)) {
      if (Number.isSafeInteger(n)) this.#safeBig(n);
      else this.#bigint(BigInt(n));
    } else if (Number.isFinite(n)) {
      this.#float(n);
    } else {
      throw new TermEncodeError('unencodable', `${n} is not an Erlang number`);
    }
  }

  /** A safe integer outside the 32-bit range: SMALL_BIG_EXT with up to 7 digits. */
  #safeBig(n: number): void {
    let digits = 0;
    for (let m = Math.abs(n); m > 0; m = Math.floor(m / 256)) digits++;
    this.#ensure(3 + digits);
    const b = this.#buf;
    const p = this.#pos;
    b[p] = SMALL_BIG_EXT;
    b[p + 2] = n < 0 ? 1 : 0;
    let mag = Math.abs(n);
    let k = 0;
    while (mag > 0) {
      const d = mag % 256;
      b[p + 3 + k++] = d;
      mag = (mag - d) / 256;
    }
    b[p + 1] = k;
    this.#pos = p + 3 + k;
  }

  #bigint(v: bigint): void {
    if (v >= -2147483648n && v <= 2147483647n) {
      this.#number(Number(v));
      return;
    }
    const neg = v < 0n;
    const mag = neg ? -v : v;
    if (mag <= 9007199254740991n) {
      this.#safeBig(Number(v));
      return;
    }
    if (mag <= MAX_U64) {
      this.#ensure(mag < 1n << 40n ? 8 : mag < 1n << 48n ? 9 : mag < 1n << 56n ? 10 : 11);
      const b = this.#buf;
      const p = this.#pos;
      b[p] = SMALL_BIG_EXT;
      b[p + 2] = neg ? 1 : 0;
      let lo = Number(mag & 0xffffffffn);
      let hi = Number(mag >> 32n);
      let k = 0;
      for (let i = 0; i < 4; i++) {
        b[p + 3 + k++] = lo & 0xff;
        lo >>>= 8;
      }
      while (hi > 0) {
        b[p + 3 + k++] = hi & 0xff;
        hi >>>= 8;
      }
      b[p + 1] = k;
      this.#pos = p + 3 + k;
      return;
    }
    let hex = mag.toString(16);
    if (hex.length & 1) hex = `0${hex}`;
    const n = hex.length >>> 1;
    const be = Buffer.from(hex, 'hex');
    if (n < 256) {
      this.#ensure(3 + n);
      this.#buf[this.#pos] = SMALL_BIG_EXT;
      this.#buf[this.#pos + 1] = n;
      this.#pos += 2;
    } else {
      this.#ensure(6 + n);
      this.#buf[this.#pos++] = LARGE_BIG_EXT;
      this.u32(n);
    }
    const b = this.#buf;
    let p = this.#pos;
    b[p++] = neg ? 1 : 0;
    for (let i = n - 1; i >= 0; i--) b[p++] = be[i]!;
    this.#pos = p;
  }

  #float(v: number): void {
    if (!Number.isFinite(v)) throw new TermEncodeError('unencodable', `${v} is not an Erlang float`);
    // OTP 25 treats -0.0 and 0.0 as the same term; canonical keys must agree.
    if (this.#canonical && v === 0) v = 0;
    this.#ensure(9);
    this.#buf[this.#pos] = NEW_FLOAT_EXT;
    this.#buf.writeDoubleBE(v, this.#pos + 1);
    this.#pos += 9;
  }

  #atom(a: Atom): void {
    const u = a.utf8;
    if (u.length > MAX_ATOM_CHARS && [...a.name].length > MAX_ATOM_CHARS) {
      throw new TermEncodeError('atom_too_long', `atom of ${[...a.name].length} characters`);
    }
    this.#atomUtf8(u);
  }

  #atomUtf8(u: Uint8Array): void {
    const n = u.length;
    // Reserve exactly what is written: encode() sizes its buffer exactly, and a byte too many
    // here would make it grow and copy.
    this.#ensure(n < 256 ? 2 + n : 3 + n);
    const b = this.#buf;
    let p = this.#pos;
    if (n < 256) {
      b[p] = SMALL_ATOM_UTF8_EXT;
      b[p + 1] = n;
      p += 2;
    } else {
      b[p] = ATOM_UTF8_EXT;
      b[p + 1] = n >>> 8;
      b[p + 2] = n;
      p += 3;
    }
    for (let i = 0; i < n; i++) b[p++] = u[i]!;
    this.#pos = p;
  }

  #string(s: string): void {
    const len = s.length;
    if (len < 64) {
      this.#ensure(5 + len);
      const b = this.#buf;
      const start = this.#pos;
      let p = start + 5;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p++] = c;
      }
      if (i === len) {
        b[start] = BINARY_EXT;
        b[start + 1] = 0;
        b[start + 2] = 0;
        b[start + 3] = 0;
        b[start + 4] = len;
        this.#pos = p;
        return;
      }
    }
    if (this.#buf.length - this.#pos < 5 + len * 3) this.#ensure(5 + Buffer.byteLength(s, 'utf8'));
    const start = this.#pos;
    const n = (this.#buf as unknown as FastBuffer).utf8Write(s, start + 5);
    this.#buf[start] = BINARY_EXT;
    this.#pos = start + 1;
    this.u32(n);
    this.#pos = start + 5 + n;
  }

  #binary(bin: Uint8Array): void {
    const n = bin.length;
    if (n >= DEFER_BYTES && this.#defer) {
      this.#ensure(5);
      this.#buf[this.#pos++] = BINARY_EXT;
      this.u32(n);
      this.#deferred ??= [];
      this.#deferred.push(this.#pos, bin);
      this.#deferredBytes += n;
      return;
    }
    this.#ensure(5 + n);
    this.#buf[this.#pos++] = BINARY_EXT;
    this.u32(n);
    this.bytes(bin);
  }

  #bitBinary(bb: BitBinary): void {
    const data = bb.data;
    const bits = bb.bits;
    if (bits === 8) {
      this.#binary(data);
      return;
    }
    const n = data.length;
    this.#ensure(6 + n);
    this.#buf[this.#pos++] = BIT_BINARY_EXT;
    this.u32(n);
    this.#buf[this.#pos++] = bits;
    this.bytes(data);
    // Unused low bits of the last byte are zero on the wire, whatever the buffer holds.
    this.#buf[this.#pos - 1] = data[n - 1]! & ((0xff << (8 - bits)) & 0xff);
  }

  #tuple(elements: readonly Term[], depth: number): void {
    if (++depth > this.#maxDepth) throw tooDeep(this.#maxDepth);
    const n = elements.length;
    this.#ensure(n < 256 ? 2 : 5);
    if (n < 256) {
      this.#buf[this.#pos] = SMALL_TUPLE_EXT;
      this.#buf[this.#pos + 1] = n;
      this.#pos += 2;
    } else {
      this.#buf[this.#pos++] = LARGE_TUPLE_EXT;
      this.u32(n);
    }
    for (let i = 0; i < n; i++) {
      const e = elements[i]!;
      // Atoms and small integers, the commonest elements, without a call.
      if (e instanceof Atom && e.utf8.length < 256) this.#atomUtf8(e.utf8);
      else this.#term(e, depth);
    }
  }

  #list(elements: readonly Term[], depth: number): void {
    const n = elements.length;
    if (n === 0) {
      this.u8(NIL_EXT);
      return;
    }
    if (++depth > this.#maxDepth) throw tooDeep(this.#maxDepth);
    if (n <= 65535 && isByteList(elements)) {
      this.#ensure(3 + n);
      const b = this.#buf;
      let p = this.#pos;
      b[p] = STRING_EXT;
      b[p + 1] = n >>> 8;
      b[p + 2] = n;
      p += 3;
      for (let i = 0; i < n; i++) b[p++] = Number(elements[i]);
      this.#pos = p;
      return;
    }
    this.#ensure(5);
    this.#buf[this.#pos++] = LIST_EXT;
    this.u32(n);
    for (let i = 0; i < n; i++) this.#term(elements[i]!, depth);
    this.u8(NIL_EXT);
  }

  #improper(list: ImproperList, depth: number): void {
    let elements = list.elements;
    let tail = list.tail;
    // `[a | [b | c]]` is `[a, b | c]`: flatten list tails so equal terms encode alike.
    if (Array.isArray(tail) || tail instanceof ImproperList) {
      const flat = [...elements];
      while (Array.isArray(tail) || tail instanceof ImproperList) {
        if (Array.isArray(tail)) {
          for (const e of tail as readonly Term[]) flat.push(e);
          tail = [];
          break;
        }
        for (const e of tail.elements) flat.push(e);
        tail = tail.tail;
      }
      if (Array.isArray(tail)) {
        this.#list(flat, depth);
        return;
      }
      elements = flat;
    }
    if (++depth > this.#maxDepth) throw tooDeep(this.#maxDepth);
    const n = elements.length;
    this.#ensure(5);
    this.#buf[this.#pos++] = LIST_EXT;
    this.u32(n);
    for (let i = 0; i < n; i++) this.#term(elements[i]!, depth);
    this.#term(tail, depth);
  }

  #map(map: ReadonlyMap<Term, Term>, depth: number): void {
    if (++depth > this.#maxDepth) throw tooDeep(this.#maxDepth);
    this.#ensure(5);
    this.#buf[this.#pos++] = MAP_EXT;
    this.u32(map.size);
    if (this.#canonical) {
      const entries = [...map.entries()].sort(byKey);
      for (const [k, v] of entries) {
        this.#term(k, depth);
        this.#term(v, depth);
      }
      return;
    }
    for (const [k, v] of map) {
      this.#term(k, depth);
      this.#term(v, depth);
    }
  }

  #plainObject(obj: Record<string, Term>, depth: number): void {
    if (++depth > this.#maxDepth) throw tooDeep(this.#maxDepth);
    const keys = Object.keys(obj);
    if (this.#canonical) keys.sort(compareUtf8);
    const n = keys.length;
    this.#ensure(5);
    this.#buf[this.#pos++] = MAP_EXT;
    this.u32(n);
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      this.#string(k);
      this.#term(obj[k]!, depth);
    }
  }

  #pid(pid: Pid): void {
    const { node, id, serial, creation } = pid;
    if (!isU32(id) || !isU32(serial) || !isU32(creation)) {
      throw new TermEncodeError('invalid', `pid fields must be 32-bit unsigned integers: ${pid}`);
    }
    this.u8(NEW_PID_EXT);
    this.#atom(node);
    this.#ensure(12);
    this.u32(id);
    this.u32(serial);
    this.u32(creation);
  }

  #reference(ref: Reference): void {
    let ids = ref.ids;
    // The BEAM makes 3 words; OTP 25 corrupts its memory on a 0-word reference, so we never send one.
    if (ids.length < 1 || ids.length > 5) {
      throw new TermEncodeError('invalid', `a reference has 1 to 5 words, not ${ids.length}`);
    }
    // Indexed loops: an iterator here allocated on every reference encoded.
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (!isU32(id)) throw new TermEncodeError('invalid', `reference words must be 32-bit unsigned: ${id}`);
    }
    if (!isU32(ref.creation)) throw new TermEncodeError('invalid', `bad reference creation ${ref.creation}`);
    if (this.#canonical) {
      // The BEAM compares reference words as one zero-padded number.
      let n = ids.length;
      while (n > 1 && ids[n - 1] === 0) n--;
      ids = ids.slice(0, n);
    }
    this.#ensure(3);
    this.#buf[this.#pos++] = NEWER_REFERENCE_EXT;
    this.u16(ids.length);
    this.#atom(ref.node);
    this.#ensure(4 + 4 * ids.length);
    this.u32(ref.creation);
    for (let i = 0; i < ids.length; i++) this.u32(ids[i] as number);
  }

  #port(port: Port): void {
    const { id, creation } = port;
    if (!isU32(creation)) throw new TermEncodeError('invalid', `bad port creation ${creation}`);
    const big = typeof id === 'bigint';
    if (big ? id < 0n || id > MAX_U64 : !Number.isSafeInteger(id) || id < 0) {
      throw new TermEncodeError('invalid', `a port id is a 64-bit unsigned integer, not ${id}`);
    }
    if (big ? id >= 4294967296n : id >= TWO_32) {
      this.u8(V4_PORT_EXT);
      this.#atom(port.node);
      this.u64(BigInt(id));
    } else {
      this.u8(NEW_PORT_EXT);
      this.#atom(port.node);
      this.u32(Number(id));
    }
    this.u32(creation);
  }

  /**
   * The canonical form of a local fun: only what `equals` looks at (module, Index, OldUniq modulo
   * 2^32 and the free variables), so funs the BEAM finds `=:=` are one map key. Tag 112 and then fields
   * in an order of our own: canonical text is compared, never decoded.
   */
  #canonicalFun(f: Fun, depth: number): void {
    if (++depth > this.#maxDepth) throw tooDeep(this.#maxDepth);
    this.u8(NEW_FUN_EXT);
    this.u32(f.index);
    this.#atom(f.module);
    this.u32(funUniq32(f.oldUniq) >>> 0);
    this.u32(f.free.length);
    for (const v of f.free) this.#term(v, depth);
  }

  #exportFun(f: ExportFun): void {
    if (!Number.isInteger(f.arity) || f.arity < 0 || f.arity > 255) {
      throw new TermEncodeError('invalid', `fun arity must be 0..255, not ${f.arity}`);
    }
    this.u8(EXPORT_EXT);
    this.#atom(f.module);
    this.#atom(f.name);
    this.u8(SMALL_INTEGER_EXT);
    this.u8(f.arity);
  }
}

/** Options of a {@link TermEncoder}. */
export interface TermEncoderOptions {
  /** Deepest nesting of containers accepted (a cycle hits it too). Default 1000. */
  readonly maxDepth?: number;
  /**
   * Size of the blocks the results are carved from. Default 16 KiB. A result keeps its whole
   * block in memory as long as it lives (as a slice of Node's pool keeps its pool).
   */
  readonly blockBytes?: number;
}

/** Default of {@link TermEncoderOptions.blockBytes}. */
const ENCODER_BLOCK_BYTES = 16 * 1024;

/**
 * `term_to_binary` for a hot path that encodes many terms one by one: `encoder.encode(term)`
 * gives the same bytes as {@link encode}, as a Buffer the caller may keep, but costs less
 * per call. The encoder writes each term straight after the previous one into a block of memory
 * it owns, and returns a view of those bytes; it never writes over them again, and starts a new
 * block when one is nearly full. A result is thus the encoder's writing buffer itself: no sizing
 * pass, no allocation but the view, no copy.
 *
 * Each owner (a connection, a process, a service) makes its own encoder; nothing is shared.
 * Not for a few large terms kept for a long time: a small result kept alive keeps its block too.
 *
 * @example
 * const enc = new TermEncoder();
 * socket.write(enc.encode(tuple(atom('msg'), 42)));
 */
export class TermEncoder {
  readonly #writer: TermWriter;
  readonly #blockBytes: number;

  constructor(options?: TermEncoderOptions) {
    const blockBytes = options?.blockBytes ?? ENCODER_BLOCK_BYTES;
    if (!Number.isInteger(blockBytes) || blockBytes < 64) {
      throw new RangeError(`blockBytes must be an integer of 64 or more, not ${blockBytes}`);
    }
    this.#blockBytes = blockBytes;
    this.#writer = new TermWriter(0);
    // A large binary is copied once, into a result of its own, rather than into the block.
    this.#writer.deferLargeBinaries();
    if (options?.maxDepth !== undefined) this.#writer.setMaxDepth(options.maxDepth);
  }

  /** `term_to_binary(term)`: 131 and the term, as a Buffer of its own bytes (see the class). */
  encode(term: Term): Buffer {
    const w = this.#writer;
    const block = this.#blockBytes;
    // A new block when a quarter of this one is left: earlier results keep the old one.
    if (w.capacity - w.length < block >>> 2) w.allocate(block);
    const start = w.length;
    // Should the term fail to encode, this byte stays unused: no result refers to it.
    w.u8(VERSION);
    w.writeTerm(term);
    return w.takeFrom(start);
  }
}

/** Buffer methods Node has always had but does not declare: `write`/`toString` without argument parsing. */
interface FastBuffer {
  utf8Write(s: string, offset: number): number;
  latin1Slice(start: number, end: number): string;
}

/** A tag and a 32-bit big-endian count at `p`; returns the offset after them. */
function putTagU32(b: Uint8Array, p: number, tag: number, n: number): number {
  b[p] = tag;
  b[p + 1] = n >>> 24;
  b[p + 2] = n >>> 16;
  b[p + 3] = n >>> 8;
  b[p + 4] = n;
  return p + 5;
}

function isU32(v: number): boolean {
  return typeof v === 'number' && v >>> 0 === v;
}

/** True when every element is an integer 0..255: the BEAM sends such lists as STRING_EXT. */
function isByteList(elements: readonly Term[]): boolean {
  for (let i = 0; i < elements.length; i++) {
    const e = elements[i];
    if (typeof e === 'number') {
      if ((e & 0xff) !== e) return false;
    } else if (typeof e !== 'bigint' || e < 0n || e > 255n) {
      return false;
    }
  }
  return true;
}

function byKey(a: readonly [Term, Term], b: readonly [Term, Term]): number {
  return compare(a[0], b[0]);
}

/** Code point order of two strings, which is the byte order of their UTF-8. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function tooDeep(maxDepth: number): TermEncodeError {
  return new TermEncodeError('too_deep', `nesting deeper than ${maxDepth} (or a cycle)`);
}

function asEncodeError(e: unknown): TermEncodeError {
  if (e instanceof TermEncodeError) return e;
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return new TermEncodeError('too_deep', 'nesting too deep for the stack', { cause: e });
  }
  return new TermEncodeError('invalid', e instanceof Error ? e.message : String(e), { cause: e });
}

/** `term_to_binary`: 131 and the term, or the compressed form (see {@link EncodeOptions.compressed}). */
export function encode(term: Term, options?: EncodeOptions): Buffer {
  if (options === undefined) {
    // Most terms are small and plain: size them, allocate once, write once, no copy.
    const size = sizeOf(term, 0);
    if (size >= 0) {
      const out = allocateResult(size + 1);
      out[0] = VERSION;
      let end = -1;
      try {
        end = writeSized(out, 1, term);
      } catch {
        // A term that changed between the two walks (a Map subclass whose iterator lies, say):
        // the general writer below encodes it, or reports what is wrong with it.
      }
      if (end === size + 1) return out;
    }
    return encodeGrowing(new TermWriter(0), term);
  }
  const w = new TermWriter(0);
  if (options.maxDepth !== undefined) w.setMaxDepth(options.maxDepth);
  const c = options.compressed;
  if (c !== undefined && c !== false) {
    const level = c === true ? 6 : c;
    if (!Number.isInteger(level) || level < 1 || level > 9) {
      throw new TermEncodeError('invalid', `compression level must be 1..9, not ${level}`);
    }
    w.allocate(ENCODE_START_BYTES);
    return compressed(w, term, level);
  }
  return encodeGrowing(w, term);
}

/**
 * A Buffer of `n` bytes for a result. Up to {@link ON_HEAP_BYTES}, a {@link BufferView} of its
 * own: V8 puts such a small typed array on its own heap, which is about twice as cheap as a slice
 * of Node's pool (`allocUnsafe`); larger, `allocUnsafe`, whose pool serves up to 4 KiB without a
 * syscall.
 */
function allocateResult(n: number): Buffer {
  return n <= ON_HEAP_BYTES ? (new BufferView(n) as unknown as Buffer) : Buffer.allocUnsafe(n);
}

// --- The sized path of `encode` ---
//
// Plain functions over (buffer, position), no writer object and no capacity checks: `sizeOf`
// has measured the term exactly, and says -1 for any term it does not know how to measure
// cheaply (other classes, integers beyond 32 bits, non-finite numbers, deep or large terms),
// which then goes to the TermWriter. Both walks handle the same values the same way as it.

/**
 * The exact size of `t` encoded, or -1 (see above). Gives up past {@link SIZE_LIMIT} bytes: every
 * term visited adds a byte at least, so that bounds the walk without a counter to carry along.
 */
function sizeOf(t: Term, depth: number): number {
  if (typeof t !== 'object') {
    if (typeof t === 'number') {
      if ((t | 0) === t) return t >= 0 && t < 256 ? 2 : 5;
      return Number.isInteger(t) || !Number.isFinite(t) ? -1 : 9;
    }
    if (typeof t === 'string') return 5 + utf8Length(t);
    if (typeof t === 'boolean') return t ? 6 : 7;
    return -1;
  }
  if (t === null || depth > SIZE_DEPTH) return -1;
  if (ArrayBuffer.isView(t)) return t instanceof Uint8Array ? 5 + t.length : -1;
  if (t instanceof Atom) {
    const n = t.utf8.length;
    return n < 256 ? 2 + n : -1;
  }
  if (t instanceof Tuple) {
    const els = t.elements;
    const size = sizeElements(els, depth + 1);
    return size < 0 ? -1 : size + (els.length < 256 ? 2 : 5);
  }
  if (Array.isArray(t)) {
    const els = t as readonly Term[];
    const n = els.length;
    if (n === 0) return 1;
    if (n <= 65535 && isByteList(els)) return 3 + n;
    const size = sizeElements(els, depth + 1);
    return size < 0 ? -1 : size + 6;
  }
  if (t instanceof Map) {
    let size = 5;
    for (const [k, v] of t as ReadonlyMap<Term, Term>) {
      const ks = sizeOf(k, depth + 1);
      if (ks < 0) return -1;
      const vs = sizeOf(v, depth + 1);
      if (vs < 0) return -1;
      size += ks + vs;
      if (size > SIZE_LIMIT) return -1;
    }
    return size;
  }
  if (t instanceof Float) return Number.isFinite(t.value) ? 9 : -1;
  return -1;
}

/** Sizes of `els` summed, or -1; small integers and atoms, the commonest, without a call. */
function sizeElements(els: readonly Term[], depth: number): number {
  let size = 0;
  for (let i = 0; i < els.length; i++) {
    const e = els[i]!;
    if (typeof e === 'number' && (e | 0) === e) {
      size += e >= 0 && e < 256 ? 2 : 5;
    } else if (e instanceof Atom && e.utf8.length < 256) {
      size += 2 + e.utf8.length;
    } else if (ArrayBuffer.isView(e) && e instanceof Uint8Array) {
      size += 5 + e.length;
    } else {
      const s = sizeOf(e, depth);
      if (s < 0) return -1;
      size += s;
      if (size > SIZE_LIMIT) return -1;
    }
  }
  return size;
}

/** Writes `t`, which {@link sizeOf} has measured, at `p`; returns the position after it. */
function writeSized(b: Buffer, p: number, t: Term): number {
  // Tuples first: most messages are one.
  if (t instanceof Tuple) return writeSizedTuple(b, p, t);
  if (typeof t === 'number') {
    if ((t | 0) === t) {
      if (t >= 0 && t < 256) {
        b[p] = SMALL_INTEGER_EXT;
        b[p + 1] = t;
        return p + 2;
      }
      return putTagU32(b, p, INTEGER_EXT, t);
    }
    b[p] = NEW_FLOAT_EXT;
    b.writeDoubleBE(t, p + 1);
    return p + 9;
  }
  if (typeof t === 'string') return writeSizedString(b, p, t);
  if (typeof t === 'boolean') return writeSizedAtom(b, p, t ? TRUE_UTF8 : FALSE_UTF8);
  const o = t as object;
  if (ArrayBuffer.isView(o)) return writeSizedBinary(b, p, o as Uint8Array);
  if (o instanceof Atom) return writeSizedAtom(b, p, o.utf8);
  if (Array.isArray(o)) {
    const els = o as readonly Term[];
    const n = els.length;
    if (n === 0) {
      b[p] = NIL_EXT;
      return p + 1;
    }
    if (n <= 65535 && isByteList(els)) {
      b[p] = STRING_EXT;
      b[p + 1] = n >>> 8;
      b[p + 2] = n;
      p += 3;
      for (let i = 0; i < n; i++) b[p++] = Number(els[i]);
      return p;
    }
    p = writeSizedElements(b, putTagU32(b, p, LIST_EXT, n), els);
    b[p] = NIL_EXT;
    return p + 1;
  }
  if (o instanceof Map) {
    const map = o as ReadonlyMap<Term, Term>;
    const n = map.size;
    p = putTagU32(b, p, MAP_EXT, n);
    for (const [k, v] of map) {
      p = writeSized(b, p, k);
      p = writeSized(b, p, v);
    }
    return p;
  }
  b[p] = NEW_FLOAT_EXT;
  b.writeDoubleBE((o as Float).value, p + 1);
  return p + 9;
}

function writeSizedElements(b: Buffer, p: number, els: readonly Term[]): number {
  for (let i = 0; i < els.length; i++) {
    const e = els[i]!;
    // Atoms and small integers, the commonest elements, without a call.
    if (e instanceof Atom) {
      p = writeSizedAtom(b, p, e.utf8);
    } else if (typeof e === 'number' && e >= 0 && e < 256 && (e | 0) === e) {
      b[p] = SMALL_INTEGER_EXT;
      b[p + 1] = e;
      p += 2;
    } else if (ArrayBuffer.isView(e)) {
      p = writeSizedBinary(b, p, e as Uint8Array);
    } else {
      p = writeSized(b, p, e);
    }
  }
  return p;
}

function writeSizedTuple(b: Buffer, p: number, t: Tuple): number {
  const els = t.elements;
  const n = els.length;
  if (n < 256) {
    b[p] = SMALL_TUPLE_EXT;
    b[p + 1] = n;
    p += 2;
  } else {
    p = putTagU32(b, p, LARGE_TUPLE_EXT, n);
  }
  return writeSizedElements(b, p, els);
}

/** BINARY_EXT (sizing has checked it is a Uint8Array). */
function writeSizedBinary(b: Buffer, p: number, bin: Uint8Array): number {
  const n = bin.length;
  p = putTagU32(b, p, BINARY_EXT, n);
  if (n >= 48) {
    b.set(bin, p);
    return p + n;
  }
  for (let i = 0; i < n; i++) b[p++] = bin[i]!;
  return p;
}

/** SMALL_ATOM_UTF8_EXT (sizing has checked the length). */
function writeSizedAtom(b: Buffer, p: number, u: Uint8Array): number {
  const n = u.length;
  b[p] = SMALL_ATOM_UTF8_EXT;
  b[p + 1] = n;
  p += 2;
  for (let i = 0; i < n; i++) b[p++] = u[i]!;
  return p;
}

/** A string as a UTF-8 binary. */
function writeSizedString(b: Buffer, p: number, s: string): number {
  const len = s.length;
  const start = p;
  p += 5;
  let i = 0;
  if (len < 64) {
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[p++] = c;
    }
  }
  const n = i === len ? len : (b as unknown as FastBuffer).utf8Write(s, start + 5);
  return putTagU32(b, start, BINARY_EXT, n) + n;
}

/**
 * The other way: one pass into a small buffer from Node's pool that grows as needed, then one
 * exact copy; binaries of {@link DEFER_BYTES} or more are copied once, straight into the result.
 */
function encodeGrowing(w: TermWriter, term: Term): Buffer {
  w.allocate(ENCODE_START_BYTES);
  w.deferLargeBinaries();
  w.writeVersioned(term);
  return w.finish();
}

/** UTF-8 length of a string: a scan for short ASCII text, Node's count otherwise. */
function utf8Length(s: string): number {
  const n = s.length;
  if (n < 64) {
    let i = 0;
    while (i < n && s.charCodeAt(i) < 0x80) i++;
    if (i === n) return n;
  }
  return Buffer.byteLength(s, 'utf8');
}

function compressed(w: TermWriter, term: Term, level: number): Buffer {
  w.writeTerm(term);
  const plain = w.view();
  const packed = deflateSync(plain, { level });
  if (packed.length + 6 >= plain.length + 1) {
    const out = Buffer.allocUnsafe(plain.length + 1);
    out[0] = VERSION;
    plain.copy(out, 1);
    return out;
  }
  const out = Buffer.allocUnsafe(6 + packed.length);
  out[0] = VERSION;
  out[1] = COMPRESSED;
  out.writeUInt32BE(plain.length, 2);
  packed.copy(out, 6);
  return out;
}

/**
 * @internal A string that is equal for two terms exactly when `equals` says they are equal:
 * the canonical encoding (maps sorted, -0.0 as 0.0, trailing zero reference words dropped),
 * as Latin-1 text. Used for structural map keys.
 */
export function canonicalEncoding(term: Term): string {
  const w = new TermWriter(64);
  w.setCanonical(true);
  w.writeTerm(term);
  return (w.view() as unknown as FastBuffer).latin1Slice(0, w.length);
}
