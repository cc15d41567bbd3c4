/**
 * Where a node keeps its term and vote (Raft Figure 2: "persistent state on all servers ...
 * updated on stable storage before responding to RPCs"). Losing either lets a restarted node
 * vote twice in a term, so the driver writes them before it sends any message that depends
 * on them.
 *
 * @module
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { ElectionError } from './errors.ts';
import { MAX_NODE_ID_LENGTH, type NodeId } from './messages.ts';

/** The state that must survive a restart. */
export interface HardState {
  /** Latest term this node has seen. Never decreases. */
  readonly term: number;
  /** Whom this node voted for in `term`, or null. */
  readonly vote: NodeId | null;
}

/** The state of a node that never ran. */
export const initialHardState: HardState = Object.freeze({ term: 0, vote: null });

/** Durable storage of a {@link HardState}. */
export interface ElectionStorage {
  /** The last state saved, or {@link initialHardState} when none was. */
  load(): Promise<HardState>;
  /** Resolves once `state` is durable: a crash after that never loses it. */
  save(state: HardState): Promise<void>;
}

/**
 * Storage in memory: survives a simulated restart of the node that uses it (keep the object),
 * not a process exit. The simulator uses the synchronous methods; a save is durable at once.
 */
export class MemoryStorage implements ElectionStorage {
  #state: HardState;
  /** How many saves were made. */
  saves = 0;

  constructor(state: HardState = initialHardState) {
    this.#state = checkHardState(state);
  }

  loadSync(): HardState {
    return this.#state;
  }

  saveSync(state: HardState): void {
    this.#state = checkHardState(state);
    this.saves++;
  }

  load(): Promise<HardState> {
    return Promise.resolve(this.#state);
  }

  save(state: HardState): Promise<void> {
    try {
      this.saveSync(state);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

/** File format version. */
const FORMAT_VERSION = 1;

/**
 * Storage in one small JSON file with a CRC-32, replaced atomically: write a temporary file,
 * fsync it, rename it over the old one, fsync the directory (so the rename itself is durable).
 * A crash at any point leaves either the old or the new state, never a torn one. Saves are
 * serialised in call order.
 */
export class FileStorage implements ElectionStorage {
  /** The state file. */
  readonly path: string;
  #queue: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  async load(): Promise<HardState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return initialHardState;
      throw new ElectionError('storage-failed', `cannot read ${this.path}`, { cause: err });
    }
    return decodeHardState(text, this.path);
  }

  save(state: HardState): Promise<void> {
    const checked = checkHardState(state);
    const run = this.#queue.then(() => this.#write(checked));
    // The queue continues after a failed save; the caller still sees the failure.
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #write(state: HardState): Promise<void> {
    const tmp = `${this.path}.tmp`;
    try {
      await mkdir(dirname(this.path), { recursive: true });
      const file = await open(tmp, 'w', 0o600);
      try {
        await file.writeFile(encodeHardState(state));
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, this.path);
      const dir = await open(dirname(this.path), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (err) {
      throw new ElectionError('storage-failed', `cannot write ${this.path}`, { cause: err });
    }
  }
}

/** The file's text for `state`. */
export function encodeHardState(state: HardState): string {
  const body = JSON.stringify({ version: FORMAT_VERSION, term: state.term, vote: state.vote });
  return `${JSON.stringify({ body, crc: crc32(body) })}\n`;
}

/** Parses and checks a file written by {@link encodeHardState}; `storage-corrupt` otherwise. */
export function decodeHardState(text: string, where = 'election state'): HardState {
  const corrupt = (why: string): ElectionError => new ElectionError('storage-corrupt', `${where}: ${why}`);
  let outer: unknown;
  try {
    outer = JSON.parse(text);
  } catch {
    throw corrupt('not JSON');
  }
  if (typeof outer !== 'object' || outer === null) throw corrupt('not an object');
  const { body, crc } = outer as { body?: unknown; crc?: unknown };
  if (typeof body !== 'string' || typeof crc !== 'number') throw corrupt('missing body or crc');
  if (crc32(body) !== crc) throw corrupt('checksum mismatch');
  const inner = JSON.parse(body) as { version?: unknown; term?: unknown; vote?: unknown };
  if (inner.version !== FORMAT_VERSION) throw corrupt(`unknown version ${String(inner.version)}`);
  try {
    return checkHardState({ term: inner.term as number, vote: inner.vote as NodeId | null });
  } catch {
    throw corrupt('bad term or vote');
  }
}

function checkHardState(state: HardState): HardState {
  const { term, vote } = state;
  if (!Number.isSafeInteger(term) || term < 0) {
    throw new ElectionError('invalid-config', `hard state: bad term ${String(term)}`);
  }
  if (vote !== null && (typeof vote !== 'string' || vote.length === 0 || vote.length > MAX_NODE_ID_LENGTH)) {
    throw new ElectionError('invalid-config', `hard state: bad vote ${String(vote)}`);
  }
  return Object.freeze({ term, vote });
}
