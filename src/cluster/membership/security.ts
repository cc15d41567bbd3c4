/**
 * Authentication, optional encryption and replay protection of membership datagrams.
 *
 *   sealed = magic:u8 flags:u8 keyId:u32 sender:str counter:u64 [iv:12] payload tag
 *   flags  = bit 0: payload encrypted (AES-256-GCM, tag 16 bytes); else HMAC-SHA256 (tag 32 bytes)
 *
 * Keys: each secret (the cookie, or entries of an explicit key list) is expanded with HKDF-SHA256
 * into a MAC key, an encryption key and a 4-byte key id. The first key seals; every key opens,
 * so a cluster rotates by adding the new key everywhere, then moving it first, then removing the
 * old one. The key id picks the key without trying each.
 *
 * Encrypted packets carry no HMAC: GCM authenticates the header (as associated data) and the
 * ciphertext, so a second tag would cost bytes and add nothing.
 *
 * Replay: `counter` is per sender and strictly increasing, seeded from the wall clock in
 * microseconds, so a restarted sender continues above its previous life. A receiver drops a
 * packet whose counter is more than `maxClockSkewMs` away from its own wall clock (`stale`), and
 * keeps, per sender, the last `replayWindow` accepted counters: a counter at or below the oldest
 * of them, or equal to one of them, is a replay. UDP reordering within the window is accepted.
 * Counters are recorded only after authentication, so forged packets cannot poison the window.
 *
 * Nothing here throws on remote input: every dropped packet is counted by reason.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

/** First byte of a sealed packet (plain packets start with their version, 1). */
export const SEALED_MAGIC = 0xd5;
const FLAG_ENCRYPTED = 1;
const HMAC_TAG_BYTES = 32;
const GCM_TAG_BYTES = 16;
const IV_BYTES = 12;
const SALT = 'distribute/membership/v1';

/** Why an incoming datagram was dropped. */
export type SecurityDropReason =
  /** Not a sealed packet, or cut short. */
  | 'malformed'
  /** A plain (unauthenticated) packet while security is on. */
  | 'unauthenticated'
  /** Sealed with a key we do not hold. */
  | 'unknown-key'
  /** HMAC or GCM tag did not verify (forged or corrupted). */
  | 'bad-mac'
  /** Counter too far from our wall clock (an old packet replayed, or a badly skewed clock). */
  | 'stale'
  /** Counter already seen, or older than the replay window. */
  | 'replay'
  /** The authenticated sender differs from the packet's `from` (checked by the service). */
  | 'sender-mismatch';

/** Options of {@link PacketSecurity}. */
export interface PacketSecurityOptions {
  /** Secrets, at least 16 bytes each (strings as UTF-8): the first seals, all open. At most 16. */
  readonly keys: ReadonlyArray<string | Uint8Array>;
  /** Encrypt outgoing payloads with AES-256-GCM (default false). Incoming packets may be either. */
  readonly encrypt?: boolean;
  /** Largest accepted distance between a packet's counter time and our wall clock (default 60,000 ms; Infinity disables). */
  readonly maxClockSkewMs?: number;
  /** Accepted counters remembered per sender, the reordering tolerance (default 64). */
  readonly replayWindow?: number;
  /** Senders tracked at most; the least recently heard is forgotten first (default 10,000). */
  readonly maxSenders?: number;
  /** Wall clock in ms since the epoch (default Date.now): counters compare across hosts. */
  readonly wallClock?: () => number;
  /** Source of IVs; must be a CSPRNG outside tests (default crypto.randomBytes). */
  readonly randomBytes?: (n: number) => Uint8Array;
}

/** Defaults of {@link PacketSecurityOptions}. */
export const securityDefaults: {
  readonly maxClockSkewMs: number;
  readonly replayWindow: number;
  readonly maxSenders: number;
} = Object.freeze({
  maxClockSkewMs: 60_000, // NTP keeps hosts within milliseconds; a minute tolerates a bad one yet bounds replays
  replayWindow: 64, // UDP rarely reorders more than a few packets from one sender
  maxSenders: 10_000, // as many as the member table's default limit
});

/** A configuration that cannot work. */
export class SecurityError extends Error {
  readonly code: 'BAD_KEY' | 'BAD_OPTION';
  constructor(code: 'BAD_KEY' | 'BAD_OPTION', message: string) {
    super(message);
    this.name = 'SecurityError';
    this.code = code;
  }
}

interface Key {
  readonly id: number;
  readonly mac: Buffer;
  readonly enc: Buffer;
}

interface Window {
  /** Accepted counters, oldest first, at most `replayWindow`. */
  readonly seen: number[];
}

/** Bytes sealing adds to a packet from a sender whose id takes `senderBytes` UTF-8 bytes. */
export function sealOverhead(senderBytes: number, encrypt: boolean): number {
  return 2 + 4 + 1 + senderBytes + 8 + (encrypt ? IV_BYTES + GCM_TAG_BYTES : HMAC_TAG_BYTES);
}

/** A 32-byte key derived from `secret` by HKDF-SHA256 for `purpose`. */
export function deriveKey(secret: string | Uint8Array, purpose: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, SALT, purpose, 32));
}

function expandKey(secret: string | Uint8Array): Key {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (bytes.length < 16)
    throw new SecurityError('BAD_KEY', `a key needs at least 16 bytes, got ${bytes.length}`);
  const mac = Buffer.from(deriveKey(bytes, 'mac'));
  const enc = Buffer.from(deriveKey(bytes, 'enc'));
  const id = createHmac('sha256', mac).update('key-id').digest().readUInt32BE(0);
  return { id, mac, enc };
}

/** A drop counter per reason, all zero. */
export function noDrops(): Record<SecurityDropReason, number> {
  return {
    malformed: 0,
    unauthenticated: 0,
    'unknown-key': 0,
    'bad-mac': 0,
    stale: 0,
    replay: 0,
    'sender-mismatch': 0,
  };
}

/** The result of {@link PacketSecurity.open}. */
export type Opened =
  | { readonly ok: true; readonly sender: string; readonly payload: Uint8Array }
  | { readonly ok: false; readonly reason: SecurityDropReason };

/** Seals outgoing and opens incoming datagrams; counts every drop by reason. */
export class PacketSecurity {
  /** Drops by reason since construction. */
  readonly drops: Record<SecurityDropReason, number> = noDrops();
  private readonly keys: readonly Key[];
  private readonly encrypt: boolean;
  private readonly maxSkewUs: number;
  private readonly replayWindow: number;
  private readonly maxSenders: number;
  private readonly wallClock: () => number;
  private readonly random: (n: number) => Uint8Array;
  /** Per sender, in least-recently-heard order (re-inserted on each accept). */
  private readonly windows = new Map<string, Window>();
  private counter = 0;

  constructor(options: PacketSecurityOptions) {
    if (options.keys.length === 0 || options.keys.length > 16) {
      throw new SecurityError('BAD_KEY', `between 1 and 16 keys are needed, got ${options.keys.length}`);
    }
    this.keys = options.keys.map(expandKey);
    this.encrypt = options.encrypt ?? false;
    const skew = options.maxClockSkewMs ?? securityDefaults.maxClockSkewMs;
    this.replayWindow = options.replayWindow ?? securityDefaults.replayWindow;
    this.maxSenders = options.maxSenders ?? securityDefaults.maxSenders;
    if (!(skew > 0)) throw new SecurityError('BAD_OPTION', `maxClockSkewMs must be positive, got ${skew}`);
    if (!(Number.isInteger(this.replayWindow) && this.replayWindow > 0)) {
      throw new SecurityError(
        'BAD_OPTION',
        `replayWindow must be a positive integer, got ${this.replayWindow}`,
      );
    }
    if (!(Number.isInteger(this.maxSenders) && this.maxSenders > 0)) {
      throw new SecurityError('BAD_OPTION', `maxSenders must be a positive integer, got ${this.maxSenders}`);
    }
    this.maxSkewUs = skew * 1000;
    this.wallClock = options.wallClock ?? Date.now;
    this.random = options.randomBytes ?? randomBytes;
  }

  /** Wraps an encoded packet from `sender` (our member id) for the wire. */
  seal(sender: string, payload: Uint8Array): Uint8Array {
    const key = this.keys[0]!;
    // Strictly increasing, and near the wall clock in microseconds (safe integers until year 2255).
    this.counter = Math.max(this.counter + 1, Math.floor(this.wallClock() * 1000));
    const id = Buffer.from(sender, 'utf8');
    if (id.length > 255) throw new SecurityError('BAD_OPTION', 'a sender id is at most 255 bytes');
    const head = Buffer.alloc(2 + 4 + 1 + id.length + 8);
    head[0] = SEALED_MAGIC;
    head[1] = this.encrypt ? FLAG_ENCRYPTED : 0;
    head.writeUInt32BE(key.id, 2);
    head[6] = id.length;
    id.copy(head, 7);
    head.writeUInt32BE(Math.floor(this.counter / 0x1_0000_0000), 7 + id.length);
    head.writeUInt32BE(this.counter >>> 0, 11 + id.length);
    if (this.encrypt) {
      const iv = Buffer.from(this.random(IV_BYTES));
      const cipher = createCipheriv('aes-256-gcm', key.enc, iv);
      cipher.setAAD(head);
      const body = Buffer.concat([cipher.update(payload), cipher.final()]);
      return Buffer.concat([head, iv, body, cipher.getAuthTag()]);
    }
    const tag = createHmac('sha256', key.mac).update(head).update(payload).digest();
    return Buffer.concat([head, payload, tag]);
  }

  /** Authenticates, decrypts and replay-checks a datagram; a drop is counted and returned, never thrown. */
  open(datagram: Uint8Array): Opened {
    const r = this.check(Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength));
    if (!r.ok) this.drops[r.reason]++;
    return r;
  }

  /** Counts a drop found by the caller (e.g. `sender-mismatch`). */
  countDrop(reason: SecurityDropReason): void {
    this.drops[reason]++;
  }

  /** Senders currently tracked by the replay window. */
  get trackedSenders(): number {
    return this.windows.size;
  }

  private check(b: Buffer): Opened {
    if (b.length === 0) return { ok: false, reason: 'malformed' };
    if (b[0] !== SEALED_MAGIC) return { ok: false, reason: b[0] === 1 ? 'unauthenticated' : 'malformed' };
    if (b.length < 7) return { ok: false, reason: 'malformed' };
    const encrypted = (b[1]! & FLAG_ENCRYPTED) !== 0;
    if ((b[1]! & ~FLAG_ENCRYPTED) !== 0) return { ok: false, reason: 'malformed' };
    const keyId = b.readUInt32BE(2);
    const idLen = b[6]!;
    const headLen = 7 + idLen + 8;
    const tagLen = encrypted ? GCM_TAG_BYTES : HMAC_TAG_BYTES;
    if (b.length < headLen + (encrypted ? IV_BYTES : 0) + tagLen) return { ok: false, reason: 'malformed' };
    const key = this.keys.find((k) => k.id === keyId);
    if (key === undefined) return { ok: false, reason: 'unknown-key' };
    const head = b.subarray(0, headLen);
    let payload: Uint8Array;
    if (encrypted) {
      const iv = b.subarray(headLen, headLen + IV_BYTES);
      const body = b.subarray(headLen + IV_BYTES, b.length - tagLen);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key.enc, iv, { authTagLength: GCM_TAG_BYTES });
        decipher.setAAD(head);
        decipher.setAuthTag(b.subarray(b.length - tagLen));
        payload = Buffer.concat([decipher.update(body), decipher.final()]);
      } catch {
        return { ok: false, reason: 'bad-mac' };
      }
    } else {
      payload = b.subarray(headLen, b.length - tagLen);
      const want = createHmac('sha256', key.mac).update(head).update(payload).digest();
      if (!timingSafeEqual(want, b.subarray(b.length - tagLen))) return { ok: false, reason: 'bad-mac' };
    }
    let sender: string;
    try {
      sender = new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(7, 7 + idLen));
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    const counter = b.readUInt32BE(7 + idLen) * 0x1_0000_0000 + b.readUInt32BE(11 + idLen);
    if (Math.abs(counter - this.wallClock() * 1000) > this.maxSkewUs) return { ok: false, reason: 'stale' };
    if (!this.accept(sender, counter)) return { ok: false, reason: 'replay' };
    return { ok: true, sender, payload };
  }

  /** Records `counter` for `sender`; false when it is a replay or older than the window. */
  private accept(sender: string, counter: number): boolean {
    let w = this.windows.get(sender);
    if (w === undefined) {
      if (this.windows.size >= this.maxSenders) {
        // Forget the least recently heard sender: its old packets are bounded by the skew check.
        const oldest = this.windows.keys().next().value;
        if (oldest !== undefined) this.windows.delete(oldest);
      }
      w = { seen: [] };
    } else {
      this.windows.delete(sender);
    }
    this.windows.set(sender, w);
    const seen = w.seen;
    if (seen.length >= this.replayWindow && counter <= seen[0]!) return false;
    // Sorted insert; the window is small and packets nearly always arrive in order (append).
    let i = seen.length;
    while (i > 0 && seen[i - 1]! > counter) i--;
    if (i > 0 && seen[i - 1] === counter) return false;
    seen.splice(i, 0, counter);
    if (seen.length > this.replayWindow) seen.shift();
    return true;
  }
}
