/**
 * A distributed node: a listener, an EPMD registration, the connection table, and the process
 * table wired to the wire.
 *
 * Connection table (one entry per peer name, as OTP's `sys_dist`):
 * - `pending`: a setup owns the entry — our own attempt (initiator) or an incoming handshake
 *   (acceptor). Signals sent meanwhile are queued and go out, in order, when it comes up; they are
 *   dropped if it fails (links and monitors then fire `noconnection`), as on the BEAM.
 * - `up`: a live {@link Connection}.
 * - `up_pending`: up, while an incoming handshake from the same name (the peer restarted and we
 *   have not noticed) proves its cookie; the old connection is dropped just before the new one's
 *   final ack.
 *
 * Races tolerated (the simultaneous-connect rule, as net_kernel's `accept_pending`):
 * - both sides connect at once: the acceptor whose own name is greater answers `nok` and keeps its
 *   own attempt; the other kills its attempt and answers `ok_simultaneous`. The initiator that gets
 *   `nok` waits (up to the setup timeout) for the peer's incoming connection.
 * - an attempt killed after it answered its last handshake question: `onUp`/`onFail` check that
 *   the attempt still owns the entry and otherwise drop the socket.
 *
 * @module
 */

import { hkdfSync, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, isIP, type Server, type Socket, connect as tcpConnect } from 'node:net';
import {
  createSecureContext,
  type SecureContext,
  type TLSSocket,
  type Server as TlsServer,
  connect as tlsConnect,
  createServer as tlsCreateServer,
} from 'node:tls';
import { NodeElection } from '../cluster/election/node-election.ts';
import { ClusterHealth } from '../cluster/health.ts';
import { NodeMembership } from '../cluster/membership/node-membership.ts';
import { Connection, type ConnectionCloseReason } from '../dist/connection.ts';
import {
  ALIAS_SEND_TT,
  type ControlMessage,
  EXIT,
  EXIT2,
  MONITOR_P_EXIT,
  PAYLOAD_EXIT,
  PAYLOAD_EXIT2,
  PAYLOAD_MONITOR_P_EXIT,
  REG_SEND_TT,
  SEND_SENDER_TT,
  SEND_TT,
  SPAWN_REPLY,
} from '../dist/control.ts';
import { nodeFlags } from '../dist/flags.ts';
import type { FrameParser } from '../dist/framing.ts';
import {
  type AcceptStatus,
  Handshake,
  type HandshakeQuestion,
  type HandshakeResult,
  isNodeName,
} from '../dist/handshake.ts';
import { type Logger, silentLogger } from '../dist/logger.ts';
import { adoptAccepted, dialTcp, newReadBuffer } from '../dist/onread.ts';
import { type SetupError, SetupRun } from '../dist/setup.ts';
import { lookup } from '../epmd/client.ts';
import { type NodeRegistration, startRegistration } from '../epmd/registration.ts';
import { GlobalRegistry } from '../services/global/api.ts';
import { GlobalService } from '../services/global/service.ts';
import { Groups } from '../services/pg/groups.ts';
import { Rpc } from '../services/rpc.ts';
import { TermReader } from '../term/decode.ts';
import { Atom, atom, Pid, Reference, type Term, Tuple } from '../term/types.ts';
import type { CallDestination, CallOptions } from './call.ts';
import {
  type CorrelatedMessage,
  carriesCorrelation,
  correlatedLogger,
  correlationOfToken,
  correlationToken,
  withoutCorrelation,
} from './correlation.ts';
import { type ServerOptions, type ServerSpec, startServer } from './gen-server.ts';
import { netKernelAtoms, startNetKernel } from './net-kernel.ts';
import {
  decodeLimits,
  fragmentLimits,
  isAllowed,
  isLongHost,
  NodeError,
  type NodeOptions,
  nodeDefaults,
  parseNodeName,
  readCookieFile,
  type TlsOptions,
  validateNodeOptions,
} from './options.ts';
import type { Destination, ProcessContext } from './process.ts';
import { ProcessTable, type SpawnOptions, type Logger as TableLogger } from './process-table.ts';
import { type RemoteSignals, type Signal, sameRef, type TypedPid } from './signals.ts';

/** Payload of `nodeup`. */
export interface NodeUpInfo {
  /** The connection is hidden (one side did not publish). */
  readonly hidden: boolean;
}

/** Payload of `nodedown`. */
export interface NodeDownInfo {
  /** `connection_closed`, `net_tick_timeout`, `disconnect` (by us), or `bad_input`. */
  readonly reason: string;
  /** For `bad_input`, the decode error code; for `disconnect`, why (e.g. `replaced`, `stop`). */
  readonly detail?: string;
  readonly hidden: boolean;
}

/** Events of a {@link Node}. */
export interface NodeEvents {
  nodeup: [node: string, info: NodeUpInfo];
  nodedown: [node: string, info: NodeDownInfo];
}

/** Which connected nodes {@link Node.nodes} lists. */
export type NodesKind = 'visible' | 'hidden' | 'connected';

/** Handles control messages the process layer has no signal for (SPAWN_REQUEST, SPAWN_REPLY). */
export type ControlHook = (peer: Atom, msg: ControlMessage) => void;

interface Attempt {
  readonly role: 'initiator' | 'acceptor';
  run: SetupRun | undefined;
  socket: Socket | undefined;
  cancelled: boolean;
}

interface Waiter {
  resolve(): void;
  reject(error: NodeError): void;
}

interface Entry {
  readonly name: string;
  readonly atom: Atom;
  state: 'pending' | 'up' | 'up_pending';
  /** pending: the setup that owns the entry (undefined while waiting after `nok`). */
  owner: Attempt | undefined;
  /** up_pending: the incoming setup that replaces `conn`. */
  replacer: Attempt | undefined;
  conn: Connection | undefined;
  waiters: Waiter[];
  /** Signals waiting for the connection, in order: destinations (undefined for a raw control message) and signals. */
  queueTo: (Pid | Atom | Reference | undefined)[];
  queueSignals: (Signal | ControlMessage)[];
  nokTimer: ReturnType<typeof setTimeout> | undefined;
  /** Signals dropped because the queue was full (logged once). */
  dropped: number;
}

const SHUTDOWN = atom('shutdown');
const NOTSUP = atom('notsup');

/**
 * A node of an Erlang cluster. Start one with {@link Node.start}.
 *
 * ```ts
 * const node = await Node.start({ name: 'ts@127.0.0.1', cookie: 'secret' });
 * await node.ping('erl@127.0.0.1'); // 'pong'
 * ```
 */
export class Node extends EventEmitter<NodeEvents> {
  /** Full node name, `alive@host`. */
  readonly name: string;
  /** The name as an atom (what pids carry). */
  readonly atom: Atom;
  /** This incarnation's creation, from EPMD. */
  readonly creation: number;
  /** The distribution port we listen on. */
  readonly port: number;
  /** True when the node uses long names (host with a dot, or an IP address). */
  readonly longNames: boolean;
  /** Hidden node (does not publish itself). */
  readonly hidden: boolean;
  /** The node's processes. */
  readonly processes: ProcessTable;

  private readonly cookie: string;
  private readonly flags: bigint;
  private readonly logger: Logger;
  private readonly server: Server;
  private readonly registration: NodeRegistration;
  private readonly epmdPort: number;
  private readonly setupTimeoutMs: number;
  private readonly netTicktimeMs: number;
  private readonly maxPendingHandshakes: number;
  private readonly maxQueuedSignals: number;
  private readonly opts: NodeOptions;
  private readonly tls: { readonly options: TlsOptions; readonly context: SecureContext } | undefined;
  /** Runs the TLS handshake of incoming connections (fed by our listener, never listening itself). */
  private readonly tlsServer: TlsServer | undefined;
  /** Incoming connections in their TLS handshake, by remote address and port. */
  private readonly tlsPending = new Map<string, Attempt>();
  private readonly randomChallenge: () => number;
  private readonly entries = new Map<string, Entry>();
  private readonly accepting = new Set<Attempt>();
  /** Where every plain TCP connection of this node reads (onread.ts): each read is copied out at once. */
  private readonly readBuffer: Buffer = newReadBuffer();
  private allowList: readonly string[] | undefined;
  private readonly hooks = new Map<'spawn_request' | 'spawn_reply', ControlHook>();
  private stopped = false;
  private stopping: Promise<void> | undefined;
  /** What the process table sends remote signals through. */
  private readonly remote: RemoteSignals = {
    send: (toNode, to, signal) => this.remoteSend(toNode, to, signal),
    monitorNode: (node, watcher, on) => this.remoteMonitorNode(node, watcher, on),
    aliasSupported: (node) => this.connection(node.name)?.alias,
    connect: (node) => this.connect(node.name),
  };

  private constructor(init: {
    name: string;
    long: boolean;
    cookie: string;
    opts: NodeOptions;
    server: Server;
    port: number;
    registration: NodeRegistration;
    tls: { readonly options: TlsOptions; readonly context: SecureContext } | undefined;
  }) {
    super();
    const o = init.opts;
    this.name = init.name;
    this.atom = atom(init.name);
    this.longNames = init.long;
    this.cookie = init.cookie;
    this.opts = o;
    this.hidden = o.hidden ?? nodeDefaults.hidden;
    this.flags = nodeFlags(this.hidden);
    // Every line carries `node`, and `correlationId` inside withCorrelation (correlation.ts).
    this.logger = correlatedLogger(o.logger ?? silentLogger, { node: init.name });
    this.server = init.server;
    this.port = init.port;
    this.registration = init.registration;
    this.creation = init.registration.creation;
    this.epmdPort = init.registration.epmdPort;
    this.setupTimeoutMs = o.setupTimeoutMs ?? nodeDefaults.setupTimeoutMs;
    this.netTicktimeMs = o.netTicktimeMs ?? nodeDefaults.netTicktimeMs;
    this.maxPendingHandshakes = o.maxPendingHandshakes ?? nodeDefaults.maxPendingHandshakes;
    this.maxQueuedSignals = o.maxQueuedSignals ?? nodeDefaults.maxQueuedSignals;
    this.allowList = o.allow;
    this.tls = init.tls;
    if (init.tls !== undefined) {
      const t = init.tls.options;
      const verify = t.verify ?? true;
      this.tlsServer = tlsCreateServer({
        cert: t.cert,
        key: t.key,
        ...(t.ca !== undefined ? { ca: t.ca as string | Buffer | Array<string | Buffer> } : {}),
        requestCert: verify,
        rejectUnauthorized: verify,
        handshakeTimeout: this.setupTimeoutMs,
      });
      this.tlsServer.on('secureConnection', (secure) => this.onTlsAccepted(secure));
      this.tlsServer.on('tlsClientError', (err, secure) => this.onTlsRejected(err, secure));
    } else {
      this.tlsServer = undefined;
    }
    this.randomChallenge = o.randomChallenge ?? (() => randomInt(0, 0x1_0000_0000));
    this.processes = new ProcessTable({
      node: this.atom,
      creation: this.creation,
      remote: this.remote,
      logger: tableLogger(this.logger),
      mailboxLimit: o.mailboxLimit ?? nodeDefaults.mailboxLimit,
    });
    this.server.on('connection', (socket) => this.onIncoming(socket));
    startNetKernel(this.processes);
    // --- services started with the node (src/services/): one line each ---
    this.groups = new Groups({ node: this, logger: this.logger });
    this.rpc = new Rpc(this, this.logger, {
      timeoutMs: o.rpcTimeoutMs ?? nodeDefaults.rpcTimeoutMs,
      maxConcurrent: o.maxConcurrentRpc ?? nodeDefaults.maxConcurrentRpc,
    });
    this.global = new GlobalRegistry(new GlobalService(this, this.logger));
  }

  /**
   * Starts a node: reads the cookie, listens, registers with EPMD. Rejects with a
   * {@link NodeError} (`invalid_name`, `cookie_unreadable`, `invalid_option`, `listen_failed`)
   * or the EPMD's error. A bad option is an {@link OptionError} (code `invalid_option`) naming it.
   */
  static start(options: NodeOptions): Promise<Node> {
    // Nothing the node keeps (listener, registration, services) may inherit the caller's correlation.
    return withoutCorrelation(() => Node.startNode(options));
  }

  private static async startNode(options: NodeOptions): Promise<Node> {
    validateNodeOptions(options);
    const parsed = parseNodeName(options.name);
    const cookie = options.cookie ?? readCookieFile();
    if (cookie.length === 0) throw new NodeError('cookie_unreadable', 'the cookie is empty');
    const tls =
      options.tls === undefined ? undefined : { options: options.tls, context: makeContext(options.tls) };
    // Plain TCP: accepted sockets wait unread until adoptAccepted (onread.ts) takes them.
    const server = createServer({ noDelay: true, pauseOnConnect: tls === undefined });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', (e) =>
        reject(new NodeError('listen_failed', `cannot listen: ${e.message}`, { cause: e })),
      );
      server.listen({ host: options.listen?.host, port: options.listen?.port ?? 0 }, () => {
        const a = server.address();
        resolve(typeof a === 'object' && a !== null ? a.port : 0);
      });
    });
    let registration: NodeRegistration;
    try {
      const logger = correlatedLogger(options.logger ?? silentLogger, { node: parsed.full });
      registration = await startRegistration({
        name: parsed.alive,
        port,
        hidden: options.hidden ?? nodeDefaults.hidden,
        mode: options.epmd ?? 'auto',
        ...(options.epmdPort !== undefined ? { epmdPort: options.epmdPort } : {}),
        // The registration's lines have no code of their own: they share one.
        logger: {
          debug: (m, f) => logger.debug?.({ code: 'epmd_registration', ...f }, m),
          info: (m, f) => logger.info?.({ code: 'epmd_registration', ...f }, m),
          warn: (m, f) => logger.warn?.({ code: 'epmd_registration', ...f }, m),
        },
      });
    } catch (e) {
      server.close();
      throw e;
    }
    return new Node({
      name: parsed.full,
      long: parsed.long,
      cookie,
      opts: options,
      server,
      port,
      registration,
      tls,
    });
  }

  // --- services (src/services/): one field or getter each ---
  /** SWIM membership over UDP, packets keyed from the cookie; idle until `membership.start()` (src/cluster/membership/node-membership.ts). */
  get membership(): NodeMembership {
    this.lazyMembership ??= new NodeMembership(this);
    return this.lazyMembership;
  }
  private lazyMembership: NodeMembership | undefined;
  /** Cluster health, quorum and a leader hint over the membership view (src/cluster/health.ts). */
  get health(): ClusterHealth {
    this.lazyHealth ??= new ClusterHealth({ self: this.name, members: () => this.membership.members() });
    return this.lazyHealth;
  }
  private lazyHealth: ClusterHealth | undefined;
  /** A 32-byte key derived from the cookie by HKDF-SHA256 for `purpose`; the cookie itself stays private. */
  cookieKey(purpose: string): Uint8Array {
    return new Uint8Array(hkdfSync('sha256', this.cookie, 'distribute/cookie-key/v1', purpose, 32));
  }
  /** Process groups compatible with OTP `pg`: the default scope `pg`, others by `groups.scope(name)`; each starts on first use (src/services/pg/). */
  readonly groups: Groups;
  /** RPC: call functions on other nodes, expose functions to them (src/services/rpc.ts). */
  readonly rpc: Rpc;
  /** Names unique across the cluster and cluster-wide locks, OTP `global` compatible (src/services/global/). */
  readonly global: GlobalRegistry;
  /** Raft leader election among a fixed voter set; idle until `election.start(...)` (src/cluster/election/). */
  readonly election: NodeElection = new NodeElection(this);

  // --- public API ---

  /** Connected nodes: visible ones (default), hidden ones, or all. */
  nodes(kind: NodesKind = 'visible'): string[] {
    const out: string[] = [];
    for (const e of this.entries.values()) {
      const c = e.conn;
      if (c === undefined || !c.open) continue;
      if (kind === 'connected' || (kind === 'hidden') === c.hidden) out.push(e.name);
    }
    return out;
  }

  /** Sets up a connection to `node` (no-op when up). Rejects with a {@link NodeError}. */
  connect(node: string): Promise<void> {
    if (node === this.name) return Promise.resolve();
    const entry = this.ensureEntry(node);
    if (entry instanceof NodeError) return Promise.reject(entry);
    if (entry.state !== 'pending' && entry.conn !== undefined) return Promise.resolve();
    return new Promise<void>((resolve, reject) => entry.waiters.push({ resolve, reject }));
  }

  /** Closes the connection to `node`; true when there was one. */
  disconnect(node: string): boolean {
    const e = this.entries.get(node);
    if (e === undefined) return false;
    if (e.conn !== undefined) {
      e.conn.close('disconnect', 'disconnect_node');
      return true;
    }
    this.failEntry(e, new NodeError('connection_closed', `connection to ${node} abandoned`));
    return true;
  }

  /**
   * `net_adm:ping/1`: connects if needed, then calls `net_kernel` there with `{is_auth, Us}`.
   * `pong` when it answers `yes`; otherwise `pang` (and the connection is dropped, as OTP does).
   */
  async ping(node: string, timeoutMs = 15_000): Promise<'pong' | 'pang'> {
    if (node === this.name) return 'pong';
    try {
      await this.connect(node);
    } catch {
      return 'pang';
    }
    const answer = await new Promise<boolean>((resolve) => {
      try {
        this.processes.spawn(async (self) => {
          const target = [netKernelAtoms.net_kernel, atom(node)] as const;
          const mref = self.monitor(target);
          self.send(
            target,
            new Tuple([
              netKernelAtoms.$gen_call,
              new Tuple([self.pid, mref]),
              new Tuple([netKernelAtoms.is_auth, this.atom]),
            ]),
          );
          try {
            const m = await self.receive({ match: (x) => isAnswer(x, mref), timeoutMs });
            resolve(m instanceof Tuple && m.length === 2 && m.elements[1] === netKernelAtoms.yes);
          } catch {
            resolve(false);
          }
          self.demonitor(mref, { flush: true });
        });
      } catch {
        resolve(false);
      }
    });
    if (answer) return 'pong';
    this.disconnect(node);
    return 'pang';
  }

  /** Starts a process (see {@link ProcessTable.spawn}). */
  spawn<M = Term>(fn: (self: ProcessContext<M>) => unknown, options?: SpawnOptions): TypedPid<M> {
    return this.processes.spawn(fn, options);
  }

  /**
   * Calls a gen_server (Erlang's, or one from {@link spawnServer}) at a pid, a local name (atom
   * or string) or `[name, node]`, and resolves with its reply. Rejects with a `CallError` (code
   * `timeout`, `noproc`, `noconnection`, `exit`). Inside a process, use `self.call`.
   */
  call(destination: CallDestination | string, request: Term, options?: CallOptions): Promise<Term> {
    return this.processes.call(destination, request, options);
  }

  /**
   * Starts a gen_server-compatible server (see gen-server.ts) and resolves with its pid once its
   * `init` returned; BEAM processes reach it with `gen_server:call/cast` by pid or `{Name, Node}`.
   */
  spawnServer<S>(spec: ServerSpec<S>, options?: ServerOptions): Promise<TypedPid> {
    return startServer(this.processes, spec, options);
  }

  /**
   * Sends a message to a pid, a local name (atom or string), `[name, node]` or an alias. Remote
   * destinations connect on demand; messages sent meanwhile are queued, and dropped if the
   * connection cannot be set up. A local name nobody holds throws (`not_registered`).
   */
  send(to: Destination | string, message: Term): void {
    this.processes.send(typeof to === 'string' ? atom(to) : to, message);
  }

  /** `net_kernel:allow/1`: from now on, only these nodes may connect (entries as in {@link NodeOptions.allow}); undefined allows all. */
  allow(nodes: readonly string[] | undefined): void {
    this.allowList = nodes === undefined ? undefined : [...nodes];
  }

  /** Installs the handler of SPAWN_REQUEST or SPAWN_REPLY control messages (the RPC layer does). */
  setControlHook(kind: 'spawn_request' | 'spawn_reply', hook: ControlHook | undefined): void {
    if (hook === undefined) this.hooks.delete(kind);
    else this.hooks.set(kind, hook);
  }

  /** Sends a raw control message to `node` over its connection (connecting on demand). */
  sendControl(node: Atom, msg: ControlMessage): void {
    const e = this.entries.get(node.name);
    if (e?.conn !== undefined && e.state !== 'pending') {
      e.conn.sendControl(msg);
      return;
    }
    this.enqueue(node, undefined, msg);
  }

  /** The live connection to `node`, if any (for its negotiated capabilities). */
  connection(node: string): Connection | undefined {
    const e = this.entries.get(node);
    return e?.state !== 'pending' ? e?.conn : undefined;
  }

  /**
   * The node's logger, for application code: lines get `node` and, inside `withCorrelation`,
   * `correlationId`, like the library's own (silent unless a `logger` option was given).
   */
  get log(): Logger {
    return this.logger;
  }

  /** True once `stop()` was called. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Stops the node: processes exit `shutdown`, connections close, the listener and EPMD registration go. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    // Exits of our processes go out to linked and monitoring peers before the connections close.
    this.processes.stopAll(SHUTDOWN);
    this.stopped = true;
    // Stops accepting at once; the callback would wait for every accepted socket to end.
    this.server.close();
    for (const a of [...this.accepting]) this.cancel(a);
    for (const e of [...this.entries.values()]) {
      if (e.conn !== undefined) e.conn.close('disconnect', 'stop');
      if (this.entries.get(e.name) === e) this.failEntry(e, new NodeError('stopped', 'the node stopped'));
    }
    await this.registration.close();
    // Others see `left` rather than a failure.
    await this.lazyMembership?.leave();
  }

  // --- RemoteSignals (called by the process table) ---

  /** `monitor_node(Node, true)` connects, as on the BEAM; a node we cannot reach is down at once. */
  private remoteMonitorNode(node: Atom, _watcher: Pid, on: boolean): void {
    if (!on || node === this.atom) return;
    const e = this.ensureEntry(node.name);
    if (e instanceof NodeError) queueMicrotask(() => this.processes.handleNodeDown(node));
  }

  // --- connection table ---

  /** The entry for `node`, starting our own attempt when there is none. */
  private ensureEntry(node: string): Entry | NodeError {
    if (this.stopped) return new NodeError('stopped', 'the node is stopped');
    const existing = this.entries.get(node);
    if (existing !== undefined) return existing;
    if (!isNodeName(node)) return new NodeError('invalid_node', `invalid node name ${JSON.stringify(node)}`);
    const host = node.slice(node.indexOf('@') + 1);
    if (isLongHost(host) !== this.longNames) {
      return new NodeError(
        'invalid_node',
        `${node} uses ${this.longNames ? 'short' : 'long'} names; this node uses ${this.longNames ? 'long' : 'short'} names`,
      );
    }
    const entry = this.newEntry(node);
    const attempt: Attempt = { role: 'initiator', run: undefined, socket: undefined, cancelled: false };
    entry.owner = attempt;
    // The connection outlives the send that opened it: its socket must not carry that send's correlation.
    void withoutCorrelation(() =>
      this.runInitiator(entry, attempt).catch((e: unknown) => {
        this.logger.error?.({ code: 'internal', peer: node, err: e }, 'connection setup crashed');
      }),
    );
    return entry;
  }

  private newEntry(node: string): Entry {
    const entry: Entry = {
      name: node,
      atom: atom(node),
      state: 'pending',
      owner: undefined,
      replacer: undefined,
      conn: undefined,
      waiters: [],
      queueTo: [],
      queueSignals: [],
      nokTimer: undefined,
      dropped: 0,
    };
    this.entries.set(node, entry);
    return entry;
  }

  private async runInitiator(entry: Entry, attempt: Attempt): Promise<void> {
    const at = entry.name.indexOf('@');
    const alive = entry.name.slice(0, at);
    const host = entry.name.slice(at + 1);
    let port: number;
    try {
      const info = await lookup(alive, { host, epmdPort: this.epmdPort, timeoutMs: this.setupTimeoutMs });
      if (info === undefined) throw new NodeError('not_found', `EPMD on ${host} does not know ${alive}`);
      port = info.port;
    } catch (e) {
      const err =
        e instanceof NodeError
          ? e
          : new NodeError('not_found', `EPMD lookup of ${entry.name} failed: ${String(e)}`, { cause: e });
      this.attemptFailed(entry, attempt, err);
      return;
    }
    if (attempt.cancelled) return;
    let socket: Socket;
    try {
      socket = await this.dial(host, port, attempt);
    } catch (e) {
      this.attemptFailed(entry, attempt, e as NodeError);
      return;
    }
    if (attempt.cancelled) {
      socket.destroy();
      return;
    }
    attempt.socket = socket;
    const run = new SetupRun({
      socket,
      handshake: Handshake.initiator({
        thisNode: this.name,
        thisFlags: this.flags,
        thisCreation: this.creation,
        cookie: this.cookie,
        challenge: this.randomChallenge(),
        peer: entry.name,
      }),
      headerBytes: this.tls === undefined ? 2 : 4,
      setupTimeoutMs: this.setupTimeoutMs,
      decide: (q) => this.decide(q, attempt),
      onUp: (r, s, p, f) => this.onUp(attempt, r, s, p, f),
      onFail: (e) => this.onSetupFail(attempt, entry.name, e),
    });
    attempt.run = run;
    run.start();
  }

  /** TCP connect (then TLS when configured) within the setup timeout. */
  private dial(host: string, port: number, attempt: Attempt): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      // Plain TCP reads through `onread` (onread.ts); TLS reads through its own layer.
      const raw =
        this.tls === undefined
          ? dialTcp(host, port, this.readBuffer)
          : tcpConnect({ host, port, noDelay: true });
      attempt.socket = raw;
      let sock: Socket = raw;
      let settled = false;
      const fail = (code: 'setup_timeout' | 'connect_failed', message: string, cause?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        reject(new NodeError(code, `connect to ${host}:${port}: ${message}`, { cause }));
      };
      const onError = (e: Error): void => fail('connect_failed', e.message, e);
      // Also settles when the attempt is cancelled (the socket is destroyed without an error).
      const onClose = (): void => fail('connect_failed', 'closed');
      const done = (s: Socket): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        raw.off('error', onError);
        raw.off('close', onClose);
        s.off('error', onError);
        s.off('close', onClose);
        resolve(s);
      };
      const timer = setTimeout(
        () => fail('setup_timeout', `took more than ${this.setupTimeoutMs} ms`),
        this.setupTimeoutMs,
      );
      raw.once('error', onError);
      raw.once('close', onClose);
      raw.once('connect', () => {
        const t = this.tls;
        if (t === undefined) {
          done(raw);
          return;
        }
        const secure = tlsConnect({
          socket: raw,
          host,
          ...(isIP(host) === 0 ? { servername: host } : {}),
          secureContext: t.context,
          rejectUnauthorized: t.options.verify ?? true,
        });
        sock = secure;
        attempt.socket = secure;
        secure.once('error', onError);
        secure.once('close', onClose);
        secure.once('secureConnect', () => done(secure));
      });
    });
  }

  private onIncoming(socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    if (this.accepting.size >= this.maxPendingHandshakes) {
      this.logger.warn?.(
        {
          code: 'too_many_pending_handshakes',
          remote: socket.remoteAddress,
          limit: this.maxPendingHandshakes,
        },
        'refusing a connection: too many handshakes in progress',
      );
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    if (this.tls === undefined) socket = adoptAccepted(socket, this.readBuffer);
    const attempt: Attempt = { role: 'acceptor', run: undefined, socket, cancelled: false };
    this.accepting.add(attempt);
    if (this.tls === undefined) {
      this.startAcceptor(attempt, socket);
      return;
    }
    // TLS through a tls.Server (which verifies client certificates); it never listens itself.
    const key = remoteKey(socket);
    this.tlsPending.set(key, attempt);
    socket.once('close', () => {
      if (this.tlsPending.get(key) !== attempt) return;
      this.tlsPending.delete(key);
      this.accepting.delete(attempt);
    });
    this.tlsServer!.emit('connection', socket);
  }

  /** An incoming TLS connection finished its TLS handshake (peer verified when `verify`). */
  private onTlsAccepted(secure: TLSSocket): void {
    const key = remoteKey(secure);
    const attempt = this.tlsPending.get(key);
    this.tlsPending.delete(key);
    if (attempt === undefined || attempt.cancelled) {
      secure.destroy();
      return;
    }
    attempt.socket = secure;
    this.startAcceptor(attempt, secure);
  }

  private onTlsRejected(err: Error, secure: TLSSocket): void {
    const key = remoteKey(secure);
    const attempt = this.tlsPending.get(key);
    this.tlsPending.delete(key);
    if (attempt !== undefined) this.accepting.delete(attempt);
    this.logger.warn?.(
      { code: 'tls_failed', remote: secure.remoteAddress, err },
      `TLS handshake of an incoming connection failed: ${err.message}`,
    );
    secure.destroy();
  }

  private startAcceptor(attempt: Attempt, socket: Socket): void {
    const run = new SetupRun({
      socket,
      handshake: Handshake.acceptor({
        thisNode: this.name,
        thisFlags: this.flags,
        thisCreation: this.creation,
        cookie: this.cookie,
        challenge: this.randomChallenge(),
      }),
      headerBytes: this.tls === undefined ? 2 : 4,
      setupTimeoutMs: this.setupTimeoutMs,
      decide: (q) => this.decide(q, attempt),
      onUp: (r, s, p, f) => this.onUp(attempt, r, s, p, f),
      onFail: (e) => this.onSetupFail(attempt, run.peer, e, socket.remoteAddress),
    });
    attempt.run = run;
  }

  /** The handshake's questions, answered from the connection table. */
  private decide(q: HandshakeQuestion, attempt: Attempt): AcceptStatus | boolean {
    if (q.kind === 'alive') {
      // OTP's is_pending: our attempt still owns the entry, so the peer's old connection is dead.
      const e = this.entries.get(q.peer);
      return e !== undefined && e.state === 'pending' && e.owner === attempt;
    }
    const peer = q.peer;
    if (this.stopped || peer === this.name) return 'not_allowed';
    if (this.allowList !== undefined && !isAllowed(peer, this.allowList)) {
      this.logger.warn?.({ code: 'not_allowed', peer }, `connection attempt from disallowed node ${peer}`);
      return 'not_allowed';
    }
    const e = this.entries.get(peer);
    if (e === undefined) {
      this.newEntry(peer).owner = attempt;
      return 'ok';
    }
    switch (e.state) {
      case 'pending': {
        // Simultaneous connect: the greater name's own attempt wins.
        const wins = this.name > peer;
        this.logger.debug?.(
          { code: 'simultaneous_connect', peer, outcome: wins ? 'nok' : 'ok_simultaneous' },
          `simultaneous connect with ${peer}`,
        );
        if (wins) return 'nok';
        const old = e.owner;
        e.owner = attempt;
        if (e.nokTimer !== undefined) clearTimeout(e.nokTimer);
        e.nokTimer = undefined;
        if (old !== undefined) this.cancel(old);
        return 'ok_simultaneous';
      }
      case 'up':
        e.state = 'up_pending';
        e.replacer = attempt;
        return 'alive';
      case 'up_pending':
        return 'already_pending';
    }
  }

  private cancel(attempt: Attempt): void {
    if (attempt.cancelled) return;
    attempt.cancelled = true;
    this.accepting.delete(attempt);
    if (attempt.run !== undefined) attempt.run.abort();
    else attempt.socket?.destroy();
  }

  private onUp(
    attempt: Attempt,
    r: HandshakeResult,
    socket: Socket,
    parser: FrameParser,
    finalFrames: Buffer[],
  ): void {
    this.accepting.delete(attempt);
    const e = this.entries.get(r.peer);
    if (e === undefined || attempt.cancelled || (e.owner !== attempt && e.replacer !== attempt)) {
      socket.destroy();
      return;
    }
    if (e.replacer === attempt && e.conn !== undefined) {
      // The peer restarted: drop the old connection before the final ack (its close moves the entry to pending).
      e.conn.close('disconnect', 'replaced', true);
    }
    e.replacer = undefined;
    e.owner = undefined;
    if (e.nokTimer !== undefined) clearTimeout(e.nokTimer);
    e.nokTimer = undefined;
    for (const f of finalFrames) socket.write(f);
    const conn = new Connection({
      socket,
      parser,
      peer: e.atom,
      peerCreation: r.peerCreation,
      flags: r.flags,
      hidden: r.hidden,
      handler: this,
      reader: new TermReader(decodeLimits(this.opts)),
      logger: this.logger,
      netTicktimeMs: this.netTicktimeMs,
      maxFrameBytes: this.opts.maxFrameBytes ?? nodeDefaults.maxFrameBytes,
      fragmentLimits: fragmentLimits(this.opts),
      atomBudget: decodeLimits(this.opts).atomBudget ?? nodeDefaults.atomBudget,
    });
    e.state = 'up';
    e.conn = conn;
    conn.on('close', (reason) => this.onConnectionClose(e, conn, reason));
    const to = e.queueTo;
    const signals = e.queueSignals;
    e.queueTo = [];
    e.queueSignals = [];
    for (let i = 0; i < to.length; i++) this.emitQueued(conn, to[i], signals[i]!);
    const waiters = e.waiters;
    e.waiters = [];
    for (const w of waiters) w.resolve();
    this.logger.info?.({ code: 'nodeup', peer: e.name, hidden: r.hidden }, `connected to ${e.name}`);
    this.emit('nodeup', e.name, { hidden: r.hidden });
  }

  private onSetupFail(attempt: Attempt, peer: string, err: SetupError, remote?: string): void {
    this.accepting.delete(attempt);
    const quiet = err.code === 'aborted' || err.code === 'nok' || err.code === 'nok_sent';
    if (!quiet) {
      this.logger.warn?.(
        { code: err.code, peer: peer === '' ? undefined : peer, remote, role: attempt.role },
        `${attempt.role === 'initiator' ? 'connection to' : 'connection from'} ${peer === '' ? remote : peer} failed: ${err.message}`,
      );
    }
    const e = this.entries.get(peer);
    if (e === undefined) return;
    if (e.owner === attempt) {
      if (err.code === 'nok') {
        // The peer's own attempt wins; it will connect to us. Wait for it, within the setup time.
        e.owner = undefined;
        e.nokTimer = setTimeout(() => {
          e.nokTimer = undefined;
          if (this.entries.get(peer) === e && e.state === 'pending' && e.owner === undefined) {
            this.failEntry(e, new NodeError('setup_timeout', `${peer} answered nok but never connected`));
          }
        }, this.setupTimeoutMs);
        return;
      }
      this.failEntry(e, setupToNodeError(peer, err));
    } else if (e.replacer === attempt) {
      e.replacer = undefined;
      if (e.state === 'up_pending') e.state = 'up';
    }
  }

  private attemptFailed(entry: Entry, attempt: Attempt, err: NodeError): void {
    if (attempt.cancelled || entry.owner !== attempt) return;
    this.logger.warn?.({ code: err.code, peer: entry.name, role: 'initiator' }, err.message);
    this.failEntry(entry, err);
  }

  /** Setup failed: the entry goes, waiters are told, queued signals are dropped (links/monitors fire noconnection). */
  private failEntry(e: Entry, err: NodeError): void {
    if (this.entries.get(e.name) !== e) return;
    if (e.conn !== undefined) return;
    this.entries.delete(e.name);
    if (e.nokTimer !== undefined) clearTimeout(e.nokTimer);
    if (e.owner !== undefined) this.cancel(e.owner);
    e.queueTo = [];
    e.queueSignals = [];
    const waiters = e.waiters;
    e.waiters = [];
    for (const w of waiters) w.reject(err);
    this.processes.handleNodeDown(e.atom);
  }

  private onConnectionClose(e: Entry, conn: Connection, reason: ConnectionCloseReason): void {
    if (e.conn !== conn) return;
    e.conn = undefined;
    if (e.state === 'up_pending' && e.replacer !== undefined) {
      e.state = 'pending';
      e.owner = e.replacer;
      e.replacer = undefined;
    } else if (this.entries.get(e.name) === e) {
      this.entries.delete(e.name);
    }
    this.processes.handleNodeDown(e.atom);
    const info: NodeDownInfo =
      reason.detail === undefined
        ? { reason: reason.code, hidden: conn.hidden }
        : { reason: reason.code, detail: reason.detail, hidden: conn.hidden };
    this.logger.info?.(
      { code: 'nodedown', peer: e.name, reason: reason.code, detail: reason.detail },
      `${e.name} is down`,
    );
    this.emit('nodedown', e.name, info);
  }

  // --- signals out ---

  /** A signal for a process, name or alias on `toNode`: sent now, or queued while connecting. */
  private remoteSend(toNode: Atom, to: Pid | Atom | Reference, signal: Signal): void {
    const e = this.entries.get(toNode.name);
    if (e?.conn !== undefined && e.state !== 'pending') {
      this.emitSignal(e.conn, to, signal);
      return;
    }
    this.enqueue(toNode, to, signal);
  }

  private enqueue(
    toNode: Atom,
    to: Pid | Atom | Reference | undefined,
    signal: Signal | ControlMessage,
  ): void {
    if (toNode === this.atom) return;
    const e = this.ensureEntry(toNode.name);
    if (e instanceof NodeError) {
      // Never call back into the table synchronously.
      if (!this.stopped) queueMicrotask(() => this.processes.handleNodeDown(toNode));
      return;
    }
    if (e.conn !== undefined && e.state !== 'pending') {
      this.emitQueued(e.conn, to, signal);
      return;
    }
    if (e.queueTo.length >= this.maxQueuedSignals) {
      // Like a lost connection: the signal is dropped (links and monitors fire when the setup ends).
      if (e.dropped++ === 0) {
        this.logger.warn?.(
          { code: 'send_queue_full', peer: e.name, limit: this.maxQueuedSignals },
          `dropping signals to ${e.name} while its connection is set up`,
        );
      }
      return;
    }
    e.queueTo.push(to);
    e.queueSignals.push(signal);
  }

  private emitQueued(
    conn: Connection,
    to: Pid | Atom | Reference | undefined,
    item: Signal | ControlMessage,
  ): void {
    try {
      if (to === undefined) conn.sendControl(item as ControlMessage);
      else this.emitSignal(conn, to, item as Signal);
    } catch (e) {
      this.logger.error?.(
        { code: 'encode_failed', peer: conn.peer.name, err: e },
        'a queued signal could not be encoded',
      );
    }
  }

  /** Maps a signal to its control message on `conn`. */
  private emitSignal(conn: Connection, to: Pid | Atom | Reference, signal: Signal): void {
    switch (signal.kind) {
      case 'message':
        if ((signal as CorrelatedMessage).correlation !== undefined && carriesCorrelation(conn.flags)) {
          this.emitCorrelated(conn, to, signal as CorrelatedMessage);
          return;
        }
        if (to instanceof Pid) conn.sendMessage(signal.from, to, signal.message);
        else if (to instanceof Reference)
          conn.sendAlias(signal.from ?? this.processes.systemPid, to, signal.message);
        else conn.sendRegistered(signal.from ?? this.processes.systemPid, to, signal.message);
        return;
      case 'link':
        if (to instanceof Pid) conn.sendControl({ kind: 'link', from: signal.from, to });
        return;
      case 'unlink':
        if (!(to instanceof Pid)) return;
        if (signal.id !== 0n && conn.unlinkId) {
          conn.sendControl({ kind: 'unlink_id', id: smallId(signal.id), from: signal.from, to });
        } else {
          conn.sendControl({ kind: 'unlink', from: signal.from, to });
          // The old protocol has no ack: give the sender its ack ourselves (later, not re-entrantly).
          if (signal.id !== 0n) {
            const ack: Signal = { kind: 'unlink_ack', from: to, id: signal.id };
            const back = signal.from;
            queueMicrotask(() => this.processes.deliver(back, ack));
          }
        }
        return;
      case 'unlink_ack':
        if (to instanceof Pid && conn.unlinkId) {
          conn.sendControl({ kind: 'unlink_id_ack', id: smallId(signal.id), from: signal.from, to });
        }
        return;
      case 'exit':
        if (!(to instanceof Pid)) return;
        if (signal.link) {
          conn.sendControl({
            kind: 'exit',
            op: conn.exitPayload ? PAYLOAD_EXIT : EXIT,
            from: signal.from,
            to,
            reason: signal.reason,
          });
        } else {
          conn.sendControl({
            kind: 'exit2',
            op: conn.exitPayload ? PAYLOAD_EXIT2 : EXIT2,
            from: signal.from,
            to,
            reason: signal.reason,
          });
        }
        return;
      case 'monitor':
        if (to instanceof Reference) return;
        // Without DIST_MONITOR the BEAM keeps monitors local (they fire on nodedown only); so do we.
        if (!conn.distMonitor || (to instanceof Atom && !conn.distMonitorName)) return;
        conn.sendControl({ kind: 'monitor', from: signal.from, to, ref: signal.ref });
        return;
      case 'demonitor':
        if (to instanceof Reference) return;
        if (!conn.distMonitor || (to instanceof Atom && !conn.distMonitorName)) return;
        conn.sendControl({ kind: 'demonitor', from: signal.from, to, ref: signal.ref });
        return;
      case 'down':
        if (!(to instanceof Pid)) return;
        conn.sendControl({
          kind: 'monitor_exit',
          op: conn.exitPayload ? PAYLOAD_MONITOR_P_EXIT : MONITOR_P_EXIT,
          from: signal.from,
          to,
          ref: signal.ref,
          reason: signal.reason,
        });
        return;
      case 'group_leader':
        if (to instanceof Pid) conn.sendControl({ kind: 'group_leader', from: signal.leader, to });
        return;
    }
  }

  /**
   * A message sent inside a correlation, to a distribute node: the trace-token form of its
   * control message carries the id (correlation.ts). Never used towards a BEAM node.
   */
  private emitCorrelated(conn: Connection, to: Pid | Atom | Reference, signal: CorrelatedMessage): void {
    const token = correlationToken(signal.correlation as string);
    const from = signal.from ?? this.processes.systemPid;
    if (to instanceof Pid) {
      const op = conn.sendSender && signal.from !== undefined ? SEND_SENDER_TT : SEND_TT;
      conn.sendControl({ kind: 'send', op, from, to, message: signal.message, token });
    } else if (to instanceof Reference) {
      // Without ALIAS the BEAM drops alias messages; so do we.
      if (conn.alias)
        conn.sendControl({
          kind: 'alias_send',
          op: ALIAS_SEND_TT,
          from,
          alias: to,
          message: signal.message,
          token,
        });
    } else {
      conn.sendControl({ kind: 'reg_send', op: REG_SEND_TT, from, to, message: signal.message, token });
    }
  }

  // --- signals in (ConnectionHandler) ---

  /** @internal ConnectionHandler.onControl: a control message from `conn`'s peer. */
  onControl(conn: Connection, msg: ControlMessage): void {
    const t = this.processes;
    const peer = conn.peer;
    switch (msg.kind) {
      case 'send':
        if (msg.to.node !== this.atom) {
          this.misrouted(conn, msg);
          return;
        }
        if (msg.token !== undefined) {
          // A trace token: our correlation id, or a BEAM seq_trace token (ignored).
          t.deliver(msg.to, traced(msg.from, msg.message, msg.token));
          return;
        }
        // A message to a dead pid is dropped silently, as the BEAM does.
        t.send(msg.to, msg.message, msg.from);
        return;
      case 'reg_send':
        if (msg.from.node !== peer) {
          this.spoofed(conn, msg);
          return;
        }
        {
          // Straight to the mailbox: no signal object for the common case.
          const pid = t.whereis(msg.to);
          if (pid === undefined) return;
          if (msg.token === undefined) t.send(pid, msg.message, msg.from);
          else t.deliver(pid, traced(msg.from, msg.message, msg.token));
        }
        return;
      case 'alias_send':
        if (msg.alias.node !== this.atom) {
          this.misrouted(conn, msg);
          return;
        }
        t.deliver(
          msg.alias,
          msg.token === undefined
            ? { kind: 'message', from: msg.from, message: msg.message }
            : traced(msg.from, msg.message, msg.token),
        );
        return;
      case 'link':
        if (msg.from.node !== peer) {
          this.spoofed(conn, msg);
          return;
        }
        if (msg.to.node !== this.atom) {
          this.misrouted(conn, msg);
          return;
        }
        t.deliver(msg.to, { kind: 'link', from: msg.from });
        return;
      case 'unlink':
      case 'unlink_id':
        if (msg.from.node !== peer) {
          this.spoofed(conn, msg);
          return;
        }
        if (msg.to.node !== this.atom) {
          this.misrouted(conn, msg);
          return;
        }
        t.deliver(msg.to, {
          kind: 'unlink',
          from: msg.from,
          id: msg.kind === 'unlink' ? 0n : BigInt(msg.id),
        });
        return;
      case 'unlink_id_ack':
        if (msg.from.node !== peer) {
          this.spoofed(conn, msg);
          return;
        }
        if (msg.to.node !== this.atom) {
          this.misrouted(conn, msg);
          return;
        }
        t.deliver(msg.to, { kind: 'unlink_ack', from: msg.from, id: BigInt(msg.id) });
        return;
      case 'exit':
      case 'exit2':
        if (msg.from.node !== peer) {
          this.spoofed(conn, msg);
          return;
        }
        if (msg.to.node !== this.atom) {
          this.misrouted(conn, msg);
          return;
        }
        t.deliver(msg.to, { kind: 'exit', from: msg.from, reason: msg.reason, link: msg.kind === 'exit' });
        return;
      case 'monitor':
      case 'demonitor':
        if (msg.from.node !== peer) {
          this.spoofed(conn, msg);
          return;
        }
        if (msg.to instanceof Pid && msg.to.node !== this.atom) {
          this.misrouted(conn, msg);
          return;
        }
        t.deliver(
          msg.to,
          msg.kind === 'monitor'
            ? { kind: 'monitor', from: msg.from, ref: msg.ref }
            : { kind: 'demonitor', from: msg.from, ref: msg.ref },
        );
        return;
      case 'monitor_exit':
        if (msg.from instanceof Pid && msg.from.node !== peer) {
          this.spoofed(conn, msg);
          return;
        }
        if (msg.to.node !== this.atom) {
          this.misrouted(conn, msg);
          return;
        }
        // The result of one of our RPC calls (its monitor lives in the RPC service, not a process).
        if (this.rpc.handleMonitorPExit(msg)) return;
        t.deliver(msg.to, { kind: 'down', from: msg.from, ref: msg.ref, reason: msg.reason });
        return;
      case 'group_leader':
        if (msg.to.node !== this.atom) {
          this.misrouted(conn, msg);
          return;
        }
        t.deliver(msg.to, { kind: 'group_leader', from: msg.from, leader: msg.from });
        return;
      case 'spawn_request': {
        const hook = this.hooks.get('spawn_request');
        if (hook !== undefined) {
          hook(peer, msg);
          return;
        }
        // We advertise SPAWN, so every request gets an answer: here, "not supported".
        conn.sendControl({
          kind: 'spawn_reply',
          op: SPAWN_REPLY,
          reqId: msg.reqId,
          to: msg.from,
          flags: 0,
          result: NOTSUP,
        });
        return;
      }
      case 'spawn_reply': {
        const hook = this.hooks.get('spawn_reply');
        if (hook !== undefined) hook(peer, msg);
        return;
      }
      case 'node_link':
        return;
    }
  }

  private spoofed(conn: Connection, msg: ControlMessage): void {
    this.logger.warn?.(
      { code: 'spoofed_sender', peer: conn.peer.name, kind: msg.kind },
      'dropped a signal whose sender is not on the sending node',
    );
  }

  private misrouted(conn: Connection, msg: ControlMessage): void {
    this.logger.debug?.(
      { code: 'not_local', peer: conn.peer.name, kind: msg.kind },
      'dropped a signal for a process of another node',
    );
  }
}

/** A received message with a trace token: correlated when the token is ours, plain otherwise. */
function traced(from: Pid | undefined, message: Term, token: Term): Signal {
  const correlation = correlationOfToken(token);
  const signal: CorrelatedMessage =
    correlation === undefined
      ? from === undefined
        ? { kind: 'message', message }
        : { kind: 'message', from, message }
      : from === undefined
        ? { kind: 'message', message, correlation }
        : { kind: 'message', from, message, correlation };
  return signal;
}

function isAnswer(m: Term, mref: Reference): boolean {
  if (!(m instanceof Tuple)) return false;
  const e = m.elements;
  if (e.length === 2) return e[0] instanceof Reference && sameRef(e[0], mref);
  return e.length === 5 && e[1] instanceof Reference && sameRef(e[1], mref);
}

function smallId(id: bigint): number | bigint {
  return id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id;
}

function setupToNodeError(peer: string, err: SetupError): NodeError {
  switch (err.code) {
    case 'setup_timeout':
      return new NodeError('setup_timeout', `connection to ${peer}: ${err.message}`, { cause: err });
    case 'connection_closed':
      return new NodeError('connection_closed', `connection to ${peer}: ${err.message}`, { cause: err });
    case 'not_allowed':
      return new NodeError('not_allowed', `connection to ${peer}: ${err.message}`, { cause: err });
    default:
      return new NodeError('handshake_failed', `connection to ${peer}: ${err.message} (${err.code})`, {
        cause: err,
      });
  }
}

function remoteKey(s: Socket): string {
  return `${s.remoteAddress}|${s.remotePort}`;
}

function tableLogger(l: Logger): TableLogger {
  return {
    warn: (message, fields) => l.warn?.({ ...fields }, message),
    error: (message, fields) => l.error?.({ ...fields }, message),
  };
}

function makeContext(t: TlsOptions): SecureContext {
  return createSecureContext({
    cert: t.cert,
    key: t.key,
    ...(t.ca !== undefined ? { ca: t.ca as string | Buffer | Array<string | Buffer> } : {}),
  });
}

export { NodeError };
