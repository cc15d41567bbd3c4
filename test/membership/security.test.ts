/** Packet sealing: authentication, encryption, key rotation, replay window, and drops by reason. */
import { createSocket } from 'node:dgram';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultLocalConfig, type MembershipConfig } from '../../src/cluster/membership/config.ts';
import { encodePacket, type Packet } from '../../src/cluster/membership/messages.ts';
import { PacketSecurity, SecurityError, sealOverhead } from '../../src/cluster/membership/security.ts';
import { MembershipService, parseAddress } from '../../src/cluster/membership/service.ts';

const K1 = 'first-key-of-sixteen-bytes-or-more';
const K2 = 'second-key-of-sixteen-bytes-or-more';
const payload = encodePacket({ from: 'a', body: { type: 'ping', seq: 7, target: 'b' }, gossip: [] });

/** A fake wall clock the test moves. */
function wall(start = 1_700_000_000_000): { now: () => number; set(ms: number): void } {
  let t = start;
  return { now: () => t, set: (ms) => (t = ms) };
}

describe('PacketSecurity', () => {
  it('round-trips with HMAC and with AES-256-GCM', () => {
    for (const encrypt of [false, true]) {
      const a = new PacketSecurity({ keys: [K1], encrypt });
      const b = new PacketSecurity({ keys: [K1] });
      const sealed = a.seal('a', payload);
      const opened = b.open(sealed);
      expect(opened).toEqual({ ok: true, sender: 'a', payload: Buffer.from(payload) });
      expect(sealed.length).toBe(payload.length + sealOverhead(1, encrypt));
      // Encrypted packets do not show the payload; plain HMAC ones carry it as is.
      expect(Buffer.from(sealed).includes(Buffer.from(payload))).toBe(!encrypt);
    }
  });

  it('drops forged, foreign-key, plain and malformed packets, counting each reason', () => {
    const a = new PacketSecurity({ keys: [K1] });
    const b = new PacketSecurity({ keys: [K1] });
    const stranger = new PacketSecurity({ keys: [K2], encrypt: true });
    const sealed = Buffer.from(a.seal('a', payload));
    const forged = Buffer.from(sealed);
    forged[forged.length - 40] = forged[forged.length - 40]! ^ 1; // a payload byte
    expect(b.open(forged)).toEqual({ ok: false, reason: 'bad-mac' });
    const enc = Buffer.from(new PacketSecurity({ keys: [K1], encrypt: true }).seal('a', payload));
    enc[enc.length - 20] = enc[enc.length - 20]! ^ 1; // a ciphertext byte
    expect(b.open(enc)).toEqual({ ok: false, reason: 'bad-mac' });
    expect(b.open(stranger.seal('x', payload))).toEqual({ ok: false, reason: 'unknown-key' });
    expect(b.open(payload)).toEqual({ ok: false, reason: 'unauthenticated' });
    expect(b.open(new Uint8Array([0xd5, 0, 1]))).toEqual({ ok: false, reason: 'malformed' });
    expect(b.open(sealed.subarray(0, 20))).toEqual({ ok: false, reason: 'malformed' });
    expect(b.open(new Uint8Array(0))).toEqual({ ok: false, reason: 'malformed' });
    expect(b.drops).toEqual({
      malformed: 3,
      unauthenticated: 1,
      'unknown-key': 1,
      'bad-mac': 2,
      stale: 0,
      replay: 0,
      'sender-mismatch': 0,
    });
    // The genuine packet still opens after all that.
    expect(b.open(sealed).ok).toBe(true);
  });

  it('rotates keys: the first key seals, every key opens', () => {
    const old = new PacketSecurity({ keys: [K1] });
    const adding = new PacketSecurity({ keys: [K1, K2] }); // step 1: new key known, old key seals
    const moved = new PacketSecurity({ keys: [K2, K1] }); // step 2: new key seals
    const done = new PacketSecurity({ keys: [K2] }); // step 3: old key gone
    expect(old.open(adding.seal('p', payload)).ok).toBe(true);
    expect(adding.open(moved.seal('q', payload)).ok).toBe(true);
    expect(done.open(moved.seal('q', payload)).ok).toBe(true);
    expect(old.open(moved.seal('q', payload))).toEqual({ ok: false, reason: 'unknown-key' });
    expect(done.open(old.seal('r', payload))).toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('drops replays, accepts reordering within the window, drops what falls out of it', () => {
    const clock = wall();
    const a = new PacketSecurity({ keys: [K1], wallClock: clock.now });
    const b = new PacketSecurity({ keys: [K1], wallClock: clock.now, replayWindow: 4 });
    const p = Array.from({ length: 8 }, () => a.seal('a', payload));
    expect(b.open(p[1]!).ok).toBe(true);
    expect(b.open(p[0]!).ok).toBe(true); // reordered, within the window
    expect(b.open(p[1]!)).toEqual({ ok: false, reason: 'replay' });
    for (const i of [2, 3, 4, 5, 6]) expect(b.open(p[i]!).ok).toBe(true);
    expect(b.open(p[0]!)).toEqual({ ok: false, reason: 'replay' }); // below the window now
    expect(b.open(p[7]!).ok).toBe(true);
    expect(b.open(p[7]!)).toEqual({ ok: false, reason: 'replay' });
    expect(b.drops.replay).toBe(3);
  });

  it('drops packets outside the clock window and keeps counters increasing across a restart', () => {
    const clock = wall();
    const a = new PacketSecurity({ keys: [K1], wallClock: clock.now });
    const b = new PacketSecurity({ keys: [K1], wallClock: clock.now, maxClockSkewMs: 1000 });
    const captured = a.seal('a', payload);
    clock.set(clock.now() + 1001);
    expect(b.open(captured)).toEqual({ ok: false, reason: 'stale' });
    expect(b.open(a.seal('a', payload)).ok).toBe(true);
    // A restarted sender (a fresh object, same id) starts from the wall clock, above its old counters.
    clock.set(clock.now() + 5);
    const restarted = new PacketSecurity({ keys: [K1], wallClock: clock.now });
    expect(b.open(restarted.seal('a', payload)).ok).toBe(true);
  });

  it('bounds the senders it tracks', () => {
    const b = new PacketSecurity({ keys: [K1], maxSenders: 3 });
    const a = new PacketSecurity({ keys: [K1] });
    for (let i = 0; i < 10; i++) expect(b.open(a.seal(`s${i}`, payload)).ok).toBe(true);
    expect(b.trackedSenders).toBe(3);
  });

  it('never throws on arbitrary or mutated input', () => {
    const b = new PacketSecurity({ keys: [K1] });
    const a = new PacketSecurity({ keys: [K1], encrypt: true });
    const good = Buffer.from(a.seal('a', payload));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(255), (bytes, at, v) => {
        expect(b.open(bytes).ok).toBe(false);
        const m = Buffer.from(good);
        m[at % m.length] = v;
        const r = b.open(m);
        // Only the unchanged packet (v equal to the byte) can open, and only once.
        if (r.ok) expect(Buffer.from(r.payload)).toEqual(Buffer.from(payload));
      }),
    );
    const total = Object.values(b.drops).reduce((x, y) => x + y, 0);
    expect(total).toBeGreaterThan(0);
  });

  it('rejects bad options with stable codes', () => {
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return e instanceof SecurityError ? e.code : 'other';
      }
      return undefined;
    };
    expect(code(() => new PacketSecurity({ keys: [] }))).toBe('BAD_KEY');
    expect(code(() => new PacketSecurity({ keys: ['short'] }))).toBe('BAD_KEY');
    expect(code(() => new PacketSecurity({ keys: [K1], replayWindow: 0 }))).toBe('BAD_OPTION');
    expect(code(() => new PacketSecurity({ keys: [K1], maxClockSkewMs: -1 }))).toBe('BAD_OPTION');
  });
});

// ---- the service with sealed packets, on real UDP sockets ----

const config: MembershipConfig = {
  ...defaultLocalConfig,
  probeIntervalMs: 100,
  probeTimeoutMs: 40,
  suspicionMult: 3,
  joinRetryMs: 100,
};
const running: MembershipService[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function waitFor(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function send(address: string, bytes: Uint8Array): Promise<void> {
  const { host, port } = parseAddress(address);
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.send(bytes, port, host, () => resolve()));
  s.close();
}

describe('MembershipService with sealed packets', () => {
  it('forms a cluster when keys match, and drops forgeries, replays and impostors', async () => {
    const start = async (id: string, keys: string[], seeds: string[] = [], encrypt = true) => {
      const s = await MembershipService.start({
        id,
        config,
        seeds,
        security: new PacketSecurity({ keys, encrypt }),
      });
      running.push(s);
      return s;
    };
    const a = await start('a', [K1]);
    const c = await start('c', [K2, K1], [a.address], false); // rotating: seals with K2, opens both
    const outsider = await start('x', [K2], [a.address]);
    await waitFor(() => a.security!.drops['unknown-key'] >= 2, 3000);
    // c seals with K2, which a lacks: a drops c's packets, so c never becomes alive in a's view.
    expect(a.member('c')).toBeUndefined();
    expect(c.member('a')).toBeUndefined();
    const d = await start('d', [K1, K2], [a.address]);
    await waitFor(() => a.member('d')?.status === 'alive' && d.member('a')?.status === 'alive', 5000);
    expect(a.member('x')).toBeUndefined();

    // A forged ping (plain bytes) and a sealed ping claiming another sender.
    const before = { ...a.security!.drops };
    await send(a.address, payload);
    const impostor = new PacketSecurity({ keys: [K1] });
    const fake: Packet = { from: 'd', body: { type: 'ping', seq: 1, target: 'a' }, gossip: [] };
    await send(a.address, impostor.seal('mallory', encodePacket(fake)));
    // A replay of a genuine packet: seal once, deliver twice.
    const genuine = impostor.seal('d', encodePacket(fake));
    await send(a.address, genuine);
    await send(a.address, genuine);
    await waitFor(
      () =>
        a.security!.drops.unauthenticated > before.unauthenticated &&
        a.security!.drops['sender-mismatch'] > before['sender-mismatch'] &&
        a.security!.drops.replay > before.replay,
      2000,
    );
    expect(a.stats.securityDrops).toBeGreaterThanOrEqual(3);
    expect(a.stats.decodeErrors).toBe(0);
    // Still working.
    await waitFor(() => a.member('d')?.status === 'alive', 2000);
    expect(outsider.member('a')?.status).not.toBe('alive');
  });
});
