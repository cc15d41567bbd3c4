/**
 * Options of a node, their defaults, node names and the cookie.
 *
 * @module
 */
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import type { FragmentLimits } from '../dist/fragments.ts';
import type { Logger } from '../dist/logger.ts';
import type { EpmdMode } from '../epmd/registration.ts';
import type { DecodeOptions } from '../term/decode.ts';

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
  /** Connect hidden (no PUBLISHED flag). Default true until the node runs `global`. */
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
  /** Largest frame accepted from a peer. */
  readonly maxFrameBytes?: number;
  /** Incoming handshakes in progress at once; more are closed at accept. */
  readonly maxPendingHandshakes?: number;
  /** Signals queued for one node while its connection is being set up; more are dropped (logged). */
  readonly maxQueuedSignals?: number;
  /** Limits on fragmented messages in reassembly, per connection. */
  readonly fragments?: Partial<FragmentLimits>;
  /** Limits of the term decoder for data from peers. */
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

/** Defaults of {@link NodeOptions}, with the reason for each. */
export const nodeDefaults: {
  readonly hidden: boolean;
  readonly netTicktimeMs: number;
  readonly setupTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly maxPendingHandshakes: number;
  readonly maxQueuedSignals: number;
} = Object.freeze({
  // A visible node must run `global`; until it does, hidden keeps BEAM's global:sync() from blocking.
  hidden: true,
  // OTP's net_ticktime; it is not negotiated, so it must match the cluster.
  netTicktimeMs: 60_000,
  // OTP's net_setuptime (7 s per step).
  setupTimeoutMs: 7_000,
  // Big enough for unfragmented multi-MiB messages from peers without FRAGMENTS; bounds one allocation.
  maxFrameBytes: 128 * 1024 * 1024,
  // Handshakes are short; more in flight at once than this is a scan or a flood.
  maxPendingHandshakes: 64,
  // A setup takes at most a few setup timeouts; a sender producing faster than this is runaway.
  maxQueuedSignals: 100_000,
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
