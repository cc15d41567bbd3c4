/**
 * Correlation ids against a real erl (OTP 25): the handshake with our extra flag bit succeeds both
 * ways and the bit is never negotiated with the BEAM; messages and RPC calls made inside
 * `withCorrelation` reach erl as plain SEND/REG_SEND/SPAWN_REQUEST (erl's receive works and
 * `seq_trace:get_token()` is `[]` in the receiver); a real seq_trace token from erl is ignored.
 */

import { expect, it } from 'vitest';
import { DFLAG_DISTRIBUTE_CORRELATION } from '../../src/dist/flags.ts';
import { currentCorrelation, withCorrelation } from '../../src/node/correlation.ts';
import { atom, encode, type Pid, type Term, Tuple, tuple } from '../../src/term/index.ts';
import { useTestCluster } from '../support/cluster.ts';
import { nextEvent, until } from '../support/dist-helpers.ts';
import { describeErl } from '../support/erl.ts';

const COOKIE = 'corr-erl-cookie';

describeErl('correlation ids and erl', () => {
  const cluster = useTestCluster({ cookie: COOKIE, prefix: 'tscorr' });
  const { tsNode, erlNode } = cluster;

  it('completes the handshake with the extra flag both ways, without negotiating it', async () => {
    const e = await erlNode('corrhs1');
    const ts = await tsNode();
    // TS initiates.
    expect(await ts.ping(e.name)).toBe('pong');
    expect(ts.connection(e.name)!.flags & DFLAG_DISTRIBUTE_CORRELATION).toBe(0n);
    // erl initiates.
    const ts2 = await tsNode();
    const up = nextEvent<[string]>(ts2, 'nodeup', 10_000);
    expect(await e.eval(`net_adm:ping('${ts2.name}')`)).toBe(atom('pong'));
    await up;
    expect(ts2.connection(e.name)!.flags & DFLAG_DISTRIBUTE_CORRELATION).toBe(0n);
  });

  it('sends plain messages and RPC calls to erl from inside a correlation', async () => {
    const e = await erlNode('corrmsg1');
    const ts = await tsNode();
    // A box that records each message with the seq_trace token it arrived with.
    await e.eval(
      `register(corrbox, spawn(fun() -> L = fun L(Acc) -> receive {dump, F} -> F ! {dump, lists:reverse(Acc)}, L(Acc); M -> L([{M, seq_trace:get_token()} | Acc]) end end, L([]) end)), ok`,
    );
    const box = await e.eval('whereis(corrbox)');
    const ok = await withCorrelation('to-erl', async () => {
      ts.send([atom('corrbox'), atom(e.name)], atom('by_name'));
      ts.spawn((self) => self.send(box as Pid, tuple(atom('by_pid'), self.pid)));
      // erpc through SPAWN_REQUEST: erl must see a plain one, or it would treat our token as seq_trace.
      const node = await ts.rpc.call(e.name, 'erlang', 'node', []);
      const token = await ts.rpc.call(e.name, 'seq_trace', 'get_token', []);
      return [node, token, currentCorrelation()];
    });
    expect(ok).toEqual([atom(e.name), [], 'to-erl']);
    let dump: Term = [];
    await until(
      async () => {
        dump = await e.eval('corrbox ! {dump, self()}, receive {dump, X} -> X after 5000 -> timeout end');
        return Array.isArray(dump) && dump.length === 2;
      },
      10_000,
      'two messages in the erl box',
    );
    const entries = dump as Tuple[];
    expect(entries.map((t) => t.elements[1])).toEqual([[], []]);
    expect(entries[0]!.elements[0]).toBe(atom('by_name'));
    expect((entries[1]!.elements[0] as Tuple).elements[0]).toBe(atom('by_pid'));
  });

  it('delivers a message erl sends with a real seq_trace token, with no id', async () => {
    const e = await erlNode('corrtt1');
    const ts = await tsNode();
    const got: [Term, string | undefined][] = [];
    const receiver = ts.spawn(async (self) => {
      for (;;) {
        const m = await self.receive();
        got.push([m, self.messageCorrelation]);
      }
    });
    // Record the control messages, to be sure the first one came with a token.
    const tokens: (Term | undefined)[] = [];
    const onControl = ts.onControl.bind(ts);
    ts.onControl = (conn, msg) => {
      if (msg.kind === 'send') tokens.push(msg.token);
      onControl(conn, msg);
    };
    await e.eval(`TsPid = binary_to_term(base64:decode("${encode(receiver).toString('base64')}"))`);
    await e.eval(
      'seq_trace:set_token(label, 17), seq_trace:set_token(send, true), TsPid ! traced, seq_trace:set_token([]), TsPid ! plain, ok',
    );
    await until(() => got.length === 2, 10_000, 'two messages from erl');
    expect(got).toEqual([
      [atom('traced'), undefined],
      [atom('plain'), undefined],
    ]);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toBeInstanceOf(Tuple);
    expect(tokens[1]).toBeUndefined();
  });
});
