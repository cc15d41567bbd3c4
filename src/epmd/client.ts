/**
 * EPMD client: register a node (the registration is the open connection), look a node up,
 * list names. Thin shells over the codecs in protocol.ts; each call opens its own connection.
 *
 * @module
 */

import { connect, type Socket } from 'node:net';
import { EpmdError } from './errors.ts';
import {
  type Decoded,
  DIST_HIGHEST,
  DIST_LOWEST,
  decodeAlive2Response,
  decodeNamesResponse,
  decodePort2Response,
  encodeAlive2Req,
  encodeNamesReq,
  encodePortPlease2Req,
  type NamesResponse,
  NODE_TYPE_HIDDEN,
  NODE_TYPE_NORMAL,
  type PortInfo,
  PROTOCOL_TCP,
} from './protocol.ts';

/** Client defaults, with the reason for each. */
export const epmdClientDefaults: {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
} = {
  // OTP registers with the EPMD on 127.0.0.1, and EPMD accepts registrations only from loopback.
  host: '127.0.0.1',
  // The EPMD port IANA assigned; ERL_EPMD_PORT overrides it, read when a call needs it.
  port: 4369,
  // A loopback EPMD answers in well under a millisecond; 5 s tolerates a loaded host, a remote one a slow link.
  timeoutMs: 5_000,
  // A NAMES reply is ~30 bytes a node; 1 MiB is some 30k nodes, far past any host, and bounds our buffer.
  maxResponseBytes: 1 << 20,
};

/**
 * The EPMD port to use: `ERL_EPMD_PORT` from `env` when set, else 4369.
 * Throws `invalid_argument` when the variable is set but is not a port number.
 */
export function epmdPortFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ERL_EPMD_PORT;
  if (raw === undefined || raw === '') return epmdClientDefaults.port;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 0xffff) {
    throw new EpmdError('invalid_argument', `ERL_EPMD_PORT=${JSON.stringify(raw)} is not a port number`);
  }
  return port;
}

/** Where an EPMD is and how long to wait for it. */
export interface EpmdTarget {
  /** EPMD host; 127.0.0.1 by default. */
  readonly host?: string;
  /** EPMD port; `ERL_EPMD_PORT` or 4369 by default. */
  readonly epmdPort?: number;
  /** Deadline for the whole exchange (connect, request, answer); 5 s by default. */
  readonly timeoutMs?: number;
}

/** Options of {@link register}. */
export interface RegisterOptions extends EpmdTarget {
  /** The alive part of the node name. */
  readonly name: string;
  /** The TCP port the node accepts distribution connections on. */
  readonly port: number;
  /** Announce the node as hidden (NodeType 72) rather than normal (77). */
  readonly hidden?: boolean;
  /** Highest distribution version announced; 6 by default. Below 6 the EPMD answers with a 16-bit creation. */
  readonly highest?: number;
  /** Lowest distribution version announced; 5 by default, as OTP 25 announces. */
  readonly lowest?: number;
  /** Called once if the registration's connection closes without {@link EpmdRegistration.close}. */
  readonly onLost?: (error: EpmdError) => void;
}

type LostListener = (error: EpmdError) => void;

/**
 * A node's registration with an EPMD. It lives exactly as long as its TCP connection: close
 * it to unregister; if the EPMD goes away, the lost listeners are told once.
 */
export class EpmdRegistration {
  /** The registered alive name. */
  readonly name: string;
  /** The registered distribution port. */
  readonly port: number;
  /** The creation the EPMD handed out (32-bit, or 16-bit from a legacy answer). */
  readonly creation: number;
  /** Host of the EPMD holding the registration. */
  readonly epmdHost: string;
  /** Port of the EPMD holding the registration. */
  readonly epmdPort: number;
  readonly #socket: Socket;
  readonly #lostListeners = new Set<LostListener>();
  #lost: EpmdError | undefined;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link register}. */
  constructor(
    socket: Socket,
    fields: { name: string; port: number; creation: number; epmdHost: string; epmdPort: number },
  ) {
    this.name = fields.name;
    this.port = fields.port;
    this.creation = fields.creation;
    this.epmdHost = fields.epmdHost;
    this.epmdPort = fields.epmdPort;
    this.#socket = socket;
    // The EPMD sends nothing more; keep reading so its FIN is seen and 'close' fires.
    socket.on('data', () => {});
    socket.resume();
    socket.on('close', () => {
      if (this.#closing !== undefined) return;
      const where = `${this.epmdHost}:${this.epmdPort}`;
      this.#lost = new EpmdError(
        'closed',
        `the EPMD connection at ${where} holding ${this.name}'s registration closed`,
      );
      for (const listener of this.#lostListeners) listener(this.#lost);
      this.#lostListeners.clear();
    });
  }

  /** True once closed by {@link close} or lost. */
  get closed(): boolean {
    return this.#closing !== undefined || this.#lost !== undefined;
  }

  /**
   * Calls `listener` once when the connection closes unexpectedly (immediately, on a microtask,
   * if it already has). Returns a function that removes the listener.
   */
  onLost(listener: LostListener): () => void {
    const lost = this.#lost;
    if (lost !== undefined) {
      queueMicrotask(() => listener(lost));
      return () => {};
    }
    if (this.#closing !== undefined) return () => {};
    this.#lostListeners.add(listener);
    return () => this.#lostListeners.delete(listener);
  }

  /** Unregisters by closing the connection. Idempotent; lost listeners are not called. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#lostListeners.clear();
      if (this.#socket.destroyed) {
        resolve();
        return;
      }
      this.#socket.once('close', () => resolve());
      this.#socket.destroy();
    });
    return this.#closing;
  }
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
]);

interface ResponseReader<T> {
  /** All bytes so far; a value when the response is complete. May throw an EpmdError. */
  readonly data: (bytes: Buffer) => Decoded<T>;
  /** The EPMD ended the connection before `data` returned a value. */
  readonly end: (bytes: Buffer) => T;
}

/**
 * One request/answer exchange on a fresh connection. Resolves with the value and the socket,
 * still open (the caller closes it or keeps it, as a registration does).
 */
function exchange<T>(
  host: string,
  port: number,
  request: Buffer,
  timeoutMs: number,
  reader: ResponseReader<T>,
): Promise<{ value: T; socket: Socket }> {
  const where = `${host}:${port}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    // Errors are reported through `fail` below; this listener keeps a late one from throwing.
    socket.on('error', () => {});
    socket.setNoDelay(true);
    let bytes: Buffer = Buffer.alloc(0);
    let connected = false;
    let settled = false;
    const timer = setTimeout(
      () => fail(new EpmdError('timeout', `no answer from the EPMD at ${where} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const detach = (): void => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      detach();
      socket.destroy();
      reject(error);
    };
    const succeed = (value: T): void => {
      if (settled) return;
      settled = true;
      detach();
      resolve({ value, socket });
    };
    const onConnect = (): void => {
      connected = true;
      socket.write(request);
    };
    const onData = (chunk: Buffer): void => {
      bytes = bytes.length === 0 ? chunk : Buffer.concat([bytes, chunk]);
      if (bytes.length > epmdClientDefaults.maxResponseBytes) {
        fail(
          new EpmdError(
            'too_large',
            `the EPMD at ${where} sent more than ${epmdClientDefaults.maxResponseBytes} bytes`,
          ),
        );
        return;
      }
      try {
        const decoded = reader.data(bytes);
        if (decoded.done) succeed(decoded.value);
      } catch (error) {
        fail(error);
      }
    };
    const onEnd = (): void => {
      try {
        succeed(reader.end(bytes));
      } catch (error) {
        fail(error);
      }
    };
    const onError = (error: NodeJS.ErrnoException): void => {
      if (!connected && error.code !== undefined && UNREACHABLE_CODES.has(error.code)) {
        fail(new EpmdError('unreachable', `no EPMD answers at ${where} (${error.code})`, { cause: error }));
      } else {
        fail(
          new EpmdError('closed', `the connection to the EPMD at ${where} failed: ${error.message}`, {
            cause: error,
          }),
        );
      }
    };
    const onClose = (): void => {
      fail(new EpmdError('closed', `the EPMD at ${where} closed the connection before answering`));
    };
    socket.on('connect', onConnect);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}

function closedBeforeAnswer(what: string): never {
  throw new EpmdError('closed', `the EPMD closed the connection before a complete ${what}`);
}

/**
 * Registers a node with an EPMD and keeps the connection open: the returned registration is
 * the node's presence in the EPMD. Fails with `duplicate_name` when the EPMD refuses (the name is
 * taken), `unreachable`, `timeout`, `closed`, `protocol`, or `invalid_argument` for a bad name.
 */
export async function register(options: RegisterOptions): Promise<EpmdRegistration> {
  const host = options.host ?? epmdClientDefaults.host;
  const epmdPort = options.epmdPort ?? epmdPortFromEnv();
  const request = encodeAlive2Req({
    port: options.port,
    nodeType: options.hidden === true ? NODE_TYPE_HIDDEN : NODE_TYPE_NORMAL,
    protocol: PROTOCOL_TCP,
    highest: options.highest ?? DIST_HIGHEST,
    lowest: options.lowest ?? DIST_LOWEST,
    name: options.name,
    extra: new Uint8Array(0),
  });
  const { value, socket } = await exchange(
    host,
    epmdPort,
    request,
    options.timeoutMs ?? epmdClientDefaults.timeoutMs,
    {
      data: decodeAlive2Response,
      end: () => closedBeforeAnswer('ALIVE2 response'),
    },
  );
  if (value.result !== 0) {
    socket.destroy();
    throw new EpmdError(
      'duplicate_name',
      `the EPMD at ${host}:${epmdPort} refused to register ${JSON.stringify(options.name)} (result ${value.result}): the name is taken`,
    );
  }
  const registration = new EpmdRegistration(socket, {
    name: options.name,
    port: options.port,
    creation: value.creation,
    epmdHost: host,
    epmdPort,
  });
  if (options.onLost !== undefined) registration.onLost(options.onLost);
  return registration;
}

/**
 * Looks up a node's distribution port by alive name. Resolves undefined when the EPMD does not
 * know the name.
 */
export async function lookup(alive: string, options: EpmdTarget = {}): Promise<PortInfo | undefined> {
  const host = options.host ?? epmdClientDefaults.host;
  const epmdPort = options.epmdPort ?? epmdPortFromEnv();
  const { value, socket } = await exchange(
    host,
    epmdPort,
    encodePortPlease2Req(alive),
    options.timeoutMs ?? epmdClientDefaults.timeoutMs,
    { data: decodePort2Response, end: () => closedBeforeAnswer('PORT2_RESP') },
  );
  socket.destroy();
  return value.found ? value.info : undefined;
}

/** Lists the names registered with an EPMD, and the port it says it listens on. */
export async function names(options: EpmdTarget = {}): Promise<NamesResponse> {
  const host = options.host ?? epmdClientDefaults.host;
  const epmdPort = options.epmdPort ?? epmdPortFromEnv();
  const { value, socket } = await exchange(
    host,
    epmdPort,
    encodeNamesReq(),
    options.timeoutMs ?? epmdClientDefaults.timeoutMs,
    // The reply ends when the EPMD closes the connection.
    { data: () => ({ done: false }), end: decodeNamesResponse },
  );
  socket.destroy();
  return value;
}
