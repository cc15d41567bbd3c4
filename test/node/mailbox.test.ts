import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Mailbox, NO_MESSAGE } from '../../src/node/mailbox.ts';

describe('Mailbox', () => {
  it('is FIFO', () => {
    const box = new Mailbox<number>();
    for (let i = 0; i < 10; i++) box.push(i);
    const out: number[] = [];
    for (let m = box.take(); m !== NO_MESSAGE; m = box.take()) out.push(m);
    expect(out).toEqual([...Array(10).keys()]);
    expect(box.length).toBe(0);
  });

  it('selective take removes the first match and keeps the rest in order', () => {
    const box = new Mailbox<number>();
    for (let i = 0; i < 10; i++) box.push(i);
    expect(box.take((m) => m % 3 === 2)).toBe(2);
    expect(box.take((m) => m % 3 === 2)).toBe(5);
    expect(box.take((m) => m > 100)).toBe(NO_MESSAGE);
    expect(box.toArray()).toEqual([0, 1, 3, 4, 6, 7, 8, 9]);
    expect(box.length).toBe(8);
  });

  it('hands a matching message to the waiting reader instead of queueing it', () => {
    const box = new Mailbox<string>();
    const got: string[] = [];
    box.wait(
      (m) => m.startsWith('r'),
      (m) => got.push(m),
      () => {},
    );
    expect(box.waiting).toBe(true);
    expect(box.offer('noise')).toBe(false);
    expect(box.offer('reply')).toBe(true);
    expect(got).toEqual(['reply']);
    expect(box.waiting).toBe(false);
    expect(box.offer('reply2')).toBe(false);
  });

  it('fails the reader whose predicate throws, and forgets it', () => {
    const box = new Mailbox<string>();
    const errors: unknown[] = [];
    box.wait(
      () => {
        throw new Error('bad');
      },
      () => {},
      (e) => errors.push(e),
    );
    expect(box.offer('x')).toBe(false);
    expect(errors).toEqual([new Error('bad')]);
    expect(box.waiting).toBe(false);
  });

  it('stays correct across compaction with many holes (selective removal from a long queue)', () => {
    const box = new Mailbox<number>();
    const n = 4000;
    for (let i = 0; i < n; i++) box.push(i);
    // Remove three in four selectively: the holes outnumber the live messages, so it compacts.
    for (let i = 0; i < n; i++) if (i % 4 !== 0) expect(box.take((m) => m === i)).toBe(i);
    expect(box.length).toBe(n / 4);
    expect(box.toArray()).toEqual([...Array(n / 4).keys()].map((k) => k * 4));
    for (let i = 0; i < n; i += 4) expect(box.take()).toBe(i);
    expect(box.length).toBe(0);
    expect(box.take()).toBe(NO_MESSAGE);
  });

  it('property: behaves like an array model under push, take, selective take and removeFirst', () => {
    type Op =
      | { op: 'push'; value: number }
      | { op: 'take' }
      | { op: 'takeMod'; mod: number; rem: number }
      | { op: 'removeEq'; value: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant('push' as const), value: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ op: fc.constant('take' as const) }),
      fc.record({
        op: fc.constant('takeMod' as const),
        mod: fc.integer({ min: 2, max: 5 }),
        rem: fc.integer({ min: 0, max: 1 }),
      }),
      fc.record({ op: fc.constant('removeEq' as const), value: fc.integer({ min: 0, max: 50 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
        const box = new Mailbox<number>();
        const model: number[] = [];
        for (const o of ops) {
          switch (o.op) {
            case 'push':
              box.push(o.value);
              model.push(o.value);
              break;
            case 'take': {
              const got = box.take();
              const want = model.length > 0 ? model.shift() : NO_MESSAGE;
              if (got !== want) return false;
              break;
            }
            case 'takeMod': {
              const pred = (m: number): boolean => m % o.mod === o.rem;
              const i = model.findIndex(pred);
              const want = i < 0 ? NO_MESSAGE : model.splice(i, 1)[0];
              if (box.take(pred) !== want) return false;
              break;
            }
            case 'removeEq': {
              const i = model.indexOf(o.value);
              if (i >= 0) model.splice(i, 1);
              if (box.removeFirst((m) => m === o.value) !== i >= 0) return false;
              break;
            }
          }
          if (box.length !== model.length) return false;
        }
        expect(box.toArray()).toEqual(model);
        return true;
      }),
      { numRuns: 200 },
    );
  });
});
