import { describe, expect, it } from 'vitest';
import {
  ExitSignal,
  isExitSignal,
  ProcessError,
  ReceiveAbortedError,
  ReceiveTimeoutError,
} from '../../src/node/errors.ts';
import type { ProcessContext } from '../../src/node/process.ts';
import { ProcessTable } from '../../src/node/process-table.ts';
import type { TypedPid } from '../../src/node/signals.ts';
import { atom, atoms, Pid, type Term, Tuple } from '../../src/term/types.ts';
import {
  NODE,
  probe,
  REMOTE,
  RecordingRemote,
  remotePid,
  setup,
  spawnWatched,
  t,
  watch,
} from './process-support.ts';

const a = atom;

describe('spawn and pids', () => {
  it('returns a local pid before the process runs, then runs it', async () => {
    const { table } = setup();
    let ran = false;
    let seen: Pid | undefined;
    const watcher = await probe(table);
    const ref = table.makeRef();
    const pid = table.spawn(
      (self) => {
        ran = true;
        seen = self.pid;
      },
      { monitor: { watcher: watcher.pid, ref } },
    );
    expect(ran).toBe(false);
    expect(pid.node).toBe(NODE);
    expect(pid.creation).toBe(7);
    expect(table.isAlive(pid)).toBe(true);
    const down = await watcher.self.receive({ timeoutMs: 1000 });
    expect(down).toEqual(t(a('DOWN'), ref, a('process'), pid, atoms.normal));
    expect(ran).toBe(true);
    expect(seen).toBe(pid);
    expect(table.isAlive(pid)).toBe(false);
  });

  it('gives unique pids that fit the classic 15-bit id / 13-bit serial layout', () => {
    const { table } = setup();
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const pid = table.spawn(() => new Promise(() => {}));
      expect(pid.id).toBeLessThan(0x8000);
      expect(pid.serial).toBeLessThan(0x2000);
      seen.add(`${pid.id}.${pid.serial}`);
    }
    expect(seen.size).toBe(5000);
    expect(table.count).toBe(5000);
    table.stopAll(atom('shutdown'));
    expect(table.count).toBe(0);
  });

  it('does not reuse the number of a live process after wrapping', () => {
    const { table } = setup();
    const first = table.spawn(() => new Promise(() => {}));
    // Many short-lived spawns: numbers advance, the live one is never handed out again.
    for (let i = 0; i < 40000; i++) {
      const p = table.spawn(() => undefined);
      expect(p.id === first.id && p.serial === first.serial).toBe(false);
      table.exit(p, atoms.kill);
    }
    expect(table.isAlive(first)).toBe(true);
  });

  it('rejects a non-function and spawns after stopAll', () => {
    const { table } = setup();
    expect(() => table.spawn(42 as never)).toThrow(TypeError);
    table.stopAll(atoms.normal);
    expect(() => table.spawn(() => undefined)).toThrow(expect.objectContaining({ code: 'stopped' }));
  });

  it('keeps tables independent (no module state)', async () => {
    const one = setup();
    const two = setup();
    const p1 = await probe(one.table);
    const p2 = await probe(two.table);
    expect(p1.pid).toEqual(p2.pid);
    p1.self.register(a('same'));
    p2.self.register(a('same'));
    two.table.send(a('same'), 'to two');
    expect(p1.self.messageQueueLen).toBe(0);
    expect(await p2.self.receive()).toBe('to two');
  });
});

describe('exit reasons', () => {
  it('exits normal when the function returns (sync or async)', async () => {
    const { table } = setup();
    const w1 = await spawnWatched(table, () => 42);
    const w2 = await spawnWatched(table, async () => {
      await Promise.resolve();
    });
    expect(await w1.reason()).toBe(atoms.normal);
    expect(await w2.reason()).toBe(atoms.normal);
  });

  it('exits {js_error, #{name, message, stack}} when the function throws, and logs it', async () => {
    const { table, logger } = setup();
    const w = await spawnWatched(table, () => {
      throw new TypeError('bad thing');
    });
    const reason = (await w.reason()) as Tuple;
    expect(reason.elements[0]).toBe(a('js_error'));
    const info = reason.elements[1] as Map<Term, Term>;
    expect(info.get(a('name'))).toBe('TypeError');
    expect(info.get(a('message'))).toBe('bad thing');
    const stack = info.get(a('stack')) as string[];
    expect(Array.isArray(stack)).toBe(true);
    expect(stack.length).toBeGreaterThan(0);
    expect(stack[0]).toMatch(/^at /);
    expect(logger.entries.some((e) => e.level === 'error' && e.message === 'process crashed')).toBe(true);
  });

  it('keeps a string code and the cause chain', async () => {
    const { table } = setup();
    const w = await spawnWatched(table, () => {
      const error = new Error('outer', { cause: new RangeError('inner') });
      (error as Error & { code: string }).code = 'E_OUTER';
      throw error;
    });
    const info = ((await w.reason()) as Tuple).elements[1] as Map<Term, Term>;
    expect(info.get(a('code'))).toBe('E_OUTER');
    const cause = info.get(a('cause')) as Tuple;
    expect(cause.elements[0]).toBe(a('js_error'));
    expect((cause.elements[1] as Map<Term, Term>).get(a('name'))).toBe('RangeError');
  });

  it('exits {nocatch, Value} for a thrown non-Error', async () => {
    const { table } = setup();
    const w1 = await spawnWatched(table, () => {
      throw t(a('oops'), 1);
    });
    const w2 = await spawnWatched(table, () => {
      throw { fn: () => 1 };
    });
    const w3 = await spawnWatched(table, () => {
      throw undefined;
    });
    expect(await w1.reason()).toEqual(t(a('nocatch'), t(a('oops'), 1)));
    expect(await w2.reason()).toEqual(t(a('nocatch'), '[object Object]'));
    expect(await w3.reason()).toEqual(t(a('nocatch'), atoms.undefined));
  });

  it('self.exit(reason) exits with exactly that reason, even when caught', async () => {
    const { table } = setup();
    let after: unknown;
    const w = await spawnWatched(table, async (self) => {
      try {
        self.exit(t(a('shutdown'), 'bye'));
      } catch (error) {
        after = error;
      }
      // The process is dead: operations throw the ExitSignal again.
      self.send(self.pid, 'x');
    });
    expect(await w.reason()).toEqual(t(a('shutdown'), 'bye'));
    expect(isExitSignal(after)).toBe(true);
    expect((after as ExitSignal).reason).toEqual(t(a('shutdown'), 'bye'));
  });

  it('a process killed while waiting gets an ExitSignal from receive and self.signal aborts', async () => {
    const { table } = setup();
    let caught: unknown;
    let aborted: unknown;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const pid = table.spawn(async (self) => {
      self.signal.addEventListener('abort', () => {
        aborted = self.signal.reason;
        done();
      });
      try {
        await self.receive();
      } catch (error) {
        caught = error;
      }
    });
    const w = await watch(table, pid);
    table.exit(pid, a('stop'));
    expect(await w.reason()).toBe(a('stop'));
    await finished;
    expect(isExitSignal(caught)).toBe(true);
    expect((caught as ExitSignal).reason).toBe(a('stop'));
    expect(isExitSignal(aborted)).toBe(true);
  });
});

describe('send and receive', () => {
  it('receives in FIFO order', async () => {
    const { table } = setup();
    const p = await probe(table);
    for (let i = 0; i < 100; i++) table.send(p.pid, i);
    expect(p.self.messageQueueLen).toBe(100);
    const got: Term[] = [];
    for (let i = 0; i < 100; i++) got.push(await p.self.receive());
    expect(got).toEqual([...Array(100).keys()]);
  });

  it('hands a message to a waiting receive', async () => {
    const { table } = setup();
    const p = await probe(table);
    const pending = p.self.receive();
    expect(table.info(p.pid)?.status).toBe('waiting');
    table.send(p.pid, 'hello');
    expect(await pending).toBe('hello');
    expect(p.self.messageQueueLen).toBe(0);
  });

  it('selective receive takes the first match and leaves the rest in order', async () => {
    const { table } = setup();
    const p = await probe(table);
    for (const m of [1, 'a', 2, 'b', 3]) table.send(p.pid, m);
    expect(await p.self.receive({ match: (m) => typeof m === 'string' })).toBe('a');
    expect(await p.self.receive({ match: (m) => m === 3 })).toBe(3);
    expect(p.self.tryReceive((m) => m === 99)).toBeUndefined();
    expect([await p.self.receive(), await p.self.receive(), await p.self.receive()]).toEqual([1, 2, 'b']);
  });

  it('a waiting selective receive skips non-matching arrivals, which stay queued', async () => {
    const { table } = setup();
    const p = await probe(table);
    const pending = p.self.receive({ match: (m) => m === 'reply' });
    table.send(p.pid, 'noise1');
    table.send(p.pid, 'noise2');
    table.send(p.pid, 'reply');
    expect(await pending).toBe('reply');
    expect(table.messages(p.pid)).toEqual(['noise1', 'noise2']);
  });

  it('narrows the type with a type-guard match', async () => {
    const { table } = setup();
    const p = await probe(table);
    table.send(p.pid, 5);
    const n: number = await p.self.receive({ match: (m): m is number => typeof m === 'number' });
    expect(n).toBe(5);
  });

  it('rejects with ReceiveTimeoutError after the deadline, not before', async () => {
    const { table } = setup();
    const p = await probe(table);
    const start = performance.now();
    const error = await p.self.receive({ timeoutMs: 30 }).catch((e: unknown) => e);
    expect(performance.now() - start).toBeGreaterThanOrEqual(29);
    expect(error).toBeInstanceOf(ReceiveTimeoutError);
    expect((error as ReceiveTimeoutError).code).toBe('timeout');
    expect((error as ReceiveTimeoutError).timeoutMs).toBe(30);
    // The mailbox is usable again: a later message is not lost to the timed-out receive.
    table.send(p.pid, 'late');
    expect(await p.self.receive({ timeoutMs: 1000 })).toBe('late');
  });

  it('a message in time beats the timeout; timeoutMs 0 only polls', async () => {
    const { table } = setup();
    const p = await probe(table);
    const pending = p.self.receive({ timeoutMs: 5000 });
    table.send(p.pid, 'quick');
    expect(await pending).toBe('quick');
    await expect(p.self.receive({ timeoutMs: 0 })).rejects.toBeInstanceOf(ReceiveTimeoutError);
    table.send(p.pid, 'there');
    expect(await p.self.receive({ timeoutMs: 0 })).toBe('there');
    await expect(p.self.receive({ timeoutMs: -1 })).rejects.toMatchObject({ code: 'bad_argument' });
  });

  it('aborts a receive through an AbortSignal', async () => {
    const { table } = setup();
    const p = await probe(table);
    const controller = new AbortController();
    const pending = p.self.receive({ signal: controller.signal, timeoutMs: 10_000 });
    controller.abort(new Error('enough'));
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReceiveAbortedError);
    expect((error as ReceiveAbortedError).code).toBe('aborted');
    expect((error as Error).cause).toEqual(new Error('enough'));
    // Already aborted: rejects at once even with a message waiting.
    table.send(p.pid, 'm');
    await expect(p.self.receive({ signal: controller.signal })).rejects.toBeInstanceOf(ReceiveAbortedError);
    expect(await p.self.receive()).toBe('m');
  });

  it('refuses a second concurrent receive', async () => {
    const { table } = setup();
    const p = await probe(table);
    const first = p.self.receive();
    await expect(p.self.receive()).rejects.toMatchObject({ code: 'concurrent_receive' });
    table.send(p.pid, 1);
    expect(await first).toBe(1);
  });

  it('a throwing match rejects the receive and keeps the message', async () => {
    const { table } = setup();
    const p = await probe(table);
    const boom = (): boolean => {
      throw new Error('bad match');
    };
    const pending = p.self.receive({ match: boom });
    table.send(p.pid, 'm');
    await expect(pending).rejects.toThrow('bad match');
    expect(await p.self.receive()).toBe('m');
  });

  it('iterates the mailbox with for await, and messages() ends on abort', async () => {
    const { table } = setup();
    const got: Term[] = [];
    const controller = new AbortController();
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const pid = table.spawn(async (self) => {
      for await (const m of self.messages({ signal: controller.signal, match: (x) => x !== 'skip' })) {
        got.push(m);
        if (got.length === 3) controller.abort();
      }
      done();
    });
    for (const m of ['a', 'skip', 'b', 'c', 'd']) table.send(pid, m);
    await finished;
    expect(got).toEqual(['a', 'b', 'c']);
    expect(table.messages(pid)).toEqual(['skip', 'd']);
  });

  it('iterates with [Symbol.asyncIterator] until the process dies', async () => {
    const { table } = setup();
    const got: Term[] = [];
    const pid = table.spawn(async (self) => {
      for await (const m of self) {
        got.push(m);
        if (m === 'stop') self.exit(a('stopped'));
      }
    });
    const w = await watch(table, pid);
    table.send(pid, 1);
    table.send(pid, 'stop');
    expect(await w.reason()).toBe(a('stopped'));
    expect(got).toEqual([1, 'stop']);
  });

  it('sends between processes with typed pids', async () => {
    const { table } = setup();
    type Ping = Tuple;
    const echo: TypedPid<Ping> = table.spawn<Ping>(async (self) => {
      const m = await self.receive();
      const [from, payload] = m.elements;
      self.send(from as Pid, t(a('pong'), payload as Term));
    });
    const p = await probe(table);
    // Type-level only (never called): a typed pid checks the message type; a plain Pid takes any term.
    const typeChecks = (): void => {
      // @ts-expect-error: echo accepts tuples only
      p.self.send(echo, 'not a tuple');
      const plain: Pid = echo;
      p.self.send(plain, 'anything');
    };
    expect(typeof typeChecks).toBe('function');
    p.self.send(echo, t(p.pid, 42));
    expect(await p.self.receive({ timeoutMs: 1000 })).toEqual(t(a('pong'), 42));
  });

  it('routes to remote pids, names and aliases through RemoteSignals', async () => {
    const { table, remote } = setup();
    const p = await probe(table);
    const rp = remotePid(5);
    p.self.send(rp, 'to pid');
    p.self.send([a('rex'), REMOTE], 'to name');
    p.self.send(['rex', 'erl@localhost'], 'to name (strings)');
    const rref = new (await import('../../src/term/types.ts')).Reference(REMOTE, 3, [1, 2, 3]);
    p.self.send(rref, 'to alias');
    expect(remote.sent).toEqual([
      { node: REMOTE, to: rp, signal: { kind: 'message', from: p.pid, message: 'to pid' } },
      { node: REMOTE, to: a('rex'), signal: { kind: 'message', from: p.pid, message: 'to name' } },
      { node: REMOTE, to: a('rex'), signal: { kind: 'message', from: p.pid, message: 'to name (strings)' } },
      { node: REMOTE, to: rref, signal: { kind: 'message', from: p.pid, message: 'to alias' } },
    ]);
  });

  it('drops messages to dead pids, and to [name, node()] nobody holds; throws for a bare free name', async () => {
    const { table } = setup();
    const w = await spawnWatched(table, () => undefined);
    const dead = w.pid;
    await w.reason();
    expect(() => table.send(dead, 'x')).not.toThrow();
    expect(() => table.send([a('nobody'), NODE], 'x')).not.toThrow();
    expect(() => table.send(a('nobody'), 'x')).toThrow(ProcessError);
    expect(() => table.send(a('nobody'), 'x')).toThrow(expect.objectContaining({ code: 'not_registered' }));
    expect(table.deliver(dead, { kind: 'message', message: 'x' })).toBe(false);
    // A pid of an older incarnation of this node (other creation) is nobody.
    const p = await probe(table);
    const stale = new Pid(NODE, p.pid.id, p.pid.serial, 6);
    expect(table.deliver(stale, { kind: 'message', message: 'x' })).toBe(false);
    expect(p.self.messageQueueLen).toBe(0);
  });
});

describe('names', () => {
  it('register, whereis, registered, unregister, and the BEAM badarg cases as codes', async () => {
    const { table } = setup();
    const p = await probe(table);
    const q = await probe(table);
    table.register(a('server'), p.pid);
    expect(table.whereis(a('server'))).toBe(p.pid);
    expect(table.registered()).toEqual([a('server')]);
    expect(table.info(p.pid)?.registeredName).toBe(a('server'));
    expect(() => table.register(a('server'), q.pid)).toThrow(expect.objectContaining({ code: 'name_taken' }));
    expect(() => table.register(a('other'), p.pid)).toThrow(
      expect.objectContaining({ code: 'already_registered' }),
    );
    expect(() => table.register(atoms.undefined, q.pid)).toThrow(
      expect.objectContaining({ code: 'bad_name' }),
    );
    expect(() => table.register(a('r'), remotePid(1))).toThrow(
      expect.objectContaining({ code: 'not_local' }),
    );
    table.send(a('server'), 'by name');
    table.send([a('server'), NODE], 'by name and node');
    table.send(['server', NODE.name], 'by strings');
    expect(table.messages(p.pid)).toEqual(['by name', 'by name and node', 'by strings']);
    table.unregister(a('server'));
    expect(table.whereis(a('server'))).toBeUndefined();
    expect(() => table.unregister(a('server'))).toThrow(expect.objectContaining({ code: 'not_registered' }));
  });

  it('a name is released when its process exits, and can be taken atomically at spawn', async () => {
    const { table } = setup();
    const pid = table.spawn(
      async (self) => {
        await self.receive();
      },
      { name: a('worker') },
    );
    expect(table.whereis(a('worker'))).toBe(pid);
    expect(() => table.spawn(() => undefined, { name: a('worker') })).toThrow(
      expect.objectContaining({ code: 'name_taken' }),
    );
    const w = await watch(table, pid);
    table.send(a('worker'), 'go');
    await w.reason();
    expect(table.whereis(a('worker'))).toBeUndefined();
    expect(table.registered()).toEqual([]);
  });

  it('self.register and a dead pid', async () => {
    const { table } = setup();
    const p = await probe(table);
    p.self.register(a('me'));
    expect(p.self.whereis(a('me'))).toBe(p.pid);
    const w = await spawnWatched(table, () => undefined);
    await w.reason();
    const dead = w.pid;
    expect(() => table.register(a('ghost'), dead)).toThrow(expect.objectContaining({ code: 'noproc' }));
  });
});

describe('mailbox bound', () => {
  it('a process whose mailbox would exceed its limit exits with {mailbox_overflow, Limit}', async () => {
    const { table, logger } = setup({ mailboxLimit: 10 });
    const p = await probe(table);
    const w = await watch(table, p.pid);
    for (let i = 0; i < 10; i++) table.send(p.pid, i);
    expect(table.isAlive(p.pid)).toBe(true);
    table.send(p.pid, 'one too many');
    expect(table.isAlive(p.pid)).toBe(false);
    expect(await w.reason()).toEqual(t(a('mailbox_overflow'), 10));
    expect(logger.entries.some((e) => e.level === 'warn' && e.message.startsWith('mailbox overflow'))).toBe(
      true,
    );
  });

  it('a consumer that keeps up never overflows; per-process limits override the table default', async () => {
    const { table } = setup({ mailboxLimit: 2 });
    const p = await probe(table, { mailboxLimit: 1000 });
    expect(table.info(p.pid)?.mailboxLimit).toBe(1000);
    for (let i = 0; i < 1000; i++) table.send(p.pid, i);
    expect(table.isAlive(p.pid)).toBe(true);
    const q = await probe(table);
    for (let i = 0; i < 100; i++) {
      const pending = q.self.receive();
      table.send(q.pid, i);
      expect(await pending).toBe(i);
    }
    expect(table.isAlive(q.pid)).toBe(true);
    expect(() => setup({ mailboxLimit: 0 })).toThrow(expect.objectContaining({ code: 'bad_argument' }));
  });
});

describe('schema validation', () => {
  // A tiny hand-written Standard Schema: a tuple {Tag :: atom(), N :: integer()}.
  const tagged = {
    '~standard': {
      version: 1 as const,
      vendor: 'test',
      validate(value: unknown) {
        if (value instanceof Tuple && value.length === 2 && typeof value.elements[1] === 'number') {
          return { value: { n: value.elements[1] } };
        }
        return { issues: [{ message: 'expected {Tag, N}' }] };
      },
      types: undefined as unknown as { input: unknown; output: { n: number } },
    },
  };
  const asyncTagged = {
    '~standard': {
      ...tagged['~standard'],
      validate: async (value: unknown) => tagged['~standard'].validate(value),
    },
  };

  it('returns the schema output; drops, counts and logs messages that fail', async () => {
    const { table, logger } = setup();
    const p = await probe(table);
    table.send(p.pid, 'garbage');
    table.send(p.pid, t(a('x'), 'not a number'));
    table.send(p.pid, t(a('ok'), 7));
    table.send(p.pid, 'after');
    const out: { n: number } = await p.self.receive({ schema: tagged });
    expect(out).toEqual({ n: 7 });
    expect(table.info(p.pid)?.invalidMessages).toBe(2);
    expect(logger.entries.filter((e) => e.message.startsWith('message dropped')).length).toBe(2);
    expect(table.messages(p.pid)).toEqual(['after']);
  });

  it('validates only what match selects; others stay queued', async () => {
    const { table } = setup();
    const p = await probe(table);
    table.send(p.pid, 'keep me');
    table.send(p.pid, t(a('reply'), 'bad'));
    table.send(p.pid, t(a('reply'), 1));
    const isReply = (m: Term): boolean => m instanceof Tuple && m.elements[0] === a('reply');
    expect(await p.self.receive({ schema: tagged, match: isReply })).toEqual({ n: 1 });
    expect(table.messages(p.pid)).toEqual(['keep me']);
    expect(table.info(p.pid)?.invalidMessages).toBe(1);
  });

  it('awaits asynchronous schemas, waits for a valid message, and keeps one deadline', async () => {
    const { table } = setup();
    const p = await probe(table);
    const pending = p.self.receive({ schema: asyncTagged, timeoutMs: 5000 });
    table.send(p.pid, 'bad');
    table.send(p.pid, t(a('v'), 3));
    expect(await pending).toEqual({ n: 3 });
    const start = performance.now();
    setTimeout(() => table.send(p.pid, 'still bad'), 5);
    const error = await p.self.receive({ schema: asyncTagged, timeoutMs: 40 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReceiveTimeoutError);
    expect((error as ReceiveTimeoutError).timeoutMs).toBe(40);
    expect(performance.now() - start).toBeGreaterThanOrEqual(39);
    expect(table.info(p.pid)?.invalidMessages).toBe(2);
  });
});

describe('spawn options and children', () => {
  it('spawnLink links atomically; spawnMonitor monitors atomically', async () => {
    const { table } = setup();
    const parent = await probe(table, { trapExit: true });
    const child = parent.self.spawnLink(async (self) => {
      await self.receive();
      self.exit(a('child_done'));
    });
    expect(table.info(parent.pid)?.links).toEqual([child]);
    expect(table.info(child)?.links).toEqual([parent.pid]);
    table.send(child, 'go');
    expect(await parent.self.receive({ timeoutMs: 1000 })).toEqual(t(a('EXIT'), child, a('child_done')));

    const [mon, ref] = parent.self.spawnMonitor(() => {
      throw new Error('x');
    });
    const down = (await parent.self.receive({ timeoutMs: 1000 })) as Tuple;
    expect(down.elements.slice(0, 4)).toEqual([a('DOWN'), ref, a('process'), mon]);
  });

  it('inherits the group leader and honours name and trapExit', async () => {
    const { table } = setup();
    const leader = await probe(table);
    const parent = await probe(table, { groupLeader: leader.pid });
    let ctx!: ProcessContext;
    let started!: () => void;
    const ready = new Promise<void>((resolve) => {
      started = resolve;
    });
    const child = parent.self.spawn(
      async (self) => {
        ctx = self;
        started();
        await self.receive();
      },
      { name: a('kid'), trapExit: true },
    );
    await ready;
    expect(ctx.groupLeader).toBe(leader.pid);
    expect(table.whereis(a('kid'))).toBe(child);
    expect(table.info(child)?.trapExit).toBe(true);
    expect(ctx.trapExit(false)).toBe(true);
    expect(table.info(child)?.trapExit).toBe(false);
  });

  it('a table spawn with a remote link or monitor keeps only our side (SPAWN_REQUEST)', async () => {
    const { table, remote } = setup();
    const parent = remotePid(9);
    const reqId = new (await import('../../src/term/types.ts')).Reference(REMOTE, 3, [4, 5, 6]);
    const pid = table.spawn(
      async (self) => {
        await self.receive();
        self.exit(a('bye'));
      },
      { link: parent, monitor: { watcher: parent, ref: reqId } },
    );
    expect(table.info(pid)?.links).toEqual([parent]);
    expect(table.info(pid)?.monitoredBy).toEqual([parent]);
    expect(remote.sent).toEqual([]);
    const w = await watch(table, pid);
    table.send(pid, 'go');
    await w.reason();
    expect(remote.sent).toEqual([
      { node: REMOTE, to: parent, signal: { kind: 'exit', from: pid, reason: a('bye'), link: true } },
      { node: REMOTE, to: parent, signal: { kind: 'down', from: pid, ref: reqId, reason: a('bye') } },
    ]);
  });
});

describe('info and stopAll', () => {
  it('reports a process snapshot', async () => {
    const { table } = setup();
    const p = await probe(table, { name: a('snap') });
    const q = await probe(table);
    p.self.link(q.pid);
    const ref = p.self.monitor(q.pid);
    table.send(p.pid, 'm');
    const info = table.info(p.pid);
    expect(info).toMatchObject({
      pid: p.pid,
      status: 'running',
      messageQueueLen: 1,
      links: [q.pid],
      monitors: [{ ref, target: q.pid }],
      monitoredBy: [],
      registeredName: a('snap'),
      trapExit: false,
      groupLeader: table.systemPid,
      invalidMessages: 0,
    });
    expect(table.info(q.pid)?.monitoredBy).toEqual([p.pid]);
    expect(table.info(remotePid(1))).toBeUndefined();
  });

  it('stopAll exits every process with the reason and tells remote links', async () => {
    const { table, remote } = setup();
    const p = await probe(table);
    const rp = remotePid(3);
    p.self.link(rp);
    remote.sent.length = 0;
    const q = await probe(table);
    table.stopAll(a('shutdown'));
    expect(table.count).toBe(0);
    expect(table.isAlive(q.pid)).toBe(false);
    expect(remote.sent).toEqual([
      { node: REMOTE, to: rp, signal: { kind: 'exit', from: p.pid, reason: a('shutdown'), link: true } },
    ]);
    expect(() => p.self.send(q.pid, 1)).toThrow(ExitSignal);
  });
});

describe('robustness', () => {
  it('a logger that throws does not break the table', async () => {
    const throwing = {
      warn(): void {
        throw new Error('logger down');
      },
      error(): void {
        throw new Error('logger down');
      },
    };
    const { table } = setup({ logger: throwing, mailboxLimit: 1 });
    const w = await spawnWatched(table, () => {
      throw new Error('crash');
    });
    expect(((await w.reason()) as Tuple).elements[0]).toBe(a('js_error'));
    const p = await probe(table);
    table.send(p.pid, 1);
    table.send(p.pid, 2);
    expect(table.isAlive(p.pid)).toBe(false);
    const q = await probe(table);
    table.send(q.pid, 'still works');
    expect(await q.self.receive()).toBe('still works');
  });

  it('a RemoteSignals that throws is logged, not propagated', async () => {
    const { table, logger } = setup({
      remote: {
        send(): void {
          throw new Error('socket gone');
        },
        monitorNode(): void {
          throw new Error('socket gone');
        },
      },
    });
    const p = await probe(table);
    expect(() => p.self.send(remotePid(1), 'x')).not.toThrow();
    expect(() => p.self.monitorNode(REMOTE)).not.toThrow();
    expect(logger.entries.filter((e) => e.level === 'error').length).toBe(2);
  });
});

describe('makeRef', () => {
  it('makes unique 3-word references of this node', () => {
    const table = new ProcessTable({ node: NODE, creation: 11, remote: new RecordingRemote() });
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const ref = table.makeRef();
      expect(ref.node).toBe(NODE);
      expect(ref.creation).toBe(11);
      expect(ref.ids.length).toBe(3);
      expect(ref.ids[0]).toBeLessThan(2 ** 18);
      seen.add(ref.ids.join('.'));
    }
    expect(seen.size).toBe(1000);
  });
});
