/**
 * The protocol's term shapes (messages.ts), the tables and resolve methods (names.ts), the lock
 * helpers' arithmetic (locks.ts), and the core's robustness to untrusted input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GlobalCore } from '../../src/services/global/core.ts';
import { randomSleepMax, randomSleepMs, theBoss } from '../../src/services/global/locks.ts';
import {
  callRequestTerm,
  connectLockId,
  exchange,
  G,
  genCast,
  initConnect,
  NOTIFY_ALL_NAME,
  newNodes,
  RANDOM_EXIT_NAME,
  RANDOM_NOTIFY_NAME,
  readServerMessage,
  resolved,
} from '../../src/services/global/messages.ts';
import {
  builtinMethod,
  LockTable,
  minmax,
  NameTable,
  resolveBuiltin,
} from '../../src/services/global/names.ts';
import { Prng } from '../../src/sim/prng.ts';
import {
  atom,
  decode,
  ExportFun,
  encode,
  type Pid,
  type Term,
  TermMap,
  Tuple,
  tuple,
} from '../../src/term/index.ts';
import { arbTerm } from '../support/term-arbitrary.ts';
import { BEAM_DEFAULT_METHOD, pid, term } from './support/terms.ts';

const me = atom('ts@127.0.0.1');

function core(): GlobalCore {
  return new GlobalCore({
    node: me,
    creation: 1,
    pids: {
      server: pid(me.name, 1),
      locker: pid(me.name, 2),
      registrar: pid(me.name, 3),
      client: pid(me.name, 4),
    },
    rng: new Prng(7),
    isAlive: () => true,
  });
}

describe('global messages', () => {
  it('reads what it builds, through the wire encoding', () => {
    const p = pid('a@h', 85);
    const wire = (t: Term): Term => decode(encode(t));
    const ic = readServerMessage(wire(genCast(initConnect(-5n, me, new TermMap(), pid(me.name, 2)))));
    expect(ic).toMatchObject({ kind: 'init_connect', hisVsn: 8, hisTag: -5, node: me });
    const ex = readServerMessage(
      wire(genCast(exchange(me, [{ name: atom('x'), pid: p, method: RANDOM_EXIT_NAME }], 7))),
    );
    expect(ex).toMatchObject({ kind: 'exchange', node: me, tag: 7, names: [{ name: atom('x') }] });
    const rs = readServerMessage(
      wire(genCast(resolved(me, [{ op: 'delete', name: 'n' }], [tuple(atom('b@h'), 8)], [], 9))),
    );
    expect(rs).toMatchObject({
      kind: 'resolved',
      ops: [{ op: 'delete' }],
      known: [{ node: atom('b@h'), vsn: 8 }],
    });
    const nn = readServerMessage(
      wire(
        genCast(
          newNodes(
            me,
            [{ op: 'insert', entry: { name: 1, pid: p, method: RANDOM_EXIT_NAME } }],
            [],
            [atom('b@h')],
            [],
          ),
        ),
      ),
    );
    expect(nn).toMatchObject({ kind: 'new_nodes', nodes: [{ node: atom('b@h'), vsn: 0 }] });
  });

  it('reads gen_server calls with any tag shape and round-trips call requests', () => {
    const from = tuple(pid('a@h', 56), tuple(term('#Ref<1>'), me));
    for (const req of [
      { kind: 'set_lock', id: { resource: G.global, requester: pid('a@h', 57) } },
      { kind: 'del_lock', id: { resource: 'r', requester: 1 } },
      { kind: 'register', entry: { name: 'n', pid: pid('a@h', 9), method: BEAM_DEFAULT_METHOD } },
      { kind: 'unregister', name: atom('n') },
      { kind: 'get_known' },
    ] as const) {
      const m = readServerMessage(new Tuple([G.$gen_call, from, callRequestTerm(req)]));
      expect(m).toMatchObject({ kind: 'call', request: { kind: req.kind } });
    }
    // OTP 26's improper-list tag is carried as is.
    const otp26 = new Tuple([
      G.$gen_call,
      tuple(pid('a@h', 1), term('[[alias|#Ref<2>]|#Ref<3>]')),
      G.get_known,
    ]);
    expect(readServerMessage(otp26)).toMatchObject({ kind: 'call', request: { kind: 'get_known' } });
  });

  it('rejects malformed protocol messages instead of guessing', () => {
    for (const text of [
      "{'$gen_cast',{init_connect,8,'a@h',{locker,x,#{},<a@h.1.0>}}}",
      "{'$gen_cast',{init_connect,{8,1},'a@h',{locker,x,#{},not_a_pid}}}",
      "{'$gen_cast',{init_connect,{-1,1},'a@h',{locker,x,#{},<a@h.1.0>}}}",
      "{'$gen_cast',{exchange,'a@h',not_a_list,[],1}}",
      "{'$gen_cast',{lock_set,<a@h.1.0>,maybe,[],1}}",
      '{\'$gen_cast\',{resolved,"a@h",[],[],unused,[],1}}',
      "{lost_connection,'a@h',not_int,1,'b@h'}",
      "{'$gen_call',not_from,{set_lock,{a,b}}}",
      'hello',
      '{}',
    ]) {
      expect(readServerMessage(term(text)), text).toBeUndefined();
    }
    // Malformed items inside lists are skipped, the rest is kept.
    const ex = readServerMessage(
      term("{'$gen_cast',{exchange,'a@h',[{x,<a@h.1.0>,m},garbage,{y,not_pid,m}],[],1}}"),
    );
    expect(ex).toMatchObject({ kind: 'exchange', names: [{ name: atom('x') }] });
  });

  it('the connect lock id sorts the lockers in Erlang pid order (serial, number, node, creation)', () => {
    const ts = pid('ts@127.0.0.1', 2);
    const a = pid('a@127.0.0.1', 56);
    expect(connectLockId(a, ts).requester).toEqual([ts, a]);
    expect(connectLockId(ts, a).requester).toEqual([ts, a]);
    const same = [pid('b@h', 56), pid('a@h', 56)];
    expect(connectLockId(same[0]!, same[1]!).requester).toEqual([same[1], same[0]]);
  });

  it('the core never throws on arbitrary input at global_name_server or the locker', () => {
    const c = core();
    c.step({ kind: 'nodeup', node: atom('a@h') });
    fc.assert(
      fc.property(arbTerm, (t) => {
        c.step({ kind: 'message', message: t });
        c.step({ kind: 'message', message: genCast(t) });
        c.step({ kind: 'message', message: new Tuple([G.$gen_call, tuple(pid('a@h', 9), t), t]) });
        c.step({ kind: 'locker_message', message: t });
      }),
      { numRuns: 500 },
    );
  });
});

describe('global tables and resolve methods', () => {
  it('a name table replaces, deletes and indexes by pid', () => {
    const t = new NameTable();
    const p = pid('a@h', 1);
    expect(t.insert({ name: 'x', pid: p, method: RANDOM_EXIT_NAME })).toBeUndefined();
    // A string and its binary are one name.
    expect(t.get(Buffer.from('x'))?.pid).toBe(p);
    const q = pid('a@h', 2);
    expect(t.insert({ name: Buffer.from('x'), pid: q, method: RANDOM_EXIT_NAME })?.pid).toBe(p);
    expect(t.namesOf(p)).toEqual([]);
    expect(t.namesOf(q).map((r) => r.pid)).toEqual([q]);
    expect(t.delete('x')?.pid).toBe(q);
    expect(t.size).toBe(0);
  });

  it('a lock is shared by one requester id, refused to another, and goes with its last holder', () => {
    const l = new LockTable();
    const p1 = pid('a@h', 1);
    const p2 = pid('b@h', 2);
    const id = { resource: tuple(atom('r'), 1), requester: atom('req') };
    expect(l.set(id, p1)).toBe('added');
    expect(l.set(id, p1)).toBe('held');
    expect(l.set(id, p2)).toBe('added');
    expect(l.set({ resource: id.resource, requester: atom('other') }, p2)).toBe(false);
    expect(l.canSet({ resource: id.resource, requester: atom('other') })).toBe(false);
    // Only an exactly matching id is released.
    expect(l.remove({ resource: id.resource, requester: atom('other') }, p1)).toEqual({
      removed: false,
      deleted: false,
    });
    expect(l.remove(id, p1)).toEqual({ removed: true, deleted: false });
    expect(l.removePid(p2)).toEqual([id.resource]);
    expect(l.isSet(id.resource)).toBe(false);
  });

  it('minmax orders by node name; on one node the second pid is Min', () => {
    const a = pid('a@h', 9);
    const b = pid('b@h', 1);
    expect(minmax(a, b)).toEqual({ min: a, max: b });
    expect(minmax(b, a)).toEqual({ min: a, max: b });
    const a2 = pid('a@h', 10);
    expect(minmax(a, a2)).toEqual({ min: a2, max: a });
  });

  it('the built-in methods decide and act as OTP does', () => {
    const a = pid('a@h', 9);
    const b = pid('b@h', 1);
    expect(builtinMethod(RANDOM_EXIT_NAME)).toBe('random_exit');
    expect(builtinMethod(BEAM_DEFAULT_METHOD)).toBe('random_exit');
    expect(builtinMethod(RANDOM_NOTIFY_NAME)).toBe('random_notify');
    expect(builtinMethod(NOTIFY_ALL_NAME)).toBe('notify_all');
    expect(builtinMethod(new ExportFun(atom('lists'), atom('max'), 3))).toBeUndefined();
    expect(builtinMethod(tuple(G.global, G.random_exit_name))).toBeUndefined();
    expect(resolveBuiltin('random_exit', 'n', a, b)).toEqual({
      result: a,
      effects: [{ kind: 'exit', pid: b, reason: G.kill }],
    });
    expect(resolveBuiltin('random_notify', 'n', b, a)).toEqual({
      result: a,
      effects: [{ kind: 'send', pid: b, message: tuple(G.global_name_conflict, 'n') }],
    });
    const all = resolveBuiltin('notify_all', 'n', a, b);
    expect(all.result).toBe(G.none);
    expect(all.effects.map((e) => (e as { pid: Pid }).pid)).toEqual([a, b]);
  });

  it('random_sleep: uniform in [1, 125 * 2^n], 8 s from n = 6 on; the boss is the greatest name', () => {
    expect([0, 1, 2, 5, 6, 30].map(randomSleepMax)).toEqual([125, 250, 500, 4000, 8000, 8000]);
    const rng = new Prng(3);
    for (let i = 0; i < 200; i++) {
      const ms = randomSleepMs(rng, 0);
      expect(ms).toBeGreaterThanOrEqual(1);
      expect(ms).toBeLessThanOrEqual(125);
    }
    expect(theBoss([atom('a@h'), atom('ts@h'), atom('b@h')])).toBe(atom('ts@h'));
  });
});
