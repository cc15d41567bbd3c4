import { once } from 'node:events';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  EpmdError,
  type EpmdServer,
  lookup,
  type NodeRegistration,
  names,
  type RegistrationOptions,
  type ReregisteredEvent,
  startEpmdServer,
  startRegistration,
  type Timers,
} from '../../src/epmd/index.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { describeErl } from '../support/erl.ts';
import { freePort, waitFor } from './support.ts';

const started: NodeRegistration[] = [];
const servers: EpmdServer[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((r) => r.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: RegistrationOptions): Promise<NodeRegistration> {
  const r = await startRegistration({ retryInitialDelayMs: 20, retryMaxDelayMs: 200, ...options });
  started.push(r);
  return r;
}

async function expectCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EpmdError);
  expect((error as EpmdError).code).toBe(code);
  if (message !== undefined) expect((error as EpmdError).message).toMatch(message);
}

/** Resolves with the `lost` error and then the `reregistered` event of `r`. */
function lostThenBack(r: NodeRegistration): Promise<[EpmdError, ReregisteredEvent]> {
  return new Promise((resolve) => {
    r.once('lost', (error) => r.once('reregistered', (event) => resolve([error, event])));
  });
}

/** Timers the test fires by hand, recording the requested delays. */
class ManualTimers implements Timers {
  readonly delays: number[] = [];
  readonly #pending = new Set<{ callback: () => void; ms: number }>();

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = { callback, ms };
    this.#pending.add(handle);
    this.delays.push(ms);
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as { callback: () => void; ms: number });
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Waits until a timer is pending (the shell schedules after async work), then fires it. */
  async fireNext(): Promise<number> {
    const handle = await waitFor('a pending timer', () => this.#pending.values().next().value);
    this.#pending.delete(handle);
    handle.callback();
    return handle.ms;
  }
}

describe('startRegistration: embedded and auto', () => {
  it("'embedded' hosts the server and registers with it", async () => {
    const epmdPort = await freePort();
    const r = await start({ name: 'reg_emb', port: 6001, mode: 'embedded', epmdPort });
    expect(r.hostsServer).toBe(true);
    expect(r.registered).toBe(true);
    expect(r.creation).toBeGreaterThan(0);
    expect(r.creation).toBe(r.epmdCreation);
    expect((await names({ epmdPort })).names).toEqual([{ name: 'reg_emb', port: 6001 }]);
    await r.close();
    await expectCode(names({ epmdPort }), 'unreachable');
  });

  it("'embedded' fails with address_in_use when the port is taken", async () => {
    const taken = await startEpmdServer({ port: 0, host: '127.0.0.1' });
    servers.push(taken);
    await expectCode(
      startRegistration({ name: 'reg_emb2', port: 6002, mode: 'embedded', epmdPort: taken.port }),
      'address_in_use',
      /port \d+ is taken.*'external' or 'auto'/,
    );
  });

  it("'auto' hosts when nothing answers, and the next node registers as a client", async () => {
    const epmdPort = await freePort();
    const first = await start({ name: 'reg_auto1', port: 6003, mode: 'auto', epmdPort });
    const second = await start({ name: 'reg_auto2', port: 6004, epmdPort }); // 'auto' is the default
    expect(first.hostsServer).toBe(true);
    expect(second.hostsServer).toBe(false);
    expect((await lookup('reg_auto2', { epmdPort }))?.port).toBe(6004);
    expect(first.server?.entries().map((e) => e.name)).toEqual(['reg_auto1', 'reg_auto2']);
  });

  it("'auto' nodes racing to host: one wins the port, the others register with it", async () => {
    const epmdPort = await freePort();
    const all = await Promise.all(
      ['race_a', 'race_b', 'race_c', 'race_d'].map((name, i) => start({ name, port: 6010 + i, epmdPort })),
    );
    expect(all.filter((r) => r.hostsServer)).toHaveLength(1);
    expect((await names({ epmdPort })).names.map((n) => n.name).sort()).toEqual([
      'race_a',
      'race_b',
      'race_c',
      'race_d',
    ]);
  });

  it("'auto' fails at once on a taken name", async () => {
    const epmdPort = await freePort();
    await start({ name: 'reg_taken', port: 6020, epmdPort });
    await expectCode(startRegistration({ name: 'reg_taken', port: 6021, epmdPort }), 'duplicate_name');
  });

  it("'external' fails with a clear message when nothing answers", async () => {
    const epmdPort = await freePort();
    await expectCode(
      startRegistration({ name: 'reg_ext', port: 6022, mode: 'external', epmdPort }),
      'unreachable',
      /no EPMD answers on 127\.0\.0\.1:\d+; start one/,
    );
  });

  it('{ host, port } registers with that EPMD and never hosts', async () => {
    const s = await startEpmdServer({ port: 0, host: '127.0.0.1' });
    servers.push(s);
    const r = await start({ name: 'reg_target', port: 6023, mode: { host: '127.0.0.1', port: s.port } });
    expect(r.hostsServer).toBe(false);
    expect(s.entries().map((e) => e.name)).toEqual(['reg_target']);
  });
});

describe('startRegistration: failover in one process', () => {
  it('when the host closes, one survivor hosts a new server and all re-register, keeping their creation', async () => {
    const epmdPort = await freePort();
    const host = await start({ name: 'fo_host', port: 6030, epmdPort });
    const b = await start({ name: 'fo_b', port: 6031, epmdPort });
    const c = await start({ name: 'fo_c', port: 6032, epmdPort });
    expect(host.hostsServer).toBe(true);
    const creations = [b.creation, c.creation];
    const events = Promise.all([lostThenBack(b), lostThenBack(c)]);
    await host.close();
    const [[lostB, reB], [lostC, reC]] = await events;
    expect(lostB.code).toBe('closed');
    expect(lostC.code).toBe('closed');
    expect([reB.hostsServer, reC.hostsServer].filter(Boolean)).toHaveLength(1);
    expect([b.hostsServer, c.hostsServer].filter(Boolean)).toHaveLength(1);
    expect([b.creation, c.creation]).toEqual(creations);
    expect(b.epmdCreation).toBe(reB.epmdCreation);
    expect((await names({ epmdPort })).names.map((n) => n.name).sort()).toEqual(['fo_b', 'fo_c']);
  });

  it('retries with doubling jittered delays while nothing answers, then re-registers (injected timers)', async () => {
    const s1 = await startEpmdServer({ port: 0, host: '127.0.0.1' });
    const epmdPort = s1.port;
    const timers = new ManualTimers();
    const r = await start({
      name: 'fo_timed',
      port: 6040,
      mode: 'external',
      epmdPort,
      timers,
      random: () => 0,
      retryInitialDelayMs: 100,
      retryMaxDelayMs: 1000,
    });
    const lost = once(r, 'lost');
    await s1.close();
    await lost;
    expect(r.registered).toBe(false);
    // Nothing answers: each attempt fails and schedules the next, the ceiling doubling to the cap.
    for (let i = 0; i < 5; i++) await timers.fireNext();
    await waitFor('the sixth retry to be scheduled', () => (timers.pending === 1 ? true : undefined));
    expect(timers.delays).toEqual([50, 100, 200, 400, 500, 500]);
    // An EPMD comes back on the port ('external' never hosts one itself).
    const s2 = await startEpmdServer({ port: epmdPort, host: '127.0.0.1' });
    servers.push(s2);
    const reregistered = once(r, 'reregistered') as Promise<[ReregisteredEvent]>;
    await timers.fireNext();
    const [event] = await reregistered;
    expect(event).toMatchObject({ hostsServer: false, failedAttempts: 5 });
    expect(r.registered).toBe(true);
    expect(s2.entries().map((e) => e.name)).toEqual(['fo_timed']);
    expect(timers.pending).toBe(0);
  });

  it('close() during retries cancels them', async () => {
    const s1 = await startEpmdServer({ port: 0, host: '127.0.0.1' });
    const timers = new ManualTimers();
    const r = await startRegistration({
      name: 'fo_cancel',
      port: 6041,
      mode: 'external',
      epmdPort: s1.port,
      timers,
    });
    const lost = once(r, 'lost');
    await s1.close();
    await lost;
    await waitFor('a retry to be scheduled', () => (timers.pending === 1 ? true : undefined));
    await r.close();
    expect(timers.pending).toBe(0);
    expect(r.registered).toBe(false);
  });
});

describeErl('startRegistration with a real epmd', () => {
  let epmd: EpmdProcess | undefined;
  afterAll(async () => {
    await epmd?.stop();
  });

  it("'external' and 'auto' register with it as clients; after it dies 'auto' hosts and 'external' waits", async () => {
    epmd = await startEpmd();
    const ext = await start({ name: 'real_ext', port: 6050, mode: 'external', epmdPort: epmd.port });
    const auto = await start({ name: 'real_auto', port: 6051, mode: 'auto', epmdPort: epmd.port });
    expect(ext.hostsServer).toBe(false);
    expect(auto.hostsServer).toBe(false);
    expect((await names({ epmdPort: epmd.port })).names.map((n) => n.name).sort()).toEqual([
      'real_auto',
      'real_ext',
    ]);

    const back = Promise.all([lostThenBack(ext), lostThenBack(auto)]);
    await epmd.stop();
    const [[, extEvent], [, autoEvent]] = await back;
    expect(autoEvent.hostsServer).toBe(true);
    expect(extEvent.hostsServer).toBe(false);
    expect((await names({ epmdPort: epmd.port })).names.map((n) => n.name).sort()).toEqual([
      'real_auto',
      'real_ext',
    ]);
  });
});
