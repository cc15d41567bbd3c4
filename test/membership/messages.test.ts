import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bodySize,
  decodePacket,
  encodePacket,
  type Gossip,
  gossipSize,
  type MemberState,
  MembershipCodecError,
  type Packet,
} from '../../src/cluster/membership/messages.ts';

const id = fc.string({ minLength: 1, maxLength: 40 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const gossip: fc.Arbitrary<Gossip> = fc.oneof(
  fc.record({ kind: fc.constant('alive' as const), id, incarnation: u32, address: id }),
  fc.record({ kind: fc.constant('suspect' as const), id, incarnation: u32, from: id }),
  fc.record({ kind: fc.constant('dead' as const), id, incarnation: u32, from: id }),
);
const member: fc.Arbitrary<MemberState> = fc.record({
  id,
  address: id,
  incarnation: u32,
  status: fc.constantFrom('alive' as const, 'suspect' as const, 'dead' as const, 'left' as const),
});
const packet: fc.Arbitrary<Packet> = fc.record({
  from: id,
  body: fc.oneof(
    fc.record({ type: fc.constant('ping' as const), seq: u32, target: id }),
    fc.record({ type: fc.constant('ack' as const), seq: u32 }),
    fc.record({ type: fc.constant('nack' as const), seq: u32 }),
    fc.record({
      type: fc.constant('ping-req' as const),
      seq: u32,
      target: id,
      targetAddress: id,
      nack: fc.boolean(),
    }),
    fc.record({
      type: fc.constant('push-pull' as const),
      join: fc.boolean(),
      reply: fc.boolean(),
      members: fc.array(member, { maxLength: 20 }),
    }),
    fc.record({ type: fc.constant('gossip' as const) }),
  ),
  gossip: fc.array(gossip, { maxLength: 20 }),
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MembershipCodecError);
    return (e as MembershipCodecError).code;
  }
  return undefined;
}

describe('packet codec', () => {
  it('round-trips every packet, and sizes are exact', () => {
    fc.assert(
      fc.property(packet, (p) => {
        const bytes = encodePacket(p);
        let size = bodySize(p.from, p.body);
        for (const g of p.gossip) size += gossipSize(g);
        expect(bytes.length).toBe(size);
        expect(decodePacket(bytes)).toEqual(p);
      }),
    );
  });

  it('is compact: a ping with no gossip is a few bytes', () => {
    const bytes = encodePacket({ from: 'n1', body: { type: 'ping', seq: 7, target: 'n2' }, gossip: [] });
    expect([...bytes]).toEqual([1, 1, 2, 0x6e, 0x31, 0, 0, 0, 7, 2, 0x6e, 0x32, 0]);
  });

  it('never throws anything but a MembershipCodecError on garbage or truncation', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodePacket(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(MembershipCodecError);
        }
      }),
    );
    fc.assert(
      fc.property(packet, fc.nat(), (p, cut) => {
        const bytes = encodePacket(p);
        const n = cut % bytes.length;
        expect(codeOf(() => decodePacket(bytes.subarray(0, n)))).toBe('TRUNCATED');
      }),
    );
  });

  it('reports stable codes', () => {
    const ok = encodePacket({ from: 'a', body: { type: 'ack', seq: 1 }, gossip: [] });
    expect(codeOf(() => decodePacket(Uint8Array.from([9, 1])))).toBe('BAD_VERSION');
    expect(codeOf(() => decodePacket(Uint8Array.from([1, 99, 0])))).toBe('BAD_TYPE');
    expect(codeOf(() => decodePacket(Uint8Array.from([...ok, 0])))).toBe('TRAILING_BYTES');
    expect(codeOf(() => decodePacket(ok, { maxPacketBytes: 3, maxMembers: 1 }))).toBe('TOO_LARGE');
    expect(codeOf(() => decodePacket(Uint8Array.from([1, 2, 2, 0xff, 0xfe, 0, 0, 0, 1, 0])))).toBe(
      'BAD_STRING',
    );
    // a push-pull announcing 2^32-1 members fails before allocating
    expect(codeOf(() => decodePacket(Uint8Array.from([1, 5, 1, 0x61, 0, 0xff, 0xff, 0xff, 0xff])))).toBe(
      'TOO_MANY',
    );
    expect(
      codeOf(() =>
        decodePacket(Uint8Array.from([1, 5, 1, 0x61, 0, 0, 0, 0, 100]), {
          maxPacketBytes: 100,
          maxMembers: 1000,
        }),
      ),
    ).toBe('TRUNCATED');
    const badStatus = Uint8Array.from([1, 5, 1, 0x61, 0, 0, 0, 0, 1, 1, 0x62, 1, 0x62, 0, 0, 0, 0, 9, 0]);
    expect(codeOf(() => decodePacket(badStatus))).toBe('BAD_VALUE');
    expect(codeOf(() => encodePacket({ from: 'a'.repeat(256), body: { type: 'gossip' }, gossip: [] }))).toBe(
      'BAD_STRING',
    );
    expect(codeOf(() => encodePacket({ from: 'a', body: { type: 'ack', seq: -1 }, gossip: [] }))).toBe(
      'BAD_VALUE',
    );
  });
});
