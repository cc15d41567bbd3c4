import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameParser, FramingError, frame2, frame4 } from '../../src/dist/framing.ts';

function drain(p: FrameParser): Buffer[] {
  const out: Buffer[] = [];
  for (let f = p.next(); f !== undefined; f = p.next()) out.push(Buffer.from(f));
  return out;
}

describe('FrameParser', () => {
  it('splits 4-byte frames and returns ticks as empty frames', () => {
    const p = new FrameParser({ headerBytes: 4 });
    p.push(Buffer.concat([frame4(Buffer.from('abc')), Buffer.alloc(4), frame4(Buffer.from('de'))]));
    expect(drain(p).map((b) => b.toString())).toEqual(['abc', '', 'de']);
    expect(p.bufferedBytes).toBe(0);
  });

  it('returns views into the chunk when a frame sits in one chunk', () => {
    const p = new FrameParser({ headerBytes: 4 });
    const chunk = Buffer.concat([frame4(Buffer.from('hello')), frame4(Buffer.from('world'))]);
    p.push(chunk);
    const f = p.next()!;
    expect(f.buffer).toBe(chunk.buffer);
    expect(f.toString()).toBe('hello');
  });

  it('copies a frame split across chunks, byte by byte', () => {
    const p = new FrameParser({ headerBytes: 2 });
    const data = Buffer.concat([frame2(Buffer.from('split me')), frame2(Buffer.from('x'))]);
    const got: string[] = [];
    for (const byte of data) {
      p.push(Buffer.from([byte]));
      for (let f = p.next(); f !== undefined; f = p.next()) got.push(f.toString());
    }
    expect(got).toEqual(['split me', 'x']);
  });

  it('switches from 2-byte to 4-byte lengths between two frames of one chunk', () => {
    const p = new FrameParser({ headerBytes: 2 });
    p.push(Buffer.concat([frame2(Buffer.from('a-ack')), frame4(Buffer.from('data')), Buffer.alloc(4)]));
    expect(p.next()!.toString()).toBe('a-ack');
    p.headerBytes = 4;
    expect(drain(p).map((b) => b.toString())).toEqual(['data', '']);
  });

  it('fails on a frame over maxFrameBytes as soon as the header arrives', () => {
    const p = new FrameParser({ headerBytes: 4, maxFrameBytes: 10 });
    p.push(Buffer.from([0, 0, 0, 11]));
    let err: unknown;
    try {
      p.next();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FramingError);
    expect((err as FramingError).code).toBe('frame_too_large');
    expect((err as FramingError).length).toBe(11);
    expect((err as FramingError).message).toBe('frame of 11 bytes exceeds maxFrameBytes 10');
  });

  it('accepts a frame of exactly maxFrameBytes', () => {
    const p = new FrameParser({ headerBytes: 4, maxFrameBytes: 3 });
    p.push(frame4(Buffer.from('abc')));
    expect(p.next()?.toString()).toBe('abc');
  });

  it('clear() forgets buffered bytes', () => {
    const p = new FrameParser({ headerBytes: 4 });
    p.push(Buffer.from([0, 0, 0, 5, 1]));
    expect(p.next()).toBeUndefined();
    p.clear();
    expect(p.bufferedBytes).toBe(0);
    p.push(frame4(Buffer.from('ok')));
    expect(p.next()?.toString()).toBe('ok');
  });

  it('reassembles any split of any frame sequence', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        fc.constantFrom<2 | 4>(2, 4),
        (frames, cuts, hb) => {
          const data = Buffer.concat(frames.map((f) => (hb === 2 ? frame2(f) : frame4(f))));
          const p = new FrameParser({ headerBytes: hb });
          const got: Buffer[] = [];
          let at = 0;
          let i = 0;
          while (at < data.length) {
            const n = cuts[i++ % cuts.length]!;
            p.push(data.subarray(at, at + n));
            at += n;
            for (let f = p.next(); f !== undefined; f = p.next()) got.push(Buffer.from(f));
          }
          expect(got).toEqual(frames.map((f) => Buffer.from(f)));
          expect(p.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
