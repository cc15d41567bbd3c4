/** Table tests for the pure maths of SWIM and Lifeguard. */
import { describe, expect, it } from 'vitest';
import { Awareness, clampScore, scaleTimeout } from '../../src/cluster/membership/awareness.ts';
import { retransmitLimit } from '../../src/cluster/membership/broadcast-queue.ts';
import {
  expectedConfirmations,
  remainingSuspicionTime,
  Suspicion,
  suspicionTimeout,
} from '../../src/cluster/membership/suspicion.ts';
import { pushPullScale } from '../../src/cluster/membership/swim.ts';

describe('suspicionTimeout: mult * max(1, log10(n)) * interval', () => {
  it.each([
    // mult, n, interval, expected ms
    [3, 0, 1000, 3000],
    [3, 1, 1000, 3000],
    [3, 10, 1000, 3000],
    [3, 50, 1000, 5096],
    [4, 100, 1000, 8000],
    [4, 1000, 1000, 12000],
    [4, 1000, 5000, 60000],
    [6, 10_000, 1000, 24000],
  ])('mult=%i n=%i interval=%i -> %i ms', (mult, n, interval, want) => {
    expect(suspicionTimeout(mult, n, interval)).toBe(want);
  });
});

describe('remainingSuspicionTime: falls from max to min as confirmations arrive', () => {
  it.each([
    // confirmations, k, elapsed, min, max, expected
    [0, 3, 0, 2000, 30000, 30000],
    [1, 3, 2000, 2000, 30000, 14000],
    [2, 3, 3000, 2000, 30000, 4810],
    [3, 3, 4000, 2000, 30000, -2000],
    [4, 3, 5000, 2000, 30000, -3000],
    [5, 3, 10000, 2000, 30000, -8000],
    // k < 1: the minimum at once
    [0, 0, 0, 2000, 30000, 2000],
    [0, 0, 500, 2000, 30000, 1500],
  ])('c=%i k=%i elapsed=%i min=%i max=%i -> %i', (c, k, elapsed, min, max, want) => {
    expect(remainingSuspicionTime(c, k, elapsed, min, max)).toBe(want);
  });
});

describe('expectedConfirmations: suspicionMult - 2, or 0 in clusters too small to witness', () => {
  it.each([
    [4, 1, 0],
    [4, 3, 0],
    [4, 4, 2],
    [4, 100, 2],
    [6, 5, 0],
    [6, 6, 4],
    [2, 100, 0],
  ])('mult=%i n=%i -> k=%i', (mult, n, k) => {
    expect(expectedConfirmations(mult, n)).toBe(k);
  });
});

describe('Suspicion', () => {
  it('counts only new, independent confirmations and moves the deadline', () => {
    const s = new Suspicion('a', 7, 1000, 3, 2000, 30000);
    expect(s.deadlineMs).toBe(31000);
    expect(s.confirm('a')).toBe(false); // the accuser is not a confirmation
    expect(s.confirm('b')).toBe(true);
    expect(s.confirm('b')).toBe(false); // a repeat changes nothing
    expect(s.deadlineMs).toBe(1000 + 16000);
    expect(s.confirm('c')).toBe(true);
    expect(s.confirm('d')).toBe(true);
    expect(s.deadlineMs).toBe(1000 + 2000);
    expect(s.confirm('e')).toBe(false); // beyond k
    expect(s.confirmations).toBe(3);
  });

  it('with k = 0 lasts the minimum', () => {
    expect(new Suspicion('a', 0, 0, 0, 2000, 30000).deadlineMs).toBe(2000);
  });
});

describe('retransmitLimit: mult * ceil(log10(n + 1))', () => {
  it.each([
    [3, 0, 0],
    [3, 1, 3],
    [3, 99, 6],
    [3, 100, 9],
    [4, 9, 4],
    [4, 10, 8],
    [4, 1000, 16],
    [4, 5000, 16],
  ])('mult=%i n=%i -> %i', (mult, n, want) => {
    expect(retransmitLimit(mult, n)).toBe(want);
  });
});

describe('awareness: timeouts scale by (score + 1), score in [0, max - 1]', () => {
  it.each([
    // deltas applied in turn, max, expected score, timeout scaled from 500
    [[0], 8, 0, 500],
    [[-1], 8, 0, 500],
    [[1], 8, 1, 1000],
    [[1, 1, 1], 8, 3, 2000],
    [[3, -1], 8, 2, 1500],
    [[20], 8, 7, 4000],
    [[20, -2], 8, 5, 3000],
    [[5], 1, 0, 500], // max 1 turns awareness off
  ])('deltas=%j max=%i -> score %i, 500 ms -> %i ms', (deltas, max, score, scaled) => {
    const a = new Awareness(max);
    for (const d of deltas) a.applyDelta(d);
    expect(a.score).toBe(score);
    expect(a.scaleTimeout(500)).toBe(scaled);
  });

  it('pure helpers agree', () => {
    expect(clampScore(-3, 8)).toBe(0);
    expect(clampScore(9, 8)).toBe(7);
    expect(scaleTimeout(200, 3)).toBe(800);
  });
});

describe('pushPullScale: slower full syncs above 32 members', () => {
  it.each([
    [30000, 1, 30000],
    [30000, 32, 30000],
    [30000, 33, 60000],
    [30000, 64, 60000],
    [30000, 65, 90000],
    [30000, 1000, 180000],
  ])('interval=%i n=%i -> %i', (interval, n, want) => {
    expect(pushPullScale(interval, n)).toBe(want);
  });
});
