import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DFLAGS,
  DFLAG_MANDATORY_25_DIGEST,
  DFLAG_MAP_TAG,
  DFLAG_NAME_ME,
  DFLAG_PUBLISHED,
  expandMandatory25,
  flagNames,
  MANDATORY_DFLAGS_25,
  missingFlags,
  ourFlags,
} from '../../src/dist/flags.ts';
import {
  digest,
  Handshake,
  type HandshakeOutput,
  isNodeName,
  statusMessage,
} from '../../src/dist/handshake.ts';
import { a, b } from '../support/handshake-peers.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function only(out: HandshakeOutput): Buffer {
  expect(out.error).toBeUndefined();
  expect(out.send).toHaveLength(1);
  return out.send[0]!;
}

describe('flags', () => {
  it('default set is the recommended one', () => {
    expect(DEFAULT_DFLAGS).toBe(0xd07df2fbcn);
    expect(ourFlags(false)).toBe(0xd07df2fbdn);
    expect(ourFlags(true)).toBe(0xd07df2fbcn);
    expect(MANDATORY_DFLAGS_25).toBe(0x01070f94n);
    expect(DFLAG_MANDATORY_25_DIGEST).toBe(1n << 26n);
  });

  it('bit 26 stands for the mandatory set', () => {
    expect(expandMandatory25(0x04000001n) & MANDATORY_DFLAGS_25).toBe(MANDATORY_DFLAGS_25);
    expect(missingFlags(0x04000001n)).toEqual([]);
    expect(missingFlags(MANDATORY_DFLAGS_25 & ~DFLAG_MAP_TAG)).toEqual(['MAP_TAG']);
  });

  it('names flags, unknown bits in hex', () => {
    expect(flagNames(DFLAG_PUBLISHED | (1n << 40n))).toEqual(['PUBLISHED', 'UNKNOWN<10000000000>']);
  });
});

describe('digest', () => {
  it('is md5(cookie ++ decimal challenge) (reference example)', () => {
    expect(hex(digest('secret', 1234567890))).toBe('e0fcfc1ba511fc6fe6ee357c9addb932');
  });

  it('prints the challenge unsigned', () => {
    expect(digest('c', -1)).toEqual(digest('c', 4294967295));
  });
});

describe('handshake transcript', () => {
  it('send_name matches the reference frame', () => {
    const hs = Handshake.initiator({
      ...a,
      thisNode: 'ts@127.0.0.1',
      thisFlags: 0x0d07df0fbdn,
      thisCreation: 0x6b07a3e3,
      peer: 'b@127.0.0.1',
    });
    const msg = only(hs.start());
    // The reference frame with its 2-byte length (00 1b) stripped.
    expect(hex(msg)).toBe('4e0000000d07df0fbd6b07a3e3000c74734031323' + '72e302e302e31');
    expect(msg.length).toBe(0x1b);
  });

  it('runs both roles to completion with exact bytes', () => {
    const init = Handshake.initiator({ ...a, peer: 'b@127.0.0.1' });
    const acc = Handshake.acceptor(b);

    const name = only(init.start());
    expect(hex(name)).toBe(`4e0000000d07df2fbd11223344000b${Buffer.from('a@127.0.0.1').toString('hex')}`);

    const q = acc.receive(name);
    expect(q.send).toHaveLength(0);
    expect(q.question).toEqual({
      kind: 'accept',
      peer: 'a@127.0.0.1',
      flags: ourFlags(false),
      creation: 0x11223344,
    });
    expect(acc.state).toBe('await_accept');

    const accepted = acc.answerAccept('ok');
    expect(accepted.send.map(hex)).toEqual([
      '736f6b',
      `4e0000000d07df2fbddeadbeef55667788000b${Buffer.from('b@127.0.0.1').toString('hex')}`,
    ]);

    expect(init.receive(accepted.send[0]!).send).toHaveLength(0);
    const reply = only(init.receive(accepted.send[1]!));
    expect(hex(reply)).toBe(`72499602d2${hex(digest('secret', 0xdeadbeef))}`);

    const ack = acc.receive(reply);
    expect(ack.send.map(hex)).toEqual([`61${hex(digest('secret', 1234567890))}`]);
    expect(ack.result).toEqual({
      peer: 'a@127.0.0.1',
      peerCreation: 0x11223344,
      peerFlags: ourFlags(false),
      flags: ourFlags(false),
      hidden: false,
      replacesExisting: false,
    });

    const done = init.receive(ack.send[0]!);
    expect(done.send).toHaveLength(0);
    expect(done.result).toMatchObject({ peer: 'b@127.0.0.1', peerCreation: 0x55667788, hidden: false });
    expect(init.state).toBe('done');
  });

  it('is hidden unless both publish', () => {
    const init = Handshake.initiator({ ...a, thisFlags: ourFlags(true), peer: 'b@127.0.0.1' });
    const acc = Handshake.acceptor(b);
    const out = runToEnd(init, acc, 'ok');
    expect(out.init.result?.hidden).toBe(true);
    expect(out.acc.result?.hidden).toBe(true);
    expect(out.acc.result?.flags).toBe(ourFlags(true));
  });

  it('ok_simultaneous continues like ok', () => {
    const init = Handshake.initiator({ ...a, peer: 'b@127.0.0.1' });
    const acc = Handshake.acceptor(b);
    const out = runToEnd(init, acc, 'ok_simultaneous');
    expect(out.statuses).toEqual(['ok_simultaneous']);
    expect(out.init.result?.peer).toBe('b@127.0.0.1');
  });
});

function runToEnd(
  init: Handshake,
  acc: Handshake,
  status: 'ok' | 'ok_simultaneous',
): { init: HandshakeOutput; acc: HandshakeOutput; statuses: string[] } {
  acc.receive(only(init.start()));
  const accepted = acc.answerAccept(status);
  const statuses = [accepted.send[0]!.toString('latin1', 1)];
  init.receive(accepted.send[0]!);
  const reply = only(init.receive(accepted.send[1]!));
  const accOut = acc.receive(reply);
  const initOut = init.receive(accOut.send[0]!);
  return { init: initOut, acc: accOut, statuses };
}

describe('handshake statuses', () => {
  it('nok: the acceptor answers nok, the initiator waits', () => {
    const init = Handshake.initiator({ ...a, peer: 'b@127.0.0.1' });
    const acc = Handshake.acceptor(b);
    acc.receive(only(init.start()));
    const out = acc.answerAccept('nok');
    expect(out.send.map((m) => m.toString('latin1'))).toEqual(['snok']);
    expect(out.error?.code).toBe('nok_sent');
    const got = init.receive(out.send[0]!);
    expect(got.error?.code).toBe('nok');
    expect(got.send).toHaveLength(0);
  });

  it('not_allowed both ways', () => {
    const init = Handshake.initiator({ ...a, peer: 'b@127.0.0.1' });
    const acc = Handshake.acceptor(b);
    acc.receive(only(init.start()));
    const out = acc.answerAccept('not_allowed');
    expect(out.send.map((m) => m.toString('latin1'))).toEqual(['snot_allowed']);
    expect(out.error?.code).toBe('not_allowed');
    expect(init.receive(out.send[0]!).error?.code).toBe('not_allowed');
  });

  it('already_pending closes silently', () => {
    const acc = Handshake.acceptor(b);
    acc.receive(only(Handshake.initiator({ ...a, peer: 'b@127.0.0.1' }).start()));
    const out = acc.answerAccept('already_pending');
    expect(out.send).toHaveLength(0);
    expect(out.error?.code).toBe('already_pending');
  });

  it('alive + true replaces the old connection', () => {
    const init = Handshake.initiator({ ...a, peer: 'b@127.0.0.1' });
    const acc = Handshake.acceptor(b);
    acc.receive(only(init.start()));
    const alive = acc.answerAccept('alive');
    expect(alive.send.map((m) => m.toString('latin1'))).toEqual(['salive']);
    const q = init.receive(alive.send[0]!);
    expect(q.question).toEqual({ kind: 'alive', peer: 'b@127.0.0.1' });
    const yes = only(init.answerAlive(true));
    expect(yes.toString('latin1')).toBe('strue');
    const challenge = only(acc.receive(yes));
    const reply = only(init.receive(challenge));
    const ack = acc.receive(reply);
    expect(ack.result?.replacesExisting).toBe(true);
    expect(init.receive(ack.send[0]!).result?.replacesExisting).toBe(false);
  });

  it('alive + false aborts on both sides', () => {
    const init = Handshake.initiator({ ...a, peer: 'b@127.0.0.1' });
    const acc = Handshake.acceptor(b);
    acc.receive(only(init.start()));
    init.receive(acc.answerAccept('alive').send[0]!);
    const no = init.answerAlive(false);
    expect(no.send.map((m) => m.toString('latin1'))).toEqual(['sfalse']);
    expect(no.error?.code).toBe('alive_rejected');
    expect(acc.receive(no.send[0]!).error?.code).toBe('alive_rejected');
  });

  it('unknown and named: statuses fail with bad_status', () => {
    for (const text of ['what', 'named:']) {
      const init = Handshake.initiator({ ...a, peer: 'b@127.0.0.1' });
      init.start();
      expect(init.receive(statusMessage(text)).error?.code).toBe('bad_status');
    }
  });

  it('illegal transitions throw', () => {
    const acc = Handshake.acceptor(b);
    expect(() => acc.answerAccept('ok')).toThrow();
    expect(() => acc.start()).toThrow();
    const init = Handshake.initiator({ ...a, peer: 'b@127.0.0.1' });
    expect(() => init.answerAlive(true)).toThrow();
  });
});

describe('handshake rejections', () => {
  it('wrong cookie: the acceptor sends no ack', () => {
    const init = Handshake.initiator({ ...a, cookie: 'other', peer: 'b@127.0.0.1' });
    const acc = Handshake.acceptor(b);
    acc.receive(only(init.start()));
    const accepted = acc.answerAccept('ok');
    init.receive(accepted.send[0]!);
    const out = acc.receive(only(init.receive(accepted.send[1]!)));
    expect(out.send).toHaveLength(0);
    expect(out.error?.code).toBe('bad_cookie');
  });

  it('wrong cookie seen by the initiator on the ack', () => {
    const init = Handshake.initiator({ ...a, peer: 'b@127.0.0.1' });
    init.start();
    init.receive(statusMessage('ok'));
    const acc = Handshake.acceptor(b);
    acc.receive(only(Handshake.initiator({ ...a, peer: 'b@127.0.0.1' }).start()));
    const challenge = acc.answerAccept('ok').send[1]!;
    init.receive(challenge);
    const badAck = Buffer.concat([Buffer.from([0x61]), digest('nope', a.challenge)]);
    expect(init.receive(badAck).error?.code).toBe('bad_cookie');
  });

  it('challenge from another node than dialled', () => {
    const init = Handshake.initiator({ ...a, peer: 'c@127.0.0.1' });
    init.start();
    init.receive(statusMessage('ok'));
    const acc = Handshake.acceptor(b);
    acc.receive(only(Handshake.initiator({ ...a, peer: 'b@127.0.0.1' }).start()));
    expect(init.receive(acc.answerAccept('ok').send[1]!).error?.code).toBe('wrong_node');
  });

  it('acceptor rejects missing mandatory flags with not_allowed', () => {
    const init = Handshake.initiator({
      ...a,
      thisFlags: MANDATORY_DFLAGS_25 & ~DFLAG_MAP_TAG,
      peer: 'b@127.0.0.1',
    });
    const out = Handshake.acceptor(b).receive(only(init.start()));
    expect(out.error?.code).toBe('missing_flags');
    expect(out.error?.message).toContain('MAP_TAG');
    expect(out.send.map((m) => m.toString('latin1'))).toEqual(['snot_allowed']);
  });

  it('acceptor accepts a peer with only the bit-26 digest', () => {
    const init = Handshake.initiator({ ...a, thisFlags: 0x04000001n, peer: 'b@127.0.0.1' });
    const out = Handshake.acceptor(b).receive(only(init.start()));
    expect(out.question?.kind).toBe('accept');
  });

  it('initiator aborts when the acceptor lacks mandatory flags', () => {
    const init = Handshake.initiator({ ...a, peer: 'b@127.0.0.1' });
    init.start();
    init.receive(statusMessage('ok'));
    const acc = Handshake.acceptor({ ...b, thisFlags: DFLAG_PUBLISHED });
    acc.receive(only(Handshake.initiator({ ...a, peer: 'b@127.0.0.1' }).start()));
    const out = init.receive(acc.answerAccept('ok').send[1]!);
    expect(out.error?.code).toBe('missing_flags');
    expect(out.send).toHaveLength(0);
  });

  it('refuses NAME_ME with not_allowed', () => {
    const init = Handshake.initiator({
      ...a,
      thisNode: '127.0.0.1',
      thisFlags: ourFlags(true) | DFLAG_NAME_ME,
      peer: 'b@127.0.0.1',
    });
    const out = Handshake.acceptor(b).receive(only(init.start()));
    expect(out.error?.code).toBe('not_allowed');
    expect(out.send.map((m) => m.toString('latin1'))).toEqual(['snot_allowed']);
  });

  it('rejects bad names and short messages', () => {
    for (const name of ['nohost', '@h', 'a@', 'a@b@c']) {
      const init = Handshake.initiator({ ...a, thisNode: name, peer: 'b@127.0.0.1' });
      expect(Handshake.acceptor(b).receive(only(init.start())).error?.code).toBe('bad_name');
    }
    expect(Handshake.acceptor(b).receive(bytes('4e 00')).error?.code).toBe('malformed');
    expect(Handshake.acceptor(b).receive(bytes('4e0000000d07df2fbd11223344 00ff 61')).error?.code).toBe(
      'malformed',
    );
    expect(Handshake.acceptor(b).receive(bytes('73 6f6b')).error?.code).toBe('malformed');
  });

  it('the acceptor requires a 21-byte reply and the initiator a 17-byte ack', () => {
    const acc = Handshake.acceptor(b);
    acc.receive(only(Handshake.initiator({ ...a, peer: 'b@127.0.0.1' }).start()));
    acc.answerAccept('ok');
    expect(acc.receive(bytes('72 00000001')).error?.code).toBe('malformed');
    const init = Handshake.initiator({ ...a, peer: 'b@127.0.0.1' });
    init.start();
    expect(init.receive(bytes('61 00')).error?.code).toBe('unexpected_message');
  });

  it('a message while a decision is pending fails', () => {
    const acc = Handshake.acceptor(b);
    acc.receive(only(Handshake.initiator({ ...a, peer: 'b@127.0.0.1' }).start()));
    expect(acc.receive(bytes('73 6f6b')).error?.code).toBe('unexpected_message');
  });

  it('node names', () => {
    expect(isNodeName('a@b')).toBe(true);
    expect(isNodeName('a@b.c')).toBe(true);
    expect(isNodeName('ab')).toBe(false);
  });
});

describe('handshake fuzz', () => {
  it('never throws on arbitrary input, in any state', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 6 }),
        fc.boolean(),
        (msgs, initiator) => {
          const hs = initiator ? Handshake.initiator({ ...a, peer: 'b@127.0.0.1' }) : Handshake.acceptor(b);
          if (initiator) hs.start();
          for (const m of msgs) {
            const out = hs.receive(m);
            if (out.question?.kind === 'accept') hs.answerAccept('ok');
            else if (out.question?.kind === 'alive') hs.answerAlive(true);
            if (out.error !== undefined || out.result !== undefined) break;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
