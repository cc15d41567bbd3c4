/** The membership service on real UDP sockets (loopback, ports chosen by the OS). */
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultLocalConfig, type MembershipConfig } from '../../src/cluster/membership/config.ts';
import {
  MembershipService,
  MembershipServiceError,
  parseAddress,
} from '../../src/cluster/membership/service.ts';

// Fast periods so the test takes a few seconds of real time.
const config: MembershipConfig = {
  ...defaultLocalConfig,
  probeIntervalMs: 100,
  probeTimeoutMs: 40,
  suspicionMult: 3,
  pushPullIntervalMs: 2000,
  joinRetryMs: 100,
};

const running: MembershipService[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(id: string, seeds: string[] = []): Promise<MembershipService> {
  const s = await MembershipService.start({ id, config, seeds });
  running.push(s);
  return s;
}

/** Polls `pred` until it holds or `ms` pass (a deadline, not a fixed sleep). */
async function waitFor(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sees = (s: MembershipService, id: string, status: string): boolean => s.member(id)?.status === status;

describe('MembershipService over UDP', () => {
  it('members join through a seed, detect a crash, and see a leave as left', async () => {
    const a = await start('a');
    const b = await start('b', [a.address]);
    const c = await start('c', [a.address]);
    const d = await start('d', [b.address]);
    const all = [a, b, c, d];
    await waitFor(() => all.every((x) => all.every((y) => sees(x, y.id, 'alive'))), 5000);

    // A crash: the socket closes without a word.
    await c.close();
    await waitFor(() => [a, b, d].every((x) => sees(x, 'c', 'dead')), 8000);

    // A graceful leave.
    await d.leave();
    await waitFor(() => [a, b].every((x) => sees(x, 'd', 'left')), 3000).catch((e) => {
      throw new Error(`${e}: ${JSON.stringify([a, b].map((x) => x.members()))}`);
    });
    expect(a.stats.decodeErrors).toBe(0);
  });

  it('drops garbage datagrams and keeps working', async () => {
    const a = await start('a');
    const b = await start('b', [a.address]);
    const { host, port } = parseAddress(a.address);
    const junk = createSocket('udp4');
    await new Promise<void>((resolve) =>
      junk.send(Buffer.from([1, 2, 3, 4, 5]), port, host, () => resolve()),
    );
    await new Promise<void>((resolve) => junk.send(Buffer.alloc(100, 0xff), port, host, () => resolve()));
    junk.close();
    await waitFor(() => a.stats.decodeErrors === 2, 2000);
    await waitFor(() => sees(a, 'b', 'alive') && sees(b, 'a', 'alive'), 3000);
  });

  it('rejects bad addresses with a stable code', async () => {
    expect(() => parseAddress('nohost')).toThrow(MembershipServiceError);
    expect(parseAddress('[::1]:7946')).toEqual({ host: '::1', port: 7946 });
    expect(parseAddress('10.0.0.1:1')).toEqual({ host: '10.0.0.1', port: 1 });
    const a = await start('a');
    try {
      a.join(['no-port']);
      expect.unreachable();
    } catch (e) {
      expect((e as MembershipServiceError).code).toBe('BAD_ADDRESS');
    }
  });
});
