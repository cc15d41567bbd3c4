import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChurnMap, RefMap } from '../../src/node/churn-map.ts';
import { atom, Reference } from '../../src/term/index.ts';

type Op = { op: 'set'; key: number | string; value: number } | { op: 'delete'; key: number | string };

// Keys from a small pool so that sets, overwrites, deletes and probe collisions all happen;
// numbers up to 2^50 as the folded references are, and a few strings (the fallback map).
const keyArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 200 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 40 }).map((k) => k * 2 ** 32 + 7) },
  { weight: 1, arbitrary: fc.constantFrom('a|1|2.3', 'b|1|4.5.6') },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: keyArb, value: fc.integer() }),
  fc.record({ op: fc.constant('delete' as const), key: keyArb }),
);

describe('ChurnMap', () => {
  it('behaves as a Map under any sequence of sets and deletes', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 600 }), (ops) => {
        const m = new ChurnMap<{ v: number }>();
        const model = new Map<number | string, { v: number }>();
        for (const o of ops) {
          if (o.op === 'set') {
            const v = { v: o.value };
            m.set(o.key, v);
            model.set(o.key, v);
          } else {
            expect(m.delete(o.key)).toBe(model.delete(o.key));
          }
          expect(m.size).toBe(model.size);
        }
        for (const [k, v] of model) {
          expect(m.get(k)).toBe(v);
          expect(m.has(k)).toBe(true);
        }
        // Insertion order, as a Map's (numeric keys first, then string keys).
        const numeric = [...model].filter(([k]) => typeof k === 'number');
        const strings = [...model].filter(([k]) => typeof k === 'string');
        expect(m.entries()).toEqual([...numeric, ...strings]);
        for (let k = 0; k <= 200; k++) if (!model.has(k)) expect(m.get(k)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  it('keeps working through growth and steady churn (a window of live keys sliding by)', () => {
    const m = new ChurnMap<number>();
    for (let k = 0; k < 200_000; k++) {
      m.set(k, k);
      if (k >= 1000) expect(m.delete(k - 1000)).toBe(true);
    }
    expect(m.size).toBe(1000);
    for (let k = 199_000; k < 200_000; k++) expect(m.get(k)).toBe(k);
    expect(m.get(198_999)).toBeUndefined();
  });

  it('RefMap behaves as a Map keyed by reference value, references of different nodes apart', () => {
    const nodes = [atom('a@h'), atom('b@h')];
    const refArb = fc
      .tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 2 }))
      .map(([n, w0, w1]) => new Reference(nodes[n]!, 1, [w0, w1, 0]));
    type RefOp = { op: 'set' | 'delete'; ref: Reference };
    const refOpArb: fc.Arbitrary<RefOp> = fc.record({
      op: fc.constantFrom('set' as const, 'delete' as const),
      ref: refArb,
    });
    const keyOf = (r: Reference): string => `${r.node.name}|${r.ids.join('.')}`;
    fc.assert(
      fc.property(fc.array(refOpArb, { maxLength: 500 }), (ops) => {
        const m = new RefMap<{ ref: Reference }>();
        const model = new Map<string, { ref: Reference }>();
        for (const o of ops) {
          // A fresh but equal Reference each time, as decoded from the wire.
          const ref = new Reference(o.ref.node, o.ref.creation, [...o.ref.ids]);
          if (o.op === 'set') {
            const v = { ref };
            m.set(v);
            model.set(keyOf(ref), v);
          } else {
            expect(m.delete(ref)).toBe(model.delete(keyOf(ref)));
          }
          expect(m.size).toBe(model.size);
        }
        for (const v of model.values()) expect(m.get(new Reference(v.ref.node, 1, [...v.ref.ids]))).toBe(v);
        expect(m.values()).toEqual([...model.values()]);
      }),
      { numRuns: 200 },
    );
  });
});
