/**
 * Properties of the term text: what inspect prints, parseTerm reads back equal; the limits hold;
 * bad text only ever gives a TermParseError. Seeded: a failure prints its seed and path.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { equals } from '../../src/term/index.ts';
import { inspect } from '../../src/term/inspect.ts';
import { parseTerm, TermParseError } from '../../src/term/parse.ts';
import { arbTextTerm } from './text-arbitrary.ts';

const SEED = 0x7e47_0002;
const params = (numRuns: number, seed = SEED): fc.Parameters<unknown> => ({ seed, numRuns });

function parsesOnlyWithTermParseError(text: string): void {
  try {
    parseTerm(text);
  } catch (e) {
    if (!(e instanceof TermParseError)) throw e;
  }
}

describe('term text properties', () => {
  it('parseTerm(inspect(t)) equals t', () => {
    fc.assert(
      fc.property(arbTextTerm, (t) => {
        const text = inspect(t);
        expect(equals(parseTerm(text), t), text).toBe(true);
      }),
      params(1500),
    );
  });

  it("parseTerm(inspect(t, { encoding: 'latin1' })) equals t, and the text is Latin-1", () => {
    fc.assert(
      fc.property(arbTextTerm, (t) => {
        const text = inspect(t, { encoding: 'latin1' });
        expect(
          [...text].every((ch) => ch.codePointAt(0)! <= 0xff),
          text,
        ).toBe(true);
        expect(equals(parseTerm(text), t), text).toBe(true);
      }),
      params(1000, SEED + 1),
    );
  });

  it('inspect writes one line', () => {
    fc.assert(
      fc.property(arbTextTerm, (t) => {
        expect(inspect(t)).not.toMatch(/[\n\r]/);
      }),
      params(500, SEED + 2),
    );
  });

  it('maxLength bounds the text, and a text that fits is the whole text', () => {
    fc.assert(
      fc.property(arbTextTerm, fc.integer({ min: 0, max: 200 }), (t, n) => {
        const full = inspect(t);
        const cut = inspect(t, { maxLength: n });
        expect(cut.length).toBeLessThanOrEqual(Math.max(n, 3));
        if (full.length <= Math.max(n, 3)) expect(cut).toBe(full);
        else expect(cut).toMatch(/\.\.\./);
      }),
      params(1000, SEED + 3),
    );
  });

  it('maxDepth at least as deep as the term changes nothing; less gives ...', () => {
    fc.assert(
      fc.property(arbTextTerm, fc.integer({ min: 0, max: 8 }), (t, d) => {
        const full = inspect(t);
        const cut = inspect(t, { maxDepth: d });
        expect(inspect(t, { maxDepth: 100_000 })).toBe(full);
        if (cut !== full) expect(cut).toMatch(/\.\.\./);
      }),
      params(1000, SEED + 4),
    );
  });

  it('parseTerm throws only TermParseError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), parsesOnlyWithTermParseError),
      params(3000, SEED + 5),
    );
  });

  it('parseTerm throws only TermParseError on damaged term text', () => {
    const edit = fc.tuple(
      fc.nat(),
      fc.nat(),
      fc.constantFrom('', ',', '|', '<<', '>>', '"', "'", '\\', '#{', '$', '.', '-', ':', '/'),
    );
    const damaged = fc
      .tuple(arbTextTerm, fc.array(edit, { minLength: 1, maxLength: 3 }))
      .map(([t, edits]) => {
        let s = inspect(t);
        for (const [at, len, insert] of edits) {
          const i = s.length === 0 ? 0 : at % s.length;
          s = s.slice(0, i) + insert + s.slice(i + (len % 3));
        }
        return s;
      });
    fc.assert(fc.property(damaged, parsesOnlyWithTermParseError), params(3000, SEED + 6));
  });
});
