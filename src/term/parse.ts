/**
 * Erlang term text to terms: what `erl_scan:string/1` + `erl_parse:parse_term/1` accept for a
 * literal term (checked against OTP 25.2.3), for the CLI's arguments and for test fixtures.
 *
 * Accepted: integers (`42`, `-5`, `16#FF`, `2#1010`, `1_000`, `$a`, `$\n`; past 2^53 a bigint),
 * floats (`2.5`, `-0.0`, `1.0e10`; an integral value gives a {@link Float} so `1.0` stays a float),
 * atoms (bare, or quoted with escapes: `'hello world'`, `'\n'`, `'ünï'`), `true`/`false` as
 * booleans, tuples, lists, improper lists (`[a, b | c]`), strings (`"abc"`, a list of code
 * points; adjacent strings join as in Erlang), maps (`#{a => 1}`; a repeated key keeps its last
 * value, as in Erlang), export funs (`fun lists:map/2`), and binaries with the bit syntax of
 * literals: `<<1,2,3>>`, `<<1:3>>`, `<<"text">>`, `<<"ü"/utf8>>`, `<<-1:16/little>>`,
 * `<<1.5:32/float>>`, `<<"ab"/utf16>>`, `<<<<1,2>>/binary, 3>>`. Whitespace and `%` comments
 * may surround the term, and a final `.` is optional.
 *
 * Where we differ from `erl`, on purpose:
 * - `<<"€">>` (a string segment without `/utf8` holding a character that does not fit the
 *   segment, 8 bits by default) is an `invalid_string` error: erl silently keeps the low 8 bits,
 *   which is never what was meant. Integer segments are truncated as in Erlang (`<<300>>` is
 *   `<<44>>`).
 * - Pids, references, ports and local funs have no text syntax in Erlang (`<0.85.0>`,
 *   `#Ref<...>` are what the printer shows, not terms erl reads back), and none here: they are a
 *   `syntax` error that says so. The printer's `<node.id.serial>` form cannot be exact anyway:
 *   it leaves out the node's creation.
 * - 16-bit floats, little-endian segments that are not a whole number of bytes and
 *   parenthesised expressions in binaries are not supported (a `syntax` error).
 *
 * The input is untrusted: its length, the nesting depth and the size of binaries built from
 * size fields are bounded (see {@link ParseOptions}); any failure is a {@link TermParseError}
 * with a stable code and the offset (a UTF-16 index into the text) where it was found.
 *
 * @module
 */

import { TermMap } from './map.ts';
import {
  type Atom,
  atom,
  BitBinary,
  ExportFun,
  Float,
  improperList,
  MAX_ATOM_CHARS,
  type Term,
  Tuple,
} from './types.ts';

/** Limits of one parse. */
export interface ParseOptions {
  /**
   * Longest text in UTF-16 code units; also the largest binary (in bytes) that size fields may
   * build, so a short text cannot make a large value. Default 1 MiB: a million-digit integer
   * parses in about a third of a second.
   */
  readonly maxLength?: number;
  /** Deepest nesting of tuples, lists, maps and binaries. Default 1000, as the decoder. */
  readonly maxDepth?: number;
}

/** Defaults of {@link ParseOptions}. */
export const PARSE_DEFAULTS: Required<ParseOptions> = Object.freeze({
  maxLength: 1_048_576,
  maxDepth: 1000,
});

/**
 * Why a parse failed:
 * - `syntax`: an unexpected character or token (including text after the term, variables,
 *   reserved words, pids and references);
 * - `unexpected_end`: the text ends inside the term (or is empty);
 * - `too_deep`: containers nested deeper than `maxDepth`;
 * - `too_long`: the text is longer than `maxLength`, or a binary would be larger;
 * - `invalid_atom`: an atom over 255 characters, or a bad escape or character in a quoted atom;
 * - `invalid_number`: a float out of range, a base outside 2..36, a malformed based integer or
 *   character literal;
 * - `invalid_string`: a bad escape or character in a string, or a string character that does not
 *   fit its binary segment.
 */
export type TermParseErrorCode =
  | 'syntax'
  | 'unexpected_end'
  | 'too_deep'
  | 'too_long'
  | 'invalid_atom'
  | 'invalid_number'
  | 'invalid_string';

/** Text that is not an Erlang term (or exceeds a limit). The only error `parseTerm` throws. */
export class TermParseError extends Error {
  readonly code: TermParseErrorCode;
  /** Index in the text (UTF-16 code units) where the problem was found. */
  readonly offset: number;

  constructor(code: TermParseErrorCode, offset: number, detail: string) {
    super(`${code} at offset ${offset}: ${detail}`);
    this.name = 'TermParseError';
    this.code = code;
    this.offset = offset;
  }
}

/**
 * Parses one Erlang term from `text`, e.g. `parseTerm('{ok, [1, 2.5, <<"bin">>, #{a => b}]}')`.
 * Strings give lists of code points (`"hi"` is `[104, 105]`), binaries give `Buffer`s (or a
 * {@link BitBinary}), maps give a {@link TermMap}. Throws {@link TermParseError}.
 */
export function parseTerm(text: string, options?: ParseOptions): Term {
  const maxLength = options?.maxLength ?? PARSE_DEFAULTS.maxLength;
  const maxDepth = options?.maxDepth ?? PARSE_DEFAULTS.maxDepth;
  if (text.length > maxLength) {
    throw new TermParseError(
      'too_long',
      maxLength,
      `the text is ${text.length} characters, over ${maxLength}`,
    );
  }
  const p = new Parser(text, maxLength, maxDepth);
  p.skipSpace();
  const term = p.term();
  p.skipSpace();
  if (p.peek() === DOT) {
    p.pos++;
    p.skipSpace();
  }
  if (p.pos < text.length) p.fail('syntax', p.pos, `unexpected ${p.describe(p.pos)} after the term`);
  return term;
}

// ---- Character classes shared with the printer (src/term/inspect.ts). ----

/**
 * Words that cannot be bare atoms. `maybe` and `else` are reserved from OTP 27 on (with the
 * `maybe_expr` feature): they read as atoms here, as in OTP 25, and the printer quotes them.
 */
export const RESERVED_WORDS: ReadonlySet<string> = new Set([
  'after',
  'and',
  'andalso',
  'band',
  'begin',
  'bnot',
  'bor',
  'bsl',
  'bsr',
  'bxor',
  'case',
  'catch',
  'cond',
  'div',
  'end',
  'fun',
  'if',
  'let',
  'not',
  'of',
  'or',
  'orelse',
  'receive',
  'rem',
  'try',
  'when',
  'xor',
]);

/** A code point that may start a bare atom: a-z and the Latin-1 lowercase letters. */
export function isAtomStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0xdf && c <= 0xff && c !== 0xf7);
}

/** A code point that may continue a bare atom (or a variable). */
export function isNameChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x40 ||
    (c >= 0xdf && c <= 0xff && c !== 0xf7) ||
    (c >= 0xc0 && c <= 0xde && c !== 0xd7)
  );
}

// ---- The parser. ----

const DOT = 0x2e;
const COMMA = 0x2c;
const QUOTE = 0x27;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const COLON = 0x3a;
const SLASH = 0x2f;
const LT = 0x3c;
const GT = 0x3e;
const HASH = 0x23;
const DOLLAR = 0x24;
const UNDERSCORE = 0x5f;
const PERCENT = 0x25;
const BAR = 0x7c;

/** What an escape or character belongs to: it picks the error code of a bad one. */
type Context = 'atom' | 'string' | 'char';

const contextCode: Record<Context, TermParseErrorCode> = {
  atom: 'invalid_atom',
  string: 'invalid_string',
  char: 'invalid_number',
};

/** Values of the one-letter escapes: `\n` is 10. */
const ESCAPES: ReadonlyMap<number, number> = new Map([
  [0x62, 8], // \b
  [0x64, 127], // \d
  [0x65, 27], // \e
  [0x66, 12], // \f
  [0x6e, 10], // \n
  [0x72, 13], // \r
  [0x73, 32], // \s
  [0x74, 9], // \t
  [0x76, 11], // \v
]);

/** Bits of one binary segment being built. */
type SegmentType = 'integer' | 'float' | 'binary' | 'bits' | 'utf8' | 'utf16' | 'utf32';

interface SegmentSpec {
  type: SegmentType | undefined;
  little: boolean;
  unit: number | undefined;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

class Parser {
  readonly text: string;
  pos = 0;
  depth = 0;
  readonly maxLength: number;
  readonly maxDepth: number;

  constructor(text: string, maxLength: number, maxDepth: number) {
    this.text = text;
    this.maxLength = maxLength;
    this.maxDepth = maxDepth;
  }

  fail(code: TermParseErrorCode, offset: number, detail: string): never {
    throw new TermParseError(code, offset, detail);
  }

  /** The code unit at `pos`, or -1 at the end. */
  peek(): number {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  /** Fails at `at`: `unexpected_end` when the text ends there, `syntax` otherwise. */
  expected(what: string, at: number = this.pos): never {
    if (at >= this.text.length) return this.fail('unexpected_end', at, `expected ${what}, the text ends`);
    return this.fail('syntax', at, `expected ${what}, found ${this.describe(at)}`);
  }

  /** How the character at `at` reads in an error message. */
  describe(at: number): string {
    if (at >= this.text.length) return 'end of text';
    const c = this.text.codePointAt(at)!;
    return c > 0x20 && c < 0x7f ? `'${String.fromCodePoint(c)}'` : `character U+${hex(c)}`;
  }

  /** Skips whitespace (as erl_scan: control characters, space, and U+0080..U+00A0) and `%` comments. */
  skipSpace(): void {
    const t = this.text;
    for (;;) {
      const c = this.peek();
      if (c === -1) return;
      if (c <= 0x20 || (c >= 0x80 && c <= 0xa0)) {
        this.pos++;
      } else if (c === PERCENT) {
        while (this.pos < t.length && t.charCodeAt(this.pos) !== 0x0a) this.pos++;
      } else {
        return;
      }
    }
  }

  expectEndNotReached(what: string): void {
    if (this.pos >= this.text.length)
      this.fail('unexpected_end', this.pos, `the text ends inside the ${what}`);
  }

  /** Consumes `c` (after whitespace) or fails. */
  expect(c: number, what: string, inside: string): void {
    this.skipSpace();
    this.expectEndNotReached(inside);
    if (this.peek() !== c)
      this.fail('syntax', this.pos, `expected ${what}, found ${this.describe(this.pos)}`);
    this.pos++;
  }

  enter(at: number): void {
    if (++this.depth > this.maxDepth) this.fail('too_deep', at, `nesting deeper than ${this.maxDepth}`);
  }

  /** One term; whitespace before it is already skipped. */
  term(): Term {
    const c = this.peek();
    if (c === -1) this.fail('unexpected_end', this.pos, 'expected a term');
    if (c >= 0x30 && c <= 0x39) return this.number(false, this.pos);
    switch (c) {
      case MINUS:
      case PLUS:
        return this.signed();
      case DOLLAR:
        return this.char(false);
      case DQUOTE:
        return this.strings();
      case QUOTE:
        return this.quotedAtom();
      case 0x7b: // {
        return this.tuple();
      case 0x5b: // [
        return this.list();
      case HASH:
        return this.map();
      case LT:
        if (this.text.charCodeAt(this.pos + 1) === LT) return this.binary();
        return this.fail(
          'syntax',
          this.pos,
          "'<': pids have no text syntax (erl cannot read <0.85.0> back either)",
        );
    }
    const cp = this.text.codePointAt(this.pos)!;
    if (isAtomStart(cp)) return this.bareWord();
    if (isNameChar(cp)) {
      const start = this.pos;
      this.scanName();
      this.fail('syntax', start, `variable ${this.text.slice(start, this.pos)} is not a term`);
    }
    return this.fail('syntax', this.pos, `unexpected ${this.describe(this.pos)}`);
  }

  /** `-5`, `- 5`, `+5`, `-$a`, `-1.5`: a sign applies to a number literal only. */
  signed(): Term {
    const start = this.pos;
    const negative = this.peek() === MINUS;
    this.pos++;
    this.skipSpace();
    const c = this.peek();
    if (c === -1) this.fail('unexpected_end', this.pos, 'expected a number after the sign');
    if (c >= 0x30 && c <= 0x39) return this.number(negative, start);
    if (c === DOLLAR) return this.char(negative);
    return this.fail(
      'syntax',
      this.pos,
      `expected a number after the sign, found ${this.describe(this.pos)}`,
    );
  }

  /** Digits of `base` with single `_` between digits; '' if none. Stops before a `_` not followed by a digit. */
  digits(base: number): string {
    const t = this.text;
    const start = this.pos;
    let underscores = false;
    for (;;) {
      const c = this.peek();
      if (digitValue(c) < base) {
        this.pos++;
      } else if (c === UNDERSCORE && this.pos > start && digitValue(t.charCodeAt(this.pos + 1)) < base) {
        underscores = true;
        this.pos++;
      } else {
        const out = t.slice(start, this.pos);
        return underscores ? out.replaceAll('_', '') : out;
      }
    }
  }

  number(negative: boolean, start: number): Term {
    const whole = this.digits(10);
    const c = this.peek();
    if (c === HASH) {
      const base = Number(whole);
      if (base < 2 || base > 36) this.fail('invalid_number', start, `base ${whole} is not in 2..36`);
      this.pos++;
      const ds = this.digits(base);
      if (ds === '') this.fail('invalid_number', this.pos, `expected a base ${base} digit`);
      return integer(parseBase(ds, base), negative);
    }
    if (c === DOT && digitValue(this.text.charCodeAt(this.pos + 1)) < 10) {
      this.pos++;
      let literal = `${whole}.${this.digits(10)}`;
      const e = this.peek();
      if (e === 0x65 || e === 0x45) {
        // An exponent only if digits follow; otherwise the `e` is left for the error that follows.
        const mark = this.pos;
        this.pos++;
        let sign = '';
        const s = this.peek();
        if (s === PLUS || s === MINUS) {
          sign = s === MINUS ? '-' : '';
          this.pos++;
        }
        const exp = this.digits(10);
        if (exp === '') this.pos = mark;
        else literal += `e${sign}${exp}`;
      }
      const value = Number(literal);
      if (!Number.isFinite(value)) this.fail('invalid_number', start, `float ${literal} is out of range`);
      const signedValue = negative ? -value : value;
      return Number.isInteger(signedValue) ? new Float(signedValue) : signedValue;
    }
    return integer(whole.length <= 15 ? Number(whole) : BigInt(whole), negative);
  }

  /** `$a`, `$\n`, `$\x{1F600}`: the character's code point. */
  char(negative: boolean): Term {
    this.pos++; // $
    this.expectEndNotReached('character literal');
    const c = this.codePoint('char');
    return negative ? -c : c;
  }

  /** One character of a string, atom or char literal, escapes decoded. */
  codePoint(context: Context): number {
    const t = this.text;
    const at = this.pos;
    const c = t.codePointAt(at)!;
    if (c !== BACKSLASH) {
      if (c >= 0xd800 && c <= 0xdfff)
        this.fail(contextCode[context], at, 'a lone surrogate is not a character');
      this.pos += c > 0xffff ? 2 : 1;
      return c;
    }
    this.pos++;
    if (this.pos >= t.length) this.fail('unexpected_end', this.pos, 'the text ends inside an escape');
    const e = t.codePointAt(this.pos)!;
    const named = ESCAPES.get(e);
    if (named !== undefined) {
      this.pos++;
      return named;
    }
    if (e >= 0x30 && e <= 0x37) {
      let v = 0;
      for (let i = 0; i < 3 && this.pos < t.length; i++) {
        const d = t.charCodeAt(this.pos);
        if (d < 0x30 || d > 0x37) break;
        v = v * 8 + (d - 0x30);
        this.pos++;
      }
      return v;
    }
    if (e === 0x78) return this.hexEscape(at, context); // \x
    if (e === 0x5e) {
      // \^a is control-a: the character's low five bits.
      this.pos++;
      if (this.pos >= t.length) this.fail('unexpected_end', this.pos, 'the text ends inside an escape');
      const x = t.codePointAt(this.pos)!;
      this.pos += x > 0xffff ? 2 : 1;
      return x & 31;
    }
    if (e >= 0xd800 && e <= 0xdfff)
      this.fail(contextCode[context], this.pos, 'a lone surrogate is not a character');
    // Any other escaped character is itself: \' \" \\ \z.
    this.pos += e > 0xffff ? 2 : 1;
    return e;
  }

  /** `\xHH` or `\x{H...}`; `pos` is on the `x`, `at` on the backslash. */
  hexEscape(at: number, context: Context): number {
    const t = this.text;
    this.pos++;
    let digits: string;
    if (t.charCodeAt(this.pos) === 0x7b) {
      const close = t.indexOf('}', this.pos);
      if (close === -1) this.fail('unexpected_end', t.length, 'the text ends inside a \\x{...} escape');
      digits = t.slice(this.pos + 1, close);
      this.pos = close + 1;
      if (!/^[0-9a-fA-F]+$/.test(digits)) this.fail(contextCode[context], at, `bad escape \\x{${digits}}`);
    } else {
      digits = t.slice(this.pos, this.pos + 2);
      this.pos += 2;
      if (!/^[0-9a-fA-F]{2}$/.test(digits))
        this.fail(contextCode[context], at, 'bad escape: \\x needs two hex digits');
    }
    const v = digits.length > 8 ? Number.POSITIVE_INFINITY : Number.parseInt(digits, 16);
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
      this.fail(contextCode[context], at, `\\x{${digits}} is not a Unicode character`);
    }
    return v;
  }

  /** One `"..."` literal, or several in a row joined, as a list of code points. */
  strings(): number[] {
    const out: number[] = [];
    for (;;) {
      this.stringBody(DQUOTE, 'string', out);
      const mark = this.pos;
      this.skipSpace();
      if (this.peek() !== DQUOTE) {
        this.pos = mark;
        return out;
      }
    }
  }

  /** The characters between `quote`s; `pos` is on the opening quote. */
  stringBody(quote: number, context: Context, out: number[]): void {
    const t = this.text;
    const start = this.pos;
    this.pos++;
    for (;;) {
      if (this.pos >= t.length) {
        this.fail('unexpected_end', this.pos, `the text ends inside the ${context} that starts at ${start}`);
      }
      if (t.charCodeAt(this.pos) === quote) {
        this.pos++;
        return;
      }
      out.push(this.codePoint(context));
    }
  }

  quotedAtom(): Term {
    const start = this.pos;
    const chars: number[] = [];
    this.stringBody(QUOTE, 'atom', chars);
    return this.makeAtom(chars, start);
  }

  makeAtom(chars: number[], start: number): Term {
    if (chars.length > MAX_ATOM_CHARS) {
      this.fail(
        'invalid_atom',
        start,
        `an atom has at most ${MAX_ATOM_CHARS} characters, this one ${chars.length}`,
      );
    }
    const name = String.fromCodePoint(...chars);
    if (name === 'true') return true;
    if (name === 'false') return false;
    return atom(name);
  }

  /** Advances over name characters (all of them are in the BMP). */
  scanName(): void {
    while (this.pos < this.text.length && isNameChar(this.text.charCodeAt(this.pos))) this.pos++;
  }

  /** A bare atom, a boolean, or `fun M:F/A`. */
  bareWord(): Term {
    const start = this.pos;
    this.scanName();
    const name = this.text.slice(start, this.pos);
    if (name.length > MAX_ATOM_CHARS) {
      this.fail(
        'invalid_atom',
        start,
        `an atom has at most ${MAX_ATOM_CHARS} characters, this one ${name.length}`,
      );
    }
    if (name === 'fun') return this.fun(start);
    if (RESERVED_WORDS.has(name))
      this.fail('syntax', start, `${name} is a reserved word; quote it: '${name}'`);
    if (name === 'true') return true;
    if (name === 'false') return false;
    return atom(name);
  }

  /** `fun Module:Name/Arity` after the `fun`. */
  fun(start: number): Term {
    const module = this.funAtom(start);
    this.expect(COLON, "':'", 'fun Module:Name/Arity');
    const name = this.funAtom(start);
    this.expect(SLASH, "'/'", 'fun Module:Name/Arity');
    this.skipSpace();
    this.expectEndNotReached('fun Module:Name/Arity');
    const at = this.pos;
    const digits = this.digits(10);
    if (digits === '') this.expected('an arity', at);
    const arity = Number(digits);
    if (arity > 255) this.fail('invalid_number', at, `arity ${digits} is over 255`);
    return new ExportFun(module, name, arity);
  }

  /** The module or name of `fun M:F/A`: a bare or quoted atom. */
  funAtom(start: number): Atom {
    this.skipSpace();
    this.expectEndNotReached('fun Module:Name/Arity');
    const at = this.pos;
    let name: string;
    if (this.peek() === QUOTE) {
      const chars: number[] = [];
      this.stringBody(QUOTE, 'atom', chars);
      if (chars.length > MAX_ATOM_CHARS)
        this.fail('invalid_atom', at, `an atom has at most ${MAX_ATOM_CHARS} characters`);
      name = String.fromCodePoint(...chars);
    } else if (isAtomStart(this.text.codePointAt(at)!)) {
      this.scanName();
      name = this.text.slice(at, this.pos);
      if (name.length > MAX_ATOM_CHARS)
        this.fail('invalid_atom', at, `an atom has at most ${MAX_ATOM_CHARS} characters`);
      if (RESERVED_WORDS.has(name))
        this.fail('syntax', at, `${name} is a reserved word; quote it: '${name}'`);
    } else {
      return this.fail(
        'syntax',
        at,
        `only fun Module:Name/Arity is a term (the fun at ${start}); found ${this.describe(at)}`,
      );
    }
    return atom(name);
  }

  /**
   * Elements separated by commas up to `close`; `pos` is after the opener. Returns true when it
   * stopped on the `|` of a list (left for the caller), false after `close`.
   */
  elements(close: number, what: string, out: Term[]): boolean {
    this.skipSpace();
    this.expectEndNotReached(what);
    if (this.peek() === close) {
      this.pos++;
      return false;
    }
    for (;;) {
      this.skipSpace();
      out.push(this.term());
      this.skipSpace();
      this.expectEndNotReached(what);
      const c = this.peek();
      if (c === COMMA) {
        this.pos++;
      } else if (c === close) {
        this.pos++;
        return false;
      } else if (c === BAR && close === 0x5d) {
        return true;
      } else {
        this.fail(
          'syntax',
          this.pos,
          `expected ',' or the end of the ${what}, found ${this.describe(this.pos)}`,
        );
      }
    }
  }

  tuple(): Term {
    this.enter(this.pos);
    this.pos++;
    const out: Term[] = [];
    this.elements(0x7d, 'tuple', out);
    this.depth--;
    return new Tuple(out);
  }

  list(): Term {
    this.enter(this.pos);
    this.pos++;
    const out: Term[] = [];
    let result: Term = out;
    this.skipSpace();
    if (this.peek() === BAR) this.fail('syntax', this.pos, "'|' needs an element before it");
    if (this.elements(0x5d, 'list', out)) {
      this.pos++; // |
      this.skipSpace();
      const tail = this.term();
      this.expect(0x5d, "']'", 'list');
      result = improperList(out, tail);
    }
    this.depth--;
    return result;
  }

  map(): Term {
    const start = this.pos;
    if (this.text.charCodeAt(this.pos + 1) !== 0x7b) {
      const word = /^#([A-Za-z]*)/.exec(this.text.slice(start, start + 8))?.[1] ?? '';
      if (word === 'Ref' || word === 'Port' || word === 'Fun' || word === 'Pid') {
        this.fail('syntax', start, `#${word}<...> has no text syntax (erl cannot read it back either)`);
      }
      this.fail('syntax', start, "expected '#{': records are not terms");
    }
    this.enter(start);
    this.pos += 2;
    const m = new TermMap();
    this.skipSpace();
    this.expectEndNotReached('map');
    if (this.peek() === 0x7d) {
      this.pos++;
    } else {
      for (;;) {
        this.skipSpace();
        const key = this.term();
        this.skipSpace();
        this.expectEndNotReached('map');
        if (this.peek() !== 0x3d || this.text.charCodeAt(this.pos + 1) !== GT) {
          this.fail('syntax', this.pos, `expected '=>', found ${this.describe(this.pos)}`);
        }
        this.pos += 2;
        this.skipSpace();
        m.set(key, this.term());
        this.skipSpace();
        this.expectEndNotReached('map');
        const c = this.peek();
        if (c === COMMA) this.pos++;
        else if (c === 0x7d) {
          this.pos++;
          break;
        } else this.fail('syntax', this.pos, `expected ',' or '}', found ${this.describe(this.pos)}`);
      }
    }
    this.depth--;
    return m;
  }

  /** `<<Segment, ...>>`; `pos` is on the first `<`. */
  binary(): Buffer | BitBinary {
    const start = this.pos;
    this.enter(start);
    this.pos += 2;
    const w = new BitWriter(this.maxLength * 8);
    this.skipSpace();
    this.expectEndNotReached('binary');
    if (!this.closesBinary()) {
      for (;;) {
        this.skipSpace();
        this.segment(w);
        this.skipSpace();
        this.expectEndNotReached('binary');
        if (this.peek() === COMMA) {
          this.pos++;
        } else if (this.closesBinary()) {
          break;
        } else {
          this.fail('syntax', this.pos, `expected ',' or '>>', found ${this.describe(this.pos)}`);
        }
      }
    }
    this.depth--;
    return w.finish();
  }

  closesBinary(): boolean {
    if (this.peek() === GT && this.text.charCodeAt(this.pos + 1) === GT) {
      this.pos += 2;
      return true;
    }
    return false;
  }

  /** The value of a segment: a number, a string or a binary. */
  segmentValue(): number | bigint | Float | number[] | Buffer | BitBinary {
    const at = this.pos;
    const c = this.peek();
    if (c === -1) return this.fail('unexpected_end', at, 'the text ends inside the binary');
    if (c === DQUOTE) return this.strings();
    if (c === LT && this.text.charCodeAt(this.pos + 1) === LT) return this.binary();
    if (c === MINUS || c === PLUS || c === DOLLAR || (c >= 0x30 && c <= 0x39)) {
      return this.term() as number | bigint | Float;
    }
    if (c === 0x28) return this.fail('syntax', at, 'parenthesised expressions in binaries are not supported');
    return this.fail('syntax', at, `expected a number, string or binary segment, found ${this.describe(at)}`);
  }

  /** One segment: `Value[:Size][/Type-Spec...]`. */
  segment(w: BitWriter): void {
    const at = this.pos;
    const value = this.segmentValue();
    let size: number | undefined;
    this.skipSpace();
    if (this.peek() === COLON) {
      this.pos++;
      this.skipSpace();
      const sizeAt = this.pos;
      const digits = this.digits(10);
      if (digits === '') this.expected('a segment size', sizeAt);
      let n: number | bigint = Number(digits);
      if (this.peek() === HASH) {
        this.pos++;
        const base = n;
        if (base < 2 || base > 36) this.fail('invalid_number', sizeAt, `base ${digits} is not in 2..36`);
        const ds = this.digits(base);
        if (ds === '') this.fail('invalid_number', this.pos, `expected a base ${base} digit`);
        n = parseBase(ds, base);
      }
      size = typeof n === 'bigint' || n > Number.MAX_SAFE_INTEGER ? Number.POSITIVE_INFINITY : n;
      this.skipSpace();
    }
    const spec: SegmentSpec = { type: undefined, little: false, unit: undefined };
    if (this.peek() === SLASH) {
      this.pos++;
      for (;;) {
        this.skipSpace();
        this.specifier(spec);
        this.skipSpace();
        if (this.peek() !== MINUS) break;
        this.pos++;
      }
    }
    this.writeSegment(w, at, value, size, spec);
  }

  /** One type specifier: `integer`, `little`, `unit:8`, ... */
  specifier(spec: SegmentSpec): void {
    const at = this.pos;
    while (this.pos < this.text.length && /[a-z0-9]/.test(this.text[this.pos]!)) this.pos++;
    const word = this.text.slice(at, this.pos);
    if (word === '') this.expected('a type specifier', at);
    let type: SegmentType | undefined;
    switch (word) {
      case 'integer':
      case 'float':
      case 'utf8':
      case 'utf16':
      case 'utf32':
        type = word;
        break;
      case 'binary':
      case 'bytes':
        type = 'binary';
        break;
      case 'bitstring':
      case 'bits':
        type = 'bits';
        break;
      case 'signed':
      case 'unsigned':
      case 'big':
        return;
      case 'little':
        spec.little = true;
        return;
      case 'native':
        spec.little = HOST_LITTLE_ENDIAN;
        return;
      case 'unit': {
        this.expect(COLON, "':'", 'unit:N');
        this.skipSpace();
        const nAt = this.pos;
        const digits = this.digits(10);
        if (digits === '') this.expected('a unit', nAt);
        const n = Number(digits);
        if (!(n >= 1 && n <= 256)) this.fail('syntax', nAt, 'unit must be 1..256');
        spec.unit = n;
        return;
      }
      default:
        this.fail('syntax', at, `unknown type specifier ${word}`);
    }
    if (spec.type !== undefined && spec.type !== type)
      this.fail('syntax', at, `conflicting types ${spec.type} and ${word}`);
    spec.type = type;
  }

  writeSegment(
    w: BitWriter,
    at: number,
    value: number | bigint | Float | number[] | Buffer | BitBinary,
    size: number | undefined,
    spec: SegmentSpec,
  ): void {
    if (value instanceof Uint8Array || value instanceof BitBinary) {
      const type = spec.type;
      if (type !== 'binary' && type !== 'bits')
        this.fail('syntax', at, 'a binary inside a binary needs /binary or /bits');
      const data = value instanceof BitBinary ? value.data : value;
      const bits = value instanceof BitBinary ? value.bitLength : value.length * 8;
      const take = size === undefined ? bits : size * (spec.unit ?? (type === 'binary' ? 8 : 1));
      if (take > bits) this.fail('syntax', at, `the segment needs ${take} bits, the binary has ${bits}`);
      if (type === 'binary' && take % 8 !== 0)
        this.fail('syntax', at, '/binary needs a whole number of bytes');
      this.room(w, at, take);
      w.writeBits(data, take);
      return;
    }
    if (Array.isArray(value)) {
      for (const c of value) this.writeValue(w, at, c, size, spec, 'string');
      return;
    }
    this.writeValue(w, at, value, size, spec, 'number');
  }

  /** A number (or a string's character) into a segment. */
  writeValue(
    w: BitWriter,
    at: number,
    value: number | bigint | Float,
    size: number | undefined,
    spec: SegmentSpec,
    from: 'string' | 'number',
  ): void {
    const isFloat = value instanceof Float || (typeof value === 'number' && !Number.isInteger(value));
    const type = spec.type ?? 'integer';
    if (type === 'binary' || type === 'bits')
      this.fail('syntax', at, `a number cannot be a /${type} segment`);
    if (type === 'utf8' || type === 'utf16' || type === 'utf32') {
      if (size !== undefined || spec.unit !== undefined)
        this.fail('syntax', at, `/${type} takes no size or unit`);
      const cp = isFloat ? -1 : Number(value as number | bigint);
      if (!(cp >= 0 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff)) {
        this.fail(
          from === 'string' ? 'invalid_string' : 'invalid_number',
          at,
          `${String(value)} is not a Unicode character`,
        );
      }
      this.room(w, at, 32);
      w.writeUnicode(cp, type, spec.little);
      return;
    }
    const bits = (size ?? (type === 'float' ? 64 : 8)) * (spec.unit ?? 1);
    if (type === 'float') {
      if (bits !== 32 && bits !== 64)
        this.fail('syntax', at, `a float segment is 32 or 64 bits, not ${bits}`);
      const v = value instanceof Float ? value.value : Number(value);
      const b = Buffer.alloc(bits / 8);
      if (bits === 32) {
        if (spec.little) b.writeFloatLE(v);
        else b.writeFloatBE(v);
      } else if (spec.little) b.writeDoubleLE(v);
      else b.writeDoubleBE(v);
      this.room(w, at, bits);
      w.writeBits(b, bits);
      return;
    }
    if (isFloat) this.fail('syntax', at, 'a float needs a /float segment');
    const v = BigInt(value as number | bigint);
    if (from === 'string' && (v >= 1n << BigInt(Math.min(bits, 64)) || bits === 0)) {
      this.fail(
        'invalid_string',
        at,
        `character ${v} does not fit in ${bits} bits${bits === 8 ? '; write <<"..."/utf8>> for UTF-8' : ''}`,
      );
    }
    if (spec.little && bits % 8 !== 0) this.fail('syntax', at, 'little-endian segments must be whole bytes');
    this.room(w, at, bits);
    w.writeInteger(v, bits, spec.little);
  }

  room(w: BitWriter, at: number, bits: number): void {
    if (w.bitLength + bits > w.maxBits) {
      this.fail('too_long', at, `the binary would be over ${this.maxLength} bytes (maxLength)`);
    }
  }
}

/** Builds a bit string, most significant bit first. */
class BitWriter {
  bytes: Uint8Array = new Uint8Array(16);
  bitLength = 0;
  readonly maxBits: number;

  constructor(maxBits: number) {
    this.maxBits = maxBits;
  }

  ensure(bits: number): void {
    const need = (this.bitLength + bits + 7) >>> 3;
    if (need <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(need, this.bytes.length * 2));
    grown.set(this.bytes);
    this.bytes = grown;
  }

  /** The low `n` (0..8) bits of `v`. */
  small(v: number, n: number): void {
    let left = n;
    while (left > 0) {
      const free = 8 - (this.bitLength & 7);
      const take = Math.min(free, left);
      const chunk = (v >>> (left - take)) & ((1 << take) - 1);
      this.bytes[this.bitLength >>> 3]! |= chunk << (free - take);
      this.bitLength += take;
      left -= take;
    }
  }

  /** The first `n` bits of `data`. */
  writeBits(data: Uint8Array, n: number): void {
    this.ensure(n);
    const whole = n >>> 3;
    if ((this.bitLength & 7) === 0) {
      this.bytes.set(data.subarray(0, whole), this.bitLength >>> 3);
      this.bitLength += whole * 8;
    } else {
      for (let i = 0; i < whole; i++) this.small(data[i]!, 8);
    }
    const rest = n & 7;
    if (rest !== 0) this.small(data[whole]! >>> (8 - rest), rest);
  }

  /** `v` in `n` bits, two's complement, truncated as Erlang does. */
  writeInteger(v: bigint, n: number, little: boolean): void {
    this.ensure(n);
    let u = BigInt.asUintN(n, v);
    const whole = n >>> 3;
    const rest = n & 7;
    if (little) {
      // Only whole bytes reach here: least significant byte first.
      for (let i = 0; i < whole; i++) {
        this.small(Number(u & 0xffn), 8);
        u >>= 8n;
      }
      return;
    }
    if (rest !== 0) this.small(Number(u >> BigInt(whole * 8)), rest);
    for (let i = whole - 1; i >= 0; i--) this.small(Number((u >> BigInt(i * 8)) & 0xffn), 8);
  }

  writeUnicode(cp: number, type: 'utf8' | 'utf16' | 'utf32', little: boolean): void {
    if (type === 'utf8') {
      const b = Buffer.from(String.fromCodePoint(cp), 'utf8');
      this.writeBits(b, b.length * 8);
    } else if (type === 'utf32') {
      this.writeInteger(BigInt(cp), 32, little);
    } else if (cp < 0x10000) {
      this.writeInteger(BigInt(cp), 16, little);
    } else {
      const s = String.fromCodePoint(cp);
      this.writeInteger(BigInt(s.charCodeAt(0)), 16, little);
      this.writeInteger(BigInt(s.charCodeAt(1)), 16, little);
    }
  }

  finish(): Buffer | BitBinary {
    const data = Buffer.from(this.bytes.subarray(0, (this.bitLength + 7) >>> 3));
    const rest = this.bitLength & 7;
    return rest === 0 ? data : new BitBinary(data, rest);
  }
}

/** 0..35 for a digit or letter, 99 for anything else. */
function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x5a) return c - 0x41 + 10;
  return 99;
}

/** Digits (already checked) in `base`, exactly. */
function parseBase(digits: string, base: number): number | bigint {
  const n = Number.parseInt(digits, base);
  if (Number.isSafeInteger(n)) return n;
  if (base === 16) return BigInt(`0x${digits}`);
  if (base === 8) return BigInt(`0o${digits}`);
  if (base === 2) return BigInt(`0b${digits}`);
  if (base === 10) return BigInt(digits);
  // Chunks of digits small enough to stay exact as numbers.
  const chunk = Math.floor(Math.log(2 ** 48) / Math.log(base));
  const b = BigInt(base);
  let v = 0n;
  for (let i = 0; i < digits.length; i += chunk) {
    const part = digits.slice(i, i + chunk);
    v = v * b ** BigInt(part.length) + BigInt(Number.parseInt(part, base));
  }
  return v;
}

/** A number while safe, a bigint beyond; `-0` is `0`. */
function integer(v: number | bigint, negative: boolean): number | bigint {
  if (typeof v === 'number') return negative ? (v === 0 ? 0 : -v) : v;
  const s = negative ? -v : v;
  return s >= -9007199254740991n && s <= 9007199254740991n ? Number(s) : s;
}

function hex(c: number): string {
  return c.toString(16).toUpperCase().padStart(4, '0');
}
