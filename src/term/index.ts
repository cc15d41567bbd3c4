/**
 * Erlang terms in TypeScript: the value model, structural maps, term order and the external
 * term format codec.
 *
 * @module
 */

export { compare, compareMapKeys, equals } from './compare.ts';
export { DECODE_DEFAULTS, type DecodeOptions, decode, decodeAt, TermReader } from './decode.ts';
export {
  DEFAULT_ENCODE_MAX_DEPTH,
  type EncodeOptions,
  encode,
  TermEncoder,
  type TermEncoderOptions,
  TermWriter,
} from './encode.ts';
export {
  TermDecodeError,
  type TermDecodeErrorCode,
  TermEncodeError,
  type TermEncodeErrorCode,
} from './errors.ts';
export { type InspectOptions, inspect } from './inspect.ts';
export { TermMap } from './map.ts';
export {
  PARSE_DEFAULTS,
  type ParseOptions,
  parseTerm,
  TermParseError,
  type TermParseErrorCode,
} from './parse.ts';
export {
  Atom,
  atom,
  atoms,
  BitBinary,
  ExportFun,
  existingAtom,
  Float,
  Fun,
  type FunFields,
  float,
  ImproperList,
  improperList,
  MAX_ATOM_CHARS,
  Pid,
  Port,
  Reference,
  type Term,
  type TermObject,
  Tuple,
  tuple,
} from './types.ts';
