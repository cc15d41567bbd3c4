import { connect, createServer, type Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { adoptAccepted, dialTcp, newReadBuffer, READ_BUFFER_BYTES } from '../../src/dist/onread.ts';
import { until } from '../support/dist-helpers.ts';

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

/** A server that writes `chunks` to whoever connects, one write per turn. */
async function sender(chunks: readonly Buffer[]): Promise<number> {
  const server = createServer({ noDelay: true }, (s) => {
    sockets.push(s);
    let i = 0;
    const next = (): void => {
      if (i < chunks.length) {
        s.write(chunks[i++]!);
        setImmediate(next);
      }
    };
    next();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

describe('dialTcp', () => {
  it('hands on every read as its own copy: chunks kept across later reads stay intact', async () => {
    // Distinct fill bytes per write: a chunk that still pointed into the reused read buffer
    // would show a later write's byte.
    const chunks = Array.from({ length: 200 }, (_, i) => Buffer.alloc(1 + ((i * 37) % 300), i & 0xff));
    const port = await sender(chunks);
    const socket = dialTcp('127.0.0.1', port);
    sockets.push(socket);
    const got: Buffer[] = [];
    socket.on('data', (c: Buffer) => got.push(c));
    const total = chunks.reduce((n, c) => n + c.length, 0);
    await until(() => got.reduce((n, c) => n + c.length, 0) === total, 10_000);
    expect(Buffer.concat(got).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('delivers a transfer larger than its read buffer byte for byte', async () => {
    const big = Buffer.alloc(READ_BUFFER_BYTES * 5 + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
    const port = await sender([big]);
    const socket = dialTcp('127.0.0.1', port);
    sockets.push(socket);
    const got: Buffer[] = [];
    socket.on('data', (c: Buffer) => got.push(c));
    await until(() => got.reduce((n, c) => n + c.length, 0) === big.length, 10_000);
    expect(got.every((c) => c.length <= READ_BUFFER_BYTES)).toBe(true);
    expect(Buffer.concat(got).equals(big)).toBe(true);
  });

  it('reports the end of the stream and a refused connection as a plain socket does', async () => {
    const port = await sender([Buffer.from('bye')]);
    const socket = dialTcp('127.0.0.1', port);
    sockets.push(socket);
    let ended = false;
    socket.on('data', () => {
      // The server closes its end once the peer has read.
      for (const s of sockets) if (s !== socket) s.end();
    });
    socket.on('end', () => {
      ended = true;
    });
    await until(() => ended, 10_000);

    const closed = createServer();
    servers.push(closed);
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const freePort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    servers.pop();
    const refused = dialTcp('127.0.0.1', freePort);
    sockets.push(refused);
    const err = await new Promise<NodeJS.ErrnoException>((r) => refused.once('error', r));
    expect(err.code).toBe('ECONNREFUSED');
  });
});

/** A server whose accepted sockets are adopted; resolves its port and hands each adopted socket to `onSocket`. */
async function adoptingServer(onSocket: (adopted: Socket, original: Socket) => void): Promise<number> {
  const server = createServer({ noDelay: true, pauseOnConnect: true }, (original) => {
    const adopted = adoptAccepted(original);
    sockets.push(adopted);
    onSocket(adopted, original);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

describe('adoptAccepted', () => {
  it('takes the accepted handle on this Node.js (no silent fallback) and reads every byte intact', async () => {
    let adoptedOk = false;
    const got: Buffer[] = [];
    const port = await adoptingServer((adopted, original) => {
      adoptedOk = adopted !== original && adopted instanceof Socket && !adopted.destroyed;
      adopted.on('data', (c: Buffer) => got.push(c));
    });
    const client = connect({ host: '127.0.0.1', port, noDelay: true });
    sockets.push(client);
    await new Promise((r) => client.once('connect', r));
    const chunks = Array.from({ length: 200 }, (_, i) => Buffer.alloc(1 + ((i * 53) % 400), (i * 3) & 0xff));
    for (const c of chunks) {
      client.write(c);
      await new Promise((r) => setImmediate(r));
    }
    const total = chunks.reduce((n, c) => n + c.length, 0);
    await until(() => got.reduce((n, c) => n + c.length, 0) === total, 10_000);
    expect(adoptedOk).toBe(true);
    expect(Buffer.concat(got).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('writes, reports the peer address, ends and closes as the plain socket would', async () => {
    let server: Socket | undefined;
    const port = await adoptingServer((adopted) => {
      server = adopted;
      adopted.on('data', (c: Buffer) => adopted.write(Buffer.concat([Buffer.from('echo:'), c])));
    });
    const client = connect({ host: '127.0.0.1', port, noDelay: true });
    sockets.push(client);
    const back: Buffer[] = [];
    client.on('data', (c: Buffer) => back.push(c));
    await new Promise((r) => client.once('connect', r));
    client.write('hello');
    await until(() => Buffer.concat(back).toString() === 'echo:hello', 10_000);
    expect(server!.remoteAddress).toBe('127.0.0.1');
    expect(server!.remotePort).toBe(client.localPort);
    let ended = false;
    let closed = false;
    server!.on('end', () => {
      ended = true;
    });
    server!.on('close', () => {
      closed = true;
    });
    client.end();
    await until(() => ended && closed, 10_000);
  });

  it('falls back to the socket itself, resumed, when there is no handle to take', () => {
    const bare = new Socket();
    let resumed = false;
    bare.resume = () => {
      resumed = true;
      return bare;
    };
    expect(adoptAccepted(bare)).toBe(bare);
    expect(resumed).toBe(true);
  });
});

describe('one read buffer shared by many sockets', () => {
  it('keeps every socket’s bytes apart when they all read at once', async () => {
    // As a node runs them: one buffer for its dialed and its accepted sockets. Four clients and
    // the four adopted server ends stream distinct patterns both ways in the same turns.
    const shared = newReadBuffer();
    const serverGot = new Map<number, Buffer[]>();
    let next = 0;
    const server = createServer({ noDelay: true, pauseOnConnect: true }, (original) => {
      const adopted = adoptAccepted(original, shared);
      sockets.push(adopted);
      const id = next++;
      serverGot.set(id, []);
      adopted.on('data', (c: Buffer) => serverGot.get(id)!.push(c));
      adopted.write(pattern(id + 100, 150_000));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const clients = Array.from({ length: 4 }, () => dialTcp('127.0.0.1', port, shared));
    const clientGot = clients.map(() => [] as Buffer[]);
    clients.forEach((c, i) => {
      sockets.push(c);
      c.on('data', (b: Buffer) => clientGot[i]!.push(b));
    });
    await Promise.all(clients.map((c) => new Promise((r) => c.once('connect', r))));
    // Each client sends its own pattern; the server sends each accepted socket its own.
    for (const [i, c] of clients.entries()) c.write(pattern(i, 150_000));
    const size = (bs: Buffer[]): number => bs.reduce((n, b) => n + b.length, 0);
    await until(
      () =>
        clientGot.every((g) => size(g) === 150_000) &&
        [...serverGot.values()].every((g) => size(g) === 150_000),
      10_000,
    );
    // Which client an accepted socket belongs to is not known: each must hold one client's pattern.
    const sent = clients.map((_, i) => pattern(i, 150_000));
    for (const g of serverGot.values()) expect(sent.some((p) => p.equals(Buffer.concat(g)))).toBe(true);
    const fromServer = [...serverGot.keys()].map((id) => pattern(id + 100, 150_000));
    for (const g of clientGot) expect(fromServer.some((p) => p.equals(Buffer.concat(g)))).toBe(true);
  });
});

/** `n` bytes that differ from every other seed's at almost every offset. */
function pattern(seed: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 97 + (i >> 8)) & 0xff;
  return b;
}
