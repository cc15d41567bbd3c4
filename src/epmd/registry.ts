/**
 * The embedded EPMD's table of registered nodes: a pure core with no sockets.
 *
 * An entry lives as long as the connection that made it; the server calls `unregister` with
 * the entry it got from `register`, so a late close of an old connection can never remove a
 * newer registration of the same name. Creation values must differ between two incarnations of
 * a name (peers use the creation to tell a restarted node's pids from the old ones), so the
 * registry remembers the last creation handed to each name, in a bounded table.
 *
 * @module
 */

import type { Alive2Fields, NameEntry } from './protocol.ts';

/** A registered node. */
export interface RegistryEntry extends Alive2Fields {
  /** The creation handed out at registration. */
  readonly creation: number;
}

/** What `register` decided. */
export type RegisterOutcome =
  | { readonly ok: true; readonly entry: RegistryEntry }
  | { readonly ok: false; readonly reason: 'duplicate_name' | 'full' };

/** Options of {@link EpmdRegistry}. */
export interface EpmdRegistryOptions {
  /** Registrations refused beyond this count. */
  readonly maxRegistrations: number;
  /** How many names' last creation is remembered (oldest forgotten first). */
  readonly maxRememberedNames: number;
  /** Uniform in [0, 1); injected so tests are deterministic. */
  readonly random: () => number;
}

const MAX_CREATION_32 = 0xffffffff;
const MAX_CREATION_LEGACY = 3;

/**
 * A creation for a new incarnation: non-zero, drawn from `random` (in [0, 1)), and different
 * from `previous`. Legacy (version 5) clients get 1..3, the range OTP before 23 used; others a
 * 32-bit value. On a collision with `previous` the next value is taken, wrapping past zero.
 */
export function nextCreation(previous: number | undefined, legacy: boolean, random: number): number {
  const max = legacy ? MAX_CREATION_LEGACY : MAX_CREATION_32;
  const drawn = 1 + Math.min(max - 1, Math.floor(random * max));
  return drawn === previous ? (drawn % max) + 1 : drawn;
}

/** The registered nodes of one embedded EPMD. */
export class EpmdRegistry {
  readonly #options: EpmdRegistryOptions;
  readonly #entries = new Map<string, RegistryEntry>();
  /** name -> last creation; Map order is insertion order, so the first key is the oldest. */
  readonly #lastCreation = new Map<string, number>();

  constructor(options: EpmdRegistryOptions) {
    this.#options = options;
  }

  /** Number of live registrations. */
  get size(): number {
    return this.#entries.size;
  }

  /** Registers a node unless its name is taken or the table is full. */
  register(fields: Alive2Fields): RegisterOutcome {
    if (this.#entries.has(fields.name)) return { ok: false, reason: 'duplicate_name' };
    if (this.#entries.size >= this.#options.maxRegistrations) return { ok: false, reason: 'full' };
    const legacy = fields.highest < 6;
    const creation = nextCreation(this.#lastCreation.get(fields.name), legacy, this.#options.random());
    const entry: RegistryEntry = { ...fields, creation };
    this.#entries.set(fields.name, entry);
    this.#remember(fields.name, creation);
    return { ok: true, entry };
  }

  /** Removes `entry` if it is still the current registration of its name; true when removed. */
  unregister(entry: RegistryEntry): boolean {
    if (this.#entries.get(entry.name) !== entry) return false;
    this.#entries.delete(entry.name);
    return true;
  }

  /** The registration of `name`, if any. */
  lookup(name: string): RegistryEntry | undefined {
    return this.#entries.get(name);
  }

  /** Registered names and ports, in registration order. */
  names(): NameEntry[] {
    return [...this.#entries.values()].map((e) => ({ name: e.name, port: e.port }));
  }

  /** Registered entries, in registration order. */
  entries(): RegistryEntry[] {
    return [...this.#entries.values()];
  }

  #remember(name: string, creation: number): void {
    this.#lastCreation.delete(name);
    this.#lastCreation.set(name, creation);
    while (this.#lastCreation.size > this.#options.maxRememberedNames) {
      const oldest = this.#lastCreation.keys().next();
      if (oldest.done === true) break;
      this.#lastCreation.delete(oldest.value);
    }
  }
}
