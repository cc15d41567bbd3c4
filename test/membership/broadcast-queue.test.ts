import { describe, expect, it } from 'vitest';
import { BroadcastQueue, retransmitLimit } from '../../src/cluster/membership/broadcast-queue.ts';
import type { Gossip } from '../../src/cluster/membership/messages.ts';
import { gossipSize } from '../../src/cluster/membership/messages.ts';

const alive = (id: string, incarnation = 0): Gossip => ({ kind: 'alive', id, incarnation, address: id });

describe('BroadcastQueue', () => {
  it('sends each update retransmitLimit(mult, n) times, then drops it', () => {
    const q = new BroadcastQueue(3);
    q.enqueue(alive('a'));
    const limit = retransmitLimit(3, 10); // 6
    let sent = 0;
    for (let i = 0; i < 20; i++) sent += q.take(1400, 10).length;
    expect(sent).toBe(limit);
    expect(q.size).toBe(0);
    expect(q.has('a')).toBe(false);
  });

  it('prefers the least transmitted, newest first among equals', () => {
    const q = new BroadcastQueue(4);
    q.enqueue(alive('a'));
    q.enqueue(alive('b'));
    expect(q.take(1400, 10).map((g) => g.id)).toEqual(['b', 'a']);
    q.enqueue(alive('c'));
    expect(q.pending().map((g) => g.id)).toEqual(['c', 'b', 'a']);
  });

  it('a newer update about a member replaces the queued one', () => {
    const q = new BroadcastQueue(4);
    q.enqueue(alive('a', 1));
    q.take(1400, 10);
    q.enqueue({ kind: 'suspect', id: 'a', incarnation: 1, from: 'b' });
    expect(q.size).toBe(1);
    expect(q.pending()[0]!.kind).toBe('suspect');
    q.forget('a');
    expect(q.size).toBe(0);
  });

  it('fills only the byte budget, skipping items that do not fit', () => {
    const q = new BroadcastQueue(4);
    const big: Gossip = { kind: 'alive', id: 'x'.repeat(200), incarnation: 0, address: 'y'.repeat(200) };
    q.enqueue(alive('small1'));
    q.enqueue(big);
    q.enqueue(alive('small2'));
    const budget = gossipSize(alive('small1')) * 2 + 5;
    const got = q.take(budget, 10).map((g) => g.id);
    expect(got).toEqual(['small2', 'small1']);
    expect(q.take(0, 10)).toEqual([]);
    expect(q.take(1400, 10, 0)).toEqual([]);
  });
});
