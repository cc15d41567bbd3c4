import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DistFrameError,
  type DistMessage,
  FRAGMENT_SIZE,
  FragmentAssembler,
  fragmentFrames,
  readDistFrame,
} from '../../src/dist/fragments.ts';
import { FrameParser } from '../../src/dist/framing.ts';
import { encode, TermReader, TermWriter } from '../../src/term/index.ts';
import { atom, Pid, type Term, tuple } from '../../src/term/types.ts';
import { thrownCode } from '../support/dist-helpers.ts';

const p = new Pid(atom('a@h.x'), 1, 0, 1);

function body(control: Term, payload?: Term): Buffer {
  const w = new TermWriter();
  w.writeTerm(control);
  if (payload !== undefined) w.writeTerm(payload);
  return w.finish();
}

function read(frame: Buffer, distHeader: boolean, asm = new FragmentAssembler()): DistMessage | undefined {
  const out: DistMessage = { control: 0, payload: undefined };
  return readDistFrame(frame, distHeader, new TermReader(), asm, out) ? out : undefined;
}

describe('readDistFrame', () => {
  it('pass-through: 112, then 131-prefixed control and payload', () => {
    const frame = Buffer.concat([Buffer.from([112]), encode(tuple(22, p, p)), encode('hello')]);
    expect(read(frame, false)).toEqual({ control: tuple(22, p, p), payload: Buffer.from('hello') });
  });

  it('pass-through without payload', () => {
    const frame = Buffer.concat([Buffer.from([112]), encode(tuple(1, p, p))]);
    expect(read(frame, false)).toEqual({ control: tuple(1, p, p), payload: undefined });
  });

  it('distribution header 131 68 0', () => {
    const frame = Buffer.concat([Buffer.from([131, 68, 0]), body(tuple(22, p, p), 42)]);
    expect(read(frame, true)).toEqual({ control: tuple(22, p, p), payload: 42 });
  });

  it('is strict about the negotiated encoding', () => {
    const passThrough = Buffer.concat([Buffer.from([112]), encode(tuple(1, p, p))]);
    const header = Buffer.concat([Buffer.from([131, 68, 0]), body(tuple(1, p, p))]);
    expect(thrownCode(() => read(passThrough, true))).toBe('bad_header');
    expect(thrownCode(() => read(header, false))).toBe('bad_header');
    expect(thrownCode(() => read(Buffer.from([131, 99, 0]), true))).toBe('bad_header');
    expect(thrownCode(() => read(Buffer.from([131, 69, 0]), true))).toBe('bad_header');
  });

  it('refuses atom cache references', () => {
    const frame = Buffer.concat([Buffer.from([131, 68, 1, 0, 0]), body(tuple(1, p, p))]);
    expect(thrownCode(() => read(frame, true))).toBe('atom_cache_refs');
  });

  it('refuses compressed terms at the top level', () => {
    const z = encode(tuple(1, p, p, Buffer.alloc(1000)), { compressed: true });
    expect(z[1]).toBe(80);
    expect(thrownCode(() => read(Buffer.concat([Buffer.from([112]), z]), false))).toBe('compressed_term');
  });

  it('refuses trailing bytes and broken terms', () => {
    const frame = Buffer.concat([Buffer.from([131, 68, 0]), body(tuple(1, p, p)), Buffer.from([106, 106])]);
    expect(thrownCode(() => read(frame, true))).toBe('trailing_bytes');
    expect(thrownCode(() => read(Buffer.from([131, 68, 0, 104, 3]), true))).toBe('length_exceeds_input');
  });
});

describe('fragments', () => {
  it('splits like the BEAM: 800 000 bytes in 13 fragments of 65 536', () => {
    const b = Buffer.alloc(800_000, 7);
    const frames = fragmentFrames(b, 5n);
    expect(frames).toHaveLength(26);
    expect(frames[0]!.readUInt32BE(0) + 0).toBe(65_555); // 18 header + 0 + 65536
    expect(frames[0]!.length + frames[1]!.length - 4).toBe(65_555);
    expect(frames[2]!.readUInt32BE(0)).toBe(65_554);
    expect(frames[25]!.length).toBe(800_000 - 12 * FRAGMENT_SIZE);
    expect(frames[0]!.subarray(4, 23).toString('hex')).toBe(
      `8345${'0000000000000005'}${'000000000000000d'}00`,
    );
    expect(frames[24]!.subarray(4, 22).toString('hex')).toBe(
      `8346${'0000000000000005'}${'0000000000000001'}`,
    );
  });

  it('reassembles interleaved sequences from many senders', () => {
    const a = body(tuple(22, p, p), Buffer.alloc(200_000, 1));
    const b = body(tuple(22, p, p), Buffer.alloc(150_000, 2));
    const fa = framesOf(fragmentFrames(a, 1n));
    const fb = framesOf(fragmentFrames(b, 2n));
    const asm = new FragmentAssembler();
    const got: DistMessage[] = [];
    const order = [fa[0], fb[0], fa[1], fb[1], fb[2], fa[2], fa[3]];
    for (const f of order) {
      const m = read(f!, true, asm);
      if (m !== undefined) got.push(m);
    }
    expect(got.map((m) => (m.payload as Buffer).length)).toEqual([150_000, 200_000]);
    expect(asm.pendingSequences).toBe(0);
    expect(asm.pendingBytes).toBe(0);
  });

  it('a single start fragment (id 1) is a whole message', () => {
    const frames = framesOf(fragmentFrames(body(tuple(1, p, p)), 9n, 1 << 20));
    expect(frames).toHaveLength(1);
    expect(read(frames[0]!, true)).toEqual({ control: tuple(1, p, p), payload: undefined });
  });

  it('rejects continuations out of order or of unknown sequences', () => {
    const frames = framesOf(fragmentFrames(Buffer.alloc(200_000), 1n));
    const asm = new FragmentAssembler();
    expect(thrownCode(() => read(frames[1]!, true, asm))).toBe('bad_fragment');
    read(frames[0]!, true, asm);
    expect(thrownCode(() => read(frames[0]!, true, asm))).toBe('bad_fragment');
    expect(thrownCode(() => read(frames[2]!, true, asm))).toBe('bad_fragment');
  });

  it('limits bytes per sequence and sequences in progress', () => {
    const small = new FragmentAssembler({ maxFragmentedMessageBytes: 100_000 });
    const frames = framesOf(fragmentFrames(Buffer.alloc(200_000), 1n));
    read(frames[0]!, true, small);
    expect(thrownCode(() => read(frames[1]!, true, small))).toBe('fragment_too_large');

    const few = new FragmentAssembler({ maxFragmentSequences: 2 });
    for (const seq of [1n, 2n]) read(framesOf(fragmentFrames(Buffer.alloc(70_000), seq))[0]!, true, few);
    const third = framesOf(fragmentFrames(Buffer.alloc(70_000), 3n))[0]!;
    let err: unknown;
    try {
      read(third, true, few);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DistFrameError);
    expect((err as DistFrameError).code).toBe('too_many_fragment_sequences');
    expect(few.pendingBytes).toBe(2 * FRAGMENT_SIZE);
    few.clear();
    expect(few.pendingSequences).toBe(0);
    expect(few.pendingBytes).toBe(0);
  });

  it('round-trips any body through fragments and the frame parser', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 700 }), (size, frag) => {
        const b = body(tuple(22, p, p), Buffer.alloc(size, size & 0xff));
        const frames = framesOf(fragmentFrames(b, 77n, frag));
        const asm = new FragmentAssembler();
        const got = frames.map((f) => read(f, true, asm)).filter((m) => m !== undefined);
        expect(got).toHaveLength(1);
        expect((got[0]!.payload as Buffer).length).toBe(size);
      }),
      { numRuns: 200 },
    );
  });
});

/** The frame bodies of `[head, part, head, part, ...]` output. */
function framesOf(parts: Buffer[]): Buffer[] {
  const parser = new FrameParser({ headerBytes: 4 });
  parser.push(Buffer.concat(parts));
  const out: Buffer[] = [];
  for (let f = parser.next(); f !== undefined; f = parser.next()) out.push(f);
  return out;
}
