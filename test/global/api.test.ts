/**
 * `node.global`: the API on real nodes (one or two, over loopback): typed names, errors with
 * codes, calls through a global name, transactions, and what happens when the node stops.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { describe, expect, it } from 'vitest';
import { genReply } from '../../src/node/net-kernel.ts';
import type { Node } from '../../src/node/node.ts';
import { typedName } from '../../src/services/global/api.ts';
import { GlobalError } from '../../src/services/global/errors.ts';
import { atom, type Pid, type Term, Tuple, tuple } from '../../src/term/index.ts';
import { useTestCluster } from '../support/cluster.ts';
import { until } from '../support/dist-helpers.ts';

/** A Standard Schema accepting `{incr, N}` with a number N. */
const incrSchema: StandardSchemaV1<unknown, Tuple> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (v) =>
      v instanceof Tuple &&
      v.length === 2 &&
      v.elements[0] === atom('incr') &&
      typeof v.elements[1] === 'number'
        ? { value: v }
        : { issues: [{ message: 'expected {incr, N}' }] },
  },
};

describe('node.global API', () => {
  const cluster = useTestCluster({ cookie: 'api', prefix: 'api' });
  const node = (): Promise<Node> => cluster.tsNode({ hidden: false });

  function sink(n: Node, inbox: Term[]): Pid {
    return n.spawn(async (self) => {
      for (;;) inbox.push(await self.receive());
    });
  }

  it('registers, looks up, sends, re-registers and unregisters; names are any term', async () => {
    const n = await node();
    const inbox: Term[] = [];
    const p = sink(n, inbox);
    const q = sink(n, []);
    expect(await n.global.register('svc', p)).toBe(true);
    expect(await n.global.register('svc', q)).toBe(false);
    // A process has one global name.
    expect(await n.global.register(tuple(atom('k'), 1), p)).toBe(false);
    expect(n.global.whereis(Buffer.from('svc'))).toBe(p);
    expect(n.global.send('svc', atom('hi'))).toBe(p);
    await until(() => inbox.length === 1, 2000, 'the message');
    await n.global.reRegister('svc', q);
    expect(n.global.whereis('svc')).toBe(q);
    expect(n.global.registeredNames()).toEqual(['svc']);
    await n.global.unregister('svc');
    expect(n.global.whereis('svc')).toBeUndefined();
    // Unregistering a name nobody holds is fine.
    await n.global.unregister('svc');
    expect(() => n.global.send('svc', 1)).toThrow(expect.objectContaining({ code: 'not_registered' }));
  });

  it('a dead owner is not returned by whereis, and its name goes', async () => {
    const n = await node();
    const p = n.spawn(async (self) => {
      await self.receive();
    });
    expect(await n.global.register(atom('short'), p)).toBe(true);
    n.send(p, atom('go'));
    await until(() => !n.processes.isAlive(p), 2000, 'the owner exits');
    expect(n.global.whereis(atom('short'))).toBeUndefined();
    await until(() => n.global.registeredNames().length === 0, 2000, 'the name goes');
  });

  it('typed names validate messages against their schema', async () => {
    const n = await node();
    const counter = typedName<Tuple>(atom('counter'), incrSchema);
    const inbox: Term[] = [];
    expect(await n.global.register(counter, sink(n, inbox))).toBe(true);
    n.global.send(counter, tuple(atom('incr'), 2));
    await until(() => inbox.length === 1, 2000, 'the message');
    expect(() => n.global.send(counter, tuple(atom('decr'), 2))).toThrow(GlobalError);
    try {
      n.global.send(counter, tuple(atom('decr'), 2));
    } catch (e) {
      expect((e as GlobalError).code).toBe('invalid_message');
    }
  });

  it('calls a gen_server-style process through its global name, from another node', async () => {
    const [a, b] = [await node(), await node()];
    const server = a.spawn(async (self) => {
      for (;;) {
        const m = await self.receive();
        if (m instanceof Tuple && m.elements[0] === atom('$gen_call')) {
          const r = genReply(m.elements[1] as Term, tuple(atom('got'), m.elements[2] as Term));
          if (r !== undefined) self.send(r.to, r.message);
        }
      }
    });
    expect(await a.global.register(atom('srv'), server)).toBe(true);
    await b.connect(a.name);
    await until(() => b.global.whereis(atom('srv')) !== undefined, 10_000, 'b sees srv');
    expect(await b.global.call(atom('srv'), 42)).toEqual(tuple(atom('got'), 42));
    await expect(b.global.call(atom('nobody'), 1)).rejects.toMatchObject({ code: 'not_registered' });
  });

  it('trans releases the lock when the function throws; bad arguments have codes', async () => {
    const n = await node();
    await expect(
      n.global.trans(['res', 'me'], () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await n.global.setLock(['res', 'other'], undefined, 0)).toBe(true);
    await n.global.delLock(['res', 'other']);
    await expect(n.global.setLock(['only-one'] as unknown as [Term, Term])).rejects.toMatchObject({
      code: 'bad_argument',
    });
    await expect(n.global.register('x', 'not a pid' as unknown as Pid)).rejects.toMatchObject({
      code: 'bad_argument',
    });
    const remote = new (n.processes.systemPid.constructor as typeof import('../../src/term/index.ts').Pid)(
      atom('elsewhere@127.0.0.1'),
      1,
      0,
      1,
    );
    await expect(n.global.register('y', remote, { onConflict: () => 'none' })).rejects.toMatchObject({
      code: 'bad_argument',
    });
  });

  it('configure checks its options', async () => {
    const n = await node();
    expect(() => n.global.configure({ maxNames: -1 })).toThrow(
      expect.objectContaining({ code: 'bad_argument' }),
    );
    n.global.configure({ preventOverlappingPartitions: false, resolveTimeoutMs: 1000 });
  });

  it('a lock wait ends with code stopped when the node stops', async () => {
    const n = await node();
    expect(await n.global.setLock(['db', 'holder'], undefined, 0)).toBe(true);
    const waiting = n.global.setLock(['db', 'someone-else']).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    expect(n.global.status().locks).toBe(1);
    await n.stop();
    expect(await waiting).toMatchObject({ code: 'stopped' });
  });
});
