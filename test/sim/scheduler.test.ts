import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/sim/scheduler.ts';

describe('Scheduler', () => {
  it('runs events in time order, ties in scheduling order', () => {
    const s = new Scheduler();
    const log: string[] = [];
    s.at(10, () => log.push('b'));
    s.at(5, () => log.push('a'));
    s.at(10, () => log.push('c'));
    s.setTimeout(() => log.push('z'), 0);
    expect(s.pending).toBe(4);
    while (s.step()) {}
    expect(log).toEqual(['z', 'a', 'b', 'c']);
    expect(s.now()).toBe(10);
    expect(s.pending).toBe(0);
  });

  it('clearTimeout cancels, and is harmless twice or after running', () => {
    const s = new Scheduler();
    let ran = 0;
    const h = s.setTimeout(() => ran++, 5);
    const g = s.setTimeout(() => ran++, 6);
    s.clearTimeout(h);
    s.clearTimeout(h);
    expect(s.pending).toBe(1);
    s.runUntil(100);
    s.clearTimeout(g);
    s.clearTimeout(undefined);
    expect(ran).toBe(1);
    expect(s.pending).toBe(0);
    expect(s.now()).toBe(100);
  });

  it('runUntil runs events due at the limit and stops before later ones', () => {
    const s = new Scheduler();
    const log: number[] = [];
    for (const t of [1, 5, 10, 11]) s.at(t, () => log.push(t));
    s.runUntil(10);
    expect(log).toEqual([1, 5, 10]);
    expect(s.now()).toBe(10);
    expect(s.pending).toBe(1);
  });

  it('events scheduled from events run in order, never in the past', () => {
    const s = new Scheduler();
    const log: number[] = [];
    s.at(10, () => {
      s.at(3, () => log.push(s.now()));
      s.setTimeout(() => log.push(s.now()), 2);
    });
    s.runUntil(50);
    expect(log).toEqual([10, 12]);
  });

  it('runWhile stops when the predicate turns false or at the limit', () => {
    const s = new Scheduler();
    let n = 0;
    const tick = (): void => {
      n++;
      s.setTimeout(tick, 10);
    };
    s.setTimeout(tick, 10);
    expect(s.runWhile(() => n < 3, 1000)).toBe(true);
    expect(s.now()).toBe(30);
    expect(s.runWhile(() => true, 95)).toBe(false);
    expect(n).toBe(9);
    expect(s.now()).toBe(95);
  });

  it('a paused owner runs its due events at the end of the pause, in order; others are not delayed', () => {
    const s = new Scheduler();
    const log: string[] = [];
    s.at(10, () => log.push(`a1@${s.now()}`), 'a');
    s.at(20, () => log.push(`b@${s.now()}`), 'b');
    s.at(30, () => log.push(`a2@${s.now()}`), 'a');
    s.at(70, () => log.push(`a3@${s.now()}`), 'a');
    s.pause('a', 50);
    s.pause('a', 40); // shorter pause does not shorten
    expect(s.isPaused('a')).toBe(true);
    s.runUntil(100);
    expect(log).toEqual(['b@20', 'a1@50', 'a2@50', 'a3@70']);
    expect(s.isPaused('a')).toBe(false);
  });

  it('after a pause, deferred timers run before deferred I/O, each in order', () => {
    const s = new Scheduler();
    const log: string[] = [];
    s.at(10, () => log.push('io1'), 'a', 'io');
    s.at(20, () => log.push('t1'), 'a');
    s.at(30, () => log.push('io2'), 'a', 'io');
    s.at(40, () => log.push('t2'), 'a');
    s.at(60, () => log.push('io3'), 'a', 'io');
    s.pause('a', 50);
    s.runUntil(100);
    expect(log).toEqual(['t1', 't2', 'io1', 'io2', 'io3']);
    // without a pause, I/O and timers simply run in time order
    const u = new Scheduler();
    const log2: string[] = [];
    u.at(10, () => log2.push('io'), 'b', 'io');
    u.at(10, () => log2.push('t'), 'b');
    u.runUntil(20);
    expect(log2).toEqual(['io', 't']);
  });

  it('forOwner timers are paused with their owner', () => {
    const s = new Scheduler();
    const t = s.forOwner('n1');
    let at = -1;
    t.setTimeout(() => {
      at = t.now();
    }, 10);
    s.pause('n1', 25);
    s.runUntil(100);
    expect(at).toBe(25);
  });
});
