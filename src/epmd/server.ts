/**
 * An embedded EPMD: the port mapper as a TCP server inside a Node process, compatible with
 * real `erl` nodes, `epmd -names` and `net_adm:names/1` as clients.
 *
 * One request per connection, as EPMD does: ALIVE2_REQ keeps the connection (the registration
 * lives exactly as long as it), every other request is answered and the connection is ended.
 * Remote input is untrusted: a connection that sends an oversized, malformed or unknown request
 * is destroyed, one that never completes a request is destroyed after `requestTimeoutMs`, and the
 * counts of registrations and of not-yet-registered connections are capped. Like EPMD, only
 * loopback peers may register (a remote host could otherwise hijack names), unless
 * `allowRemoteRegistration` is set.
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { EpmdError } from './errors.ts';
import {
  decodeRequest,
  type EpmdRequest,
  encodeAlive2Resp,
  encodeAlive2XResp,
  encodeNamesResp,
  encodePort2Resp,
} from './protocol.ts';
import { EpmdRegistry, type RegistryEntry } from './registry.ts';

/** Limits of the embedded server; every one is an option. */
export interface EpmdServerLimits {
  /** Registrations refused (non-zero ALIVE2 result) beyond this count. */
  readonly maxRegistrations: number;
  /** Names whose last creation is remembered so a re-registration gets a different one. */
  readonly maxRememberedNames: number;
  /** Open connections that have not registered; further connections are closed at once. */
  readonly maxPendingConnections: number;
  /** Largest request body accepted (the Len:16 prefix); a larger prefix closes the connection. */
  readonly maxRequestBytes: number;
  /** A connection that has not sent a complete request (or not closed after its answer) by then is closed. */
  readonly requestTimeoutMs: number;
}

/** Defaults of the embedded server, with the reason for each. */
export const epmdServerDefaults: Readonly<EpmdServerLimits> = {
  // A host runs a few dozen nodes at most; 1024 bounds memory and file descriptors held by registrations.
  maxRegistrations: 1024,
  // Four incarnations' worth per registration slot: enough that a restarting node never gets its old creation back.
  maxRememberedNames: 4096,
  // Lookups are one short exchange each; 256 concurrent ones is far above a real host's need and caps sockets.
  maxPendingConnections: 256,
  // The largest valid ALIVE2_REQ is 13 bytes + a 1020-byte name + Extra; 2 KiB leaves 1 KiB for Extra.
  maxRequestBytes: 2048,
  // A local client sends its request at once; 10 s tolerates a loaded host yet stops slow-loris peers.
  requestTimeoutMs: 10_000,
};

/** Options of {@link startEpmdServer}. */
export interface EpmdServerOptions extends Partial<EpmdServerLimits> {
  /** TCP port to listen on; 0 picks a free one. */
  readonly port: number;
  /** Address to listen on; all interfaces when omitted, like EPMD (remote nodes look ports up here). */
  readonly host?: string;
  /** Accept ALIVE2_REQ from non-loopback peers. Off by default, as in EPMD. */
  readonly allowRemoteRegistration?: boolean;
  /** Uniform in [0, 1) for creations; `Math.random` when omitted. */
  readonly random?: () => number;
}

/** Events of {@link EpmdServer}. */
export interface EpmdServerEvents {
  /** A node registered. */
  registered: [entry: RegistryEntry];
  /** A registration ended (its connection closed). */
  unregistered: [entry: RegistryEntry];
}

const EMPTY = Buffer.alloc(0);

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

/** A running embedded EPMD. Create with {@link startEpmdServer}. */
export class EpmdServer extends EventEmitter<EpmdServerEvents> {
  /** The port it listens on. */
  readonly port: number;
  readonly #server: Server;
  readonly #limits: EpmdServerLimits;
  readonly #allowRemote: boolean;
  readonly #registry: EpmdRegistry;
  readonly #pending = new Set<Socket>();
  readonly #registered = new Set<Socket>();
  #closing: Promise<void> | undefined;

  /** @internal Use {@link startEpmdServer}. */
  constructor(server: Server, limits: EpmdServerLimits, allowRemote: boolean, random: () => number) {
    super();
    this.#server = server;
    this.#limits = limits;
    this.#allowRemote = allowRemote;
    this.#registry = new EpmdRegistry({
      maxRegistrations: limits.maxRegistrations,
      maxRememberedNames: limits.maxRememberedNames,
      random,
    });
    this.port = (server.address() as AddressInfo).port;
    server.on('connection', (socket) => this.#onConnection(socket));
  }

  /** Registered nodes, in registration order. */
  entries(): RegistryEntry[] {
    return this.#registry.entries();
  }

  /** Open connections that have not registered. */
  get pendingConnections(): number {
    return this.#pending.size;
  }

  /** Stops listening and closes every connection, which ends every registration. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const s of this.#pending) s.destroy();
      for (const s of this.#registered) s.destroy();
    });
    return this.#closing;
  }

  #onConnection(socket: Socket): void {
    // Errors (resets) are followed by 'close', which does the cleanup.
    socket.on('error', () => {});
    if (this.#closing !== undefined || this.#pending.size >= this.#limits.maxPendingConnections) {
      socket.destroy();
      return;
    }
    this.#pending.add(socket);
    socket.setNoDelay(true);
    let buffered: Buffer = EMPTY;
    let answered = false;
    let entry: RegistryEntry | undefined;
    const timer = setTimeout(() => socket.destroy(), this.#limits.requestTimeoutMs);
    socket.on('close', () => {
      clearTimeout(timer);
      this.#pending.delete(socket);
      this.#registered.delete(socket);
      if (entry !== undefined && this.#registry.unregister(entry)) this.emit('unregistered', entry);
    });
    socket.on('data', (chunk: Buffer) => {
      // One request per connection; what follows it is ignored, never buffered.
      if (answered) return;
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      let request: EpmdRequest;
      try {
        const decoded = decodeRequest(buffered, this.#limits.maxRequestBytes);
        if (!decoded.done) return;
        request = decoded.value;
      } catch {
        socket.destroy();
        return;
      }
      answered = true;
      buffered = EMPTY;
      if (request.type !== 'ALIVE2_REQ') {
        this.#answer(socket, request);
        return;
      }
      if (!this.#allowRemote && !isLoopbackAddress(socket.remoteAddress)) {
        socket.destroy();
        return;
      }
      const outcome = this.#registry.register(request);
      const legacy = request.highest < 6;
      if (!outcome.ok) {
        // Any non-zero result is a refusal; 1 is what EPMD sends for a taken name.
        socket.end(legacy ? encodeAlive2Resp(1, 0) : encodeAlive2XResp(1, 0));
        return;
      }
      entry = outcome.entry;
      clearTimeout(timer);
      this.#pending.delete(socket);
      this.#registered.add(socket);
      socket.write(legacy ? encodeAlive2Resp(0, entry.creation) : encodeAlive2XResp(0, entry.creation));
      this.emit('registered', entry);
    });
  }

  /** Answers a request that does not register, then ends the connection. */
  #answer(socket: Socket, request: Exclude<EpmdRequest, { type: 'ALIVE2_REQ' }>): void {
    switch (request.type) {
      case 'PORT_PLEASE2_REQ': {
        const found = this.#registry.lookup(request.name);
        socket.end(
          encodePort2Resp(found === undefined ? { found: false, result: 1 } : { found: true, info: found }),
        );
        return;
      }
      case 'NAMES_REQ':
        socket.end(encodeNamesResp(this.port, this.#registry.names()));
        return;
      case 'DUMP_REQ':
        // The port header alone: a debug dump of our tables is nobody's business.
        socket.end(encodeNamesResp(this.port, []));
        return;
      case 'KILL_REQ':
        // EPMD's refusal: an embedded server stops only when its host process says so.
        socket.end('NO');
        return;
      case 'STOP_REQ':
        // EPMD's answer for a name it will not forget; registrations end only with their connection.
        socket.end('NOEXIST');
        return;
    }
  }
}

/**
 * Starts an embedded EPMD listening on `options.port`. Fails with `address_in_use` when the
 * port is taken (another EPMD, or another process that won the race to host one).
 */
export async function startEpmdServer(options: EpmdServerOptions): Promise<EpmdServer> {
  const limits: EpmdServerLimits = {
    maxRegistrations: options.maxRegistrations ?? epmdServerDefaults.maxRegistrations,
    maxRememberedNames: options.maxRememberedNames ?? epmdServerDefaults.maxRememberedNames,
    maxPendingConnections: options.maxPendingConnections ?? epmdServerDefaults.maxPendingConnections,
    maxRequestBytes: options.maxRequestBytes ?? epmdServerDefaults.maxRequestBytes,
    requestTimeoutMs: options.requestTimeoutMs ?? epmdServerDefaults.requestTimeoutMs,
  };
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const where = `${options.host ?? '*'}:${options.port}`;
      reject(
        error.code === 'EADDRINUSE'
          ? new EpmdError('address_in_use', `cannot host EPMD on ${where}: the port is in use`, {
              cause: error,
            })
          : new EpmdError('listen_failed', `cannot host EPMD on ${where}: ${error.message}`, {
              cause: error,
            }),
      );
    };
    server.once('error', onError);
    const listenOptions =
      options.host === undefined ? { port: options.port } : { port: options.port, host: options.host };
    server.listen(listenOptions, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // Accept errors (EMFILE and the like) must not crash the host; the server keeps listening.
  server.on('error', () => {});
  return new EpmdServer(
    server,
    limits,
    options.allowRemoteRegistration ?? false,
    options.random ?? Math.random,
  );
}
