/**
 * fast-check arbitraries for Erlang terms, shared by the codec's property tests, the fuzzer and
 * the interop tests.
 *
 * `arbTerm` covers every kind the codec handles: integers from bytes to ±2^1000 (numbers and
 * bigints), floats (plain, integral `Float`, -0.0), unicode atoms and booleans, binaries, JS
 * strings, bit strings, tuples (small and large), proper and improper lists, byte lists,
 * TermMaps (tuple keys included), plain objects, pids, references, ports, export funs and local
 * funs. `arbEqualVariant` rewrites a term into a different representation of the same Erlang
 * term (a string for its binary, a bigint for a number, reordered map entries, ...).
 */

import fc from 'fast-check';
import { decodeAt } from '../../src/term/decode.ts';
import { TermWriter } from '../../src/term/encode.ts';
import { TermMap } from '../../src/term/map.ts';
import {
  Atom,
  atom,
  BitBinary,
  ExportFun,
  Float,
  Fun,
  float,
  ImproperList,
  Pid,
  Port,
  Reference,
  type Term,
  Tuple,
} from '../../src/term/types.ts';

const TWO_1000 = 2n ** 1000n;

/** Node names as the BEAM writes them. */
export const arbNodeName: fc.Arbitrary<Atom> = fc
  .tuple(fc.constantFrom('a', 'b', 'ts', 'node1', 'erl'), fc.constantFrom('127.0.0.1', 'host', 'h.example'))
  .map(([n, h]) => atom(`${n}@${h}`));

/** Atom names: short ASCII mostly, any unicode up to the 255-character limit sometimes. */
export const arbAtom: fc.Arbitrary<Atom> = fc
  .oneof(
    { weight: 4, arbitrary: fc.constantFrom('ok', 'error', 'msg', 'undefined', 'a', 'b', 'z', '') },
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 20 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 200, maxLength: 255 }) },
  )
  .map((name) => atom(name));

export const arbInteger: fc.Arbitrary<number | bigint> = fc.oneof(
  fc.integer({ min: 0, max: 255 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -TWO_1000, max: TWO_1000 }),
  fc.constantFrom(
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 32,
    2n ** 64n,
    -(2n ** 64n),
    2n ** 64n - 1n,
    2n ** 2040n - 1n,
  ),
);

/** Floats: non-integral numbers, and `Float` for integral values and -0.0. */
export const arbFloat: fc.Arbitrary<number | Float> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((v) => !Number.isInteger(v)),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(float),
  fc.integer().map(float),
  fc.constantFrom(float(-0), float(0), float(1), 0.5, -1.5, Number.MIN_VALUE, float(Number.MAX_VALUE)),
);

export const arbBinary: fc.Arbitrary<Buffer> = fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u));

export const arbBitBinary: fc.Arbitrary<BitBinary> = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.integer({ min: 1, max: 7 }))
  .map(([u, bits]) => {
    const data = Buffer.from(u);
    // Unused bits are zero in a canonical bit string.
    data[data.length - 1] = data[data.length - 1]! & ((0xff << (8 - bits)) & 0xff);
    return new BitBinary(data, bits);
  });

const u32 = fc.nat({ max: 0xffff_ffff });

export const arbPid: fc.Arbitrary<Pid> = fc
  .tuple(arbNodeName, u32, u32, u32)
  .map(([node, id, serial, creation]) => new Pid(node, id, serial, creation));

export const arbReference: fc.Arbitrary<Reference> = fc
  .tuple(arbNodeName, u32, fc.array(u32, { minLength: 1, maxLength: 5 }))
  .map(([node, creation, ids]) => new Reference(node, creation, ids));

export const arbPort: fc.Arbitrary<Port> = fc
  .tuple(arbNodeName, fc.oneof(u32, fc.maxSafeNat(), fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n })), u32)
  .map(([node, id, creation]) => new Port(node, id, creation));

export const arbExportFun: fc.Arbitrary<ExportFun> = fc
  .tuple(arbAtom, arbAtom, fc.integer({ min: 0, max: 255 }))
  .map(([m, f, a]) => new ExportFun(m, f, a));

/** A NEW_FUN_EXT built field by field, decoded into a {@link Fun}. */
export function makeFun(
  module: Atom,
  arity: number,
  uniq: Uint8Array,
  index: number,
  oldIndex: number,
  oldUniq: number,
  pid: Pid,
  free: readonly Term[],
): Fun {
  const body = new TermWriter();
  body.u8(arity);
  body.bytes(uniq);
  body.u32(index);
  body.u32(free.length);
  body.writeTerm(module);
  body.writeTerm(oldIndex);
  body.writeTerm(oldUniq);
  body.writeTerm(pid);
  for (const v of free) body.writeTerm(v);
  const w = new TermWriter();
  w.u8(112);
  w.u32(body.length + 4);
  w.bytes(body.view());
  const { value } = decodeAt(w.finish(), 0);
  if (!(value instanceof Fun)) throw new Error('makeFun did not make a fun');
  return value;
}

const arbLeaf: fc.Arbitrary<Term> = fc.oneof(
  { weight: 3, arbitrary: arbInteger },
  { weight: 2, arbitrary: arbFloat },
  { weight: 3, arbitrary: arbAtom },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 2, arbitrary: arbBinary },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 1, arbitrary: arbBitBinary },
  { weight: 1, arbitrary: arbPid },
  { weight: 1, arbitrary: arbReference },
  { weight: 1, arbitrary: arbPort },
  { weight: 1, arbitrary: arbExportFun },
  { weight: 1, arbitrary: fc.constant([]) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 20 }).map((u) => [...u]) },
);

export const arbFun: fc.Arbitrary<Fun> = fc
  .tuple(
    arbAtom,
    fc.integer({ min: 0, max: 255 }),
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
    u32,
    fc.integer({ min: 0, max: 1000 }),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    arbPid,
    fc.array(arbLeaf, { maxLength: 3 }),
  )
  .map(([m, a, u, i, oi, ou, p, free]) => makeFun(m, a, u, i, oi, ou, p, free));

/** What {@link arbTermWith} may generate. */
export interface TermArbitraryOptions {
  /**
   * Local funs (NEW_FUN_EXT). Default true. Leave them out to compare orders with the BEAM:
   * our order between two local funs of one module is not OTP's (see src/term/compare.ts).
   */
  readonly localFuns?: boolean;
}

/** Any term, nested up to a few levels; see {@link TermArbitraryOptions}. */
export function arbTermWith(options: TermArbitraryOptions = {}): fc.Arbitrary<Term> {
  return fc.letrec<{ term: Term; container: Term }>((tie) => ({
    term: fc.oneof(
      { depthSize: 'small' },
      { weight: 3, arbitrary: arbLeaf },
      { weight: options.localFuns === false ? 0 : 1, arbitrary: arbFun },
      { weight: 2, arbitrary: tie('container') },
    ),
    container: fc.oneof(
      fc.array(tie('term'), { maxLength: 6 }).map((els) => new Tuple(els)),
      fc.array(arbLeaf, { minLength: 256, maxLength: 300 }).map((els) => new Tuple(els)),
      fc.array(tie('term'), { maxLength: 6 }),
      fc
        .tuple(fc.array(tie('term'), { minLength: 1, maxLength: 4 }), tie('term'))
        .filter(([, tail]) => !Array.isArray(tail))
        .map(([els, tail]) => new ImproperList(els, tail)),
      fc.array(fc.tuple(tie('term'), tie('term')), { maxLength: 5 }).map((entries) => new TermMap(entries)),
      fc
        .array(fc.tuple(fc.tuple(arbAtom, fc.integer()), tie('term')), { maxLength: 4 })
        .map((entries) => new TermMap(entries.map(([[a, i], v]) => [new Tuple([a, i]), v]))),
      fc.dictionary(fc.string({ maxLength: 8 }), tie('term'), { maxKeys: 4 }),
    ),
  })).term;
}

/** Any term, local funs included. */
export const arbTerm: fc.Arbitrary<Term> = arbTermWith();

/**
 * A different representation of the same Erlang term (equal by `equals`), chosen at random:
 * strings and binaries swapped, numbers as bigints, booleans as atoms, maps re-ordered or turned
 * into plain Maps, lists split into improper lists with list tails, reference words padded.
 */
export function arbEqualVariant(t: Term): fc.Arbitrary<Term> {
  return fc.infiniteStream(fc.nat()).map((choices) => {
    const it = choices[Symbol.iterator]();
    const pick = (n: number): number => (it.next().value as number) % n;
    return variant(t, pick);
  });
}

function variant(t: Term, pick: (n: number) => number): Term {
  switch (typeof t) {
    case 'number':
      return Number.isSafeInteger(t) && pick(2) === 0 ? BigInt(t) : t;
    case 'bigint':
      return t >= BigInt(Number.MIN_SAFE_INTEGER) && t <= BigInt(Number.MAX_SAFE_INTEGER) && pick(2) === 0
        ? Number(t)
        : t;
    case 'boolean':
      return pick(2) === 0 ? atom(String(t)) : t;
    case 'string':
      return pick(2) === 0 ? Buffer.from(t, 'utf8') : t;
  }
  if (t instanceof Atom) {
    if ((t.name === 'true' || t.name === 'false') && pick(2) === 0) return t.name === 'true';
    return t;
  }
  if (t instanceof Float) {
    if (t.value === 0 && pick(2) === 0) return float(-t.value); // OTP 25: 0.0 =:= -0.0
    return !Number.isInteger(t.value) && pick(2) === 0 ? t.value : t;
  }
  if (t instanceof Uint8Array) {
    const s = Buffer.from(t).toString('utf8');
    if (Buffer.from(s, 'utf8').equals(t) && pick(2) === 0) return s;
    // A bit string whose last byte is whole is the binary itself.
    return t.length > 0 && pick(2) === 0 ? new BitBinary(Buffer.from(t), 8) : Buffer.from(t);
  }
  if (t instanceof BitBinary) return t;
  if (t instanceof Tuple) return new Tuple(t.elements.map((e) => variant(e, pick)));
  if (Array.isArray(t)) {
    const els = (t as readonly Term[]).map((e) => variant(e, pick));
    if (els.length >= 2 && pick(3) === 0) {
      const cut = 1 + pick(els.length - 1);
      return new ImproperList(els.slice(0, cut), els.slice(cut));
    }
    return els;
  }
  if (t instanceof ImproperList)
    return new ImproperList(
      t.elements.map((e) => variant(e, pick)),
      variant(t.tail, pick),
    );
  if (t instanceof Reference) {
    return pick(2) === 0 && t.ids.length < 5 ? new Reference(t.node, t.creation, [...t.ids, 0]) : t;
  }
  if (t instanceof Map) {
    const entries: [Term, Term][] = [...(t as ReadonlyMap<Term, Term>)].map(([k, v]) => [
      variant(k, pick),
      variant(v, pick),
    ]);
    if (pick(2) === 0) entries.reverse();
    return pick(2) === 0 ? new TermMap(entries) : new Map(entries);
  }
  if (t instanceof Pid || t instanceof Port || t instanceof ExportFun || t instanceof Fun) return t;
  // A plain object: the same map as a TermMap with binary keys, or as an object again.
  const o = t as Record<string, Term>;
  if (pick(2) === 0) {
    return new TermMap(
      Object.keys(o).map((k) => [Buffer.from(k, 'utf8'), variant(o[k]!, pick)] as [Term, Term]),
    );
  }
  return Object.fromEntries(Object.keys(o).map((k) => [k, variant(o[k]!, pick)]));
}
