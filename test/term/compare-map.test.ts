import { describe, expect, it } from 'vitest';
import { decode } from '../../src/term/decode.ts';
import { encode } from '../../src/term/encode.ts';
import { TermMap } from '../../src/term/map.ts';
import { atom, BitBinary, float, ImproperList, Reference, type Term, tuple } from '../../src/term/types.ts';

describe('TermMap: keys by Erlang equality', () => {
  it('finds a decoded tuple key with a freshly built tuple', () => {
    const m = decode(
      encode(new Map<Term, Term>([[tuple(atom('connection_id'), atom('b@h')), 14040272]])),
    ) as TermMap;
    expect(m.get(tuple(atom('connection_id'), atom('b@h')))).toBe(14040272);
    expect(m.has(tuple(atom('connection_id'), atom('c@h')))).toBe(false);
  });

  it('a JS string is the binary of its UTF-8, both ways', () => {
    const decoded = decode(encode({ name: 1, é: 2 })) as TermMap;
    expect(decoded.get('name')).toBe(1);
    expect(decoded.get('é')).toBe(2);
    const m = new TermMap<Term, Term>([['name', 1]]);
    expect(m.get(Buffer.from('name'))).toBe(1);
    expect(m.get(new Uint8Array(Buffer.from('name')))).toBe(1);
    expect(m.get(new BitBinary(Buffer.from('name'), 8))).toBe(1);
    expect(m.get(Buffer.from('nam'))).toBeUndefined();
    // Not UTF-8 and lone surrogates still work: they are keyed by their encoding.
    const raw = new TermMap<Term, Term>([[Buffer.from([0xff, 0xfe]), 'raw']]);
    expect(raw.get(Buffer.from([0xff, 0xfe]))).toBe('raw');
    expect(new TermMap<Term, Term>([['\ud800', 1]]).get(Buffer.from([0xef, 0xbf, 0xbd]))).toBe(1);
  });

  it('5n and 5 are one key; 1 and float(1) are two; 1.5 and float(1.5) are one', () => {
    const m = new TermMap<Term, Term>();
    m.set(5n, atom('a'));
    m.set(5, atom('b'));
    expect(m.size).toBe(1);
    expect([...m.keys()]).toEqual([5n]);
    expect(m.get(5)).toBe(atom('b'));
    m.set(1, atom('int'));
    m.set(float(1), atom('float'));
    expect(m.size).toBe(3);
    expect(m.get(1)).toBe(atom('int'));
    expect(m.get(float(1))).toBe(atom('float'));
    m.set(1.5, atom('x'));
    expect(m.get(float(1.5))).toBe(atom('x'));
    m.set(2n ** 60n, atom('big'));
    expect(m.get(2 ** 60)).toBe(atom('big'));
    m.set(float(0), atom('zero'));
    expect(m.get(float(-0))).toBe(atom('zero')); // OTP 25: 0.0 =:= -0.0
  });

  it('booleans are the atoms true and false', () => {
    const m = new TermMap<Term, Term>([[true, 1]]);
    expect(m.get(atom('true'))).toBe(1);
    expect(m.has(false)).toBe(false);
    m.set(atom('false'), 0);
    expect(m.get(false)).toBe(0);
  });

  it('structural keys of every shape: maps in any order, objects, lists, references', () => {
    const m = new TermMap<Term, Term>();
    m.set(
      new Map<Term, Term>([
        [1, 2],
        [3, 4],
      ]),
      'map',
    );
    expect(
      m.get(
        new TermMap<Term, Term>([
          [3, 4],
          [1n, 2],
        ]),
      ),
    ).toBe('map');
    m.set({ a: 1 }, 'object');
    expect(m.get(new Map<Term, Term>([[Buffer.from('a'), 1]]))).toBe('object');
    m.set([1, 2, 3], 'list');
    expect(m.get(new ImproperList([1], [2, 3]))).toBe('list');
    m.set(new Reference(atom('a@h'), 1, [7]), 'ref');
    expect(m.get(new Reference(atom('a@h'), 1, [7, 0, 0]))).toBe('ref');
  });

  it('keeps the first key object, updates the value, and iterates in insertion order', () => {
    const first = tuple(atom('k'), 1);
    const m = new TermMap<Term, Term>([
      [first, 1],
      [atom('z'), 2],
    ]);
    m.set(tuple(atom('k'), 1n), 3);
    expect(m.size).toBe(2);
    expect([...m.keys()][0]).toBe(first);
    expect([...m.entries()]).toEqual([
      [first, 3],
      [atom('z'), 2],
    ]);
    const seen: Term[] = [];
    m.forEach((_v, k) => {
      seen.push(k);
    });
    expect(seen).toEqual([first, atom('z')]);
  });

  it('delete and clear by equal keys', () => {
    const m = new TermMap<Term, Term>([
      ['s', 1],
      [5n, 2],
      [tuple(1), 3],
      [4, 4],
    ]);
    expect(m.delete(Buffer.from('s'))).toBe(true);
    expect(m.delete(5)).toBe(true);
    expect(m.delete(tuple(1n))).toBe(true);
    expect(m.delete(tuple(2))).toBe(false);
    expect([...m.keys()]).toEqual([4]);
    expect(m.has(5n)).toBe(false);
    m.set(5, 9);
    expect(m.get(5n)).toBe(9);
    m.clear();
    expect(m.size).toBe(0);
    expect(m.get(5)).toBeUndefined();
  });

  it('the constructor merges equal keys like set', () => {
    const m = new TermMap<Term, Term>([
      ['a', 1],
      [Buffer.from('a'), 2],
    ]);
    expect(m.size).toBe(1);
    expect(m.get('a')).toBe(2);
    expect(m).toBeInstanceOf(Map);
  });
});
