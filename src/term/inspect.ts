/**
 * Terms to Erlang term text, as `io_lib:format("~tp", [T])` prints them on one line (the text
 * the `erl` shell shows, with no line breaks), for logs and the CLI. {@link parseTerm} reads the
 * text of any term without pids, references, ports or local funs back to an equal term, and so
 * does `erl_parse:parse_term/1` (both checked against OTP 25.2.3 in test/term/text-erl.test.ts).
 *
 * What it prints, as erl does:
 * - a list of printable Latin-1 code points as a string: `[104,105]` is `"hi"` (erl's default
 *   printable range, `+pc latin1`); `[104,1000]` stays a list;
 * - a binary that is UTF-8 as `<<"text">>` when it is ASCII text, as `<<"hé"/utf8>>` when its
 *   characters are printable Latin-1 ones, otherwise (`<<"€"/utf8>>`) as bytes `<<226,130,172>>`;
 *   a binary that is not UTF-8 as `<<"hé">>` when its bytes are printable Latin-1, otherwise as
 *   bytes; a bit string as `<<1,5:3>>`. A JS string is the binary of its UTF-8;
 * - floats in the shortest form that reads back, with a `.0` when integral (`1.0`, `-0.0`,
 *   `0.1`, `1.0e10`, `1.5e300`): the decimal form when it is not longer than the exponent form
 *   and the value is below 2^53;
 * - atoms quoted when they must be, with erl's escapes; map keys in erl's order for maps of up to
 *   32 keys ("map key order", {@link compareMapKeys}: integers before floats at every depth).
 *
 * Where it cannot match erl:
 * - a pid prints as `<node@host.85.0>`: erl's `<0.85.0>` numbers nodes by its own node table,
 *   which means nothing outside that node. A reference prints as `#Ref<node@host.W2.W1.W0>`
 *   (words in erl's order), a port as `#Port<node@host.5>`, a local fun as
 *   `#Fun<module.Index.Uniq>` (erl's numbers);
 * - an export fun prints as `fun m:f/1` with the atoms quoted as everywhere else, so it reads
 *   back; erl's own text quotes `a@b` and leaves reserved words and non-ASCII names unreadable;
 * - maps of more than 32 keys print sorted too (erl prints them in hash order);
 * - the atoms `maybe` and `else` are quoted: they are reserved words from OTP 27 on, and
 *   `'maybe'` reads back on every release.
 *
 * `inspect` never throws for a term: a value that is not one (NaN, undefined, a cycle) prints as
 * `#JS<...>` or `...`, so a log line is always written.
 *
 * @module
 */

import { compareMapKeys } from './compare.ts';
import { isAtomStart, isNameChar, RESERVED_WORDS } from './parse.ts';
import {
  Atom,
  BitBinary,
  ExportFun,
  Float,
  Fun,
  ImproperList,
  Pid,
  Port,
  Reference,
  type Term,
  Tuple,
} from './types.ts';

/** How to print. */
export interface InspectOptions {
  /**
   * The depth of `~P`: each level of nesting, and each further element of a list, tuple, map or
   * binary, takes one; what lies deeper prints as `...` (`[1,2|...]`, `{a,...}`, `#{...}`,
   * `<<"hel"...>>`). 0 prints `...`. Default unlimited.
   */
  readonly maxDepth?: number;
  /**
   * Longest result in characters (at least 3). A longer text is cut at an element boundary (or
   * inside a string) and ends with `...` and the closing brackets, e.g. `{ok,[1,2|...]}`.
   * Default unlimited.
   */
  readonly maxLength?: number;
  /**
   * `'unicode'` (default) prints as `~tp`: characters from U+00A0 up as themselves. `'latin1'`
   * prints as `~p`: pure Latin-1 text, atom characters past U+00FF as `\x{...}`, and UTF-8
   * binaries as their bytes' Latin-1 characters.
   */
  readonly encoding?: 'unicode' | 'latin1';
}

/**
 * Erlang term text of `term`, on one line: `inspect(tuple(atom('ok'), [1, 2]))` is `{ok,[1,2]}`,
 * `inspect([104, 105])` is `"hi"`, `inspect('héllo')` is `<<"héllo"/utf8>>`.
 */
export function inspect(term: Term, options?: InspectOptions): string {
  const depth = options?.maxDepth ?? Number.POSITIVE_INFINITY;
  const limit = options?.maxLength ?? Number.POSITIVE_INFINITY;
  const p = new Printer(options?.encoding === 'latin1', Math.max(limit, 3));
  try {
    p.term(term, depth < 0 ? Number.POSITIVE_INFINITY : depth);
  } catch (e) {
    if (e !== STOP) throw e;
    return p.truncated();
  }
  return p.out;
}

/** Thrown by the printer when the text passes `maxLength`: the rest need not be rendered. */
const STOP: unique symbol = Symbol('stop');

/** The closing brackets open at some point of the text, innermost first, with their total length. */
interface Closer {
  readonly text: string;
  readonly length: number;
  readonly parent: Closer | undefined;
}

/**
 * A place where the text may be cut: keep `out[0, pos)`, then `suffix`, then the closers. With
 * `end`, any place from `pos` to `end` will do (inside plain text, one character a place).
 */
interface Cut {
  readonly pos: number;
  readonly end?: number;
  readonly suffix: string;
  readonly closer: Closer | undefined;
}

const PRINT_RESERVED: ReadonlySet<string> = new Set([...RESERVED_WORDS, 'maybe', 'else']);
const SIMPLE_ATOM = /^[a-z][a-zA-Z0-9_@]*$/;
const PLAIN_TEXT = /^[ !#-&(-[\]-~]*$/; // printable ASCII without the quotes and the backslash

class Printer {
  out = '';
  readonly latin1: boolean;
  readonly limit: number;
  /** Cut points, kept only when there is a limit. */
  readonly cuts: Cut[] | undefined;
  closer: Closer | undefined = undefined;
  /** Containers being printed: a cycle prints as `...` instead of recursing forever. */
  readonly active: Set<object> = new Set();

  constructor(latin1: boolean, limit: number) {
    this.latin1 = latin1;
    this.limit = limit;
    this.cuts = Number.isFinite(limit) ? [{ pos: 0, suffix: '...', closer: undefined }] : undefined;
  }

  write(s: string): void {
    this.out += s;
    if (this.out.length > this.limit) throw STOP;
  }

  cut(suffix: string): void {
    this.cuts?.push({ pos: this.out.length, suffix, closer: this.closer });
  }

  open(opener: string, closer: string): void {
    this.write(opener);
    if (this.cuts !== undefined) {
      this.closer = { text: closer, length: closer.length + (this.closer?.length ?? 0), parent: this.closer };
    }
  }

  close(closer: string): void {
    if (this.cuts !== undefined) this.closer = this.closer?.parent;
    this.write(closer);
  }

  /** The text cut at the last cut point where it fits in the limit. */
  truncated(): string {
    const cuts = this.cuts!;
    for (let i = cuts.length - 1; i >= 0; i--) {
      const c = cuts[i]!;
      const room = this.limit - c.suffix.length - (c.closer?.length ?? 0);
      const pos = c.end === undefined ? c.pos : Math.min(c.end, room);
      if (pos > room || pos < c.pos) continue;
      let text = this.out.slice(0, pos) + c.suffix;
      for (let k = c.closer; k !== undefined; k = k.parent) text += k.text;
      return text;
    }
    return '...';
  }

  term(t: Term, d: number): void {
    if (d === 0) {
      this.write('...');
      return;
    }
    switch (typeof t) {
      case 'number':
        this.write(formatNumber(t));
        return;
      case 'bigint':
        this.write(t.toString());
        return;
      case 'boolean':
        this.write(t ? 'true' : 'false');
        return;
      case 'string': {
        const b = Buffer.from(t, 'utf8');
        this.binary(b, b.length * 8, d);
        return;
      }
      case 'object':
        if (t === null) break;
        if (t instanceof Atom) {
          this.write(atomText(t.name, this.latin1));
          return;
        }
        if (t instanceof Float) {
          this.write(Number.isFinite(t.value) ? formatFloat(t.value) : `#JS<${t.value}>`);
          return;
        }
        if (t instanceof Uint8Array) {
          this.binary(t, t.length * 8, d);
          return;
        }
        if (t instanceof BitBinary) {
          this.binary(t.data, t.bitLength, d);
          return;
        }
        if (t instanceof Pid) {
          this.write(`<${t.node.name}.${t.id}.${t.serial}>`);
          return;
        }
        if (t instanceof Reference) {
          this.write(`#Ref<${t.node.name}.${[...t.ids].reverse().join('.')}>`);
          return;
        }
        if (t instanceof Port) {
          this.write(`#Port<${t.node.name}.${t.id}>`);
          return;
        }
        if (t instanceof ExportFun) {
          this.write(
            `fun ${atomText(t.module.name, this.latin1)}:${atomText(t.name.name, this.latin1)}/${t.arity}`,
          );
          return;
        }
        if (t instanceof Fun) {
          this.write(funText(t));
          return;
        }
        if (this.active.has(t)) {
          this.write('...');
          return;
        }
        this.active.add(t);
        if (t instanceof Tuple) this.tuple(t, d);
        else if (Array.isArray(t) || t instanceof ImproperList)
          this.list(t as readonly Term[] | ImproperList, d);
        else if (t instanceof Map) this.map([...(t as ReadonlyMap<Term, Term>)], d);
        else if (isPlainObject(t)) {
          const o = t as Record<string, Term>;
          this.map(
            Object.keys(o).map((k): [Term, Term] => [k, o[k]!]),
            d,
          );
        } else this.write(`#JS<${t.constructor?.name ?? 'object'}>`);
        this.active.delete(t);
        return;
    }
    this.write(`#JS<${String(t)}>`);
  }

  tuple(t: Tuple, d: number): void {
    const els = t.elements;
    if (els.length === 0) {
      this.write('{}');
      return;
    }
    this.open('{', '}');
    this.cut('...');
    let dd = d;
    for (let i = 0; i < els.length; i++) {
      if (dd === 1) {
        this.write(i === 0 ? '...' : ',...');
        break;
      }
      if (i > 0) {
        this.cut(',...');
        this.write(',');
      }
      this.term(els[i]!, dd - 1);
      dd--;
    }
    this.close('}');
  }

  list(t: readonly Term[] | ImproperList, d: number): void {
    // Flatten list tails that are lists: `[a | [b]]` is `[a, b]`.
    let els: readonly Term[];
    let tail: Term | typeof NIL | typeof CYCLE = NIL;
    if (Array.isArray(t)) {
      els = t as readonly Term[];
    } else {
      const all: Term[] = [];
      const seen = new Set<ImproperList>();
      let cur: Term = t as ImproperList;
      for (;;) {
        if (cur instanceof ImproperList) {
          if (seen.has(cur)) {
            tail = CYCLE;
            break;
          }
          seen.add(cur);
          all.push(...cur.elements);
          cur = cur.tail;
        } else if (Array.isArray(cur)) {
          all.push(...(cur as readonly Term[]));
          break;
        } else {
          tail = cur;
          break;
        }
      }
      els = all;
    }
    if (els.length === 0) {
      this.write('[]');
      return;
    }
    if (tail === NIL && d !== 1 && isPrintableLatin1(els)) {
      this.chars(els as readonly (number | bigint)[], '"...');
      return;
    }
    this.open('[', ']');
    this.cut('...');
    let dd = d;
    let dotted = false;
    for (let i = 0; i < els.length; i++) {
      if (dd === 1) {
        this.write(i === 0 ? '...' : '|...');
        dotted = true;
        break;
      }
      if (i > 0) {
        this.cut('|...');
        this.write(',');
      }
      this.term(els[i]!, dd - 1);
      dd--;
    }
    if (!dotted && tail !== NIL) {
      this.cut('|...');
      if (dd === 1 || tail === CYCLE) {
        this.write('|...');
      } else {
        this.write('|');
        this.term(tail as Term, dd - 1);
      }
    }
    this.close(']');
  }

  map(entries: [Term, Term][], d: number): void {
    if (entries.length === 0) {
      this.write('#{}');
      return;
    }
    try {
      entries.sort((x, y) => compareMapKeys(x[0], y[0]));
    } catch {
      // A key that is not a term (or holds a cycle) cannot be ordered: print as they come.
    }
    this.open('#{', '}');
    this.cut('...');
    let dd = d;
    for (let i = 0; i < entries.length; i++) {
      if (dd === 1) {
        this.write(i === 0 ? '...' : ',...');
        break;
      }
      if (i > 0) {
        this.cut(',...');
        this.write(',');
      }
      const [k, v] = entries[i]!;
      // Keys and values all print one level down from the map, as in io_lib_pretty.
      this.term(k, d - 1);
      this.write(' => ');
      this.cut('...');
      this.term(v, d - 1);
      dd--;
    }
    this.close('}');
  }

  /** A string of code points (all printable Latin-1), quoted, escaped, with cut points. */
  chars(cs: readonly (number | bigint)[], cutSuffix: string): void {
    this.write('"');
    if (this.cuts === undefined) {
      let s = '';
      for (const c of cs) s += charText(Number(c), 0x22, this.latin1);
      this.write(s);
    } else {
      this.cut(cutSuffix);
      for (const c of cs) {
        this.write(charText(Number(c), 0x22, this.latin1));
        this.cut(cutSuffix);
      }
    }
    this.write('"');
  }

  binary(bytes: Uint8Array, bits: number, d: number): void {
    if (bits === 0) {
      this.write('<<>>');
      return;
    }
    if (d === 1) {
      this.write('<<...>>');
      return;
    }
    if ((bits & 7) === 0) {
      const text = printableBinary(bytes, d, this.latin1);
      if (text !== undefined) {
        this.open('<<', '>>');
        if (text.chars === undefined) {
          // The common case, the whole binary in plain ASCII: one copy, one cut range.
          const plain = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
          this.write('"');
          this.cuts?.push({
            pos: this.out.length,
            end: this.out.length + plain.length,
            suffix: '"...',
            closer: this.closer,
          });
          this.write(`${plain}"`);
        } else {
          this.chars(text.chars, text.utf8 ? '"/utf8...' : '"...');
        }
        if (text.utf8) this.write('/utf8');
        if (text.partial) this.write('...');
        this.close('>>');
        return;
      }
    }
    this.open('<<', '>>');
    this.cut('...');
    const whole = bits >>> 3;
    const rest = bits & 7;
    const n = rest === 0 ? whole : whole + 1;
    let dd = d;
    let s = '';
    for (let i = 0; i < n; i++) {
      if (dd === 1) {
        s += i === 0 ? '...' : ',...';
        break;
      }
      if (i > 0) {
        if (this.cuts !== undefined) {
          this.write(s);
          s = '';
          this.cut(',...');
        }
        s += ',';
      }
      s += i < whole ? String(bytes[i]!) : `${bytes[whole]! >>> (8 - rest)}:${rest}`;
      dd--;
    }
    this.write(s);
    this.close('>>');
  }
}

const NIL: unique symbol = Symbol('nil');
/** The tail of an improper list that loops back on itself. */
const CYCLE: unique symbol = Symbol('cycle');

function isPlainObject(t: object): boolean {
  const proto: unknown = Object.getPrototypeOf(t);
  return proto === Object.prototype || proto === null;
}

/** Latin-1 characters erl's default printable range accepts: text and the usual control escapes. */
function isPrintableChar(c: number): boolean {
  return (c >= 32 && c <= 126) || (c >= 160 && c <= 255) || (c >= 8 && c <= 13) || c === 27;
}

function isPrintableLatin1(els: readonly Term[]): boolean {
  for (const e of els) {
    let c: number;
    if (typeof e === 'number' && Number.isInteger(e)) c = e;
    else if (typeof e === 'bigint' && e >= 0n && e <= 255n) c = Number(e);
    else return false;
    if (!isPrintableChar(c)) return false;
  }
  return true;
}

/** How a binary prints as text, if it does. `chars` is undefined for plain ASCII with no escapes. */
interface PrintableText {
  readonly chars: readonly number[] | undefined;
  readonly utf8: boolean;
  readonly partial: boolean;
}

/**
 * Whether (and how much of) a binary prints as text at depth `d`, as io_lib_pretty decides:
 * with a depth, 4 characters per level are considered and a printable prefix of at least
 * `d - 1` characters prints with `...`. Without a depth, all or nothing.
 */
function printableBinary(b: Uint8Array, d: number, latin1: boolean): PrintableText | undefined {
  const limited = Number.isFinite(d);
  const d1 = d - 1;
  const size = b.length;
  const len = limited ? Math.min(4 * d1, size) : size;
  if (len <= 0) return undefined;
  if (!limited && isPlainAscii(b)) return PLAIN;
  if (!latin1) {
    const u = printableUtf8(b, len, limited, d1);
    if (u !== 'not_utf8') return u;
  }
  const n = Math.min(20, len);
  const f = firstUnprintable(b, 0, n);
  let printable: number;
  if (f === -1) {
    if (n === size) return latin1Text(b, size, false);
    if (n === len) return latin1Text(b, n, true);
    const g = firstUnprintable(b, n, len);
    if (g === -1 && size === len) return latin1Text(b, size, false);
    printable = g === -1 ? len : g;
  } else {
    printable = f;
  }
  return limited && d1 > 0 && printable >= d1 ? latin1Text(b, printable, true) : undefined;
}

const PLAIN: PrintableText = Object.freeze({ chars: undefined, utf8: false, partial: false });

/** Printable ASCII without the double quote and the backslash: text that needs no escapes. */
function isPlainAscii(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c < 32 || c > 126 || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

function firstUnprintable(b: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (!isPrintableChar(b[i]!)) return i;
  return -1;
}

function latin1Text(b: Uint8Array, n: number, partial: boolean): PrintableText {
  return textOf([...b.subarray(0, n)], false, partial);
}

/** `chars` is left out when the text is the whole binary in plain ASCII: the printer copies the bytes. */
function textOf(chars: readonly number[], utf8: boolean, partial: boolean): PrintableText {
  let plain = !partial && !utf8;
  for (let i = 0; plain && i < chars.length; i++) {
    const c = chars[i]!;
    plain = c >= 32 && c <= 126 && c !== 0x22 && c !== 0x5c;
  }
  return { chars: plain ? undefined : chars, utf8, partial };
}

/** The UTF-8 reading of a binary, or 'not_utf8' when its first `len` characters are not UTF-8. */
function printableUtf8(
  b: Uint8Array,
  len: number,
  limited: boolean,
  d1: number,
): PrintableText | undefined | 'not_utf8' {
  // erl checks that the first `len` characters decode before it looks at any of them.
  let i = 0;
  for (let k = 0; k < len && i < b.length; k++) {
    const next = utf8Next(b, i);
    if (next < 0) return 'not_utf8';
    i = next;
  }
  const chars: number[] = [];
  let end = 0;
  while (chars.length < len && end < b.length) {
    const next = utf8Next(b, end);
    if (next < 0) break;
    const c = utf8Value(b, end, next);
    if (!isPrintableChar(c)) break;
    chars.push(c);
    end = next;
  }
  if (end === b.length) return textOf(chars, chars.length !== b.length, false);
  if (limited && d1 > 0 && chars.length >= d1) return textOf(chars, end !== chars.length, true);
  return undefined;
}

/** Index after the UTF-8 character at `i`, or -1 if none is there (strict: no overlongs, no surrogates). */
function utf8Next(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return i + 1;
  let n: number;
  let min: number;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 1;
    min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 2;
    min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 3;
    min = 0x10000;
  } else return -1;
  let v = c & (0x3f >> n);
  for (let k = 1; k <= n; k++) {
    const x = b[i + k];
    if (x === undefined || (x & 0xc0) !== 0x80) return -1;
    v = (v << 6) | (x & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return -1;
  return i + n + 1;
}

function utf8Value(b: Uint8Array, i: number, next: number): number {
  const n = next - i - 1;
  if (n === 0) return b[i]!;
  let v = b[i]! & (0x3f >> n);
  for (let k = 1; k <= n; k++) v = (v << 6) | (b[i + k]! & 0x3f);
  return v;
}

/** One character inside `quote`s, escaped as io_lib does. */
function charText(c: number, quote: number, latin1: boolean): string {
  if (c === quote) return quote === 0x22 ? '\\"' : "\\'";
  if (c === 0x5c) return '\\\\';
  if (c >= 32 && c <= 126) return String.fromCharCode(c);
  if (c >= 160) return latin1 && c > 255 ? `\\x{${c.toString(16).toUpperCase()}}` : String.fromCodePoint(c);
  switch (c) {
    case 10:
      return '\\n';
    case 13:
      return '\\r';
    case 9:
      return '\\t';
    case 11:
      return '\\v';
    case 8:
      return '\\b';
    case 12:
      return '\\f';
    case 27:
      return '\\e';
    case 127:
      return '\\d';
  }
  return `\\${c.toString(8).padStart(3, '0')}`;
}

/** An atom, quoted when erl would quote it. */
function atomText(name: string, latin1 = false): string {
  if (SIMPLE_ATOM.test(name) && !PRINT_RESERVED.has(name)) return name;
  const cps: number[] = [];
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    // A lone surrogate goes on the wire as U+FFFD.
    cps.push(c >= 0xd800 && c <= 0xdfff ? 0xfffd : c);
  }
  let quote = cps.length === 0 || !isAtomStart(cps[0]!) || PRINT_RESERVED.has(name);
  for (let i = 1; !quote && i < cps.length; i++) quote = !isNameChar(cps[i]!);
  if (!quote) return name;
  if (PLAIN_TEXT.test(name) && !name.includes("'")) return `'${name}'`;
  let s = "'";
  for (const c of cps) s += charText(c, 0x27, latin1);
  return `${s}'`;
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return Number.isSafeInteger(n) ? String(n) : BigInt(n).toString();
  if (!Number.isFinite(n)) return `#JS<${n}>`;
  return formatFloat(n);
}

/**
 * The shortest digits that read back (JavaScript's, the same as erl's `float_to_list(F, [short])`),
 * in decimal form when that is not longer than the exponent form and the value is below 2^53, as
 * erl does: `0.001`, `1.0e-5`, `100.0`, `1.0e3`, `1234567890123456.8`, `1.2345678901234568e16`.
 */
function formatFloat(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const e = Math.abs(x).toExponential();
  const at = e.indexOf('e');
  const digits = e.slice(0, at).replace('.', '');
  const exp = Number(e.slice(at + 1));
  const n = digits.length;
  const sci = `${digits[0]}.${n > 1 ? digits.slice(1) : '0'}e${exp}`;
  let dec: string;
  if (exp >= 0) {
    dec =
      n <= exp + 1
        ? `${digits}${'0'.repeat(exp + 1 - n)}.0`
        : `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  } else {
    dec = `0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  // erl writes every float from 2^53 up in the exponent form, even where the decimal one is shorter.
  const useDec = dec.length <= sci.length && Math.abs(x) < 2 ** 53;
  return (x < 0 ? '-' : '') + (useDec ? dec : sci);
}

/** `#Fun<module.Index.Uniq>`, as erl prints it. */
function funText(f: Fun): string {
  return `#Fun<${f.module.name}.${f.index}.${String(f.oldUniq)}>`;
}
