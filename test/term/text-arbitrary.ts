/**
 * fast-check arbitraries for the term text tests: terms that have a text syntax (no pids,
 * references, ports or local funs), weighted towards what is hard to print and read back:
 * atoms that need quotes or escapes, printable and unprintable charlists, text and byte
 * binaries, bit strings, floats of every magnitude, bigints, improper lists, maps mixing
 * integer and float keys.
 */

import fc from 'fast-check';
import { TermMap } from '../../src/term/map.ts';
import {
  atom,
  BitBinary,
  ExportFun,
  type Float,
  float,
  ImproperList,
  type Term,
  Tuple,
} from '../../src/term/types.ts';

const TWO_300 = 2n ** 300n;

export const arbTextInteger: fc.Arbitrary<number | bigint> = fc.oneof(
  fc.integer({ min: -300, max: 300 }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -TWO_300, max: TWO_300 }),
  fc.constantFrom(2 ** 53, -(2n ** 64n), 2n ** 64n - 1n),
);

/** Floats: plain non-integral numbers, and `Float` for integral values (and -0.0). */
export const arbTextFloat: fc.Arbitrary<number | Float> = fc
  .oneof(
    { weight: 3, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.integer({ min: 1, max: 99999 }), fc.integer({ min: -30, max: 30 }))
        .map(([m, e]) => Number(`${m}e${e}`)),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(0.1, 0.001, 1e-5, 100, 1000, 1e15, 1e16, 1e21, 1e22, 5e-324, -0),
    },
  )
  .map((v) => (Number.isInteger(v) ? float(v) : v));

/** Atom names that stress quoting: reserved words, case, escapes, Latin-1 and beyond. */
const trickyAtomNames = fc.constantFrom(
  '',
  'ok',
  'if',
  'end',
  'fun',
  'maybe',
  'else',
  'true_',
  'hello world',
  "it's",
  'a\\b',
  'say "hi"',
  '\n',
  '\x00\x7f\x80\x9f',
  'ünï',
  'ß',
  'ÿ',
  '÷a',
  'a÷',
  'a×',
  'aÀ',
  'Ab',
  '_a',
  'a@b',
  'a.b',
  '9a',
  '😀',
  'aα',
  'nonode@nohost',
);

export const arbTextAtom: fc.Arbitrary<Term> = fc
  .oneof(
    { weight: 3, arbitrary: trickyAtomNames },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-z][a-zA-Z0-9_@]{0,10}$/) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 12 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 250, maxLength: 255 }) },
  )
  .map((name) => (name === 'true' ? true : name === 'false' ? false : atom(name)));

const printableLatin1 = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 32, max: 126 }) },
  { weight: 2, arbitrary: fc.integer({ min: 160, max: 255 }) },
  { weight: 1, arbitrary: fc.constantFrom(8, 9, 10, 11, 12, 13, 27) },
);

/** Charlists: printable (printed as strings) or not (printed as lists of numbers). */
export const arbCharlist: fc.Arbitrary<number[]> = fc.oneof(
  fc.array(printableLatin1, { minLength: 1, maxLength: 24 }),
  fc.array(fc.oneof(printableLatin1, fc.integer({ min: 0, max: 0x10ffff })), { minLength: 1, maxLength: 12 }),
);

/** Binaries that print as text, as UTF-8 text, or as bytes. */
export const arbTextBinary: fc.Arbitrary<Term> = fc.oneof(
  fc.array(printableLatin1, { maxLength: 40 }).map((cs) => Buffer.from(cs)),
  fc.string({ unit: 'grapheme', maxLength: 16 }).map((s) => Buffer.from(s, 'utf8')),
  fc.array(printableLatin1, { maxLength: 16 }).map((cs) => Buffer.from(String.fromCharCode(...cs), 'utf8')),
  fc.uint8Array({ maxLength: 32 }).map((u) => Buffer.from(u)),
  fc.string({ maxLength: 16 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
);

export const arbTextBitBinary: fc.Arbitrary<BitBinary> = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 7 }))
  .map(([u, bits]) => {
    const data = Buffer.from(u);
    data[data.length - 1] = data[data.length - 1]! & ((0xff << (8 - bits)) & 0xff);
    return new BitBinary(data, bits);
  });

const arbExportFun: fc.Arbitrary<ExportFun> = fc
  .tuple(arbTextAtom, arbTextAtom, fc.integer({ min: 0, max: 255 }))
  .filter(([m, f]) => typeof m !== 'boolean' && typeof f !== 'boolean')
  .map(([m, f, a]) => new ExportFun(m as ReturnType<typeof atom>, f as ReturnType<typeof atom>, a));

const arbTextLeaf: fc.Arbitrary<Term> = fc.oneof(
  { weight: 3, arbitrary: arbTextInteger },
  { weight: 3, arbitrary: arbTextFloat },
  { weight: 3, arbitrary: arbTextAtom },
  { weight: 3, arbitrary: arbCharlist },
  { weight: 3, arbitrary: arbTextBinary },
  { weight: 1, arbitrary: arbTextBitBinary },
  { weight: 1, arbitrary: arbExportFun },
  { weight: 1, arbitrary: fc.constantFrom<Term>([], new Tuple([]), new TermMap(), Buffer.alloc(0)) },
);

/** Keys that sort differently in term order and in map key order (integers before floats). */
const arbNumberKey: fc.Arbitrary<Term> = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(float(1), float(2), 1.5, -0.5, float(-1)),
);

/** Any term with a text syntax, nested a few levels. */
export const arbTextTerm: fc.Arbitrary<Term> = fc.letrec<{ term: Term; container: Term }>((tie) => ({
  term: fc.oneof(
    { depthSize: 'small' },
    { weight: 3, arbitrary: arbTextLeaf },
    { weight: 2, arbitrary: tie('container') },
  ),
  container: fc.oneof(
    fc.array(tie('term'), { maxLength: 5 }).map((els) => new Tuple(els)),
    fc.array(tie('term'), { maxLength: 5 }),
    fc
      .tuple(fc.array(tie('term'), { minLength: 1, maxLength: 3 }), tie('term'))
      .filter(([, tail]) => !Array.isArray(tail))
      .map(([els, tail]) => new ImproperList(els, tail)),
    fc.array(fc.tuple(tie('term'), tie('term')), { maxLength: 4 }).map((entries) => new TermMap(entries)),
    fc
      .array(
        fc.tuple(
          fc.oneof(
            arbNumberKey,
            fc.tuple(arbNumberKey).map((k) => new Tuple(k)),
          ),
          tie('term'),
        ),
        {
          maxLength: 6,
        },
      )
      .map((entries) => new TermMap(entries)),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('term'), { maxKeys: 3 }),
  ),
})).term;
