/**
 * Bad peers: garbage, oversized frames, stalls, floods, half fragments. The node must log each
 * case with a code, drop only the bad peer, free what it held, keep serving good peers, and lose
 * nothing a good peer sent.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DFLAGS, DFLAG_FRAGMENTS } from '../../src/dist/flags.ts';
import { frame2 } from '../../src/dist/framing.ts';
import { Handshake } from '../../src/dist/handshake.ts';
import { register } from '../../src/epmd/client.ts';
import { Node } from '../../src/node/node.ts';
import type { NodeOptions } from '../../src/node/options.ts';
import { atom, Pid, type Term, tuple } from '../../src/term/index.ts';
import { nextEvent, RecordingLogger, until } from '../support/dist-helpers.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { rawConnect } from '../support/raw-peer.ts';

const COOKIE = 'bad-input';

describe('bad input', () => {
  let epmd: EpmdProcess;
  const started: Node[] = [];
  const sockets: Socket[] = [];
  const servers: Server[] = [];
  let seq = 0;

  beforeAll(async () => {
    epmd = await startEpmd();
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of servers.splice(0)) s.close();
    await Promise.all(started.splice(0).map((n) => n.stop()));
  });
  afterAll(async () => {
    await epmd?.stop();
  });

  async function tsNode(opts: Partial<NodeOptions> = {}): Promise<Node> {
    const node = await Node.start({
      name: `bad${++seq}@127.0.0.1`,
      cookie: COOKIE,
      epmd: 'external',
      epmdPort: epmd.port,
      netTicktimeMs: 1000,
      setupTimeoutMs: 500,
      ...opts,
    });
    started.push(node);
    return node;
  }

  function rawSocket(port: number): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      sockets.push(s);
      s.on('error', () => undefined);
      // Read (and drop) what the node sends, so its FIN is seen and `close` fires.
      s.resume();
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  function closed(s: Socket): Promise<void> {
    return new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
  }

  /** A good peer keeps sending numbered messages to a sink on `target`; returns a checker. */
  async function goodTraffic(target: Node): Promise<{ sendMore(n: number): void; verify(): Promise<void> }> {
    const good = await tsNode();
    const got: Term[] = [];
    // Connected before any attack: a connection that cannot be set up drops its messages, as on the BEAM.
    expect(await good.ping(target.name)).toBe('pong');
    target.spawn(
      async (self) => {
        for (;;) got.push(await self.receive());
      },
      { name: atom('sink') },
    );
    let sent = 0;
    return {
      sendMore(n: number) {
        for (let i = 0; i < n; i++) good.send([atom('sink'), target.atom], sent++);
      },
      async verify() {
        expect(await good.ping(target.name)).toBe('pong');
        await until(() => got.length === sent, 5000, `all ${sent} good messages`);
        expect(got).toEqual(Array.from({ length: sent }, (_, i) => i));
      },
    };
  }

  it('garbage before the handshake: logged and closed, good peers unaffected', async () => {
    const log = new RecordingLogger();
    const a = await tsNode({ logger: log });
    const good = await goodTraffic(a);
    good.sendMore(50);
    // A frame that is not send_name.
    const s1 = await rawSocket(a.port);
    s1.write(frame2(Buffer.from('hello')));
    await closed(s1);
    await log.waitFor('malformed');
    // An HTTP request: its first two bytes read as a length, then silence: the step timeout.
    const s2 = await rawSocket(a.port);
    s2.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed(s2);
    await log.waitFor('setup_timeout');
    good.sendMore(50);
    await good.verify();
  });

  it('garbage during the handshake: logged and closed', async () => {
    const log = new RecordingLogger();
    const a = await tsNode({ logger: log });
    const good = await goodTraffic(a);
    const s = await rawSocket(a.port);
    const hs = Handshake.initiator({
      thisNode: 'junk@127.0.0.1',
      thisFlags: DEFAULT_DFLAGS,
      thisCreation: 1,
      cookie: COOKIE,
      challenge: 1,
      peer: a.name,
    });
    s.write(frame2(hs.start().send[0]!));
    // Instead of the challenge reply: random bytes in a frame.
    s.write(frame2(Buffer.from([0x72, 1, 2, 3])));
    await closed(s);
    await log.waitFor('malformed', 5000, (r) => r.fields.peer === 'junk@127.0.0.1');
    // The half-set-up entry is gone: the name can connect properly now.
    const ok = await rawConnect({ port: a.port, name: 'junk@127.0.0.1', cookie: COOKIE, peer: a.name });
    sockets.push(ok.socket);
    good.sendMore(10);
    await good.verify();
  });

  it('an oversized frame drops the connection with frame_too_large', async () => {
    const log = new RecordingLogger();
    const a = await tsNode({ logger: log, maxFrameBytes: 1024 });
    const good = await goodTraffic(a);
    const peer = await rawConnect({ port: a.port, name: 'big@127.0.0.1', cookie: COOKIE, peer: a.name });
    sockets.push(peer.socket);
    const down = nextEvent<[string, { reason: string; detail?: string }]>(
      a,
      'nodedown',
      5000,
      (n) => n === 'big@127.0.0.1',
    );
    const head = Buffer.alloc(4);
    head.writeUInt32BE(100_000_000, 0);
    peer.socket.write(head);
    expect((await down)[1]).toMatchObject({ reason: 'bad_input', detail: 'frame_too_large' });
    await peer.closed;
    await log.waitFor('frame_too_large');
    good.sendMore(10);
    await good.verify();
  });

  it('undecodable terms and unknown control messages drop the connection with their codes', async () => {
    const log = new RecordingLogger();
    const a = await tsNode({ logger: log });
    const good = await goodTraffic(a);
    const cases: Array<[string, (p: Awaited<ReturnType<typeof rawConnect>>) => void, string]> = [
      ['bt1', (p) => p.sendFrame(Buffer.from([131, 68, 0, 104, 2, 97])), 'length_exceeds_input'],
      ['bt2', (p) => p.send(tuple(99, atom('x'))), 'unknown_op'],
      ['bt3', (p) => p.send(tuple(1, atom('notapid'), atom('x'))), 'malformed_control'],
      ['bt4', (p) => p.sendFrame(Buffer.from([112, 131, 97, 1])), 'bad_header'],
      ['bt5', (p) => p.sendFrame(Buffer.from([131, 68, 3, 0, 0])), 'atom_cache_refs'],
    ];
    for (const [name, misbehave, code] of cases) {
      const peer = await rawConnect({
        port: a.port,
        name: `${name}@127.0.0.1`,
        cookie: COOKIE,
        peer: a.name,
      });
      sockets.push(peer.socket);
      const down = nextEvent<[string, { detail?: string }]>(
        a,
        'nodedown',
        5000,
        (n) => n === `${name}@127.0.0.1`,
      );
      misbehave(peer);
      expect((await down)[1].detail, name).toBe(code);
      await log.waitFor(code);
    }
    good.sendMore(10);
    await good.verify();
  });

  it('a stalled incoming handshake times out; so does a stalled acceptor we dial', async () => {
    const log = new RecordingLogger();
    const a = await tsNode({ logger: log, setupTimeoutMs: 300 });
    const s = await rawSocket(a.port);
    const t0 = Date.now();
    await closed(s);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    await log.waitFor('setup_timeout');
    // A registered name whose port accepts and never answers.
    const server = createServer((c) => {
      sockets.push(c);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    const reg = await register({
      name: 'stall',
      port: typeof addr === 'object' && addr ? addr.port : 0,
      epmdPort: epmd.port,
    });
    try {
      await expect(a.connect('stall@127.0.0.1')).rejects.toMatchObject({ code: 'setup_timeout' });
      expect(await a.ping('stall@127.0.0.1')).toBe('pang');
    } finally {
      await reg.close();
    }
  });

  it('a wrong cookie is logged with bad_cookie and refused', async () => {
    const log = new RecordingLogger();
    const a = await tsNode({ logger: log });
    await expect(
      rawConnect({ port: a.port, name: 'cookie@127.0.0.1', cookie: 'nope', peer: a.name }),
    ).rejects.toMatchObject({
      code: 'connection_closed',
    });
    await log.waitFor('bad_cookie', 5000, (r) => r.fields.peer === 'cookie@127.0.0.1');
    expect(a.nodes('connected')).toEqual([]);
  });

  it('1000 half-open connections: over the cap refused at once, the node keeps working', async () => {
    const log = new RecordingLogger();
    // The setup timeout outlasts the flood even on a loaded machine, so no slot frees during it.
    const a = await tsNode({ logger: log, maxPendingHandshakes: 50, setupTimeoutMs: 5000 });
    const b = await tsNode();
    const good = await goodTraffic(a);
    const flood = await Promise.all(
      Array.from({ length: 1000 }, () => rawSocket(a.port).catch(() => undefined)),
    );
    await log.waitFor('too_many_pending_handshakes');
    // Outgoing connections are unaffected by the flood.
    expect(await a.ping(b.name)).toBe('pong');
    good.sendMore(20);
    // Every half-open socket is closed: over the cap at once, the rest at the setup timeout.
    await until(
      () => flood.every((s) => s === undefined || s.destroyed || s.readableEnded),
      20_000,
      'flood closed',
    );
    const refused = log.codes('warn').filter((c) => c === 'too_many_pending_handshakes').length;
    expect(refused).toBeGreaterThanOrEqual(900);
    // Incoming connections work again.
    const c = await tsNode();
    expect(await c.ping(a.name)).toBe('pong');
    await good.verify();
  }, 45_000);

  it('a connection dropped mid-fragment frees the partial message', async () => {
    const log = new RecordingLogger();
    const a = await tsNode({ logger: log });
    const good = await goodTraffic(a);
    const peer = await rawConnect({ port: a.port, name: 'frag@127.0.0.1', cookie: COOKIE, peer: a.name });
    expect(peer.result.flags & DFLAG_FRAGMENTS).toBe(DFLAG_FRAGMENTS);
    const sink = a.processes.whereis(atom('sink'))!;
    // Start of a 3-fragment message to the sink, then the peer vanishes.
    const head = Buffer.alloc(19);
    head[0] = 131;
    head[1] = 69;
    head.writeBigUInt64BE(7n, 2);
    head.writeBigUInt64BE(3n, 10);
    head[18] = 0;
    peer.sendFrame(Buffer.concat([head, Buffer.alloc(60_000)]));
    const down = nextEvent(a, 'nodedown', 5000, (n: string) => n === 'frag@127.0.0.1');
    peer.socket.destroy();
    await down;
    expect(a.connection('frag@127.0.0.1')).toBeUndefined();
    // A continuation out of order from another peer is refused with bad_fragment.
    const p2 = await rawConnect({ port: a.port, name: 'frag2@127.0.0.1', cookie: COOKIE, peer: a.name });
    sockets.push(p2.socket);
    const cont = Buffer.alloc(18 + 10);
    cont[0] = 131;
    cont[1] = 70;
    cont.writeBigUInt64BE(9n, 2);
    cont.writeBigUInt64BE(1n, 10);
    const down2 = nextEvent<[string, { detail?: string }]>(
      a,
      'nodedown',
      5000,
      (n) => n === 'frag2@127.0.0.1',
    );
    p2.sendFrame(cont);
    expect((await down2)[1].detail).toBe('bad_fragment');
    expect(sink).toBeInstanceOf(Pid);
    good.sendMore(10);
    await good.verify();
  });

  it('a silent peer is dropped after the tick time, and we tick it meanwhile', async () => {
    const log = new RecordingLogger();
    const a = await tsNode({ logger: log, netTicktimeMs: 800 });
    const peer = await rawConnect({ port: a.port, name: 'mute@127.0.0.1', cookie: COOKIE, peer: a.name });
    sockets.push(peer.socket);
    const t0 = Date.now();
    const [, info] = await nextEvent<[string, { reason: string }]>(a, 'nodedown', 3000);
    const elapsed = Date.now() - t0;
    expect(info.reason).toBe('net_tick_timeout');
    expect(elapsed).toBeGreaterThanOrEqual(600);
    expect(elapsed).toBeLessThan(1500);
    expect(peer.ticks()).toBeGreaterThanOrEqual(2);
    await log.waitFor('net_tick_timeout');
  });

  it('a peer that keeps ticking stays connected', async () => {
    const a = await tsNode({ netTicktimeMs: 600 });
    const peer = await rawConnect({ port: a.port, name: 'ticker@127.0.0.1', cookie: COOKIE, peer: a.name });
    sockets.push(peer.socket);
    let downs = 0;
    a.on('nodedown', () => downs++);
    const timer = setInterval(() => peer.socket.write(Buffer.alloc(4)), 100);
    try {
      // Our node ticks an idle peer every 150 ms: 16 ticks span four tick times.
      await until(() => peer.ticks() >= 16, 5000, 'sixteen ticks');
      expect(downs).toBe(0);
      expect(a.nodes('connected')).toEqual(['ticker@127.0.0.1']);
    } finally {
      clearInterval(timer);
    }
  });
});
