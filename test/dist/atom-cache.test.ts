import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ATOM_CACHE_SLOTS, AtomCache } from '../../src/dist/atom-cache.ts';
import { type DistMessage, FragmentAssembler, readDistFrame } from '../../src/dist/fragments.ts';
import { decode, encode, TermReader } from '../../src/term/index.ts';
import { atom, Fun, Pid, tuple } from '../../src/term/types.ts';
import { thrownCode } from '../support/dist-helpers.ts';

/** One reference of a header: a new entry when `text` is given, else an old one. */
interface Ref {
  seg: number;
  idx: number;
  text?: string;
}

/** The header's references section (from NumberOfAtomCacheRefs on), built by hand from the spec. */
function refsSection(refs: readonly Ref[], long = false): Buffer {
  const n = refs.length;
  if (n === 0) return Buffer.from([0]);
  const flags = Buffer.alloc((n >> 1) + 1);
  const nib = (i: number, v: number): void => {
    flags[i >> 1] = flags[i >> 1]! | ((i & 1) === 0 ? v : v << 4);
  };
  const parts: Buffer[] = [];
  refs.forEach((r, i) => {
    nib(i, (r.text !== undefined ? 8 : 0) | r.seg);
    parts.push(Buffer.from([r.idx]));
    if (r.text !== undefined) {
      const t = Buffer.from(r.text, 'utf8');
      if (long) parts.push(Buffer.from([t.length >> 8, t.length & 255]));
      else parts.push(Buffer.from([t.length]));
      parts.push(t);
    }
  });
  nib(n, long ? 1 : 0);
  return Buffer.concat([Buffer.from([n]), flags, ...parts]);
}

const ref = (i: number): Buffer => Buffer.from([82, i]);
/** A pid whose node atom is the cache reference `i`. */
const pidRef = (i: number, id: number): Buffer =>
  Buffer.concat([Buffer.from([88]), ref(i), Buffer.from([0, 0, 0, id, 0, 0, 0, 0, 0, 0, 0, 1])]);

/** A tuple of the given encoded elements. */
const tup = (...elems: Buffer[]): Buffer => Buffer.concat([Buffer.from([104, elems.length]), ...elems]);

function normal(refs: readonly Ref[], body: Buffer, long = false): Buffer {
  return Buffer.concat([Buffer.from([131, 68]), refsSection(refs, long), body]);
}

function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
}

function fragStart(seq: number, count: number, refs: readonly Ref[], part: Buffer): Buffer {
  return Buffer.concat([Buffer.from([131, 69]), u64(seq), u64(count), refsSection(refs), part]);
}

function fragCont(seq: number, id: number, part: Buffer): Buffer {
  return Buffer.concat([Buffer.from([131, 70]), u64(seq), u64(id), part]);
}

class Peer {
  readonly cache: AtomCache;
  readonly asm: FragmentAssembler = new FragmentAssembler();
  readonly reader: TermReader = new TermReader();
  constructor(atomBudget?: number) {
    this.cache = new AtomCache(atomBudget);
  }
  read(frame: Buffer): DistMessage | undefined {
    const out: DistMessage = { control: 0, payload: undefined };
    return readDistFrame(frame, true, this.reader, this.asm, out, this.cache) ? out : undefined;
  }
}

const node = atom('erl@h.x');

describe('atom cache header', () => {
  it('binds new entries in mixed segments, then resolves old references', () => {
    const peer = new Peer();
    const first = normal(
      [
        { seg: 0, idx: 5, text: 'erl@h.x' },
        { seg: 3, idx: 200, text: 'foo' },
        { seg: 7, idx: 255, text: '日本語' },
      ],
      Buffer.concat([tup(ref(1), pidRef(0, 7)), ref(2)]),
    );
    expect(peer.read(first)).toEqual({
      control: tuple(atom('foo'), new Pid(node, 7, 0, 1)),
      payload: atom('日本語'),
    });
    expect(peer.cache.slot(0 * 256 + 5)).toBe(node);
    expect(peer.cache.slot(3 * 256 + 200)).toBe(atom('foo'));
    expect(peer.cache.slot(7 * 256 + 255)).toBe(atom('日本語'));

    const second = normal(
      [
        { seg: 7, idx: 255 },
        { seg: 0, idx: 5 },
        { seg: 3, idx: 200 },
      ],
      Buffer.concat([tup(ref(2), ref(1), ref(0), ref(2)), pidRef(1, 9)]),
    );
    expect(peer.read(second)).toEqual({
      control: tuple(atom('foo'), node, atom('日本語'), atom('foo')),
      payload: new Pid(node, 9, 0, 1),
    });
  });

  it('reads flag nibbles in order for odd and even counts, rebinding a slot', () => {
    const peer = new Peer();
    peer.read(normal([{ seg: 2, idx: 1, text: 'old' }], tup()));
    // Ref 0 new (low nibble of byte 0), ref 1 old (high nibble), ref 2 new in a fresh slot, ref 3
    // rebinding slot 2:1 that ref 1 read; the LongAtoms nibble is the low half of the third byte.
    const frame = normal(
      [
        { seg: 1, idx: 0, text: 'a' },
        { seg: 2, idx: 1 },
        { seg: 2, idx: 2, text: 'c' },
        { seg: 2, idx: 1, text: 'new' },
      ],
      tup(ref(0), ref(1), ref(2), ref(3)),
    );
    expect(frame[3]).toBe((2 << 4) | (8 | 1));
    expect(frame[4]).toBe(((8 | 2) << 4) | (8 | 2));
    expect(frame[5]).toBe(0);
    expect(peer.read(frame)?.control).toEqual(tuple(atom('a'), atom('old'), atom('c'), atom('new')));
    expect(peer.cache.slot(2 * 256 + 1)).toBe(atom('new'));
    expect(peer.read(normal([{ seg: 2, idx: 1 }], ref(0)))?.control).toBe(atom('new'));
  });

  it('reads long atoms (2-byte lengths) and 255 multi-byte characters', () => {
    const peer = new Peer();
    const long = 'ü'.repeat(200) + '€'.repeat(55); // 255 characters, 565 bytes
    const frame = normal(
      [
        { seg: 0, idx: 0, text: long },
        { seg: 0, idx: 1, text: 'x' },
      ],
      tup(ref(0), ref(1)),
      true,
    );
    expect(frame[4]).toBe(1); // the LongAtoms nibble after two references
    expect(peer.read(frame)?.control).toEqual(tuple(atom(long), atom('x')));
    const short = normal([{ seg: 1, idx: 9, text: 'é'.repeat(127) }], ref(0));
    expect(peer.read(short)?.control).toBe(atom('é'.repeat(127)));
  });

  it('decodes true and false through the cache as booleans', () => {
    const peer = new Peer();
    const frame = normal(
      [
        { seg: 0, idx: 0, text: 'true' },
        { seg: 0, idx: 1, text: 'false' },
      ],
      tup(ref(0), ref(1)),
    );
    expect(peer.read(frame)?.control).toEqual(tuple(true, false));
  });

  it('N = 0 has no references: tag 82 is an unknown tag', () => {
    const peer = new Peer();
    expect(peer.read(normal([], tup()))?.control).toEqual(tuple());
    expect(thrownCode(() => peer.read(normal([], ref(0))))).toBe('unknown_tag');
  });

  it('rejects bad headers with stable codes', () => {
    const peer = new Peer();
    expect(thrownCode(() => peer.read(normal([{ seg: 0, idx: 3 }], ref(0))))).toBe('atom_cache_miss');
    expect(thrownCode(() => peer.read(normal([{ seg: 1, idx: 0, text: 'a' }], ref(1))))).toBe('invalid');
    const badUtf8 = Buffer.from([131, 68, 1, 8, 0, 2, 0xc3, 0x28]);
    expect(thrownCode(() => peer.read(Buffer.concat([badUtf8, tup()])))).toBe('invalid_utf8');
    const tooLong = normal([{ seg: 0, idx: 0, text: 'a'.repeat(256) }], ref(0), true);
    expect(thrownCode(() => peer.read(tooLong))).toBe('atom_too_long');
    const multi = normal([{ seg: 0, idx: 0, text: 'é'.repeat(256) }], ref(0), true);
    expect(thrownCode(() => peer.read(multi))).toBe('atom_too_long');
    // The node-bad-input case: three old references and no index bytes.
    expect(thrownCode(() => peer.read(Buffer.from([131, 68, 3, 0, 0])))).toBe('atom_cache_refs');
    // Without the negotiated cache, any reference is refused.
    const out: DistMessage = { control: 0, payload: undefined };
    const ok = normal([{ seg: 0, idx: 0, text: 'a' }], ref(0));
    expect(thrownCode(() => readDistFrame(ok, true, new TermReader(), new FragmentAssembler(), out))).toBe(
      'atom_cache_refs',
    );
  });

  it('every truncation of a header is an error with a stable code', () => {
    const frame = normal(
      [
        { seg: 0, idx: 0, text: 'alpha' },
        { seg: 5, idx: 77, text: 'βeta' },
        { seg: 0, idx: 0 },
      ],
      tup(ref(0), ref(1), ref(2)),
      true,
    );
    const codes = new Set<string | undefined>();
    for (let len = 3; len < frame.length; len++) {
      codes.add(thrownCode(() => new Peer().read(frame.subarray(0, len))));
    }
    expect([...codes].sort()).toEqual(['atom_cache_refs', 'length_exceeds_input', 'truncated']);
    expect(new Peer().read(frame)?.control).toEqual(tuple(atom('alpha'), atom('βeta'), atom('alpha')));
  });

  it('counts new atoms against the atom budget', () => {
    const fresh = `fresh_${Date.now()}_${Math.random()}`;
    const peer = new Peer(1);
    const frame = normal(
      [
        { seg: 0, idx: 0, text: `${fresh}_1` },
        { seg: 0, idx: 1, text: `${fresh}_2` },
      ],
      tup(),
    );
    expect(thrownCode(() => peer.read(frame))).toBe('atom_budget');
    // Known atoms are free.
    expect(peer.read(normal([{ seg: 0, idx: 0, text: 'ok' }], ref(0)))?.control).toBe(atom('ok'));
  });

  it('binds a fragmented message`s entries at its start frame, in frame order', () => {
    const peer = new Peer();
    // Sender A's big message: its start fragment binds slot 0:1 = node and 0:2 = 'big'.
    const bodyA = Buffer.concat([
      tup(ref(1), pidRef(0, 1)),
      Buffer.from([109, 0, 0, 0, 100]),
      Buffer.alloc(100, 7),
    ]);
    const a1 = fragStart(
      1,
      3,
      [
        { seg: 0, idx: 1, text: 'erl@h.x' },
        { seg: 0, idx: 2, text: 'big' },
      ],
      bodyA.subarray(0, 10),
    );
    const a2 = fragCont(1, 2, bodyA.subarray(10, 60));
    const a3 = fragCont(1, 1, bodyA.subarray(60));
    // Sender B's big message, interleaved, rebinds 0:2 = 'other' in its start fragment.
    const bodyB = Buffer.concat([tup(ref(0), ref(1)), ref(1)]);
    const b1 = fragStart(
      2,
      2,
      [
        { seg: 0, idx: 2, text: 'other' },
        { seg: 0, idx: 1 },
      ],
      bodyB.subarray(0, 3),
    );
    const b2 = fragCont(2, 1, bodyB.subarray(3));
    // A whole message between them uses entries bound by both start frames.
    const mid = normal(
      [
        { seg: 0, idx: 1 },
        { seg: 0, idx: 2 },
      ],
      tup(ref(0), ref(1)),
    );

    const got: DistMessage[] = [];
    for (const f of [a1, b1, mid, a2, b2, a3]) {
      const m = peer.read(f);
      if (m !== undefined) got.push(m);
    }
    expect(got).toEqual([
      { control: tuple(node, atom('other')), payload: undefined },
      { control: tuple(atom('other'), node), payload: node },
      { control: tuple(atom('big'), new Pid(node, 1, 0, 1)), payload: Buffer.alloc(100, 7) },
    ]);
    expect(peer.asm.pendingSequences).toBe(0);
  });

  it('round-trips any set of references (property)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 60 }); // at most 240 bytes: fits 1-byte lengths;
    const refArb = fc.record({
      seg: fc.integer({ min: 0, max: 7 }),
      idx: fc.integer({ min: 0, max: 255 }),
      text,
    });
    fc.assert(
      fc.property(fc.array(refArb, { minLength: 1, maxLength: 255 }), fc.boolean(), (refs, long) => {
        const cache = new AtomCache();
        const section = refsSection(refs, long);
        const frame = Buffer.concat([Buffer.from([131, 68]), section]);
        const got = cache.read(frame, 3, refs.length);
        expect(got.end).toBe(frame.length);
        expect(got.refs).toEqual(refs.map((r) => atom(r.text)));
        // Old references now name what the last new entry for each slot bound.
        const last = new Map<number, string>();
        for (const r of refs) last.set(r.seg * 256 + r.idx, r.text);
        const olds = [...last.keys()].slice(0, 255).map((s) => ({ seg: s >> 8, idx: s & 255 }));
        const again = Buffer.concat([Buffer.from([131, 68]), refsSection(olds)]);
        expect(cache.read(again, 3, olds.length).refs).toEqual(
          olds.map((o) => atom(last.get(o.seg * 256 + o.idx)!)),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('turns any bytes after `131 68` into a message or a coded error (property)', () => {
    const codes = new Set([
      'bad_header',
      'atom_cache_refs',
      'atom_cache_miss',
      'invalid_utf8',
      'atom_too_long',
      'atom_budget',
      'truncated',
      'length_exceeds_input',
      'unknown_tag',
      'invalid',
      'trailing_bytes',
      'too_deep',
    ]);
    const peer = new Peer();
    // Bind a few slots so old references sometimes hit.
    peer.read(
      normal(
        [
          { seg: 0, idx: 0, text: 'a' },
          { seg: 1, idx: 1, text: 'b' },
        ],
        tup(),
      ),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (bytes) => {
        const frame = Buffer.concat([Buffer.from([131, 68]), bytes]);
        try {
          peer.read(frame);
        } catch (e) {
          const c = (e as { code?: unknown }).code;
          expect(typeof c === 'string' && codes.has(c), String(e)).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('has 2048 slots, and a cleared cache forgets them', () => {
    const cache = new AtomCache();
    const frame = Buffer.concat([Buffer.from([131, 68]), refsSection([{ seg: 7, idx: 255, text: 'z' }])]);
    cache.read(frame, 3, 1);
    expect(cache.slot(ATOM_CACHE_SLOTS - 1)).toBe(atom('z'));
    cache.clear();
    expect(cache.slot(ATOM_CACHE_SLOTS - 1)).toBeUndefined();
  });

  it('gives a fun read through references a plain encoding', () => {
    const sa = (t: string): Buffer => Buffer.concat([Buffer.from([119, t.length]), Buffer.from(t)]);
    const pidOf = (nodeBytes: Buffer): Buffer =>
      Buffer.concat([Buffer.from([88]), nodeBytes, Buffer.from([0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1])]);
    const fun = (module: Buffer, nodeBytes: Buffer, freeVar: Buffer): Buffer => {
      const rest = Buffer.concat([
        Buffer.from([1]), // arity
        Buffer.alloc(16, 0xab), // uniq
        Buffer.from([0, 0, 0, 2, 0, 0, 0, 1]), // index, numFree
        module,
        Buffer.from([97, 5]), // old index
        Buffer.from([98, 0, 1, 0, 0]), // old uniq
        pidOf(nodeBytes),
        freeVar,
      ]);
      const size = Buffer.alloc(4);
      size.writeUInt32BE(rest.length + 4);
      return Buffer.concat([Buffer.from([112]), size, rest]);
    };
    const plain = new Peer().read(normal([], fun(sa('mod'), sa('erl@h.x'), sa('free'))))?.control as Fun;
    const peer = new Peer();
    const refs = [
      { seg: 0, idx: 0, text: 'mod' },
      { seg: 0, idx: 1, text: 'erl@h.x' },
      { seg: 0, idx: 2, text: 'free' },
    ];
    const viaRefs = peer.read(normal(refs, fun(ref(0), ref(1), ref(2))))?.control as Fun;
    expect(viaRefs).toBeInstanceOf(Fun);
    expect(viaRefs.bytes).toEqual(plain.bytes);
    expect(viaRefs).toEqual(plain);
    expect(decode(encode(viaRefs))).toEqual(plain);
  });

  it('leaves plain decoding of user data unchanged', () => {
    const r = new TermReader();
    r.reset(Buffer.from([82, 0]), 0);
    expect(thrownCode(() => r.readTerm())).toBe('unknown_tag');
  });
});
