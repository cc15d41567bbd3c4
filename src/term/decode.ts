/**
 * Decoder: external term format to TypeScript values, for untrusted input.
 *
 * Every length is checked against the bytes left before anything is allocated from it, nesting
 * is bounded by `maxDepth`, new atoms by `atomBudget`, sizes by `maxBytes`; a chain of list tails
 * is followed in a loop, not by recursion. Any failure is a {@link TermDecodeError} with a code
 * and the byte offset. Binaries are zero-copy views into the input unless `copyBinaries` is set.
 *
 * @module
 */

import { Buffer } from 'node:buffer';
import { inflateSync } from 'node:zlib';
import { BufferView } from './buffer-view.ts';
import { TermWriter } from './encode.ts';
import { TermDecodeError, type TermDecodeErrorCode } from './errors.ts';
import { TermMap } from './map.ts';
import {
  ATOM_CACHE_REF,
  ATOM_EXT,
  ATOM_UTF8_EXT,
  BINARY_EXT,
  BIT_BINARY_EXT,
  COMPRESSED,
  EXPORT_EXT,
  FLOAT_EXT,
  INTEGER_EXT,
  LARGE_BIG_EXT,
  LARGE_TUPLE_EXT,
  LIST_EXT,
  MAP_EXT,
  NEW_FLOAT_EXT,
  NEW_FUN_EXT,
  NEW_PID_EXT,
  NEW_PORT_EXT,
  NEW_REFERENCE_EXT,
  NEWER_REFERENCE_EXT,
  NIL_EXT,
  PID_EXT,
  PORT_EXT,
  REFERENCE_EXT,
  SMALL_ATOM_EXT,
  SMALL_ATOM_UTF8_EXT,
  SMALL_BIG_EXT,
  SMALL_INTEGER_EXT,
  SMALL_TUPLE_EXT,
  STRING_EXT,
  V4_PORT_EXT,
  VERSION,
} from './tags.ts';
import {
  type Atom,
  atom,
  atomBytesHash,
  BitBinary,
  cacheAtom,
  cachedAtom,
  ExportFun,
  existingAtom,
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

/** Limits of one decode. Remote input is untrusted: every limit has a safe default. */
export interface DecodeOptions {
  /** Longest input, and largest uncompressed size of a compressed term, in bytes. Default 128 MiB. */
  readonly maxBytes?: number;
  /** Deepest nesting of tuples, lists, maps and funs. Default 1000. */
  readonly maxDepth?: number;
  /** How many atoms one term may add to the atom table (atoms already there are free). Default 10 000. */
  readonly atomBudget?: number;
  /** Copy binaries out of the input instead of returning views into it. Default false (zero copy). */
  readonly copyBinaries?: boolean;
}

/** Defaults of {@link DecodeOptions}, each with its reason. */
export const DECODE_DEFAULTS: Required<DecodeOptions> = Object.freeze({
  maxBytes: 128 * 1024 * 1024, // far above any sane message; bounds a zlib bomb's output
  maxDepth: 1000, // deeper than real data gets; recursion at this depth is safe on Node's stack
  atomBudget: 10_000, // plenty for any message; a flood of fresh atoms is an attack
  copyBinaries: false, // zero copy: decoded binaries share the input's memory
});

const TRUE = atom('true');
const FALSE = atom('false');
const MAX_SAFE_BIG = 9007199254740991;
/** Range of a fun's OldIndex and OldUniq: the BEAM's small integers on a 64-bit machine. */
const MIN_FUN_FIELD = -(2n ** 59n);
const MAX_FUN_FIELD = 2n ** 59n - 1n;
/** Smallest encoding of one term: a tag alone (NIL_EXT). Bounds element counts by bytes left. */
const MIN_TERM_BYTES = 1;
/** Longest element array allocated up front; V8 makes slow dictionary arrays past about this. */
const MAX_PREALLOCATED = 65536;
/** The input of a reader that has not been reset yet. Zero-length, so nothing can write to it. */
const NO_INPUT: Buffer = Buffer.alloc(0);
/**
 * The FLOAT_EXT text OTP 25 accepts (checked against erl 25.2.3): an optional sign, digits, a
 * decimal point (`.` or `,`), digits, an optional exponent, and nothing else: no blanks, no
 * `1`, `1.`, `.5` or `1e5`.
 */
const FLOAT_TEXT = /^[+-]?[0-9]+[.,][0-9]+(?:[eE][+-]?[0-9]+)?$/;

/**
 * A reusable decoder. `reset(bytes, offset)` points it at input; `readVersioned()` or
 * `readTerm()` decode one term and advance `offset`. It allocates nothing but the decoded values.
 */
export class TermReader {
  /** Current position in the input. */
  offset = 0;
  #buf: Buffer = NO_INPUT;
  /** `#buf.buffer` and `#buf.byteOffset`, read when the first view is made (the getter is slow). */
  #arrayBuffer: ArrayBufferLike | undefined = undefined;
  #arrayBufferOffset = 0;
  #end = 0;
  readonly #maxBytes: number;
  readonly #maxDepth: number;
  readonly #atomBudget: number;
  readonly #copy: boolean;
  #atomsLeft = 0;
  /** This message's atom cache references (distribution header); undefined outside distribution. */
  #atomRefs: readonly Atom[] | undefined = undefined;
  /** ATOM_CACHE_REFs read so far: a fun that contains one cannot keep its encoding as is. */
  #refsRead = 0;
  /** Element slots this decode may still preallocate; see {@link TermReader.#elements}. */
  #slots = 0;

  constructor(options?: DecodeOptions) {
    this.#maxBytes = options?.maxBytes ?? DECODE_DEFAULTS.maxBytes;
    this.#maxDepth = options?.maxDepth ?? DECODE_DEFAULTS.maxDepth;
    this.#atomBudget = options?.atomBudget ?? DECODE_DEFAULTS.atomBudget;
    this.#copy = options?.copyBinaries ?? DECODE_DEFAULTS.copyBinaries;
  }

  /**
   * Decodes from `bytes` starting at `offset` (the input ends at the end of `bytes`). `atomRefs`
   * are the atoms of a distribution message's header, which `ATOM_CACHE_REF` (82) indexes;
   * without them that tag is an `unknown_tag` error, as in `binary_to_term`.
   */
  reset(bytes: Uint8Array, offset: number, atomRefs?: readonly Atom[]): void {
    this.#atomRefs = atomRefs;
    this.#buf = Buffer.isBuffer(bytes)
      ? bytes
      : (new BufferView(
          bytes.buffer as ArrayBuffer,
          bytes.byteOffset,
          bytes.byteLength,
        ) as unknown as Buffer);
    this.#arrayBuffer = undefined;
    this.#end = bytes.length;
    this.offset = offset;
  }

  /** `#buf[s, e)` as a Buffer: a view, or a copy with `copyBinaries`. */
  #slice(s: number, e: number): Buffer {
    const b = this.#buf;
    if (this.#copy) return Buffer.from(b.subarray(s, e));
    let ab = this.#arrayBuffer;
    if (ab === undefined) {
      ab = this.#arrayBuffer = b.buffer;
      this.#arrayBufferOffset = b.byteOffset;
    }
    return new BufferView(ab as ArrayBuffer, this.#arrayBufferOffset + s, e - s) as unknown as Buffer;
  }

  /**
   * Reads 131 and one term. A compressed term (`131 80 ...`) is accepted here only, and takes
   * the rest of the input; errors inside it report offsets into the uncompressed data.
   */
  readVersioned(): Term {
    const start = this.offset;
    try {
      this.#begin();
      const b = this.#buf;
      if (start >= this.#end) throw fail('truncated', start, 'empty input');
      if (b[start] !== VERSION) throw fail('bad_version', start, `version byte ${b[start]}, expected 131`);
      if (start + 1 < this.#end && b[start + 1] === COMPRESSED) return this.#compressed(start + 1);
      this.offset = start + 1;
      return this.#term(0);
    } catch (e) {
      this.offset = start;
      throw asDecodeError(e, start);
    }
  }

  /** Reads one term without a version byte (the form used inside distribution headers). */
  readTerm(): Term {
    const start = this.offset;
    try {
      this.#begin();
      return this.#term(0);
    } catch (e) {
      this.offset = start;
      throw asDecodeError(e, start);
    }
  }

  #begin(): void {
    if (this.#end - this.offset > this.#maxBytes) {
      throw fail('too_large', this.offset, `${this.#end - this.offset} bytes, limit ${this.#maxBytes}`);
    }
    if (this.offset < 0 || this.offset > this.#end)
      throw fail('truncated', this.offset, 'offset outside the input');
    this.#atomsLeft = this.#atomBudget;
    this.#slots = this.#end - this.offset;
  }

  #compressed(p: number): Term {
    const end = this.#end;
    if (p + 5 > end) throw fail('truncated', p + 1, 'compressed size');
    const b = this.#buf;
    const size = u32(b, p + 1);
    if (size > this.#maxBytes)
      throw fail('too_large', p + 1, `uncompressed size ${size}, limit ${this.#maxBytes}`);
    let data: Buffer;
    try {
      // maxOutputLength stops a zlib bomb at the declared size instead of after the damage.
      data = inflateSync(b.subarray(p + 5, end), { maxOutputLength: Math.max(1, size) });
    } catch (e) {
      throw fail('bad_compressed', p + 5, e instanceof Error ? e.message : String(e));
    }
    if (data.length !== size) {
      throw fail('bad_compressed', p + 5, `inflated to ${data.length} bytes, declared ${size}`);
    }
    const buf = this.#buf;
    const arrayBuffer = this.#arrayBuffer;
    const arrayBufferOffset = this.#arrayBufferOffset;
    this.#buf = data;
    this.#arrayBuffer = undefined;
    this.#end = data.length;
    this.offset = 0;
    this.#slots = data.length;
    try {
      const value = this.#term(0);
      if (this.offset !== data.length) {
        throw fail('trailing_bytes', this.offset, 'bytes after the term in the compressed data');
      }
      this.offset = end;
      return value;
    } finally {
      this.#buf = buf;
      this.#arrayBuffer = arrayBuffer;
      this.#arrayBufferOffset = arrayBufferOffset;
      this.#end = end;
    }
  }

  /** The commonest tags, in a function small enough to inline into the element loops. */
  #term(depth: number): Term {
    const b = this.#buf;
    const p = this.offset;
    if (p + 5 <= this.#end) {
      const tag = b[p];
      if (tag === SMALL_INTEGER_EXT) {
        this.offset = p + 2;
        return b[p + 1]!;
      }
      if (tag === SMALL_ATOM_UTF8_EXT) {
        const a = this.#atom(p + 2, b[p + 1]!, false, p);
        return a === TRUE ? true : a === FALSE ? false : a;
      }
      if (tag === INTEGER_EXT) {
        this.offset = p + 5;
        return (b[p + 1]! << 24) | (b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!;
      }
      if (tag === SMALL_TUPLE_EXT) {
        this.offset = p + 2;
        return this.#tuple(b[p + 1]!, depth, p);
      }
      if (tag === BINARY_EXT) return this.#binary(p);
    }
    return this.#anyTerm(depth);
  }

  #anyTerm(depth: number): Term {
    const b = this.#buf;
    const p = this.offset;
    const end = this.#end;
    if (p >= end) throw fail('truncated', p, 'expected a tag');
    switch (b[p]) {
      case SMALL_INTEGER_EXT:
        if (p + 2 > end) throw fail('truncated', p + 1, 'SMALL_INTEGER_EXT');
        this.offset = p + 2;
        return b[p + 1]!;
      case INTEGER_EXT:
        if (p + 5 > end) throw fail('truncated', p + 1, 'INTEGER_EXT');
        this.offset = p + 5;
        return (b[p + 1]! << 24) | (b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!;
      case SMALL_ATOM_UTF8_EXT: {
        if (p + 2 > end) throw fail('truncated', p + 1, 'atom length');
        const a = this.#atom(p + 2, b[p + 1]!, false, p);
        return a === TRUE ? true : a === FALSE ? false : a;
      }
      case SMALL_TUPLE_EXT: {
        if (p + 2 > end) throw fail('truncated', p + 1, 'tuple arity');
        this.offset = p + 2;
        return this.#tuple(b[p + 1]!, depth, p);
      }
      case BINARY_EXT:
        if (p + 5 > end) throw fail('truncated', p + 1, 'binary length');
        return this.#binary(p);
      case NIL_EXT:
        this.offset = p + 1;
        return [];
      case STRING_EXT: {
        if (p + 3 > end) throw fail('truncated', p + 1, 'string length');
        const n = (b[p + 1]! << 8) | b[p + 2]!;
        const s = p + 3;
        if (n > end - s) throw fail('length_exceeds_input', p + 1, `string of ${n} bytes, ${end - s} left`);
        const out: number[] = [];
        for (let i = 0; i < n; i++) out.push(b[s + i]!);
        this.offset = s + n;
        return out;
      }
      case LIST_EXT:
        return this.#list(depth, p);
      case MAP_EXT:
        return this.#map(depth, p);
      case NEW_FLOAT_EXT: {
        if (p + 9 > end) throw fail('truncated', p + 1, 'NEW_FLOAT_EXT');
        const v = b.readDoubleBE(p + 1);
        this.offset = p + 9;
        return floatTerm(v, p);
      }
      case ATOM_UTF8_EXT: {
        if (p + 3 > end) throw fail('truncated', p + 1, 'atom length');
        const a = this.#atom(p + 3, (b[p + 1]! << 8) | b[p + 2]!, false, p);
        return a === TRUE ? true : a === FALSE ? false : a;
      }
      case SMALL_ATOM_EXT: {
        if (p + 2 > end) throw fail('truncated', p + 1, 'atom length');
        const a = this.#atom(p + 2, b[p + 1]!, true, p);
        return a === TRUE ? true : a === FALSE ? false : a;
      }
      case ATOM_EXT: {
        if (p + 3 > end) throw fail('truncated', p + 1, 'atom length');
        const a = this.#atom(p + 3, (b[p + 1]! << 8) | b[p + 2]!, true, p);
        return a === TRUE ? true : a === FALSE ? false : a;
      }
      case LARGE_TUPLE_EXT: {
        if (p + 5 > end) throw fail('truncated', p + 1, 'tuple arity');
        this.offset = p + 5;
        return this.#tuple(u32(b, p + 1), depth, p);
      }
      case SMALL_BIG_EXT: {
        if (p + 3 > end) throw fail('truncated', p + 1, 'SMALL_BIG_EXT');
        return this.#big(p + 2, b[p + 1]!, p);
      }
      case LARGE_BIG_EXT: {
        if (p + 6 > end) throw fail('truncated', p + 1, 'LARGE_BIG_EXT');
        return this.#big(p + 5, u32(b, p + 1), p);
      }
      case FLOAT_EXT:
        return this.#floatText(p);
      case BIT_BINARY_EXT:
        return this.#bitBinary(p);
      case NEW_PID_EXT:
      case PID_EXT:
        return this.#pid(p);
      case NEW_PORT_EXT:
      case V4_PORT_EXT:
      case PORT_EXT:
        return this.#port(p);
      case NEWER_REFERENCE_EXT:
      case NEW_REFERENCE_EXT:
        return this.#newReference(p);
      case REFERENCE_EXT: {
        this.offset = p + 1;
        const node = this.#nodeAtom();
        const q = this.offset;
        if (q + 5 > end) throw fail('truncated', q, 'REFERENCE_EXT');
        this.offset = q + 5;
        return new Reference(node, b[q + 4]!, [u32(b, q)]);
      }
      case EXPORT_EXT:
        return this.#exportFun(p);
      case NEW_FUN_EXT:
        return this.#fun(depth, p);
      case ATOM_CACHE_REF: {
        const a = this.#cachedRef(p);
        return a === TRUE ? true : a === FALSE ? false : a;
      }
      default:
        throw fail('unknown_tag', p, `tag ${b[p]}`);
    }
  }

  /** BINARY_EXT at `p`, its length field known to be there. */
  #binary(p: number): Buffer {
    const b = this.#buf;
    const end = this.#end;
    const n = u32(b, p + 1);
    const s = p + 5;
    if (n > end - s) throw fail('length_exceeds_input', p + 1, `binary of ${n} bytes, ${end - s} left`);
    this.offset = s + n;
    return this.#slice(s, s + n);
  }

  #tuple(n: number, depth: number, p: number): Tuple {
    if (depth >= this.#maxDepth) throw fail('too_deep', p, `more than ${this.#maxDepth} levels`);
    if (n > (this.#end - this.offset) / MIN_TERM_BYTES) {
      throw fail(
        'length_exceeds_input',
        p + 1,
        `tuple of ${n} elements, ${this.#end - this.offset} bytes left`,
      );
    }
    // Literal arrays for the common small arities: packed, and no allowance bookkeeping.
    const d = depth + 1;
    if (n === 2) return new Tuple([this.#term(d), this.#term(d)]);
    if (n === 3) return new Tuple([this.#term(d), this.#term(d), this.#term(d)]);
    if (n === 4) return new Tuple([this.#term(d), this.#term(d), this.#term(d), this.#term(d)]);
    const elements = this.#elements(n);
    if (elements.length === n) {
      this.#fill(elements, n, depth + 1);
    } else {
      for (let i = 0; i < n; i++) elements.push(this.#term(depth + 1));
    }
    return new Tuple(elements);
  }

  #list(depth: number, p: number): Term {
    if (depth >= this.#maxDepth) throw fail('too_deep', p, `more than ${this.#maxDepth} levels`);
    const b = this.#buf;
    const end = this.#end;
    let out: Term[] | undefined;
    // A LIST_EXT whose tail is another LIST_EXT (or STRING_EXT, or NIL) continues the same
    // list: loop instead of recursing, so a hostile chain of tails cannot exhaust the stack.
    for (;;) {
      if (p + 5 > end) throw fail('truncated', p + 1, 'list length');
      const n = u32(b, p + 1);
      let q = p + 5;
      // n elements and a tail need at least n + 1 bytes.
      if (n >= (end - q) / MIN_TERM_BYTES) {
        throw fail('length_exceeds_input', p + 1, `list of ${n} elements, ${end - q} bytes left`);
      }
      this.offset = q;
      if (out === undefined) {
        out = this.#elements(n);
        if (out.length === n) {
          this.#fill(out, n, depth + 1);
        } else {
          for (let i = 0; i < n; i++) out.push(this.#term(depth + 1));
        }
      } else {
        for (let i = 0; i < n; i++) out.push(this.#term(depth + 1));
      }
      q = this.offset;
      if (q >= end) throw fail('truncated', q, 'list tail');
      const tag = b[q];
      if (tag === NIL_EXT) {
        this.offset = q + 1;
        return out;
      }
      if (tag === LIST_EXT) {
        p = q;
        continue;
      }
      if (tag === STRING_EXT) {
        const rest = this.#term(depth + 1) as number[];
        for (let i = 0; i < rest.length; i++) out.push(rest[i]!);
        return out;
      }
      const tail = this.#term(depth + 1);
      // `LIST_EXT 0 T` is T itself, as on the BEAM.
      return out.length === 0 ? tail : new ImproperList(out, tail);
    }
  }

  /**
   * Decodes `n` terms into the preallocated `out`. Small integers, the commonest elements, are
   * read inline with the position in a local; anything else goes through {@link #term}.
   */
  #fill(out: Term[], n: number, depth: number): void {
    const b = this.#buf;
    const end = this.#end;
    let p = this.offset;
    for (let i = 0; i < n; i++) {
      const tag = b[p];
      if (tag === SMALL_INTEGER_EXT && p + 2 <= end) {
        out[i] = b[p + 1]!;
        p += 2;
      } else if (tag === INTEGER_EXT && p + 5 <= end) {
        out[i] = (b[p + 1]! << 24) | (b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!;
        p += 5;
      } else {
        this.offset = p;
        out[i] = this.#term(depth);
        p = this.offset;
      }
    }
    this.offset = p;
  }

  /**
   * The array for `n` elements (n already checked against the bytes left). Preallocated while
   * the decode's allowance lasts: the allowance starts at the input's length, and each element
   * takes one byte at least, so a lying count can never make us allocate more slots than the
   * input has bytes. Past it (or for very long lists) the array is empty and grows as elements
   * actually arrive.
   */
  #elements(n: number): Term[] {
    if (n <= this.#slots && n <= MAX_PREALLOCATED) {
      this.#slots -= n;
      return new Array<Term>(n);
    }
    return [];
  }

  #map(depth: number, p: number): TermMap {
    if (depth >= this.#maxDepth) throw fail('too_deep', p, `more than ${this.#maxDepth} levels`);
    const end = this.#end;
    if (p + 5 > end) throw fail('truncated', p + 1, 'map arity');
    const n = u32(this.#buf, p + 1);
    const q = p + 5;
    if (n > (end - q) / (2 * MIN_TERM_BYTES)) {
      throw fail('length_exceeds_input', p + 1, `map of ${n} pairs, ${end - q} bytes left`);
    }
    this.offset = q;
    const map = new TermMap();
    for (let i = 0; i < n; i++) {
      const at = this.offset;
      const k = this.#term(depth + 1);
      const v = this.#term(depth + 1);
      if (!map.setNew(k, v)) throw fail('invalid', at, 'duplicate map key');
    }
    return map;
  }

  /** An atom whose `len` bytes start at `s`; `tagAt` is its tag's offset, for errors. */
  #atom(s: number, len: number, latin1: boolean, tagAt: number): Atom {
    const b = this.#buf;
    if (len > this.#end - s)
      throw fail('length_exceeds_input', tagAt + 1, `atom of ${len} bytes, ${this.#end - s} left`);
    this.offset = s + len;
    const hash = atomBytesHash(b, s, len);
    const cached = cachedAtom(hash, b, s, len);
    // Latin-1 bytes equal the UTF-8 of the same text only when they are ASCII.
    if (cached !== undefined && (!latin1 || isAscii(b, s, len))) return cached;
    let name: string;
    if (latin1) {
      if (len > MAX_ATOM_CHARS) throw fail('atom_too_long', tagAt, `${len} characters`);
      name = b.toString('latin1', s, s + len);
    } else {
      const chars = utf8Chars(b, s, s + len);
      if (chars < 0) throw fail('invalid_utf8', s + ~chars, 'atom text is not UTF-8');
      if (chars > MAX_ATOM_CHARS) throw fail('atom_too_long', tagAt, `${chars} characters`);
      name = b.toString('utf8', s, s + len);
    }
    let a = existingAtom(name);
    if (a === undefined) {
      if (--this.#atomsLeft < 0) throw fail('atom_budget', tagAt, `more than ${this.#atomBudget} new atoms`);
      a = atom(name);
    }
    if (!latin1 || isAscii(b, s, len)) cacheAtom(hash, a);
    return a;
  }

  /** `ATOM_CACHE_REF Index:8` at `p`: the header's atom number `Index`. */
  #cachedRef(p: number): Atom {
    const refs = this.#atomRefs;
    if (refs === undefined)
      throw fail('unknown_tag', p, `tag ${ATOM_CACHE_REF} outside a distribution message`);
    if (p + 2 > this.#end) throw fail('truncated', p + 1, 'atom cache index');
    const a = refs[this.#buf[p + 1]!];
    if (a === undefined) {
      throw fail('invalid', p + 1, `atom cache index ${this.#buf[p + 1]}, the header has ${refs.length}`);
    }
    this.offset = p + 2;
    this.#refsRead++;
    return a;
  }

  /** An atom where a node name (or a module or function name) must be. */
  #nodeAtom(): Atom {
    const b = this.#buf;
    const p = this.offset;
    const end = this.#end;
    if (p >= end) throw fail('truncated', p, 'expected an atom');
    switch (b[p]) {
      case SMALL_ATOM_UTF8_EXT:
        if (p + 2 > end) throw fail('truncated', p + 1, 'atom length');
        return this.#atom(p + 2, b[p + 1]!, false, p);
      case ATOM_UTF8_EXT:
        if (p + 3 > end) throw fail('truncated', p + 1, 'atom length');
        return this.#atom(p + 3, (b[p + 1]! << 8) | b[p + 2]!, false, p);
      case SMALL_ATOM_EXT:
        if (p + 2 > end) throw fail('truncated', p + 1, 'atom length');
        return this.#atom(p + 2, b[p + 1]!, true, p);
      case ATOM_EXT:
        if (p + 3 > end) throw fail('truncated', p + 1, 'atom length');
        return this.#atom(p + 3, (b[p + 1]! << 8) | b[p + 2]!, true, p);
      case ATOM_CACHE_REF:
        return this.#cachedRef(p);
      default:
        throw fail('invalid', p, `expected an atom, found tag ${b[p]}`);
    }
  }

  #big(s: number, n: number, p: number): number | bigint {
    const b = this.#buf;
    const end = this.#end;
    if (n > end - s - 1)
      throw fail('length_exceeds_input', p + 1, `integer of ${n} bytes, ${end - s - 1} left`);
    const sign = b[s]!;
    if (sign > 1) throw fail('invalid', s, `sign byte ${sign}`);
    const d = s + 1;
    this.offset = d + n;
    let top = n;
    while (top > 0 && b[d + top - 1] === 0) top--;
    if (top <= 7) {
      let v = 0;
      for (let i = top - 1; i >= 0; i--) v = v * 256 + b[d + i]!;
      if (v <= MAX_SAFE_BIG) return sign === 1 && v !== 0 ? -v : v;
    }
    const be = Buffer.allocUnsafe(top);
    for (let i = 0; i < top; i++) be[i] = b[d + top - 1 - i]!;
    let v: bigint;
    try {
      v = BigInt(`0x${be.toString('hex')}`);
    } catch (e) {
      throw fail('too_large', p, e instanceof Error ? e.message : 'integer too large');
    }
    return sign === 1 ? -v : v;
  }

  /**
   * FLOAT_EXT: 31 bytes of C-string text, as the BEAM reads it: the text ends at the first NUL
   * (bytes after it are ignored) and must match {@link FLOAT_TEXT}; a value that overflows a
   * double is refused, one that underflows reads as (signed) zero. The BEAM reads past the field
   * when its 31 bytes hold no NUL; we refuse that.
   */
  #floatText(p: number): Term {
    if (p + 32 > this.#end) throw fail('truncated', p + 1, 'FLOAT_EXT');
    const b = this.#buf;
    let e = p + 1;
    while (e < p + 32 && b[e] !== 0) e++;
    if (e === p + 32) throw fail('invalid', p + 1, 'FLOAT_EXT text is not NUL-terminated');
    const text = b.toString('latin1', p + 1, e);
    if (!FLOAT_TEXT.test(text)) throw fail('invalid', p + 1, 'FLOAT_EXT text is not a float');
    // JS parses like strtod (correctly rounded); a comma is the BEAM's other decimal point.
    const v = Number(text.replace(',', '.'));
    if (!Number.isFinite(v)) throw fail('invalid', p + 1, 'FLOAT_EXT value overflows a double');
    this.offset = p + 32;
    return floatTerm(v, p);
  }

  #bitBinary(p: number): Term {
    const b = this.#buf;
    const end = this.#end;
    if (p + 6 > end) throw fail('truncated', p + 1, 'BIT_BINARY_EXT');
    const n = u32(b, p + 1);
    const bits = b[p + 5]!;
    const s = p + 6;
    if (n > end - s) throw fail('length_exceeds_input', p + 1, `bit string of ${n} bytes, ${end - s} left`);
    if (n === 0 ? bits !== 0 : bits < 1 || bits > 8)
      throw fail('invalid', p + 5, `${bits} bits in the last byte`);
    this.offset = s + n;
    let data = this.#slice(s, s + n);
    if (n === 0 || bits === 8) return data;
    const mask = (0xff << (8 - bits)) & 0xff;
    const last = data[n - 1]!;
    if ((last & mask) !== last) {
      // Unused bits must read as zero; copy rather than write into the caller's input.
      if (!this.#copy) data = Buffer.from(data);
      data[n - 1] = last & mask;
    }
    return new BitBinary(data, bits);
  }

  #pid(p: number): Pid {
    const b = this.#buf;
    const newer = b[p] === NEW_PID_EXT;
    this.offset = p + 1;
    const node = this.#nodeAtom();
    const q = this.offset;
    const size = newer ? 12 : 9;
    if (q + size > this.#end) throw fail('truncated', q, 'pid fields');
    this.offset = q + size;
    return new Pid(node, u32(b, q), u32(b, q + 4), newer ? u32(b, q + 8) : b[q + 8]!);
  }

  #port(p: number): Port {
    const b = this.#buf;
    const tag = b[p];
    this.offset = p + 1;
    const node = this.#nodeAtom();
    const q = this.offset;
    const size = tag === V4_PORT_EXT ? 12 : tag === NEW_PORT_EXT ? 8 : 5;
    if (q + size > this.#end) throw fail('truncated', q, 'port fields');
    this.offset = q + size;
    if (tag === V4_PORT_EXT) {
      const id = b.readBigUInt64BE(q);
      return new Port(node, id <= 9007199254740991n ? Number(id) : id, u32(b, q + 8));
    }
    return new Port(node, u32(b, q), tag === NEW_PORT_EXT ? u32(b, q + 4) : b[q + 4]!);
  }

  #newReference(p: number): Reference {
    const b = this.#buf;
    const newer = b[p] === NEWER_REFERENCE_EXT;
    if (p + 3 > this.#end) throw fail('truncated', p + 1, 'reference length');
    const n = (b[p + 1]! << 8) | b[p + 2]!;
    // 1 to 5 words. OTP 25 accepts 0 words at top level but corrupts memory with them nested.
    if (n < 1 || n > 5) throw fail('invalid', p + 1, `reference of ${n} words (1 to 5)`);
    this.offset = p + 3;
    const node = this.#nodeAtom();
    const q = this.offset;
    const size = (newer ? 4 : 1) + 4 * n;
    if (q + size > this.#end) throw fail('truncated', q, 'reference fields');
    const creation = newer ? u32(b, q) : b[q]!;
    const ids: number[] = [];
    for (let i = q + size - 4 * n; i < q + size; i += 4) ids.push(u32(b, i));
    this.offset = q + size;
    return new Reference(node, creation, ids);
  }

  #exportFun(p: number): ExportFun {
    const b = this.#buf;
    this.offset = p + 1;
    const module = this.#nodeAtom();
    const name = this.#nodeAtom();
    const q = this.offset;
    if (q + 2 > this.#end) throw fail('truncated', q, 'fun arity');
    if (b[q] !== SMALL_INTEGER_EXT) throw fail('invalid', q, 'fun arity is not a small integer');
    this.offset = q + 2;
    return new ExportFun(module, name, b[q + 1]!);
  }

  /** NEW_FUN_EXT: kept as its exact bytes; the fields are parsed within its declared size. */
  #fun(depth: number, p: number): Fun {
    if (depth >= this.#maxDepth) throw fail('too_deep', p, `more than ${this.#maxDepth} levels`);
    const b = this.#buf;
    const end = this.#end;
    if (p + 5 > end) throw fail('truncated', p + 1, 'fun size');
    const size = u32(b, p + 1);
    // Size counts itself and the fields after the tag.
    if (size > end - p - 1)
      throw fail('length_exceeds_input', p + 1, `fun of ${size} bytes, ${end - p - 1} left`);
    const funEnd = p + 1 + size;
    // Size:4 Arity:1 Uniq:16 Index:4 NumFree:4, then at least five one-byte terms.
    if (size < 29 + 5) throw fail('invalid', p + 1, `fun size ${size} is too small`);
    const arity = b[p + 5]!;
    const numFree = u32(b, p + 26);
    const savedEnd = end;
    const refsBefore = this.#refsRead;
    this.#end = funEnd;
    try {
      this.offset = p + 30;
      const module = this.#nodeAtom();
      const oldIndex = this.#integerField('fun OldIndex');
      const oldUniq = this.#integerField('fun OldUniq');
      const pidAt = this.offset;
      const pid = this.#term(depth + 1);
      if (!(pid instanceof Pid)) throw fail('invalid', pidAt, 'fun creator is not a pid');
      if (numFree > funEnd - this.offset) {
        throw fail(
          'length_exceeds_input',
          p + 26,
          `fun with ${numFree} free variables, ${funEnd - this.offset} bytes left`,
        );
      }
      const free: Term[] = [];
      for (let i = 0; i < numFree; i++) free.push(this.#term(depth + 1));
      if (this.offset !== funEnd)
        throw fail('invalid', this.offset, 'fun fields do not fill its declared size');
      // Its atom cache references mean nothing outside this message: keep a plain encoding.
      const bytes =
        this.#refsRead === refsBefore
          ? this.#slice(p, funEnd)
          : plainFunBytes(b.subarray(p + 5, p + 30), module, oldIndex, oldUniq, pid, free);
      return new Fun(bytes, module, arity, free, { index: u32(b, p + 22), oldIndex, oldUniq, pid });
    } finally {
      this.#end = savedEnd;
    }
  }

  #integerField(what: string): number | bigint {
    const at = this.offset;
    const tag = this.#buf[at];
    if (tag !== SMALL_INTEGER_EXT && tag !== INTEGER_EXT && tag !== SMALL_BIG_EXT && tag !== LARGE_BIG_EXT) {
      throw fail(at >= this.#end ? 'truncated' : 'invalid', at, `${what} is not an integer`);
    }
    const v = this.#term(0) as number | bigint;
    // The BEAM wants a small integer here (60 bits, signed) and refuses the fun otherwise.
    if (typeof v === 'bigint' && (v < MIN_FUN_FIELD || v > MAX_FUN_FIELD)) {
      throw fail('invalid', at, `${what} is outside -2^59..2^59-1`);
    }
    return v;
  }
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/**
 * A NEW_FUN_EXT encoding of a fun read through atom cache references: `fixed` is its
 * Arity, Uniq, Index and NumFree as received; the terms are written without references.
 */
function plainFunBytes(
  fixed: Uint8Array,
  module: Atom,
  oldIndex: number | bigint,
  oldUniq: number | bigint,
  pid: Pid,
  free: readonly Term[],
): Buffer {
  const w = new TermWriter(256);
  w.u8(NEW_FUN_EXT);
  w.u32(0);
  w.bytes(fixed);
  w.writeTerm(module);
  w.writeTerm(oldIndex);
  w.writeTerm(oldUniq);
  w.writeTerm(pid);
  for (const t of free) w.writeTerm(t);
  const out = w.finish();
  out.writeUInt32BE(out.length - 1, 1);
  return out;
}

/** How many atoms a decode may still add to the atom table; see {@link utf8Atom}. */
export interface AtomBudget {
  left: number;
}

/**
 * The atom whose UTF-8 text is `b[s, s + len)`, the caller having checked that the bytes are
 * there (for atom text outside a term: the distribution header's atom cache entries). Throws a
 * {@link TermDecodeError} (`invalid_utf8`, `atom_too_long`, `atom_budget`) with offsets into `b`;
 * a new atom takes one from `budget`.
 */
export function utf8Atom(b: Uint8Array, s: number, len: number, budget: AtomBudget): Atom {
  const hash = atomBytesHash(b, s, len);
  const cached = cachedAtom(hash, b, s, len);
  if (cached !== undefined) return cached;
  const chars = utf8Chars(b, s, s + len);
  if (chars < 0) throw fail('invalid_utf8', s + ~chars, 'atom text is not UTF-8');
  if (chars > MAX_ATOM_CHARS) throw fail('atom_too_long', s, `${chars} characters`);
  const name = Buffer.from(b.buffer, b.byteOffset + s, len).toString('utf8');
  let a = existingAtom(name);
  if (a === undefined) {
    if (--budget.left < 0) throw fail('atom_budget', s, 'too many new atoms');
    a = atom(name);
  }
  cacheAtom(hash, a);
  return a;
}

function isAscii(b: Uint8Array, s: number, len: number): boolean {
  for (let i = s; i < s + len; i++) if (b[i]! >= 0x80) return false;
  return true;
}

/**
 * Counts the characters of `b[s, e)` as UTF-8; when it is not valid UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included) returns `~offsetOfTheBadByte` (< 0).
 */
function utf8Chars(b: Uint8Array, s: number, e: number): number {
  let chars = 0;
  let i = s;
  while (i < e) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
    } else if (c >= 0xc2 && c <= 0xdf) {
      if (i + 1 >= e || (b[i + 1]! & 0xc0) !== 0x80) return ~(i - s);
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (i + 2 >= e) return ~(i - s);
      const c1 = b[i + 1]!;
      if ((c1 & 0xc0) !== 0x80 || (b[i + 2]! & 0xc0) !== 0x80) return ~(i - s);
      if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 >= 0xa0)) return ~(i - s);
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (i + 3 >= e) return ~(i - s);
      const c1 = b[i + 1]!;
      if ((c1 & 0xc0) !== 0x80 || (b[i + 2]! & 0xc0) !== 0x80 || (b[i + 3]! & 0xc0) !== 0x80) return ~(i - s);
      if ((c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 >= 0x90)) return ~(i - s);
      i += 4;
    } else {
      return ~(i - s);
    }
    chars++;
  }
  return chars;
}

/** A decoded float: integral values and -0.0 stay floats through a {@link Float}. */
function floatTerm(v: number, p: number): number | Float {
  if (!Number.isFinite(v)) throw fail('invalid', p + 1, `float ${v}`);
  return Number.isInteger(v) ? new Float(v) : v;
}

function fail(code: TermDecodeErrorCode, offset: number, detail: string): TermDecodeError {
  return new TermDecodeError(code, offset, detail);
}

function asDecodeError(e: unknown, offset: number): TermDecodeError {
  if (e instanceof TermDecodeError) return e;
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return new TermDecodeError('too_deep', offset, 'nesting too deep for the stack', { cause: e });
  }
  return new TermDecodeError('invalid', offset, e instanceof Error ? e.message : String(e), { cause: e });
}

/**
 * `binary_to_term`: decodes a whole input that starts with 131 (or is compressed, `131 80`).
 * Bytes after the term are an error (`trailing_bytes`).
 */
export function decode(bytes: Uint8Array, options?: DecodeOptions): Term {
  // A lone binary (`term_to_binary(<<...>>)`, the usual shape of a large payload) with the
  // default options is one view of the input: no reader to build, nothing else to check.
  const n = bytes.length;
  if (
    options === undefined &&
    n >= 6 &&
    bytes[1] === BINARY_EXT &&
    bytes[0] === VERSION &&
    u32(bytes, 2) === n - 6 &&
    n <= DECODE_DEFAULTS.maxBytes
  ) {
    return new BufferView(bytes.buffer as ArrayBuffer, bytes.byteOffset + 6, n - 6) as unknown as Buffer;
  }
  const r = new TermReader(options);
  r.reset(bytes, 0);
  const value = r.readVersioned();
  if (r.offset !== bytes.length)
    throw fail('trailing_bytes', r.offset, `${bytes.length - r.offset} bytes after the term`);
  return value;
}

/** Decodes one term without a version byte at `offset`; returns it and the offset after it. */
export function decodeAt(
  bytes: Uint8Array,
  offset: number,
  options?: DecodeOptions,
): { value: Term; end: number } {
  const r = new TermReader(options);
  r.reset(bytes, offset);
  const value = r.readTerm();
  return { value, end: r.offset };
}
