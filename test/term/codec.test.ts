import { inspect } from 'node:util';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { equals } from '../../src/term/compare.ts';
import { decode, decodeAt, TermReader } from '../../src/term/decode.ts';
import { encode, TermWriter } from '../../src/term/encode.ts';
import { TermDecodeError, type TermDecodeErrorCode, TermEncodeError } from '../../src/term/errors.ts';
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
  improperList,
  Pid,
  Port,
  Reference,
  type Term,
  Tuple,
  tuple,
} from '../../src/term/types.ts';

const bytes = (...b: number[]): Buffer => Buffer.from(b);
const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];
/** SMALL_ATOM_UTF8_EXT of an ASCII name. */
const satom = (s: string): number[] => [119, s.length, ...ascii(s)];
const u32 = (v: number): number[] => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

/** Asserts that decoding fails with this code at this offset. */
function expectDecodeError(
  input: Uint8Array,
  code: TermDecodeErrorCode,
  offset: number,
  options?: Parameters<typeof decode>[1],
): TermDecodeError {
  let caught: unknown;
  try {
    decode(input, options);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(TermDecodeError);
  const err = caught as TermDecodeError;
  expect({ code: err.code, offset: err.offset }).toEqual({ code, offset });
  expect(err.message).toContain(code);
  expect(err.message).toContain(`offset ${offset}`);
  return err;
}

function expectEncodeError(t: unknown, code: TermEncodeError['code']): void {
  let caught: unknown;
  try {
    encode(t as Term);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(TermEncodeError);
  expect((caught as TermEncodeError).code).toBe(code);
}

const node = atom('a@b');
const ref = new Reference(node, 1, [1, 2, 3]);
const refBytes = [90, 0, 3, ...satom('a@b'), ...u32(1), ...u32(1), ...u32(2), ...u32(3)];

describe('encode: exact bytes', () => {
  it('the small message, byte for byte as OTP 25 with minor_version 2', () => {
    expect([...encode(tuple(atom('msg'), 42, Buffer.from('payload')))]).toEqual([
      131, 104, 3, 119, 3, 109, 115, 103, 97, 42, 109, 0, 0, 0, 7, 112, 97, 121, 108, 111, 97, 100,
    ]);
  });

  it('integers take the smallest tag', () => {
    expect([...encode(0)]).toEqual([131, 97, 0]);
    expect([...encode(255)]).toEqual([131, 97, 255]);
    expect([...encode(256)]).toEqual([131, 98, 0, 0, 1, 0]);
    expect([...encode(-1)]).toEqual([131, 98, 255, 255, 255, 255]);
    expect([...encode(2 ** 31 - 1)]).toEqual([131, 98, 127, 255, 255, 255]);
    expect([...encode(-(2 ** 31))]).toEqual([131, 98, 128, 0, 0, 0]);
    expect([...encode(2 ** 31)]).toEqual([131, 110, 4, 0, 0, 0, 0, 128]);
    expect([...encode(-(2 ** 31) - 1)]).toEqual([131, 110, 4, 1, 1, 0, 0, 128]);
    expect([...encode(2n ** 64n)]).toEqual([131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect([...encode(-(2n ** 70n))]).toEqual([131, 110, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 64]);
    expect([...encode(5n)]).toEqual([131, 97, 5]);
    expect([...encode(Number.MAX_SAFE_INTEGER)]).toEqual([131, 110, 7, 0, 255, 255, 255, 255, 255, 255, 31]);
    // An integral number past 2^53 is the integer it denotes.
    expect([...encode(2 ** 64)]).toEqual([...encode(2n ** 64n)]);
    const huge = encode(2n ** 2048n);
    expect([...huge.subarray(0, 7)]).toEqual([131, 111, 0, 0, 1, 1, 0]);
    expect(huge.length).toBe(7 + 257);
  });

  it('floats are NEW_FLOAT_EXT; float() forces a float for integral values', () => {
    expect([...encode(float(1))]).toEqual([131, 70, 63, 240, 0, 0, 0, 0, 0, 0]);
    expect([...encode(float(-0))]).toEqual([131, 70, 128, 0, 0, 0, 0, 0, 0, 0]);
    expect([...encode(1.5)]).toEqual([131, 70, 63, 248, 0, 0, 0, 0, 0, 0]);
    expect([...encode(-0)]).toEqual([131, 97, 0]);
  });

  it('atoms are SMALL_ATOM_UTF8_EXT, or ATOM_UTF8_EXT from 256 bytes; booleans are atoms', () => {
    expect([...encode(atom('ok'))]).toEqual([131, 119, 2, 111, 107]);
    expect([...encode(atom('été'))]).toEqual([131, 119, 5, 195, 169, 116, 195, 169]);
    expect([...encode(true)]).toEqual([131, ...satom('true')]);
    expect([...encode(false)]).toEqual([131, ...satom('false')]);
    const long = encode(atom('é'.repeat(200)));
    expect([...long.subarray(0, 4)]).toEqual([131, 118, 1, 144]);
    expect(long.length).toBe(4 + 400);
  });

  it('lists: NIL, STRING_EXT for byte lists up to 65535, LIST_EXT otherwise', () => {
    expect([...encode([])]).toEqual([131, 106]);
    expect([...encode([1, 2, 3])]).toEqual([131, 107, 0, 3, 1, 2, 3]);
    expect([...encode([256])]).toEqual([131, 108, 0, 0, 0, 1, 98, 0, 0, 1, 0, 106]);
    expect([...encode([1, atom('a')])]).toEqual([131, 108, 0, 0, 0, 2, 97, 1, ...satom('a'), 106]);
    expect([...encode(new Array(65535).fill(7)).subarray(0, 4)]).toEqual([131, 107, 255, 255]);
    expect([...encode(new Array(65536).fill(7)).subarray(0, 6)]).toEqual([131, 108, 0, 1, 0, 0]);
  });

  it('improper lists keep their tail: [alias | Ref] as gen_server sends it', () => {
    expect([...encode(improperList([atom('alias')], ref))]).toEqual([
      131,
      108,
      0,
      0,
      0,
      1,
      ...satom('alias'),
      ...refBytes,
    ]);
    expect([...encode(new ImproperList([atom('a')], atom('b')))]).toEqual([
      131,
      108,
      0,
      0,
      0,
      1,
      ...satom('a'),
      ...satom('b'),
    ]);
    // A list tail is flattened: [1 | [2]] is [1, 2].
    expect([...encode(new ImproperList([1], [2]))]).toEqual([...encode([1, 2])]);
  });

  it('binaries, strings, bit strings', () => {
    expect([...encode(Buffer.from('hi'))]).toEqual([131, 109, 0, 0, 0, 2, 104, 105]);
    expect([...encode(new Uint8Array([1, 2]))]).toEqual([131, 109, 0, 0, 0, 2, 1, 2]);
    expect([...encode('hé')]).toEqual([131, 109, 0, 0, 0, 3, 104, 195, 169]);
    expect([...encode('x'.repeat(100)).subarray(0, 6)]).toEqual([131, 109, 0, 0, 0, 100]);
    expect([...encode(new BitBinary(bytes(1, 2, 3 << 3), 5))]).toEqual([131, 77, 0, 0, 0, 3, 5, 1, 2, 24]);
    // Unused bits go out as zero; a whole last byte is a plain binary.
    expect([...encode(new BitBinary(bytes(0xff), 1))]).toEqual([131, 77, 0, 0, 0, 1, 1, 0x80]);
    expect([...encode(new BitBinary(bytes(9), 8))]).toEqual([131, 109, 0, 0, 0, 1, 9]);
  });

  it('tuples: small and large', () => {
    expect([...encode(tuple())]).toEqual([131, 104, 0]);
    const big = encode(new Tuple(Array.from({ length: 300 }, (_, i) => i + 1)));
    expect([...big.subarray(0, 8)]).toEqual([131, 105, 0, 0, 1, 44, 97, 1]);
  });

  it('maps: any Map in iteration order, plain objects with binary keys', () => {
    const m = new Map<Term, Term>([
      [1, atom('a')],
      [atom('a'), 1],
    ]);
    expect([...encode(m)]).toEqual([131, 116, 0, 0, 0, 2, 97, 1, ...satom('a'), ...satom('a'), 97, 1]);
    expect([...encode({ k: 1 })]).toEqual([131, 116, 0, 0, 0, 1, 109, 0, 0, 0, 1, 107, 97, 1]);
    expect([...encode(Object.assign(Object.create(null) as object, { k: 1 }) as Term)]).toEqual([
      ...encode({ k: 1 }),
    ]);
  });

  it('pids, references, ports, export funs', () => {
    expect([...encode(new Pid(node, 5, 6, 7))]).toEqual([
      131,
      88,
      ...satom('a@b'),
      ...u32(5),
      ...u32(6),
      ...u32(7),
    ]);
    expect([...encode(ref)]).toEqual([131, ...refBytes]);
    expect([...encode(new Port(node, 9, 2))]).toEqual([131, 89, ...satom('a@b'), ...u32(9), ...u32(2)]);
    expect([...encode(new Port(node, 2 ** 32 + 1, 2))]).toEqual([
      131,
      120,
      ...satom('a@b'),
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      1,
      ...u32(2),
    ]);
    expect([...encode(new Port(node, 2n ** 63n, 2))]).toEqual([
      131,
      120,
      ...satom('a@b'),
      128,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...u32(2),
    ]);
    expect([...encode(new ExportFun(atom('lists'), atom('map'), 2))]).toEqual([
      131,
      113,
      ...satom('lists'),
      ...satom('map'),
      97,
      2,
    ]);
  });

  it('a local fun goes back out as its exact bytes', () => {
    const fromErl = bytes(
      131,
      112,
      0,
      0,
      0,
      69,
      1,
      80,
      126,
      179,
      207,
      92,
      182,
      98,
      99,
      55,
      175,
      132,
      60,
      192,
      187,
      75,
      71,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      100,
      0,
      1,
      103,
      97,
      0,
      98,
      2,
      131,
      245,
      158,
      88,
      100,
      0,
      13,
      110,
      111,
      110,
      111,
      100,
      101,
      64,
      110,
      111,
      104,
      111,
      115,
      116,
      0,
      0,
      0,
      9,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    );
    const f = decode(fromErl);
    expect(f).toBeInstanceOf(Fun);
    expect((f as Fun).module).toBe(atom('g'));
    expect((f as Fun).arity).toBe(1);
    expect((f as Fun).bytes.equals(fromErl.subarray(1))).toBe(true);
    expect(encode(f).equals(fromErl)).toBe(true);
  });

  it('compressed like term_to_binary(T, [compressed]), only when smaller', () => {
    const t = new Array(40).fill(atom('abc'));
    const packed = encode(t, { compressed: true });
    expect([...packed.subarray(0, 6)]).toEqual([131, 80, ...u32(encode(t).length - 1)]);
    expect(equals(decode(packed), t)).toBe(true);
    expect([...encode(atom('a'), { compressed: 9 })]).toEqual([131, 119, 1, 97]);
  });

  it('gives the bytes of a plain TermWriter whichever way it sizes and allocates', () => {
    const plain = (t: Term): Buffer => {
      const w = new TermWriter(16);
      w.writeVersioned(t);
      return w.finish();
    };
    const big = Buffer.alloc(5000, 7);
    const deep = (n: number): Term => (n === 0 ? 1 : [deep(n - 1)]);
    const terms: Term[] = [
      // Sized first: small and plain.
      tuple(atom('msg'), 42, Buffer.from('payload')),
      new Map<Term, Term>([[atom('k'), [1, 2.5, 'text', true]]]),
      // Written into a growing buffer: past the sizing budget, deep, or of a rarer class.
      Array.from({ length: 300 }, (_, i) => tuple(i, Buffer.from('x'))),
      deep(20),
      tuple(2n ** 70n, ref, 'ü'),
      // Large binaries, copied once into the result, before, between and after other bytes.
      big,
      tuple(big, atom('mid'), big, 1),
      Array.from({ length: 300 }, (_, i) => (i % 100 === 0 ? big : i)),
      { a: big, b: new BitBinary(Buffer.alloc(2000, 0xff), 3), c: 1, d: big, e: Buffer.from('tail') },
      [{}, big],
    ];
    for (const [i, t] of terms.entries()) {
      expect(encode(t).equals(plain(t)), `#${i}`).toBe(true);
      expect(equals(decode(encode(t)), t), `#${i}`).toBe(true);
    }
    // A term that fails after a large binary: the error, on either path.
    expect(() => encode({ a: [big, Number.NaN] })).toThrow(TermEncodeError);
    expect(() => encode([big, Number.NaN])).toThrow(TermEncodeError);
  });

  it('is deterministic', () => {
    const t = tuple(new Map<Term, Term>([[tuple(atom('k'), 1), { a: [1.5, 'x'] }]]), 2n ** 100n, ref);
    expect(encode(t).equals(encode(t))).toBe(true);
  });
});

describe('encode: errors', () => {
  it('values with no Erlang counterpart are unencodable', () => {
    for (const v of [
      undefined,
      null,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -Infinity,
      Symbol('s'),
      () => 1,
    ]) {
      expectEncodeError(v, 'unencodable');
    }
    expectEncodeError(new Date(), 'unencodable');
    expectEncodeError(new Set([1]), 'unencodable');
    expectEncodeError(float(Number.NaN), 'unencodable');
    expectEncodeError(tuple(1, [undefined as unknown as Term]), 'unencodable');
  });

  it('nesting past maxDepth, and cycles, are too_deep', () => {
    const cyclic: Term[] = [];
    cyclic.push(cyclic);
    expectEncodeError(cyclic, 'too_deep');
    let deep: Term = 1;
    for (let i = 0; i < 10; i++) deep = tuple(deep);
    expect(() => encode(deep, { maxDepth: 9 })).toThrow(TermEncodeError);
    expect(encode(deep, { maxDepth: 10 }).length).toBeGreaterThan(0);
  });

  it('out-of-range fields are invalid', () => {
    expectEncodeError(new Pid(node, -1, 0, 0), 'invalid');
    expectEncodeError(new Pid(node, 2 ** 32, 0, 0), 'invalid');
    expectEncodeError(new Reference(node, 1, [1, 2, 3, 4, 5, 6]), 'invalid');
    expectEncodeError(new Reference(node, 1, []), 'invalid');
    expectEncodeError(new Port(node, -1, 0), 'invalid');
    expectEncodeError(new ExportFun(atom('m'), atom('f'), 256), 'invalid');
    expect(() => encode(1, { compressed: 10 })).toThrow(TermEncodeError);
  });

  it('a failed write leaves the writer as it was', () => {
    const w = new TermWriter();
    w.writeTerm(atom('ok'));
    expect(() => w.writeTerm(tuple(1, undefined as unknown as Term))).toThrow(TermEncodeError);
    expect([...w.view()]).toEqual(satom('ok'));
  });
});

describe('decode: every tag', () => {
  it('integers, as numbers while safe and bigints beyond', () => {
    expect(decode(bytes(131, 97, 200))).toBe(200);
    expect(decode(bytes(131, 98, 255, 255, 255, 255))).toBe(-1);
    expect(decode(bytes(131, 110, 2, 0, 5, 0))).toBe(5);
    expect(decode(bytes(131, 110, 1, 1, 0))).toBe(0);
    expect(decode(bytes(131, 110, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 64))).toBe(-(2n ** 70n));
    expect(decode(bytes(131, 110, 7, 0, 255, 255, 255, 255, 255, 255, 31))).toBe(Number.MAX_SAFE_INTEGER);
    expect(decode(bytes(131, 110, 7, 0, 0, 0, 0, 0, 0, 0, 32))).toBe(2n ** 53n);
    expect(decode(bytes(131, 111, 0, 0, 0, 2, 1, 1, 1))).toBe(-257);
    expect(decode(encode(2n ** 2048n))).toBe(2n ** 2048n);
  });

  it('floats: integral values and -0.0 as Float, others as numbers; FLOAT_EXT text', () => {
    expect(decode(bytes(131, 70, 63, 248, 0, 0, 0, 0, 0, 0))).toBe(1.5);
    expect(decode(bytes(131, 70, 63, 240, 0, 0, 0, 0, 0, 0))).toEqual(new Float(1));
    const negZero = decode(bytes(131, 70, 128, 0, 0, 0, 0, 0, 0, 0)) as Float;
    expect(negZero).toBeInstanceOf(Float);
    expect(Object.is(negZero.value, -0)).toBe(true);
    const floatExt = (s: string): Buffer => Buffer.from([131, 99, ...ascii(s.padEnd(31, '\0'))]);
    expect(decode(floatExt('1.50000000000000000000e+00'))).toBe(1.5);
    expect(decode(floatExt('-2.00000000000000005012e-300'))).toBe(-2e-300);
    expect(decode(floatExt('2.00000000000000000000e+00'))).toEqual(new Float(2));
    // The BEAM's rule (see test/term/interop.test.ts for the check against erl): digits, a point
    // or a comma, digits, an optional exponent, then a NUL; overflow is refused, underflow is 0.
    expect(decode(floatExt('1,5'))).toBe(1.5);
    expect(decode(floatExt('+2.5E+1'))).toEqual(new Float(25));
    expect(decode(floatExt('1.5\0garbage'))).toBe(1.5);
    expect(Object.is((decode(floatExt('-1.0e-400')) as Float).value, -0)).toBe(true);
    for (const text of [
      '1',
      '1.',
      '.5',
      '1e5',
      ' 1.0',
      '1.0 ',
      '1.5\t',
      '1.5e',
      '+.5',
      'inf',
      '',
      '1.0e400',
    ]) {
      expectDecodeError(floatExt(text), 'invalid', 2);
    }
    // 31 bytes and no NUL: the BEAM reads on past the field; we refuse.
    expectDecodeError(floatExt(`1.${'5'.repeat(29)}`), 'invalid', 2);
  });

  it('atoms of all four tags; true and false are booleans', () => {
    expect(decode(bytes(131, 119, 2, 111, 107))).toBe(atom('ok'));
    expect(decode(bytes(131, 118, 0, 2, 111, 107))).toBe(atom('ok'));
    expect(decode(bytes(131, 100, 0, 3, 233, 116, 233))).toBe(atom('été'));
    expect(decode(bytes(131, 115, 3, 233, 116, 233))).toBe(atom('été'));
    expect(decode(bytes(131, 119, 5, 195, 169, 116, 195, 169))).toBe(atom('été'));
    expect(decode(bytes(131, 119, 4, ...ascii('true')))).toBe(true);
    expect(decode(bytes(131, 100, 0, 5, ...ascii('false')))).toBe(false);
    expect(decode(bytes(131, 119, 0))).toBe(atom(''));
  });

  it('tuples, lists, strings, improper lists', () => {
    expect(decode(bytes(131, 104, 2, 97, 1, 97, 2))).toEqual(tuple(1, 2));
    expect(decode(bytes(131, 105, 0, 0, 0, 1, 97, 1))).toEqual(tuple(1));
    expect(decode(bytes(131, 106))).toEqual([]);
    expect(decode(bytes(131, 107, 0, 5, ...ascii('hello')))).toEqual([104, 101, 108, 108, 111]);
    expect(decode(bytes(131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 106))).toEqual([1, 2]);
    const improper = decode(bytes(131, 108, 0, 0, 0, 1, 100, 0, 1, 97, 100, 0, 1, 98));
    expect(improper).toEqual(new ImproperList([atom('a')], atom('b')));
    const aliasTag = decode(bytes(131, 108, 0, 0, 0, 1, ...satom('alias'), ...refBytes)) as ImproperList;
    expect(aliasTag).toBeInstanceOf(ImproperList);
    expect(aliasTag.elements).toEqual([atom('alias')]);
    expect(equals(aliasTag.tail, ref)).toBe(true);
    // A LIST_EXT, STRING_EXT or NIL tail continues the same list; LIST_EXT 0 T is T.
    expect(decode(bytes(131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 107, 0, 1, 3))).toEqual([
      1, 2, 3,
    ]);
    expect(decode(bytes(131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 97, 3))).toEqual(
      new ImproperList([1, 2], 3),
    );
    expect(decode(bytes(131, 108, 0, 0, 0, 0, 97, 1))).toBe(1);
  });

  it('binaries and bit strings', () => {
    expect(decode(bytes(131, 109, 0, 0, 0, 2, 1, 2))).toEqual(bytes(1, 2));
    expect(decode(bytes(131, 77, 0, 0, 0, 3, 5, 1, 2, 24))).toEqual(new BitBinary(bytes(1, 2, 24), 5));
    expect(decode(bytes(131, 77, 0, 0, 0, 1, 8, 5))).toEqual(bytes(5));
    expect(decode(bytes(131, 77, 0, 0, 0, 0, 0))).toEqual(bytes());
    // Unused bits are cleared (the BEAM does the same), without touching the input.
    const input = bytes(131, 77, 0, 0, 0, 1, 1, 255);
    expect(decode(input)).toEqual(new BitBinary(bytes(128), 1));
    expect(input[7]).toBe(255);
  });

  it('maps decode to TermMap in wire order', () => {
    const m = decode(
      bytes(
        131,
        116,
        0,
        0,
        0,
        4,
        97,
        1,
        100,
        0,
        1,
        97,
        100,
        0,
        1,
        97,
        97,
        1,
        104,
        1,
        100,
        0,
        1,
        116,
        70,
        64,
        4,
        0,
        0,
        0,
        0,
        0,
        0,
        109,
        0,
        0,
        0,
        1,
        115,
        106,
      ),
    ) as TermMap;
    expect(m).toBeInstanceOf(TermMap);
    expect([...m.keys()].slice(0, 2)).toEqual([1, atom('a')]);
    expect(m.get(1)).toBe(atom('a'));
    expect(m.get(atom('a'))).toBe(1);
    expect(m.get(tuple(atom('t')))).toBe(2.5);
    expect(m.get('s')).toEqual([]);
  });

  it('pids, ports and references in every form', () => {
    const n = satom('a@b');
    expect(decode(bytes(131, 88, ...n, ...u32(1), ...u32(2), ...u32(3)))).toEqual(new Pid(node, 1, 2, 3));
    expect(decode(bytes(131, 103, ...n, ...u32(1), ...u32(2), 3))).toEqual(new Pid(node, 1, 2, 3));
    expect(decode(bytes(131, 89, ...n, ...u32(1), ...u32(2)))).toEqual(new Port(node, 1, 2));
    expect(decode(bytes(131, 102, ...n, ...u32(1), 2))).toEqual(new Port(node, 1, 2));
    expect(decode(bytes(131, 120, ...n, 0, 0, 0, 1, 0, 0, 0, 0, ...u32(2)))).toEqual(
      new Port(node, 2 ** 32, 2),
    );
    expect(decode(bytes(131, 120, ...n, 255, 255, 255, 255, 255, 255, 255, 255, ...u32(2)))).toEqual(
      new Port(node, 2n ** 64n - 1n, 2),
    );
    expect(decode(bytes(131, ...refBytes))).toEqual(ref);
    expect(
      decode(bytes(131, 90, 0, 5, ...n, ...u32(1), ...u32(1), ...u32(2), ...u32(3), ...u32(4), ...u32(5))),
    ).toEqual(new Reference(node, 1, [1, 2, 3, 4, 5]));
    expect(decode(bytes(131, 114, 0, 1, ...n, 2, ...u32(7)))).toEqual(new Reference(node, 2, [7]));
    expect(decode(bytes(131, 101, ...n, ...u32(7), 2))).toEqual(new Reference(node, 2, [7]));
    // Node names may be in any atom encoding.
    expect(decode(bytes(131, 88, 100, 0, 3, ...ascii('a@b'), ...u32(1), ...u32(2), ...u32(3)))).toEqual(
      new Pid(node, 1, 2, 3),
    );
  });

  it('export funs', () => {
    expect(
      decode(bytes(131, 113, 100, 0, 5, 108, 105, 115, 116, 115, 100, 0, 3, 109, 97, 112, 97, 2)),
    ).toEqual(new ExportFun(atom('lists'), atom('map'), 2));
  });

  it('a compressed term from the BEAM', () => {
    const fromErl = bytes(
      131,
      80,
      0,
      0,
      0,
      246,
      120,
      156,
      203,
      97,
      96,
      96,
      208,
      72,
      97,
      96,
      78,
      76,
      74,
      30,
      57,
      100,
      22,
      0,
      227,
      139,
      63,
      7,
    );
    expect(decode(fromErl)).toEqual(new Array(40).fill(atom('abc')));
  });
});

describe('decode: API', () => {
  it('binaries are views into the input unless copyBinaries', () => {
    const input = encode(tuple(Buffer.from('abc')));
    const view = (decode(input) as Tuple).at(0) as Buffer;
    const copy = (decode(input, { copyBinaries: true }) as Tuple).at(0) as Buffer;
    input[input.length - 1] = 'z'.charCodeAt(0);
    expect(view.toString()).toBe('abz');
    expect(copy.toString()).toBe('abc');
    expect(view.buffer).toBe(input.buffer);
  });

  it('decoded binaries are Buffers in every way that shows', () => {
    const input = encode(tuple(Buffer.from('hello'), new BitBinary(Buffer.from([0xf0]), 4)));
    const t = decode(input) as Tuple;
    const b = t.at(0) as Buffer;
    expect(Buffer.isBuffer(b)).toBe(true);
    expect(b).toBeInstanceOf(Buffer);
    expect(b.constructor).toBe(Buffer);
    expect(b).toEqual(Buffer.from('hello'));
    expect(b).toStrictEqual(Buffer.from('hello'));
    expect(inspect(b)).toBe('<Buffer 68 65 6c 6c 6f>');
    expect(b.toString('hex')).toBe('68656c6c6f');
    expect(b.subarray(1, 3).toString()).toBe('el');
    expect(Buffer.isBuffer(b.subarray(1))).toBe(true);
    expect(Buffer.concat([b, b]).toString()).toBe('hellohello');
    expect(b.equals(Buffer.from('hello'))).toBe(true);
    expect(JSON.stringify(b)).toBe(JSON.stringify(Buffer.from('hello')));
    expect(Buffer.isBuffer((t.at(1) as BitBinary).data)).toBe(true);
  });

  it('a plain Uint8Array input gives Buffer views too', () => {
    const input = new Uint8Array(encode(Buffer.from('abc')));
    const b = decode(input) as Buffer;
    expect(Buffer.isBuffer(b)).toBe(true);
    input[7] = 'z'.charCodeAt(0);
    expect(b.toString()).toBe('azc');
  });

  it('decodeAt reads one term without a version byte and reports where it ends', () => {
    const input = bytes(0xff, 97, 1, ...satom('ok'), 0xee);
    expect(decodeAt(input, 1)).toEqual({ value: 1, end: 3 });
    expect(decodeAt(input, 3)).toEqual({ value: atom('ok'), end: 7 });
  });

  it('a TermReader reads terms one after another and can be reused', () => {
    const r = new TermReader();
    const input = bytes(112 + 0, 131, 97, 1, 131, 97, 2, ...satom('x'));
    r.reset(input, 1);
    expect(r.readVersioned()).toBe(1);
    expect(r.offset).toBe(4);
    expect(r.readVersioned()).toBe(2);
    expect(r.readTerm()).toBe(atom('x'));
    expect(r.offset).toBe(input.length);
    r.reset(bytes(97, 9), 0);
    expect(r.readTerm()).toBe(9);
    // After a failure the offset is unchanged, so the caller can report where the bad term starts.
    r.reset(bytes(97, 1, 200), 2);
    expect(() => r.readTerm()).toThrow(TermDecodeError);
    expect(r.offset).toBe(2);
  });

  it('a TermReader accepts a compressed term only from readVersioned', () => {
    const packed = encode(new Array(100).fill(atom('abc')), { compressed: true });
    const r = new TermReader();
    r.reset(packed, 0);
    expect(r.readVersioned()).toEqual(new Array(100).fill(atom('abc')));
    r.reset(packed, 1);
    expect(() => r.readTerm()).toThrow(/unknown_tag/);
  });

  it('decodes 1000 levels of nesting, of every container kind, without overflowing the stack', () => {
    const levels = 1000;
    for (const wrap of [
      (t: Term): Term => tuple(t),
      (t: Term): Term => [t],
      (t: Term): Term => new TermMap([[1, t]]),
      (t: Term): Term => new ImproperList([t], 1),
    ]) {
      let t: Term = 1;
      for (let i = 0; i < levels; i++) t = wrap(t);
      expect(equals(decode(encode(t)), t)).toBe(true);
    }
  });
});

describe('decode: every error code, with its offset', () => {
  it('truncated', () => {
    expectDecodeError(bytes(), 'truncated', 0);
    expectDecodeError(bytes(131), 'truncated', 1);
    expectDecodeError(bytes(131, 98, 0, 0), 'truncated', 2);
    expectDecodeError(bytes(131, 104, 2, 97, 1), 'truncated', 5);
    expectDecodeError(bytes(131, 108, 0, 0, 0, 1, 97, 1), 'truncated', 8);
    expectDecodeError(bytes(131, 70, 0, 0), 'truncated', 2);
    expectDecodeError(bytes(131, 88, ...satom('a@b'), 0, 0), 'truncated', 7);
  });

  it('bad_version', () => {
    expectDecodeError(bytes(130, 97, 1), 'bad_version', 0);
  });

  it('unknown_tag (FUN_EXT, ATOM_CACHE_REF, LOCAL_EXT and the like)', () => {
    expectDecodeError(bytes(131, 117, 0, 0, 0, 0), 'unknown_tag', 1);
    expectDecodeError(bytes(131, 82, 0), 'unknown_tag', 1);
    expectDecodeError(bytes(131, 121, 0), 'unknown_tag', 1);
    expectDecodeError(bytes(131, 104, 2, 97, 1, 200), 'unknown_tag', 5);
  });

  it('invalid_utf8, at the offending byte', () => {
    expectDecodeError(bytes(131, 119, 2, 0xc3, 0x28), 'invalid_utf8', 3);
    expectDecodeError(bytes(131, 119, 3, 97, 0xed, 0xa0), 'invalid_utf8', 4);
    expectDecodeError(bytes(131, 118, 0, 2, 0xc0, 0x80), 'invalid_utf8', 4);
  });

  it('atom_too_long', () => {
    expectDecodeError(bytes(131, 100, 1, 0, ...new Array(256).fill(97)), 'atom_too_long', 1);
    expectDecodeError(bytes(131, 118, 1, 0, ...new Array(256).fill(97)), 'atom_too_long', 1);
    // 255 characters of two bytes each are fine.
    expect(decode(bytes(131, 118, 1, 254, ...Buffer.from('é'.repeat(255))))).toBe(atom('é'.repeat(255)));
  });

  it('length_exceeds_input, failing fast on huge declared counts', () => {
    expectDecodeError(bytes(131, 109, 0, 0, 0, 100, 1, 2, 3), 'length_exceeds_input', 2);
    const started = performance.now();
    expectDecodeError(bytes(131, 108, 255, 255, 255, 255, 97, 1, 106, 0), 'length_exceeds_input', 2);
    expectDecodeError(bytes(131, 105, 255, 255, 255, 255, 97, 1), 'length_exceeds_input', 2);
    expectDecodeError(bytes(131, 116, 255, 255, 255, 255, 97, 1, 97, 2), 'length_exceeds_input', 2);
    expectDecodeError(bytes(131, 111, 255, 255, 255, 255, 0, 1), 'length_exceeds_input', 2);
    expectDecodeError(bytes(131, 107, 255, 255, 1), 'length_exceeds_input', 2);
    expectDecodeError(bytes(131, 119, 9, 97), 'length_exceeds_input', 2);
    expectDecodeError(bytes(131, 112, 255, 255, 255, 255, 0), 'length_exceeds_input', 2);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('too_deep, at the first container past the limit', () => {
    const nested = (n: number): Buffer => {
      const b = Buffer.alloc(3 + 2 * n, 104);
      b[0] = 131;
      for (let i = 0; i < n; i++) b[2 + 2 * i] = 1;
      b[1 + 2 * n] = 97;
      b[2 + 2 * n] = 0;
      return b;
    };
    expect(decode(nested(1000))).toBeInstanceOf(Tuple);
    expectDecodeError(nested(1001), 'too_deep', 1 + 2 * 1000);
    expectDecodeError(nested(11), 'too_deep', 21, { maxDepth: 10 });
    // A long chain of list tails is one list, not nesting.
    const link = bytes(108, 0, 0, 0, 1, 97, 1);
    const chain = Buffer.concat([bytes(131), ...new Array<Buffer>(5000).fill(link), bytes(106)]);
    expect(decode(chain)).toHaveLength(5000);
    // Huge maxDepth: the stack gives out first, and that is still a TermDecodeError.
    expectDecodeError(nested(200_000), 'too_deep', 0, { maxDepth: 1e9 });
  });

  it('atom_budget: new atoms are counted, existing ones are free', () => {
    const fresh = (i: number): number[] => satom(`budget_${i}_${process.pid}_${Date.now()}`);
    const three = bytes(131, 104, 3, ...fresh(1), ...fresh(2), ...fresh(3));
    const thirdAt = 3 + 2 * fresh(1).length;
    expectDecodeError(three, 'atom_budget', thirdAt, { atomBudget: 2 });
    const known = bytes(131, 104, 3, ...satom('ok'), ...satom('error'), ...satom('undefined'));
    expect(decode(known, { atomBudget: 0 })).toEqual(tuple(atom('ok'), atom('error'), atom('undefined')));
  });

  it('too_large: input, declared uncompressed size', () => {
    expectDecodeError(encode(Buffer.alloc(100)), 'too_large', 0, { maxBytes: 50 });
    expectDecodeError(bytes(131, 80, 255, 255, 255, 255, 120, 156), 'too_large', 2);
  });

  it('bad_compressed: corrupt data, sizes that disagree, and a zlib bomb stopped at the declared size', () => {
    expectDecodeError(bytes(131, 80, 0, 0, 0, 3, 1, 2, 3, 4), 'bad_compressed', 6);
    const inner = encode(Buffer.alloc(1000)).subarray(1);
    const z = deflateSync(inner);
    expectDecodeError(Buffer.concat([bytes(131, 80, ...u32(inner.length + 1)), z]), 'bad_compressed', 6);
    expectDecodeError(Buffer.concat([bytes(131, 80, ...u32(inner.length - 1)), z]), 'bad_compressed', 6);
    // 64 MiB of zeros in ~64 KiB of zlib, declaring 1 KiB: stopped after 1 KiB, not inflated.
    const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const before = process.memoryUsage().arrayBuffers;
    expectDecodeError(Buffer.concat([bytes(131, 80, ...u32(1024)), bomb]), 'bad_compressed', 6);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  it('invalid: duplicate keys, bad fields, non-finite floats', () => {
    expectDecodeError(bytes(131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 97, 1, 97, 2), 'invalid', 10);
    // Keys equal by =:= are duplicates even in different encodings.
    expectDecodeError(bytes(131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 110, 1, 0, 1, 97, 2), 'invalid', 10);
    expectDecodeError(bytes(131, 110, 1, 2, 1), 'invalid', 3);
    expectDecodeError(bytes(131, 70, 127, 240, 0, 0, 0, 0, 0, 0), 'invalid', 2);
    expectDecodeError(bytes(131, 70, 127, 248, 0, 0, 0, 0, 0, 0), 'invalid', 2);
    expectDecodeError(Buffer.from([131, 99, ...ascii('nan'.padEnd(31, '\0'))]), 'invalid', 2);
    expectDecodeError(bytes(131, 77, 0, 0, 0, 1, 0, 1), 'invalid', 6);
    expectDecodeError(bytes(131, 77, 0, 0, 0, 1, 9, 1), 'invalid', 6);
    expectDecodeError(bytes(131, 90, 0, 6, ...satom('a')), 'invalid', 2);
    expectDecodeError(bytes(131, 90, 0, 0, ...satom('a'), ...u32(1)), 'invalid', 2);
    expectDecodeError(bytes(131, 88, 97, 1, ...u32(1), ...u32(1), ...u32(1)), 'invalid', 2);
    expectDecodeError(bytes(131, 113, ...satom('m'), ...satom('f'), 98, 0, 0, 0, 1), 'invalid', 8);
  });

  it('trailing_bytes', () => {
    expectDecodeError(bytes(131, 97, 1, 0), 'trailing_bytes', 3);
  });
});

describe('TermWriter', () => {
  it('writes raw fields, grows, and hands out views and copies', () => {
    const w = new TermWriter(16);
    w.u8(1);
    w.u16(0x0203);
    w.u32(0x04050607);
    w.u64(0x08090a0b0c0d0e0fn);
    w.bytes(bytes(16, 17));
    expect(w.length).toBe(17);
    expect([...w.view()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    w.writeVersioned(Buffer.alloc(1000, 1));
    expect(w.length).toBe(17 + 1006);
    const kept = w.finish();
    w.reset();
    w.writeTerm(atom('ok'));
    expect([...w.view()]).toEqual(satom('ok'));
    expect(kept.length).toBe(1023);
    expect(equals(decode(kept.subarray(17)), Buffer.alloc(1000, 1))).toBe(true);
  });

  it('encodes atoms made anywhere the same way', () => {
    expect(atom('x')).toBeInstanceOf(Atom);
    expect(Object.isFrozen(atom('x'))).toBe(true);
    expect([...encode(atom('x'))]).toEqual([131, ...satom('x')]);
  });
});
