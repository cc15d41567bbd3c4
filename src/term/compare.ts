/**
 * Erlang term equality (`=:=`) and term order, over the TypeScript representation.
 *
 * Order of classes: number < atom < reference < fun < port < pid < tuple < map < nil < list <
 * bitstring. Within a class, the rules of OTP 25 (checked against `erl` 25.2.3):
 * - numbers by value. An integer and a float of the same value are `==` on the BEAM but not
 *   `=:=`; to stay a total order consistent with `equals`, two terms that the BEAM finds `==`
 *   are then ordered by their first integer/float difference, integer first. So whenever the
 *   BEAM says `A < B`, `compare(A, B)` is -1 (`{2.0, 1.0} < {2, 2}` as on the BEAM).
 *   OTP 25 treats `0.0` and `-0.0` as the same term, and so do we.
 * - atoms by the code points of their text (the byte order of their UTF-8);
 * - references by node name, then creation, then their words read as one number whose word 0 is
 *   least significant (a missing word is zero, so `[5]` equals `[5, 0, 0]` as on the BEAM);
 * - funs: local funs before export funs; export funs by module, name, arity; local funs as OTP 25
 *   does (checked against erl 25.2.3): by module, then Index, then OldUniq, both read as signed
 *   32-bit integers (OldUniq is kept modulo 2^32, so `-1` and `4294967295` are the same), then the
 *   number of free variables, then the free variables in turn (like tuple elements). Uniq,
 *   OldIndex, arity and the creator pid take no part: the BEAM finds two funs that differ only
 *   there `=:=` (it keys its fun table by module, Index and OldUniq). Nor do the encoded bytes, so
 *   a fun the BEAM re-encodes (UTF-8 atoms, a captured port as V4_PORT_EXT) stays equal. One
 *   deliberate difference: the BEAM orders Index and OldUniq by the sign of their 32-bit
 *   wrapping difference, which is not transitive when two values lie 2^31 or more apart; we
 *   compare the signed values, which agrees with it everywhere else (compiled funs have small
 *   indices) and keeps this a total order;
 * - ports by node name, then creation, then number;
 * - pids by serial, then number, then node name, then creation (global's lock ids rely on it);
 * - tuples by size, then elements; lists element by element, an improper tail compared as a term;
 * - maps by size, then keys in sorted order, then values in key order, where keys are compared in
 *   "map key order": any integer before any float, all the way down;
 * - bitstrings bit by bit, a prefix first. A JS string is the binary of its UTF-8.
 *
 * @module
 */

import { Buffer } from 'node:buffer';
import {
  Atom,
  BitBinary,
  ExportFun,
  Float,
  Fun,
  ImproperList,
  Pid,
  Port,
  Reference,
  type Term,
  Tuple,
} from './types.ts';

const NUMBER = 0;
const ATOM = 1;
const REFERENCE = 2;
const FUN = 3;
const PORT = 4;
const PID = 5;
const TUPLE = 6;
const MAP = 7;
const NIL = 8;
const LIST = 9;
const BITSTRING = 10;

const TRUE_UTF8 = new Uint8Array([116, 114, 117, 101]);
const FALSE_UTF8 = new Uint8Array([102, 97, 108, 115, 101]);
const EMPTY: readonly Term[] = [];

/** Numbers as the BEAM's `<` and `==` see them: by value only. */
const ARITH = 0;
/** By value, then an integer before a float of the same value: the tie-break that makes `=:=`. */
const STRICT = 1;
/** Map-key order: any integer before any float, at every depth. */
const KEY = 2;
type Mode = typeof ARITH | typeof STRICT | typeof KEY;

/** `a =:= b`: exact equality (`1` and `float(1)` differ; a string equals its UTF-8 binary). */
export function equals(a: Term, b: Term): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return false;
  if (a instanceof Atom && b instanceof Atom) return false;
  return cmp(a, b, STRICT) === 0;
}

/**
 * Erlang term order: -1, 0 or 1. A total order: `compare(a, b) === 0` exactly when
 * `equals(a, b)`. See the module comment for the rules.
 */
export function compare(a: Term, b: Term): -1 | 0 | 1 {
  const c = cmp(a, b, ARITH) || cmp(a, b, STRICT);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

/**
 * Erlang's map key order: -1, 0 or 1. Term order, except that every integer comes before every
 * float, at every depth (`#{2 => a}` sorts its key before `#{1.0 => a}`'s, and `{2}` before
 * `{1.0}`). The order in which the BEAM keeps (and prints) the keys of a small map, and in which
 * it compares the keys of two maps. A total order: 0 exactly when `equals(a, b)`.
 */
export function compareMapKeys(a: Term, b: Term): -1 | 0 | 1 {
  const c = cmp(a, b, KEY);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

function classOf(t: Term): number {
  switch (typeof t) {
    case 'number':
    case 'bigint':
      return NUMBER;
    case 'boolean':
      return ATOM;
    case 'string':
      return BITSTRING;
    case 'object':
      if (t instanceof Atom) return ATOM;
      if (t instanceof Tuple) return TUPLE;
      if (Array.isArray(t)) return t.length === 0 ? NIL : LIST;
      if (t instanceof Uint8Array || t instanceof BitBinary) return BITSTRING;
      if (t instanceof Map) return MAP;
      if (t instanceof Float) return NUMBER;
      if (t instanceof Pid) return PID;
      if (t instanceof Reference) return REFERENCE;
      if (t instanceof ImproperList) return LIST;
      if (t instanceof Port) return PORT;
      if (t instanceof ExportFun || t instanceof Fun) return FUN;
      if (t !== null) {
        const proto: unknown = Object.getPrototypeOf(t);
        if (proto === Object.prototype || proto === null) return MAP;
      }
  }
  throw new TypeError(`not an Erlang term: ${String(t)}`);
}

/** Compares two terms in the given mode. Returns <0, 0, >0. */
function cmp(a: Term, b: Term, mode: Mode): number {
  if (a === b) return 0;
  const ca = classOf(a);
  const cb = classOf(b);
  if (ca !== cb) return ca - cb;
  switch (ca) {
    case NUMBER:
      return compareNumbers(a as number | bigint | Float, b as number | bigint | Float, mode);
    case ATOM:
      return compareBytes(atomUtf8(a as Atom | boolean), atomUtf8(b as Atom | boolean));
    case REFERENCE:
      return compareReferences(a as Reference, b as Reference);
    case FUN:
      return compareFuns(a as Fun | ExportFun, b as Fun | ExportFun, mode);
    case PORT:
      return comparePorts(a as Port, b as Port);
    case PID:
      return comparePids(a as Pid, b as Pid);
    case TUPLE:
      return compareTuples(a as Tuple, b as Tuple, mode);
    case MAP:
      return compareMaps(a, b, mode);
    case NIL:
      return 0;
    case LIST:
      return compareLists(a as readonly Term[] | ImproperList, b as readonly Term[] | ImproperList, mode);
    default:
      return compareBitstrings(a as string | Uint8Array | BitBinary, b as string | Uint8Array | BitBinary);
  }
}

function compareNumbers(a: number | bigint | Float, b: number | bigint | Float, mode: Mode): number {
  let af: boolean;
  let av: number | bigint;
  if (typeof a === 'number') {
    af = !Number.isInteger(a);
    av = a;
  } else if (typeof a === 'bigint') {
    af = false;
    av = a;
  } else {
    af = true;
    av = a.value;
  }
  let bf: boolean;
  let bv: number | bigint;
  if (typeof b === 'number') {
    bf = !Number.isInteger(b);
    bv = b;
  } else if (typeof b === 'bigint') {
    bf = false;
    bv = b;
  } else {
    bf = true;
    bv = b.value;
  }
  if (mode === KEY && af !== bf) return af ? 1 : -1;
  // JS compares a bigint and a number by exact mathematical value.
  if (av < bv) return -1;
  if (av > bv) return 1;
  if (af === bf || mode === ARITH) return 0;
  return af ? 1 : -1;
}

function atomUtf8(a: Atom | boolean): Uint8Array {
  if (a === true) return TRUE_UTF8;
  if (a === false) return FALSE_UTF8;
  return a.utf8;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x - y;
  }
  return a.length - b.length;
}

function compareAtoms(a: Atom, b: Atom): number {
  return a === b ? 0 : compareBytes(a.utf8, b.utf8);
}

function compareInts(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareReferences(a: Reference, b: Reference): number {
  const c = compareAtoms(a.node, b.node) || a.creation - b.creation;
  if (c !== 0) return c;
  const x = a.ids;
  const y = b.ids;
  for (let i = Math.max(x.length, y.length) - 1; i >= 0; i--) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function compareFuns(a: Fun | ExportFun, b: Fun | ExportFun, mode: Mode): number {
  if (a instanceof ExportFun) {
    if (!(b instanceof ExportFun)) return 1;
    return compareAtoms(a.module, b.module) || compareAtoms(a.name, b.name) || a.arity - b.arity;
  }
  if (b instanceof ExportFun) return -1;
  const c =
    compareAtoms(a.module, b.module) ||
    (a.index | 0) - (b.index | 0) ||
    funUniq32(a.oldUniq) - funUniq32(b.oldUniq) ||
    a.free.length - b.free.length;
  if (c !== 0) return c;
  for (let i = 0; i < a.free.length; i++) {
    const d = cmp(a.free[i]!, b.free[i]!, mode);
    if (d !== 0) return d;
  }
  return 0;
}

/** @internal A fun's OldUniq as the BEAM keeps it: a signed 32-bit integer (the value modulo 2^32). */
export function funUniq32(v: number | bigint): number {
  return typeof v === 'number' ? v | 0 : Number(BigInt.asIntN(32, v));
}

function comparePorts(a: Port, b: Port): number {
  return compareAtoms(a.node, b.node) || a.creation - b.creation || compareInts(a.id, b.id);
}

function comparePids(a: Pid, b: Pid): number {
  return a.serial - b.serial || a.id - b.id || compareAtoms(a.node, b.node) || a.creation - b.creation;
}

function compareTuples(a: Tuple, b: Tuple, mode: Mode): number {
  const x = a.elements;
  const y = b.elements;
  if (x.length !== y.length) return x.length - y.length;
  for (let i = 0; i < x.length; i++) {
    const c = cmp(x[i]!, y[i]!, mode);
    if (c !== 0) return c;
  }
  return 0;
}

function mapEntries(m: Term): [Term, Term][] {
  if (m instanceof Map) return [...(m as ReadonlyMap<Term, Term>)];
  const o = m as Record<string, Term>;
  return Object.keys(o).map((k) => [k, o[k]!]);
}

function byKey(p: [Term, Term], q: [Term, Term]): number {
  return cmp(p[0], q[0], KEY);
}

function mapSize(m: Term): number {
  return m instanceof Map ? m.size : Object.keys(m as object).length;
}

function compareMaps(a: Term, b: Term, mode: Mode): number {
  const sa = mapSize(a);
  const sb = mapSize(b);
  if (sa !== sb) return sa - sb;
  const x = mapEntries(a).sort(byKey);
  const y = mapEntries(b).sort(byKey);
  for (let i = 0; i < x.length; i++) {
    const c = cmp(x[i]![0], y[i]![0], KEY);
    if (c !== 0) return c;
  }
  for (let i = 0; i < x.length; i++) {
    const c = cmp(x[i]![1], y[i]![1], mode);
    if (c !== 0) return c;
  }
  return 0;
}

function compareLists(
  a: readonly Term[] | ImproperList,
  b: readonly Term[] | ImproperList,
  mode: Mode,
): number {
  let xs: readonly Term[];
  let xt: Term;
  if (a instanceof ImproperList) {
    xs = a.elements;
    xt = a.tail;
  } else {
    xs = a;
    xt = EMPTY;
  }
  let ys: readonly Term[];
  let yt: Term;
  if (b instanceof ImproperList) {
    ys = b.elements;
    yt = b.tail;
  } else {
    ys = b;
    yt = EMPTY;
  }
  let i = 0;
  let j = 0;
  for (;;) {
    // Step into a tail that is itself a list, so `[a | [b]]` compares like `[a, b]`.
    while (i === xs.length && xt !== EMPTY && (Array.isArray(xt) || xt instanceof ImproperList)) {
      if (xt instanceof ImproperList) {
        xs = xt.elements;
        xt = xt.tail;
      } else {
        xs = xt as readonly Term[];
        xt = EMPTY;
      }
      i = 0;
    }
    while (j === ys.length && yt !== EMPTY && (Array.isArray(yt) || yt instanceof ImproperList)) {
      if (yt instanceof ImproperList) {
        ys = yt.elements;
        yt = yt.tail;
      } else {
        ys = yt as readonly Term[];
        yt = EMPTY;
      }
      j = 0;
    }
    const xDone = i === xs.length;
    const yDone = j === ys.length;
    if (xDone && yDone) return cmp(xt, yt, mode);
    // One side has run out: its tail (nil or a non-list) against the rest of the other list.
    if (xDone) return classOf(xt) < LIST ? -1 : 1;
    if (yDone) return classOf(yt) < LIST ? 1 : -1;
    const c = cmp(xs[i]!, ys[j]!, mode);
    if (c !== 0) return c;
    i++;
    j++;
  }
}

function compareBitstrings(a: string | Uint8Array | BitBinary, b: string | Uint8Array | BitBinary): number {
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  let ab: Uint8Array;
  let al: number;
  if (typeof a === 'string') {
    ab = Buffer.from(a, 'utf8');
    al = ab.length * 8;
  } else if (a instanceof BitBinary) {
    ab = a.data;
    al = a.bitLength;
  } else {
    ab = a;
    al = a.length * 8;
  }
  let bb: Uint8Array;
  let bl: number;
  if (typeof b === 'string') {
    bb = Buffer.from(b, 'utf8');
    bl = bb.length * 8;
  } else if (b instanceof BitBinary) {
    bb = b.data;
    bl = b.bitLength;
  } else {
    bb = b;
    bl = b.length * 8;
  }
  const bits = Math.min(al, bl);
  const whole = bits >>> 3;
  for (let i = 0; i < whole; i++) {
    const d = ab[i]! - bb[i]!;
    if (d !== 0) return d;
  }
  const rest = bits & 7;
  if (rest !== 0) {
    const d = (ab[whole]! >>> (8 - rest)) - (bb[whole]! >>> (8 - rest));
    if (d !== 0) return d;
  }
  return al - bl;
}

/** Two JS strings as the binaries of their UTF-8, without encoding them when it can be avoided. */
function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Below the surrogates, UTF-16 order is code point order is UTF-8 order.
      if (x < 0xd800 || y < 0xd800) return x - y;
      return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
    }
  }
  return a.length - b.length;
}
