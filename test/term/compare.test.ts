import { describe, expect, it } from 'vitest';
import { compare, compareMapKeys, equals } from '../../src/term/compare.ts';
import { TermMap } from '../../src/term/map.ts';
import {
  atom,
  BitBinary,
  ExportFun,
  float,
  ImproperList,
  Pid,
  Port,
  Reference,
  type Term,
  tuple,
} from '../../src/term/types.ts';
import { makeFun } from '../support/term-arbitrary.ts';

/** Asserts that `terms` is strictly increasing, pair by pair and in both directions. */
function expectAscending(terms: readonly Term[]): void {
  for (let i = 0; i < terms.length; i++) {
    for (let j = 0; j < terms.length; j++) {
      const want = i < j ? -1 : i > j ? 1 : 0;
      expect(compare(terms[i]!, terms[j]!), `compare(#${i}, #${j})`).toBe(want);
    }
  }
}

const pid = (node: string, id: number, serial: number, creation: number): Pid =>
  new Pid(atom(node), id, serial, creation);
const port = (node: string, id: number | bigint, creation: number): Port =>
  new Port(atom(node), id, creation);
const ref = (node: string, creation: number, ids: number[]): Reference =>
  new Reference(atom(node), creation, ids);
const bits = (data: number[], n: number): BitBinary => new BitBinary(Buffer.from(data), n);

describe('equals', () => {
  it('is =:=: integers and floats differ, representations of one term do not', () => {
    expect(equals(1, float(1))).toBe(false);
    expect(equals(1, 1n)).toBe(true);
    expect(equals(2 ** 60, 2n ** 60n)).toBe(true);
    expect(equals(1.5, float(1.5))).toBe(true);
    expect(equals(float(0), float(-0))).toBe(true); // OTP 25: 0.0 =:= -0.0
    expect(equals(0, -0)).toBe(true);
    expect(equals(true, atom('true'))).toBe(true);
    expect(equals(false, atom('true'))).toBe(false);
    expect(equals('héllo', Buffer.from('héllo'))).toBe(true);
    expect(equals('\ud800', Buffer.from([0xef, 0xbf, 0xbd]))).toBe(true);
    expect(equals(Buffer.from([1]), new BitBinary(Buffer.from([1]), 8))).toBe(true);
    expect(equals(Buffer.from([1]), bits([1], 7))).toBe(false);
    expect(equals(bits([0xff], 1), bits([0x80], 1))).toBe(true);
    expect(equals([1, 2, 3], new ImproperList([1], [2, 3]))).toBe(true);
    expect(equals(new ImproperList([1], 2), [1, 2])).toBe(false);
    expect(equals(tuple(1, 'a'), tuple(1n, Buffer.from('a')))).toBe(true);
    expect(equals({ a: 1 }, new Map<Term, Term>([['a', 1]]))).toBe(true);
    expect(
      equals(
        new Map<Term, Term>([
          [1, 2],
          [3, 4],
        ]),
        new TermMap<Term, Term>([
          [3n, 4],
          [1, 2],
        ]),
      ),
    ).toBe(true);
    expect(equals(ref('a', 1, [5]), ref('a', 1, [5, 0, 0]))).toBe(true);
    expect(equals(ref('a', 1, [0]), ref('a', 1, [0, 0]))).toBe(true);
    expect(equals(pid('a', 1, 2, 3), pid('a', 1, 2, 3))).toBe(true);
    expect(equals(pid('a', 1, 2, 3), pid('a', 1, 2, 4))).toBe(false);
    expect(equals(port('a', 5, 1), port('a', 5n, 1))).toBe(true);
  });

  it('throws a TypeError for values that are not terms', () => {
    expect(() => compare(undefined as unknown as Term, 1)).toThrow(TypeError);
    expect(() => equals(new Date() as unknown as Term, 1)).toThrow(TypeError);
  });
});

describe('compare: the order of OTP 25 (each case checked against erl 25.2.3)', () => {
  const p0 = makeFun(atom('zzz'), 0, new Uint8Array(16), 0, 0, 0, pid('a', 1, 0, 0), []);

  it('orders classes: number < atom < reference < fun < port < pid < tuple < map < nil < list < bitstring', () => {
    expectAscending([
      2n ** 100n,
      atom('a'),
      ref('a', 0, [1]),
      p0,
      new ExportFun(atom('a'), atom('b'), 0),
      port('a', 1, 0),
      pid('a', 1, 0, 0),
      tuple(),
      new Map(),
      [],
      [0],
      Buffer.alloc(0),
    ]);
  });

  it('numbers by value; an integer before an equal float', () => {
    expectAscending([-(2n ** 70n), -1.5, -1, float(-0), 1, float(1), 1.5, 2, 2n ** 64n, float(2 ** 65)]);
    expect(compare(0, float(0))).toBe(-1);
    expect(compare(float(0), float(-0))).toBe(0);
    expect(compare(2n ** 64n, float(2 ** 64))).toBe(-1);
    expect(compare(2n ** 64n + 1n, float(2 ** 64))).toBe(1);
    // The tie-break only decides between terms the BEAM finds ==: {2.0, 1.0} < {2, 2} as in erl.
    expect(compare(tuple(float(2), float(1)), tuple(2, 2))).toBe(-1);
    expect(compare(tuple(float(2), 2), tuple(2, float(2)))).toBe(1);
    expect(compare([1, float(3)], [float(1), 2])).toBe(1);
  });

  it('atoms by code point: a < ab < b < U+E000 < U+10000; true and false are atoms', () => {
    expectAscending([atom(''), atom('a'), atom('ab'), atom('b'), atom('\u{e000}'), atom('\u{10000}')]);
    expectAscending([atom('a@h'), atom('ats@h'), atom('b@h'), atom('ts@h')]);
    expectAscending([false, atom('ok'), true, atom('zz')]);
  });

  it('pids by serial, then number, then node name, then creation', () => {
    expectAscending([
      pid('a', 1, 0, 0),
      pid('a', 1, 0, 1),
      pid('a', 1, 0, 2),
      pid('b', 1, 0, 1),
      pid('a', 2, 0, 1),
      pid('a', 0, 1, 5),
      pid('z', 1, 1, 0),
    ]);
    // global's lock ids: lists:sort([<ts.2.0>, <a.56.0>]) gives [<ts.2.0>, <a.56.0>].
    expect(compare(pid('ts@h', 2, 0, 1), pid('a@h', 56, 0, 1))).toBe(-1);
  });

  it('ports by node name, then creation, then number', () => {
    expectAscending([
      port('a', 1, 1),
      port('a', 2, 1),
      port('a', 2 ** 32, 1),
      port('a', 1, 2),
      port('b', 5, 0),
      port('b', 1, 1),
      port('z', 0, 3),
    ]);
    expect(compare(port('a', 2n ** 60n, 1), port('a', 2 ** 40, 1))).toBe(1);
  });

  it('references by node, creation, then words as one zero-padded number, word 0 lowest', () => {
    expectAscending([
      ref('a', 1, [1, 0, 0]),
      ref('a', 1, [2, 0, 0]),
      ref('a', 1, [5]),
      ref('a', 1, [0, 1, 0]),
      ref('a', 1, [1, 2]),
      ref('a', 1, [0, 0, 1]),
      ref('a', 1, [0, 0, 0, 0, 1]),
      ref('a', 2, [1, 0, 0]),
      ref('b', 1, [1, 0, 0]),
      ref('z', 0, [0, 0, 0]),
    ]);
  });

  it('funs: local funs before export funs, export funs by module, name, arity', () => {
    const p = pid('a', 1, 0, 0);
    const local = makeFun(atom('zzz'), 0, new Uint8Array(16), 0, 0, 0, p, []);
    const localOtherModule = makeFun(atom('aaa'), 0, new Uint8Array(16), 0, 0, 0, p, []);
    expectAscending([
      localOtherModule,
      local,
      new ExportFun(atom('aaa'), atom('f'), 0),
      new ExportFun(atom('aaa'), atom('f'), 1),
      new ExportFun(atom('aaa'), atom('g'), 0),
      new ExportFun(atom('lists'), atom('map'), 2),
    ]);
    const withFree = makeFun(atom('zzz'), 0, new Uint8Array(16), 0, 0, 0, p, [1]);
    expect(compare(local, withFree)).not.toBe(0);
    expect(equals(local, makeFun(atom('zzz'), 0, new Uint8Array(16), 0, 0, 0, p, []))).toBe(true);
  });

  it('local funs of one module: by Index, OldUniq, free variable count, free variables', () => {
    const p = pid('a', 1, 0, 0);
    const f = (index: number, oldUniq: number, free: Term[]): Term =>
      makeFun(atom('m'), 1, new Uint8Array(16), index, 0, oldUniq, p, free);
    expectAscending([
      f(-1 >>> 0, 9, []), // Index is a signed 32-bit integer on the BEAM: 2^32 - 1 is -1.
      f(0, 9, []),
      f(1, -5, [9]),
      f(1, 0, [9]),
      f(1, 0, [1, 1]),
      f(2, 0, []),
      f(2, 0, [1]),
      f(2, 0, [float(1.5)]),
      f(2, 0, [atom('a')]),
    ]);
    // Only Index, OldUniq (modulo 2^32) and the free variables say which fun it is.
    const base = makeFun(atom('m'), 1, new Uint8Array(16), 3, 4, 5, p, [1]);
    const same = [
      makeFun(atom('m'), 2, new Uint8Array(16).fill(7), 3, 9, 5, pid('b', 2, 2, 2), [1]),
      makeFun(atom('m'), 1, new Uint8Array(16), 3, 4, 5 + 2 ** 32, p, [1]),
      makeFun(atom('m'), 1, new Uint8Array(16), 3, 4, 5, p, [1n]),
    ];
    for (const [i, t] of same.entries()) {
      expect(equals(base, t), `#${i}`).toBe(true);
      expect(compare(base, t), `#${i}`).toBe(0);
      expect(new TermMap<Term, Term>([[base, 1]]).get(t), `#${i}`).toBe(1);
    }
    // 1 and 1.0 captured: == but not =:=.
    const float1 = makeFun(atom('m'), 1, new Uint8Array(16), 3, 4, 5, p, [float(1)]);
    expect(equals(base, float1)).toBe(false);
    expect(compare(base, float1)).toBe(-1);
  });

  it('compareMapKeys: integers before floats at every depth, otherwise term order', () => {
    const m = (k: Term): Term => new TermMap([[k, atom('v')]]);
    const keys: Term[] = [1, 2, float(1), 1.5, atom('a'), tuple(2), tuple(float(1)), m(2), m(float(1))];
    for (let i = 0; i < keys.length; i++) {
      for (let j = 0; j < keys.length; j++) {
        const want = i < j ? -1 : i > j ? 1 : 0;
        expect(compareMapKeys(keys[i]!, keys[j]!), `#${i} vs #${j}`).toBe(want);
      }
    }
    expect(compareMapKeys(5n, 5)).toBe(0);
    expect(compareMapKeys(float(0), float(-0))).toBe(0);
    expect(compareMapKeys(new ImproperList([1], 1), new ImproperList([1], float(0.5)))).toBe(-1);
  });

  it('tuples by size, then elements', () => {
    expectAscending([tuple(), tuple(9), tuple(1, 2), tuple(1, 3), tuple(2, 0), tuple(0, 0, 0)]);
  });

  it('maps by size, then keys in map-key order (integers before floats), then values', () => {
    const m = (...entries: [Term, Term][]): Map<Term, Term> => new Map(entries);
    // #{2=>a} < #{1.0=>a} and #{{2}=>a} < #{{1.0}=>a}: in keys, any integer precedes any float.
    expect(compare(m([2, atom('a')]), m([float(1), atom('a')]))).toBe(-1);
    expect(compare(m([tuple(2), atom('a')]), m([tuple(float(1)), atom('a')]))).toBe(-1);
    // Values use the ordinary order: #{a=>2} > #{a=>1.0}.
    expect(compare(m([atom('a'), 2]), m([atom('a'), float(1)]))).toBe(1);
    expect(compare(m([atom('a'), tuple(2)]), m([atom('a'), tuple(float(1))]))).toBe(1);
    expectAscending([m(), m([1, 9]), m([2, 0]), m([atom('a'), 0]), m([1, 0], [2, 0]), m([1, 1], [2, 0])]);
    expect(compare({ b: 1, a: 2 }, m(['a', 2], ['b', 1]))).toBe(0);
  });

  it('lists element by element; nil first; improper tails compared as terms', () => {
    // lists:sort gives [[], [1|2], [1], [1,2], [1,2,3], [1|<<>>], [2]].
    expectAscending([
      [],
      new ImproperList([1], 2),
      [1],
      [1, 2],
      [1, 2, 3],
      new ImproperList([1], Buffer.alloc(0)),
      [2],
    ]);
    expect(compare(new ImproperList([1], atom('b')), new ImproperList([1], atom('c')))).toBe(-1);
    // A bitstring tail is greater than a list tail.
    expect(compare(new ImproperList([1], Buffer.alloc(0)), [1, 2])).toBe(1);
  });

  it('bitstrings bit by bit, a prefix first; strings as their UTF-8', () => {
    expectAscending([
      Buffer.alloc(0),
      bits([0], 1),
      bits([0], 7),
      Buffer.from([0]),
      Buffer.from([1]),
      Buffer.from([1, 2]),
      bits([1, 2 << 1], 7),
      bits([0x80], 1),
    ]);
    expectAscending(['', 'a', Buffer.from('ab'), 'b', '\u{e000}', '\u{10000}', Buffer.from([0xff])]);
    expect(compare('\ud800', '\ufffd')).toBe(0);
  });

  it('sorts arrays with Array.prototype.sort', () => {
    const sorted = [atom('b'), 3, tuple(), atom('a'), 1].sort(compare);
    expect(sorted).toEqual([1, 3, atom('a'), atom('b'), tuple()]);
  });
});
