/**
 * Two (or more) TypeScript nodes in one process, over real sockets and a private EPMD: the same
 * scenarios as the erl interop suite, plus the node's options and connection-table rules.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SPAWN_REQUEST } from '../../src/dist/control.ts';
import { Node } from '../../src/node/node.ts';
import { isAllowed, NodeError, parseNodeName, readCookieFile } from '../../src/node/options.ts';
import {
  atom,
  decode,
  encode,
  equals,
  Pid,
  Reference,
  type Term,
  type Tuple,
  tuple,
} from '../../src/term/index.ts';
import { useTestCluster } from '../support/cluster.ts';
import {
  echoVia,
  nextEvent,
  RecordingLogger,
  startEcho,
  startTsNodeProcess,
  stopAllTsNodeProcesses,
  termCorpus,
  until,
} from '../support/dist-helpers.ts';
import { rawConnect } from '../support/raw-peer.ts';

describe('node options', () => {
  it('parses long and short names', () => {
    expect(parseNodeName('a@127.0.0.1')).toEqual({
      full: 'a@127.0.0.1',
      alive: 'a',
      host: '127.0.0.1',
      long: true,
    });
    expect(parseNodeName('a@host.example')).toMatchObject({ long: true });
    expect(parseNodeName('a@myhost')).toMatchObject({ long: false });
    expect(parseNodeName('a', () => 'box')).toEqual({ full: 'a@box', alive: 'a', host: 'box', long: false });
    expect(parseNodeName('b@::1')).toMatchObject({ long: true });
  });

  it('rejects bad names with invalid_name', () => {
    for (const bad of ['', '@h', 'a@', 'a b@h', 'a@b@c', 'ä@h', `${'x'.repeat(256)}@h`]) {
      let err: unknown;
      try {
        parseNodeName(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(NodeError);
      expect((err as NodeError).code).toBe('invalid_name');
    }
  });

  it('reads the cookie file as OTP: private, printable, trailing whitespace dropped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cookie-'));
    try {
      const path = join(dir, '.erlang.cookie');
      writeFileSync(path, 'SECRETCOOKIE\n');
      chmodSync(path, 0o600);
      expect(readCookieFile(path)).toBe('SECRETCOOKIE');
      chmodSync(path, 0o644);
      expect(() => readCookieFile(path)).toThrow(/owner only/);
      chmodSync(path, 0o400);
      writeFileSync(path, '\n', { mode: 0o600 });
      expect(() => readCookieFile(path)).toThrow(/empty/);
      let err: unknown;
      try {
        readCookieFile(join(dir, 'missing'));
      } catch (e) {
        err = e;
      }
      expect((err as NodeError).code).toBe('cookie_unreadable');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('matches allow lists as net_kernel:allow/1', () => {
    expect(isAllowed('a@h1', ['a@h1'])).toBe(true);
    expect(isAllowed('a@h1', ['a@h2'])).toBe(false);
    expect(isAllowed('a@h1', ['a@'])).toBe(true);
    expect(isAllowed('a@h1', ['h1'])).toBe(true);
    expect(isAllowed('a@h1', ['b@', 'h2'])).toBe(false);
    expect(isAllowed('a@h1', ['@h1'])).toBe(false);
  });

  it('fails to start with codes', async () => {
    await expect(Node.start({ name: 'bad name', cookie: 'c' })).rejects.toMatchObject({
      code: 'invalid_name',
    });
    await expect(Node.start({ name: 'x@127.0.0.1', cookie: 'c', setupTimeoutMs: -1 })).rejects.toMatchObject({
      code: 'invalid_option',
    });
    const home = process.env.HOME;
    const dir = mkdtempSync(join(tmpdir(), 'home-'));
    process.env.HOME = dir;
    try {
      await expect(Node.start({ name: 'x@127.0.0.1' })).rejects.toMatchObject({ code: 'cookie_unreadable' });
    } finally {
      process.env.HOME = home;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('two TypeScript nodes', () => {
  const cluster = useTestCluster({
    cookie: 'c00kie',
    prefix: 'n',
    netTicktimeMs: 2000,
    afterEachTest: stopAllTsNodeProcesses,
  });
  const { tsNode } = cluster;

  it('pings both ways and reports nodeup, nodes() and nodedown (hidden nodes)', async () => {
    const a = await tsNode({ hidden: true });
    const b = await tsNode({ hidden: true });
    const upA = nextEvent<[string, { hidden: boolean }]>(a, 'nodeup', 5000);
    const upB = nextEvent<[string, { hidden: boolean }]>(b, 'nodeup', 5000);
    expect(await a.ping(b.name)).toBe('pong');
    expect(await upA).toEqual([b.name, { hidden: true }]);
    expect(await upB).toEqual([a.name, { hidden: true }]);
    expect(await b.ping(a.name)).toBe('pong');
    expect(a.nodes()).toEqual([]);
    expect(a.nodes('hidden')).toEqual([b.name]);
    expect(a.nodes('connected')).toEqual([b.name]);
    const downB = nextEvent<[string, { reason: string }]>(b, 'nodedown', 5000);
    const downA = nextEvent<[string, { reason: string; detail?: string }]>(a, 'nodedown', 5000);
    expect(a.disconnect(b.name)).toBe(true);
    expect(await downA).toEqual([b.name, { reason: 'disconnect', detail: 'disconnect_node', hidden: true }]);
    expect((await downB)[1].reason).toBe('connection_closed');
    expect(a.nodes('connected')).toEqual([]);
    expect(a.disconnect(b.name)).toBe(false);
    expect(await a.ping(a.name)).toBe('pong');
  });

  it('makes visible connections between visible nodes, the default', async () => {
    const a = await tsNode();
    const b = await tsNode();
    const c = await tsNode({ hidden: true });
    expect(await a.ping(b.name)).toBe('pong');
    expect(await a.ping(c.name)).toBe('pong');
    expect(a.nodes()).toEqual([b.name]);
    expect(a.nodes('hidden')).toEqual([c.name]);
    expect(a.nodes('connected').sort()).toEqual([b.name, c.name].sort());
  });

  it('pings pang for unknown nodes and rejects bad names', async () => {
    const a = await tsNode();
    expect(await a.ping('ghost@127.0.0.1')).toBe('pang');
    await expect(a.connect('ghost@127.0.0.1')).rejects.toMatchObject({ code: 'not_found' });
    await expect(a.connect('noat')).rejects.toMatchObject({ code: 'invalid_node' });
    await expect(a.connect('short@host')).rejects.toMatchObject({ code: 'invalid_node' });
    expect(a.nodes('connected')).toEqual([]);
  });

  it('exchanges every term kind both ways, by name and by pid', async () => {
    const a = await tsNode();
    const b = await tsNode();
    const echoB = startEcho(b, 'echo');
    startEcho(a, 'echo');
    for (const [label, value] of termCorpus(a.atom, a.creation)) {
      const expected = decode(encode(value));
      expect(equals(await echoVia(a, [atom('echo'), b.atom], value), expected), `${label} by name`).toBe(
        true,
      );
      expect(equals(await echoVia(a, echoB, value), expected), `${label} by pid`).toBe(true);
      expect(equals(await echoVia(b, [atom('echo'), a.atom], value), expected), `${label} back`).toBe(true);
    }
  });

  it('moves 8 MiB binaries both ways (fragments)', async () => {
    const a = await tsNode();
    const b = await tsNode();
    startEcho(b);
    startEcho(a);
    const big = Buffer.alloc(8 << 20);
    for (let i = 0; i < big.length; i += 999) big[i] = i & 0xff;
    const there = (await echoVia(a, [atom('echo'), b.atom], big, 20_000)) as Buffer;
    expect(there.equals(big)).toBe(true);
    const back = (await echoVia(b, [atom('echo'), a.atom], tuple(big, big), 20_000)) as Tuple;
    expect((back.elements[1] as Buffer).equals(big)).toBe(true);
  });

  it('ends simultaneous connects with exactly one connection', async () => {
    let raced = 0;
    for (let round = 0; round < 5; round++) {
      const logA = new RecordingLogger();
      const logB = new RecordingLogger();
      const a = await tsNode({ logger: logA });
      const b = await tsNode({ logger: logB });
      const ups = { a: 0, b: 0 };
      const downs = { a: 0, b: 0 };
      a.on('nodeup', () => ups.a++);
      b.on('nodeup', () => ups.b++);
      a.on('nodedown', () => downs.a++);
      b.on('nodedown', () => downs.b++);
      await Promise.all([a.connect(b.name), b.connect(a.name)]);
      expect(await a.ping(b.name)).toBe('pong');
      expect(await b.ping(a.name)).toBe('pong');
      expect(a.nodes('connected')).toEqual([b.name]);
      expect(b.nodes('connected')).toEqual([a.name]);
      expect(ups).toEqual({ a: 1, b: 1 });
      expect(downs).toEqual({ a: 0, b: 0 });
      if ([...logA.codes(), ...logB.codes()].includes('simultaneous_connect')) raced++;
      await a.stop();
      await b.stop();
    }
    // Both dial in the same tick, so the rule must have been exercised.
    expect(raced).toBeGreaterThan(0);
  });

  it('fails with a wrong cookie in both directions', async () => {
    const logA = new RecordingLogger();
    const logB = new RecordingLogger();
    const a = await tsNode({ logger: logA });
    const b = await tsNode({ cookie: 'other', logger: logB });
    expect(await a.ping(b.name)).toBe('pang');
    await logB.waitFor('bad_cookie');
    expect(await b.ping(a.name)).toBe('pang');
    await logA.waitFor('bad_cookie');
    await expect(a.connect(b.name)).rejects.toBeInstanceOf(NodeError);
    expect(a.nodes('connected')).toEqual([]);
    expect(b.nodes('connected')).toEqual([]);
  });

  it('refuses nodes outside the allow list', async () => {
    const log = new RecordingLogger();
    const a = await tsNode({ logger: log });
    const b = await tsNode();
    const c = await tsNode();
    a.allow([c.name]);
    await expect(b.connect(a.name)).rejects.toMatchObject({ code: 'not_allowed' });
    await log.waitFor('not_allowed', 5000, (r) => r.fields.peer === b.name);
    expect(await c.ping(a.name)).toBe('pong');
    a.allow(undefined);
    expect(await b.ping(a.name)).toBe('pong');
  });

  it('reports nodedown on the peer when a node stops', async () => {
    const a = await tsNode();
    const b = await tsNode();
    expect(await a.ping(b.name)).toBe('pong');
    const down = nextEvent<[string, { reason: string }]>(a, 'nodedown', 5000);
    await b.stop();
    expect((await down)[0]).toBe(b.name);
    expect(a.nodes('connected')).toEqual([]);
    expect(await a.ping(b.name)).toBe('pang');
  });

  it('connects on send and delivers queued messages in order', async () => {
    const a = await tsNode();
    const b = await tsNode();
    const got: Term[] = [];
    const done = new Promise<void>((resolve) => {
      b.spawn(
        async (self) => {
          for (let i = 0; i < 100; i++) got.push(await self.receive());
          resolve();
        },
        { name: atom('sink') },
      );
    });
    for (let i = 0; i < 100; i++) a.send([atom('sink'), b.atom], i);
    await done;
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('drops messages to unreachable nodes; monitors there fire noconnection', async () => {
    const a = await tsNode();
    a.send([atom('x'), atom('ghost@127.0.0.1')], 1);
    const down = await new Promise<Term>((resolve) => {
      a.spawn(async (self) => {
        self.monitor([atom('x'), atom('ghost@127.0.0.1')]);
        resolve(await self.receive({ timeoutMs: 10_000 }));
      });
    });
    expect((down as Tuple).elements[4]).toBe(atom('noconnection'));
  });

  it('carries links, monitors and exits, and noconnection at disconnect', async () => {
    const a = await tsNode();
    const b = await tsNode();
    const victim = b.spawn(async (self) => {
      const m = (await self.receive()) as Tuple;
      self.exit(m.elements[1] as Term);
    });
    const watcher = new Promise<Term[]>((resolve) => {
      a.spawn(async (self) => {
        self.trapExit(true);
        self.link(victim);
        self.monitor(victim);
        self.send(victim, tuple(atom('die'), atom('boom')));
        resolve([await self.receive({ timeoutMs: 5000 }), await self.receive({ timeoutMs: 5000 })]);
      });
    });
    const msgs = await watcher;
    expect(msgs.map((m) => (m as Tuple).elements[0])).toEqual(
      expect.arrayContaining([atom('EXIT'), atom('DOWN')]),
    );
    // Link to a live remote process, then drop the connection: EXIT noconnection.
    const sleeper = b.spawn(async (self) => {
      await self.receive();
    });
    const exit = new Promise<Term>((resolve) => {
      a.spawn(async (self) => {
        self.trapExit(true);
        self.link(sleeper);
        resolve(await self.receive({ timeoutMs: 5000 }));
      });
    });
    await until(() => b.processes.info(sleeper)?.links.length === 1, 5000, 'link on b');
    a.disconnect(b.name);
    expect(await exit).toEqual(tuple(atom('EXIT'), sleeper, atom('noconnection')));
  });

  it('answers SPAWN_REQUEST with notsup unless a hook is installed', async () => {
    const a = await tsNode();
    // The RPC service installs its hook at start; take it away to see the bare node's answer.
    a.setControlHook('spawn_request', undefined);
    const peer = await rawConnect({ port: a.port, name: 'raw1@127.0.0.1', cookie: 'c00kie', peer: a.name });
    const reqId = new Reference(atom('raw1@127.0.0.1'), 1, [1, 2, 3]);
    const from = new Pid(atom('raw1@127.0.0.1'), 5, 0, 1);
    peer.send(tuple(SPAWN_REQUEST, reqId, from, from, tuple(atom('m'), atom('f'), 0), [atom('monitor')]), []);
    const reply = await peer.waitMessage((m) => (m.control as Tuple).elements[0] === 31);
    expect(reply.control).toEqual(tuple(31, reqId, from, 0, atom('notsup')));
    const seen: string[] = [];
    a.setControlHook('spawn_request', (node, msg) => seen.push(`${node.name}:${msg.kind}`));
    peer.send(tuple(SPAWN_REQUEST, reqId, from, from, tuple(atom('m'), atom('f'), 0), []), []);
    await until(() => seen.length === 1, 5000, 'hook');
    expect(seen).toEqual(['raw1@127.0.0.1:spawn_request']);
  });

  it('replaces a connection when the same name connects again (alive)', async () => {
    const a = await tsNode();
    const first = await rawConnect({
      port: a.port,
      name: 'twin@127.0.0.1',
      cookie: 'c00kie',
      peer: a.name,
      creation: 1,
    });
    await until(() => a.nodes('connected').includes('twin@127.0.0.1'), 5000, 'first up');
    const events: string[] = [];
    a.on('nodedown', (n, info) => events.push(`down:${n}:${info.detail}`));
    a.on('nodeup', (n) => events.push(`up:${n}`));
    const second = await rawConnect({
      port: a.port,
      name: 'twin@127.0.0.1',
      cookie: 'c00kie',
      peer: a.name,
      creation: 2,
    });
    await first.closed;
    expect(events).toEqual(['down:twin@127.0.0.1:replaced', 'up:twin@127.0.0.1']);
    expect(a.connection('twin@127.0.0.1')?.peerCreation).toBe(2);
    second.socket.destroy();
  });

  it('refuses the alive replacement when the newcomer says false', async () => {
    const a = await tsNode();
    const first = await rawConnect({ port: a.port, name: 'twin2@127.0.0.1', cookie: 'c00kie', peer: a.name });
    await until(() => a.nodes('connected').includes('twin2@127.0.0.1'), 5000, 'first up');
    await expect(
      rawConnect({ port: a.port, name: 'twin2@127.0.0.1', cookie: 'c00kie', peer: a.name, alive: false }),
    ).rejects.toMatchObject({ code: 'alive_rejected' });
    expect(a.nodes('connected')).toEqual(['twin2@127.0.0.1']);
    expect(first.socket.destroyed).toBe(false);
    first.socket.destroy();
  });

  it('refuses a second node with a registered name', async () => {
    const a = await tsNode();
    await expect(
      Node.start({ name: a.name, cookie: 'c00kie', epmd: 'external', epmdPort: cluster.epmdPort }),
    ).rejects.toMatchObject({ code: 'duplicate_name' });
  });

  it('drops signals past maxQueuedSignals while connecting, and logs it once', async () => {
    const log = new RecordingLogger();
    const a = await tsNode({ logger: log, maxQueuedSignals: 10 });
    const b = await tsNode();
    const got: Term[] = [];
    b.spawn(
      async (self) => {
        for (;;) got.push(await self.receive());
      },
      { name: atom('sink') },
    );
    for (let i = 0; i < 50; i++) a.send([atom('sink'), b.atom], i);
    expect(await a.ping(b.name)).toBe('pong');
    await until(() => got.length === 10, 5000, 'ten messages');
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(log.codes('warn').filter((c) => c === 'send_queue_full')).toHaveLength(1);
  });

  it('sees a TS node in another process killed with SIGKILL as nodedown at once', async () => {
    const a = await tsNode();
    const child = await startTsNodeProcess({
      name: 'child1@127.0.0.1',
      cookie: 'c00kie',
      epmdPort: cluster.epmdPort,
      netTicktimeMs: 2000,
    });
    expect(await a.ping(child.name)).toBe('pong');
    expect(await echoVia(a, [atom('echo'), atom(child.name)], 'across processes')).toEqual(
      Buffer.from('across processes'),
    );
    const down = nextEvent<[string, { reason: string }]>(a, 'nodedown', 2000);
    child.kill('SIGKILL');
    expect(await down).toEqual([child.name, { reason: 'connection_closed', hidden: false }]);
  });

  it('drops a frozen TS node (SIGSTOP) after the tick time', async () => {
    const a = await tsNode({ netTicktimeMs: 1000 });
    const child = await startTsNodeProcess({
      name: 'child2@127.0.0.1',
      cookie: 'c00kie',
      epmdPort: cluster.epmdPort,
      netTicktimeMs: 1000,
    });
    expect(await a.ping(child.name)).toBe('pong');
    const t0 = Date.now();
    child.kill('SIGSTOP');
    const [, info] = await nextEvent<[string, { reason: string }]>(a, 'nodedown', 3000);
    expect(info.reason).toBe('net_tick_timeout');
    expect(Date.now() - t0).toBeLessThan(1600);
  });
});
