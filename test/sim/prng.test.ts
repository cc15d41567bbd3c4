import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/sim/prng.ts';
import { seedFromArgs, seedFromEnv, simSeeds, withSeed } from '../../src/sim/replay.ts';

describe('Prng', () => {
  it('replays the same sequence from the same seed', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const xs = Array.from({ length: 100 }, () => a.next());
    const ys = Array.from({ length: 100 }, () => b.next());
    expect(xs).toEqual(ys);
    expect(a.seed).toBe(42);
  });

  it('gives unrelated streams for neighbouring seeds', () => {
    const a = new Prng(1);
    const b = new Prng(2);
    const same = Array.from({ length: 64 }, () => a.nextU32() === b.nextU32()).filter(Boolean).length;
    expect(same).toBe(0);
  });

  it('keeps next() in [0,1) and int() in range, roughly uniform', () => {
    const r = new Prng(7);
    const buckets = new Array<number>(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = r.next();
      if (!(x >= 0 && x < 1)) outside++;
      buckets[r.int(10)]!++;
    }
    expect(outside).toBe(0);
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(500);
  });

  it('range, chance, pick and shuffle behave', () => {
    const r = new Prng(9);
    for (let i = 0; i < 1000; i++) {
      const x = r.range(5, 6);
      expect(x >= 5 && x < 6).toBe(true);
    }
    expect(r.chance(0)).toBe(false);
    expect(r.chance(1)).toBe(true);
    const hits = Array.from({ length: 10_000 }, () => r.chance(0.25)).filter(Boolean).length;
    expect(Math.abs(hits - 2500)).toBeLessThan(200);
    expect(['a', 'b', 'c']).toContain(r.pick(['a', 'b', 'c']));
    expect(() => r.pick([])).toThrow(RangeError);
    expect(() => r.int(0)).toThrow(RangeError);
    const xs = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = r.shuffle([...xs]);
    expect([...shuffled].sort((p, q) => p - q)).toEqual(xs);
    expect(shuffled).not.toEqual(xs);
  });

  it('fork() is deterministic and independent of the parent afterwards', () => {
    const a = new Prng(3);
    const b = new Prng(3);
    const fa = a.fork();
    const fb = b.fork();
    expect(fa.seed).toBe(fb.seed);
    expect(fa.next()).toBe(fb.next());
    expect(fa.seed).not.toBe(3);
  });
});

describe('replay helpers', () => {
  it('reads SIM_SEED and --seed', () => {
    expect(seedFromEnv(5, {})).toBe(5);
    expect(seedFromEnv(5, { SIM_SEED: '123' })).toBe(123);
    expect(() => seedFromEnv(5, { SIM_SEED: 'x' })).toThrow(RangeError);
    expect(seedFromArgs(['membership', '--seed', '77'])).toBe(77);
    expect(seedFromArgs(['--seed=78'])).toBe(78);
    expect(seedFromArgs(['membership'])).toBeUndefined();
    expect(() => seedFromArgs(['--seed'])).toThrow(RangeError);
    expect(simSeeds(1, 3, {})).toHaveLength(3);
    expect(simSeeds(1, 3, { SIM_SEED: '9' })).toEqual([9]);
    expect(simSeeds(1, 3, { SIM_SEEDS: '5' })).toHaveLength(5);
    expect(() => simSeeds(1, 3, { SIM_SEEDS: '0' })).toThrow(RangeError);
  });

  it('withSeed prefixes a failure with its seed', () => {
    expect(() =>
      withSeed(31, () => {
        throw new Error('boom');
      }),
    ).toThrow('[sim seed=31; replay with SIM_SEED=31] boom');
    expect(withSeed(1, (s) => s + 1)).toBe(2);
  });
});
