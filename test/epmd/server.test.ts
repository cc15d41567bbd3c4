import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EpmdError,
  type EpmdRegistration,
  type EpmdServer,
  type EpmdServerOptions,
  epmdServerDefaults,
  lookup,
  names,
  register,
  startEpmdServer,
} from '../../src/epmd/index.ts';
import { encodeAlive2Req, encodeDumpReq, encodeKillReq, encodeStopReq } from '../../src/epmd/protocol.ts';
import { waitFor } from './support.ts';

const servers: EpmdServer[] = [];
const registrations: EpmdRegistration[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(registrations.splice(0).map((r) => r.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(options: Partial<EpmdServerOptions> = {}): Promise<EpmdServer> {
  const s = await startEpmdServer({ port: 0, host: '127.0.0.1', ...options });
  servers.push(s);
  return s;
}

async function reg(
  epmdPort: number,
  name: string,
  port: number,
  extra: { hidden?: boolean; highest?: number } = {},
) {
  const r = await register({ name, port, epmdPort, ...extra });
  registrations.push(r);
  return r;
}

/** Opens a raw connection, sends `bytes`, and resolves with everything received until close. */
async function raw(
  port: number,
  bytes: Buffer,
  host = '127.0.0.1',
): Promise<{ received: Buffer; socket: Socket }> {
  const socket = connect({ port, host });
  sockets.push(socket);
  socket.on('error', () => {});
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(bytes);
  await once(socket, 'close');
  return { received: Buffer.concat(chunks), socket };
}

/** A connection that sends `bytes` and then keeps quiet. */
async function stall(port: number, bytes: Buffer): Promise<{ socket: Socket; closed: Promise<unknown> }> {
  const socket = connect({ port, host: '127.0.0.1' });
  sockets.push(socket);
  socket.on('error', () => {});
  const closed = once(socket, 'close');
  await once(socket, 'connect');
  if (bytes.length > 0) socket.write(bytes);
  return { socket, closed };
}

/** The server still answers a good client. */
async function stillServes(s: EpmdServer): Promise<void> {
  const name = `probe${Math.floor(Math.random() * 1e9)}`;
  const r = await reg(s.port, name, 4242);
  expect((await lookup(name, { epmdPort: s.port }))?.port).toBe(4242);
  await r.close();
}

describe('embedded EPMD server with our client', () => {
  it('registers, answers PORT_PLEASE2 and NAMES, and emits events', async () => {
    const s = await server();
    const registered = once(s, 'registered');
    const a = await reg(s.port, 'srv_a', 5001);
    const [entry] = await registered;
    expect(entry).toMatchObject({ name: 'srv_a', port: 5001, creation: a.creation });
    expect(a.creation).toBeGreaterThan(0);
    await reg(s.port, 'srv_h', 5002, { hidden: true });
    expect(await lookup('srv_a', { epmdPort: s.port })).toMatchObject({
      port: 5001,
      nodeType: 77,
      highest: 6,
      lowest: 5,
    });
    expect((await lookup('srv_h', { epmdPort: s.port }))?.nodeType).toBe(72);
    expect(await lookup('srv_none', { epmdPort: s.port })).toBeUndefined();
    expect(await names({ epmdPort: s.port })).toEqual({
      epmdPort: s.port,
      names: [
        { name: 'srv_a', port: 5001 },
        { name: 'srv_h', port: 5002 },
      ],
    });
  });

  it('answers a version-5 client with the legacy 16-bit ALIVE2_RESP (creation 1..3)', async () => {
    const s = await server();
    const r = await reg(s.port, 'srv_old', 5003, { highest: 5 });
    expect(r.creation).toBeGreaterThanOrEqual(1);
    expect(r.creation).toBeLessThanOrEqual(3);
  });

  it('refuses a duplicate name, and removes a registration when its socket closes', async () => {
    const s = await server();
    const first = await reg(s.port, 'srv_dup', 5004);
    await expect(register({ name: 'srv_dup', port: 5005, epmdPort: s.port })).rejects.toMatchObject({
      code: 'duplicate_name',
    });
    const unregistered = once(s, 'unregistered');
    await first.close();
    expect((await unregistered)[0]).toMatchObject({ name: 'srv_dup' });
    expect(await lookup('srv_dup', { epmdPort: s.port })).toBeUndefined();
    const second = await reg(s.port, 'srv_dup', 5004);
    expect(second.creation).not.toBe(first.creation);
  });

  it('refuses registrations beyond maxRegistrations with a non-zero result', async () => {
    const s = await server({ maxRegistrations: 1 });
    await reg(s.port, 'srv_one', 5006);
    await expect(register({ name: 'srv_two', port: 5007, epmdPort: s.port })).rejects.toBeInstanceOf(
      EpmdError,
    );
    expect(s.entries().map((e) => e.name)).toEqual(['srv_one']);
  });

  it('answers KILL_REQ with NO, STOP_REQ with NOEXIST, DUMP_REQ with its port, and stays up', async () => {
    const s = await server();
    await reg(s.port, 'srv_keep', 5008);
    expect((await raw(s.port, encodeKillReq())).received.toString()).toBe('NO');
    expect((await raw(s.port, encodeStopReq('srv_keep'))).received.toString()).toBe('NOEXIST');
    const dump = (await raw(s.port, encodeDumpReq())).received;
    expect(dump.readUInt32BE(0)).toBe(s.port);
    expect(s.entries().map((e) => e.name)).toEqual(['srv_keep']);
    await stillServes(s);
  });

  it('close() ends every registration: their owners are told', async () => {
    const s = await startEpmdServer({ port: 0, host: '127.0.0.1' });
    const r = await register({ name: 'srv_end', port: 5009, epmdPort: s.port });
    const lost = new Promise<EpmdError>((resolve) => r.onLost(resolve));
    await s.close();
    expect((await lost).code).toBe('closed');
  });

  it('fails with address_in_use when the port is taken', async () => {
    const s = await server();
    await expect(startEpmdServer({ port: s.port, host: '127.0.0.1' })).rejects.toMatchObject({
      code: 'address_in_use',
      message: expect.stringMatching(/in use/),
    });
  });
});

describe('embedded EPMD server under garbage and stalls', () => {
  it('closes a connection that sends random bytes, and keeps serving', async () => {
    const s = await server({ requestTimeoutMs: 200 });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
        const c = await stall(s.port, Buffer.from(bytes));
        // Either refused at once, or closed by the request timeout: never left open.
        await c.closed;
      }),
      { numRuns: 25 },
    );
    await stillServes(s);
  });

  it('closes at once a connection whose length prefix exceeds maxRequestBytes', async () => {
    const s = await server({ maxRequestBytes: 100 });
    const c = await stall(s.port, Buffer.of(0x00, 0x65));
    const started = Date.now();
    await c.closed;
    expect(Date.now() - started).toBeLessThan(epmdServerDefaults.requestTimeoutMs);
    await stillServes(s);
  });

  it('closes a connection that sends half a request and stalls, serving others meanwhile', async () => {
    const s = await server({ requestTimeoutMs: 300 });
    const half = encodeAlive2Req({
      port: 1,
      nodeType: 77,
      protocol: 0,
      highest: 6,
      lowest: 5,
      name: 'stalled',
      extra: new Uint8Array(0),
    }).subarray(0, 7);
    const c = await stall(s.port, half);
    await stillServes(s);
    expect(c.socket.destroyed).toBe(false);
    await c.closed;
    await waitFor('the server to drop the stalled connection', () =>
      s.pendingConnections === 0 ? true : undefined,
    );
    expect(s.entries()).toEqual([]);
    await stillServes(s);
  });

  it('closes connections beyond maxPendingConnections at once', async () => {
    const s = await server({ maxPendingConnections: 2, requestTimeoutMs: 5_000 });
    const first = await stall(s.port, Buffer.alloc(0));
    const second = await stall(s.port, Buffer.alloc(0));
    await waitFor('two pending connections', () => (s.pendingConnections === 2 ? true : undefined));
    const third = await stall(s.port, Buffer.alloc(0));
    await third.closed;
    expect(first.socket.destroyed || second.socket.destroyed).toBe(false);
    first.socket.destroy();
    second.socket.destroy();
    await waitFor('no pending connections', () => (s.pendingConnections === 0 ? true : undefined));
    await stillServes(s);
  });

  it('ignores bytes sent after a registration', async () => {
    const s = await server();
    const socket = connect({ port: s.port, host: '127.0.0.1' });
    sockets.push(socket);
    await once(socket, 'connect');
    const alive = encodeAlive2Req({
      port: 7,
      nodeType: 77,
      protocol: 0,
      highest: 6,
      lowest: 5,
      name: 'chatty',
      extra: new Uint8Array(0),
    });
    socket.write(Buffer.concat([alive, Buffer.alloc(10_000, 0xff)]));
    const [reply] = (await once(socket, 'data')) as [Buffer];
    expect(reply[0]).toBe(118);
    expect(reply[1]).toBe(0);
    expect((await lookup('chatty', { epmdPort: s.port }))?.port).toBe(7);
  });
});
