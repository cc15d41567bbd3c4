/**
 * `receive({ schema })` with the three Standard Schema libraries users reach for (zod, valibot,
 * arktype), on Erlang-shaped messages: `{order, Id :: binary(), Qty :: pos_integer()}` becomes
 * `{ id: string, qty: number }`. And the policy for a message that fails validation (process.ts):
 * it is removed from the mailbox, counted in `invalidMessages`, logged at warn, and the receive
 * goes on waiting within its deadline; with `match`, only messages `match` selects are validated.
 * The last suite sends the messages from a real `erl` node.
 */

import type { StandardSchemaV1 } from '@standard-schema/spec';
import { scope } from 'arktype';
import * as v from 'valibot';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ReceiveTimeoutError } from '../../src/node/errors.ts';
import { Node } from '../../src/node/node.ts';
import { Atom, atom, type Term, Tuple } from '../../src/term/types.ts';
import { RecordingLogger } from '../support/dist-helpers.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { describeErl } from '../support/erl.ts';
import { startErlNode, stopAllErlNodes } from '../support/erl-node.ts';
import { probe, setup, t } from './process-support.ts';

const ORDER = atom('order');

interface Order {
  readonly id: string;
  readonly qty: number;
}

const zodOrder = z
  .instanceof(Tuple)
  .transform((m) => [...m.elements])
  .pipe(
    z.tuple([
      z.custom<Atom>((x) => x === ORDER),
      z.instanceof(Buffer).transform((b) => b.toString('utf8')),
      z.number().int().positive(),
    ]),
  )
  .transform(([, id, qty]): Order => ({ id, qty }));

const valibotOrder = v.pipe(
  v.instance(Tuple),
  v.transform((m) => [...m.elements]),
  v.tuple([
    v.custom<Atom>((x) => x === ORDER),
    v.pipe(
      v.instance(Buffer),
      v.transform((b) => b.toString('utf8')),
    ),
    v.pipe(v.number(), v.integer(), v.minValue(1)),
  ]),
  v.transform(([, id, qty]): Order => ({ id, qty })),
);

// ArkType clones the input before morphs by default, which breaks class instances such as
// Buffers (and the identity of atoms); messages are read-only anyway, so turn cloning off.
const ark = scope({}, { clone: false }).type;
const arktypeOrder = ark.unknown
  .pipe((m, ctx) => (m instanceof Tuple ? ([...m.elements] as unknown[]) : ctx.error('a tuple')))
  .to(
    ark([
      ark.instanceOf(Atom).narrow((x) => x === ORDER),
      ark.instanceOf(Buffer).pipe((b) => b.toString('utf8')),
      'number.integer > 0',
    ]),
  )
  .pipe(([, id, qty]): Order => ({ id, qty }));

const schemas: [string, StandardSchemaV1<unknown, Order>][] = [
  ['zod', zodOrder],
  ['valibot', valibotOrder],
  ['arktype', arktypeOrder],
];

const order = (id: string, qty: Term): Tuple => new Tuple([ORDER, Buffer.from(id), qty]);

describe.each(schemas)('receive({ schema }) with %s', (vendor, schema) => {
  it('is a Standard Schema of that vendor', () => {
    expect(schema['~standard'].vendor).toBe(vendor);
  });

  it('resolves with the schema output (typed), skipping and counting invalid messages', async () => {
    const { table, logger } = setup();
    const p = await probe(table);
    table.send(p.pid, 'not a tuple');
    table.send(p.pid, order('A1', -3));
    table.send(p.pid, order('A2', 2));
    table.send(p.pid, 'after');
    const out: Order = await p.self.receive({ schema, timeoutMs: 1000 });
    expect(out).toEqual({ id: 'A2', qty: 2 });
    // The two failures were removed, counted and logged; what came after stays queued.
    expect(table.messages(p.pid)).toEqual(['after']);
    expect(table.info(p.pid)?.invalidMessages).toBe(2);
    const warnings = logger.entries.filter(
      (e) => e.level === 'warn' && e.message.startsWith('message dropped'),
    );
    expect(warnings).toHaveLength(2);
    expect(warnings[1]?.fields?.issues).toEqual(expect.arrayContaining([expect.any(String)]));
  });

  it('waits for a valid message within one deadline, then times out', async () => {
    const { table } = setup();
    const p = await probe(table);
    const waiting = p.self.receive({ schema, timeoutMs: 5000 });
    table.send(p.pid, order('bad', 1.5));
    table.send(p.pid, order('B1', 1));
    expect(await waiting).toEqual({ id: 'B1', qty: 1 });
    table.send(p.pid, order('bad', 0));
    const error = await p.self.receive({ schema, timeoutMs: 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReceiveTimeoutError);
    expect(table.info(p.pid)?.invalidMessages).toBe(2);
    expect(p.self.messageQueueLen).toBe(0);
  });

  it('with match, validates only the messages match selects; the rest stay queued', async () => {
    const { table } = setup();
    const p = await probe(table);
    const isOrder = (m: Term): boolean => m instanceof Tuple && m.elements[0] === ORDER;
    table.send(p.pid, t(atom('other'), 1));
    table.send(p.pid, order('C0', -1));
    table.send(p.pid, order('C1', 4));
    expect(await p.self.receive({ schema, match: isOrder, timeoutMs: 1000 })).toEqual({ id: 'C1', qty: 4 });
    expect(table.messages(p.pid)).toEqual([t(atom('other'), 1)]);
    expect(table.info(p.pid)?.invalidMessages).toBe(1);
  });
});

describeErl('receive({ schema }) on messages from a real erl node', () => {
  let epmd: EpmdProcess;
  let node: Node | undefined;

  beforeAll(async () => {
    epmd = await startEpmd();
  });
  afterEach(async () => {
    await node?.stop();
    node = undefined;
    await stopAllErlNodes();
  });
  afterAll(async () => {
    await stopAllErlNodes();
    await epmd?.stop();
  });

  it.each(schemas)(
    '%s: an invalid message from erl is dropped, counted and logged; the valid one is returned',
    async (_vendor, schema) => {
      const logger = new RecordingLogger();
      node = await Node.start({
        name: `schema${Math.floor(Math.random() * 1e6)}@127.0.0.1`,
        cookie: 'schema-cookie',
        epmd: 'external',
        epmdPort: epmd.port,
        logger,
      });
      const ts = node;
      const got = new Promise<Order>((resolve, reject) => {
        ts.spawn(
          async (self) => {
            try {
              resolve(await self.receive({ schema, timeoutMs: 15_000 }));
            } catch (error) {
              reject(error);
            }
            // Stay alive so the test can read the counters.
            await self.receive();
          },
          { name: atom('orders') },
        );
      });
      const erl = await startErlNode({
        name: 'schemaerl@127.0.0.1',
        cookie: 'schema-cookie',
        epmdPort: epmd.port,
      });
      // Erlang sends a bad order (a negative quantity, an atom id), then a good one.
      await erl.eval(
        `Dest = {orders, '${ts.name}'}, Dest ! {order, <<"E1">>, -1}, Dest ! {order, e2, 2}, Dest ! {order, <<"E3">>, 3}, ok`,
      );
      expect(await got).toEqual({ id: 'E3', qty: 3 });
      const pid = ts.processes.whereis(atom('orders'));
      expect(pid).toBeDefined();
      expect(ts.processes.info(pid!)?.invalidMessages).toBe(2);
      expect(ts.processes.info(pid!)?.messageQueueLen).toBe(0);
      const dropped = logger.records.filter(
        (r) => r.level === 'warn' && r.message?.startsWith('message dropped'),
      );
      expect(dropped).toHaveLength(2);
    },
  );
});
