import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Alive2Fields } from '../../src/epmd/protocol.ts';
import { retryDelayMs } from '../../src/epmd/registration.ts';
import { EpmdRegistry, nextCreation } from '../../src/epmd/registry.ts';
import { isLoopbackAddress } from '../../src/epmd/server.ts';

const fields = (name: string, highest = 6): Alive2Fields => ({
  port: 4000,
  nodeType: 77,
  protocol: 0,
  highest,
  lowest: 5,
  name,
  extra: new Uint8Array(0),
});

/** A deterministic source of uniform values in [0, 1). */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe('nextCreation', () => {
  it.each([
    // previous, legacy, random, expected
    [undefined, false, 0, 1],
    [undefined, false, 0.999999999999, 0xffffffff],
    [undefined, false, 0.5, 0x80000000],
    [0x80000000, false, 0.5, 0x80000001],
    [0xffffffff, false, 0.999999999999, 1],
    [undefined, true, 0, 1],
    [undefined, true, 0.99, 3],
    [3, true, 0.99, 1],
    [1, true, 0, 2],
  ])('previous %s legacy %s random %s -> %s', (previous, legacy, random, expected) => {
    expect(nextCreation(previous, legacy, random)).toBe(expected);
  });

  it('is always non-zero, in range, and different from the previous one', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (legacy, random) => {
          const max = legacy ? 3 : 0xffffffff;
          const first = nextCreation(undefined, legacy, random);
          const second = nextCreation(first, legacy, random);
          for (const c of [first, second]) {
            expect(Number.isInteger(c) && c >= 1 && c <= max).toBe(true);
          }
          expect(second).not.toBe(first);
        },
      ),
    );
  });
});

describe('EpmdRegistry', () => {
  it('registers, refuses a taken name, looks up and lists in order', () => {
    const registry = new EpmdRegistry({
      maxRegistrations: 10,
      maxRememberedNames: 10,
      random: sequence(0.25, 0.5),
    });
    const a = registry.register(fields('a'));
    const b = registry.register(fields('b'));
    expect(a).toMatchObject({ ok: true, entry: { name: 'a', creation: 0x40000000 } });
    expect(b).toMatchObject({ ok: true, entry: { name: 'b', creation: 0x80000000 } });
    expect(registry.register(fields('a'))).toEqual({ ok: false, reason: 'duplicate_name' });
    expect(registry.lookup('a')?.port).toBe(4000);
    expect(registry.lookup('c')).toBeUndefined();
    expect(registry.names()).toEqual([
      { name: 'a', port: 4000 },
      { name: 'b', port: 4000 },
    ]);
  });

  it('gives a re-registered name a different creation even when the draw repeats', () => {
    const registry = new EpmdRegistry({
      maxRegistrations: 10,
      maxRememberedNames: 10,
      random: sequence(0.5),
    });
    const first = registry.register(fields('a'));
    if (!first.ok) throw new Error('not registered');
    expect(registry.unregister(first.entry)).toBe(true);
    const second = registry.register(fields('a'));
    if (!second.ok) throw new Error('not registered');
    expect(second.entry.creation).not.toBe(first.entry.creation);
  });

  it('gives legacy (version 5) clients a creation in 1..3', () => {
    const registry = new EpmdRegistry({
      maxRegistrations: 10,
      maxRememberedNames: 10,
      random: sequence(0.9),
    });
    const outcome = registry.register(fields('old', 5));
    expect(outcome).toMatchObject({ ok: true, entry: { creation: 3 } });
  });

  it('refuses registrations beyond maxRegistrations', () => {
    const registry = new EpmdRegistry({ maxRegistrations: 2, maxRememberedNames: 10, random: Math.random });
    expect(registry.register(fields('a')).ok).toBe(true);
    expect(registry.register(fields('b')).ok).toBe(true);
    expect(registry.register(fields('c'))).toEqual({ ok: false, reason: 'full' });
    expect(registry.size).toBe(2);
  });

  it('ignores the unregister of a stale entry (an old connection closing late)', () => {
    const registry = new EpmdRegistry({ maxRegistrations: 10, maxRememberedNames: 10, random: Math.random });
    const old = registry.register(fields('a'));
    if (!old.ok) throw new Error('not registered');
    registry.unregister(old.entry);
    const fresh = registry.register(fields('a'));
    expect(registry.unregister(old.entry)).toBe(false);
    expect(registry.lookup('a')).toBe(fresh.ok ? fresh.entry : undefined);
  });

  it('forgets the oldest remembered creation beyond maxRememberedNames', () => {
    // With the same draw every time, only a remembered previous creation makes the next one differ.
    const registry = new EpmdRegistry({ maxRegistrations: 10, maxRememberedNames: 2, random: sequence(0.5) });
    const creations = (name: string): number => {
      const r = registry.register(fields(name));
      if (!r.ok) throw new Error('not registered');
      registry.unregister(r.entry);
      return r.entry.creation;
    };
    const draw = 0x80000000;
    expect(creations('a')).toBe(draw);
    expect(creations('b')).toBe(draw);
    expect(creations('c')).toBe(draw); // 'a' is forgotten now
    expect(creations('a')).toBe(draw);
    expect(creations('c')).toBe(draw + 1); // 'c' is still remembered
  });
});

describe('retryDelayMs (equal jitter)', () => {
  it.each([
    // attempt, initial, max, random, expected
    [0, 100, 2000, 0, 50],
    [0, 100, 2000, 0.999, 100],
    [1, 100, 2000, 0, 100],
    [3, 100, 2000, 0.5, 600],
    [4, 100, 2000, 0, 800],
    [5, 100, 2000, 0, 1000],
    [50, 100, 2000, 0.999, 1999],
  ])('attempt %i, %i..%i ms, random %f -> %i ms', (attempt, initial, max, random, expected) => {
    expect(retryDelayMs(attempt, initial, max, random)).toBe(expected);
  });
});

describe('isLoopbackAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['fe80::1', false],
    [undefined, false],
  ])('%s -> %s', (address, expected) => {
    expect(isLoopbackAddress(address)).toBe(expected);
  });
});
