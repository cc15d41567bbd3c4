import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EpmdError } from '../../src/epmd/errors.ts';
import {
  type Alive2Fields,
  aliveNameProblem,
  type Decoded,
  decodeAlive2Response,
  decodeNamesResponse,
  decodePort2Response,
  decodeRequest,
  encodeAlive2Req,
  encodeAlive2Resp,
  encodeAlive2XResp,
  encodeDumpReq,
  encodeKillReq,
  encodeNamesReq,
  encodeNamesResp,
  encodePort2Resp,
  encodePortPlease2Req,
  encodeStopReq,
  MAX_NAME_BYTES,
} from '../../src/epmd/protocol.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function expectEpmdError(fn: () => unknown, code: string, message?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(EpmdError);
  expect((caught as EpmdError).code).toBe(code);
  if (message !== undefined) expect((caught as EpmdError).message).toMatch(message);
}

const nodeA: Alive2Fields = {
  port: 15001,
  nodeType: 77,
  protocol: 0,
  highest: 6,
  lowest: 5,
  name: 'a',
  extra: new Uint8Array(0),
};

describe('EPMD codecs: bytes from the reference', () => {
  it('encodes ALIVE2_REQ as OTP 25 does (Len 14, M, 6/5)', () => {
    expect(encodeAlive2Req(nodeA).toString('hex')).toBe('000e783a994d00000600050001610000');
  });

  it('encodes a hidden ALIVE2_REQ with NodeType 72', () => {
    expect(encodeAlive2Req({ ...nodeA, nodeType: 72 })[5]).toBe(72);
  });

  it('encodes PORT_PLEASE2_REQ, NAMES_REQ and the debug requests', () => {
    expect(encodePortPlease2Req('a').toString('hex')).toBe('00027a61');
    expect(encodeNamesReq().toString('hex')).toBe('00016e');
    expect(encodeDumpReq().toString('hex')).toBe('000164');
    expect(encodeKillReq().toString('hex')).toBe('00016b');
    expect(encodeStopReq('a').toString('hex')).toBe('00027361');
  });

  it('decodes the verified PORT2_RESP for node a on port 15001, and encodes it back', () => {
    const bytes = hex('77 00 3a 99 4d 00 00 06 00 05 00 01 61 00 00');
    const decoded = decodePort2Response(bytes);
    expect(decoded).toEqual({ done: true, consumed: 15, value: { found: true, info: nodeA } });
    expect(encodePort2Resp({ found: true, info: nodeA }).equals(bytes)).toBe(true);
  });

  it('decodes the 2-byte PORT2_RESP error form', () => {
    expect(decodePort2Response(hex('77 01'))).toEqual({
      done: true,
      consumed: 2,
      value: { found: false, result: 1 },
    });
    expect(encodePort2Resp({ found: false, result: 1 }).toString('hex')).toBe('7701');
  });

  it.each([
    ['76 00 6b 07 a3 e3', { tag: 118, result: 0, creation: 0x6b07a3e3 }, 6],
    ['76 01 00 00 00 63', { tag: 118, result: 1, creation: 0x63 }, 6],
    ['79 00 00 03', { tag: 121, result: 0, creation: 3 }, 4],
  ])('decodes ALIVE2 response %s', (bytes, value, consumed) => {
    expect(decodeAlive2Response(hex(bytes))).toEqual({ done: true, value, consumed });
  });

  it('encodes ALIVE2_X_RESP and legacy ALIVE2_RESP', () => {
    expect(encodeAlive2XResp(0, 0x6b07a3e3).toString('hex')).toBe('76006b07a3e3');
    expect(encodeAlive2Resp(0, 3).toString('hex')).toBe('79000003');
  });

  it('decodes the verified NAMES reply and encodes it back', () => {
    const text = 'name epmdold at port 40003\nname epmdtest at port 40001\n';
    const bytes = Buffer.concat([hex('00 00 38 21'), Buffer.from(text)]);
    const expected = {
      epmdPort: 14369,
      names: [
        { name: 'epmdold', port: 40003 },
        { name: 'epmdtest', port: 40001 },
      ],
    };
    expect(decodeNamesResponse(bytes)).toEqual(expected);
    expect(encodeNamesResp(expected.epmdPort, expected.names).equals(bytes)).toBe(true);
  });

  it('skips malformed NAMES lines and drops an incomplete last line, as OTP does', () => {
    const text = 'name ok at port 1\ngarbage\nname big at port 70000\nname x at port 9\nname cut at po';
    const bytes = Buffer.concat([hex('00 00 11 11'), Buffer.from(text)]);
    expect(decodeNamesResponse(bytes).names).toEqual([
      { name: 'ok', port: 1 },
      { name: 'x', port: 9 },
    ]);
  });

  it('decodes each request the server understands', () => {
    const cases: [Buffer, unknown][] = [
      [encodeAlive2Req(nodeA), { type: 'ALIVE2_REQ', ...nodeA }],
      [encodePortPlease2Req('a'), { type: 'PORT_PLEASE2_REQ', name: 'a' }],
      [encodeNamesReq(), { type: 'NAMES_REQ' }],
      [encodeDumpReq(), { type: 'DUMP_REQ' }],
      [encodeKillReq(), { type: 'KILL_REQ' }],
      [encodeStopReq('a'), { type: 'STOP_REQ', name: 'a' }],
    ];
    for (const [bytes, value] of cases) {
      expect(decodeRequest(bytes, 2048)).toEqual({ done: true, value, consumed: bytes.length });
    }
  });
});

describe('EPMD codecs: refusing bad input', () => {
  it.each([
    ['an empty frame', '0000', 'protocol', /empty request/],
    ['a length above the limit, before its bytes arrive', 'ffff', 'too_large', /65535 bytes exceeds 2048/],
    ['an unknown tag', '000141', 'protocol', /unknown request tag 65/],
    ['ALIVE2_REQ shorter than its fields', '000378000a', 'protocol', /shorter/],
    [
      'ALIVE2_REQ whose name runs past the frame',
      '000d783a994d00000600050009610000',
      'protocol',
      /runs past/,
    ],
    ['ALIVE2_REQ with trailing bytes', '000f783a994d0000060005000161000000', 'protocol', /do not add up/],
    [
      'ALIVE2_REQ with an Extra running past the frame',
      '000e783a994d00000600050001610005',
      'protocol',
      /do not add up/,
    ],
    ['a name that is not UTF-8', '00037a80ff', 'protocol', /not valid UTF-8/],
    ['a name with a space', '00047a612062', 'protocol', /space/],
    ['an empty name', '00017a', 'protocol', /empty/],
  ])('decodeRequest refuses %s', (_what, bytes, code, message) => {
    expectEpmdError(() => decodeRequest(hex(bytes), 2048), code, message);
  });

  it('refuses an unexpected response tag', () => {
    expectEpmdError(() => decodeAlive2Response(hex('77')), 'protocol', /ALIVE2 response tag 119/);
    expectEpmdError(() => decodePort2Response(hex('76')), 'protocol', /PORT2 response tag 118/);
    expectEpmdError(() => decodeNamesResponse(hex('0000')), 'protocol', /lacks the 4-byte port/);
  });

  it.each([
    ['', /empty/],
    ['a b', /space/],
    ['a@b', /"@"/],
    ['a\nb', /control/],
    ['x'.repeat(256), /255 characters/],
    ['\u{1F600}'.repeat(256), /255 characters/],
    ['node_1', undefined],
  ])('aliveNameProblem(%j)', (name, problem) => {
    const found = aliveNameProblem(name);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });

  it('accepts 255 four-byte characters (1020 bytes) and non-ASCII names', () => {
    expect(Buffer.byteLength('\u{1F600}'.repeat(255))).toBe(MAX_NAME_BYTES);
    expect(aliveNameProblem('\u{1F600}'.repeat(255))).toBeUndefined();
    expect(aliveNameProblem('nœud')).toBeUndefined();
  });

  it('refuses to encode what the wire cannot carry', () => {
    expectEpmdError(() => encodeAlive2Req({ ...nodeA, port: 65536 }), 'invalid_argument', /port/);
    expectEpmdError(() => encodeAlive2Req({ ...nodeA, nodeType: 256 }), 'invalid_argument', /nodeType/);
    expectEpmdError(() => encodeAlive2Req({ ...nodeA, name: 'a b' }), 'invalid_argument', /space/);
    expectEpmdError(() => encodePortPlease2Req(''), 'invalid_argument', /empty/);
    expectEpmdError(() => encodePort2Resp({ found: false, result: 0 }), 'invalid_argument', /non-zero/);
  });
});

const nameArb = fc
  .array(
    fc.constantFrom(
      ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.',
      'é',
      'λ',
      '\u{1F600}',
    ),
    {
      minLength: 1,
      maxLength: 255,
    },
  )
  .map((chars) => chars.join(''));

const fieldsArb: fc.Arbitrary<Alive2Fields> = fc.record({
  port: fc.integer({ min: 0, max: 0xffff }),
  nodeType: fc.integer({ min: 0, max: 0xff }),
  protocol: fc.integer({ min: 0, max: 0xff }),
  highest: fc.integer({ min: 0, max: 0xffff }),
  lowest: fc.integer({ min: 0, max: 0xffff }),
  name: nameArb,
  extra: fc.uint8Array({ maxLength: 64 }),
});

/** Feeds `bytes` one byte at a time: incomplete before the end, complete exactly at the end. */
function feedByteByByte<T>(bytes: Buffer, decode: (b: Buffer) => Decoded<T>): T {
  for (let i = 0; i < bytes.length; i++) {
    expect(decode(bytes.subarray(0, i)).done).toBe(false);
  }
  const done = decode(bytes);
  if (!done.done) throw new Error('incomplete at full length');
  expect(done.consumed).toBe(bytes.length);
  return done.value;
}

describe('EPMD codecs: properties', () => {
  it('ALIVE2_REQ round-trips through decodeRequest, fed byte by byte', () => {
    fc.assert(
      fc.property(fieldsArb, (fields) => {
        const value = feedByteByByte(encodeAlive2Req(fields), (b) => decodeRequest(b, 4096));
        expect(value).toEqual({ type: 'ALIVE2_REQ', ...fields });
      }),
      { numRuns: 200 },
    );
  });

  it('PORT_PLEASE2_REQ round-trips', () => {
    fc.assert(
      fc.property(nameArb, (name) => {
        expect(feedByteByByte(encodePortPlease2Req(name), (b) => decodeRequest(b, 4096))).toEqual({
          type: 'PORT_PLEASE2_REQ',
          name,
        });
      }),
    );
  });

  it('PORT2_RESP round-trips, fed byte by byte', () => {
    fc.assert(
      fc.property(fieldsArb, fc.integer({ min: 1, max: 255 }), (info, result) => {
        expect(feedByteByByte(encodePort2Resp({ found: true, info }), decodePort2Response)).toEqual({
          found: true,
          info,
        });
        expect(feedByteByByte(encodePort2Resp({ found: false, result }), decodePort2Response)).toEqual({
          found: false,
          result,
        });
      }),
      { numRuns: 200 },
    );
  });

  it('ALIVE2 responses round-trip, fed byte by byte', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (result, creation) => {
          expect(feedByteByByte(encodeAlive2XResp(result, creation), decodeAlive2Response)).toEqual({
            tag: 118,
            result,
            creation,
          });
          expect(feedByteByByte(encodeAlive2Resp(result, creation & 0xffff), decodeAlive2Response)).toEqual({
            tag: 121,
            result,
            creation: creation & 0xffff,
          });
        },
      ),
    );
  });

  it('NAMES replies round-trip', () => {
    const entries = fc.array(fc.record({ name: nameArb, port: fc.integer({ min: 0, max: 0xffff }) }), {
      maxLength: 20,
    });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), entries, (epmdPort, names) => {
        expect(decodeNamesResponse(encodeNamesResp(epmdPort, names))).toEqual({ epmdPort, names });
      }),
    );
  });

  it('a stream of requests split at random points decodes to the same requests', () => {
    fc.assert(
      fc.property(
        fc.array(fieldsArb, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (list, cuts) => {
          const stream = Buffer.concat(list.map(encodeAlive2Req));
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let prev = 0;
          for (const p of [...points, stream.length]) {
            chunks.push(stream.subarray(prev, p));
            prev = p;
          }
          let buffered = Buffer.alloc(0);
          const out: unknown[] = [];
          for (const chunk of chunks) {
            buffered = Buffer.concat([buffered, chunk]);
            for (;;) {
              const d = decodeRequest(buffered, 4096);
              if (!d.done) break;
              out.push(d.value);
              buffered = buffered.subarray(d.consumed);
            }
          }
          expect(out).toEqual(list.map((f) => ({ type: 'ALIVE2_REQ', ...f })));
          expect(buffered.length).toBe(0);
        },
      ),
    );
  });

  it('arbitrary bytes never make the decoders throw anything but an EpmdError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => {
        const bytes = Buffer.from(raw);
        for (const decode of [
          () => decodeRequest(bytes, 32),
          () => decodeAlive2Response(bytes),
          () => decodePort2Response(bytes),
          () => decodeNamesResponse(bytes),
        ]) {
          try {
            decode();
          } catch (error) {
            expect(error).toBeInstanceOf(EpmdError);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
