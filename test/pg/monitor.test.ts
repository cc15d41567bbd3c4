/**
 * Subscriptions (monitor.ts): events, the async iterator's bounded buffer, ending.
 */
import { describe, expect, it } from 'vitest';
import { GroupMonitor, type PgChange } from '../../src/services/pg/monitor.ts';
import { atom, Pid, Reference } from '../../src/term/index.ts';

const N = atom('a@host');
const ref = new Reference(N, 1, [1, 2, 3]);

function make(maxBuffered = 3): { sub: GroupMonitor; demonitored: Reference[]; errors: unknown[] } {
  const demonitored: Reference[] = [];
  const errors: unknown[] = [];
  const sub = new GroupMonitor(
    {
      demonitor: (r) => {
        demonitored.push(r);
        return true;
      },
      logListenerError: (e) => errors.push(e),
    },
    ref,
    undefined,
    maxBuffered,
    'g',
    [],
  );
  return { sub, demonitored, errors };
}

const change = (action: 'join' | 'leave', n: number): PgChange => ({
  ref,
  action,
  group: 'g',
  pids: [new Pid(N, n, 0, 1)],
});

describe('pg subscriptions', () => {
  it('emits change, join and leave; a throwing listener is logged, not propagated', () => {
    const { sub, errors } = make();
    const seen: string[] = [];
    sub.on('change', (c) => seen.push(`change ${c.action}`));
    sub.on('join', (g, pids) => seen.push(`join ${String(g)} ${pids.length}`));
    sub.on('leave', () => {
      throw new Error('listener bug');
    });
    sub.deliver(change('join', 1));
    sub.deliver(change('leave', 1));
    expect(seen).toEqual(['change join', 'join g 1', 'change leave']);
    expect(errors).toHaveLength(1);
  });

  it('the iterator yields buffered changes in order, then ends on demonitor', async () => {
    const { sub, demonitored } = make(10);
    const it = sub[Symbol.asyncIterator]();
    sub.deliver(change('join', 1));
    sub.deliver(change('leave', 1));
    expect(await it.next()).toEqual({ value: change('join', 1), done: false });
    expect(await it.next()).toEqual({ value: change('leave', 1), done: false });
    const pending = it.next();
    sub.deliver(change('join', 2));
    expect(await pending).toEqual({ value: change('join', 2), done: false });
    const last = it.next();
    expect(sub.demonitor()).toBe(true);
    expect(await last).toEqual({ value: undefined, done: true });
    expect(demonitored).toEqual([ref]);
    expect(sub.demonitor()).toBe(false);
    expect(await sub[Symbol.asyncIterator]().next()).toEqual({ value: undefined, done: true });
  });

  it('an iterator more than maxBuffered behind throws overflow; listeners keep working', async () => {
    const { sub } = make(2);
    const it = sub[Symbol.asyncIterator]();
    let joins = 0;
    sub.on('join', () => joins++);
    for (let i = 0; i < 4; i++) sub.deliver(change('join', i));
    expect(joins).toBe(4);
    expect((await it.next()).value).toEqual(change('join', 0));
    expect((await it.next()).value).toEqual(change('join', 1));
    await expect(it.next()).rejects.toMatchObject({ code: 'overflow' });
    expect(await it.next()).toEqual({ value: undefined, done: true });
    expect(sub.active).toBe(true);
  });

  it('return() detaches the iterator (break in for await)', async () => {
    const { sub } = make();
    const got: PgChange[] = [];
    const loop = (async () => {
      for await (const c of sub) {
        got.push(c);
        break;
      }
    })();
    sub.deliver(change('join', 1));
    await loop;
    expect(sub.listenerCount('change')).toBe(0);
    sub.deliver(change('join', 2));
    expect(got).toHaveLength(1);
  });
});
