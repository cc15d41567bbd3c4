/**
 * Errors of the term codec. Each has a stable `code`; decode errors also carry the byte offset
 * where the problem was found, so a bad frame can be logged and dropped without guesswork.
 *
 * @module
 */

/**
 * Why a decode failed:
 * - `truncated`: the input ends inside a fixed-size field (a tag, a length, a number);
 * - `bad_version`: the first byte is not 131;
 * - `unknown_tag`: a tag this codec does not decode (including FUN_EXT, ATOM_CACHE_REF, LOCAL_EXT);
 * - `invalid_utf8`: an atom's bytes are not UTF-8;
 * - `atom_too_long`: an atom over 255 characters;
 * - `length_exceeds_input`: a declared length or count needs more bytes than are left;
 * - `too_deep`: containers nested deeper than `maxDepth`;
 * - `atom_budget`: the term would add more new atoms than `atomBudget`;
 * - `too_large`: the input, a declared uncompressed size or a number exceeds a size limit;
 * - `bad_compressed`: the zlib data is corrupt or its size differs from the declared one;
 * - `invalid`: a well-framed but meaningless value (duplicate map key, bad sign byte, NaN, ...);
 * - `trailing_bytes`: bytes follow the term where the whole input should be one term.
 */
export type TermDecodeErrorCode =
  | 'truncated'
  | 'bad_version'
  | 'unknown_tag'
  | 'invalid_utf8'
  | 'atom_too_long'
  | 'length_exceeds_input'
  | 'too_deep'
  | 'atom_budget'
  | 'too_large'
  | 'bad_compressed'
  | 'invalid'
  | 'trailing_bytes';

/** Bytes that are not a valid term (or exceed a limit). The only error `decode` throws. */
export class TermDecodeError extends Error {
  readonly code: TermDecodeErrorCode;
  /** Byte offset in the input where the problem was found. */
  readonly offset: number;

  constructor(code: TermDecodeErrorCode, offset: number, detail?: string, options?: ErrorOptions) {
    super(`${code} at offset ${offset}${detail === undefined ? '' : `: ${detail}`}`, options);
    this.name = 'TermDecodeError';
    this.code = code;
    this.offset = offset;
  }
}

/**
 * Why an encode failed:
 * - `unencodable`: a value with no Erlang counterpart (undefined, null, NaN, a symbol, a function,
 *   an instance of a foreign class);
 * - `too_deep`: nesting (or a cycle) deeper than `maxDepth`;
 * - `atom_too_long`: an atom over 255 characters;
 * - `invalid`: a term class holding out-of-range fields (a pid id over 32 bits, a 6-word reference, ...).
 */
export type TermEncodeErrorCode = 'unencodable' | 'too_deep' | 'atom_too_long' | 'invalid';

/** A value that cannot be encoded as an Erlang term. */
export class TermEncodeError extends Error {
  readonly code: TermEncodeErrorCode;

  constructor(code: TermEncodeErrorCode, detail: string, options?: ErrorOptions) {
    super(`${code}: ${detail}`, options);
    this.name = 'TermEncodeError';
    this.code = code;
  }
}
