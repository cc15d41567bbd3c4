/**
 * RPC between TypeScript nodes in one process (real sockets, private EPMD): the same scenarios as
 * the erl interop suite, plus hostile SPAWN_REQUESTs from a hand-driven peer and the rex fallback.
 */

import { type } from 'arktype';
import * as v from 'valibot';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { ControlMessage } from '../../src/dist/control.ts';
import { DEFAULT_DFLAGS, DFLAG_SPAWN } from '../../src/dist/flags.ts';
import { Node } from '../../src/node/node.ts';
import type { NodeOptions } from '../../src/node/options.ts';
import { isRpcError, RpcError } from '../../src/services/errors.ts';
import { validated } from '../../src/services/rex.ts';
import {
  type Atom,
  atom,
  equals,
  ImproperList,
  Pid,
  Reference,
  type Term,
  Tuple,
  tuple,
} from '../../src/term/index.ts';
import { until } from '../support/dist-helpers.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { type RawPeer, rawConnect } from '../support/raw-peer.ts';
import { exposeFixtures, type FixtureProbe, rejection } from './fixtures.ts';

const COOKIE = 'rpc-cookie';
const F = 'fixture';

describe('rpc between TS nodes', () => {
  let epmd: EpmdProcess;
  const started: Node[] = [];
  const raws: RawPeer[] = [];
  let seq = 0;

  beforeAll(async () => {
    epmd = await startEpmd();
  });
  afterEach(async () => {
    for (const r of raws.splice(0)) r.socket.destroy();
    await Promise.all(started.splice(0).map((n) => n.stop()));
  });
  afterAll(async () => {
    await epmd?.stop();
  });

  async function tsNode(opts: Partial<NodeOptions> = {}): Promise<Node> {
    const node = await Node.start({
      name: `rpcts${++seq}@127.0.0.1`,
      cookie: COOKIE,
      epmd: 'external',
      epmdPort: epmd.port,
      ...opts,
    });
    started.push(node);
    return node;
  }

  async function pair(): Promise<{ a: Node; b: Node; probe: FixtureProbe }> {
    const a = await tsNode();
    const b = await tsNode();
    return { a, b, probe: exposeFixtures(b) };
  }

  /** Records the control messages `node` receives. */
  function spyControl(node: Node): ControlMessage[] {
    const seen: ControlMessage[] = [];
    const original = node.onControl.bind(node);
    vi.spyOn(node, 'onControl').mockImplementation((conn, msg) => {
      seen.push(msg);
      original(conn, msg);
    });
    return seen;
  }

  it('returns values: sync, async, any term, module and function as strings or atoms', async () => {
    const { a, b } = await pair();
    expect(await a.rpc.call(b.name, F, 'add', [1, 2])).toBe(3);
    expect(await a.rpc.call(atom(b.name), atom(F), atom('async_add'), [20, 22])).toBe(42);
    const term = tuple(atom('k'), [1, 2.5, Buffer.from('bin')], new Map<Term, Term>([[atom('a'), 1]]));
    expect(equals(await a.rpc.call(b.name, F, 'echo', [term]), term)).toBe(true);
    expect(await a.rpc.call(b.name, F, 'nothing', [])).toBe(atom('ok'));
    expect(await a.rpc.call(b.name, F, 'variadic', [1, 2])).toBe(2);
    expect(await a.rpc.call(b.name, F, 'variadic', [])).toBe(0);
  });

  it('tells a returned {badrpc, _} from an error', async () => {
    const { a, b } = await pair();
    expect(await a.rpc.call(b.name, F, 'badrpc', [])).toEqual(tuple(atom('badrpc'), atom('not_an_error')));
  });

  it('reports throw, exit and error with class, reason and stack', async () => {
    const { a, b } = await pair();
    const t = await rejection(a.rpc.call(b.name, F, 'throws', [atom('oops')]));
    expect(t).toMatchObject({ code: 'exception', class: 'throw', reason: atom('oops') });
    const x = await rejection(a.rpc.call(b.name, F, 'exits', [atom('bye')]));
    expect(x).toMatchObject({ code: 'exception', class: 'exit', reason: atom('bye') });
    const e = await rejection(a.rpc.call(b.name, F, 'errors', [atom('bad')]));
    expect(e).toMatchObject({ code: 'exception', class: 'error', reason: atom('bad') });
    expect(e.stacktrace).toEqual([tuple(atom(F), atom('errors'), 1, [])]);
    expect(e.node).toBe(b.name);
    expect(e.message).toContain(`${F}:errors/1`);
  });

  it('turns a JavaScript exception into error {js_error, ...} with an Erlang stack', async () => {
    const { a, b } = await pair();
    for (const fn of ['fails', 'async_fails']) {
      const e = await rejection(a.rpc.call(b.name, F, fn, []));
      expect(e).toMatchObject({ code: 'exception', class: 'error' });
      const reason = e.reason as Tuple;
      expect(reason.elements[0]).toBe(atom('js_error'));
      const info = reason.elements[1] as Map<Term, Term>;
      expect(Buffer.from(info.get(atom('message')) as Uint8Array).toString()).toBe(
        fn === 'fails' ? 'boom' : 'later',
      );
      const stack = e.stacktrace as Tuple[];
      expect(stack.at(-1)).toEqual(tuple(atom(F), atom(fn), 0, []));
      // JavaScript frames come first, with file and line.
      const first = stack[0] as Tuple;
      expect(first.length).toBe(4);
      expect(Array.isArray(first.elements[3])).toBe(true);
    }
  });

  it('answers undef for missing functions, modules and arities, and for unexposed ones', async () => {
    const { a, b } = await pair();
    const cases: [string, string, Term[]][] = [
      [F, 'nope', [1]],
      ['nomod', 'f', []],
      [F, 'add', [1, 2, 3]],
      ['erlang', 'node', []],
      ['Elixir.Enum', 'count', [[1, 2]]],
    ];
    for (const [m, f, args] of cases) {
      const e = await rejection(a.rpc.call(b.name, m, f, args));
      expect(e.code).toBe('undef');
      expect(e.module).toBe(atom(m));
      expect(e.stacktrace).toEqual([tuple(atom(m), atom(f), args, [])]);
    }
  });

  it('validates arguments with a Standard Schema: badarg, and the node stays up', async () => {
    const { a, b } = await pair();
    expect(await a.rpc.call(b.name, F, 'typed', [6, 7])).toBe(42);
    const e = await rejection(a.rpc.call(b.name, F, 'typed', [6, 'seven']));
    expect(e).toMatchObject({ code: 'exception', class: 'error', reason: atom('badarg') });
    const frame = (e.stacktrace as Tuple[])[0] as Tuple;
    expect(frame.elements.slice(0, 3)).toEqual([atom(F), atom('typed'), [6, Buffer.from('seven')]]);
    const loc = frame.elements[3] as Tuple[];
    expect(loc[0]?.elements[0]).toBe(atom('schema_issues'));
    expect(await a.rpc.call(b.name, F, 'typed', [2, 3])).toBe(6);
  });

  it('accepts any Standard Schema (zod, valibot, arktype) through validated()', async () => {
    const { a, b } = await pair();
    b.rpc.expose('schemas', {
      zod: validated(z.tuple([z.number(), z.number()]), (x, y) => x + y),
      valibot: validated(v.tuple([v.number(), v.number()]), (x, y) => x - y, 2),
      arktype: validated(type(['number', 'number']), (x, y) => x * y, 2),
      async: validated(
        z.tuple([z.number()]).refine(async () => true),
        (x) => x + 1,
        1,
      ),
    });
    expect(await a.rpc.call(b.name, 'schemas', 'zod', [5, 3])).toBe(8);
    expect(await a.rpc.call(b.name, 'schemas', 'valibot', [5, 3])).toBe(2);
    expect(await a.rpc.call(b.name, 'schemas', 'arktype', [5, 3])).toBe(15);
    expect(await a.rpc.call(b.name, 'schemas', 'async', [5])).toBe(6);
    for (const fn of ['zod', 'valibot', 'arktype']) {
      const e = await rejection(a.rpc.call(b.name, 'schemas', fn, [5, atom('x')]));
      expect(e).toMatchObject({ code: 'exception', class: 'error', reason: atom('badarg') });
    }
  });

  it('reports unencodable return values as errors', async () => {
    const { a, b } = await pair();
    const e = await rejection(a.rpc.call(b.name, F, 'unencodable', []));
    expect(e).toMatchObject({ code: 'exception', class: 'error' });
    expect((e.reason as Tuple).elements[0]).toBe(atom('bad_return_value'));
  });

  it('times out, and the late result reaches nobody', async () => {
    const { a, b } = await pair();
    await a.rpc.call(b.name, F, 'add', [1, 1]); // connected
    const seen = spyControl(a);
    const e = await rejection(a.rpc.call(b.name, F, 'sleep', [300], { timeoutMs: 50 }));
    expect(e.code).toBe('timeout');
    expect(a.rpc.pendingCalls).toBe(0);
    await until(() => b.rpc.runningCalls === 0, 5000, 'the function ends');
    // A round trip after the function ended: anything it sent has arrived by now.
    expect(await a.rpc.call(b.name, F, 'add', [2, 2])).toBe(4);
    // The second call's DOWN, and the first's only if b sent it before our demonitor reached it
    // (a spawn reply later than the timeout, on a loaded machine); it reaches no caller either way.
    const downs = seen.filter((m) => m.kind === 'monitor_exit').length;
    expect(downs).toBeGreaterThanOrEqual(1);
    expect(downs).toBeLessThanOrEqual(2);
    expect(a.rpc.pendingCalls).toBe(0);
  });

  it('times out each call at its own deadline, whatever the order they were made in', async () => {
    const { a, b } = await pair();
    await a.rpc.call(b.name, F, 'add', [1, 1]); // connected
    const t0 = performance.now();
    const settled = (timeoutMs: number, sleepMs: number): Promise<{ code: string; ms: number }> =>
      a.rpc.call(b.name, F, 'sleep', [sleepMs], { timeoutMs }).then(
        () => ({ code: 'ok', ms: performance.now() - t0 }),
        (e: RpcError) => ({ code: e.code, ms: performance.now() - t0 }),
      );
    // A long deadline first (the timer is armed for it), then shorter ones that must re-arm it, one
    // that ends in time in between, and one made after the others.
    const long = settled(400, 1000);
    const short = settled(60, 1000);
    const quick = settled(5000, 10);
    const middle = settled(150, 1000);
    const late = settled(100, 1000);
    const r = await Promise.all([long, short, quick, middle, late]);
    expect(r.map((x) => x.code)).toEqual(['timeout', 'timeout', 'ok', 'timeout', 'timeout']);
    const [tLong, tShort, , tMiddle, tLate] = r.map((x) => x.ms) as [number, number, number, number, number];
    expect(tShort).toBeGreaterThanOrEqual(60);
    expect(tLate).toBeGreaterThanOrEqual(100);
    expect(tMiddle).toBeGreaterThanOrEqual(150);
    expect(tLong).toBeGreaterThanOrEqual(400);
    // In deadline order, and none waits for another's deadline.
    expect(tShort).toBeLessThan(tMiddle);
    expect(tLate).toBeLessThan(tLong);
    expect(tMiddle).toBeLessThan(tLong);
    expect(a.rpc.pendingCalls).toBe(0);
  });

  it('waits forever with timeoutMs: Infinity', async () => {
    const { a, b } = await pair();
    expect(await a.rpc.call(b.name, F, 'sleep', [20], { timeoutMs: Number.POSITIVE_INFINITY })).toBe(
      atom('slept'),
    );
    // Past the longest Node timer: forever too, not "at once".
    expect(await a.rpc.call(b.name, F, 'sleep', [20], { timeoutMs: 2 ** 40 })).toBe(atom('slept'));
    expect(await a.rpc.call(b.name, F, 'sleep', [20], { timeoutMs: 2 ** 40, via: 'rex' })).toBe(
      atom('slept'),
    );
  });

  it('nodedown for an unreachable node, noconnection when the connection drops mid-call', async () => {
    const { a, b } = await pair();
    const down = await rejection(a.rpc.call('nobody@127.0.0.1', F, 'add', [1, 2]));
    expect(down.code).toBe('nodedown');
    const call = a.rpc.call(b.name, F, 'sleep', [5000], { timeoutMs: 10_000 });
    const failed = rejection(call);
    await until(() => b.rpc.runningCalls === 1, 5000, 'the call runs');
    a.disconnect(b.name);
    expect((await failed).code).toBe('noconnection');
    expect(a.rpc.pendingCalls).toBe(0);
  });

  it('rejects bad local arguments with badarg', async () => {
    const { a, b } = await pair();
    expect((await rejection(a.rpc.call(b.name, F, 'add', 1 as unknown as Term[]))).code).toBe('badarg');
    expect((await rejection(a.rpc.call(b.name, F, 'add', [1, 2], { timeoutMs: -1 }))).code).toBe('badarg');
    expect((await rejection(a.rpc.call(b.name, F, 'echo', [Symbol('x') as unknown as Term]))).code).toBe(
      'badarg',
    );
    expect((await rejection(a.rpc.call('not a node', F, 'add', [1, 2]))).code).toBe('nodedown');
    expect((await rejection(a.rpc.call(b.name, 'x'.repeat(300), 'add', [1, 2]))).code).toBe('badarg');
    await expect(a.rpc.cast(b.name, F, 'y'.repeat(300), [])).rejects.toMatchObject({ code: 'badarg' });
  });

  it('multicall gives one settled result per node, in order', async () => {
    const { a, b } = await pair();
    const c = await tsNode();
    const results = await a.rpc.multicall([b.name, c.name, 'nobody@127.0.0.1'], F, 'add', [1, 2]);
    expect(results.map((r) => [r.node, r.ok])).toEqual([
      [b.name, true],
      [c.name, false],
      ['nobody@127.0.0.1', false],
    ]);
    expect(results[0]).toEqual({ node: b.name, ok: true, value: 3 });
    const [, r1, r2] = results;
    expect(r1?.ok === false && r1.error.code).toBe('undef');
    expect(r2?.ok === false && r2.error.code).toBe('nodedown');
  });

  it('cast runs the function and reports nothing back', async () => {
    const { a, b, probe } = await pair();
    await a.rpc.cast(b.name, F, 'record', [atom('one')]);
    await a.rpc.cast(b.name, F, 'fails', []); // a failure there is only logged there
    await a.rpc.cast(b.name, F, 'record', [atom('two')]);
    await probe.waitRecorded(2);
    expect(probe.recorded).toEqual([atom('one'), atom('two')]);
    await expect(a.rpc.cast('nobody@127.0.0.1', F, 'record', [1])).rejects.toMatchObject({
      code: 'nodedown',
    });
  });

  it('calls itself directly', async () => {
    const a = await tsNode();
    exposeFixtures(a);
    expect(await a.rpc.call(a.name, F, 'add', [1, 2])).toBe(3);
    expect((await rejection(a.rpc.call(a.name, F, 'nope', []))).code).toBe('undef');
    expect((await rejection(a.rpc.call(a.name, F, 'throws', [1]))).class).toBe('throw');
  });

  it('refuses calls past maxConcurrent with system_limit, then recovers', async () => {
    const { a, b, probe } = await pair();
    b.rpc.configure({ maxConcurrent: 2 });
    const held = [a.rpc.call(b.name, F, 'blocked', []), a.rpc.call(b.name, F, 'blocked', [])];
    await until(() => probe.blocked() === 2, 5000, 'two calls held');
    const e = await rejection(a.rpc.call(b.name, F, 'add', [1, 2]));
    expect(e.code).toBe('badrpc');
    expect(e.term).toEqual(tuple(atom('EXIT'), atom('system_limit')));
    const viaRex = await rejection(a.rpc.call(b.name, F, 'add', [1, 2], { via: 'rex' }));
    expect(viaRex).toMatchObject({ code: 'exception', class: 'exit', reason: atom('system_limit') });
    expect(b.rpc.runningCalls).toBe(2);
    probe.release();
    expect(await Promise.all(held)).toEqual([atom('released'), atom('released')]);
    expect(b.rpc.runningCalls).toBe(0);
    expect(await a.rpc.call(b.name, F, 'add', [1, 2])).toBe(3);
  });

  it('calls through rex on request, with rex result conventions', async () => {
    const { a, b } = await pair();
    const via = { via: 'rex' } as const;
    expect(await a.rpc.call(b.name, F, 'add', [1, 2], via)).toBe(3);
    expect(await a.rpc.call(b.name, F, 'async_add', [1, 2], via)).toBe(3);
    // rex returns a thrown value as the result, and cannot tell a returned {badrpc, _} from an error.
    expect(await a.rpc.call(b.name, F, 'throws', [atom('v')], via)).toBe(atom('v'));
    expect((await rejection(a.rpc.call(b.name, F, 'badrpc', [], via))).code).toBe('badrpc');
    expect(await rejection(a.rpc.call(b.name, F, 'exits', [atom('bye')], via))).toMatchObject({
      code: 'exception',
      class: 'exit',
      reason: atom('bye'),
    });
    expect(await rejection(a.rpc.call(b.name, F, 'errors', [atom('bad')], via))).toMatchObject({
      code: 'exception',
      class: 'error',
      reason: atom('bad'),
    });
    expect((await rejection(a.rpc.call(b.name, F, 'nope', [], via))).code).toBe('undef');
    expect((await rejection(a.rpc.call(b.name, F, 'sleep', [300], { via: 'rex', timeoutMs: 30 }))).code).toBe(
      'timeout',
    );
  });

  it('answers features_request, the C-node call form and sbcast on rex', async () => {
    const { a, b } = await pair();
    const rex = [atom('rex'), atom(b.name)] as const;
    const got = await new Promise<Term[]>((resolve, reject) => {
      a.spawn(async (self) => {
        try {
          const out: Term[] = [];
          self.send(rex, tuple(self.pid, atom('features_request')));
          out.push(await self.receive({ timeoutMs: 5000 }));
          self.send(rex, tuple(self.pid, tuple(atom('call'), atom(F), atom('add'), [2, 3], atom('user'))));
          out.push(await self.receive({ timeoutMs: 5000 }));
          self.send(rex, tuple(self.pid, tuple(atom('sbcast'), atom('nobody_here'), atom('hi'))));
          out.push(await self.receive({ timeoutMs: 5000 }));
          resolve(out);
        } catch (e) {
          reject(e);
        }
      });
    });
    expect(got).toEqual([
      tuple(atom('features_reply'), atom(b.name), [atom('erpc')]),
      tuple(atom('rex'), 5),
      tuple(atom('rex'), atom(b.name), tuple(atom('nonexisting_name'), atom('nobody_here'))),
    ]);
  });

  it('checks what expose is given; unexpose and the disposer remove functions', async () => {
    const { a, b } = await pair();
    expect(() => b.rpc.expose('m', { f: { fn: () => 1, arity: 300 } })).toThrow(RpcError);
    expect(() => b.rpc.expose('m', { f: 42 as unknown as () => 1 })).toThrow(/function/);
    const dispose = b.rpc.expose('m', { f: () => 1, g: () => 2 });
    expect(await a.rpc.call(b.name, 'm', 'f', [])).toBe(1);
    b.rpc.unexpose('m', 'g');
    expect((await rejection(a.rpc.call(b.name, 'm', 'g', []))).code).toBe('undef');
    dispose();
    expect((await rejection(a.rpc.call(b.name, 'm', 'f', []))).code).toBe('undef');
    b.rpc.expose('m', { f: () => 3 });
    b.rpc.unexpose('m');
    expect(isRpcError(await rejection(a.rpc.call(b.name, 'm', 'f', [])), 'undef')).toBe(true);
  });

  describe('from a hand-driven peer', () => {
    const RAW = 'rawrpc@127.0.0.1';

    async function raw(node: Node, flags?: bigint): Promise<RawPeer> {
      const peer = await rawConnect({
        port: node.port,
        name: RAW,
        cookie: COOKIE,
        peer: node.name,
        ...(flags === undefined ? {} : { flags }),
      });
      raws.push(peer);
      return peer;
    }
    const rawPid = (n: number): Pid => new Pid(atom(RAW), n, 0, 1);
    const rawRef = (n: number): Reference => new Reference(atom(RAW), 1, [n, 0, 0]);
    const op = (m: { control: Term }): unknown => (m.control as Tuple).elements[0];

    function spawnRequest(
      peer: RawPeer,
      n: number,
      mfa: [string, string, number],
      options: Term[],
      args: Term[],
      from: Pid = rawPid(n),
    ): void {
      peer.send(tuple(29, rawRef(n), from, from, tuple(atom(mfa[0]), atom(mfa[1]), mfa[2]), options), args);
    }

    function replyTo(peer: RawPeer, n: number) {
      return peer.waitMessage(
        (m) =>
          op(m) === 31 &&
          (m.control as Tuple).elements[1] instanceof Reference &&
          ((m.control as Tuple).elements[1] as Reference).ids[0] === n,
      );
    }

    function downOf(peer: RawPeer, n: number) {
      return peer.waitMessage(
        (m) => (op(m) === 28 || op(m) === 21) && ((m.control as Tuple).elements[3] as Reference).ids[0] === n,
      );
    }

    it('parses options leniently and answers with the flags asked for', async () => {
      const b = await tsNode();
      exposeFixtures(b);
      const peer = await raw(b);
      const res = rawRef(100);
      const options: Term[] = [
        atom('monitor'),
        tuple(atom('priority'), atom('high')),
        42,
        'junk',
        tuple(atom('monitor'), [tuple(atom('alias'), atom('demonitor'))]),
        atom('link'),
        tuple(atom('reply'), atom('yes')),
      ];
      spawnRequest(peer, 1, ['erpc', 'execute_call', 4], options, [res, atom(F), atom('add'), [1, 2]]);
      const reply = await replyTo(peer, 1);
      const [, , to, flags, pid] = (reply.control as Tuple).elements;
      expect(to).toEqual(rawPid(1));
      expect(flags).toBe(3);
      expect(pid).toBeInstanceOf(Pid);
      const down = await downOf(peer, 1);
      const reason = op(down) === 28 ? down.payload : (down.control as Tuple).elements[4];
      expect(reason).toEqual(tuple(res, atom('return'), 3));
      // linked: the exit comes as a link EXIT too
      const exit = await peer.waitMessage((m) => op(m) === 24 || op(m) === 3);
      expect((exit.control as Tuple).elements[2]).toEqual(rawPid(1));
    });

    it('answers odd requests the way the BEAM does, and stays up', async () => {
      const b = await tsNode();
      exposeFixtures(b);
      const peer = await raw(b);
      const res = rawRef(200);
      // execute_call with a non-list argument list: badarg
      spawnRequest(peer, 2, ['erpc', 'execute_call', 4], [atom('monitor')], [res, atom(F), atom('add'), 7]);
      const d2 = await downOf(peer, 2);
      expect((d2.payload as Tuple).elements.slice(0, 3)).toEqual([res, atom('error'), atom('badarg')]);
      // a module that is not an atom: badarg, as apply/3
      spawnRequest(peer, 10, ['erpc', 'execute_call', 4], [atom('monitor')], [res, 1, atom('add'), [1, 2]]);
      const d10 = await downOf(peer, 10);
      expect((d10.payload as Tuple).elements.slice(0, 3)).toEqual([res, atom('error'), atom('badarg')]);
      // an arbitrary MFA that is not exposed: the process exits undef
      spawnRequest(peer, 3, ['nomod', 'nofn', 1], [atom('monitor')], [atom('x')]);
      const d3 = await downOf(peer, 3);
      expect(d3.payload).toEqual(tuple(atom('undef'), [tuple(atom('nomod'), atom('nofn'), [atom('x')], [])]));
      // an exposed function spawned directly: it runs as the process, which exits normal
      spawnRequest(peer, 4, [F, 'record', 1], [atom('monitor')], [atom('direct')]);
      expect((await downOf(peer, 4)).payload).toBe(atom('normal'));
      // the arity in the MFA does not match the argument list: undef
      spawnRequest(peer, 5, ['erpc', 'execute_call', 4], [atom('monitor')], [res, atom(F)]);
      expect(((await downOf(peer, 5)).payload as Tuple).elements[0]).toBe(atom('undef'));
      // unknown erpc function
      spawnRequest(peer, 6, ['erpc', 'execute_other', 1], [atom('monitor')], [1]);
      expect(((await downOf(peer, 6)).payload as Tuple).elements[0]).toBe(atom('undef'));
      // a request from a pid of another node is dropped; the next one is served
      spawnRequest(
        peer,
        7,
        ['erpc', 'execute_call', 4],
        [atom('monitor')],
        [res, atom(F), atom('add'), [1, 1]],
        new Pid(atom('other@127.0.0.1'), 1, 0, 1),
      );
      spawnRequest(
        peer,
        8,
        ['erpc', 'execute_call', 4],
        [atom('monitor')],
        [res, atom(F), atom('add'), [4, 4]],
      );
      expect((await downOf(peer, 8)).payload).toEqual(tuple(res, atom('return'), 8));
      expect(
        peer.messages.some(
          (m) => op(m) === 31 && ((m.control as Tuple).elements[1] as Reference).ids[0] === 7,
        ),
      ).toBe(false);
      // cast: a reply, no monitor, and the function ran
      spawnRequest(peer, 9, ['erpc', 'execute_cast', 3], [], [atom(F), atom('add'), [1, 2]]);
      expect(((await replyTo(peer, 9)).control as Tuple).elements[3]).toBe(0);
    });

    it('kills the process of a call that timed out before its SPAWN_REPLY, and drops its DOWN', async () => {
      const a = await tsNode();
      const peer = await raw(a);
      await until(() => a.connection(RAW) !== undefined, 5000, 'connected');
      const call = a.rpc.call(RAW, F, 'add', [1, 2], { timeoutMs: 50 });
      const req = await peer.waitMessage((m) => op(m) === 29);
      const [, reqId, from] = (req.control as Tuple).elements as [number, Reference, Pid];
      expect(((req.control as Tuple).elements[4] as Tuple).elements).toEqual([
        atom('erpc'),
        atom('execute_call'),
        4,
      ]);
      expect((req.control as Tuple).elements[5]).toEqual([atom('monitor')]);
      const [res] = req.payload as [Reference];
      expect((await rejection(call)).code).toBe('timeout');
      expect(a.rpc.pendingCalls).toBe(1); // abandoned, waiting for its reply
      const worker = rawPid(77);
      peer.send(tuple(31, reqId, from, 2, worker));
      const kill = await peer.waitMessage((m) => op(m) === 26 || op(m) === 8);
      expect((kill.control as Tuple).elements[2]).toEqual(worker);
      const reason = op(kill) === 26 ? kill.payload : (kill.control as Tuple).elements[3];
      expect(reason).toBe(atom('abandoned'));
      expect(a.rpc.pendingCalls).toBe(0);
      // a DOWN that still comes is dropped, and the node goes on
      peer.send(tuple(28, worker, from, reqId), tuple(res, atom('return'), 3));
      const next = a.rpc.call(RAW, F, 'add', [1, 2], { timeoutMs: 5000 });
      const req2 = await peer.waitMessage((m) => op(m) === 29 && m !== req);
      const [, reqId2, from2] = (req2.control as Tuple).elements as [number, Reference, Pid];
      const [res2] = req2.payload as [Reference];
      peer.send(tuple(31, reqId2, from2, 2, worker));
      peer.send(tuple(28, worker, from2, reqId2), tuple(res2, atom('return'), tuple(atom('badrpc'), 1)));
      expect(await next).toEqual(tuple(atom('badrpc'), 1));
    });

    it('remembers at most 10 000 abandoned calls to a peer that never answers', async () => {
      const a = await tsNode();
      const peer = await raw(a);
      await until(() => a.connection(RAW) !== undefined, 5000, 'connected');
      const calls = Array.from({ length: 10_050 }, () =>
        rejection(a.rpc.call(RAW, F, 'add', [1, 2], { timeoutMs: 1 })),
      );
      const codes = new Set((await Promise.all(calls)).map((e) => e.code));
      expect([...codes]).toEqual(['timeout']);
      expect(a.rpc.pendingCalls).toBe(10_000);
      peer.socket.destroy();
      await until(() => a.rpc.pendingCalls === 0, 5000, 'forgotten at nodedown');
    });

    it('maps SPAWN_REPLY errors and odd DOWN reasons', async () => {
      const a = await tsNode();
      const peer = await raw(a);
      await until(() => a.connection(RAW) !== undefined, 5000, 'connected');
      const answer = async (
        reply: (reqId: Reference, from: Pid, res: Reference) => void,
      ): Promise<RpcError> => {
        const n = peer.messages.length;
        const call = a.rpc.call(RAW, F, 'f', [], { timeoutMs: 5000 });
        const req = await peer.waitMessage((m) => op(m) === 29 && peer.messages.indexOf(m) >= n);
        const [, reqId, from] = (req.control as Tuple).elements as [number, Reference, Pid];
        reply(reqId, from, (req.payload as [Reference])[0]);
        return await rejection(call);
      };
      const worker = rawPid(5);
      const limit = await answer((r, f) => peer.send(tuple(31, r, f, 0, atom('system_limit'))));
      expect(limit).toMatchObject({ code: 'badrpc', term: tuple(atom('EXIT'), atom('system_limit')) });
      const killed = await answer((r, f) => {
        peer.send(tuple(31, r, f, 2, worker));
        peer.send(tuple(28, worker, f, r), atom('killed'));
      });
      expect(killed).toMatchObject({ code: 'badrpc', term: tuple(atom('EXIT'), atom('killed')) });
      const erpcErr = await answer((r, f, res) => {
        peer.send(tuple(31, r, f, 2, worker));
        peer.send(tuple(21, worker, f, r, tuple(res, atom('error'), tuple(atom('erpc'), atom('badarg')))));
      });
      expect(erpcErr).toMatchObject({ code: 'badrpc', term: tuple(atom('EXIT'), atom('badarg')) });
      const other = await answer((r, f) => {
        peer.send(tuple(31, r, f, 2, worker));
        // somebody else's result reference: not a result of this call
        peer.send(tuple(28, worker, f, r), tuple(rawRef(9), atom('return'), 1));
      });
      expect(other.code).toBe('badrpc');
    });

    it('falls back to rex when the peer lacks DFLAG_SPAWN', async () => {
      const a = await tsNode();
      const peer = await raw(a, DEFAULT_DFLAGS & ~DFLAG_SPAWN);
      await until(() => a.connection(RAW) !== undefined, 5000, 'connected');
      expect(a.connection(RAW)?.spawn).toBe(false);
      const call = a.rpc.call(RAW, 'lists', 'reverse', [[1, 2]]);
      // REG_SEND {6, From, '', rex} + {'$gen_call', {From, Tag}, {call, lists, reverse, [[1,2]], user}}
      const req = await peer.waitMessage((m) => op(m) === 6);
      expect((req.control as Tuple).elements[3]).toBe(atom('rex'));
      const [tag, from, request] = (req.payload as Tuple).elements as [Atom, Tuple, Tuple];
      expect(tag).toBe(atom('$gen_call'));
      expect(request).toEqual(tuple(atom('call'), atom('lists'), atom('reverse'), [[1, 2]], atom('user')));
      const [caller, replyTag] = from.elements as [Pid, Term];
      expect(replyTag).toBeInstanceOf(ImproperList);
      peer.send(tuple(33, rawPid(1), (replyTag as ImproperList).tail), tuple(replyTag, [2, 1]));
      expect(await call).toEqual([2, 1]);
      expect(caller).toBeInstanceOf(Pid);
      // An explicit erpc call to such a peer is refused as the BEAM does (notsup).
      const e = await rejection(a.rpc.call(RAW, 'lists', 'reverse', [[1]], { via: 'erpc' }));
      expect(e).toMatchObject({ code: 'badrpc', term: atom('notsup') });
      // cast goes to rex as a gen_server cast
      await a.rpc.cast(RAW, 'm', 'f', [1]);
      const cast = await peer.waitMessage(
        (m) => op(m) === 6 && (m.payload as Tuple).elements[0] === atom('$gen_cast'),
      );
      expect((cast.payload as Tuple).elements[1]).toEqual(
        tuple(atom('cast'), atom('m'), atom('f'), [1], atom('user')),
      );
    });

    it('answers io requests to the group leader it names', async () => {
      const a = await tsNode();
      const peer = await raw(a);
      await until(() => a.connection(RAW) !== undefined, 5000, 'connected');
      const call = a.rpc.call(RAW, 'io', 'format', ['hi'], { timeoutMs: 5000 });
      const req = await peer.waitMessage((m) => op(m) === 29);
      const gl = (req.control as Tuple).elements[3] as Pid;
      const replyAs = rawRef(3);
      peer.send(
        tuple(22, rawPid(9), gl),
        tuple(atom('io_request'), rawPid(9), replyAs, tuple(atom('put_chars'), atom('unicode'), 'hi')),
      );
      const io = await peer.waitMessage(
        (m) =>
          (op(m) === 22 || op(m) === 2) &&
          m.payload instanceof Tuple &&
          (m.payload as Tuple).elements[0] === atom('io_reply'),
      );
      expect(io.payload).toEqual(tuple(atom('io_reply'), replyAs, atom('ok')));
      peer.socket.destroy();
      expect((await rejection(call)).code).toBe('noconnection');
    });
  });
});
