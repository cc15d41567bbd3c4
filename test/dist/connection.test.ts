import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, type ConnectionCloseReason, TickState } from '../../src/dist/connection.ts';
import type { ControlMessage } from '../../src/dist/control.ts';
import {
  DEFAULT_DFLAGS,
  DFLAG_DIST_HDR_ATOM_CACHE,
  DFLAG_FRAGMENTS,
  DFLAG_SEND_SENDER,
} from '../../src/dist/flags.ts';
import { FrameParser } from '../../src/dist/framing.ts';
import { atom, Pid, type Term, TermReader, tuple } from '../../src/term/index.ts';
import { RecordingLogger, until } from '../support/dist-helpers.ts';

describe('TickState', () => {
  it('ticks on idle intervals and times out after `intensity` silent ones', () => {
    const t = new TickState(4);
    // reads, writes at the end of each interval -> action
    expect(t.step(0, 0)).toBe('tick'); // nothing read (1), nothing written
    expect(t.step(1, 0)).toBe('tick'); // read resets the silence
    expect(t.step(1, 5)).toBe('none'); // wrote: no tick; silent 1
    expect(t.step(1, 5)).toBe('tick'); // silent 2
    expect(t.step(1, 6)).toBe('none'); // silent 3
    expect(t.step(1, 6)).toBe('timeout'); // silent 4
  });

  it('never times out while reads keep coming', () => {
    const t = new TickState(4);
    for (let i = 1; i < 100; i++) expect(t.step(i, 0)).toBe('tick');
  });
});

interface Pair {
  conn: Connection;
  peer: Socket;
  received: Buffer[];
  controls: ControlMessage[];
  closes: ConnectionCloseReason[];
  log: RecordingLogger;
}

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

const me = atom('me@127.0.0.1');
const them = atom('them@127.0.0.1');
const pMe = new Pid(me, 1, 0, 1);
const pThem = new Pid(them, 2, 0, 2);

async function pair(
  flags: bigint = DEFAULT_DFLAGS,
  extra: { fragmentSize?: number; onControl?: () => void; preload?: Buffer } = {},
): Promise<Pair> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const peer = connect(port, '127.0.0.1');
  sockets.push(peer);
  const local = await accepted;
  sockets.push(local);
  const received: Buffer[] = [];
  peer.on('data', (c: Buffer) => received.push(c));
  const controls: ControlMessage[] = [];
  const closes: ConnectionCloseReason[] = [];
  const log = new RecordingLogger();
  const parser = new FrameParser({ headerBytes: 2 });
  if (extra.preload !== undefined) parser.push(extra.preload);
  const conn = new Connection({
    socket: local,
    parser,
    peer: them,
    peerCreation: 2,
    flags,
    hidden: true,
    handler: {
      onControl: (_c, m) => {
        extra.onControl?.();
        controls.push(m);
      },
    },
    reader: new TermReader(),
    logger: log,
    netTicktimeMs: 60_000,
    maxFrameBytes: 1 << 20,
    ...(extra.fragmentSize !== undefined ? { fragmentSize: extra.fragmentSize } : {}),
  });
  conn.on('close', (r) => closes.push(r));
  return { conn, peer, received, controls, closes, log };
}

function frames(chunks: Buffer[]): Buffer[] {
  const p = new FrameParser({ headerBytes: 4, maxFrameBytes: 1 << 30 });
  p.push(Buffer.concat(chunks));
  const out: Buffer[] = [];
  for (let f = p.next(); f !== undefined; f = p.next()) out.push(Buffer.from(f));
  return out;
}

describe('Connection', () => {
  it('batches the sends of one turn into one socket write', async () => {
    const { conn, received } = await pair();
    const local = (conn as unknown as { socket: Socket }).socket;
    let writes = 0;
    const orig = local.write.bind(local);
    (local as unknown as { write: typeof local.write }).write = ((
      ...args: Parameters<typeof local.write>
    ) => {
      writes++;
      return orig(...args);
    }) as typeof local.write;
    for (let i = 0; i < 100; i++) conn.sendMessage(pMe, pThem, i);
    expect(writes).toBe(0);
    await until(() => frames(received).length === 100, 5000, '100 frames');
    expect(writes).toBe(1);
    const f = frames(received);
    expect(f[0]!.subarray(0, 3)).toEqual(Buffer.from([131, 68, 0]));
  });

  it('answers a read before the end of the turn, then batches the rest of the turn', async () => {
    const marks: string[] = [];
    let conn: Connection | undefined;
    const a = await pair(DEFAULT_DFLAGS, {
      onControl: () => {
        // An immediate queued by the handler, before the reply: the reply must not wait for it.
        setImmediate(() => marks.push('immediate'));
        conn!.sendMessage(pMe, pThem, 'reply');
        // Sends in later microtasks of the same turn, after the early flush: one more write.
        let k = 0;
        const more = (): void => {
          conn!.sendMessage(pMe, pThem, k);
          if (++k < 50) queueMicrotask(more);
        };
        queueMicrotask(() => queueMicrotask(more));
      },
    });
    conn = a.conn;
    const local = (conn as unknown as { socket: Socket }).socket;
    const orig = local.write.bind(local);
    (local as unknown as { write: typeof local.write }).write = ((
      ...args: Parameters<typeof local.write>
    ) => {
      marks.push('write');
      return orig(...args);
    }) as typeof local.write;
    const link = Buffer.concat([Buffer.from([131, 68, 0, 104, 3, 97, 1]), pidBytes(pThem), pidBytes(pMe)]);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(link.length, 0);
    a.peer.write(Buffer.concat([h, link]));
    await until(() => frames(a.received).length === 51, 5000, '51 frames');
    expect(marks).toEqual(['write', 'immediate', 'write']);
  });

  it('uses SEND_SENDER when negotiated and SEND otherwise; pass-through without FRAGMENTS', async () => {
    const a = await pair();
    a.conn.sendMessage(pMe, pThem, 'x');
    await until(() => frames(a.received).length === 1, 5000, 'frame');
    const r = new TermReader();
    r.reset(frames(a.received)[0]!, 3);
    expect(r.readTerm()).toEqual(tuple(22, pMe, pThem));

    const b = await pair(DEFAULT_DFLAGS & ~DFLAG_FRAGMENTS & ~DFLAG_DIST_HDR_ATOM_CACHE & ~DFLAG_SEND_SENDER);
    b.conn.sendMessage(pMe, pThem, 'x');
    await until(() => frames(b.received).length === 1, 5000, 'frame');
    const f = frames(b.received)[0]!;
    expect(f[0]).toBe(112);
    r.reset(f, 1);
    expect(r.readVersioned()).toEqual(tuple(2, atom(''), pThem));
    expect(r.readVersioned()).toEqual(Buffer.from('x'));
  });

  it('fragments messages over the fragment size', async () => {
    const { conn, received } = await pair(DEFAULT_DFLAGS, { fragmentSize: 1000 });
    conn.sendMessage(pMe, pThem, 'small');
    conn.sendMessage(pMe, pThem, Buffer.alloc(5000, 3));
    conn.sendMessage(pMe, pThem, 'after');
    await until(() => frames(received).length === 8, 5000, 'frames');
    const f = frames(received);
    expect(f.map((x) => x[1])).toEqual([68, 69, 70, 70, 70, 70, 70, 68]);
    expect(f[1]!.readBigUInt64BE(10)).toBe(6n);
    expect(f[6]!.readBigUInt64BE(10)).toBe(1n);
  });

  it('rolls back a message whose payload cannot be encoded', async () => {
    const { conn, received } = await pair();
    conn.sendMessage(pMe, pThem, 1);
    expect(() => conn.sendMessage(pMe, pThem, (() => 1) as unknown as Term)).toThrow();
    conn.sendMessage(pMe, pThem, 2);
    await until(() => frames(received).length === 2, 5000, 'frames');
    const r = new TermReader();
    const payloads = frames(received).map((f) => {
      r.reset(f, 3);
      r.readTerm();
      return r.readTerm();
    });
    expect(payloads).toEqual([1, 2]);
  });

  it('decodes incoming frames and ignores ticks', async () => {
    const { peer, controls } = await pair();
    const link = Buffer.concat([Buffer.from([131, 68, 0, 104, 3, 97, 1]), pidBytes(pThem), pidBytes(pMe)]);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(link.length, 0);
    peer.write(Buffer.concat([Buffer.alloc(4), h, link, Buffer.alloc(4)]));
    await until(() => controls.length === 1, 5000, 'control');
    expect(controls[0]).toEqual({ kind: 'link', from: pThem, to: pMe });
  });

  it('processes frames that arrived together with the end of the handshake', async () => {
    const link = Buffer.concat([Buffer.from([131, 68, 0, 104, 3, 97, 1]), pidBytes(pThem), pidBytes(pMe)]);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(link.length, 0);
    const { controls } = await pair(DEFAULT_DFLAGS, { preload: Buffer.concat([h, link]) });
    await until(() => controls.length === 1, 5000, 'control');
    expect(controls[0]).toEqual({ kind: 'link', from: pThem, to: pMe });
  });

  it('drops the connection on an undecodable frame, with a logged code', async () => {
    const { peer, closes, log } = await pair();
    const h = Buffer.alloc(4);
    h.writeUInt32BE(3, 0);
    peer.write(Buffer.concat([h, Buffer.from([1, 2, 3])]));
    await until(() => closes.length === 1, 5000, 'close');
    expect(closes[0]).toMatchObject({ code: 'bad_input', detail: 'bad_header' });
    expect(log.codes('warn')).toEqual(['bad_header']);
  });

  it('keeps going when the handler throws', async () => {
    let n = 0;
    const { peer, controls, log, closes } = await pair(DEFAULT_DFLAGS, {
      onControl: () => {
        if (n++ === 0) throw new Error('handler bug');
      },
    });
    const link = Buffer.concat([Buffer.from([131, 68, 0, 104, 3, 97, 1]), pidBytes(pThem), pidBytes(pMe)]);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(link.length, 0);
    peer.write(Buffer.concat([h, link, h, link]));
    await until(() => controls.length === 1, 5000, 'second control');
    expect(log.codes('error')).toEqual(['handler_error']);
    expect(closes).toEqual([]);
  });

  it('pauses flushing when the socket is full and resumes on drain', async () => {
    const { conn, peer, received } = await pair();
    peer.pause();
    const big = Buffer.alloc(60_000, 1);
    let sent = 0;
    while (conn.writable && sent < 10_000) {
      conn.sendMessage(pMe, pThem, big);
      sent++;
      conn.flush();
    }
    expect(conn.writable).toBe(false);
    conn.sendMessage(pMe, pThem, 'queued while blocked');
    sent++;
    expect(conn.pendingBytes).toBeGreaterThan(0);
    const drained = new Promise<void>((r) => conn.once('drain', () => r()));
    peer.resume();
    await drained;
    expect(conn.writable).toBe(true);
    await until(() => frames(received).length === sent, 10_000, 'all frames');
  });

  it('closes once, with the reason', async () => {
    const { conn, closes } = await pair();
    conn.close('disconnect', 'test');
    conn.close('disconnect', 'again');
    expect(closes).toEqual([{ code: 'disconnect', detail: 'test' }]);
    expect(conn.open).toBe(false);
    expect(() => conn.sendMessage(pMe, pThem, 1)).toThrow(/closed/);
  });
});

function pidBytes(p: Pid): Buffer {
  const name = Buffer.from(p.node.name);
  const b = Buffer.alloc(3 + name.length + 12);
  b[0] = 88;
  b[1] = 119;
  b[2] = name.length;
  name.copy(b, 3);
  b.writeUInt32BE(p.id, 3 + name.length);
  b.writeUInt32BE(p.serial, 7 + name.length);
  b.writeUInt32BE(p.creation, 11 + name.length);
  return b;
}
