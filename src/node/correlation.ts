/**
 * Correlation ids: an id bound to everything done inside `withCorrelation(id, fn)`, carried by
 * messages and RPC calls between TypeScript nodes, and added to every log line.
 *
 * Binding. The id lives in an `AsyncLocalStorage`, so it follows `await`, timers and callbacks
 * started inside `fn`, and nothing else. That storage is the one module-level object here: it is a
 * context carrier (each asynchronous flow sees its own binding), not state shared between nodes.
 * Node 20 turns on its async hooks the first time an id is bound, so a program that never calls
 * {@link withCorrelation} pays nothing; the library never binds "no id" itself.
 *
 * On the wire. Two TypeScript nodes advertise {@link DFLAG_DISTRIBUTE_CORRELATION} (a handshake
 * flag bit OTP does not define, so a BEAM node drops it from the negotiated set). Between two
 * nodes that both set it, a message sent inside a correlation goes out as the trace-token variant
 * of its control message (SEND_SENDER_TT, REG_SEND_TT, ALIAS_SEND_TT, SPAWN_REQUEST_TT) with the
 * token `{'$distribute_corr', IdBinary}`. A BEAM peer never gets such a message: it would take
 * the token for a `seq_trace` token. A trace token that is not ours (real `seq_trace` from a BEAM
 * node) is ignored and the message delivered as usual.
 *
 * On receipt. The id goes with the message into the mailbox. Handlers the library invokes run
 * inside `withCorrelation(id)`: gen_server callbacks (gen-server.ts) and exposed RPC functions
 * (rex.ts). Plain `receive` code reads {@link ProcessContext.messageCorrelation} after a receive.
 * A process spawned inside a correlation keeps it for its whole life, as any async work does,
 * unless it is spawned with a registered name: a named process is a service that outlives the
 * request that happened to start it (pg scopes, the election service, user servers).
 *
 * @module
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { SPAWN_REQUEST, SPAWN_REQUEST_TT } from '../dist/control.ts';
import { DFLAG_DISTRIBUTE_CORRELATION } from '../dist/flags.ts';
import type { Logger, LogMethod } from '../dist/logger.ts';
import { type Atom, atom, type Term, Tuple } from '../term/types.ts';
import type { ProcessContext } from './process.ts';
import type { Signal } from './signals.ts';

/** @internal A message signal with the correlation id it was sent under (absent: none). */
export type CorrelatedMessage = Extract<Signal, { kind: 'message' }> & { readonly correlation?: string };

/** Longest correlation id, in UTF-8 bytes: it travels with every correlated message. */
export const MAX_CORRELATION_ID_BYTES = 255;

/** Stable codes of {@link CorrelationError}. */
export type CorrelationErrorCode = 'invalid_correlation_id';

/** A correlation id that is not a non-empty string of at most {@link MAX_CORRELATION_ID_BYTES} bytes. */
export class CorrelationError extends Error {
  readonly code: CorrelationErrorCode;
  constructor(message: string) {
    super(message);
    this.name = 'CorrelationError';
    this.code = 'invalid_correlation_id';
  }
}

// A context carrier (see the module comment), not shared mutable state.
const storage = new AsyncLocalStorage<string>();

/**
 * Runs `fn` with `id` bound: {@link currentCorrelation} returns it inside `fn` and everything it
 * starts, log lines of the node carry it as `correlationId`, and messages and RPC calls sent to
 * other TypeScript nodes carry it to their handlers. Returns what `fn` returns (a promise too).
 * Throws {@link CorrelationError} for an empty or over-long id.
 *
 * ```ts
 * await withCorrelation(newCorrelationId(), () => node.call(['orders', 'ts2@host'], request));
 * ```
 */
export function withCorrelation<T>(id: string, fn: () => T): T {
  checkCorrelationId(id);
  return storage.run(id, fn);
}

/** The id bound to the running code, or undefined. */
export function currentCorrelation(): string | undefined {
  return storage.getStore();
}

/** Runs `fn` with no id bound (work that must not be attributed to the current request). */
export function withoutCorrelation<T>(fn: () => T): T {
  return storage.getStore() === undefined ? fn() : storage.exit(fn);
}

/** A fresh, collision-free id: a random UUID (122 random bits from the system CSPRNG). */
export function newCorrelationId(): string {
  return randomUUID();
}

/** Throws {@link CorrelationError} unless `id` is a non-empty string of at most 255 UTF-8 bytes. */
export function checkCorrelationId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new CorrelationError('a correlation id is a non-empty string');
  }
  if (id.length > MAX_CORRELATION_ID_BYTES || Buffer.byteLength(id) > MAX_CORRELATION_ID_BYTES) {
    throw new CorrelationError(`a correlation id is at most ${MAX_CORRELATION_ID_BYTES} UTF-8 bytes`);
  }
}

/** `'$distribute_corr'`: the tag of our trace tokens. */
export const CORRELATION_TOKEN_TAG: Atom = atom('$distribute_corr');

/** The trace token that carries `id` between TypeScript nodes: `{'$distribute_corr', IdBinary}`. */
export function correlationToken(id: string): Tuple {
  return new Tuple([CORRELATION_TOKEN_TAG, Buffer.from(id, 'utf8')]);
}

/**
 * The id a received trace token carries, or undefined: for a token that is not ours (a BEAM
 * `seq_trace` token) and for an id that is empty or too long (the peer is not trusted).
 */
export function correlationOfToken(token: Term | undefined): string | undefined {
  if (!(token instanceof Tuple) || token.length !== 2 || token.elements[0] !== CORRELATION_TOKEN_TAG) {
    return undefined;
  }
  const bytes = token.elements[1];
  if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length > MAX_CORRELATION_ID_BYTES) {
    return undefined;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
}

/** True when a connection's negotiated `flags` let correlation ids travel (both ends are distribute nodes). */
export function carriesCorrelation(flags: bigint): boolean {
  return (flags & DFLAG_DISTRIBUTE_CORRELATION) !== 0n;
}

const PLAIN_SPAWN_REQUEST: { readonly op: number } = Object.freeze({ op: SPAWN_REQUEST });

/**
 * @internal The op (and token) of a SPAWN_REQUEST sent now over a connection with negotiated
 * `flags`: SPAWN_REQUEST_TT with our token when an id is bound and the peer is a distribute node.
 */
export function spawnRequestTrace(flags: bigint): { readonly op: number; readonly token?: Term } {
  const id = storage.getStore();
  if (id === undefined || !carriesCorrelation(flags)) return PLAIN_SPAWN_REQUEST;
  return { op: SPAWN_REQUEST_TT, token: correlationToken(id) };
}

/**
 * @internal Wraps a process function so the process runs with `id` bound (a process spawned
 * inside a correlation keeps it, whichever task starts it).
 */
export function bindCorrelation<F extends (self: ProcessContext<never>) => unknown>(
  id: string,
  fn: F,
): (self: ProcessContext<never>) => unknown {
  return (self) => storage.run(id, fn, self);
}

/**
 * @internal Runs a handler for a message that carried `id` (or none): bound to that id, or to no
 * id at all, never to whatever the receiving process itself runs under.
 */
export function runCorrelated<T>(id: string | undefined, fn: () => T): T {
  if (id !== undefined) return storage.run(id, fn);
  return storage.getStore() === undefined ? fn() : storage.exit(fn);
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * The logger of a node: every line gets the call's fields, `correlationId` when an id is bound
 * (unless the call gave one), and `fields` (the node's name). Levels `base` lacks stay absent (a silent logger stays
 * free). The base's methods are called as methods, so a pino instance keeps its `this`.
 */
export function correlatedLogger(base: Logger, fields: Readonly<Record<string, unknown>>): Logger {
  const out: { -readonly [K in (typeof LEVELS)[number]]?: LogMethod } = {};
  for (const level of LEVELS) {
    if (typeof base[level] !== 'function') continue;
    out[level] = (f, message) => {
      const id = storage.getStore();
      // The node's own fields last: a call's `node` field cannot hide which node logged.
      const merged = id === undefined ? { ...f, ...fields } : { correlationId: id, ...f, ...fields };
      if (message === undefined) base[level]!(merged);
      else base[level]!(merged, message);
    };
  }
  return Object.freeze(out);
}
