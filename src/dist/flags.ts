/**
 * Distribution capability flags (the 64-bit word exchanged in the handshake).
 *
 * Values are OTP 25's (`dist.hrl`); note MANDATORY_25_DIGEST is bit 26, not bit 36 as the
 * OTP documentation says. The negotiated set of a connection is `ours & theirs`.
 *
 * @module
 */

/** Both sides set it for a visible connection; otherwise the connection is hidden. */
export const DFLAG_PUBLISHED = 0x1n;
/** Obsolete atom cache; never set. */
export const DFLAG_ATOM_CACHE = 0x2n;
export const DFLAG_EXTENDED_REFERENCES = 0x4n;
/** Remote monitors (MONITOR_P and friends). */
export const DFLAG_DIST_MONITOR = 0x8n;
export const DFLAG_FUN_TAGS = 0x10n;
/** Monitors by registered name. */
export const DFLAG_DIST_MONITOR_NAME = 0x20n;
export const DFLAG_HIDDEN_ATOM_CACHE = 0x40n;
export const DFLAG_NEW_FUN_TAGS = 0x80n;
export const DFLAG_EXTENDED_PIDS_PORTS = 0x100n;
export const DFLAG_EXPORT_PTR_TAG = 0x200n;
export const DFLAG_BIT_BINARIES = 0x400n;
export const DFLAG_NEW_FLOATS = 0x800n;
export const DFLAG_UNICODE_IO = 0x1000n;
/**
 * Distribution header with atom cache. We set it so a BEAM peer may send cached atom references
 * (src/dist/atom-cache.ts); we send headers without references, which is legal.
 */
export const DFLAG_DIST_HDR_ATOM_CACHE = 0x2000n;
export const DFLAG_SMALL_ATOM_TAGS = 0x4000n;
export const DFLAG_UTF8_ATOMS = 0x10000n;
export const DFLAG_MAP_TAG = 0x20000n;
export const DFLAG_BIG_CREATION = 0x40000n;
/** SEND_SENDER (22) instead of SEND (2). */
export const DFLAG_SEND_SENDER = 0x80000n;
export const DFLAG_BIG_SEQTRACE_LABELS = 0x100000n;
/** Internal to the BEAM ("pending connect"); never set on the wire. */
export const DFLAG_NO_MAGIC = 0x200000n;
/** PAYLOAD_EXIT / PAYLOAD_EXIT2 / PAYLOAD_MONITOR_P_EXIT: the reason travels as the payload. */
export const DFLAG_EXIT_PAYLOAD = 0x400000n;
/** Fragmented messages; obliges both sides to use `131 68` distribution headers. */
export const DFLAG_FRAGMENTS = 0x800000n;
/** The version-6 handshake (`N` with 64-bit flags). */
export const DFLAG_HANDSHAKE_23 = 0x1000000n;
/** The new link protocol (UNLINK_ID / UNLINK_ID_ACK). Mandatory from OTP 26. */
export const DFLAG_UNLINK_ID = 0x2000000n;
/** Shorthand an OTP 25+ peer expands to {@link MANDATORY_DFLAGS_25}. */
export const DFLAG_MANDATORY_25_DIGEST = 0x4000000n;
/** SPAWN_REQUEST / SPAWN_REPLY: needed to serve `erpc` and `rpc:call`. */
export const DFLAG_SPAWN: bigint = 1n << 32n;
/** Dynamic node name requested by the initiator. */
export const DFLAG_NAME_ME: bigint = 1n << 33n;
/** 32-bit pid id/serial, 64-bit port ids, references up to 5 words. Mandatory from OTP 26. */
export const DFLAG_V4_NC: bigint = 1n << 34n;
/** ALIAS_SEND: process aliases (gen_server replies to `[alias|Ref]` tags). */
export const DFLAG_ALIAS: bigint = 1n << 35n;
/**
 * Ours, not OTP's: "I am a distribute (TypeScript) node; correlation ids may travel as trace
 * tokens". OTP 25 defines bits 0..35, OTP 26 adds 36 (LOCAL_EXT, internal), OTP 27 37
 * (ALTACT_SIG); new ones are taken in order, so bit 61 stays clear of them. A BEAM node ANDs the
 * flags it does not know away (`dist_util:adjust_flags/2`), so the bit is only ever negotiated
 * between two nodes that both set it (checked against erl 25 in test/node/correlation-erl.test.ts).
 */
export const DFLAG_DISTRIBUTE_CORRELATION: bigint = 1n << 61n;

/** What an OTP 25 node requires of every peer. */
export const MANDATORY_DFLAGS_25: bigint =
  DFLAG_EXTENDED_REFERENCES |
  DFLAG_FUN_TAGS |
  DFLAG_EXTENDED_PIDS_PORTS |
  DFLAG_NEW_FUN_TAGS |
  DFLAG_EXPORT_PTR_TAG |
  DFLAG_BIT_BINARIES |
  DFLAG_NEW_FLOATS |
  DFLAG_UTF8_ATOMS |
  DFLAG_MAP_TAG |
  DFLAG_BIG_CREATION |
  DFLAG_HANDSHAKE_23;

/**
 * What we require of a peer: OTP 25's mandatory set. (UNLINK_ID and V4_NC become mandatory in
 * OTP 26; we advertise them but, like OTP 25, accept peers without them.)
 */
export const REQUIRED_DFLAGS: bigint = MANDATORY_DFLAGS_25;

/** The capabilities we offer, without PUBLISHED. */
export const DEFAULT_DFLAGS: bigint =
  MANDATORY_DFLAGS_25 |
  DFLAG_MANDATORY_25_DIGEST |
  DFLAG_DIST_MONITOR |
  DFLAG_DIST_MONITOR_NAME |
  DFLAG_SEND_SENDER |
  DFLAG_EXIT_PAYLOAD |
  DFLAG_DIST_HDR_ATOM_CACHE |
  DFLAG_FRAGMENTS |
  DFLAG_UNLINK_ID |
  DFLAG_SPAWN |
  DFLAG_ALIAS |
  DFLAG_V4_NC |
  DFLAG_BIG_SEQTRACE_LABELS;

/** Our flag word: {@link DEFAULT_DFLAGS}, plus PUBLISHED for a visible node. */
export function ourFlags(hidden: boolean): bigint {
  return hidden ? DEFAULT_DFLAGS : DEFAULT_DFLAGS | DFLAG_PUBLISHED;
}

/**
 * The flag word a distribute node advertises: {@link ourFlags} plus
 * {@link DFLAG_DISTRIBUTE_CORRELATION}. (The OTP-shaped sets above stay what OTP would send.)
 */
export function nodeFlags(hidden: boolean): bigint {
  return ourFlags(hidden) | DFLAG_DISTRIBUTE_CORRELATION;
}

/** OTP 25+ semantics: the bit-26 digest stands for the whole mandatory set. */
export function expandMandatory25(flags: bigint): bigint {
  return (flags & DFLAG_MANDATORY_25_DIGEST) !== 0n ? flags | MANDATORY_DFLAGS_25 : flags;
}

const names: ReadonlyArray<readonly [bigint, string]> = [
  [DFLAG_PUBLISHED, 'PUBLISHED'],
  [DFLAG_ATOM_CACHE, 'ATOM_CACHE'],
  [DFLAG_EXTENDED_REFERENCES, 'EXTENDED_REFERENCES'],
  [DFLAG_DIST_MONITOR, 'DIST_MONITOR'],
  [DFLAG_FUN_TAGS, 'FUN_TAGS'],
  [DFLAG_DIST_MONITOR_NAME, 'DIST_MONITOR_NAME'],
  [DFLAG_HIDDEN_ATOM_CACHE, 'HIDDEN_ATOM_CACHE'],
  [DFLAG_NEW_FUN_TAGS, 'NEW_FUN_TAGS'],
  [DFLAG_EXTENDED_PIDS_PORTS, 'EXTENDED_PIDS_PORTS'],
  [DFLAG_EXPORT_PTR_TAG, 'EXPORT_PTR_TAG'],
  [DFLAG_BIT_BINARIES, 'BIT_BINARIES'],
  [DFLAG_NEW_FLOATS, 'NEW_FLOATS'],
  [DFLAG_UNICODE_IO, 'UNICODE_IO'],
  [DFLAG_DIST_HDR_ATOM_CACHE, 'DIST_HDR_ATOM_CACHE'],
  [DFLAG_SMALL_ATOM_TAGS, 'SMALL_ATOM_TAGS'],
  [DFLAG_UTF8_ATOMS, 'UTF8_ATOMS'],
  [DFLAG_MAP_TAG, 'MAP_TAG'],
  [DFLAG_BIG_CREATION, 'BIG_CREATION'],
  [DFLAG_SEND_SENDER, 'SEND_SENDER'],
  [DFLAG_BIG_SEQTRACE_LABELS, 'BIG_SEQTRACE_LABELS'],
  [DFLAG_NO_MAGIC, 'NO_MAGIC'],
  [DFLAG_EXIT_PAYLOAD, 'EXIT_PAYLOAD'],
  [DFLAG_FRAGMENTS, 'FRAGMENTS'],
  [DFLAG_HANDSHAKE_23, 'HANDSHAKE_23'],
  [DFLAG_UNLINK_ID, 'UNLINK_ID'],
  [DFLAG_MANDATORY_25_DIGEST, 'MANDATORY_25_DIGEST'],
  [DFLAG_SPAWN, 'SPAWN'],
  [DFLAG_NAME_ME, 'NAME_ME'],
  [DFLAG_V4_NC, 'V4_NC'],
  [DFLAG_ALIAS, 'ALIAS'],
  [DFLAG_DISTRIBUTE_CORRELATION, 'DISTRIBUTE_CORRELATION'],
];

/** Names of the set bits, lowest first; unknown bits as `UNKNOWN<hex>`. For logs and errors. */
export function flagNames(flags: bigint): string[] {
  const out: string[] = [];
  let rest = flags;
  for (const [bit, name] of names) {
    if ((flags & bit) !== 0n) out.push(name);
    rest &= ~bit;
  }
  for (let bit = 1n; rest !== 0n; bit <<= 1n) {
    if ((rest & bit) !== 0n) {
      out.push(`UNKNOWN<${bit.toString(16).toUpperCase()}>`);
      rest &= ~bit;
    }
  }
  return out;
}

/** Names of the flags in `required` that `flags` lacks (after expanding the bit-26 digest). */
export function missingFlags(flags: bigint, required: bigint = REQUIRED_DFLAGS): string[] {
  return flagNames(required & ~expandMandatory25(flags));
}
