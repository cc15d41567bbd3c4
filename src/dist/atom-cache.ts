/**
 * The receiving side of the distribution header atom cache (DFLAG_DIST_HDR_ATOM_CACHE).
 *
 * A BEAM sender keeps, per connection, 2048 slots (8 segments of 256) of atoms it has sent; a
 * message's header lists the atoms its terms use, each either as a new entry (slot and text:
 * the receiver binds the slot) or as an old one (slot only), and the terms refer to them as
 * `ATOM_CACHE_REF Index:8`, an index into that list. Header layout after `NumberOfAtomCacheRefs`
 * N > 0: `N/2+1` flag bytes, one nibble per reference (even references in the low nibble; bit 3
 * NewCacheEntry, bits 0-2 SegmentIndex), then the nibble after the last reference (bit 0 =
 * LongAtoms: 2-byte text lengths); then per reference `InternalIndex:8`, followed for a new
 * entry by `Len:8|16 AtomText` (UTF-8).
 *
 * Headers must be read in frame order (a fragmented message's start frame binds its entries
 * when it arrives, not when the message completes), since later frames may use them.
 *
 * @module
 */
import { type AtomBudget, DECODE_DEFAULTS, utf8Atom } from '../term/decode.ts';
import type { Atom } from '../term/types.ts';
import { DistFrameError } from './fragments.ts';

/** Slots per connection and direction: 8 segments of 256. */
export const ATOM_CACHE_SLOTS = 2048;
const NEW_CACHE_ENTRY = 8;
const SEGMENT_MASK = 7;
const LONG_ATOMS = 1;

/** The atoms of one header, in reference order, and the offset of the first byte after it. */
export interface AtomCacheRefs {
  readonly refs: readonly Atom[];
  readonly end: number;
}

/** The atom cache a peer fills through the headers of the messages it sends us. */
export class AtomCache {
  /** Made by the first header that uses the cache: a peer that never does (a TS node) costs nothing. */
  #slots: (Atom | undefined)[] | undefined;
  readonly #atomBudget: number;
  readonly #budget: AtomBudget = { left: 0 };

  /** `atomBudget`: how many atoms one header may add to the atom table (the decoder's limit). */
  constructor(atomBudget: number = DECODE_DEFAULTS.atomBudget) {
    this.#atomBudget = atomBudget;
  }

  /** The atom in slot `segment * 256 + index`, if bound (for tests and diagnostics). */
  slot(index: number): Atom | undefined {
    return this.#slots?.[index];
  }

  /**
   * Reads the `count` (1..255) references of a header whose flag bytes start at `offset` in
   * `frame`, binding the new entries. Throws {@link DistFrameError} `atom_cache_refs` for a
   * truncated header, `atom_cache_miss` for a reference to an empty slot, and the decoder's
   * `invalid_utf8`, `atom_too_long`, `atom_budget` for bad atom text.
   */
  read(frame: Uint8Array, offset: number, count: number): AtomCacheRefs {
    const end = frame.length;
    const flagBytes = (count >> 1) + 1;
    if (offset + flagBytes > end) throw truncated(count);
    const long = (nibble(frame, offset, count) & LONG_ATOMS) !== 0;
    const refs: Atom[] = new Array<Atom>(count);
    if (this.#slots === undefined)
      this.#slots = new Array<Atom | undefined>(ATOM_CACHE_SLOTS).fill(undefined);
    const slots = this.#slots;
    this.#budget.left = this.#atomBudget;
    let p = offset + flagBytes;
    for (let i = 0; i < count; i++) {
      const flags = nibble(frame, offset, i);
      if (p >= end) throw truncated(count);
      const slot = ((flags & SEGMENT_MASK) << 8) | frame[p]!;
      p++;
      if ((flags & NEW_CACHE_ENTRY) !== 0) {
        let len: number;
        if (long) {
          if (p + 2 > end) throw truncated(count);
          len = (frame[p]! << 8) | frame[p + 1]!;
          p += 2;
        } else {
          if (p >= end) throw truncated(count);
          len = frame[p]!;
          p++;
        }
        if (len > end - p) throw truncated(count);
        const a = utf8Atom(frame, p, len, this.#budget);
        p += len;
        slots[slot] = a;
        refs[i] = a;
      } else {
        const a = slots[slot];
        if (a === undefined) {
          throw new DistFrameError(
            'atom_cache_miss',
            `atom cache reference ${i} names the empty slot ${slot >> 8}:${slot & 255}`,
          );
        }
        refs[i] = a;
      }
    }
    return { refs, end: p };
  }

  /** Forgets every entry (the connection closed). */
  clear(): void {
    this.#slots = undefined;
  }
}

/** Nibble `i` of the flags starting at `offset`: even ones in the low half of their byte. */
function nibble(frame: Uint8Array, offset: number, i: number): number {
  const byte = frame[offset + (i >> 1)]!;
  return (i & 1) === 0 ? byte & 15 : byte >> 4;
}

function truncated(count: number): DistFrameError {
  return new DistFrameError('atom_cache_refs', `truncated atom cache header (${count} references)`);
}
