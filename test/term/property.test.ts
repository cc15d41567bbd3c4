import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compare, equals } from '../../src/term/compare.ts';
import { decode } from '../../src/term/decode.ts';
import { encode, TermWriter } from '../../src/term/encode.ts';
import { TermMap } from '../../src/term/map.ts';
import { atom, float, ImproperList, type Term, Tuple } from '../../src/term/types.ts';
import {
  arbAtom,
  arbEqualVariant,
  arbFloat,
  arbInteger,
  arbPid,
  arbPort,
  arbReference,
  arbTerm,
} from '../support/term-arbitrary.ts';

// Deterministic runs: a failure prints this seed and the path to replay it.
const seed = 0x7e5a_2024;
const params = { seed, numRuns: 100 } as const;

/** Terms that share a class, so comparisons exercise the rules inside each class. */
const arbSameClass: fc.Arbitrary<Term[]> = fc.oneof(
  fc.array(
    fc.oneof(
      arbInteger,
      arbFloat,
      fc.integer({ min: -3, max: 3 }),
      fc.constantFrom(float(1), 1, 1n, float(-0)),
    ),
    {
      minLength: 2,
      maxLength: 12,
    },
  ),
  fc.array(fc.oneof(arbAtom, fc.boolean()), { minLength: 2, maxLength: 12 }),
  fc.array(arbPid, { minLength: 2, maxLength: 12 }),
  fc.array(arbReference, { minLength: 2, maxLength: 12 }),
  fc.array(arbPort, { minLength: 2, maxLength: 12 }),
  fc.array(
    fc.oneof(
      fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
      fc
        .tuple(
          fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 2 }),
          fc.integer({ min: 0, max: 3 }),
        )
        .map(([els, tail]) => new ImproperList(els, tail)),
    ),
    { minLength: 2, maxLength: 12 },
  ),
  fc.array(
    fc.oneof(
      fc.uint8Array({ maxLength: 3 }).map((u) => Buffer.from(u)),
      fc.string({ unit: 'binary', maxLength: 3 }),
    ),
    { minLength: 2, maxLength: 12 },
  ),
  fc.array(
    fc
      .array(
        fc.tuple(
          fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constantFrom(float(1), float(2))),
          fc.integer({ min: 0, max: 2 }),
        ),
        {
          maxLength: 3,
        },
      )
      .map((e) => new TermMap(e)),
    { minLength: 2, maxLength: 12 },
  ),
  fc.array(
    fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 3 }).map((e) => new Tuple(e)),
    {
      minLength: 2,
      maxLength: 12,
    },
  ),
  fc.array(arbTerm, { minLength: 2, maxLength: 8 }),
);

describe('codec properties', () => {
  it('decode(encode(t)) equals t', () => {
    fc.assert(
      fc.property(arbTerm, (t) => {
        expect(equals(decode(encode(t)), t)).toBe(true);
      }),
      params,
    );
  });

  it('encoding is deterministic, and re-encoding a decoded term gives the same bytes', () => {
    fc.assert(
      fc.property(arbTerm, (t) => {
        const bytes = encode(t);
        expect(encode(t).equals(bytes)).toBe(true);
        expect(encode(decode(bytes)).equals(bytes)).toBe(true);
      }),
      params,
    );
  });

  it('encode gives the bytes a plain TermWriter writes, whether it sizes the term first or not', () => {
    fc.assert(
      fc.property(arbTerm, (t) => {
        const w = new TermWriter(8);
        w.writeVersioned(t);
        expect(encode(t).equals(w.finish())).toBe(true);
      }),
      params,
    );
  });

  it('compressed round trip, at every level', () => {
    fc.assert(
      fc.property(arbTerm, fc.integer({ min: 1, max: 9 }), (t, level) => {
        const packed = encode(t, { compressed: level });
        expect(equals(decode(packed), t)).toBe(true);
        // Padding with a long binary makes compression pay, so the compressed form is used.
        const padded = new Tuple([t, Buffer.alloc(4096, 7)]);
        const big = encode(padded, { compressed: level });
        expect(big[1]).toBe(80);
        expect(equals(decode(big), padded)).toBe(true);
      }),
      { seed, numRuns: 150 },
    );
  });

  it('a different representation of a term is equal, compares 0, and encodes alike', () => {
    fc.assert(
      fc.property(
        arbTerm.chain((t) => fc.tuple(fc.constant(t), arbEqualVariant(t))),
        ([t, v]) => {
          expect(equals(t, v)).toBe(true);
          expect(equals(v, t)).toBe(true);
          expect(compare(t, v)).toBe(0);
          expect(new TermMap<Term, Term>([[t, 1]]).get(v)).toBe(1);
          expect(equals(decode(encode(v)), t)).toBe(true);
        },
      ),
      params,
    );
  });
});

describe('term order properties', () => {
  it('compare is antisymmetric and consistent with equals', () => {
    fc.assert(
      fc.property(arbSameClass, (terms) => {
        for (const a of terms) {
          expect(compare(a, a)).toBe(0);
          for (const b of terms) {
            const ab = compare(a, b);
            expect(compare(b, a) === -ab).toBe(true);
            expect(ab === 0).toBe(equals(a, b));
          }
        }
      }),
      params,
    );
  });

  it('compare is transitive: a sorted array is ordered pairwise', () => {
    fc.assert(
      fc.property(arbSameClass, (terms) => {
        const sorted = [...terms].sort(compare);
        for (let i = 0; i < sorted.length; i++) {
          for (let j = i + 1; j < sorted.length; j++) {
            expect(compare(sorted[i]!, sorted[j]!)).toBeLessThanOrEqual(0);
          }
        }
      }),
      params,
    );
  });

  it('a TermMap finds a key exactly when equals says so', () => {
    fc.assert(
      fc.property(arbSameClass, (terms) => {
        for (const a of terms) {
          const m = new TermMap<Term, Term>([[a, atom('v')]]);
          for (const b of terms) expect(m.has(b)).toBe(equals(a, b));
        }
      }),
      params,
    );
  });
});
