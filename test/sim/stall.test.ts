import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/sim/prng.ts';
import { Scheduler } from '../../src/sim/scheduler.ts';
import {
  drawStallMs,
  meanStallMs,
  type StallModel,
  stallDutyCycle,
  stallRepeatedly,
} from '../../src/sim/stall.ts';

const model: StallModel = { stallMs: { min: 500, max: 1500 }, runMs: { min: 250, max: 2000 } };

describe('stall model (a CPU-starved event loop)', () => {
  it('draws stall lengths within bounds, with the log-uniform mean', () => {
    const rng = new Prng(1);
    let sum = 0;
    let lo = Number.POSITIVE_INFINITY;
    let hi = 0;
    const k = 20_000;
    for (let i = 0; i < k; i++) {
      const d = drawStallMs(model, rng);
      lo = Math.min(lo, d);
      hi = Math.max(hi, d);
      sum += d;
    }
    expect(lo).toBeGreaterThanOrEqual(500);
    expect(hi).toBeLessThanOrEqual(1500);
    expect(sum / k).toBeCloseTo(meanStallMs(model), -1);
    expect(stallDutyCycle(model)).toBeCloseTo(910.2 / (910.2 + 1125), 2);
  });

  it('blocks the owner by turns; after a stall its timers fire before the I/O that arrived meanwhile', () => {
    const s = new Scheduler();
    const log: string[] = [];
    stallRepeatedly(
      s,
      new Prng(7),
      'slow',
      { stallMs: { min: 1000, max: 1000 }, runMs: { min: 500, max: 500 } },
      0,
      10_000,
    );
    // Stalls: [0, 1000), [1500, 2500), ...: a packet at 100 and a timer due at 600 both wait.
    s.at(100, () => log.push(`io@${s.now()}`), 'slow', 'io');
    s.at(600, () => log.push(`timer@${s.now()}`), 'slow');
    // In a run slice, events run on time.
    s.at(1200, () => log.push(`io@${s.now()}`), 'slow', 'io');
    // Other nodes are never stalled.
    s.at(700, () => log.push(`other@${s.now()}`), 'fast', 'io');
    s.runUntil(3000);
    expect(log).toEqual(['other@700', 'timer@1000', 'io@1000', 'io@1200']);
  });

  it('stops at the end of the slow period', () => {
    const s = new Scheduler();
    stallRepeatedly(s, new Prng(3), 'slow', model, 0, 5000);
    s.runUntil(100_000);
    expect(s.isPaused('slow')).toBe(false);
    expect(s.pending).toBe(0);
  });

  it('rejects an impossible model', () => {
    const s = new Scheduler();
    const bad = { stallMs: { min: 0, max: 10 }, runMs: { min: 0, max: 1 } };
    expect(() => stallRepeatedly(s, new Prng(1), 'x', bad, 0, 10)).toThrow(RangeError);
  });
});
