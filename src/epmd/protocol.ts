/**
 * EPMD wire codecs: pure functions from values to bytes and back, no sockets.
 *
 * Every request travels as `Len:16 | Request`; responses carry no length, so the response
 * decoders take the bytes received so far and answer "incomplete" until a whole response is
 * there: the shell may feed them a TCP stream split anywhere. All integers are big-endian.
 * See docs: /work/shared/reference/erlang-distribution.md §1.
 *
 * @module
 */

import { EpmdError } from './errors.ts';

/** Register a node; the registration lives as long as the connection (tag `'x'`). */
export const ALIVE2_REQ = 120;
/** Answer to ALIVE2_REQ with a 32-bit creation, for clients whose Highest >= 6 (tag `'v'`). */
export const ALIVE2_X_RESP = 118;
/** Legacy answer to ALIVE2_REQ with a 16-bit creation, for clients whose Highest < 6 (tag `'y'`). */
export const ALIVE2_RESP = 121;
/** Look up a node's distribution port (tag `'z'`). */
export const PORT_PLEASE2_REQ = 122;
/** Answer to PORT_PLEASE2_REQ (tag `'w'`). */
export const PORT2_RESP = 119;
/** List registered names (tag `'n'`). */
export const NAMES_REQ = 110;
/** Debug dump of the EPMD tables (tag `'d'`). */
export const DUMP_REQ = 100;
/** Ask the EPMD to exit (tag `'k'`). */
export const KILL_REQ = 107;
/** Ask the EPMD to forget a name (tag `'s'`). */
export const STOP_REQ = 115;

/** NodeType of a normal (visible) node: `'M'`. */
export const NODE_TYPE_NORMAL = 77;
/** NodeType of a hidden node: `'H'`. */
export const NODE_TYPE_HIDDEN = 72;
/** Protocol 0: TCP (used for IPv4, IPv6 and TLS alike in practice). */
export const PROTOCOL_TCP = 0;
/** Highest distribution version we announce (the OTP 23+ handshake). */
export const DIST_HIGHEST = 6;
/** Lowest distribution version we announce; OTP 25 nodes announce 5 here too. */
export const DIST_LOWEST = 5;

/** Longest alive name in characters, the atom limit of the BEAM. */
export const MAX_NAME_CHARS = 255;
/** Longest alive name in bytes: 255 characters of up to 4 UTF-8 bytes each. */
export const MAX_NAME_BYTES = 1020;

/** The fields of an ALIVE2_REQ, as a node announces itself. */
export interface Alive2Fields {
  /** TCP port the node accepts distribution connections on. */
  readonly port: number;
  /** {@link NODE_TYPE_NORMAL} or {@link NODE_TYPE_HIDDEN} (any byte is carried through). */
  readonly nodeType: number;
  /** {@link PROTOCOL_TCP} in practice. */
  readonly protocol: number;
  /** Highest distribution version the node speaks. */
  readonly highest: number;
  /** Lowest distribution version the node speaks. */
  readonly lowest: number;
  /** The alive part of the node name (`ts` for `ts@host`). */
  readonly name: string;
  /** Opaque extra bytes, normally empty. */
  readonly extra: Uint8Array;
}

/** What PORT2_RESP tells about a registered node. */
export type PortInfo = Alive2Fields;

/** One line of a NAMES reply. */
export interface NameEntry {
  readonly name: string;
  readonly port: number;
}

/** A decoded request, as the server sees it. */
export type EpmdRequest =
  | ({ readonly type: 'ALIVE2_REQ' } & Alive2Fields)
  | { readonly type: 'PORT_PLEASE2_REQ'; readonly name: string }
  | { readonly type: 'NAMES_REQ' }
  | { readonly type: 'DUMP_REQ' }
  | { readonly type: 'KILL_REQ' }
  | { readonly type: 'STOP_REQ'; readonly name: string };

/** The answer to ALIVE2_REQ. `result` 0 means registered; anything else is a refusal. */
export interface Alive2Response {
  /** {@link ALIVE2_X_RESP} (32-bit creation) or {@link ALIVE2_RESP} (16-bit creation). */
  readonly tag: typeof ALIVE2_X_RESP | typeof ALIVE2_RESP;
  readonly result: number;
  readonly creation: number;
}

/** The answer to PORT_PLEASE2_REQ: the node's entry, or the non-zero result when not found. */
export type Port2Response =
  | { readonly found: true; readonly info: PortInfo }
  | { readonly found: false; readonly result: number };

/** The answer to NAMES_REQ. */
export interface NamesResponse {
  /** The port the answering EPMD listens on. */
  readonly epmdPort: number;
  readonly names: readonly NameEntry[];
}

/** Outcome of a streaming decoder: not enough bytes yet, or a value and how many bytes it used. */
export type Decoded<T> =
  | { readonly done: false }
  | { readonly done: true; readonly value: T; readonly consumed: number };

const INCOMPLETE: { readonly done: false } = { done: false };
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Why `name` cannot be an alive name, or undefined when it can. Beyond the length limits we
 * refuse spaces, `@` and control characters: a NAMES reply is `name <alive> at port <n>\n`
 * lines, which a space or newline would corrupt, and `@` separates alive from host.
 */
export function aliveNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'the name is empty';
  if ([...name].length > MAX_NAME_CHARS) return `the name is longer than ${MAX_NAME_CHARS} characters`;
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES)
    return `the name is longer than ${MAX_NAME_BYTES} bytes`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (/[\u0000-\u0020\u007f@]/.test(name)) return 'the name contains a space, "@" or a control character';
  return undefined;
}

function checkU16(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new EpmdError('invalid_argument', `${what} must be an integer in 0..65535, got ${value}`);
  }
}

function checkU8(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new EpmdError('invalid_argument', `${what} must be an integer in 0..255, got ${value}`);
  }
}

function checkName(name: string): Buffer {
  const problem = aliveNameProblem(name);
  if (problem !== undefined)
    throw new EpmdError('invalid_argument', `invalid alive name ${JSON.stringify(name)}: ${problem}`);
  return Buffer.from(name, 'utf8');
}

/** Prefixes a request body with its 16-bit length. */
function frame(body: Buffer): Buffer {
  if (body.length > 0xffff)
    throw new EpmdError('invalid_argument', `request of ${body.length} bytes exceeds 65535`);
  const out = Buffer.allocUnsafe(2 + body.length);
  out.writeUInt16BE(body.length, 0);
  body.copy(out, 2);
  return out;
}

/** Encodes a framed ALIVE2_REQ. Throws `invalid_argument` for values the wire cannot carry. */
export function encodeAlive2Req(fields: Alive2Fields): Buffer {
  checkU16(fields.port, 'port');
  checkU8(fields.nodeType, 'nodeType');
  checkU8(fields.protocol, 'protocol');
  checkU16(fields.highest, 'highest');
  checkU16(fields.lowest, 'lowest');
  const name = checkName(fields.name);
  const body = Buffer.allocUnsafe(13 + name.length + fields.extra.length);
  let at = body.writeUInt8(ALIVE2_REQ, 0);
  at = body.writeUInt16BE(fields.port, at);
  at = body.writeUInt8(fields.nodeType, at);
  at = body.writeUInt8(fields.protocol, at);
  at = body.writeUInt16BE(fields.highest, at);
  at = body.writeUInt16BE(fields.lowest, at);
  at = body.writeUInt16BE(name.length, at);
  at += name.copy(body, at);
  at = body.writeUInt16BE(fields.extra.length, at);
  body.set(fields.extra, at);
  return frame(body);
}

/** Encodes a framed PORT_PLEASE2_REQ for an alive name. */
export function encodePortPlease2Req(name: string): Buffer {
  return frame(Buffer.concat([Buffer.of(PORT_PLEASE2_REQ), checkName(name)]));
}

/** The framed NAMES_REQ (constant). */
export function encodeNamesReq(): Buffer {
  return Buffer.of(0, 1, NAMES_REQ);
}

/** The framed DUMP_REQ (constant). */
export function encodeDumpReq(): Buffer {
  return Buffer.of(0, 1, DUMP_REQ);
}

/** The framed KILL_REQ (constant). */
export function encodeKillReq(): Buffer {
  return Buffer.of(0, 1, KILL_REQ);
}

/** Encodes a framed STOP_REQ for an alive name. */
export function encodeStopReq(name: string): Buffer {
  return frame(Buffer.concat([Buffer.of(STOP_REQ), checkName(name)]));
}

/** ALIVE2_X_RESP: result and a 32-bit creation. */
export function encodeAlive2XResp(result: number, creation: number): Buffer {
  const out = Buffer.allocUnsafe(6);
  out.writeUInt8(ALIVE2_X_RESP, 0);
  out.writeUInt8(result, 1);
  out.writeUInt32BE(creation >>> 0, 2);
  return out;
}

/** ALIVE2_RESP (legacy): result and a 16-bit creation. */
export function encodeAlive2Resp(result: number, creation: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt8(ALIVE2_RESP, 0);
  out.writeUInt8(result, 1);
  out.writeUInt16BE(creation & 0xffff, 2);
  return out;
}

/** PORT2_RESP: the entry when found, else the 2-byte error form with a non-zero result. */
export function encodePort2Resp(response: Port2Response): Buffer {
  if (!response.found) {
    if (response.result === 0)
      throw new EpmdError('invalid_argument', 'a not-found PORT2_RESP needs a non-zero result');
    return Buffer.of(PORT2_RESP, response.result);
  }
  const info = response.info;
  const name = Buffer.from(info.name, 'utf8');
  const out = Buffer.allocUnsafe(14 + name.length + info.extra.length);
  let at = out.writeUInt8(PORT2_RESP, 0);
  at = out.writeUInt8(0, at);
  at = out.writeUInt16BE(info.port, at);
  at = out.writeUInt8(info.nodeType, at);
  at = out.writeUInt8(info.protocol, at);
  at = out.writeUInt16BE(info.highest, at);
  at = out.writeUInt16BE(info.lowest, at);
  at = out.writeUInt16BE(name.length, at);
  at += name.copy(out, at);
  at = out.writeUInt16BE(info.extra.length, at);
  out.set(info.extra, at);
  return out;
}

/** NAMES reply: the EPMD port as 32 bits, then one `name <alive> at port <n>\n` line per node. */
export function encodeNamesResp(epmdPort: number, names: readonly NameEntry[]): Buffer {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(epmdPort >>> 0, 0);
  const lines = names.map((n) => `name ${n.name} at port ${n.port}\n`).join('');
  return Buffer.concat([head, Buffer.from(lines, 'utf8')]);
}

function protocolError(message: string): EpmdError {
  return new EpmdError('protocol', message);
}

function decodeName(bytes: Uint8Array, what: string): string {
  let name: string;
  try {
    name = utf8.decode(bytes);
  } catch {
    throw protocolError(`${what}: the name is not valid UTF-8`);
  }
  const problem = aliveNameProblem(name);
  if (problem !== undefined) throw protocolError(`${what}: ${problem}`);
  return name;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Decodes one framed request from the start of `bytes` (server side).
 * Returns incomplete until the whole frame is there; throws `too_large` as soon as the length
 * prefix exceeds `maxRequestBytes` (so a peer cannot make us buffer more), and `protocol` for an
 * empty frame, an unknown tag or fields that do not add up to the frame length.
 */
export function decodeRequest(bytes: Uint8Array, maxRequestBytes: number): Decoded<EpmdRequest> {
  if (bytes.length < 2) return INCOMPLETE;
  const dv = view(bytes);
  const len = dv.getUint16(0);
  if (len === 0) throw protocolError('empty request');
  if (len > maxRequestBytes)
    throw new EpmdError('too_large', `request of ${len} bytes exceeds ${maxRequestBytes}`);
  if (bytes.length < 2 + len) return INCOMPLETE;
  const body = bytes.subarray(2, 2 + len);
  return { done: true, value: decodeRequestBody(body), consumed: 2 + len };
}

function decodeRequestBody(body: Uint8Array): EpmdRequest {
  const tag = body[0];
  switch (tag) {
    case ALIVE2_REQ:
      return decodeAlive2Body(body);
    case PORT_PLEASE2_REQ:
      return { type: 'PORT_PLEASE2_REQ', name: decodeName(body.subarray(1), 'PORT_PLEASE2_REQ') };
    case NAMES_REQ:
      return { type: 'NAMES_REQ' };
    case DUMP_REQ:
      return { type: 'DUMP_REQ' };
    case KILL_REQ:
      return { type: 'KILL_REQ' };
    case STOP_REQ:
      return { type: 'STOP_REQ', name: decodeName(body.subarray(1), 'STOP_REQ') };
    default:
      throw protocolError(`unknown request tag ${tag}`);
  }
}

function decodeAlive2Body(body: Uint8Array): EpmdRequest {
  // tag, port:16, type, proto, high:16, low:16, nlen:16 = 11 bytes before the name.
  if (body.length < 13) throw protocolError('ALIVE2_REQ shorter than its fixed fields');
  const dv = view(body);
  const nameLen = dv.getUint16(9);
  if (11 + nameLen + 2 > body.length) throw protocolError('ALIVE2_REQ name runs past the frame');
  const extraLen = dv.getUint16(11 + nameLen);
  if (13 + nameLen + extraLen !== body.length)
    throw protocolError('ALIVE2_REQ lengths do not add up to the frame');
  return {
    type: 'ALIVE2_REQ',
    port: dv.getUint16(1),
    nodeType: dv.getUint8(3),
    protocol: dv.getUint8(4),
    highest: dv.getUint16(5),
    lowest: dv.getUint16(7),
    name: decodeName(body.subarray(11, 11 + nameLen), 'ALIVE2_REQ'),
    extra: new Uint8Array(body.subarray(13 + nameLen)), // a copy: the frame buffer is reused
  };
}

/**
 * Decodes ALIVE2_X_RESP or ALIVE2_RESP from the bytes received so far (client side).
 * Throws `protocol` for any other first byte.
 */
export function decodeAlive2Response(bytes: Uint8Array): Decoded<Alive2Response> {
  if (bytes.length === 0) return INCOMPLETE;
  const tag = bytes[0];
  if (tag === ALIVE2_X_RESP) {
    if (bytes.length < 6) return INCOMPLETE;
    const dv = view(bytes);
    return { done: true, value: { tag, result: dv.getUint8(1), creation: dv.getUint32(2) }, consumed: 6 };
  }
  if (tag === ALIVE2_RESP) {
    if (bytes.length < 4) return INCOMPLETE;
    const dv = view(bytes);
    return { done: true, value: { tag, result: dv.getUint8(1), creation: dv.getUint16(2) }, consumed: 4 };
  }
  throw protocolError(`unexpected ALIVE2 response tag ${tag}`);
}

/** Decodes PORT2_RESP from the bytes received so far (client side). */
export function decodePort2Response(bytes: Uint8Array): Decoded<Port2Response> {
  if (bytes.length < 2) {
    if (bytes.length === 1 && bytes[0] !== PORT2_RESP)
      throw protocolError(`unexpected PORT2 response tag ${bytes[0]}`);
    return INCOMPLETE;
  }
  const dv = view(bytes);
  if (dv.getUint8(0) !== PORT2_RESP) throw protocolError(`unexpected PORT2 response tag ${dv.getUint8(0)}`);
  const result = dv.getUint8(1);
  if (result !== 0) return { done: true, value: { found: false, result }, consumed: 2 };
  // tag, result, port:16, type, proto, high:16, low:16, nlen:16 = 12 bytes before the name.
  if (bytes.length < 12) return INCOMPLETE;
  const nameLen = dv.getUint16(10);
  if (bytes.length < 12 + nameLen + 2) return INCOMPLETE;
  const extraLen = dv.getUint16(12 + nameLen);
  const end = 14 + nameLen + extraLen;
  if (bytes.length < end) return INCOMPLETE;
  const info: PortInfo = {
    port: dv.getUint16(2),
    nodeType: dv.getUint8(4),
    protocol: dv.getUint8(5),
    highest: dv.getUint16(6),
    lowest: dv.getUint16(8),
    name: decodeName(bytes.subarray(12, 12 + nameLen), 'PORT2_RESP'),
    extra: new Uint8Array(bytes.subarray(14 + nameLen, end)),
  };
  return { done: true, value: { found: true, info }, consumed: end };
}

const NAME_LINE = /^name (\S+) at port (\d{1,5})$/;

/**
 * Decodes a complete NAMES reply (the EPMD closes the connection after it, so the caller
 * passes everything received). Lines that do not parse are skipped, as OTP's client does;
 * a trailing line without a newline is incomplete and dropped.
 */
export function decodeNamesResponse(bytes: Uint8Array): NamesResponse {
  if (bytes.length < 4) throw protocolError(`NAMES reply of ${bytes.length} bytes lacks the 4-byte port`);
  const epmdPort = view(bytes).getUint32(0);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + 4, bytes.byteLength - 4).toString('utf8');
  const lines = text.split('\n');
  lines.pop(); // the part after the last newline: empty, or an incomplete line
  const names: NameEntry[] = [];
  for (const line of lines) {
    const m = NAME_LINE.exec(line);
    if (m === null) continue;
    const port = Number(m[2]);
    if (port > 0xffff) continue;
    names.push({ name: m[1]!, port });
  }
  return { epmdPort, names };
}
