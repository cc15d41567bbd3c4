import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { dialTcp, READ_BUFFER_BYTES } from '../../src/dist/dial.ts';
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
