/**
 * Options of a node, their defaults (each with its reason), their validation, node names and the
 * cookie. docs/settings.md is the reader's table of the same options.
 *
 * @module
 */
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { type FragmentLimits, fragmentDefaults } from '../dist/fragments.ts';
import type { Logger } from '../dist/logger.ts';
import type { EpmdMode } from '../epmd/registration.ts';
import { DECODE_DEFAULTS, type DecodeOptions } from '../term/decode.ts';
import { DEFAULT_MAILBOX_LIMIT } from './process-table.ts';

/** TLS distribution (`inet_tls_dist`): TLS first, then the usual handshake with 4-byte frames. */
export interface TlsOptions {
  /** Our certificate chain (PEM). Presented as server and, when the peer asks, as client. */
  readonly cert: string | Buffer;
  /** Our private key (PEM). */
  readonly key: string | Buffer;
  /** Trusted CA certificates (PEM); the system store when absent. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /**
   * Verify peers: as client, the server's certificate against `ca` and the host part of its node
   * name; as server, require and verify a client certificate. Default true.
   */
  readonly verify?: boolean;
}

/** Options of `Node.start`. */
export interface NodeOptions {
  /** `alive@host` (long name when the host has a dot or is an IP address) or `alive` (short name on this host). */
  readonly name: string;
  /** The cookie; `~/.erlang.cookie` when absent. */
  readonly cookie?: string;
  /**
   * Connect hidden (no PUBLISHED flag): peers do not list this node in `nodes()` and `global` does
   * not mesh through it. Default false: the node runs `global`, so BEAM peers' `global:sync()` completes.
   */
  readonly hidden?: boolean;
  /** Where the EPMD comes from. Default `'auto'`. */
  readonly epmd?: EpmdMode;
  /** EPMD port for the string modes; `ERL_EPMD_PORT` or 4369 by default. */
  readonly epmdPort?: number;
  /** Interface and port to accept connections on. Default all interfaces, a free port. */
  readonly listen?: { readonly host?: string; readonly port?: number };
  /** `net_ticktime` of the cluster. Default 60 000. */
  readonly netTicktimeMs?: number;
  /** Deadline of each handshake step (and of the TCP/TLS connect). Default 7 000, as `net_setuptime`. */
  readonly setupTimeoutMs?: number;
  /** Largest frame accepted from a peer, in bytes; a bigger one drops the connection. */
  readonly maxFrameBytes?: number;
  /** Largest message from a peer, in bytes: bounds decoding (a compressed term's output too) and fragment reassembly. */
  readonly maxMessageBytes?: number;
  /** How many new atoms one term from a peer may add to the atom table (atoms already there are free); 0 allows none. */
  readonly atomBudget?: number;
  /** Deepest nesting of tuples, lists, maps and funs in a term from a peer. */
  readonly maxTermDepth?: number;
  /** Fragmented messages in reassembly at once, per connection. */
  readonly maxFragmentSequences?: number;
  /** Default mailbox bound of a process, in messages (a process past it exits `{mailbox_overflow, N}`); `Infinity` disables it. */
  readonly mailboxLimit?: number;
  /** Incoming handshakes in progress at once; more are closed at accept. */
  readonly maxPendingHandshakes?: number;
  /** Signals queued for one node while its connection is being set up; more are dropped (logged). */
  readonly maxQueuedSignals?: number;
  /** RPC calls into this node running at once; more are refused with `system_limit`. */
  readonly maxConcurrentRpc?: number;
  /** Timeout of this node's RPC calls that give none, in ms; `Infinity` waits forever. */
  readonly rpcTimeoutMs?: number;
  /**
   * Limits on fragmented messages in reassembly, per connection. Field by field, these override
   * `maxMessageBytes` and `maxFragmentSequences`.
   */
  readonly fragments?: Partial<FragmentLimits>;
  /**
   * Limits of the term decoder for data from peers. Field by field, these override
   * `maxMessageBytes`, `atomBudget` and `maxTermDepth`.
   */
  readonly decode?: DecodeOptions;
  /** Like `net_kernel:allow/1`: only these nodes (`alive@host`, `alive@`, `host`) may connect. Default everyone. */
  readonly allow?: readonly string[];
  /** TLS distribution. Every node of the cluster must use it. */
  readonly tls?: TlsOptions;
  /** A pino-compatible logger. Default silent. */
  readonly logger?: Logger;
  /** Random 32-bit challenges; `crypto.randomInt` by default. Injected for tests. */
  readonly randomChallenge?: () => number;
}

/** Defaults of {@link NodeOptions}, with the reason for each (docs/settings.md has the same table). */
export const nodeDefaults: {
  readonly hidden: boolean;
  readonly netTicktimeMs: number;
  readonly setupTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly maxMessageBytes: number;
  readonly atomBudget: number;
  readonly maxTermDepth: number;
  readonly maxFragmentSequences: number;
  readonly mailboxLimit: number;
  readonly maxPendingHandshakes: number;
  readonly maxQueuedSignals: number;
  readonly maxConcurrentRpc: number;
  readonly rpcTimeoutMs: number;
} = Object.freeze({
  // Visible, as `erl` is: the node runs `global` (protocol 8), so BEAM peers' global:sync() completes.
  hidden: false,
  // OTP's net_ticktime; it is not negotiated, so it must match the cluster.
  netTicktimeMs: 60_000,
  // OTP's net_setuptime (7 s per step).
  setupTimeoutMs: 7_000,
  // Big enough for unfragmented multi-MiB messages from peers without FRAGMENTS; bounds one allocation.
  maxFrameBytes: 128 * 1024 * 1024,
  // Same bound as a frame, so fragmenting is no way around it; also caps a zlib bomb's output.
  maxMessageBytes: DECODE_DEFAULTS.maxBytes,
  // The atom table is never collected: plenty for any real message, a flood of fresh atoms is an attack.
  atomBudget: DECODE_DEFAULTS.atomBudget,
  // Deeper than real data gets; decoding recursion at this depth is safe on Node's stack.
  maxTermDepth: DECODE_DEFAULTS.maxDepth,
  // One per concurrently sending BEAM process with a big message; far above normal traffic.
  maxFragmentSequences: fragmentDefaults.maxFragmentSequences,
  // A healthy consumer absorbs bursts (1M small messages is ~100 MB); a stuck one fails before the OS process does.
  mailboxLimit: DEFAULT_MAILBOX_LIMIT,
  // Handshakes are short; more in flight at once than this is a scan or a flood.
  maxPendingHandshakes: 64,
  // A setup takes at most a few setup timeouts; a sender producing faster than this is runaway.
  maxQueuedSignals: 100_000,
  // Generous for request/response traffic, small enough that a flood cannot hold unbounded work (= rpcDefaults).
  maxConcurrentRpc: 1_024,
  // gen_server:call's default: a hung peer becomes an error, not a promise that never settles (= rpcDefaults).
  rpcTimeoutMs: 5_000,
});

/** Stable codes of {@link NodeError}. */
export type NodeErrorCode =
  /** The node name is not `alive@host`/`alive`, not ASCII, or too long. */
  | 'invalid_name'
  /** No cookie given and `~/.erlang.cookie` is missing, unreadable, not private, or empty. */
  | 'cookie_unreadable'
  /** An option is out of range. */
  | 'invalid_option'
  /** The listener could not start. */
  | 'listen_failed'
  /** The node is stopped. */
  | 'stopped'
  /** The peer's name is not valid, or its host kind does not match ours (long vs short names). */
  | 'invalid_node'
  /** EPMD on the peer's host does not know the name (or could not be asked). */
  | 'not_found'
  /** TCP or TLS connect failed. */
  | 'connect_failed'
  /** A handshake step took longer than `setupTimeoutMs`. */
  | 'setup_timeout'
  /** The handshake failed (`cause` is the HandshakeError). */
  | 'handshake_failed'
  /** The connection closed before it came up. */
  | 'connection_closed'
  /** The peer is not in our allow list. */
  | 'not_allowed';

/** A node-level failure with a stable code. */
export class NodeError extends Error {
  readonly code: NodeErrorCode;
  constructor(code: NodeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NodeError';
    this.code = code;
  }
}

/** A parsed node name. */
export interface NodeName {
  readonly full: string;
  readonly alive: string;
  readonly host: string;
  /** True for a long name (the host has a dot, or is an IP address). */
  readonly long: boolean;
}

/** True when `host` would need `-name` (long names): it contains a dot or is an IP literal. */
export function isLongHost(host: string): boolean {
  return host.includes('.') || isIP(host) !== 0;
}

/** This machine's short host name (up to the first dot), as `-sname` uses. */
export function shortHostname(): string {
  const h = hostname();
  const dot = h.indexOf('.');
  return dot > 0 ? h.slice(0, dot) : h;
}

const ALIVE_RE = /^[A-Za-z0-9_-]+$/;
const ASCII_RE = /^[\x21-\x7e]+$/;

/** Parses `alive@host` or `alive` (short name on this host). Throws `invalid_name`. */
export function parseNodeName(name: string, defaultHost: () => string = shortHostname): NodeName {
  const at = name.indexOf('@');
  const alive = at < 0 ? name : name.slice(0, at);
  const host = at < 0 ? defaultHost() : name.slice(at + 1);
  if (!ALIVE_RE.test(alive) || alive.length > 255) {
    throw new NodeError('invalid_name', `invalid alive part in node name ${JSON.stringify(name)}`);
  }
  if (
    host.length === 0 ||
    host.includes('@') ||
    !ASCII_RE.test(host) ||
    alive.length + host.length + 1 > 255
  ) {
    throw new NodeError('invalid_name', `invalid host part in node name ${JSON.stringify(name)}`);
  }
  return { full: `${alive}@${host}`, alive, host, long: isLongHost(host) };
}

/** Reads `~/.erlang.cookie` as OTP does: a regular file, private to its owner, printable ASCII. */
export function readCookieFile(path: string = join(homedir(), '.erlang.cookie')): string {
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new NodeError('cookie_unreadable', `cookie file ${path} is not a regular file`);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new NodeError('cookie_unreadable', `cookie file ${path} must be accessible by owner only`);
    }
    text = readFileSync(path, 'latin1');
  } catch (e) {
    if (e instanceof NodeError) throw e;
    throw new NodeError('cookie_unreadable', `cannot read cookie file ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const cookie = text.replace(/[\s]+$/, '');
  if (cookie.length === 0) throw new NodeError('cookie_unreadable', `cookie file ${path} is empty`);
  if (!/^[\x20-\x7e]+$/.test(cookie)) {
    throw new NodeError('cookie_unreadable', `cookie file ${path} holds characters outside printable ASCII`);
  }
  return cookie;
}

/**
 * `net_kernel:allow/1` matching: an entry `alive@host` matches that node, `alive@` that alive
 * part on any host, and a bare `host` (no `@`) any node on that host.
 */
export function isAllowed(node: string, allow: readonly string[]): boolean {
  const at = node.indexOf('@');
  const alive = at < 0 ? '' : node.slice(0, at);
  const host = at < 0 ? node : node.slice(at + 1);
  for (const entry of allow) {
    if (entry === node) return true;
    const eat = entry.indexOf('@');
    if (eat < 0) {
      if (entry === host) return true;
      continue;
    }
    const ealive = entry.slice(0, eat);
    const ehost = entry.slice(eat + 1);
    if (ealive.length === 0) continue;
    if (ehost.length === 0) {
      if (ealive === alive) return true;
    } else if (ealive === alive && ehost === host) {
      return true;
    }
  }
  return false;
}

/** Longest delay a Node.js timer takes (longer ones fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A frame's length is a 32-bit field. */
const MAX_FRAME_BYTES = 2 ** 32 - 1;

/** An option that is missing its type or range. `option` names it (`decode.atomBudget` for nested ones). */
export class OptionError extends NodeError {
  /** The option's name, dotted for nested options. */
  readonly option: string;
  constructor(option: string, expected: string, got: unknown) {
    super('invalid_option', `option ${option} must be ${expected}, got ${describe(got)}`);
    this.name = 'OptionError';
    this.option = option;
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

type Check = (v: unknown, option: string) => void;

function integer(min: number, max: number, infinite = false): Check {
  return (v, option) => {
    if (infinite && v === Number.POSITIVE_INFINITY) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
      throw new OptionError(option, `an integer ${range}${infinite ? ' or Infinity' : ''}`, v);
    }
  };
}

const count = integer(1, Number.MAX_SAFE_INTEGER);
const ms = integer(1, MAX_TIMER_MS);
const port = integer(1, 65_535);

function boolean(v: unknown, option: string): void {
  if (typeof v !== 'boolean') throw new OptionError(option, 'a boolean', v);
}

function string(v: unknown, option: string): void {
  if (typeof v !== 'string') throw new OptionError(option, 'a string', v);
}

function pem(v: unknown, option: string): void {
  if (typeof v !== 'string' && !Buffer.isBuffer(v)) throw new OptionError(option, 'a string or a Buffer', v);
}

function object(v: unknown, option: string): asserts v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new OptionError(option, 'an object', v);
}

/** Checks each present field of `o` with its check; unknown fields are refused (a typo would silently keep a default). */
function fields(o: Record<string, unknown>, prefix: string, checks: Readonly<Record<string, Check>>): void {
  for (const key of Object.keys(o)) {
    const v = o[key];
    if (v === undefined) continue;
    const check = checks[key];
    if (check === undefined) throw new OptionError(`${prefix}${key}`, 'a known option', 'an unknown option');
    check(v, `${prefix}${key}`);
  }
}

const topChecks: Readonly<Record<keyof NodeOptions, Check>> = {
  name: string,
  cookie: string,
  hidden: boolean,
  epmd: (v, option) => {
    if (v === 'auto' || v === 'external' || v === 'embedded') return;
    if (typeof v !== 'object' || v === null) {
      throw new OptionError(option, "'auto', 'external', 'embedded' or { host, port }", v);
    }
    fields(v as Record<string, unknown>, `${option}.`, { host: string, port });
  },
  epmdPort: port,
  listen: (v, option) => {
    object(v, option);
    fields(v, `${option}.`, { host: string, port: integer(0, 65_535) });
  },
  netTicktimeMs: ms,
  setupTimeoutMs: ms,
  maxFrameBytes: integer(1, MAX_FRAME_BYTES),
  maxMessageBytes: count,
  atomBudget: integer(0, Number.MAX_SAFE_INTEGER),
  maxTermDepth: count,
  maxFragmentSequences: count,
  mailboxLimit: integer(1, Number.MAX_SAFE_INTEGER, true),
  maxPendingHandshakes: count,
  maxQueuedSignals: count,
  maxConcurrentRpc: count,
  rpcTimeoutMs: integer(1, Number.MAX_SAFE_INTEGER, true),
  fragments: (v, option) => {
    object(v, option);
    fields(v, `${option}.`, { maxFragmentedMessageBytes: count, maxFragmentSequences: count });
  },
  decode: (v, option) => {
    object(v, option);
    fields(v, `${option}.`, {
      maxBytes: count,
      maxDepth: count,
      atomBudget: integer(0, Number.MAX_SAFE_INTEGER),
      copyBinaries: boolean,
    });
  },
  allow: (v, option) => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
      throw new OptionError(option, 'an array of strings', v);
    }
  },
  tls: (v, option) => {
    object(v, option);
    if (v.cert === undefined) throw new OptionError(`${option}.cert`, 'a string or a Buffer', undefined);
    if (v.key === undefined) throw new OptionError(`${option}.key`, 'a string or a Buffer', undefined);
    fields(v, `${option}.`, {
      cert: pem,
      key: pem,
      ca: (ca, name) => {
        if (!Array.isArray(ca)) {
          pem(ca, name);
          return;
        }
        for (let i = 0; i < ca.length; i++) pem(ca[i], `${name}[${i}]`);
      },
      verify: boolean,
    });
  },
  logger: (v, option) => {
    if (typeof v !== 'object' || v === null) throw new OptionError(option, 'a pino-compatible logger', v);
    for (const level of ['debug', 'info', 'warn', 'error'] as const) {
      const m = (v as Record<string, unknown>)[level];
      if (m !== undefined && typeof m !== 'function')
        throw new OptionError(`${option}.${level}`, 'a function', m);
    }
  },
  randomChallenge: (v, option) => {
    if (typeof v !== 'function') throw new OptionError(option, 'a function', v);
  },
};

/**
 * Checks every option's type and range, as `Node.start` does before anything else. Throws an
 * {@link OptionError} (a {@link NodeError} with code `invalid_option`) naming the first bad one;
 * an unknown option is refused too (a misspelt limit would silently keep its default).
 */
export function validateNodeOptions(o: NodeOptions): void {
  object(o, 'options');
  fields(o as unknown as Record<string, unknown>, '', topChecks);
}

/** The decoder limits of a node: the flat options, overridden field by field by `decode`. */
export function decodeLimits(o: NodeOptions): DecodeOptions {
  return {
    maxBytes: o.maxMessageBytes ?? nodeDefaults.maxMessageBytes,
    maxDepth: o.maxTermDepth ?? nodeDefaults.maxTermDepth,
    atomBudget: o.atomBudget ?? nodeDefaults.atomBudget,
    ...o.decode,
  };
}

/** The fragment limits of a node: the flat options, overridden field by field by `fragments`. */
export function fragmentLimits(o: NodeOptions): FragmentLimits {
  return {
    maxFragmentedMessageBytes: o.maxMessageBytes ?? fragmentDefaults.maxFragmentedMessageBytes,
    maxFragmentSequences: o.maxFragmentSequences ?? nodeDefaults.maxFragmentSequences,
    ...o.fragments,
  };
}
