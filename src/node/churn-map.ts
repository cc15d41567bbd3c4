/**
 * A map for entries that come and go at message rate, keyed by a number: RPC calls waiting for
 * their result (a reference's words folded into one number), the processes of a node (by pid
 * number). A string key (a reference that does not fold into a number, which our own node never
 * makes) goes to a plain `Map` beside it.
 *
 * Why not a `Map`. A long-lived `Map` lives in V8's old generation, and so does every table it
 * rehashes into as entries come and go; a table left behind by a rehash still points at the
 * entries it held. Young objects referenced from old-generation garbage survive each scavenge
 * (the scavenger takes every old-to-young pointer for a root) and are promoted: under load the
 * call state of finished RPC calls was promoted this way, and garbage collection took
 * a fifth of the caller's CPU. Here a slot is cleared when its entry leaves, the arrays are
 * replaced only when the table grows, and numeric keys live in a `Float64Array` (no boxed
 * number per key).
 *
 * Open addressing with linear probing and backward-shift deletion (no tombstones), a power-of-two
 * capacity kept at most half full.
 *
 * @module
 */

const MIN_CAPACITY = 64;

/** A map from numeric keys to values that leaves no reference behind when an entry leaves. */
export class ChurnMap<V> {
  #keys: Float64Array = new Float64Array(MIN_CAPACITY);
  #values: (V | undefined)[] = new Array<V | undefined>(MIN_CAPACITY).fill(undefined);
  #mask = MIN_CAPACITY - 1;
  #size = 0;
  #other: Map<string, V> | undefined;

  /** Entries in the table. */
  get size(): number {
    return this.#size + (this.#other?.size ?? 0);
  }

  /** The value under `key`, or undefined. */
  get(key: number | string): V | undefined {
    if (typeof key === 'string') return this.#other?.get(key);
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    for (let i = slotOf(key, mask); ; i = (i + 1) & mask) {
      const v = values[i];
      if (v === undefined) return undefined;
      if (keys[i] === key) return v;
    }
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
    if (2 * (this.#size + 1) > this.#values.length) this.#grow();
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    for (let i = slotOf(key, mask); ; i = (i + 1) & mask) {
      if (values[i] === undefined) {
        keys[i] = key;
        values[i] = value;
        this.#size++;
        return;
      }
      if (keys[i] === key) {
        values[i] = value;
        return;
      }
    }
  }

  /** Removes `key`; true if it was there. */
  delete(key: number | string): boolean {
    if (typeof key === 'string') return this.#other?.delete(key) ?? false;
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    let i = slotOf(key, mask);
    for (;;) {
      if (values[i] === undefined) return false;
      if (keys[i] === key) break;
      i = (i + 1) & mask;
    }
    // Backward shift: move later entries of the probe run into the hole, so no tombstone is left.
    let hole = i;
    for (let j = (i + 1) & mask; values[j] !== undefined; j = (j + 1) & mask) {
      const home = slotOf(keys[j] as number, mask);
      // The entry at j may move to the hole when its home slot is not in (hole, j] cyclically.
      if ((j > hole && (home <= hole || home > j)) || (j < hole && home <= hole && home > j)) {
        keys[hole] = keys[j] as number;
        values[hole] = values[j];
        hole = j;
      }
    }
    values[hole] = undefined;
    this.#size--;
    return true;
  }

  /** The values, in no particular order (a copy: the table may change while it is walked). */
  values(): V[] {
    const out: V[] = [];
    for (const v of this.#values) if (v !== undefined) out.push(v);
    if (this.#other !== undefined) out.push(...this.#other.values());
    return out;
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldValues = this.#values;
    const capacity = oldValues.length * 2;
    this.#keys = new Float64Array(capacity);
    this.#values = new Array<V | undefined>(capacity).fill(undefined);
    this.#mask = capacity - 1;
    this.#size = 0;
    for (let i = 0; i < oldValues.length; i++) {
      const v = oldValues[i];
      if (v !== undefined) this.set(oldKeys[i] as number, v);
    }
    // The old arrays are garbage now: clear them so they keep nothing alive until collected.
    oldValues.fill(undefined);
  }
}

/** Fibonacci hashing of an integral double (up to 2^53) into a slot. */
function slotOf(key: number, mask: number): number {
  const hi = (key / 4294967296) >>> 0;
  const h = Math.imul((key >>> 0) ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1);
  return (h ^ (h >>> 15)) & mask;
}
