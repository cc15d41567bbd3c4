import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { compare } from '../../src/term/compare.ts';
import { decode } from '../../src/term/decode.ts';
import { encode } from '../../src/term/encode.ts';
import { TermMap } from '../../src/term/map.ts';
import { atom, float, ImproperList, type Term, Tuple } from '../../src/term/types.ts';
import { describeErl } from '../support/erl.ts';
import {
  arbAtom,
  arbBitBinary,
  arbExportFun,
  arbFloat,
  arbInteger,
  arbPid,
  arbPort,
  arbReference,
  arbTermWith,
  makeFun,
} from '../support/term-arbitrary.ts';

const seed = 0x0e71_2025;

/** Batches of terms; most share a class so the rules inside each class get exercised. */
function batches(): Term[][] {
  const small = fc.integer({ min: 0, max: 2 });
  const groups: fc.Arbitrary<Term>[] = [
    fc.oneof(arbInteger, arbFloat, fc.constantFrom(1, float(1), 1n, float(-0), 0)),
    fc.oneof(arbAtom, fc.boolean()),
    arbPid,
    arbReference,
    arbPort,
    arbExportFun,
    // Local funs whose fields collide often; Index and OldUniq stay where the BEAM's order is
    // total (see src/term/compare.ts), the rest is free to differ.
    fc
      .tuple(
        fc.constantFrom(atom('fa'), atom('fb')),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom(0, 1),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 2 }),
        fc.constantFrom(-1, 0, 1),
        arbPid,
        fc.array(fc.oneof(small, fc.constantFrom(float(1), float(2))), { maxLength: 2 }),
      )
      .map(([m, arity, u, index, oldIndex, oldUniq, pid, free]) =>
        makeFun(m, arity, new Uint8Array(16).fill(u), index, oldIndex, oldUniq, pid, free),
      ),
    fc.oneof(
      fc.array(small, { maxLength: 3 }),
      fc
        .tuple(fc.array(small, { minLength: 1, maxLength: 2 }), small)
        .map(([e, t]) => new ImproperList(e, t)),
    ),
    fc.oneof(
      arbBitBinary,
      fc.uint8Array({ maxLength: 3 }).map((u) => Buffer.from(u)),
      fc.string({ maxLength: 2 }),
    ),
    fc.array(fc.oneof(small, fc.constantFrom(float(1), float(2))), { maxLength: 3 }).map((e) => new Tuple(e)),
    fc
      .array(
        fc.tuple(
          fc.oneof(
            small,
            fc.constantFrom(float(1), float(2)),
            small.map((i) => new Tuple([i])),
          ),
          small,
        ),
        {
          maxLength: 3,
        },
      )
      .map((e) => new TermMap<Term, Term>(e)),
    arbTermWith({ localFuns: false }),
  ];
  return groups.map((g, i) => fc.sample(g, { seed: seed + i, numRuns: 40 }));
}

const dir = mkdtempSync(join(tmpdir(), 'term-order-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeErl('compare agrees with the BEAM', () => {
  it('on every pair of each batch: <, >, =:= as erl says; == but not =:= (1 vs 1.0) is our documented tie-break', () => {
    const input = batches();
    const inFile = join(dir, 'in.bin');
    const outFile = join(dir, 'out.bin');
    writeFileSync(inFile, encode(input));
    const program = `
      {ok, B} = file:read_file("${inFile}"),
      Order = fun(A, C) -> if A =:= C -> 0; A < C -> -1; A > C -> 1; true -> 2 end end,
      R = [begin T = list_to_tuple(L), N = tuple_size(T),
             [[Order(element(I, T), element(J, T)) || J <- lists:seq(1, N)] || I <- lists:seq(1, N)]
           end || L <- binary_to_term(B)],
      ok = file:write_file("${outFile}", term_to_binary(R)),
      halt().`;
    execFileSync('erl', ['-noshell', '-eval', program], { cwd: dir, timeout: 60_000 });
    const matrices = decode(readFileSync(outFile)) as number[][][];
    let checked = 0;
    input.forEach((terms, b) => {
      terms.forEach((x, i) => {
        terms.forEach((y, j) => {
          const beam = matrices[b]![i]![j]!;
          const ours = compare(x, y);
          const where = `batch ${b}, #${i} vs #${j}: ${inspect(x, { depth: 4 })} / ${inspect(y, { depth: 4 })}`;
          if (beam === 2) {
            expect(ours, where).not.toBe(0);
          } else {
            expect(ours, where).toBe(beam);
          }
          checked++;
        });
      });
    });
    expect(checked).toBeGreaterThan(10_000);
  });
});
