/** Lease arithmetic (lease.ts): table tests and the drift argument as a property. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  leaseDurationMs,
  leaseExpiry,
  quorumTime,
  voteGuardUntil,
} from '../../src/cluster/election/lease.ts';

describe('leaseDurationMs', () => {
  it.each([
    // [E, ρ, D]
    [150, 0, 150],
    [150, 0.01, (150 * 0.99) / 1.01],
    [150, 0.05, (150 * 0.95) / 1.05],
    [1000, 0.5, 1000 / 3],
  ])('E=%d ρ=%d gives %d', (e, rho, d) => {
    expect(leaseDurationMs(e, rho)).toBeCloseTo(d, 9);
  });

  it('ends, in real time, no later than any follower promise can (the drift argument)', () => {
    // A leader clock at rate rl and a follower clock at rate rf, both within [1-ρ, 1+ρ]: the
    // lease lasts D/rl real ms, a promise at least E/rf real ms.
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 10_000, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (e, rho, a, b) => {
          const rl = 1 - rho + 2 * rho * a;
          const rf = 1 - rho + 2 * rho * b;
          return leaseDurationMs(e, rho) / rl <= (e / rf) * (1 + 1e-12);
        },
      ),
    );
  });
});

describe('quorumTime', () => {
  it.each([
    [[10, 20, 30], 2, 20],
    [[10, 20, 30], 3, 10],
    [[10, 20, 30], 1, 30],
    [[30, undefined, 10], 2, 10],
    [[undefined, undefined, 10], 2, undefined],
    [[5, 5, 5, 1, 1], 3, 5],
    [[1, 2, 3, 4, 5, 6, 7], 4, 4],
    [[], 1, undefined],
  ])('%j, quorum %d -> %j', (times, q, want) => {
    expect(quorumTime(times, q)).toBe(want);
  });

  it('is the q-th largest defined value', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.integer(), { nil: undefined }), { maxLength: 31 }),
        fc.integer({ min: 1, max: 31 }),
        (times, q) => {
          const sorted = times.filter((t): t is number => t !== undefined).sort((x, y) => y - x);
          return quorumTime(times, q) === sorted[q - 1];
        },
      ),
    );
  });
});

describe('leaseExpiry and voteGuardUntil', () => {
  it('add the duration to the start', () => {
    expect(leaseExpiry(100, 147)).toBe(247);
    expect(voteGuardUntil(100, 150)).toBe(250);
  });
});
