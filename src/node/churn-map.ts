/**
 * Maps for entries that come and go at message rate: RPC calls waiting for their result, the
 * processes of a node, the monitors and aliases a caller makes and drops on every call, the
 * monitors a server holds for its callers.
 *
 * Why not a `Map`. A long-lived `Map` lives in V8's old generation, and so does every table it
 * rehashes into as entries come and go; a table left behind by a rehash still points at the
 * entries it held. Young objects referenced from old-generation garbage survive each scavenge
 * (the scavenger takes every old-to-young pointer for a root) and are promoted: under load the
 * state of finished calls was promoted this way, scavenges took 14 ms instead of 2, and garbage
 * collection took a fifth of an RPC caller's CPU. Here a slot is cleared when its entry leaves,
 * the arrays are replaced only when the map grows (and the old ones cleared), and keys live in
 * typed arrays (no boxed number, no string built per key).
 *
 * Both are open addressing with linear probing and backward-shift deletion (no tombstones), a
 * power-of-two capacity kept at most half full, and iterate in insertion order, as a `Map` does.
 * - {@link ChurnMap}: numeric keys (a pid number; a reference's words folded into one number). A
 *   string key goes to a plain `Map` beside it (the rare reference that folds into no number).
 * - {@link RefMap}: values that carry a reference, found by it (any node's references).
 *
 * @module
 */

import type { Reference } from '../term/types.ts';
import { sameRef } from './signals.ts';

// Small: a process's monitors live in one of these.
const MIN_CAPACITY = 8;

/** Slots and their insertion order: what both maps share. */
abstract class Slots<V> {
  protected vals: (V | undefined)[] = new Array<V | undefined>(MIN_CAPACITY).fill(undefined);
  /** Insertion sequence of each slot, for iteration in insertion order. */
  protected seqs: Float64Array = new Float64Array(MIN_CAPACITY);
  protected mask: number = MIN_CAPACITY - 1;
  protected count: number = 0;
  #nextSeq = 0;

  /** The slot a key's probe starts at. */
  protected abstract home(slot: number): number;
  /** Moves slot `from`'s key to slot `to` (the value and order move in {@link removeAt}). */
  protected abstract moveKey(from: number, to: number): void;
  /** Re-inserts every entry of the old arrays into the fresh ones of twice the capacity ({@link reinsert}). */
  protected abstract rehash(oldValues: (V | undefined)[], oldSeqs: Float64Array, capacity: number): void;

  protected fill(slot: number, value: V): void {
    this.refill(slot, value, this.#nextSeq++);
  }

  /** Puts an entry that keeps its insertion sequence `seq` into `slot` (a rehash). */
  protected refill(slot: number, value: V, seq: number): void {
    this.vals[slot] = value;
    this.seqs[slot] = seq;
    this.count++;
  }

  /** Empties `slot`, moving later entries of its probe run back so that no tombstone is left. */
  protected removeAt(slot: number): void {
    const values = this.vals;
    const seqs = this.seqs;
    const mask = this.mask;
    let hole = slot;
    for (let j = (slot + 1) & mask; values[j] !== undefined; j = (j + 1) & mask) {
      const home = this.home(j);
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!between) {
        this.moveKey(j, hole);
        values[hole] = values[j];
        seqs[hole] = seqs[j] as number;
        hole = j;
      }
    }
    values[hole] = undefined;
    this.count--;
  }

  /** Doubles the capacity when one more entry would make it more than half full. */
  protected reserve(): void {
    if (2 * (this.count + 1) <= this.vals.length) return;
    const oldValues = this.vals;
    const oldSeqs = this.seqs;
    const capacity = oldValues.length * 2;
    this.vals = new Array<V | undefined>(capacity).fill(undefined);
    this.seqs = new Float64Array(capacity);
    this.mask = capacity - 1;
    this.count = 0;
    this.rehash(oldValues, oldSeqs, capacity);
    // Garbage now: cleared, so that it keeps nothing alive until it is collected.
    oldValues.fill(undefined);
  }

  /**
   * A rehash's loop: puts every entry of the old arrays into the fresh ones, in slot order, each
   * with its own sequence number (no sort, and no lookup: keys are unique). `hashOf(j)` is the
   * hash of old slot `j`'s key; `moveKey(j, i)` copies that key to new slot `i`.
   */
  protected reinsert(
    oldValues: readonly (V | undefined)[],
    oldSeqs: Float64Array,
    hashOf: (j: number) => number,
    moveKey: (j: number, i: number) => void,
  ): void {
    const values = this.vals;
    const mask = this.mask;
    for (let j = 0; j < oldValues.length; j++) {
      const v = oldValues[j];
      if (v === undefined) continue;
      let i = hashOf(j) & mask;
      while (values[i] !== undefined) i = (i + 1) & mask;
      moveKey(j, i);
      this.refill(i, v, oldSeqs[j] as number);
    }
  }

  /** Occupied slots in insertion order. */
  protected ordered(): number[] {
    return orderOf(this.vals, this.seqs);
  }
}

/** A map from numeric keys (any integral double) to values; see the module comment. */
export class ChurnMap<V> extends Slots<V> {
  #keys: Float64Array = new Float64Array(MIN_CAPACITY);
  #other: Map<string, V> | undefined;

  /** Entries in the map. */
  get size(): number {
    return this.count + (this.#other?.size ?? 0);
  }

  /** The value under `key`, or undefined. */
  get(key: number | string): V | undefined {
    if (typeof key === 'string') return this.#other?.get(key);
    const i = this.#find(key);
    return i < 0 ? undefined : this.vals[i];
  }

  /** True if `key` is in the map. */
  has(key: number | string): boolean {
    return this.get(key) !== undefined;
  }

  /** Sets `key` to `value` (replacing any value it had). `value` must not be undefined. */
  set(key: number | string, value: V): void {
    if (typeof key === 'string') {
      this.#other ??= new Map();
      this.#other.set(key, value);
      return;
    }
    const found = this.#find(key);
    if (found >= 0) {
      this.vals[found] = value;
      return;
    }
    this.reserve();
    const keys = this.#keys;
    const values = this.vals;
    const mask = this.mask;
    let i = hashNumber(key) & mask;
    while (values[i] !== undefined) i = (i + 1) & mask;
    keys[i] = key;
    this.fill(i, value);
  }

  /** Removes `key`; true if it was there. */
  delete(key: number | string): boolean {
    if (typeof key === 'string') return this.#other?.delete(key) ?? false;
    const i = this.#find(key);
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  /** The entries in insertion order (numeric keys first, then string keys): a copy. */
  entries(): [number | string, V][] {
    const out: [number | string, V][] = this.ordered().map((i) => [
      this.#keys[i] as number,
      this.vals[i] as V,
    ]);
    if (this.#other !== undefined) out.push(...this.#other.entries());
    return out;
  }

  /** The keys, in the order of {@link entries}. */
  keys(): (number | string)[] {
    return this.entries().map((e) => e[0]);
  }

  /** The values, in the order of {@link entries}. */
  values(): V[] {
    return this.entries().map((e) => e[1]);
  }

  #find(key: number): number {
    const keys = this.#keys;
    const values = this.vals;
    const mask = this.mask;
    for (let i = hashNumber(key) & mask; values[i] !== undefined; i = (i + 1) & mask) {
      if (keys[i] === key) return i;
    }
    return -1;
  }

  protected home(slot: number): number {
    return hashNumber(this.#keys[slot] as number) & this.mask;
  }

  protected moveKey(from: number, to: number): void {
    this.#keys[to] = this.#keys[from] as number;
  }

  protected rehash(oldValues: (V | undefined)[], oldSeqs: Float64Array, capacity: number): void {
    const oldKeys = this.#keys;
    const keys = new Float64Array(capacity);
    this.#keys = keys;
    this.reinsert(
      oldValues,
      oldSeqs,
      (j) => hashNumber(oldKeys[j] as number),
      (j, i) => {
        keys[i] = oldKeys[j] as number;
      },
    );
  }
}

/** A map from references to values that carry them (`value.ref`); see the module comment. */
export class RefMap<V extends { readonly ref: Reference }> extends Slots<V> {
  #hashes: Int32Array = new Int32Array(MIN_CAPACITY);

  /** Entries in the map. */
  get size(): number {
    return this.count;
  }

  /** The value whose `ref` equals `ref`, or undefined. */
  get(ref: Reference): V | undefined {
    const i = this.#find(ref, hashRef(ref));
    return i < 0 ? undefined : this.vals[i];
  }

  /** True if a value with this reference is in the map. */
  has(ref: Reference): boolean {
    return this.#find(ref, hashRef(ref)) >= 0;
  }

  /** Adds `value` under `value.ref` (replacing the value that had an equal reference). */
  set(value: V): void {
    const h = hashRef(value.ref);
    const found = this.#find(value.ref, h);
    if (found >= 0) {
      this.vals[found] = value;
      return;
    }
    this.reserve();
    const values = this.vals;
    const mask = this.mask;
    let i = h & mask;
    while (values[i] !== undefined) i = (i + 1) & mask;
    this.#hashes[i] = h;
    this.fill(i, value);
  }

  /** Removes the value with this reference; true if there was one. */
  delete(ref: Reference): boolean {
    const i = this.#find(ref, hashRef(ref));
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  /** The values in insertion order (a copy). */
  values(): V[] {
    return this.ordered().map((i) => this.vals[i] as V);
  }

  #find(ref: Reference, h: number): number {
    const hashes = this.#hashes;
    const values = this.vals;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = values[i];
      if (v === undefined) return -1;
      if (hashes[i] === h && sameRef(v.ref, ref)) return i;
    }
  }

  protected home(slot: number): number {
    return (this.#hashes[slot] as number) & this.mask;
  }

  protected moveKey(from: number, to: number): void {
    this.#hashes[to] = this.#hashes[from] as number;
  }

  protected rehash(oldValues: (V | undefined)[], oldSeqs: Float64Array, capacity: number): void {
    const oldHashes = this.#hashes;
    const hashes = new Int32Array(capacity);
    this.#hashes = hashes;
    this.reinsert(
      oldValues,
      oldSeqs,
      (j) => oldHashes[j] as number,
      (j, i) => {
        hashes[i] = oldHashes[j] as number;
      },
    );
  }
}

/** Occupied slots in insertion order (for iteration). */
function orderOf<V>(values: readonly (V | undefined)[], seqs: Float64Array): number[] {
  const slots: number[] = [];
  for (let i = 0; i < values.length; i++) if (values[i] !== undefined) slots.push(i);
  return slots.sort((a, b) => (seqs[a] as number) - (seqs[b] as number));
}

/** Fibonacci hashing of an integral double (up to 2^53). */
function hashNumber(key: number): number {
  const hi = (key / 4294967296) >>> 0;
  const h = Math.imul((key >>> 0) ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1);
  return h ^ (h >>> 15);
}

/** A hash of a reference's words (equal references from any node hash alike; the node is compared on a match). */
function hashRef(ref: Reference): number {
  const ids = ref.ids;
  let h = Math.imul((ids[0] ?? 0) ^ ref.creation, 0x9e3779b1);
  for (let i = 1; i < ids.length; i++) h = Math.imul(h ^ (ids[i] as number), 0x85ebca6b) ^ (h >>> 13);
  return h ^ (h >>> 15);
}
