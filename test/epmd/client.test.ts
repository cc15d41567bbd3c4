import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EpmdError, type EpmdRegistration, lookup, names, register } from '../../src/epmd/index.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { describeErl } from '../support/erl.ts';
import { freePort, waitFor } from './support.ts';

const run = promisify(execFile);

async function expectCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<EpmdError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected an EpmdError ${code}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EpmdError);
  expect((error as EpmdError).code).toBe(code);
  if (message !== undefined) expect((error as EpmdError).message).toMatch(message);
  return error as EpmdError;
}

describeErl('EPMD client against a private real epmd', () => {
  const open: EpmdRegistration[] = [];
  let epmd: EpmdProcess | undefined;
  let epmdPort = 0;

  beforeAll(async () => {
    epmd = await startEpmd();
    epmdPort = epmd.port;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
  });
  afterAll(async () => {
    await epmd?.stop();
  });

  async function reg(name: string, port: number, extra: { hidden?: boolean; highest?: number } = {}) {
    const r = await register({ name, port, epmdPort, ...extra });
    open.push(r);
    return r;
  }

  it('registers, and lookup and names see the node', async () => {
    const r = await reg('client_a', 15001);
    expect(r.creation).toBeGreaterThan(0);
    expect(await lookup('client_a', { epmdPort })).toEqual({
      port: 15001,
      nodeType: 77,
      protocol: 0,
      highest: 6,
      lowest: 5,
      name: 'client_a',
      extra: new Uint8Array(0),
    });
    const listed = await names({ epmdPort });
    expect(listed.epmdPort).toBe(epmdPort);
    expect(listed.names).toContainEqual({ name: 'client_a', port: 15001 });
  });

  it('registers a hidden node with NodeType 72', async () => {
    await reg('client_hidden', 15002, { hidden: true });
    expect((await lookup('client_hidden', { epmdPort }))?.nodeType).toBe(72);
  });

  it('gets a 16-bit creation (1..3) when announcing version 5 only', async () => {
    const r = await reg('client_legacy', 15003, { highest: 5 });
    expect(r.creation).toBeGreaterThanOrEqual(1);
    expect(r.creation).toBeLessThanOrEqual(3);
  });

  it('refuses a duplicate name with duplicate_name', async () => {
    await reg('client_dup', 15004);
    await expectCode(register({ name: 'client_dup', port: 15005, epmdPort }), 'duplicate_name', /client_dup/);
  });

  it('the registration vanishes when closed; a new one gets a different creation', async () => {
    const first = await register({ name: 'client_gone', port: 15006, epmdPort });
    await first.close();
    expect(first.closed).toBe(true);
    await waitFor('client_gone to be unregistered', async () =>
      (await lookup('client_gone', { epmdPort })) === undefined ? true : undefined,
    );
    const second = await reg('client_gone', 15006);
    expect(second.creation).not.toBe(first.creation);
  });

  it('lookup of an unknown name resolves undefined', async () => {
    expect(await lookup('nobody_here', { epmdPort })).toBeUndefined();
  });

  it('our names() agrees with `epmd -port P -names`', async () => {
    await reg('client_listed', 15007);
    const { stdout } = await run('epmd', ['-port', String(epmdPort), '-names']);
    expect(stdout).toContain(`epmd: up and running on port ${epmdPort} with data:`);
    const theirs = [...stdout.matchAll(/^name (\S+) at port (\d+)$/gm)].map((m) => ({
      name: m[1],
      port: Number(m[2]),
    }));
    expect((await names({ epmdPort })).names).toEqual(theirs);
    expect(theirs).toContainEqual({ name: 'client_listed', port: 15007 });
  });

  it('reads ERL_EPMD_PORT when no port is given', async () => {
    const saved = process.env.ERL_EPMD_PORT;
    process.env.ERL_EPMD_PORT = String(epmdPort);
    try {
      expect((await names()).epmdPort).toBe(epmdPort);
    } finally {
      if (saved === undefined) delete process.env.ERL_EPMD_PORT;
      else process.env.ERL_EPMD_PORT = saved;
    }
  });
});

describeErl('EPMD client: a registration is told when its epmd dies', () => {
  let epmd: EpmdProcess | undefined;
  afterAll(async () => {
    await epmd?.stop();
  });

  it('onLost fires with code closed', async () => {
    epmd = await startEpmd();
    const r = await register({ name: 'client_lost', port: 15010, epmdPort: epmd.port });
    const lost = new Promise<EpmdError>((resolve) => r.onLost(resolve));
    await epmd.stop();
    const error = await lost;
    expect(error.code).toBe('closed');
    expect(error.message).toMatch(/client_lost/);
    expect(r.closed).toBe(true);
    // A listener added after the loss is still told.
    expect((await new Promise<EpmdError>((resolve) => r.onLost(resolve))).code).toBe('closed');
  });
});

describe('EPMD client failures', () => {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    if (server !== undefined) await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
  });

  /** A TCP server that answers every connection with `reply` (or never answers when undefined). */
  async function fakeEpmd(reply: Buffer | undefined, endAfter = false): Promise<number> {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('data', () => {
        if (reply === undefined) return;
        if (endAfter) socket.end(reply);
        else socket.write(reply);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  }

  it('unreachable when nothing listens', async () => {
    const port = await freePort();
    await expectCode(register({ name: 'x', port: 1, epmdPort: port }), 'unreachable', /ECONNREFUSED/);
    await expectCode(lookup('x', { epmdPort: port }), 'unreachable');
    await expectCode(names({ epmdPort: port }), 'unreachable');
  });

  it('timeout when the peer never answers', async () => {
    const port = await fakeEpmd(undefined);
    await expectCode(register({ name: 'x', port: 1, epmdPort: port, timeoutMs: 200 }), 'timeout', /200 ms/);
    await expectCode(lookup('x', { epmdPort: port, timeoutMs: 200 }), 'timeout');
  });

  it('protocol error on a garbage answer', async () => {
    const port = await fakeEpmd(Buffer.from('HTTP/1.1 400 Bad Request\r\n'));
    await expectCode(register({ name: 'x', port: 1, epmdPort: port }), 'protocol', /tag 72/);
    await expectCode(lookup('x', { epmdPort: port }), 'protocol');
  });

  it('closed when the peer ends before a complete answer', async () => {
    const port = await fakeEpmd(Buffer.of(118, 0, 1), true);
    await expectCode(register({ name: 'x', port: 1, epmdPort: port }), 'closed', /before a complete ALIVE2/);
  });

  it('invalid_argument for a name the protocol cannot carry, before connecting', async () => {
    await expectCode(register({ name: 'a b', port: 1, epmdPort: 1 }), 'invalid_argument');
    await expectCode(register({ name: 'ok', port: 70000, epmdPort: 1 }), 'invalid_argument');
  });
});
