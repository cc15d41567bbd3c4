/**
 * A real BEAM as a port-program peer for the term codec interop tests.
 *
 * Starts `erl -noinput` as a distributed node (`corpus@127.0.0.1` on a private epmd), so its
 * pids, references and ports carry a real node name and creation. The node compiles
 * test/support/term_peer.erl in memory and serves requests on stdin/stdout in 4-byte
 * length-prefixed frames. Requests and replies are external term format.
 *
 * The envelope (the request tuples and the reply shapes) is encoded and decoded by a small
 * codec private to this file, not by src/term: the harness must keep working, and keep
 * reporting clearly, while the codec under test is incomplete or wrong.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const peerSource = join(dirname(fileURLToPath(import.meta.url)), 'term_peer.erl');

/** An atom in the envelope. */
export interface EnvAtom {
  readonly atom: string;
}
/** A tuple in the envelope. */
export interface EnvTuple {
  readonly tuple: readonly Envelope[];
}
/** The subset of terms requests and replies use. */
export type Envelope = number | bigint | Buffer | EnvAtom | EnvTuple | readonly Envelope[];

/** One corpus term, encoded by the BEAM (see `corpus/0` in term_peer.erl for the variants). */
export interface CorpusEntry {
  readonly label: string;
  readonly variant: 'v2' | 'v1' | 'v0' | 'compressed' | 'handmade';
  /** The BEAM's bytes, from 131 on. */
  readonly bytes: Buffer;
  /** The BEAM's `~P` rendering, cut short: for failure messages. */
  readonly description: string;
}

/** The BEAM's verdict on `binary_to_term(A)` against `binary_to_term(B)`. */
export type BeamOrder =
  | { readonly order: 'lt' | 'eq' | 'gt'; readonly exact: boolean }
  | { readonly rejected: 'a' | 'b' };

/** Result of a `check`: whether both decode and compare `=:=`, or which side the BEAM rejected. */
export type CheckResult = boolean | { readonly rejected: 'ours' | 'beams' };

/** Options for {@link ErlPort.start}. */
export interface ErlPortOptions {
  /** Port of the private epmd the node registers with. */
  readonly epmdPort: number;
  /** Full node name. Default `corpus@127.0.0.1`. */
  readonly nodeName?: string;
  /** How long boot, compile and the first reply may take. Default 30 000 ms. */
  readonly startTimeoutMs?: number;
  /** Deadline for each reply. Default 60 000 ms. */
  readonly requestTimeoutMs?: number;
}

interface Pending {
  readonly resolve: (reply: Envelope) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** A running `erl` serving term_peer.erl requests. */
export class ErlPort {
  readonly nodeName: string;
  readonly #child: ChildProcess;
  /** The start timeout until the first reply, then the per-request one. */
  #requestTimeoutMs: number;
  readonly #pending: Pending[] = [];
  #buffered: Buffer = Buffer.alloc(0);
  #stderr = '';
  #exited: Error | undefined;

  private constructor(child: ChildProcess, nodeName: string, requestTimeoutMs: number) {
    this.#child = child;
    this.nodeName = nodeName;
    this.#requestTimeoutMs = requestTimeoutMs;
    child.stdout?.on('data', (chunk: Buffer) => this.#onData(chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
    child.once('error', (error) => this.#fail(new Error(`erl failed: ${error.message}`)));
    child.once('exit', (code, signal) => this.#fail(new Error(`erl exited (${code ?? signal})`)));
    // Writes after the peer died fail here instead of as an unhandled 'error' event.
    child.stdin?.on('error', (error) => this.#fail(new Error(`erl stdin: ${error.message}`)));
  }

  /** Starts the node and waits for its first reply. */
  static async start(options: ErlPortOptions): Promise<ErlPort> {
    const nodeName = options.nodeName ?? 'corpus@127.0.0.1';
    const path = JSON.stringify(peerSource);
    const boot =
      'logger:remove_handler(default),' +
      'logger:add_handler(default, logger_std_h, #{config => #{type => standard_error}}),' +
      `{ok, M, B} = compile:file(${path}, [binary, return_errors]),` +
      `{module, M} = code:load_binary(M, ${path}, B),` +
      'M:main().';
    const child = spawn(
      'erl',
      [
        '-noinput',
        '-hidden',
        '-name',
        nodeName,
        '-setcookie',
        randomBytes(12).toString('hex'),
        '-eval',
        boot,
      ],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, ERL_EPMD_PORT: String(options.epmdPort), ERL_CRASH_DUMP_SECONDS: '0' },
      },
    );
    const peer = new ErlPort(child, nodeName, options.startTimeoutMs ?? 30_000);
    try {
      await peer.info();
    } catch (error) {
      await peer.stop();
      throw error;
    }
    peer.#requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    return peer;
  }

  /** Whether the node has exited (or been given up on); a dead peer rejects every request. */
  get exited(): boolean {
    return this.#exited !== undefined;
  }

  /** Sends one request and resolves its reply. Replies come back in request order. */
  async request(request: Envelope): Promise<Envelope> {
    if (this.#exited !== undefined) throw this.#exited;
    const body = encodeEnvelope(request);
    const frame = Buffer.allocUnsafe(4 + body.length);
    frame.writeUInt32BE(body.length, 0);
    body.copy(frame, 4);
    const timeoutMs = this.#requestTimeoutMs;
    return await new Promise<Envelope>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(new Error(`no reply from erl within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.push({ resolve, reject, timer });
      this.#child.stdin?.write(frame);
    });
  }

  /** `{info}`: the node name and creation the BEAM uses in its pids, refs and ports. */
  async info(): Promise<{ node: string; creation: number }> {
    const reply = await this.request(tuple(atom('info')));
    const [node, creation] = tupleItems(reply, 2);
    return { node: atomName(node), creation: int(creation) };
  }

  /** `{roundtrip, Bin}`: the BEAM decodes and re-encodes (minor_version 2), or rejects. */
  async roundtrip(bytes: Buffer): Promise<Buffer | 'badarg'> {
    return parseRoundtrip(await this.request(tuple(atom('roundtrip'), bytes)));
  }

  /** Many `roundtrip`s in one frame. */
  async roundtripMany(all: readonly Buffer[]): Promise<Array<Buffer | 'badarg'>> {
    return list(await this.request(tuple(atom('roundtrip_many'), all))).map(parseRoundtrip);
  }

  /** `{eval_corpus}`: the corpus the BEAM builds and encodes. */
  async corpus(): Promise<CorpusEntry[]> {
    return list(await this.request(tuple(atom('eval_corpus')))).map((entry) => {
      const [label, variant, bytes, description] = tupleItems(entry, 4);
      return {
        label: binary(label).toString('utf8'),
        variant: atomName(variant) as CorpusEntry['variant'],
        bytes: binary(bytes),
        description: binary(description).toString('utf8'),
      };
    });
  }

  /** `{check, Ours, Beams}`: `binary_to_term(Ours) =:= binary_to_term(Beams)`. */
  async check(ours: Buffer, beams: Buffer): Promise<CheckResult> {
    return parseCheck(await this.request(tuple(atom('check'), ours, beams)));
  }

  /** Many `check`s in one frame. */
  async checkMany(pairs: ReadonlyArray<readonly [Buffer, Buffer]>): Promise<CheckResult[]> {
    const request = tuple(
      atom('check_many'),
      pairs.map(([a, b]) => tuple(a, b)),
    );
    return list(await this.request(request)).map(parseCheck);
  }

  /** `{compare, A, B}`: the BEAM's `<` / `==` verdict. */
  async compare(a: Buffer, b: Buffer): Promise<'lt' | 'eq' | 'gt'> {
    const reply = atomName(await this.request(tuple(atom('compare'), a, b)));
    if (reply !== 'lt' && reply !== 'eq' && reply !== 'gt') throw new Error(`compare: ${reply}`);
    return reply;
  }

  /** Many comparisons in one frame, each with `=:=` too. */
  async compareMany(pairs: ReadonlyArray<readonly [Buffer, Buffer]>): Promise<BeamOrder[]> {
    const request = tuple(
      atom('compare_many'),
      pairs.map(([a, b]) => tuple(a, b)),
    );
    return list(await this.request(request)).map((item) => {
      const [first, second] = tupleItems(item, 2);
      const tag = atomName(first);
      if (tag === 'error') return { rejected: atomName(second) === 'a' ? 'a' : 'b' };
      if (tag !== 'lt' && tag !== 'eq' && tag !== 'gt') throw new Error(`compare_many: ${tag}`);
      return { order: tag, exact: atomName(second) === 'true' };
    });
  }

  /** Closes stdin (the node halts on eof), then kills it if it is still up after a deadline. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  #onData(chunk: Buffer): void {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    while (this.#buffered.length >= 4) {
      const size = this.#buffered.readUInt32BE(0);
      if (this.#buffered.length < 4 + size) return;
      const body = this.#buffered.subarray(4, 4 + size);
      this.#buffered = this.#buffered.subarray(4 + size);
      const pending = this.#pending.shift();
      if (pending === undefined) {
        this.#fail(new Error('erl sent a reply nobody asked for'));
        return;
      }
      clearTimeout(pending.timer);
      let reply: Envelope;
      try {
        reply = decodeEnvelope(body);
      } catch (error) {
        pending.reject(error as Error);
        continue;
      }
      if (isTuple(reply) && reply.tuple.length === 3 && isAtom(reply.tuple[0], 'crash')) {
        const reason = reply.tuple[2];
        pending.reject(new Error(`term_peer crashed: ${Buffer.isBuffer(reason) ? reason.toString() : '?'}`));
        continue;
      }
      pending.resolve(reply);
    }
  }

  #fail(error: Error): void {
    const detail = this.#stderr.trim();
    const full = detail === '' ? error : new Error(`${error.message}; stderr: ${detail}`);
    this.#exited ??= full;
    for (const pending of this.#pending.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(full);
    }
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }
}

// ---- The envelope codec: only what term_peer.erl sends and receives. ----

/** Envelope atom. */
export function atom(name: string): EnvAtom {
  return { atom: name };
}

/** Envelope tuple. */
export function tuple(...items: Envelope[]): EnvTuple {
  return { tuple: items };
}

function isAtom(value: Envelope | undefined, name?: string): value is EnvAtom {
  return (
    typeof value === 'object' &&
    value !== null &&
    'atom' in value &&
    (name === undefined || value.atom === name)
  );
}

function isTuple(value: Envelope): value is EnvTuple {
  return typeof value === 'object' && value !== null && 'tuple' in value;
}

function atomName(value: Envelope | undefined): string {
  if (!isAtom(value)) throw new Error(`expected an atom in the reply, got ${describe(value)}`);
  return value.atom;
}

function binary(value: Envelope | undefined): Buffer {
  if (!Buffer.isBuffer(value)) throw new Error(`expected a binary in the reply, got ${describe(value)}`);
  return value;
}

function int(value: Envelope | undefined): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
  throw new Error(`expected an integer in the reply, got ${describe(value)}`);
}

function list(value: Envelope): readonly Envelope[] {
  if (!Array.isArray(value)) throw new Error(`expected a list in the reply, got ${describe(value)}`);
  return value;
}

function tupleItems(value: Envelope, arity: number): readonly Envelope[] {
  if (!isTuple(value) || value.tuple.length !== arity) {
    throw new Error(`expected a ${arity}-tuple in the reply, got ${describe(value)}`);
  }
  return value.tuple;
}

function describe(value: Envelope | undefined): string {
  if (Buffer.isBuffer(value)) return `<<${value.length} bytes>>`;
  return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? 'undefined';
}

function parseRoundtrip(reply: Envelope): Buffer | 'badarg' {
  const [tag, value] = tupleItems(reply, 2);
  if (atomName(tag) === 'ok') return binary(value);
  return 'badarg';
}

function parseCheck(reply: Envelope): CheckResult {
  if (isAtom(reply, 'true')) return true;
  if (isAtom(reply, 'false')) return false;
  const [, side] = tupleItems(reply, 2);
  return { rejected: atomName(side) === 'ours' ? 'ours' : 'beams' };
}

/** Encodes a request (131 + term). */
export function encodeEnvelope(value: Envelope): Buffer {
  const parts: Buffer[] = [Buffer.from([131])];
  const put = (v: Envelope): void => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new RangeError(`envelope int ${v}`);
      if (v >= 0 && v < 256) parts.push(Buffer.from([97, v]));
      else {
        const b = Buffer.alloc(5);
        b[0] = 98;
        b.writeInt32BE(v, 1);
        parts.push(b);
      }
    } else if (typeof v === 'bigint') {
      throw new RangeError('bigints are not used in requests');
    } else if (Buffer.isBuffer(v)) {
      const head = Buffer.alloc(5);
      head[0] = 109;
      head.writeUInt32BE(v.length, 1);
      parts.push(head, v);
    } else if (Array.isArray(v)) {
      if (v.length === 0) {
        parts.push(Buffer.from([106]));
        return;
      }
      const head = Buffer.alloc(5);
      head[0] = 108;
      head.writeUInt32BE(v.length, 1);
      parts.push(head);
      for (const item of v) put(item);
      parts.push(Buffer.from([106]));
    } else if (isTuple(v as Envelope)) {
      const items = (v as EnvTuple).tuple;
      if (items.length > 255) throw new RangeError('envelope tuples are small');
      parts.push(Buffer.from([104, items.length]));
      for (const item of items) put(item);
    } else {
      const name = Buffer.from((v as EnvAtom).atom, 'utf8');
      parts.push(Buffer.from([119, name.length]), name);
    }
  };
  put(value);
  return Buffer.concat(parts);
}

/** Decodes a reply (131 + term). Binaries are copies, so replies outlive the frame buffer. */
export function decodeEnvelope(bytes: Buffer): Envelope {
  if (bytes[0] !== 131) throw new Error('reply lacks the version byte 131');
  let at = 1;
  const need = (n: number): void => {
    if (at + n > bytes.length) throw new Error('reply truncated');
  };
  const atomOf = (length: number, encoding: 'utf8' | 'latin1'): EnvAtom => {
    need(length);
    const name = bytes.toString(encoding, at, at + length);
    at += length;
    return { atom: name };
  };
  const read = (): Envelope => {
    need(1);
    const tag = bytes[at++]!;
    switch (tag) {
      case 97:
        need(1);
        return bytes[at++]!;
      case 98:
        need(4);
        at += 4;
        return bytes.readInt32BE(at - 4);
      case 110: {
        need(2);
        const n = bytes[at]!;
        const negative = bytes[at + 1] === 1;
        at += 2;
        need(n);
        let magnitude = 0n;
        for (let i = n - 1; i >= 0; i--) magnitude = (magnitude << 8n) | BigInt(bytes[at + i]!);
        at += n;
        return negative ? -magnitude : magnitude;
      }
      case 119:
        need(1);
        return atomOf(bytes[at++]!, 'utf8');
      case 118:
        need(2);
        at += 2;
        return atomOf(bytes.readUInt16BE(at - 2), 'utf8');
      case 115:
        need(1);
        return atomOf(bytes[at++]!, 'latin1');
      case 100:
        need(2);
        at += 2;
        return atomOf(bytes.readUInt16BE(at - 2), 'latin1');
      case 109: {
        need(4);
        const length = bytes.readUInt32BE(at);
        at += 4;
        need(length);
        at += length;
        return Buffer.from(bytes.subarray(at - length, at));
      }
      case 104:
      case 105: {
        const arity = tag === 104 ? bytes[at]! : bytes.readUInt32BE(at);
        need(tag === 104 ? 1 : 4);
        at += tag === 104 ? 1 : 4;
        const items: Envelope[] = [];
        for (let i = 0; i < arity; i++) items.push(read());
        return { tuple: items };
      }
      case 106:
        return [];
      case 107: {
        need(2);
        const length = bytes.readUInt16BE(at);
        at += 2;
        need(length);
        at += length;
        return [...bytes.subarray(at - length, at)];
      }
      case 108: {
        need(4);
        const length = bytes.readUInt32BE(at);
        at += 4;
        const items: Envelope[] = [];
        for (let i = 0; i < length; i++) items.push(read());
        if (bytes[at++] !== 106) throw new Error('improper list in a reply');
        return items;
      }
      default:
        throw new Error(`tag ${tag} at ${at - 1} is not used in replies`);
    }
  };
  const value = read();
  if (at !== bytes.length) throw new Error(`${bytes.length - at} bytes after the reply`);
  return value;
}
