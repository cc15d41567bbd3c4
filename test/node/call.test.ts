/**
 * `call` on a process table: the gen_server protocol as OTP 25's gen:do_call speaks it, its
 * errors, and the promise that a late reply never reaches the caller's mailbox. Remote peers are
 * a RecordingRemote; the wire itself is covered by issue4-wire.test.ts and issue4-erl.test.ts.
 */

import { describe, expect, it } from 'vitest';
import { CallError } from '../../src/node/call.ts';
import { ProcessError } from '../../src/node/errors.ts';
import { type From, startServer } from '../../src/node/gen-server.ts';
import type { ProcessTable } from '../../src/node/process-table.ts';
import type { Signal } from '../../src/node/signals.ts';
import { atom, ImproperList, type Pid, Reference, type Term, Tuple } from '../../src/term/types.ts';
import { inProcess } from '../support/dist-helpers.ts';
import { NODE, probe, REMOTE, RecordingRemote, remotePid, setup, t } from './process-support.ts';

const a = atom;
const GEN_CALL = a('$gen_call');

/**
 * A server that answers `{echo, X}` with X, keeps `{later}` calls in `pending` (a cast answers
 * them all with the cast message), and stops on `{die, R}`.
 */
async function echoServer(table: ProcessTable, name?: string): Promise<{ pid: Pid; pending: From[] }> {
  const pending: From[] = [];
  const pid = await startServer<number>(
    table,
    {
      init: () => 0,
      handleCall: (request, from, n) => {
        const r = request as Tuple;
        switch (r.elements[0]) {
          case a('echo'):
            return { reply: r.elements[1] as Term, state: n + 1 };
          case a('later'):
            // Deferred: the test releases it with {release, Value}.
            pending.push(from);
            return { state: n };
          case a('die'):
            return { stop: r.elements[1] as Term, state: n };
          default:
            return { reply: a('what'), state: n };
        }
      },
      handleCast: (msg, n) => {
        for (const from of pending.splice(0)) from.reply(msg);
        return { state: n };
      },
    },
    name === undefined ? undefined : { name },
  );
  return { pid, pending };
}

describe('call to a local server', () => {
  it('returns the reply, by pid, by name (atom and string) and by [name, node]', async () => {
    const { table } = setup();
    const { pid: server } = await echoServer(table, 'echo_srv');
    const ping = t(a('echo'), 'hello');
    expect(await inProcess(table, (self) => self.call(server, ping))).toBe('hello');
    expect(await inProcess(table, (self) => self.call(a('echo_srv'), ping))).toBe('hello');
    expect(await inProcess(table, (self) => self.call([a('echo_srv'), NODE], ping))).toBe('hello');
    expect(await table.call('echo_srv', ping)).toBe('hello');
    expect(await table.call(server, t(a('echo'), 42))).toBe(42);
  });

  it('leaves nothing behind: no message, monitor or alias', async () => {
    const { table } = setup();
    const { pid: server } = await echoServer(table);
    const caller = await probe(table);
    expect(await caller.self.call(server, t(a('echo'), 1))).toBe(1);
    const info = table.info(caller.pid);
    expect(info?.messageQueueLen).toBe(0);
    expect(info?.monitors).toEqual([]);
    expect(table.info(server)?.monitoredBy).toEqual([]);
  });

  it('noproc for a dead pid, a free name, and a free [name, node()]', async () => {
    const { table } = setup();
    const { pid: server } = await echoServer(table);
    table.exit(server, a('kill'));
    const codes = await Promise.all([
      table.call(server, 1).catch((e: CallError) => e.code),
      table.call('nobody', 1).catch((e: CallError) => e.code),
      table.call([a('nobody'), NODE], 1).catch((e: CallError) => e.code),
    ]);
    expect(codes).toEqual(['noproc', 'noproc', 'noproc']);
    const error = await table.call('nobody', 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallError);
    expect(error).toMatchObject({ code: 'noproc', reason: a('noproc'), destination: a('nobody') });
  });

  it('exit with the reason when the server dies during the call', async () => {
    const { table } = setup();
    const { pid: server } = await echoServer(table);
    const error = (await table.call(server, t(a('die'), t(a('shutdown'), 7))).catch((e) => e)) as CallError;
    expect(error).toBeInstanceOf(CallError);
    expect(error.code).toBe('exit');
    expect(error.reason).toEqual(t(a('shutdown'), 7));
  });

  it('timeout, and a late reply never reaches the caller mailbox (the alias is gone)', async () => {
    const { table } = setup();
    const { pid: server } = await echoServer(table);
    const caller = await probe(table);
    const error = (await caller.self
      .call(server, t(a('later')), { timeoutMs: 30 })
      .catch((e) => e)) as CallError;
    expect(error).toBeInstanceOf(CallError);
    expect(error.code).toBe('timeout');
    expect(error.reason).toBe(a('timeout'));
    // Release the deferred reply, then prove it was processed: a second call is answered after it.
    table.send(server, new Tuple([a('$gen_cast'), a('late')]));
    expect(await caller.self.call(server, t(a('echo'), 'after'))).toBe('after');
    expect(caller.self.messageQueueLen).toBe(0);
    expect(table.info(caller.pid)?.monitors).toEqual([]);
  });

  it('a deferred reply arrives in time through From.reply', async () => {
    const { table } = setup();
    const { pid: server, pending } = await echoServer(table);
    const result = table.call(server, t(a('later')));
    // The request is queued at the server: release it.
    await inProcess(table, async (self) => {
      while (pending.length === 0) await self.call(server, t(a('echo'), 0));
    });
    table.send(server, new Tuple([a('$gen_cast'), a('released')]));
    expect(await result).toBe(a('released'));
  });

  it('calling_self, and bad timeouts', async () => {
    const { table } = setup();
    const error = await inProcess(table, (self) => self.call(self.pid, 1).catch((e: unknown) => e));
    expect(error).toMatchObject({ code: 'calling_self' });
    const { pid: server } = await echoServer(table);
    await expect(table.call(server, 1, { timeoutMs: -1 })).rejects.toThrow(ProcessError);
  });

  it('an AbortSignal cancels the wait', async () => {
    const { table } = setup();
    const { pid: server } = await echoServer(table);
    const controller = new AbortController();
    const result = table.call(server, t(a('later')), {
      timeoutMs: Number.POSITIVE_INFINITY,
      signal: controller.signal,
    });
    controller.abort(new Error('stop waiting'));
    await expect(result).rejects.toMatchObject({ code: 'aborted' });
  });
});

/** A RecordingRemote whose peer may lack ALIAS, or be unreachable. */
class Peer extends RecordingRemote {
  alias: boolean | undefined = true;
  connects = 0;
  refuse = false;
  aliasSupported(_node: Term): boolean | undefined {
    return this.alias;
  }
  connect(_node: Term): Promise<void> {
    this.connects++;
    if (this.refuse) return Promise.reject(new Error('no route'));
    if (this.alias === undefined) this.alias = true;
    return Promise.resolve();
  }
}

function peerSetup(): { table: ProcessTable; remote: Peer } {
  const remote = new Peer();
  const { table } = setup({ remote });
  return { table, remote };
}

/** Waits (by yielding) until the remote has been sent a message; returns it. */
async function sentMessage(
  remote: RecordingRemote,
): Promise<{ to: Pid | Term; signal: Extract<Signal, { kind: 'message' }> }> {
  for (let i = 0; i < 1000; i++) {
    const m = remote.ofKind('message')[0];
    if (m !== undefined) return m;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('no message was sent');
}

/** Yields until `pred` holds (at most 1000 turns of the event loop). */
async function eventually(pred: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !pred(); i++) await new Promise((r) => setImmediate(r));
  expect(pred()).toBe(true);
}

describe('call to a remote server', () => {
  it('speaks gen:do_call: MONITOR_P, {$gen_call, {Self, [alias|Mref]}, Req}, reply via the alias, DEMONITOR_P', async () => {
    const { table, remote } = peerSetup();
    const server = remotePid(5);
    const caller = await probe(table);
    const result = caller.self.call(server, a('hello'));
    const monitor = remote.ofKind('monitor')[0];
    expect(monitor?.to).toEqual(server);
    const mref = monitor?.signal.ref as Reference;
    const sent = await sentMessage(remote);
    expect(sent.to).toEqual(server);
    const tag = new ImproperList([a('alias')], mref);
    expect(sent.signal.message).toEqual(t(GEN_CALL, t(caller.pid, tag), a('hello')));
    // The server answers through the alias (ALIAS_SEND).
    expect(table.deliver(mref, { kind: 'message', from: server, message: t(tag, a('world')) })).toBe(true);
    expect(await result).toBe(a('world'));
    expect(remote.ofKind('demonitor')[0]?.signal.ref).toEqual(mref);
    // The alias is gone: a second reply is dropped.
    expect(table.deliver(mref, { kind: 'message', from: server, message: t(tag, a('again')) })).toBe(false);
    expect(caller.self.messageQueueLen).toBe(0);
  });

  it('by [name, node]: MONITOR_P and REG_SEND to the name', async () => {
    const { table, remote } = peerSetup();
    const result = table.call([a('srv'), REMOTE], a('q'));
    const sent = await sentMessage(remote);
    expect(sent.to).toBe(a('srv'));
    expect(remote.ofKind('monitor')[0]?.to).toBe(a('srv'));
    const mref = remote.ofKind('monitor')[0]?.signal.ref as Reference;
    table.deliver(mref, {
      kind: 'message',
      from: remotePid(1),
      message: t(new ImproperList([a('alias')], mref), 7),
    });
    expect(await result).toBe(7);
  });

  it('DOWN noconnection (the node went down) and DOWN noproc become their codes', async () => {
    const { table, remote } = peerSetup();
    const first = table.call(remotePid(5), a('q'));
    await sentMessage(remote);
    table.handleNodeDown(REMOTE);
    await expect(first).rejects.toMatchObject({ code: 'noconnection', reason: a('noconnection') });
    remote.sent.length = 0;
    const second = table.call([a('missing'), REMOTE], a('q'));
    await sentMessage(remote);
    const monitor = remote.ofKind('monitor')[0];
    const watcher = monitor?.signal.from as Pid;
    table.deliver(watcher, {
      kind: 'down',
      from: a('missing'),
      ref: monitor?.signal.ref as Reference,
      reason: a('noproc'),
    });
    await expect(second).rejects.toMatchObject({ code: 'noproc' });
  });

  it('connects first when not connected; noconnection when that fails', async () => {
    const { table, remote } = peerSetup();
    remote.alias = undefined;
    const ok = table.call(remotePid(5), a('q'));
    const sent = await sentMessage(remote);
    expect(remote.connects).toBe(1);
    const mref = remote.ofKind('monitor')[0]?.signal.ref as Reference;
    expect(((sent.signal.message as Tuple).elements[1] as Tuple).elements[1]).toEqual(
      new ImproperList([a('alias')], mref),
    );
    table.deliver(mref, { kind: 'message', message: t(new ImproperList([a('alias')], mref), 1) });
    expect(await ok).toBe(1);
    remote.alias = undefined;
    remote.refuse = true;
    await expect(table.call(remotePid(5), a('q'))).rejects.toMatchObject({ code: 'noconnection' });
  });

  it('without ALIAS: a plain reference tag, and a proxy process takes the late reply', async () => {
    const { table, remote } = peerSetup();
    remote.alias = false;
    const caller = await probe(table);
    const server = remotePid(5);
    const result = caller.self.call(server, a('q'), { timeoutMs: 50 }).catch((e: unknown) => e);
    const sent = await sentMessage(remote);
    const [, from] = (sent.signal.message as Tuple).elements as [Term, Tuple, Term];
    const [proxy, tag] = from.elements as [Pid, Term];
    expect(tag).toBeInstanceOf(Reference);
    // The proxy, not the caller, is the From: a late reply goes to it.
    expect(proxy).not.toEqual(caller.pid);
    expect(await result).toMatchObject({ code: 'timeout' });
    await eventually(() => !table.isAlive(proxy));
    table.send(proxy, t(tag, a('late')));
    expect(caller.self.messageQueueLen).toBe(0);
  });

  it('without ALIAS: the reply reaches the caller through the proxy', async () => {
    const { table, remote } = peerSetup();
    remote.alias = false;
    const server = remotePid(5);
    const result = table.call(server, a('q'));
    const sent = await sentMessage(remote);
    const from = (sent.signal.message as Tuple).elements[1] as Tuple;
    const [pid, tag] = from.elements as [Pid, Reference];
    expect(tag).toBeInstanceOf(Reference);
    table.send(pid, t(tag, a('answer')), server);
    expect(await result).toBe(a('answer'));
  });

  it('without ALIAS and an infinite timeout: a plain tag, no proxy (no late reply is possible)', async () => {
    const { table, remote } = peerSetup();
    remote.alias = false;
    const caller = await probe(table);
    const result = caller.self.call(remotePid(5), a('q'), { timeoutMs: Number.POSITIVE_INFINITY });
    const sent = await sentMessage(remote);
    const [pid, tag] = ((sent.signal.message as Tuple).elements[1] as Tuple).elements as [Pid, Reference];
    expect(pid).toEqual(caller.pid);
    table.send(pid, t(tag, 3));
    expect(await result).toBe(3);
  });
});
