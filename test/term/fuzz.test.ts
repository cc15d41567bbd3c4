/**
 * Fuzzing the decoder: mutated valid encodings and random bytes must only ever produce a value
 * or a TermDecodeError, quickly, without memory growth. Seeded: a failure prints the seed and
 * the iteration, and FUZZ_SEED=<seed> replays the run.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, TermReader } from '../../src/term/decode.ts';
import { encode } from '../../src/term/encode.ts';
import { TermDecodeError } from '../../src/term/errors.ts';
import { atom, type Term, tuple } from '../../src/term/types.ts';
import { arbTerm } from '../support/term-arbitrary.ts';

const seed = Number(process.env.FUZZ_SEED ?? 0xf022_0001);
/** Mutated encodings to decode; the run stops early only when the time budget is spent. */
const MUTATIONS = 120_000;
const RANDOM_INPUTS = 30_000;
/** Wall-clock budget for the whole fuzz run (the machine may be busy: be generous but bounded). */
const BUDGET_MS = 20_000;
/** No single decode may take longer than this: nothing may hang. */
const SLOWEST_DECODE_MS = 500;
/** Heap and ArrayBuffer growth allowed across the run, after a full GC. */
const MEMORY_BOUND_BYTES = 64 * 1024 * 1024;

/** mulberry32: a small seeded PRNG, so the run is reproducible from `seed`. */
function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gcNow(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  gc?.();
  gc?.();
}

function corpus(): Buffer[] {
  const terms = fc.sample(arbTerm, { seed, numRuns: 400 });
  // Mostly small inputs, so mutations land near the interesting bytes and runs stay fast.
  const encoded = terms.map((t) => encode(t));
  const out = [
    ...encoded.filter((b) => b.length <= 256),
    ...encoded.filter((b) => b.length > 256).slice(0, 10),
  ];
  // Shapes worth mutating that random terms rarely hit.
  let deep: Term = atom('leaf');
  for (let i = 0; i < 60; i++) deep = i % 2 === 0 ? tuple(deep, i) : [deep];
  out.push(encode(deep));
  out.push(encode(new Array(50).fill(tuple(atom('abc'), Buffer.alloc(20, 1))), { compressed: true }));
  out.push(encode(Buffer.alloc(3000, 7), { compressed: 9 }));
  out.push(Buffer.from([131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 107, 0, 1, 3]));
  out.push(encode(tuple(2n ** 300n, -(2n ** 64n), 1.5, atom('été'), 'ü')));
  return out;
}

const TAGS = [
  70, 77, 80, 82, 88, 89, 90, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112,
  113, 114, 115, 116, 117, 118, 119, 120, 121, 131,
];

function mutate(input: Buffer, rnd: () => number): Buffer {
  let b = Buffer.from(input);
  const int = (n: number): number => Math.floor(rnd() * n);
  const rounds = 1 + int(3);
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : int(b.length);
    switch (int(9)) {
      case 0: // bit flip
        if (b.length > 0) b[at] = b[at]! ^ (1 << int(8));
        break;
      case 1: // random byte
        if (b.length > 0) b[at] = int(256);
        break;
      case 2: // truncate
        b = b.subarray(0, int(b.length + 1));
        break;
      case 3: {
        // insert random bytes
        const ins = Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256)));
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        break;
      }
      case 4: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(8)))]);
        break;
      case 5: {
        // blow up a 32-bit length field
        if (b.length >= at + 4)
          b.writeUInt32BE([0xffffffff, 0x7fffffff, 0x10000, b.length, int(2 ** 32)][int(5)]!, at);
        break;
      }
      case 6: // blow up a 16-bit length field or a small count
        if (b.length >= at + 2) b.writeUInt16BE([0xffff, 0x100, int(65536)][int(3)]!, at);
        break;
      case 7: // replace a byte with a tag
        if (b.length > 0) b[at] = TAGS[int(TAGS.length)]!;
        break;
      default: {
        // duplicate a slice
        const end = Math.min(b.length, at + 1 + int(16));
        b = Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
      }
    }
  }
  return b;
}

describe('decoder fuzzing', () => {
  it(`mutated encodings and random bytes only ever give a value or a TermDecodeError (seed ${seed})`, () => {
    const rnd = prng(seed);
    const inputs = corpus();
    const reader = new TermReader({ maxBytes: 1 << 20 });
    gcNow();
    const before = process.memoryUsage();
    const started = performance.now();
    let decoded = 0;
    let rejected = 0;
    let slowest = 0;
    let current: Buffer = Buffer.alloc(0);
    let iteration = 0;
    const total = MUTATIONS + RANDOM_INPUTS;
    // Rejections are the common case here; their stack traces are not needed and cost the most.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      for (; iteration < total; iteration++) {
        if ((iteration & 1023) === 0 && performance.now() - started > BUDGET_MS) break;
        if (iteration < MUTATIONS) {
          current = mutate(inputs[Math.floor(rnd() * inputs.length)]!, rnd);
        } else {
          const n = Math.floor(rnd() * 48);
          current = Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
          if (n > 0 && rnd() < 0.5) current[0] = 131;
        }
        const t0 = performance.now();
        try {
          if ((iteration & 7) === 7) {
            // The dist layer's path: a reused reader at an offset, without the version byte.
            reader.reset(current, Math.min(current.length, Math.floor(rnd() * 3)));
            reader.readTerm();
          } else {
            decode(
              current,
              (iteration & 15) === 0 ? { maxDepth: 8, atomBudget: 2, copyBinaries: true } : undefined,
            );
          }
          decoded++;
        } catch (e) {
          if (!(e instanceof TermDecodeError)) throw e;
          if (!(e.offset >= 0)) throw new Error(`bad offset ${e.offset} in ${e.message}`);
          rejected++;
        }
        let dt = performance.now() - t0;
        if (dt > SLOWEST_DECODE_MS) {
          // A GC pause or a busy machine can stall any one call; a slow input is slow every time.
          const again = performance.now();
          try {
            decode(current);
          } catch {
            // Only the time matters here; the first attempt already checked the error type.
          }
          dt = performance.now() - again;
          if (dt > SLOWEST_DECODE_MS) throw new Error(`one decode took ${dt.toFixed(0)} ms, twice`);
        }
        if (dt > slowest) slowest = dt;
      }
    } catch (e) {
      throw new Error(
        `fuzz failure: seed ${seed} (replay with FUZZ_SEED=${seed}), iteration ${iteration}, ` +
          `input ${current.toString('hex')}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
        { cause: e },
      );
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    gcNow();
    const after = process.memoryUsage();
    const elapsed = performance.now() - started;
    console.log(
      `fuzz seed ${seed}: ${iteration} inputs in ${elapsed.toFixed(0)} ms (${decoded} decoded, ${rejected} rejected, ` +
        `slowest ${slowest.toFixed(1)} ms); heap +${((after.heapUsed - before.heapUsed) / 1048576).toFixed(1)} MiB, ` +
        `arrayBuffers +${((after.arrayBuffers - before.arrayBuffers) / 1048576).toFixed(1)} MiB`,
    );
    expect(iteration).toBeGreaterThanOrEqual(100_000);
    expect(rejected).toBeGreaterThan(0);
    expect(decoded).toBeGreaterThan(0);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(MEMORY_BOUND_BYTES);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(MEMORY_BOUND_BYTES);
  });
});
