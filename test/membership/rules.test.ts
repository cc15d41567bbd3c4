/** Unit tests of the limits and configuration around the SWIM rules (the rules themselves are in the transcripts). */
import { describe, expect, it } from 'vitest';
import {
  defaultLanConfig,
  defaultLocalConfig,
  defaultWanConfig,
  type MembershipConfig,
  MembershipConfigError,
  validateConfig,
  withoutLifeguard,
} from '../../src/cluster/membership/config.ts';
import type { Packet } from '../../src/cluster/membership/messages.ts';
import { Swim } from '../../src/cluster/membership/swim.ts';
import { Prng } from '../../src/sim/prng.ts';

const node = (config: MembershipConfig = defaultLanConfig, members: string[] = []): Swim =>
  new Swim({ id: 'a', config, rng: new Prng(1), nowMs: 0, members: members.map((id) => ({ id })) });

describe('configuration', () => {
  it('profiles override the LAN defaults only where they differ', () => {
    expect(defaultWanConfig.probeIntervalMs).toBe(5000);
    expect(defaultWanConfig.indirectChecks).toBe(defaultLanConfig.indirectChecks);
    expect(defaultLocalConfig.probeTimeoutMs).toBe(200);
    expect(defaultLocalConfig.probeIntervalMs).toBe(defaultLanConfig.probeIntervalMs);
    for (const c of [defaultLanConfig, defaultWanConfig, defaultLocalConfig])
      expect(() => validateConfig(c)).not.toThrow();
  });

  it('withoutLifeguard turns off exactly the Lifeguard refinements and our own extras', () => {
    const off = withoutLifeguard(defaultLanConfig);
    expect(off).toEqual({
      ...defaultLanConfig,
      suspicionMaxTimeoutMult: 1,
      awarenessMaxMultiplier: 1,
      buddySystem: false,
      nacks: false,
      lastChanceProbe: false,
      staleCorrection: false,
    });
  });

  it('rejects impossible settings with a stable code', () => {
    const bad = [
      { ...defaultLanConfig, probeIntervalMs: 0 },
      { ...defaultLanConfig, probeTimeoutMs: 1000 },
      { ...defaultLanConfig, gossipNodes: -1 },
      { ...defaultLanConfig, maxPacketBytes: 100 },
      { ...defaultLanConfig, suspicionMult: Number.NaN },
    ];
    for (const c of bad) {
      expect(() => node(c)).toThrow(MembershipConfigError);
      try {
        validateConfig(c);
      } catch (e) {
        expect((e as MembershipConfigError).code).toBe('BAD_MEMBERSHIP_CONFIG');
      }
    }
  });
});

describe('limits on remote input', () => {
  it('the member table does not grow past maxMembers', () => {
    const s = node({ ...defaultLanConfig, maxMembers: 5 });
    const gossip = Array.from({ length: 20 }, (_, i) => ({
      kind: 'alive' as const,
      id: `x${i}`,
      incarnation: 0,
      address: `x${i}`,
    }));
    s.handle('x0', { from: 'x0', body: { type: 'gossip' }, gossip }, 0);
    expect(s.size).toBe(5);
  });

  it('ping-req work is bounded by maxPendingIndirect', () => {
    const s = node({ ...defaultLanConfig, maxPendingIndirect: 3 }, ['b']);
    for (let i = 0; i < 10; i++) {
      s.handle(
        'b',
        {
          from: 'b',
          body: { type: 'ping-req', seq: i, target: 't', targetAddress: 't', nack: true },
          gossip: [],
        },
        0,
      );
    }
    expect(s.ready().packets.filter((p) => p.packet.body.type === 'ping')).toHaveLength(3);
  });

  it('ignores a packet that claims to come from this member', () => {
    const s = node(defaultLanConfig, ['b']);
    const p: Packet = {
      from: 'a',
      body: { type: 'ping', seq: 1, target: 'a' },
      gossip: [{ kind: 'suspect', id: 'b', incarnation: 0, from: 'a' }],
    };
    s.handle('evil', p, 0);
    expect(s.ready().packets).toEqual([]);
    expect(s.member('b')?.status).toBe('alive');
  });

  it('packs piggybacked gossip within maxPacketBytes', () => {
    const s = node({ ...defaultLanConfig, maxPacketBytes: 300 }, ['b']);
    const gossip = Array.from({ length: 100 }, (_, i) => ({
      kind: 'alive' as const,
      id: `member-with-a-long-name-${i}`,
      incarnation: 0,
      address: `10.0.0.${i}:7946`,
    }));
    s.handle('b', { from: 'b', body: { type: 'ping', seq: 1, target: 'a' }, gossip }, 0);
    const [ack] = s.ready().packets;
    expect(ack).toBeDefined();
    const bytes = ack!.packet.gossip.reduce(
      (n, g) => n + 1 + 1 + g.id.length + 4 + 1 + (g.kind === 'alive' ? g.address.length : 0),
      0,
    );
    expect(ack!.packet.gossip.length).toBeGreaterThan(3);
    expect(bytes).toBeLessThanOrEqual(300);
  });
});

describe('driver contract', () => {
  it('nextTickAtMs is never in the past and a tick at it makes progress', () => {
    const s = node(defaultLanConfig, ['b', 'c']);
    let now = 0;
    let pings = 0;
    for (let i = 0; i < 50; i++) {
      const r = s.ready();
      pings += r.packets.filter((p) => p.packet.body.type === 'ping').length;
      expect(r.nextTickAtMs).toBeGreaterThanOrEqual(now);
      now = r.nextTickAtMs;
      s.tick(now);
    }
    // Nobody answers: b and c are suspected, declared dead and stop being probed; time still moves.
    expect(pings).toBeGreaterThanOrEqual(2);
    expect(now).toBeGreaterThan(10_000);
  });
});
