/**
 * Erlang terms as TypeScript values.
 *
 * Idiomatic by default, lossless on request (see docs/architecture.md, "Terms"):
 * - integers are `number` while safe and `bigint` beyond; floats are `number`, and an integral
 *   float (`1.0`, `-0.0`) decodes as a {@link Float} so it round-trips as a float;
 * - atoms are interned {@link Atom} values (`atom('ok') === atom('ok')`), `true`/`false` are JS booleans;
 * - tuples are {@link Tuple}; proper lists are arrays; improper lists are {@link ImproperList};
 * - binaries are `Buffer` (any `Uint8Array` encodes), bit strings are {@link BitBinary};
 *   a JS `string` encodes as a UTF-8 binary, the Elixir and Gleam convention;
 * - maps decode as {@link TermMap} (a `Map` with structural keys); any `Map` and plain objects
 *   (binary keys) encode as maps;
 * - pids, references, ports and funs are classes with value equality through `equals`.
 *
 * @module
 */

import type { Buffer } from 'node:buffer';
import {
  ATOM_EXT,
  ATOM_UTF8_EXT,
  INTEGER_EXT,
  LARGE_BIG_EXT,
  NEW_FUN_EXT,
  NEW_PID_EXT,
  PID_EXT,
  SMALL_ATOM_EXT,
  SMALL_ATOM_UTF8_EXT,
  SMALL_BIG_EXT,
  SMALL_INTEGER_EXT,
} from './tags.ts';

/** Largest atom length in characters (code points), as the BEAM enforces. */
export const MAX_ATOM_CHARS = 255;

/**
 * An Erlang atom. Atoms are interned: two atoms with the same name are the same object, so
 * `===` compares them. The table holds atoms weakly, so atoms that arrive from the network and
 * are no longer referenced are collected: remote peers cannot grow it without bound.
 */
export class Atom {
  /** The atom's text. */
  readonly name: string;
  /**
   * @internal The name as UTF-8, computed once so the encoder copies bytes instead of
   * re-encoding the text, and the decoder can match incoming bytes against known atoms.
   * Not enumerable: it stays out of logs and of structural comparisons in tests.
   */
  declare readonly utf8: Uint8Array;

  /** @internal Use {@link atom}. */
  constructor(name: string, key: symbol) {
    if (key !== internKey) throw new TypeError('use atom(name) to make an Atom');
    this.name = name;
    Object.defineProperty(this, 'utf8', { value: utf8Bytes(name), enumerable: false });
    // Shared by every node in the process: nobody may attach state to an atom.
    Object.freeze(this);
  }

  /** Erlang syntax, quoted where Erlang would quote it. */
  toString(): string {
    return /^[a-z][A-Za-z0-9_@]*$/.test(this.name) ? this.name : `'${this.name.replace(/[\\']/g, '\\$&')}'`;
  }
}

const internKey = Symbol('atom');

const textEncoder = new TextEncoder();

/** UTF-8 of `name` in its own exactly sized array (not a slice of Buffer's shared pool). */
function utf8Bytes(name: string): Uint8Array {
  const n = name.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80) return textEncoder.encode(name);
    out[i] = c;
  }
  return out;
}

/**
 * The atom table. It is a cache of immutable values, not node state: every node in the
 * process may share it. Weak references keep its size bounded by the atoms still in use.
 */
const atomTable = new Map<string, WeakRef<Atom>>();
const atomFinalizer = new FinalizationRegistry<string>((name) => {
  const ref = atomTable.get(name);
  if (ref !== undefined && ref.deref() === undefined) atomTable.delete(name);
});

/**
 * Part of the intern table: a small direct-mapped cache from an atom's UTF-8 bytes to the atom,
 * so the decoder turns the bytes of a recently seen atom into the atom without building a string.
 * It holds at most {@link ATOM_CACHE_SIZE} atoms strongly, a fixed bound.
 */
const ATOM_CACHE_SIZE = 4096;
const atomsByBytes: (Atom | undefined)[] = new Array<Atom | undefined>(ATOM_CACHE_SIZE).fill(undefined);

/**
 * @internal For the decoder: hash of `bytes[start, start + length)`. Equal bytes give equal hashes;
 * pass the same hash to {@link cachedAtom} and {@link cacheAtom}.
 */
export function atomBytesHash(bytes: Uint8Array, start: number, length: number): number {
  let h = length;
  const end = start + length;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return (h ^ (h >>> 15)) & (ATOM_CACHE_SIZE - 1);
}

/** @internal The cached atom whose UTF-8 is exactly `bytes[start, start + length)`, if any. */
export function cachedAtom(hash: number, bytes: Uint8Array, start: number, length: number): Atom | undefined {
  const a = atomsByBytes[hash];
  if (a === undefined) return undefined;
  const u = a.utf8;
  if (u.length !== length) return undefined;
  for (let i = 0; i < length; i++) if (u[i] !== bytes[start + i]) return undefined;
  return a;
}

/** @internal Remembers `a` under `hash` (of its UTF-8 bytes) for {@link cachedAtom}. */
export function cacheAtom(hash: number, a: Atom): void {
  atomsByBytes[hash] = a;
}

/** Returns the interned atom, or undefined when no live atom has this name. */
export function existingAtom(name: string): Atom | undefined {
  return atomTable.get(name)?.deref();
}

/** The interned atom for `name`. Throws a `RangeError` past {@link MAX_ATOM_CHARS} characters. */
export function atom(name: string): Atom {
  const found = atomTable.get(name)?.deref();
  if (found !== undefined) return found;
  if (name.length > MAX_ATOM_CHARS && [...name].length > MAX_ATOM_CHARS) {
    throw new RangeError(`atom longer than ${MAX_ATOM_CHARS} characters`);
  }
  const made = new Atom(name, internKey);
  atomTable.set(name, new WeakRef(made));
  atomFinalizer.register(made, name);
  return made;
}

/** Atoms every layer uses, held strongly. */
export const atoms: {
  readonly ok: Atom;
  readonly error: Atom;
  readonly undefined: Atom;
  readonly normal: Atom;
  readonly kill: Atom;
  readonly killed: Atom;
  readonly noproc: Atom;
  readonly noconnection: Atom;
  readonly badarg: Atom;
  readonly empty: Atom;
  readonly nonode: Atom;
} = Object.freeze({
  ok: atom('ok'),
  error: atom('error'),
  undefined: atom('undefined'),
  normal: atom('normal'),
  kill: atom('kill'),
  killed: atom('killed'),
  noproc: atom('noproc'),
  noconnection: atom('noconnection'),
  badarg: atom('badarg'),
  empty: atom(''),
  nonode: atom('nonode@nohost'),
});

/** An Erlang tuple. Iterable, so `const [tag, value] = t` works. */
export class Tuple implements Iterable<Term> {
  readonly elements: readonly Term[];

  constructor(elements: readonly Term[]) {
    this.elements = elements;
  }

  get length(): number {
    return this.elements.length;
  }

  /** Element `i` (0-based), undefined past the end. */
  at(i: number): Term | undefined {
    return this.elements[i];
  }

  [Symbol.iterator](): Iterator<Term> {
    return this.elements[Symbol.iterator]();
  }
}

/** Makes a tuple: `tuple(atom('ok'), 42)` is `{ok, 42}`. */
export function tuple(...elements: Term[]): Tuple {
  return new Tuple(elements);
}

/**
 * A number that goes on the wire as a float even when it is integral. `float(1)` is `1.0`;
 * a plain `1` is the integer `1`. Decoding gives a `Float` only for integral floats (and -0.0);
 * other floats decode as plain numbers.
 */
export class Float {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

/** Forces a float on the wire: `float(1)` encodes as `1.0`. */
export function float(value: number): Float {
  return new Float(value);
}

/** `[a, b | tail]` where `tail` is not a list. `elements` is never empty. */
export class ImproperList {
  readonly elements: readonly Term[];
  readonly tail: Term;
  constructor(elements: readonly Term[], tail: Term) {
    if (elements.length === 0) throw new RangeError('an improper list has at least one element');
    this.elements = elements;
    this.tail = tail;
  }
}

/** Makes `[...elements | tail]`; gives a proper array when `tail` is a list. */
export function improperList(elements: readonly Term[], tail: Term): Term[] | ImproperList {
  if (Array.isArray(tail)) return [...elements, ...tail];
  if (tail instanceof ImproperList) return new ImproperList([...elements, ...tail.elements], tail.tail);
  return new ImproperList(elements, tail);
}

/**
 * A bit string whose length is not a whole number of bytes: `bits` (1..8) of the last byte
 * are used, most significant first; unused bits are zero.
 */
export class BitBinary {
  readonly data: Buffer;
  readonly bits: number;
  constructor(data: Buffer, bits: number) {
    if (!Number.isInteger(bits) || bits < 1 || bits > 8) throw new RangeError('bits must be 1..8');
    if (data.length === 0) throw new RangeError('a bit string has at least one byte');
    this.data = data;
    this.bits = bits;
  }

  /** Length in bits. */
  get bitLength(): number {
    return (this.data.length - 1) * 8 + this.bits;
  }
}

/** A process identifier: the node it lives on, its number and serial, and the node's creation. */
export class Pid {
  readonly node: Atom;
  readonly id: number;
  readonly serial: number;
  readonly creation: number;
  constructor(node: Atom, id: number, serial: number, creation: number) {
    this.node = node;
    this.id = id;
    this.serial = serial;
    this.creation = creation;
  }

  toString(): string {
    return `<${this.node.name}.${this.id}.${this.serial}>`;
  }
}

/** A reference: node, creation and up to 5 32-bit words (3 for references the BEAM makes). */
export class Reference {
  readonly node: Atom;
  readonly creation: number;
  readonly ids: readonly number[];
  constructor(node: Atom, creation: number, ids: readonly number[]) {
    this.node = node;
    this.creation = creation;
    this.ids = ids;
  }

  toString(): string {
    return `#Ref<${this.node.name}.${this.ids.join('.')}>`;
  }
}

/** A port identifier. `id` is a bigint only when it exceeds 2^53 (V4 ports carry 64 bits). */
export class Port {
  readonly node: Atom;
  readonly id: number | bigint;
  readonly creation: number;
  constructor(node: Atom, id: number | bigint, creation: number) {
    this.node = node;
    this.id = id;
    this.creation = creation;
  }

  toString(): string {
    return `#Port<${this.node.name}.${this.id}>`;
  }
}

/** `fun Module:Name/Arity`: an external fun, EXPORT_EXT on the wire. */
export class ExportFun {
  readonly module: Atom;
  readonly name: Atom;
  readonly arity: number;
  constructor(module: Atom, name: Atom, arity: number) {
    this.module = module;
    this.name = name;
    this.arity = arity;
  }
}

/** The fields of a local fun's encoding that say which fun it is (see {@link Fun}). */
export interface FunFields {
  /** NEW_FUN_EXT Index: the fun's index in its module's fun table. */
  readonly index: number;
  /** NEW_FUN_EXT OldIndex. */
  readonly oldIndex: number | bigint;
  /** NEW_FUN_EXT OldUniq: a hash of the module's code. */
  readonly oldUniq: number | bigint;
  /** The process that created the fun. */
  readonly pid: Pid;
}

/**
 * A local fun (NEW_FUN_EXT). Opaque: TypeScript cannot run it, but it keeps the exact bytes
 * (tag included) so it can be passed on and returned to the BEAM unchanged. Its parsed fields
 * say which fun it is: equality and order use them, never the bytes, as the BEAM does (the same
 * fun encoded with Latin-1 or UTF-8 atoms, or with its captured port re-encoded, is one term).
 */
export class Fun implements FunFields {
  /** The whole encoding, from the tag byte (112) on. */
  readonly bytes: Buffer;
  readonly module: Atom;
  readonly arity: number;
  /** The captured variables, decoded. */
  readonly free: readonly Term[];
  readonly index: number;
  readonly oldIndex: number | bigint;
  readonly oldUniq: number | bigint;
  readonly pid: Pid;

  /**
   * `fields` are read from `bytes` when not given (the decoder gives them); `bytes` must then be
   * a well-formed NEW_FUN_EXT, or this throws a `RangeError`.
   */
  constructor(bytes: Buffer, module: Atom, arity: number, free: readonly Term[], fields?: FunFields) {
    const f = fields ?? funFields(bytes);
    this.bytes = bytes;
    this.module = module;
    this.arity = arity;
    this.free = free;
    this.index = f.index;
    this.oldIndex = f.oldIndex;
    this.oldUniq = f.oldUniq;
    this.pid = f.pid;
  }

  /** NEW_FUN_EXT Uniq: the MD5 of the module's code, 16 bytes (a view into {@link Fun.bytes}). */
  get uniq(): Buffer {
    return this.bytes.subarray(6, 22);
  }
}

/**
 * Reads the identifying fields of a NEW_FUN_EXT encoding: Tag:1 Size:4 Arity:1 Uniq:16 Index:4
 * NumFree:4 Module OldIndex OldUniq Pid Free... Only what those fields use is accepted.
 */
function funFields(b: Buffer): FunFields {
  let p = 30;
  const bad = (): never => {
    throw new RangeError(`not a NEW_FUN_EXT encoding (at byte ${p})`);
  };
  const need = (n: number): void => {
    if (p + n > b.length) bad();
  };
  const readAtom = (): Atom => {
    need(1);
    const tag = b[p];
    const short = tag === SMALL_ATOM_UTF8_EXT || tag === SMALL_ATOM_EXT;
    if (!short && tag !== ATOM_UTF8_EXT && tag !== ATOM_EXT) bad();
    need(short ? 2 : 3);
    const len = short ? b[p + 1]! : b.readUInt16BE(p + 1);
    p += short ? 2 : 3;
    need(len);
    const utf8 = tag === SMALL_ATOM_UTF8_EXT || tag === ATOM_UTF8_EXT;
    const a = atom(b.toString(utf8 ? 'utf8' : 'latin1', p, p + len));
    p += len;
    return a;
  };
  const readInteger = (): number | bigint => {
    need(1);
    const tag = b[p];
    if (tag === SMALL_INTEGER_EXT) {
      need(2);
      p += 2;
      return b[p - 1]!;
    }
    if (tag === INTEGER_EXT) {
      need(5);
      p += 5;
      return b.readInt32BE(p - 4);
    }
    if (tag !== SMALL_BIG_EXT && tag !== LARGE_BIG_EXT) bad();
    const small = tag === SMALL_BIG_EXT;
    need(small ? 3 : 6);
    const n = small ? b[p + 1]! : b.readUInt32BE(p + 1);
    p += small ? 2 : 5;
    need(1 + n);
    const negative = b[p] !== 0;
    let v = 0n;
    for (let i = n; i >= 1; i--) v = (v << 8n) | BigInt(b[p + i]!);
    p += 1 + n;
    const signed = negative ? -v : v;
    return signed >= -9007199254740991n && signed <= 9007199254740991n ? Number(signed) : signed;
  };
  const readPid = (): Pid => {
    need(1);
    const tag = b[p];
    if (tag !== NEW_PID_EXT && tag !== PID_EXT) bad();
    p++;
    const node = readAtom();
    const newer = tag === NEW_PID_EXT;
    need(newer ? 12 : 9);
    const pid = new Pid(
      node,
      b.readUInt32BE(p),
      b.readUInt32BE(p + 4),
      newer ? b.readUInt32BE(p + 8) : b[p + 8]!,
    );
    p += newer ? 12 : 9;
    return pid;
  };
  if (b.length < 35 || b[0] !== NEW_FUN_EXT) bad();
  const index = b.readUInt32BE(22);
  readAtom();
  const oldIndex = readInteger();
  const oldUniq = readInteger();
  return { index, oldIndex, oldUniq, pid: readPid() };
}

/** A plain object encodes as a map whose keys are binaries. */
export interface TermObject {
  readonly [key: string]: Term;
}

/** Any value that encodes as an Erlang term. */
export type Term =
  | number
  | bigint
  | boolean
  | string
  | Atom
  | Float
  | Tuple
  | Term[]
  | readonly Term[]
  | ImproperList
  | Uint8Array
  | BitBinary
  | ReadonlyMap<Term, Term>
  | Pid
  | Reference
  | Port
  | ExportFun
  | Fun
  | TermObject;
