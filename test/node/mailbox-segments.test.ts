/**
 * The mailbox's segments (1024 slots each) against an array model, with bursts long enough to
 * span many segments, selective takes that leave holes deep in later segments, and compaction.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Mailbox, NO_MESSAGE } from '../../src/node/mailbox.ts';

type Op =
  | { op: 'burst'; from: number; count: number }
  | { op: 'drain'; count: number }
  | { op: 'takeMod'; mod: number; rem: number }
  | { op: 'takeEq'; value: number }
  | { op: 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('burst' as const),
      from: fc.nat(100),
      count: fc.integer({ min: 1, max: 6000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('drain' as const), count: fc.integer({ min: 1, max: 2500 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('takeMod' as const),
      mod: fc.integer({ min: 2, max: 7 }),
      rem: fc.integer({ min: 0, max: 6 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('takeEq' as const), value: fc.nat(3100) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
);

describe('Mailbox segments', () => {
  it('property: long queues with holes behave like an array', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const box = new Mailbox<number>();
        const model: number[] = [];
        for (const o of ops) {
          switch (o.op) {
            case 'burst':
              for (let i = 0; i < o.count; i++) {
                box.push(o.from + i);
                model.push(o.from + i);
              }
              break;
            case 'drain':
              for (let i = 0; i < o.count; i++) {
                const want = model.length > 0 ? model.shift() : NO_MESSAGE;
                if (box.take() !== want) return false;
              }
              break;
            case 'takeMod': {
              // Many selective takes in a row: holes pile up and get compacted.
              const pred = (m: number): boolean => m % o.mod === o.rem % o.mod;
              for (let k = 0; k < 1500; k++) {
                const i = model.findIndex(pred);
                const want = i < 0 ? NO_MESSAGE : model.splice(i, 1)[0];
                if (box.take(pred) !== want) return false;
              }
              break;
            }
            case 'takeEq': {
              const i = model.indexOf(o.value);
              if (i >= 0) model.splice(i, 1);
              if (box.removeFirst((m) => m === o.value) !== i >= 0) return false;
              break;
            }
            case 'clear':
              box.clear();
              model.length = 0;
              break;
          }
          if (box.length !== model.length) return false;
        }
        expect(box.toArray()).toEqual(model);
        return true;
      }),
      { numRuns: 20 },
    );
  });

  it('drains five segments in order, and compacts when selective takes leave many holes', () => {
    const box = new Mailbox<number>();
    for (let i = 0; i < 5000; i++) box.push(i);
    for (let i = 0; i < 2500; i++) expect(box.take()).toBe(i);
    for (let i = 5000; i < 6000; i++) box.push(i);
    // Remove every odd number selectively: 1750 holes among 1750 live messages, then compaction.
    for (let i = 2501; i < 6000; i += 2) expect(box.take((m) => m === i)).toBe(i);
    expect(box.length).toBe(1750);
    expect(box.toArray()).toEqual(Array.from({ length: 1750 }, (_, k) => 2500 + 2 * k));
    for (let k = 0; k < 1750; k++) expect(box.take()).toBe(2500 + 2 * k);
    expect(box.take()).toBe(NO_MESSAGE);
    expect(box.length).toBe(0);
  });

  it('a waiting reader gets a matching message directly, even with a long queue', () => {
    const box = new Mailbox<number>();
    for (let i = 0; i < 5000; i++) box.push(i);
    const got: number[] = [];
    box.wait(
      (m) => m < 0,
      (m) => got.push(m),
      () => {},
    );
    expect(box.offer(7)).toBe(false);
    expect(box.offer(-1)).toBe(true);
    expect(got).toEqual([-1]);
    expect(box.length).toBe(5000);
    expect(box.take((m) => m === 4999)).toBe(4999);
    expect(box.take()).toBe(0);
    expect(box.length).toBe(4998);
  });
});
