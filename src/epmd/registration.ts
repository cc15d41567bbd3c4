/**
 * A node's presence in EPMD over its whole life, with failover.
 *
 * Modes:
 * - `'external'` (or `{ host, port }`): register with the EPMD that runs there; fail at start if
 *   none answers. When the registration is lost the node retries as a client, as OTP's erl_epmd
 *   does, and never hosts a server.
 * - `'embedded'`: host our EPMD server in this process on the EPMD port (fail if the port is
 *   taken), then register with it.
 * - `'auto'`: register with whatever EPMD answers; when none does, host the embedded server and
 *   register with it.
 *
 * Failover ('auto' and 'embedded'): the registration socket closing unexpectedly usually means
 * the process hosting the embedded EPMD died. Every surviving node then retries after a jittered
 * backoff: register with whatever answers, else start the server itself. Races tolerated:
 * - two survivors find nothing and both try to listen: one wins the port, the other gets
 *   `address_in_use` and registers with the winner at once;
 * - the winner dies between our failed connect and our listen: the next attempt starts over.
 * The node keeps its first creation as its identity (pids and refs already carry it); the new
 * EPMD's creation is only reported.
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import { type EpmdRegistration, epmdClientDefaults, epmdPortFromEnv, register } from './client.ts';
import { EpmdError, isEpmdError } from './errors.ts';
import { type EpmdServer, type EpmdServerOptions, startEpmdServer } from './server.ts';

/** Where the node's EPMD comes from; see the module comment. */
export type EpmdMode = 'auto' | 'external' | 'embedded' | { readonly host: string; readonly port: number };

/** Timers, injected so tests can drive retries. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Structured log sink; every method optional. */
export interface EpmdLogger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
}

/** Retry and timeout settings of {@link startRegistration}. */
export interface RegistrationTuning {
  /** Ceiling of the first retry delay after a loss. */
  readonly retryInitialDelayMs: number;
  /** Largest retry delay; the ceiling doubles per failed attempt up to this. */
  readonly retryMaxDelayMs: number;
  /** In 'auto' mode, attempts at start before giving up. */
  readonly startupAttempts: number;
  /** Deadline of one exchange with an EPMD. */
  readonly timeoutMs: number;
}

/** Defaults of {@link startRegistration}, with the reason for each. */
export const registrationDefaults: Readonly<RegistrationTuning> = {
  // A dead EPMD host leaves every local node unreachable; the first survivor should take over within ~0.1 s.
  retryInitialDelayMs: 100,
  // OTP's erl_epmd retries every 2 s; we never wait longer than a BEAM node would.
  retryMaxDelayMs: 2_000,
  // Start-up races (a rival wins the port, then dies) settle within a couple of rounds; 5 leaves margin.
  startupAttempts: 5,
  // Same deadline as a plain client call.
  timeoutMs: epmdClientDefaults.timeoutMs,
};

/**
 * Delay before retry number `attempt` (0-based): "equal jitter" backoff, half the ceiling plus
 * a random half, the ceiling doubling from `initialMs` up to `maxMs`. Jitter spreads survivors
 * apart so one of them, not all, starts the server; the fixed half bounds how often we retry.
 */
export function retryDelayMs(attempt: number, initialMs: number, maxMs: number, random: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random * ceiling) / 2);
}

/** Options of {@link startRegistration}. */
export interface RegistrationOptions extends Partial<RegistrationTuning> {
  /** Alive part of the node name. */
  readonly name: string;
  /** Distribution port the node listens on. */
  readonly port: number;
  /** Register as a hidden node. */
  readonly hidden?: boolean;
  /** Where the EPMD comes from; `'auto'` by default. */
  readonly mode?: EpmdMode;
  /** EPMD port for the string modes; `ERL_EPMD_PORT` or 4369 by default. */
  readonly epmdPort?: number;
  readonly logger?: EpmdLogger;
  /** Real timers by default. */
  readonly timers?: Timers;
  /** Uniform in [0, 1) for retry jitter; `Math.random` by default. */
  readonly random?: () => number;
  /** Options of a hosted embedded server (limits, listen address). */
  readonly server?: Omit<EpmdServerOptions, 'port'>;
}

/** Payload of the `reregistered` event. */
export interface ReregisteredEvent {
  /** Creation handed out by the new EPMD; the node keeps using {@link NodeRegistration.creation}. */
  readonly epmdCreation: number;
  /** Whether this node now hosts the embedded server. */
  readonly hostsServer: boolean;
  /** Failed attempts before this one succeeded. */
  readonly failedAttempts: number;
}

/** Events of {@link NodeRegistration}. */
export interface NodeRegistrationEvents {
  /** The registration's connection closed unexpectedly; retries follow (always, in every mode). */
  lost: [error: EpmdError];
  /** Registered again after a loss. */
  reregistered: [event: ReregisteredEvent];
}

const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A node's EPMD registration with failover. Create with {@link startRegistration}. */
export class NodeRegistration extends EventEmitter<NodeRegistrationEvents> {
  /** Alive part of the node name. */
  readonly name: string;
  /** Distribution port registered. */
  readonly port: number;
  /** Registered as a hidden node (NodeType 72). */
  readonly hidden: boolean;
  /** Where the EPMD comes from. */
  readonly mode: EpmdMode;
  /** Host of the EPMD registrations go to. */
  readonly epmdHost: string;
  /** Port of the EPMD registrations go to (and where an embedded server is hosted). */
  readonly epmdPort: number;
  readonly #tuning: RegistrationTuning;
  readonly #timers: Timers;
  readonly #random: () => number;
  readonly #logger: EpmdLogger;
  readonly #serverOptions: Omit<EpmdServerOptions, 'port'>;
  #current: EpmdRegistration | undefined;
  #server: EpmdServer | undefined;
  #creation = 0;
  #epmdCreation = 0;
  #retryTimer: unknown;
  #inflight: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link startRegistration}. */
  constructor(options: RegistrationOptions) {
    super();
    this.name = options.name;
    this.port = options.port;
    this.hidden = options.hidden ?? false;
    this.mode = options.mode ?? 'auto';
    if (typeof this.mode === 'object') {
      this.epmdHost = this.mode.host;
      this.epmdPort = this.mode.port;
    } else {
      this.epmdHost = epmdClientDefaults.host;
      this.epmdPort = options.epmdPort ?? epmdPortFromEnv();
    }
    this.#tuning = {
      retryInitialDelayMs: options.retryInitialDelayMs ?? registrationDefaults.retryInitialDelayMs,
      retryMaxDelayMs: options.retryMaxDelayMs ?? registrationDefaults.retryMaxDelayMs,
      startupAttempts: options.startupAttempts ?? registrationDefaults.startupAttempts,
      timeoutMs: options.timeoutMs ?? registrationDefaults.timeoutMs,
    };
    this.#timers = options.timers ?? realTimers;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger ?? {};
    this.#serverOptions = options.server ?? {};
  }

  /** The node's creation: the one from its first registration, kept for its whole life. */
  get creation(): number {
    return this.#creation;
  }

  /** The creation from the EPMD the node is registered with now (or was last). */
  get epmdCreation(): number {
    return this.#epmdCreation;
  }

  /** True while this process hosts the embedded EPMD server. */
  get hostsServer(): boolean {
    return this.#server !== undefined;
  }

  /** True while a registration connection is open. */
  get registered(): boolean {
    return this.#current !== undefined && !this.#current.closed;
  }

  /** The hosted server, if any (to observe its registrations). */
  get server(): EpmdServer | undefined {
    return this.#server;
  }

  /** @internal Called once by {@link startRegistration}. */
  async start(): Promise<void> {
    let registration: EpmdRegistration;
    if (this.mode === 'embedded') {
      registration = await this.#startEmbedded();
    } else if (this.mode === 'auto') {
      registration = await this.#startAuto();
    } else {
      registration = await this.#registerOnce().catch((error: unknown) => {
        if (!isEpmdError(error, 'unreachable')) throw error;
        throw new EpmdError(
          'unreachable',
          `no EPMD answers on ${this.epmdHost}:${this.epmdPort}; start one (epmd -daemon) or use EPMD mode 'auto' or 'embedded'`,
          { cause: error },
        );
      });
    }
    this.#creation = registration.creation;
    this.#adopt(registration);
  }

  /**
   * Stops retrying, unregisters, and closes the hosted server if any (the other nodes registered
   * with it then fail over). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#retryTimer !== undefined) this.#timers.clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      await this.#inflight;
      await this.#current?.close();
      this.#current = undefined;
      await this.#server?.close();
      this.#server = undefined;
    })();
    return this.#closing;
  }

  #registerOnce(): Promise<EpmdRegistration> {
    return register({
      name: this.name,
      port: this.port,
      hidden: this.hidden,
      host: this.epmdHost,
      epmdPort: this.epmdPort,
      timeoutMs: this.#tuning.timeoutMs,
    });
  }

  async #startEmbedded(): Promise<EpmdRegistration> {
    try {
      this.#server = await startEpmdServer({ ...this.#serverOptions, port: this.epmdPort });
    } catch (error) {
      if (!isEpmdError(error, 'address_in_use')) throw error;
      throw new EpmdError(
        'address_in_use',
        `cannot host the embedded EPMD: port ${this.epmdPort} is taken (an EPMD already runs there?); use EPMD mode 'external' or 'auto'`,
        { cause: error },
      );
    }
    try {
      return await this.#registerOnce();
    } catch (error) {
      await this.#server.close();
      this.#server = undefined;
      throw error;
    }
  }

  async #startAuto(): Promise<EpmdRegistration> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#connectOrHost();
      } catch (error) {
        // A taken name or a bad argument will not improve with retries.
        const transient =
          isEpmdError(error) && error.code !== 'duplicate_name' && error.code !== 'invalid_argument';
        if (!transient || attempt + 1 >= this.#tuning.startupAttempts) {
          await this.#server?.close();
          this.#server = undefined;
          throw error;
        }
        this.#logger.debug?.('EPMD registration attempt failed; retrying', this.#fields({ attempt, error }));
        await new Promise<void>((resolve) => this.#timers.setTimeout(resolve, this.#delay(attempt)));
      }
    }
  }

  /** Registers with whatever answers; when nothing does (and we may), hosts the server first. */
  async #connectOrHost(): Promise<EpmdRegistration> {
    try {
      return await this.#registerOnce();
    } catch (error) {
      if (!isEpmdError(error, 'unreachable')) throw error;
    }
    if (this.#server === undefined) {
      try {
        const server = await startEpmdServer({ ...this.#serverOptions, port: this.epmdPort });
        if (this.#closing !== undefined) {
          await server.close();
          throw new EpmdError('closed', 'the registration was closed');
        }
        this.#server = server;
        this.#logger.info?.('hosting the embedded EPMD', this.#fields({}));
      } catch (error) {
        // Another process won the race to the port: it is the EPMD now.
        if (!isEpmdError(error, 'address_in_use')) throw error;
      }
    }
    return await this.#registerOnce();
  }

  #adopt(registration: EpmdRegistration): void {
    this.#current = registration;
    this.#epmdCreation = registration.creation;
    registration.onLost((error) => this.#onLost(registration, error));
  }

  #onLost(registration: EpmdRegistration, error: EpmdError): void {
    if (this.#closing !== undefined || registration !== this.#current) return;
    this.#current = undefined;
    this.#logger.warn?.('EPMD registration lost; re-registering', this.#fields({ error }));
    // Scheduled before the event, so a throwing listener cannot stop the failover.
    this.#scheduleRetry(0);
    this.emit('lost', error);
  }

  #scheduleRetry(failedAttempts: number): void {
    if (this.#closing !== undefined) return;
    this.#retryTimer = this.#timers.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#inflight = this.#retry(failedAttempts).finally(() => {
        this.#inflight = undefined;
      });
    }, this.#delay(failedAttempts));
  }

  /** One failover attempt; never rejects (failures schedule the next attempt). */
  async #retry(failedAttempts: number): Promise<void> {
    const canHost = this.mode === 'auto' || this.mode === 'embedded';
    let registration: EpmdRegistration;
    try {
      registration = canHost ? await this.#connectOrHost() : await this.#registerOnce();
    } catch (error) {
      if (this.#closing !== undefined) return;
      this.#logger.debug?.('EPMD re-registration failed; retrying', this.#fields({ failedAttempts, error }));
      this.#scheduleRetry(failedAttempts + 1);
      return;
    }
    if (this.#closing !== undefined) {
      await registration.close();
      return;
    }
    this.#adopt(registration);
    this.#logger.info?.('EPMD registration restored', this.#fields({ epmdCreation: registration.creation }));
    this.emit('reregistered', {
      epmdCreation: registration.creation,
      hostsServer: this.hostsServer,
      failedAttempts,
    });
  }

  #delay(attempt: number): number {
    return retryDelayMs(
      attempt,
      this.#tuning.retryInitialDelayMs,
      this.#tuning.retryMaxDelayMs,
      this.#random(),
    );
  }

  #fields(extra: Record<string, unknown>): Record<string, unknown> {
    return {
      name: this.name,
      epmd: `${this.epmdHost}:${this.epmdPort}`,
      hostsServer: this.hostsServer,
      ...extra,
    };
  }
}

/**
 * Registers a node with EPMD per `options.mode` ('auto' by default) and keeps it registered:
 * see {@link NodeRegistration}. Fails with an {@link EpmdError}: `unreachable` ('external' and
 * nothing answers), `address_in_use` ('embedded' and the port is taken), `duplicate_name`, ...
 */
export async function startRegistration(options: RegistrationOptions): Promise<NodeRegistration> {
  const registration = new NodeRegistration(options);
  await registration.start();
  return registration;
}
