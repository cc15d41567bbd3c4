/**
 * The gen_server-compatible server behaviour on a process table: callbacks and their results,
 * deferred replies, stop and terminate, the reply routing of OTP's gen:reply/2 for every tag form,
 * the sys messages gen_server:stop and sys:get_state send, and start failures.
 */

import { describe, expect, it } from 'vitest';
import { ProcessError } from '../../src/node/errors.ts';
import {
  cast,
  type From,
  replyDestination,
  type ServerSpec,
  ServerStartError,
  startServer,
} from '../../src/node/gen-server.ts';
import type { ProcessTable } from '../../src/node/process-table.ts';
import { atom, ImproperList, type Pid, type Term, type Tuple } from '../../src/term/types.ts';
import { isDown, probe, REMOTE, remotePid, remoteRef, setup, t } from './process-support.ts';

const a = atom;
const GEN_CALL = a('$gen_call');
const GEN_CAST = a('$gen_cast');
const SYSTEM = a('system');

interface Recorder {
  readonly events: Term[];
}

/** A counter server that records its callbacks in `rec.events`. */
function counter(rec: Recorder): ServerSpec<number> {
  return {
    init: () => {
      rec.events.push(a('init'));
      return 0;
    },
    handleCall: (request, _from, n) => {
      if (request === a('get')) return { reply: n, state: n };
      if (request === a('incr')) return { reply: n + 1, state: n + 1 };
      if (request === a('stop')) return { stop: a('normal'), reply: a('bye'), state: n };
      if (request === a('crash')) throw new TypeError('bad request');
      return { reply: t(a('unknown'), request), state: n };
    },
    handleCast: (msg, n) => {
      if (msg === a('reset')) return { state: 0 };
      if (msg === a('halt')) return { stop: t(a('shutdown'), a('halted')), state: n };
      return { state: n };
    },
    handleInfo: (msg, n) => {
      rec.events.push(t(a('info'), msg));
      return { state: n };
    },
    terminate: (reason, n) => {
      rec.events.push(t(a('terminate'), reason, n));
    },
  };
}

/** Spawns a probe monitoring `pid` and returns a function resolving with the exit reason. */
async function exitReason(table: ProcessTable, pid: Pid): Promise<() => Promise<Term>> {
  const watcher = await probe(table);
  const ref = watcher.self.monitor(pid);
  return async () =>
    ((await watcher.self.receive({ match: isDown(ref), timeoutMs: 2000 })) as Tuple).elements[4] as Term;
}

describe('server callbacks', () => {
  it('init, handleCall, handleCast and handleInfo keep the state; calls by pid and name', async () => {
    const rec: Recorder = { events: [] };
    const { table } = setup();
    const pid = await startServer(table, counter(rec), { name: 'counter' });
    expect(rec.events).toEqual([a('init')]);
    expect(table.whereis(a('counter'))).toEqual(pid);
    expect(await table.call(pid, a('incr'))).toBe(1);
    expect(await table.call('counter', a('incr'))).toBe(2);
    cast(table, pid, a('reset'));
    expect(await table.call(pid, a('get'))).toBe(0);
    table.send(pid, a('hello'));
    expect(await table.call(pid, a('get'))).toBe(0);
    expect(rec.events).toEqual([a('init'), t(a('info'), a('hello'))]);
  });

  it('stop with a reply: the caller gets it, terminate runs, the process exits with the reason', async () => {
    const rec: Recorder = { events: [] };
    const { table } = setup();
    const pid = await startServer(table, counter(rec));
    await table.call(pid, a('incr'));
    const reason = await exitReason(table, pid);
    expect(await table.call(pid, a('stop'))).toBe(a('bye'));
    expect(await reason()).toBe(a('normal'));
    expect(rec.events.at(-1)).toEqual(t(a('terminate'), a('normal'), 1));
  });

  it('a cast that stops: terminate with the reason', async () => {
    const rec: Recorder = { events: [] };
    const { table } = setup();
    const pid = await startServer(table, counter(rec));
    const reason = await exitReason(table, pid);
    cast(table, pid, a('halt'));
    expect(await reason()).toEqual(t(a('shutdown'), a('halted')));
    expect(rec.events.at(-1)).toEqual(t(a('terminate'), t(a('shutdown'), a('halted')), 0));
  });

  it('a callback that throws: terminate with {js_error, ...}, the caller gets exit with that reason', async () => {
    const rec: Recorder = { events: [] };
    const { table, logger } = setup();
    const pid = await startServer(table, counter(rec));
    const error = (await table.call(pid, a('crash')).catch((e: unknown) => e)) as {
      code: string;
      reason: Tuple;
    };
    expect(error.code).toBe('exit');
    expect(error.reason.elements[0]).toBe(a('js_error'));
    const last = rec.events.at(-1) as Tuple;
    expect(last.elements[0]).toBe(a('terminate'));
    expect(last.elements[1]).toEqual(error.reason);
    expect(logger.entries.some((e) => e.level === 'error')).toBe(true);
  });

  it('a missing handleCall or handleCast stops the server with {bad_call, R} / {bad_cast, M}', async () => {
    const { table } = setup();
    const noCalls = await startServer(table, { init: () => null });
    const r1 = await exitReason(table, noCalls);
    await expect(table.call(noCalls, a('x'))).rejects.toMatchObject({
      code: 'exit',
      reason: t(a('bad_call'), a('x')),
    });
    expect(await r1()).toEqual(t(a('bad_call'), a('x')));
    const noCasts = await startServer(table, { init: () => null });
    const r2 = await exitReason(table, noCasts);
    cast(table, noCasts, a('y'));
    expect(await r2()).toEqual(t(a('bad_cast'), a('y')));
    // Without handleInfo, plain messages are dropped and the server lives on.
    const quiet = await startServer(table, {
      init: () => 5,
      handleCall: (_r, _f, s) => ({ reply: s, state: s }),
    });
    table.send(quiet, a('noise'));
    expect(await table.call(quiet, a('get'))).toBe(5);
  });

  it('a result without a state is a crash, not a silent loss of state', async () => {
    const { table } = setup();
    const pid = await startServer<number>(table, {
      init: () => 1,
      handleCall: () => ({ reply: 1 }) as unknown as { state: number },
    });
    await expect(table.call(pid, a('x'))).rejects.toMatchObject({ code: 'exit' });
  });

  it('async callbacks are awaited, one message at a time', async () => {
    const { table } = setup();
    const order: number[] = [];
    const pid = await startServer<number>(table, {
      init: async () => 0,
      handleCall: async (request, _from, n) => {
        await new Promise((r) => setImmediate(r));
        order.push(request as number);
        return { reply: n + (request as number), state: n + (request as number) };
      },
    });
    const results = await Promise.all([table.call(pid, 1), table.call(pid, 2), table.call(pid, 3)]);
    expect(results.sort()).toEqual([1, 3, 6].sort());
    expect(order).toHaveLength(3);
  });

  it('deferred replies: handleCall keeps From, another process answers later (gen_server:reply)', async () => {
    const { table } = setup();
    const waiting: From[] = [];
    const pid = await startServer<null>(table, {
      init: () => null,
      handleCall: (_request, from, state) => {
        waiting.push(from);
        return { state };
      },
    });
    const answer = table.call(pid, a('q'));
    const helper = await probe(table);
    while (waiting.length === 0) await helper.self.receive({ timeoutMs: 1 }).catch(() => undefined);
    expect(waiting[0]?.pid).toBeDefined();
    waiting[0]?.reply(a('from_elsewhere'));
    expect(await answer).toBe(a('from_elsewhere'));
  });
});

describe('start', () => {
  it('init failure rejects with ServerStartError (code init_failed, reason of the exit)', async () => {
    const { table } = setup();
    const error = await startServer(table, {
      init: () => {
        throw new RangeError('no config');
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerStartError);
    const e = error as ServerStartError;
    expect(e.code).toBe('init_failed');
    expect((e.reason as Tuple).elements[0]).toBe(a('js_error'));
    expect((e.cause as Error).message).toBe('no config');
  });

  it('a taken name rejects with ProcessError name_taken', async () => {
    const { table } = setup();
    await startServer(table, { init: () => 0 }, { name: 'taken' });
    await expect(startServer(table, { init: () => 0 }, { name: 'taken' })).rejects.toBeInstanceOf(
      ProcessError,
    );
  });

  it('linked and trapping exits: the parent exit stops the server through terminate', async () => {
    const rec: Recorder = { events: [] };
    const { table } = setup();
    const parent = await probe(table);
    const pid = await startServer(table, counter(rec), { link: parent.pid, trapExit: true });
    const reason = await exitReason(table, pid);
    table.exit(parent.pid, a('boom'));
    expect(await reason()).toBe(a('boom'));
    expect(rec.events.at(-1)).toEqual(t(a('terminate'), a('boom'), 0));
  });

  it('an exit signal that is not trapped kills without terminate (as on the BEAM)', async () => {
    const rec: Recorder = { events: [] };
    const { table } = setup();
    const pid = await startServer(table, counter(rec));
    const reason = await exitReason(table, pid);
    table.exit(pid, a('kill'));
    expect(await reason()).toBe(a('killed'));
    expect(rec.events).toEqual([a('init')]);
  });
});

describe('replies go where gen:reply/2 sends them', () => {
  const pid = remotePid(9);
  const ref = remoteRef(4);
  const alias = new ImproperList([a('alias')], ref);

  it.each<[string, Term, 'alias' | 'pid']>([
    ['[alias | Ref]', alias, 'alias'],
    ['[[alias | Ref] | Extra] (improper)', new ImproperList([alias], a('extra')), 'alias'],
    ['[[alias | Ref] | Extra] (proper)', [alias, a('extra')], 'alias'],
    ['a plain reference', ref, 'pid'],
    ['{Ref, Node} (multi_call)', t(ref, REMOTE), 'pid'],
    ['[alias | not a ref]', new ImproperList([a('alias')], 1), 'pid'],
    ['[x | Ref]', new ImproperList([a('x')], ref), 'pid'],
  ])('%s', (_name, tag, where) => {
    expect(replyDestination(pid, tag)).toEqual(where === 'alias' ? ref : pid);
  });

  it('a remote caller gets {Tag, Reply} at the alias or the pid, from the server', async () => {
    const { table, remote } = setup();
    const server = await startServer(table, {
      init: () => null,
      handleCall: (request, _from, state) => ({ reply: t(a('re'), request), state }),
    });
    const tags: Term[] = [alias, new ImproperList([alias], a('x')), t(ref, REMOTE), ref];
    for (const tag of tags)
      table.deliver(server, { kind: 'message', from: pid, message: t(GEN_CALL, t(pid, tag), 1) });
    const replies = await new Promise<ReturnType<typeof remote.ofKind<'message'>>>((resolve) => {
      const check = (): void => {
        const sent = remote.ofKind('message');
        if (sent.length >= tags.length) resolve(sent);
        else setImmediate(check);
      };
      check();
    });
    expect(replies.map((r) => r.to)).toEqual([ref, ref, pid, pid]);
    expect(replies.map((r) => r.signal.message)).toEqual(tags.map((tag) => t(tag, t(a('re'), 1))));
    expect(replies.every((r) => r.signal.from !== undefined && r.signal.from === server)).toBe(true);
  });
});

describe('sys messages (gen_server:stop, sys:get_state)', () => {
  it('get_state answers the state; {terminate, R} answers ok, runs terminate and exits with R', async () => {
    const rec: Recorder = { events: [] };
    const { table } = setup();
    const pid = await startServer(table, counter(rec));
    await table.call(pid, a('incr'));
    const caller = await probe(table);
    const mref = table.makeRef();
    caller.self.send(pid, t(SYSTEM, t(caller.pid, mref), a('get_state')));
    expect(await caller.self.receive({ timeoutMs: 2000 })).toEqual(t(mref, 1));
    caller.self.send(pid, t(SYSTEM, t(caller.pid, mref), a('suspend')));
    expect(await caller.self.receive({ timeoutMs: 2000 })).toEqual(
      t(mref, t(a('error'), t(a('unknown_system_msg'), a('suspend')))),
    );
    const reason = await exitReason(table, pid);
    caller.self.send(pid, t(SYSTEM, t(caller.pid, mref), t(a('terminate'), a('normal'))));
    expect(await caller.self.receive({ timeoutMs: 2000 })).toEqual(t(mref, a('ok')));
    expect(await reason()).toBe(a('normal'));
    expect(rec.events.at(-1)).toEqual(t(a('terminate'), a('normal'), 1));
  });

  it('cast to a free local name is dropped silently, as gen_server:cast', async () => {
    const { table } = setup();
    expect(() => cast(table, a('nobody'), a('x'))).not.toThrow();
    const p = await probe(table);
    cast(p.self, p.pid, a('m'));
    expect(await p.self.receive({ timeoutMs: 0 })).toEqual(t(GEN_CAST, a('m')));
  });
});
