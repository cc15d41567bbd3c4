/**
 * Processes against real OTP 25 `erl` nodes (issue 4's interop list): a TS process that throws,
 * links and trapped exits both ways, monitors by registered name and of killed processes,
 * `exit(P, kill)` both ways, `gen_server:call` in both directions (with timeouts, late replies and
 * servers dying mid-call), and an erl node killed with SIGKILL.
 *
 * The erl side is driven through test/support/erl-node.ts. Every expression runs inside a fun, so
 * erl_eval bindings never leak between evaluations; values that must outlive one evaluation are
 * kept in the evaluating process's dictionary (`put`/`get`).
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { CallError } from '../../src/node/call.ts';
import type { From } from '../../src/node/gen-server.ts';
import { Node } from '../../src/node/node.ts';
import type { NodeOptions } from '../../src/node/options.ts';
import type { ProcessContext } from '../../src/node/process.ts';
import { atom, encode, equals, type Pid, type Term, Tuple, tuple } from '../../src/term/index.ts';
import { inspect } from '../../src/term/inspect.ts';
import { inProcess, until } from '../support/dist-helpers.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { describeErl } from '../support/erl.ts';
import { type ErlNode, startErlNode, stopAllErlNodes } from '../support/erl-node.ts';

const COOKIE = 'issue4-cookie';
const TICK_SEC = 2;
const a = atom;

/** A tiny gen_server, compiled on the erl side. */
const SERVER_SRC = `
-module(issue4_srv).
-behaviour(gen_server).
-export([start/1, init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).
start(Name) -> gen_server:start({local, Name}, ?MODULE, [], []).
init([]) -> {ok, nostate}.
handle_call({echo, X}, _From, S) -> {reply, X, S};
handle_call({sleep, Ms, X}, _From, S) -> timer:sleep(Ms), {reply, X, S};
handle_call({die, R}, _From, S) -> {stop, R, S};
handle_call(tag, {_Pid, Tag}, S) -> {reply, Tag, S}.
handle_cast(_Msg, S) -> {noreply, S}.
handle_info(_Msg, S) -> {noreply, S}.
terminate(_Reason, _S) -> ok.
`;

/** Erlang source for a term made here (pids, references...). */
function lit(term: Term): string {
  return `binary_to_term(base64:decode("${encode(term).toString('base64')}"))`;
}

/** Resolves with the exit reason of `pid` (monitored from a fresh process). */
function exitReasonOf(node: Node, pid: Pid): Promise<Term> {
  return inProcess(node, async (self) => {
    const ref = self.monitor(pid);
    const down = (await self.receive({
      match: (m) => m instanceof Tuple && m.elements[1] === ref,
      timeoutMs: 10_000,
    })) as Tuple;
    return down.elements[4] as Term;
  });
}

describeErl('issue 4 interop with erl: links, monitors, exits, calls', () => {
  let epmd: EpmdProcess;
  let erl: ErlNode;
  const started: Node[] = [];
  let seq = 0;

  beforeAll(async () => {
    epmd = await startEpmd();
    erl = await startNode('i4erl');
    const dir = mkdtempSync(join(tmpdir(), 'issue4-'));
    const file = join(dir, 'issue4_srv.erl');
    writeFileSync(file, SERVER_SRC);
    await erl.eval(
      `(fun() -> {ok, M, B} = compile:file(${JSON.stringify(file)}, [binary, return_errors]), {module, M} = code:load_binary(M, ${JSON.stringify(file)}, B), ok end)()`,
    );
    await erl.eval('(fun() -> {ok, _} = issue4_srv:start(erlsrv), ok end)()');
  }, 60_000);
  afterEach(async () => {
    await Promise.all(started.splice(0).map((n) => n.stop()));
  });
  afterAll(async () => {
    await stopAllErlNodes();
    await epmd?.stop();
  });

  function startNode(name: string): Promise<ErlNode> {
    return startErlNode({
      name: `${name}@127.0.0.1`,
      cookie: COOKIE,
      epmdPort: epmd.port,
      netTicktimeSec: TICK_SEC,
    });
  }

  async function tsNode(opts: Partial<NodeOptions> = {}): Promise<Node> {
    const node = await Node.start({
      name: `i4ts${++seq}@127.0.0.1`,
      cookie: COOKIE,
      epmd: 'external',
      epmdPort: epmd.port,
      netTicktimeMs: TICK_SEC * 1000,
      ...opts,
    });
    started.push(node);
    expect(await node.ping(erl.name)).toBe('pong');
    return node;
  }

  /** Evaluates a body inside a fun on the erl node. */
  function erlDo(body: string, timeoutMs?: number): Promise<Term> {
    return erl.eval(`(fun() -> ${body} end)()`, timeoutMs);
  }

  it('erl links to a TS process that throws: erl sees {js_error, #{name, message, stack}}', async () => {
    const ts = await tsNode();
    const thrower = ts.spawn(async (self) => {
      await self.receive({ match: (m) => m === a('throw') });
      throw new TypeError('the widget is not a function');
    });
    await erlDo(`Self = self(), put(watcher, spawn(fun() ->
        process_flag(trap_exit, true), link(${lit(thrower)}), Self ! linked,
        receive {'EXIT', _, R} -> Self ! {exit_reason, R} end end)),
      receive linked -> ok after 5000 -> timeout end`);
    await until(() => ts.processes.info(thrower)?.links.length === 1, 5000, 'linked');
    ts.send(thrower, a('throw'));
    const seen = await erlDo(`receive {exit_reason, {js_error, #{name := N, message := M, stack := S}}} ->
        {N, M, is_list(S) andalso length(S) > 0 andalso is_binary(hd(S))}
      after 5000 -> timeout end`);
    expect(seen).toEqual(tuple(Buffer.from('TypeError'), Buffer.from('the widget is not a function'), true));
  });

  it('a TS process traps exits of erl processes (normal, {shutdown, _}); an erl link kills an untrapping TS process', async () => {
    const ts = await tsNode();
    const erlPids = (await erlDo(`
      P1 = spawn(fun() -> receive go -> exit(normal) end end),
      P2 = spawn(fun() -> receive go -> exit({shutdown, done}) end end),
      put(p1, P1), put(p2, P2), [P1, P2]`)) as Pid[];
    const trapped = inProcess(ts, async (self) => {
      self.trapExit(true);
      for (const p of erlPids) self.link(p);
      for (const p of erlPids) self.send(p, a('go'));
      return [await self.receive({ timeoutMs: 10_000 }), await self.receive({ timeoutMs: 10_000 })];
    });
    expect(await trapped).toEqual(
      expect.arrayContaining([
        tuple(a('EXIT'), erlPids[0] as Pid, a('normal')),
        tuple(a('EXIT'), erlPids[1] as Pid, tuple(a('shutdown'), a('done'))),
      ]),
    );
    // erl links to a TS process that does not trap exits, then dies with a reason: the TS process dies with it.
    const victim = ts.spawn(async (self) => {
      await self.receive();
    });
    const reason = exitReasonOf(ts, victim);
    await erlDo(`Self = self(), spawn(fun() -> link(${lit(victim)}), Self ! linked, receive go -> exit(crashed) end end) ! go,
      receive linked -> ok end`);
    expect(await reason).toBe(a('crashed'));
  });

  it('erl monitors a TS process by registered name: {DOWN, Ref, process, {Name, Node}, Reason}', async () => {
    const ts = await tsNode();
    const named = ts.spawn(
      async (self) => {
        await self.receive({ match: (m) => m === a('stop') });
        self.exit(a('finished'));
      },
      { name: a('ts_named') },
    );
    await erlDo(`put(mref, monitor(process, {ts_named, '${ts.name}'})), ok`);
    await until(() => ts.processes.info(named)?.monitoredBy.length === 1, 5000, 'monitored');
    ts.send(named, a('stop'));
    const down = await erlDo(
      `Mref = get(mref), receive {'DOWN', Mref, process, Who, R} -> {Who, R} after 5000 -> timeout end`,
    );
    expect(down).toEqual(tuple(tuple(a('ts_named'), a(ts.name)), a('finished')));
    // A name nobody holds: noproc at once.
    const noproc = await erlDo(`Ref = monitor(process, {nobody_here, '${ts.name}'}),
      receive {'DOWN', Ref, process, Who, R} -> {Who, R} after 5000 -> timeout end`);
    expect(noproc).toEqual(tuple(tuple(a('nobody_here'), a(ts.name)), a('noproc')));
  });

  it('TS monitors an erl process that is killed, by pid and by name: DOWN killed', async () => {
    const ts = await tsNode();
    const target = (await erlDo(
      `P = spawn(fun() -> receive after infinity -> ok end end), register(i4_sleeper, P), P`,
    )) as Pid;
    // The TS process tells i4_ready once its monitors are out (signals to one node keep their order).
    await erlDo('register(i4_ready, self()), ok');
    const downs = inProcess(ts, async (self) => {
      const byPid = self.monitor(target);
      const byName = self.monitor([a('i4_sleeper'), erl.name]);
      self.send([a('i4_ready'), erl.name], a('monitoring'));
      const out: Term[] = [];
      for (const ref of [byPid, byName]) {
        const d = (await self.receive({
          match: (m) => m instanceof Tuple && m.elements[1] === ref,
          timeoutMs: 10_000,
        })) as Tuple;
        out.push(tuple(d.elements[3] as Term, d.elements[4] as Term));
      }
      return out;
    });
    expect(await erlDo('receive monitoring -> unregister(i4_ready), ok after 5000 -> timeout end')).toBe(
      a('ok'),
    );
    await erlDo(`exit(whereis(i4_sleeper), kill), ok`);
    expect(await downs).toEqual([
      tuple(target, a('killed')),
      tuple(tuple(a('i4_sleeper'), a(erl.name)), a('killed')),
    ]);
  });

  it('exit(P, kill) both ways: untrappable, seen as killed', async () => {
    const ts = await tsNode();
    // TS -> erl: a trapping erl process dies killed.
    const erlVictim =
      (await erlDo(`P = spawn(fun() -> process_flag(trap_exit, true), receive after infinity -> ok end end),
      put(victim_ref, monitor(process, P)), P`)) as Pid;
    await inProcess(ts, async (self) => self.sendExit(erlVictim, a('kill')));
    expect(
      await erlDo(
        `Ref = get(victim_ref), receive {'DOWN', Ref, process, _, R} -> R after 5000 -> timeout end`,
      ),
    ).toBe(a('killed'));
    // erl -> TS: a trapping TS process dies killed; a trapped exit/2 with another reason is a message.
    const messages: Term[] = [];
    const tsVictim = ts.spawn(async (self) => {
      self.trapExit(true);
      for (;;) messages.push(await self.receive());
    });
    const reason = exitReasonOf(ts, tsVictim);
    await erlDo(`exit(${lit(tsVictim)}, soft), ok`);
    await until(() => messages.length === 1, 5000, 'trapped exit/2');
    expect((messages[0] as Tuple).elements[0]).toBe(a('EXIT'));
    expect((messages[0] as Tuple).elements[2]).toBe(a('soft'));
    await erlDo(`exit(${lit(tsVictim)}, kill), ok`);
    expect(await reason).toBe(a('killed'));
  });

  it('TS calls an erl gen_server: by pid and {Name, Node}; noproc; timeout with the late reply dropped; a server dying mid-call', async () => {
    const ts = await tsNode();
    const srv = a('erlsrv');
    const target = [srv, a(erl.name)] as const;
    expect(await ts.call(target, tuple(a('echo'), 'hi'))).toEqual(Buffer.from('hi'));
    const pid = (await erlDo('whereis(erlsrv)')) as Pid;
    expect(await ts.call(pid, tuple(a('echo'), 42))).toBe(42);
    // The tag the erl server saw: [alias | Ref] (ALIAS is negotiated with OTP 25).
    const tag = await ts.call(target, a('tag'));
    expect(tag).toMatchObject({ elements: [a('alias')] });
    await expect(ts.call([a('no_such_srv'), erl.name], 1)).rejects.toMatchObject({ code: 'noproc' });
    // Timeout: the server answers after the caller gave up; the reply never reaches its mailbox.
    const late = await inProcess(ts, async (self) => {
      const error = await self
        .call(target, tuple(a('sleep'), 600, a('late')), { timeoutMs: 100 })
        .catch((e: unknown) => e);
      // The server handles calls in order: once this is answered, the late reply was sent (and dropped).
      const after = await self.call(target, tuple(a('echo'), a('after')));
      return { error, after, queued: self.messageQueueLen };
    });
    expect(late.error).toBeInstanceOf(CallError);
    expect((late.error as CallError).code).toBe('timeout');
    expect(late.after).toBe(a('after'));
    expect(late.queued).toBe(0);
    // A server that dies mid-call: exit with its reason.
    await erlDo('(catch issue4_srv:start(erlsrv_dies)), ok');
    const error = (await ts
      .call([a('erlsrv_dies'), erl.name], tuple(a('die'), a('on_purpose')))
      .catch((e) => e)) as CallError;
    expect(error).toBeInstanceOf(CallError);
    expect(error.code).toBe('exit');
    expect(error.reason).toBe(a('on_purpose'));
  });

  it('erl calls a TS server with gen_server:call/cast: by pid and {Name, Node}; timeout; a server dying mid-call; gen_server:stop', async () => {
    const ts = await tsNode();
    const held: From[] = [];
    const terminated: Term[] = [];
    const server = await ts.spawnServer<number>(
      {
        init: () => 0,
        handleCall: (request, from, n) => {
          const r = request as Tuple;
          if (r.elements[0] === a('add'))
            return { reply: n + (r.elements[1] as number), state: n + (r.elements[1] as number) };
          if (r.elements[0] === a('hold')) {
            held.push(from);
            return { state: n };
          }
          if (r.elements[0] === a('crash')) throw new RangeError('mid-call');
          return { reply: a('unknown'), state: n };
        },
        handleCast: (msg, n) => ({
          state: (msg as Tuple).elements[0] === a('set') ? ((msg as Tuple).elements[1] as number) : n,
        }),
        terminate: (reason) => {
          terminated.push(reason);
        },
      },
      { name: 'tssrv' },
    );
    const dest = `{tssrv, '${ts.name}'}`;
    expect(await erlDo(`gen_server:call(${dest}, {add, 2})`)).toBe(2);
    expect(await erlDo(`gen_server:call(${lit(server)}, {add, 3})`)).toBe(5);
    await erlDo(`gen_server:cast(${dest}, {set, 100}), ok`);
    expect(await erlDo(`gen_server:call(${dest}, {add, 1})`)).toBe(101);
    // multi_call: the {Ref, Node} tag form, answered to the pid.
    expect(await erlDo(`gen_server:multi_call(['${ts.name}'], tssrv, {add, 0})`)).toEqual(
      tuple([tuple(a(ts.name), 101)], []),
    );
    // A call to a name the TS node does not have: noproc.
    expect(await erlDo(`catch gen_server:call({nobody, '${ts.name}'}, x)`)).toMatchObject({
      elements: [a('EXIT'), tuple(a('noproc'), expect.anything())],
    });
    // Timeout: the TS server holds the call; erl gives up; the late reply is dropped by erl.
    const timeout = await erlDo(`catch gen_server:call(${dest}, {hold}, 200)`);
    expect((timeout as Tuple).elements[1]).toMatchObject({ elements: [a('timeout'), expect.anything()] });
    await until(() => held.length === 1, 5000, 'held');
    held[0]?.reply(a('too_late'));
    expect(await erlDo(`gen_server:call(${dest}, {add, 0})`)).toBe(101);
    expect(await erlDo('receive M -> {unexpected, M} after 100 -> none end')).toBe(a('none'));
    // A server dying mid-call: the caller exits with the server's reason.
    const crash = (await erlDo(`catch gen_server:call(${dest}, {crash})`)) as Tuple;
    const [reason] = ((crash.elements[1] as Tuple).elements as Term[]) ?? [];
    expect((reason as Tuple).elements[0]).toBe(a('js_error'));
    expect(terminated).toHaveLength(1);
    expect((terminated[0] as Tuple).elements[0]).toBe(a('js_error'));
    // gen_server:stop: terminate runs with the reason.
    const second = await ts.spawnServer<null>(
      { init: () => null, terminate: (r) => void terminated.push(r) },
      { name: 'tssrv2' },
    );
    expect(await erlDo(`gen_server:stop(${lit(second)}, normal, 5000)`)).toBe(a('ok'));
    expect(terminated[1]).toBe(a('normal'));
  });

  it('an erl node killed with SIGKILL gives noconnection to every TS link and monitor, and nodedown to node monitors', async () => {
    const doomed = await startNode(`i4doomed${seq}`);
    const ts = await tsNode();
    expect(await ts.ping(doomed.name)).toBe('pong');
    const [p1, p2] = (await doomed.eval(
      '(fun() -> F = fun() -> receive after infinity -> ok end end, P = spawn(F), register(doomed_named, spawn(F)), [P, whereis(doomed_named)] end)()',
    )) as Pid[];
    const erlNodeAtom = a(doomed.name);
    const seen: Term[] = [];
    let ready = 0;
    const watcher = (setupFn: (self: ProcessContext) => void): void => {
      ts.spawn(async (self) => {
        setupFn(self);
        ready++;
        seen.push(await self.receive({ timeoutMs: 20_000 }));
      });
    };
    watcher((self) => {
      self.trapExit(true);
      self.link(p1 as Pid);
    });
    watcher((self) => void self.monitor(p1 as Pid));
    watcher((self) => void self.monitor(p2 as Pid));
    watcher((self) => void self.monitor([a('doomed_named'), erlNodeAtom]));
    watcher((self) => self.monitorNode(erlNodeAtom));
    const untrapped = ts.spawn(async (self) => {
      self.link(p2 as Pid);
      await self.receive();
    });
    const untrappedReason = exitReasonOf(ts, untrapped);
    await until(() => ready === 5, 5000, 'watchers');
    // The links and monitors are in place on the erl side before the kill.
    // {links of p1, links of p2, monitors of p2 (by pid and by name)}.
    const counts = (): Promise<Term> =>
      doomed.eval(
        `(fun() -> {links, L} = process_info(${lit(p1 as Pid)}, links), {links, L2} = process_info(${lit(p2 as Pid)}, links), {monitored_by, M} = process_info(${lit(p2 as Pid)}, monitored_by), {length(L), length(L2), length(M)} end)()`,
      );
    await until(async () => equals(await counts(), tuple(1, 1, 2)), 5000, 'erl side links').catch(
      async (e: Error) => {
        throw new Error(`${e.message}: ${inspect(await counts())}`);
      },
    );
    await doomed.kill('SIGKILL');
    await until(() => seen.length === 5, TICK_SEC * 1000 * 3, 'five notices');
    expect(seen).toEqual(
      expect.arrayContaining([
        tuple(a('EXIT'), p1 as Pid, a('noconnection')),
        tuple(a('nodedown'), erlNodeAtom),
        expect.objectContaining({
          elements: [a('DOWN'), expect.anything(), a('process'), p1, a('noconnection')],
        }),
        expect.objectContaining({
          elements: [a('DOWN'), expect.anything(), a('process'), p2, a('noconnection')],
        }),
        expect.objectContaining({
          elements: [
            a('DOWN'),
            expect.anything(),
            a('process'),
            tuple(a('doomed_named'), erlNodeAtom),
            a('noconnection'),
          ],
        }),
      ]),
    );
    expect(await untrappedReason).toBe(a('noconnection'));
  });
});
