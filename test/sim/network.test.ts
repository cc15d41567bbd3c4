import { describe, expect, it } from 'vitest';
import { SimNetwork } from '../../src/sim/network.ts';
import { Prng } from '../../src/sim/prng.ts';
import { Scheduler } from '../../src/sim/scheduler.ts';

function setup(opts: Partial<ConstructorParameters<typeof SimNetwork>[2]> = {}, seed = 1) {
  const s = new Scheduler();
  const net = new SimNetwork<string>(s, new Prng(seed), {
    delayMs: { min: 1, max: 5 },
    loss: 0,
    duplicate: 0,
    reorder: 0,
    ...opts,
  });
  const got = new Map<string, Array<{ from: string; p: string; at: number }>>();
  for (const a of ['a', 'b', 'c']) {
    got.set(a, []);
    net.attach(a, (from, p) => got.get(a)!.push({ from, p, at: s.now() }));
  }
  return { s, net, got };
}

describe('SimNetwork', () => {
  it('delivers within the delay bounds', () => {
    const { s, net, got } = setup();
    for (let i = 0; i < 100; i++) net.send('a', 'b', `m${i}`);
    s.runUntil(1000);
    const b = got.get('b')!;
    expect(b).toHaveLength(100);
    for (const m of b) expect(m.at >= 1 && m.at <= 5).toBe(true);
    expect(net.stats).toEqual({ sent: 100, delivered: 100, dropped: 0, duplicated: 0 });
    expect(net.sentBy.get('a')).toBe(100);
  });

  it('loses about the configured fraction', () => {
    const { s, net, got } = setup({ loss: 0.2 });
    for (let i = 0; i < 5000; i++) net.send('a', 'b', 'x');
    s.runUntil(1000);
    expect(Math.abs(got.get('b')!.length - 4000)).toBeLessThan(150);
    expect(net.stats.dropped + net.stats.delivered).toBe(5000);
  });

  it('duplicates and reorders', () => {
    const { s, net, got } = setup({ duplicate: 0.5, reorder: 0.5, delayMs: { min: 1, max: 1 } });
    for (let i = 0; i < 1000; i++) net.send('a', 'b', String(i).padStart(4, '0'));
    s.runUntil(10_000);
    const b = got.get('b')!.map((m) => m.p);
    expect(b.length).toBe(1000 + net.stats.duplicated);
    expect(net.stats.duplicated).toBeGreaterThan(400);
    expect(b).not.toEqual([...b].sort());
  });

  it('partitions cut links between groups until healed; isolate and clog too', () => {
    const { s, net, got } = setup();
    net.partition(['a', 'b'], ['c']);
    expect(net.canTalk('a', 'b')).toBe(true);
    expect(net.canTalk('a', 'c')).toBe(false);
    net.send('a', 'c', 'lost');
    net.send('a', 'b', 'ok');
    net.heal();
    net.send('a', 'c', 'after-heal');
    net.isolate('b');
    net.send('a', 'b', 'isolated');
    net.heal();
    net.clog('a', 'b', true);
    net.send('a', 'b', 'clogged');
    net.send('b', 'a', 'reverse-ok');
    net.clog('a', 'b', false);
    net.send('a', 'b', 'unclogged');
    s.runUntil(100);
    expect(got.get('c')!.map((m) => m.p)).toEqual(['after-heal']);
    expect(
      got
        .get('b')!
        .map((m) => m.p)
        .sort(),
    ).toEqual(['ok', 'unclogged']);
    expect(got.get('a')!.map((m) => m.p)).toEqual(['reverse-ok']);
  });

  it('drops packets to a detached (crashed) node, even in flight', () => {
    const { s, net, got } = setup();
    net.send('a', 'b', 'x');
    net.detach('b');
    s.runUntil(100);
    expect(got.get('b')).toHaveLength(0);
    expect(net.stats.dropped).toBe(1);
  });

  it('delivers to a paused node only after its pause', () => {
    const { s, net, got } = setup({ delayMs: { min: 2, max: 2 } });
    s.pause('b', 40);
    net.send('a', 'b', 'x');
    net.send('a', 'c', 'y');
    s.runUntil(100);
    expect(got.get('b')![0]!.at).toBe(40);
    expect(got.get('c')![0]!.at).toBe(2);
  });

  it('is deterministic for a seed', () => {
    const run = (seed: number) => {
      const { s, net, got } = setup({ loss: 0.1, duplicate: 0.1, reorder: 0.2 }, seed);
      for (let i = 0; i < 200; i++) net.send('a', i % 2 ? 'b' : 'c', String(i));
      s.runUntil(1000);
      return JSON.stringify([...got.entries()]);
    };
    expect(run(5)).toBe(run(5));
    expect(run(5)).not.toBe(run(6));
  });

  it('rejects bad options', () => {
    expect(() => setup({ loss: 2 })).toThrow(RangeError);
    expect(() => setup({ delayMs: { min: 5, max: 1 } })).toThrow(RangeError);
  });
});
