import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode } from '../../src/term/decode.ts';
import { encode, TermEncoder } from '../../src/term/encode.ts';
import { TermEncodeError } from '../../src/term/errors.ts';
import { atom, type Term, tuple } from '../../src/term/types.ts';
import { arbTerm } from '../support/term-arbitrary.ts';

const params = { seed: 0x3e7c_0de5, numRuns: 100 } as const;

describe('TermEncoder', () => {
  it('gives the bytes encode gives, and earlier results stay intact as later ones are made', () => {
    fc.assert(
      fc.property(
        fc.array(arbTerm, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 64, max: 512 }),
        (terms, block) => {
          const enc = new TermEncoder({ blockBytes: block });
          const results = terms.map((t) => enc.encode(t));
          terms.forEach((t, i) => {
            expect(Buffer.isBuffer(results[i])).toBe(true);
            expect(results[i]!.equals(encode(t))).toBe(true);
          });
        },
      ),
      params,
    );
  });

  it('results are Buffers of their own length, whatever the block holds around them', () => {
    const enc = new TermEncoder();
    const a = enc.encode(tuple(atom('msg'), 42, Buffer.from('payload')));
    const b = enc.encode(atom('ok'));
    expect(a.length).toBe(22);
    expect(b).toEqual(Buffer.from([131, 119, 2, 111, 107]));
    expect(a.toString('latin1', 15)).toBe('payload');
    expect(decode(a)).toEqual(tuple(atom('msg'), 42, Buffer.from('payload')));
    // Writing into one result never shows in another.
    a.fill(0);
    expect(enc.encode(atom('ok'))).toEqual(b);
    expect(b).toEqual(Buffer.from([131, 119, 2, 111, 107]));
  });

  it('encodes terms larger than a block, and large binaries, exactly', () => {
    const enc = new TermEncoder({ blockBytes: 64 });
    const big = Buffer.alloc(70_000, 7);
    const terms: Term[] = [
      big,
      tuple(atom('a'), big, [1, 2, 3], big.subarray(5000)),
      Array.from({ length: 500 }, (_, i) => i * 1000),
      atom('small'),
    ];
    const results = terms.map((t) => enc.encode(t));
    for (const [i, t] of terms.entries()) expect(results[i]!.equals(encode(t))).toBe(true);
  });

  it('a term that cannot be encoded throws TermEncodeError and leaves the encoder usable', () => {
    const enc = new TermEncoder({ maxDepth: 3 });
    const first = enc.encode(atom('before'));
    expect(() => enc.encode(tuple(atom('a'), null as unknown as Term))).toThrow(TermEncodeError);
    expect(() => enc.encode([[[[1, 2]]]] as Term)).toThrow(expect.objectContaining({ code: 'too_deep' }));
    expect(enc.encode(atom('after')).equals(encode(atom('after')))).toBe(true);
    expect(first.equals(encode(atom('before')))).toBe(true);
  });

  it('refuses a block size below 64 bytes', () => {
    expect(() => new TermEncoder({ blockBytes: 16 })).toThrow(RangeError);
  });
});
