/**
 * parseTerm: each syntax element, and each error code with its offset. Expected values for the
 * bit syntax and escapes are what erl_parse:parse_term gives on OTP 25.2.3.
 */
import { describe, expect, it } from 'vitest';
import {
  Atom,
  atom,
  BitBinary,
  ExportFun,
  equals,
  Float,
  float,
  ImproperList,
  type Term,
  TermMap,
  Tuple,
  tuple,
} from '../../src/term/index.ts';
import { PARSE_DEFAULTS, parseTerm, TermParseError, type TermParseErrorCode } from '../../src/term/parse.ts';

/** Asserts that `text` parses to a term equal (`=:=`) to `expected`. */
function reads(text: string, expected: Term): void {
  const got = parseTerm(text);
  if (!equals(got, expected)) {
    throw new Error(`${text} parsed to ${String(got)}, expected ${String(expected)}`);
  }
}

function fails(
  text: string,
  code: TermParseErrorCode,
  offset: number,
  options?: Parameters<typeof parseTerm>[1],
): TermParseError {
  let error: unknown;
  try {
    parseTerm(text, options);
  } catch (e) {
    error = e;
  }
  expect(error, text).toBeInstanceOf(TermParseError);
  const e = error as TermParseError;
  expect({ text, code: e.code, offset: e.offset }).toEqual({ text, code, offset });
  expect(e.message).toMatch(new RegExp(`^${code} at offset ${offset}: .+`));
  return e;
}

describe('parseTerm: integers', () => {
  it('reads decimal, signed and based integers', () => {
    expect(parseTerm('42')).toBe(42);
    expect(parseTerm('-5')).toBe(-5);
    expect(parseTerm('- 5')).toBe(-5);
    expect(parseTerm('+5')).toBe(5);
    expect(Object.is(parseTerm('-0'), 0)).toBe(true);
    expect(parseTerm('1_000_000')).toBe(1_000_000);
    expect(parseTerm('16#FF')).toBe(255);
    expect(parseTerm('16#ff_ff')).toBe(65535);
    expect(parseTerm('-16#10')).toBe(-16);
    expect(parseTerm('2#1010')).toBe(10);
    expect(parseTerm('36#zz')).toBe(1295);
  });

  it('gives a bigint past 2^53 and a number up to it', () => {
    expect(parseTerm('9007199254740991')).toBe(9007199254740991);
    expect(parseTerm('-9007199254740991')).toBe(-9007199254740991);
    expect(parseTerm('9007199254740992')).toBe(9007199254740992n);
    expect(parseTerm('123456789012345678901234567890')).toBe(123456789012345678901234567890n);
    expect(parseTerm('-123456789012345678901234567890')).toBe(-123456789012345678901234567890n);
    expect(parseTerm('16#FFFFFFFFFFFFFFFFFF')).toBe(2n ** 72n - 1n);
    expect(parseTerm('8#7777777777777777777777')).toBe(8n ** 22n - 1n);
    expect(parseTerm('36#zzzzzzzzzzzzzzzzzzzz')).toBe(36n ** 20n - 1n);
    expect(parseTerm('7#66666666666666666666666666')).toBe(7n ** 26n - 1n);
  });

  it('reads character literals as code points', () => {
    expect(parseTerm('$a')).toBe(97);
    expect(parseTerm('$ ')).toBe(32);
    expect(parseTerm('$\\s')).toBe(32);
    expect(parseTerm('$\\n')).toBe(10);
    expect(parseTerm('$\\\\')).toBe(92);
    expect(parseTerm('$\\101')).toBe(65);
    expect(parseTerm('$\\x41')).toBe(65);
    expect(parseTerm('$\\x{1F600}')).toBe(0x1f600);
    expect(parseTerm('$😀')).toBe(0x1f600);
    expect(parseTerm('$\\^a')).toBe(1);
    expect(parseTerm('-$a')).toBe(-97);
  });
});

describe('parseTerm: floats', () => {
  it('reads floats; an integral one is a Float', () => {
    expect(parseTerm('2.5')).toBe(2.5);
    expect(parseTerm('-2.5')).toBe(-2.5);
    expect(parseTerm('1.0')).toEqual(float(1));
    expect(parseTerm('1.0e10')).toEqual(float(1e10));
    expect(parseTerm('1.0E5')).toEqual(float(1e5));
    expect(parseTerm('1.5e-3')).toBe(0.0015);
    expect(parseTerm('1.5e+3')).toEqual(float(1500));
    expect(parseTerm('0.1e1_0')).toEqual(float(1e9));
    expect(parseTerm('1_000.5')).toBe(1000.5);
    expect(parseTerm('2.5e-324')).toBe(5e-324);
    expect(parseTerm('1.7976931348623157e308')).toEqual(float(Number.MAX_VALUE));
  });

  it('keeps the sign of -0.0, and underflow is 0.0 as in erl', () => {
    const negativeZero = parseTerm('-0.0');
    expect(negativeZero).toBeInstanceOf(Float);
    expect(Object.is((negativeZero as Float).value, -0)).toBe(true);
    expect(parseTerm('1.0e-400')).toEqual(float(0));
  });

  it('reads `1.` as an integer and a final dot', () => {
    expect(parseTerm('1.')).toBe(1);
  });
});

describe('parseTerm: atoms', () => {
  it('reads bare atoms, Latin-1 letters included', () => {
    expect(parseTerm('ok')).toBe(atom('ok'));
    expect(parseTerm('a@b_C9')).toBe(atom('a@b_C9'));
    expect(parseTerm('ünï')).toBe(atom('ünï'));
    expect(parseTerm('ßaÀ')).toBe(atom('ßaÀ'));
    // Reserved only from OTP 27 on.
    expect(parseTerm('maybe')).toBe(atom('maybe'));
    expect(parseTerm('else')).toBe(atom('else'));
  });

  it('reads quoted atoms with every escape', () => {
    expect(parseTerm("'hello world'")).toBe(atom('hello world'));
    expect(parseTerm("''")).toBe(atom(''));
    expect(parseTerm("'\\n'")).toBe(atom('\n'));
    expect(parseTerm("'it\\'s'")).toBe(atom("it's"));
    expect(parseTerm("'\"'")).toBe(atom('"'));
    expect(parseTerm("'\\b\\d\\e\\f\\n\\r\\s\\t\\v'")).toBe(atom('\b\x7f\x1b\f\n\r \t\v'));
    expect(parseTerm("'\\101\\102'")).toBe(atom('AB'));
    expect(parseTerm("'\\400'")).toBe(atom('\u0100'));
    expect(parseTerm("'\\1234'")).toBe(atom('S4'));
    expect(parseTerm("'\\8'")).toBe(atom('8'));
    expect(parseTerm("'\\z'")).toBe(atom('z'));
    expect(parseTerm("'\\^['")).toBe(atom('\x1b'));
    expect(parseTerm("'\\^?'")).toBe(atom('\x1f'));
    expect(parseTerm("'\\x41\\x{1F600}\\x{0041}'")).toBe(atom('A😀A'));
    expect(parseTerm("'ünï'")).toBe(atom('ünï'));
    expect(parseTerm("'if'")).toBe(atom('if'));
    expect(parseTerm(`'${'a'.repeat(255)}'`)).toBe(atom('a'.repeat(255)));
  });

  it('reads true and false, quoted or not, as booleans', () => {
    expect(parseTerm('true')).toBe(true);
    expect(parseTerm('false')).toBe(false);
    expect(parseTerm("'true'")).toBe(true);
  });
});

describe('parseTerm: containers', () => {
  it('reads tuples', () => {
    expect(parseTerm('{}')).toEqual(new Tuple([]));
    expect(parseTerm('{ }')).toEqual(new Tuple([]));
    reads('{ok, {1, 2}}', tuple(atom('ok'), tuple(1, 2)));
  });

  it('reads proper and improper lists', () => {
    expect(parseTerm('[]')).toEqual([]);
    expect(parseTerm('[ ]')).toEqual([]);
    expect(parseTerm('[1, 2, 3]')).toEqual([1, 2, 3]);
    const improper = parseTerm('[a, b | c]');
    expect(improper).toBeInstanceOf(ImproperList);
    expect((improper as ImproperList).elements).toEqual([atom('a'), atom('b')]);
    expect((improper as ImproperList).tail).toBe(atom('c'));
    expect(parseTerm('[1, 2 | [3]]')).toEqual([1, 2, 3]);
    expect(parseTerm('[1 | []]')).toEqual([1]);
    expect(parseTerm('[$a | "bc"]')).toEqual([97, 98, 99]);
    reads('[1 | [2 | x]]', new ImproperList([1, 2], atom('x')));
  });

  it('reads strings as lists of code points, adjacent strings joined', () => {
    expect(parseTerm('"abc"')).toEqual([97, 98, 99]);
    expect(parseTerm('""')).toEqual([]);
    expect(parseTerm('"a" "b"')).toEqual([97, 98]);
    expect(parseTerm('"a" % comment\n "b"')).toEqual([97, 98]);
    expect(parseTerm('"\\x{1F600}\\t\\"\\\\\'"')).toEqual([0x1f600, 9, 34, 92, 39]);
    expect(parseTerm('"ü€"')).toEqual([0xfc, 0x20ac]);
    expect(parseTerm('"line\nbreak"')).toEqual([...'line\nbreak'].map((c) => c.charCodeAt(0)));
  });

  it('reads maps; a repeated key keeps its last value', () => {
    expect(parseTerm('#{}')).toEqual(new TermMap());
    const m = parseTerm('#{a => 1, {x, 1} => <<"b">>, "k" => [v]}') as TermMap;
    expect(m).toBeInstanceOf(TermMap);
    expect(m.get(atom('a'))).toBe(1);
    expect(m.get(tuple(atom('x'), 1))).toEqual(Buffer.from('b'));
    expect(m.get([107])).toEqual([atom('v')]);
    const twice = parseTerm('#{a => 1, a => 2}') as TermMap;
    expect(twice.size).toBe(1);
    expect(twice.get(atom('a'))).toBe(2);
    reads(
      '#{1 => a, 1.0 => b}',
      new TermMap<Term, Term>([
        [1, atom('a')],
        [float(1), atom('b')],
      ]),
    );
  });

  it('reads export funs', () => {
    reads('fun lists:map/2', new ExportFun(atom('lists'), atom('map'), 2));
    reads("fun 'a b':'if'/0", new ExportFun(atom('a b'), atom('if'), 0));
    reads('fun erlang:true/255', new ExportFun(atom('erlang'), atom('true'), 255));
  });

  it('reads the example of the issue', () => {
    const t = parseTerm('{ok, [1, 2.5, <<"bin">>, #{a => b}]}');
    reads(
      '{ok, [1, 2.5, <<"bin">>, #{a => b}]}',
      tuple(atom('ok'), [1, 2.5, Buffer.from('bin'), new TermMap([[atom('a'), atom('b')]])]),
    );
    expect(t).toBeInstanceOf(Tuple);
  });
});

describe('parseTerm: binaries', () => {
  const bytes = (text: string): number[] => {
    const t = parseTerm(text);
    if (!(t instanceof Uint8Array)) throw new Error(`${text} is not a binary`);
    return [...t];
  };

  it('reads bytes and text', () => {
    expect(bytes('<<>>')).toEqual([]);
    expect(bytes('<< >>')).toEqual([]);
    expect(bytes('<<"">>')).toEqual([]);
    expect(bytes('<<1,2,3>>')).toEqual([1, 2, 3]);
    expect(bytes('<<"text">>')).toEqual([116, 101, 120, 116]);
    expect(bytes('<<"a", 0, "b" "c">>')).toEqual([97, 0, 98, 99]);
    expect(bytes('<<$a, $\\n>>')).toEqual([97, 10]);
    expect(parseTerm('<<1,2>>')).toBeInstanceOf(Buffer);
  });

  it('takes each character of <<"...">> as a byte, and /utf8 as UTF-8', () => {
    expect(bytes('<<"ü">>')).toEqual([0xfc]);
    expect(bytes('<<"ü"/utf8>>')).toEqual([0xc3, 0xbc]);
    expect(bytes('<<"€"/utf8>>')).toEqual([0xe2, 0x82, 0xac]);
    expect(bytes('<<$a/utf8, 16#1F600/utf8>>')).toEqual([97, 0xf0, 0x9f, 0x98, 0x80]);
  });

  it('reads sizes, units, signs and endianness of integer segments, truncating as erl does', () => {
    expect(parseTerm('<<1:3>>')).toEqual(new BitBinary(Buffer.from([0x20]), 3));
    expect(parseTerm('<<7:3>>')).toEqual(new BitBinary(Buffer.from([0xe0]), 3));
    expect(bytes('<<1:3, 1:5>>')).toEqual([0x21]);
    expect(bytes('<<300>>')).toEqual([44]);
    expect(bytes('<<-1>>')).toEqual([255]);
    expect(bytes('<<-1:16/little>>')).toEqual([255, 255]);
    expect(bytes('<<1:16/little>>')).toEqual([1, 0]);
    expect(bytes('<<1:16/little-unit:2>>')).toEqual([1, 0, 0, 0]);
    expect(bytes('<<1:8/integer-unit:2>>')).toEqual([0, 1]);
    expect(bytes('<<1:8/unsigned-big-integer>>')).toEqual([1]);
    expect(bytes('<<255:8/signed>>')).toEqual([255]);
    expect(bytes('<<16#10:16#10>>')).toEqual([0, 16]);
    expect(bytes('<<"abc":16>>')).toEqual([0, 97, 0, 98, 0, 99]);
    expect(bytes('<<0:1000>>')).toEqual(new Array(125).fill(0));
    const big = parseTerm('<<1:100>>') as BitBinary;
    expect(big).toEqual(new BitBinary(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]), 4));
    expect(bytes('<<16#0102030405060708090A:80>>')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('reads float, utf16 and utf32 segments', () => {
    expect(bytes('<<1.5/float>>')).toEqual([63, 248, 0, 0, 0, 0, 0, 0]);
    expect(bytes('<<-1.5/float>>')).toEqual([191, 248, 0, 0, 0, 0, 0, 0]);
    expect(bytes('<<1.5:32/float>>')).toEqual([63, 192, 0, 0]);
    expect(bytes('<<1:32/float>>')).toEqual([63, 128, 0, 0]);
    expect(bytes('<<1.5:32/float-little>>')).toEqual([0, 0, 192, 63]);
    expect(bytes('<<1.5:8/unit:8-float>>')).toEqual([63, 248, 0, 0, 0, 0, 0, 0]);
    expect(bytes('<<"ab"/utf16>>')).toEqual([0, 97, 0, 98]);
    expect(bytes('<<"ab"/utf16-little>>')).toEqual([97, 0, 98, 0]);
    expect(bytes('<<16#1F600/utf16>>')).toEqual([216, 61, 222, 0]);
    expect(bytes('<<16#1F600/utf16-little>>')).toEqual([61, 216, 0, 222]);
    expect(bytes('<<"a"/utf32>>')).toEqual([0, 0, 0, 97]);
    expect(bytes('<<16#1F600/utf32-little>>')).toEqual([0, 246, 1, 0]);
  });

  it('reads binaries inside binaries', () => {
    expect(bytes('<<<<1,2>>/binary, 3>>')).toEqual([1, 2, 3]);
    expect(bytes('<<<<1>>/bytes>>')).toEqual([1]);
    expect(parseTerm('<<<<1:1>>/bits>>')).toEqual(new BitBinary(Buffer.from([0x80]), 1));
    expect(bytes('<<<<1,2,3>>:2/binary>>')).toEqual([1, 2]);
    expect(bytes('<<<<1,2>>:8/bits>>')).toEqual([1]);
    expect(parseTerm('<<<<1:3>>/bits, <<1:5>>/bits>>')).toEqual(Buffer.from([0x21]));
  });
});

describe('parseTerm: layout', () => {
  it('allows whitespace, comments and a final dot around the term', () => {
    expect(parseTerm(' 1 ')).toBe(1);
    expect(parseTerm('\t1\r\n')).toBe(1);
    expect(parseTerm('\u00a01')).toBe(1);
    expect(parseTerm('1.')).toBe(1);
    expect(parseTerm('x .')).toBe(atom('x'));
    expect(parseTerm('1. % done')).toBe(1);
    expect(parseTerm('% leading\n1')).toBe(1);
    reads('{a, % first\n b}', tuple(atom('a'), atom('b')));
    reads('[ 1 ,2 | 3 ]', new ImproperList([1, 2], 3));
    reads('#{ a=>1 }', new TermMap([[atom('a'), 1]]));
    reads('<< 1 : 8 / little , "x" >>', Buffer.from([1, 120]));
  });

  it('interns atoms', () => {
    const t = parseTerm('{abc, abc}') as Tuple;
    expect(t.at(0)).toBeInstanceOf(Atom);
    expect(t.at(0)).toBe(t.at(1));
  });
});

describe('parseTerm: errors', () => {
  it('syntax: unexpected characters and tokens, with their offset', () => {
    fails('1e5', 'syntax', 1);
    fails('1 2', 'syntax', 2);
    fails('1..', 'syntax', 2);
    fails('{a,}', 'syntax', 3);
    fails('{a b}', 'syntax', 3);
    fails('[a,]', 'syntax', 3);
    fails('[a|]', 'syntax', 3);
    fails('[|b]', 'syntax', 1);
    fails('[a|b|c]', 'syntax', 4);
    fails('#{a := 1}', 'syntax', 4);
    fails('#{a => 1,}', 'syntax', 9);
    fails('#{a => 1 b => 2}', 'syntax', 9);
    fails("'a' 'b'", 'syntax', 4);
    fails('1_', 'syntax', 1);
    fails('"a" ++ "b"', 'syntax', 4);
    fails('1 + 2', 'syntax', 2);
    fails('- -5', 'syntax', 2);
    fails('-a', 'syntax', 1);
    fails('a.b', 'syntax', 2);
    fails('aα', 'syntax', 1);
    fails('@', 'syntax', 0);
    fails('fun f/1', 'syntax', 5);
    fails('fun () -> ok end', 'syntax', 4);
  });

  it('syntax: variables, reserved words, records, pids, references', () => {
    expect(fails('Abc', 'syntax', 0).message).toMatch(/variable Abc/);
    fails('_', 'syntax', 0);
    fails('{ok, X}', 'syntax', 5);
    expect(fails('if', 'syntax', 0).message).toMatch(/reserved word/);
    fails('[cond]', 'syntax', 1);
    fails('fun end:f/1', 'syntax', 4);
    expect(fails('#r{a = 1}', 'syntax', 0).message).toMatch(/records/);
    expect(fails('<0.85.0>', 'syntax', 0).message).toMatch(/pids have no text syntax/);
    expect(fails('{<0.85.0>}', 'syntax', 1).message).toMatch(/pids/);
    expect(fails('#Ref<0.1.2.3>', 'syntax', 0).message).toMatch(/#Ref<...> has no text syntax/);
    fails('#Port<0.5>', 'syntax', 0);
    fails('#Fun<m.0.1>', 'syntax', 0);
  });

  it('syntax: bad binary segments', () => {
    fails('<<1.5>>', 'syntax', 2);
    fails('<<1:a>>', 'syntax', 4);
    fails('<<1:-1>>', 'syntax', 4);
    fails('<<1/foo>>', 'syntax', 4);
    fails('<<1/integer-float>>', 'syntax', 12);
    fails('<<1/unit:0>>', 'syntax', 9);
    fails('<<"a"/binary>>', 'syntax', 2);
    fails('<<1/binary>>', 'syntax', 2);
    fails('<<<<1,2>>>>', 'syntax', 2);
    fails('<<<<1:1>>/bytes>>', 'syntax', 2);
    fails('<<<<1,2>>:3/binary>>', 'syntax', 2);
    fails('<<"a":8/utf8>>', 'syntax', 2);
    fails('<<1:16/float>>', 'syntax', 2);
    fails('<<1:12/little>>', 'syntax', 2);
    fails('<<(1):8>>', 'syntax', 2);
    fails('<<a>>', 'syntax', 2);
    fails('<<1 2>>', 'syntax', 4);
  });

  it('unexpected_end: the text stops inside the term', () => {
    fails('', 'unexpected_end', 0);
    fails('  % only a comment', 'unexpected_end', 18);
    fails('{a,', 'unexpected_end', 3);
    fails('[1, 2', 'unexpected_end', 5);
    fails('[1 |', 'unexpected_end', 4);
    fails('"abc', 'unexpected_end', 4);
    fails("'abc", 'unexpected_end', 4);
    fails('"\\', 'unexpected_end', 2);
    fails('"\\x{41', 'unexpected_end', 6);
    fails('<<1,', 'unexpected_end', 4);
    fails('<<1:', 'unexpected_end', 4);
    fails('<<1/', 'unexpected_end', 4);
    fails('<<1/unit:', 'unexpected_end', 9);
    fails('fun a:b/', 'unexpected_end', 8);
    fails('#{a =>', 'unexpected_end', 6);
    fails('$', 'unexpected_end', 1);
    fails('-', 'unexpected_end', 1);
    fails('fun lists:', 'unexpected_end', 10);
  });

  it('too_deep: nesting past maxDepth, at the opening bracket', () => {
    fails('[[[1]]]', 'too_deep', 2, { maxDepth: 2 });
    expect(parseTerm('[[1]]', { maxDepth: 2 })).toEqual([[1]]);
    fails('{#{a => <<<<1>>/binary>>}}', 'too_deep', 8, { maxDepth: 2 });
    const deep = `${'['.repeat(PARSE_DEFAULTS.maxDepth + 1)}${']'.repeat(PARSE_DEFAULTS.maxDepth + 1)}`;
    fails(deep, 'too_deep', PARSE_DEFAULTS.maxDepth);
    expect(() => parseTerm(deep.slice(1, -1))).not.toThrow();
  });

  it('too_long: a text past maxLength, or a binary that size fields make larger', () => {
    fails('[1,2,3]', 'too_long', 5, { maxLength: 5 });
    expect(parseTerm('[1,2,3]', { maxLength: 7 })).toEqual([1, 2, 3]);
    fails('<<0:80>>', 'too_long', 2, { maxLength: 9 });
    expect(parseTerm('<<0:72>>', { maxLength: 9 })).toEqual(Buffer.alloc(9));
    fails('<<0:100000000000000000000>>', 'too_long', 2);
  });

  it('invalid_atom: too long, or a bad character in a quoted atom', () => {
    fails(`'${'a'.repeat(256)}'`, 'invalid_atom', 0);
    fails(`{${'a'.repeat(256)}}`, 'invalid_atom', 1);
    fails(`'${'😀'.repeat(256)}'`, 'invalid_atom', 0);
    fails("'\\x{D800}'", 'invalid_atom', 1);
    fails("'\\x{110000}'", 'invalid_atom', 1);
    fails("'\\x{}'", 'invalid_atom', 1);
    fails("'a\\xG1'", 'invalid_atom', 2);
    fails("'\ud800'", 'invalid_atom', 1);
  });

  it('invalid_number: bad floats, bases, character literals and arities', () => {
    fails('1.8e308', 'invalid_number', 0);
    fails('[-1.0e309]', 'invalid_number', 1);
    fails('37#1', 'invalid_number', 0);
    fails('1#1', 'invalid_number', 0);
    fails('16#', 'invalid_number', 3);
    fails('16#G', 'invalid_number', 3);
    fails('$\\x{110000}', 'invalid_number', 1);
    fails('$\\x{D800}', 'invalid_number', 1);
    fails('fun a:b/256', 'invalid_number', 8);
    fails('<<16#110000/utf8>>', 'invalid_number', 2);
    fails('<<-1/utf8>>', 'invalid_number', 2);
  });

  it('invalid_string: bad escapes, and characters that do not fit a binary segment', () => {
    fails('"\\x{110000}"', 'invalid_string', 1);
    fails('"ab\\x4"', 'invalid_string', 3);
    fails('"\\x{12G}"', 'invalid_string', 1);
    fails('"\ud83d"', 'invalid_string', 1);
    const e = fails('<<"€">>', 'invalid_string', 2);
    expect(e.message).toMatch(/does not fit in 8 bits; write <<"..."\/utf8>>/);
    fails('<<"a", "ā">>', 'invalid_string', 7);
    fails('<<"a":4>>', 'invalid_string', 2);
  });

  it('throws only TermParseError, with the code in the message', () => {
    const e = fails('{', 'unexpected_end', 1);
    expect(e.name).toBe('TermParseError');
    expect(e).toBeInstanceOf(Error);
  });
});
