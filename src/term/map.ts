/**
 * {@link TermMap}: a `Map` whose keys are Erlang terms compared structurally, as in an Erlang map.
 *
 * A JS `Map` compares keys by identity, so `m.get(tuple(atom('a'), 1))` would never find a
 * decoded key. A TermMap keeps the entries in the underlying `Map` under their original key
 * objects (iteration is the native one) and an index from a canonical form of each key to that
 * original key. Numbers and atoms are their own canonical form, and a string or a UTF-8 binary
 * is canonically its text, so the common keys need no encoding; any other key is canonically its
 * canonical external encoding.
 *
 * @module
 */

import { Buffer, isUtf8 } from 'node:buffer';
import { canonicalEncoding } from './encode.ts';
import { Atom, atom, BitBinary, Float, type Term } from './types.ts';

const TRUE = atom('true');
const FALSE = atom('false');
/** Prefix of encoding-based canonical keys: a lone surrogate never starts the canonical text of a binary. */
const ENCODED = '\ud800';
const SURROGATE = /[\ud800-\udfff]/;
const MISSING: unique symbol = Symbol('missing');

/** The canonical form of a key: equal for two keys exactly when `equals` says they are equal. */
function canonicalKey(key: Term): number | Atom | string {
  switch (typeof key) {
    case 'number':
      return Number.isSafeInteger(key) || !Number.isInteger(key) ? key : ENCODED + canonicalEncoding(key);
    case 'string':
      // Lone surrogates encode as U+FFFD: the text of the UTF-8 binary this string stands for.
      return SURROGATE.test(key) ? Buffer.from(key, 'utf8').toString('utf8') : key;
    case 'boolean':
      return key ? TRUE : FALSE;
    case 'bigint':
      return key >= -9007199254740991n && key <= 9007199254740991n
        ? Number(key)
        : ENCODED + canonicalEncoding(key);
    default:
      if (key instanceof Atom) return key;
      if (key instanceof Uint8Array) return binaryKey(key);
      if (key instanceof Float) {
        const v = key.value;
        return Number.isInteger(v) || v === 0 ? ENCODED + canonicalEncoding(key) : v;
      }
      if (key instanceof BitBinary && key.bits === 8) return binaryKey(key.data);
      return ENCODED + canonicalEncoding(key);
  }
}

function binaryKey(bin: Uint8Array): string {
  if (isUtf8(bin)) {
    const buf = Buffer.isBuffer(bin) ? bin : Buffer.from(bin.buffer, bin.byteOffset, bin.byteLength);
    return buf.toString('utf8');
  }
  return ENCODED + canonicalEncoding(bin);
}

/**
 * A `Map` with Erlang map semantics for keys: `get`, `has`, `set` and `delete` find a key by
 * `equals`, so `m.get(tuple(atom('a'), 1))` finds a decoded `{a, 1}`, `m.get('name')` finds the
 * key `<<"name">>`, `5n` and `5` are one key, and `1` and `float(1)` are two. Iteration yields
 * the key objects as first inserted. Decoding a map gives a TermMap.
 */
export class TermMap<K extends Term = Term, V extends Term = Term> extends Map<K, V> {
  /** Canonical form -> original key, for keys that are not their own canonical form. */
  #alias: Map<number | Atom | string, K> | undefined;

  constructor(entries?: Iterable<readonly [K, V]> | null) {
    super();
    this.#alias = undefined;
    if (entries != null) for (const [k, v] of entries) this.set(k, v);
  }

  /** The stored key equal to the key whose canonical form is `c`, or MISSING. */
  #find(c: number | Atom | string): K | typeof MISSING {
    if (super.has(c as K)) return c as K;
    if (this.#alias === undefined) return MISSING;
    const k = this.#alias.get(c);
    return k === undefined ? MISSING : k;
  }

  override get(key: K): V | undefined {
    if (typeof key === 'number' || key instanceof Atom) {
      const v = super.get(key);
      if (v !== undefined || this.#alias === undefined) return v;
    }
    const k = this.#find(canonicalKey(key));
    return k === MISSING ? undefined : super.get(k);
  }

  override has(key: K): boolean {
    if ((typeof key === 'number' || key instanceof Atom) && super.has(key)) return true;
    return this.#find(canonicalKey(key)) !== MISSING;
  }

  override set(key: K, value: V): this {
    const c = canonicalKey(key);
    const k = this.#find(c);
    if (k !== MISSING) {
      super.set(k, value);
      return this;
    }
    super.set(key, value);
    if (c !== key) this.#addAlias(c, key);
    return this;
  }

  /**
   * @internal Adds the entry unless an equal key is present; returns false then. The decoder's
   * duplicate-key check in one lookup.
   */
  setNew(key: K, value: V): boolean {
    if (
      this.#alias === undefined &&
      (key instanceof Atom || (typeof key === 'number' && Number.isSafeInteger(key)))
    ) {
      // Only keys that are their own canonical form so far: the native map alone decides.
      const before = this.size;
      super.set(key, value);
      return this.size !== before;
    }
    const c = canonicalKey(key);
    if (this.#find(c) !== MISSING) return false;
    super.set(key, value);
    if (c !== key) this.#addAlias(c, key);
    return true;
  }

  #addAlias(c: number | Atom | string, key: K): void {
    if (this.#alias === undefined) this.#alias = new Map();
    this.#alias.set(c, key);
  }

  override delete(key: K): boolean {
    const c = canonicalKey(key);
    const k = this.#find(c);
    if (k === MISSING) return false;
    super.delete(k);
    if (k !== c) this.#alias?.delete(c);
    return true;
  }

  override clear(): void {
    super.clear();
    this.#alias = undefined;
  }
}
