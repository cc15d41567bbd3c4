/**
 * Correlation ids: binding, the wire token, the mailbox, and their travel between two TypeScript
 * nodes in one process (real sockets, private EPMD): gen_server calls and casts, RPC calls, plain
 * messages by pid, name and alias; messages sent outside a correlation carry none; a foreign
 * trace token is ignored.
 */

import { describe, expect, it } from 'vitest';
import { SEND_TT } from '../../src/dist/control.ts';
import { DFLAG_DISTRIBUTE_CORRELATION } from '../../src/dist/flags.ts';
import {
  CorrelationError,
  correlationOfToken,
  correlationToken,
  currentCorrelation,
  newCorrelationId,
  withCorrelation,
  withoutCorrelation,
} from '../../src/node/correlation.ts';
import { cast } from '../../src/node/gen-server.ts';
import { Mailbox, NO_MESSAGE } from '../../src/node/mailbox.ts';
import type { Node } from '../../src/node/node.ts';
import { atom, Pid, type Reference, type Term, Tuple } from '../../src/term/types.ts';
import { useTestCluster } from '../support/cluster.ts';
import { RecordingLogger, until } from '../support/dist-helpers.ts';
import { type RawPeer, rawConnect } from '../support/raw-peer.ts';

const COOKIE = 'corr-cookie';

describe('correlation binding', () => {
  it('binds an id for the synchronous and asynchronous work inside withCorrelation only', async () => {
    expect(currentCorrelation()).toBeUndefined();
    const seen = await withCorrelation('req-1', async () => {
      const before = currentCorrelation();
      await new Promise((r) => setTimeout(r, 1));
      const nested = withCorrelation('req-2', () => currentCorrelation());
      const without = withoutCorrelation(() => currentCorrelation());
      return [before, currentCorrelation(), nested, without];
    });
    expect(seen).toEqual(['req-1', 'req-1', 'req-2', undefined]);
    expect(currentCorrelation()).toBeUndefined();
  });

  it('makes distinct random ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newCorrelationId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses empty and over-long ids with a code', () => {
    expect(() => withCorrelation('', () => 1)).toThrow(CorrelationError);
    expect(() => withCorrelation('x'.repeat(256), () => 1)).toThrow(
      expect.objectContaining({ code: 'invalid_correlation_id' }),
    );
    expect(() => withCorrelation('é'.repeat(128), () => 1)).toThrow(CorrelationError);
    expect(withCorrelation('x'.repeat(255), () => currentCorrelation())).toHaveLength(255);
  });

  it('reads back its own tokens and nothing else', () => {
    expect(correlationOfToken(correlationToken('abc-é'))).toBe('abc-é');
    // A BEAM seq_trace token: {Flags, Label, Serial, From, LastCnt}.
    const seqTrace = new Tuple([0, 1, new Tuple([0, 1]), new Pid(atom('e@h'), 1, 0, 1), 0]);
    expect(correlationOfToken(seqTrace)).toBeUndefined();
    expect(correlationOfToken(atom('undefined'))).toBeUndefined();
    expect(correlationOfToken(new Tuple([atom('$distribute_corr'), Buffer.alloc(0)]))).toBeUndefined();
    expect(correlationOfToken(new Tuple([atom('$distribute_corr'), Buffer.alloc(256, 97)]))).toBeUndefined();
    expect(correlationOfToken(new Tuple([atom('$distribute_corr'), 'text']))).toBeUndefined();
  });
});

describe('mailbox with correlated messages', () => {
  it('hands out messages unwrapped and remembers the id of the one taken last', () => {
    const box = new Mailbox<Term>();
    box.push(1);
    box.pushCorrelated(2, 'a');
    box.push(3);
    box.pushCorrelated(4, 'b');
    expect(box.toArray()).toEqual([1, 2, 3, 4]);
    expect(box.take((m) => m === 4)).toBe(4);
    expect(box.correlation).toBe('b');
    expect(box.take()).toBe(1);
    expect(box.correlation).toBeUndefined();
    expect(box.take((m) => m === 2)).toBe(2);
    expect(box.correlation).toBe('a');
    expect(box.take((m) => m === 99)).toBe(NO_MESSAGE);
    expect(box.take()).toBe(3);
    expect(box.correlation).toBeUndefined();
    expect(box.length).toBe(0);
  });

  it('keeps ids through compaction', () => {
    const box = new Mailbox<Term>();
    for (let i = 0; i < 5000; i++) {
      if (i % 2 === 0) box.pushCorrelated(i, `id${i}`);
      else box.push(i);
    }
    // Remove most odd ones from the middle: holes, then compaction.
    for (let i = 4999; i > 10; i -= 2) expect(box.take((m) => m === i)).toBe(i);
    expect(box.take((m) => m === 4000)).toBe(4000);
    expect(box.correlation).toBe('id4000');
    expect(box.take()).toBe(0);
    expect(box.correlation).toBe('id0');
    expect(box.take()).toBe(1);
    expect(box.correlation).toBeUndefined();
  });

  it('gives the id to a waiting reader', () => {
    const box = new Mailbox<Term>();
    let got: Term | undefined;
    box.wait(
      (m) => m === 'x',
      (m) => {
        got = m;
      },
      () => undefined,
    );
    expect(box.offerCorrelated('y', 'nope')).toBe(false);
    expect(box.offerCorrelated('x', 'yes')).toBe(true);
    expect(got).toBe('x');
    expect(box.correlation).toBe('yes');
    box.wait(
      undefined,
      () => undefined,
      () => undefined,
    );
    expect(box.offer('z')).toBe(true);
    expect(box.correlation).toBeUndefined();
  });
});

describe('correlation ids between TS nodes', () => {
  const raws: RawPeer[] = [];
  const cluster = useTestCluster({
    cookie: COOKIE,
    prefix: 'corr',
    afterEachTest: () => {
      for (const r of raws.splice(0)) r.socket.destroy();
    },
  });
  const tsNode = (logger?: RecordingLogger): Promise<Node> =>
    cluster.tsNode(logger === undefined ? {} : { logger });

  it('negotiates the correlation flag between two distribute nodes', async () => {
    const a = await tsNode();
    const b = await tsNode();
    await a.connect(b.name);
    expect((a.connection(b.name)!.flags & DFLAG_DISTRIBUTE_CORRELATION) !== 0n).toBe(true);
    expect((b.connection(a.name)!.flags & DFLAG_DISTRIBUTE_CORRELATION) !== 0n).toBe(true);
  });

  it('runs a remote gen_server call and cast under the caller id; its log lines carry it', async () => {
    const logB = new RecordingLogger();
    const a = await tsNode();
    const b = await tsNode(logB);
    const seen: (string | undefined)[] = [];
    // Started inside a correlation: its handlers must still see only their message's id.
    await withCorrelation('server-start', () =>
      b.spawnServer(
        {
          init: () => 0,
          handleCall: (req, _from, n) => {
            seen.push(currentCorrelation());
            b.log.info?.({ code: 'handled_call' }, 'call handled');
            return { reply: req, state: n + 1 };
          },
          handleCast: (_msg, n) => {
            seen.push(currentCorrelation());
            return { state: n + 1 };
          },
        },
        { name: 'corrsrv' },
      ),
    );
    const dest = [atom('corrsrv'), atom(b.name)] as const;
    const id = newCorrelationId();
    const reply = await withCorrelation(id, () => a.call(dest, atom('hello')));
    expect(reply).toBe(atom('hello'));
    expect(await a.call(dest, atom('plain'))).toBe(atom('plain'));
    withCorrelation('cast-id', () => cast(a, dest, atom('c')));
    await until(() => seen.length === 3, 5_000, 'the cast');
    expect(seen).toEqual([id, undefined, 'cast-id']);
    const lines = logB.records.filter((r) => r.fields.code === 'handled_call');
    expect(lines.map((r) => r.fields.correlationId)).toEqual([id, undefined]);
    expect(lines.every((r) => r.fields.node === b.name)).toBe(true);
  });

  it('runs an exposed RPC function under the caller id', async () => {
    const a = await tsNode();
    const b = await tsNode();
    b.rpc.expose('corr', {
      whoami: () => currentCorrelation() ?? atom('none'),
      later: async () => {
        await new Promise((r) => setTimeout(r, 5));
        return currentCorrelation() ?? atom('none');
      },
    });
    const id = newCorrelationId();
    const got = await withCorrelation(id, () => a.rpc.call(b.name, 'corr', 'whoami', []));
    expect(Buffer.from(got as Uint8Array).toString()).toBe(id);
    const later = await withCorrelation('later-id', () => a.rpc.call(b.name, 'corr', 'later', []));
    expect(Buffer.from(later as Uint8Array).toString()).toBe('later-id');
    expect(await a.rpc.call(b.name, 'corr', 'whoami', [])).toBe(atom('none'));
  });

  it('carries the id of plain messages by pid, by name and by alias to messageCorrelation', async () => {
    const a = await tsNode();
    const b = await tsNode();
    const got: [Term, string | undefined][] = [];
    let alias: Term | undefined;
    const receiver = b.spawn(async (self) => {
      self.register(atom('corrrecv'));
      alias = self.alias();
      for (;;) {
        const m = await self.receive();
        got.push([m, self.messageCorrelation]);
      }
    });
    await until(() => alias !== undefined, 5_000, 'the receiver');
    withCorrelation('by-pid', () => a.send(receiver, 1));
    a.send(receiver, 2);
    withCorrelation('by-name', () => a.send([atom('corrrecv'), atom(b.name)], 3));
    a.spawn((self) => {
      withCorrelation('by-alias', () => self.send(alias as Reference, 4));
    });
    await until(() => got.length === 4, 5_000, 'four messages');
    expect(got).toEqual([
      [1, 'by-pid'],
      [2, undefined],
      [3, 'by-name'],
      [4, 'by-alias'],
    ]);
  });

  it('carries the id between processes of one node, and into processes spawned inside it', async () => {
    const a = await tsNode();
    const seen: (string | undefined)[] = [];
    await a.spawnServer(
      {
        init: () => null,
        handleCall: (req, _from, s) => {
          seen.push(currentCorrelation());
          return { reply: req, state: s };
        },
      },
      { name: 'localsrv' },
    );
    await withCorrelation('local-id', () => a.call('localsrv', 1));
    await a.call('localsrv', 2);
    expect(seen).toEqual(['local-id', undefined]);
    // Processes spawned in one batch start each under its own binding.
    const starts: (string | undefined)[] = [];
    withCorrelation('spawned', () => {
      a.spawn(() => void starts.push(currentCorrelation()));
      // A registered process is a service: it does not keep the request's id.
      a.spawn(() => void starts.push(currentCorrelation()), { name: atom('corrnamed') });
    });
    a.spawn(() => void starts.push(currentCorrelation()));
    await until(() => starts.length === 3, 5_000, 'three starts');
    expect(starts).toEqual(['spawned', undefined, undefined]);
  });

  it('delivers a message with a foreign trace token normally, with no id', async () => {
    const a = await tsNode();
    const got: [Term, string | undefined][] = [];
    const receiver = a.spawn(async (self) => {
      for (;;) {
        const m = await self.receive();
        got.push([m, self.messageCorrelation]);
      }
    });
    const raw = await rawConnect({ port: a.port, name: 'rawcorr@127.0.0.1', cookie: COOKIE, peer: a.name });
    raws.push(raw);
    const seqTrace = new Tuple([0, 7, new Tuple([1, 2]), new Pid(atom('rawcorr@127.0.0.1'), 1, 0, 1), 0]);
    raw.send(new Tuple([SEND_TT, atom(''), receiver, seqTrace]), atom('traced'));
    raw.send(new Tuple([SEND_TT, atom(''), receiver, correlationToken('from-raw')]), atom('ours'));
    await until(() => got.length === 2, 5_000, 'two messages');
    expect(got).toEqual([
      [atom('traced'), undefined],
      [atom('ours'), 'from-raw'],
    ]);
  });
});
