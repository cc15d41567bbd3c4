/**
 * Log lines of a node: each one carries `node`, and `peer`, `pid` and `code` where they apply;
 * inside `withCorrelation`, `correlationId`. Checked with a recording logger and with a real pino
 * writing JSON to a stream (pino's methods need their `this`). The default logger is silent.
 */

import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { newCorrelationId, withCorrelation } from '../../src/node/correlation.ts';
import type { Node } from '../../src/node/node.ts';
import { isRpcError } from '../../src/services/errors.ts';
import { atom, Tuple } from '../../src/term/types.ts';
import { useTestCluster } from '../support/cluster.ts';
import { type LogRecord, RecordingLogger, until } from '../support/dist-helpers.ts';
import { type RawPeer, rawConnect } from '../support/raw-peer.ts';

const COOKIE = 'log-cookie';

describe('node log lines', () => {
  const raws: RawPeer[] = [];
  const cluster = useTestCluster({
    cookie: COOKIE,
    prefix: 'log',
    afterEachTest: () => {
      for (const r of raws.splice(0)) r.socket.destroy();
    },
  });
  const tsNode = (logger?: RecordingLogger | pino.Logger): Promise<Node> =>
    cluster.tsNode(logger === undefined ? {} : { logger });

  it('tags every line with node, and peer, pid and code where relevant', async () => {
    const logA = new RecordingLogger();
    const logB = new RecordingLogger();
    const a = await tsNode(logA);
    const b = await tsNode(logB);

    // nodeup on both sides: code and peer.
    await a.connect(b.name);
    const up = await logA.waitFor('nodeup');
    expect(up.fields).toMatchObject({ node: a.name, peer: b.name });

    // An RPC call to a function b does not expose: b logs rpc_undef with the caller and the process.
    const id = newCorrelationId();
    const err = await withCorrelation(id, () => a.rpc.call(b.name, 'nope', 'missing', [1])).catch(
      (e: unknown) => e,
    );
    expect(isRpcError(err, 'undef')).toBe(true);
    const undef = await logB.waitFor('rpc_undef');
    expect(undef.level).toBe('debug');
    expect(undef.fields).toMatchObject({ node: b.name, peer: a.name, correlationId: id, module: 'nope' });
    expect(String(undef.fields.pid)).toMatch(new RegExp(`^<${b.name}\\.`));

    // A message that fails a receive schema: invalid_message with the receiving pid.
    const receiver = b.spawn(async (self) => {
      await self.receive({ schema: z.number() });
    });
    a.send(receiver, atom('not_a_number'));
    const invalid = await logB.waitFor('invalid_message');
    expect(invalid.fields).toMatchObject({ node: b.name, pid: receiver.toString() });

    // A crashing process: process_crashed with its pid and the error.
    const crasher = b.spawn(() => {
      throw new Error('boom');
    });
    const crash = await logB.waitFor('process_crashed');
    expect(crash.level).toBe('error');
    expect(crash.fields).toMatchObject({ node: b.name, pid: crasher.toString() });
    expect(crash.fields.err).toBeInstanceOf(Error);

    // A peer sending a frame that is not a distribution message: dropped, logged with the peer.
    const raw = await rawConnect({ port: b.port, name: 'rawlog@127.0.0.1', cookie: COOKIE, peer: b.name });
    raws.push(raw);
    raw.sendFrame(Buffer.from([1, 2, 3, 4, 5]));
    await raw.closed;
    const bad = await logB.waitFor('nodedown', 10_000, (r) => r.fields.peer === 'rawlog@127.0.0.1');
    expect(bad.fields).toMatchObject({ node: b.name, reason: 'bad_input' });
    const decodeLine = logB.records.find(
      (r) => r.level === 'warn' && r.fields.peer === 'rawlog@127.0.0.1' && r.fields.code !== 'nodedown',
    );
    expect(decodeLine?.fields).toMatchObject({ node: b.name });
    expect(typeof decodeLine?.fields.code).toBe('string');

    // Every line either node wrote names it, and has a code.
    const check = (records: LogRecord[], node: string): void => {
      expect(records.length).toBeGreaterThan(0);
      for (const r of records) {
        expect(r.fields.node, `${r.level} ${r.message}`).toBe(node);
        expect(typeof r.fields.code, `${r.level} ${r.message}`).toBe('string');
      }
    };
    check(logA.records, a.name);
    check(logB.records, b.name);
    // Lines outside any correlation carry none.
    expect(logA.records.every((r) => r.fields.correlationId === undefined)).toBe(true);
    expect(
      logB.records.filter((r) => r.fields.correlationId !== undefined).map((r) => r.fields.code),
    ).toEqual(['rpc_undef']);
  });

  it('works with a real pino logger', async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line));
        done();
      },
    });
    const logger = pino({ level: 'debug' }, stream);
    const a = await tsNode(logger);
    const b = await tsNode();
    await a.connect(b.name);
    withCorrelation('pino-id', () => a.log.info?.({ code: 'app_line' }, 'from the application'));
    await until(() => lines.some((l) => l.code === 'nodeup') && lines.some((l) => l.code === 'app_line'));
    expect(lines.find((l) => l.code === 'nodeup')).toMatchObject({ node: a.name, peer: b.name, level: 30 });
    expect(lines.find((l) => l.code === 'app_line')).toMatchObject({
      node: a.name,
      correlationId: 'pino-id',
      msg: 'from the application',
    });
  });

  it('is silent by default', async () => {
    const a = await tsNode();
    expect(Object.keys(a.log)).toEqual([]);
    // And still works: a crash with no logger is not an error.
    a.spawn(() => {
      throw new Error('quiet');
    });
    const pid = a.spawn(async (self) => {
      await self.receive();
    });
    a.send(pid, new Tuple([atom('x')]));
    await until(() => !a.processes.isAlive(pid));
  });
});
