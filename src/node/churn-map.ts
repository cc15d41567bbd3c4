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

/**
 * Slots, their keys and their insertion order: what both maps share. `slotKeys` holds each slot's
 * key as a number (ChurnMap: the key itself; RefMap: the reference's hash), and `hashOf` turns
 * such a number into the hash its probe starts from.
 */
abstract class Slots<V, K extends Float64Array | Int32Array> {
  protected vals: (V | undefined)[] = new Array<V | undefined>(MIN_CAPACITY).fill(undefined);
  /** Insertion sequence of each slot, for iteration in insertion order. */
  protected seqs: Float64Array = new Float64Array(MIN_CAPACITY);
  protected abstract slotKeys: K;
  protected mask: number = MIN_CAPACITY - 1;
  protected count: number = 0;
  #nextSeq = 0;

  /** The hash a probe for the key stored as `key` starts from. */
  protected abstract hashOf(key: number): number;
  /** A fresh key array of `capacity` slots. */
  protected abstract newKeys(capacity: number): K;

  /** Adds `value` under `key` (absent: the caller has looked), `h` being `hashOf(key)`. */
  protected insert(h: number, key: number, value: V): void {
    this.reserve();
    const values = this.vals;
    const mask = this.mask;
    let i = h & mask;
    while (values[i] !== undefined) i = (i + 1) & mask;
    this.slotKeys[i] = key;
    values[i] = value;
    this.seqs[i] = this.#nextSeq++;
    this.count++;
  }

  /** Empties `slot`, moving later entries of its probe run back so that no tombstone is left. */
  protected removeAt(slot: number): void {
    const values = this.vals;
    const seqs = this.seqs;
    const keys = this.slotKeys;
    const mask = this.mask;
    let hole = slot;
    for (let j = (slot + 1) & mask; values[j] !== undefined; j = (j + 1) & mask) {
      const home = this.hashOf(keys[j] as number) & mask;
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!between) {
        keys[hole] = keys[j] as number;
        values[hole] = values[j];
        seqs[hole] = seqs[j] as number;
        hole = j;
      }
    }
    values[hole] = undefined;
    this.count--;
  }

  /**
   * Doubles the capacity when one more entry would make it more than half full. Every entry
   * moves to the fresh arrays in slot order with its own key and sequence number (keys are
   * unique: no lookup, and no sort to keep the insertion order).
   */
  protected reserve(): void {
    if (2 * (this.count + 1) <= this.vals.length) return;
    const oldValues = this.vals;
    const oldSeqs = this.seqs;
    const oldKeys = this.slotKeys;
    const capacity = oldValues.length * 2;
    const values = new Array<V | undefined>(capacity).fill(undefined);
    const seqs = new Float64Array(capacity);
    const keys = this.newKeys(capacity);
    const mask = capacity - 1;
    for (let j = 0; j < oldValues.length; j++) {
      const v = oldValues[j];
      if (v === undefined) continue;
      const key = oldKeys[j] as number;
      let i = this.hashOf(key) & mask;
      while (values[i] !== undefined) i = (i + 1) & mask;
      keys[i] = key;
      values[i] = v;
      seqs[i] = oldSeqs[j] as number;
    }
    this.vals = values;
    this.seqs = seqs;
    this.slotKeys = keys;
    this.mask = mask;
    // Garbage now: cleared, so that it keeps nothing alive until it is collected.
    oldValues.fill(undefined);
  }

  /** Occupied slots in insertion order. */
  protected ordered(): number[] {
    const slots: number[] = [];
    const values = this.vals;
    for (let i = 0; i < values.length; i++) if (values[i] !== undefined) slots.push(i);
    const seqs = this.seqs;
    return slots.sort((a, b) => (seqs[a] as number) - (seqs[b] as number));
  }
}

/** A map from numeric keys (any integral double) to values; see the module comment. */
export class ChurnMap<V> extends Slots<V, Float64Array> {
  protected slotKeys: Float64Array = new Float64Array(MIN_CAPACITY);
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
    this.insert(hashNumber(key), key, value);
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
      this.slotKeys[i] as number,
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
    const keys = this.slotKeys;
    const values = this.vals;
    const mask = this.mask;
    for (let i = hashNumber(key) & mask; values[i] !== undefined; i = (i + 1) & mask) {
      if (keys[i] === key) return i;
    }
    return -1;
  }

  protected hashOf(key: number): number {
    return hashNumber(key);
  }

  protected newKeys(capacity: number): Float64Array {
    return new Float64Array(capacity);
  }
}

/** A map from references to values that carry them (`value.ref`); see the module comment. */
export class RefMap<V extends { readonly ref: Reference }> extends Slots<V, Int32Array> {
  /** Each slot's reference hash. */
  protected slotKeys: Int32Array = new Int32Array(MIN_CAPACITY);

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
    this.insert(h, h, value);
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
    const hashes = this.slotKeys;
    const values = this.vals;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = values[i];
      if (v === undefined) return -1;
      if (hashes[i] === h && sameRef(v.ref, ref)) return i;
    }
  }

  protected hashOf(key: number): number {
    return key;
  }

  protected newKeys(capacity: number): Int32Array {
    return new Int32Array(capacity);
  }
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
