/**
 * inspect: each kind of term, the depth and length limits, and the two encodings. Expected
 * texts are what `io_lib:format("~0tp", [T])` (or `~0tP`, `~0p`) prints on OTP 25.2.3, except
 * where the test says why not.
 */
import { describe, expect, it } from 'vitest';
import {
  atom,
  BitBinary,
  ExportFun,
  float,
  ImproperList,
  Pid,
  Port,
  Reference,
  type Term,
  TermMap,
  Tuple,
  tuple,
} from '../../src/term/index.ts';
import { inspect } from '../../src/term/inspect.ts';
import { parseTerm } from '../../src/term/parse.ts';
import { makeFun } from '../support/term-arbitrary.ts';

const a = atom;

describe('inspect: numbers', () => {
  it('prints integers and bigints', () => {
    expect(inspect(0)).toBe('0');
    expect(inspect(-0)).toBe('0');
    expect(inspect(-5)).toBe('-5');
    expect(inspect(9007199254740991)).toBe('9007199254740991');
    expect(inspect(1e21)).toBe('1000000000000000000000');
    expect(inspect(12345678901234567890123n)).toBe('12345678901234567890123');
    expect(inspect(-(2n ** 64n))).toBe('-18446744073709551616');
  });

  it('prints floats in the shortest form that reads back, as erl', () => {
    const cases: [number, string][] = [
      [1, '1.0'],
      [-0, '-0.0'],
      [0, '0.0'],
      [0.1, '0.1'],
      [2.5, '2.5'],
      [-2.5, '-2.5'],
      [100, '100.0'],
      [1000, '1.0e3'],
      [1230, '1230.0'],
      [12300, '1.23e4'],
      [1e10, '1.0e10'],
      [1.5e300, '1.5e300'],
      [0.001, '0.001'],
      [0.0001, '0.0001'],
      [0.00015, '1.5e-4'],
      [1e-5, '1.0e-5'],
      [5e-324, '5.0e-324'],
      [123456.789, '123456.789'],
      [1234567890123456.8, '1234567890123456.8'],
      [9007199254740990, '9007199254740990.0'],
      [9007199254740992, '9.007199254740992e15'],
      [12345678901234568, '1.2345678901234568e16'],
      [Number.MAX_VALUE, '1.7976931348623157e308'],
    ];
    for (const [v, text] of cases) {
      expect(inspect(Number.isInteger(v) || Object.is(v, -0) ? float(v) : v), String(v)).toBe(text);
    }
  });
});

describe('inspect: atoms', () => {
  it('quotes atoms only where erl does', () => {
    const cases: [string, string][] = [
      ['ok', 'ok'],
      ['a@b_C9', 'a@b_C9'],
      ['ünï', 'ünï'],
      ['ß', 'ß'],
      ['', "''"],
      ['hello world', "'hello world'"],
      ['Ab', "'Ab'"],
      ['_a', "'_a'"],
      ['9a', "'9a'"],
      ['a.b', "'a.b'"],
      ['a-b', "'a-b'"],
      ['÷a', "'÷a'"],
      ['a×', "'a×'"],
      ['if', "'if'"],
      ['end', "'end'"],
      ["it's", "'it\\'s'"],
      ['a\\b', "'a\\\\b'"],
      ['say "hi"', `'say "hi"'`],
      ['\n\t\x1b\x7f', "'\\n\\t\\e\\d'"],
      ['\x00\x01\x80\x9f', "'\\000\\001\\200\\237'"],
      ['😀', "'😀'"],
      ['aα', "'aα'"],
      ['nonode@nohost', 'nonode@nohost'],
    ];
    for (const [name, text] of cases) expect(inspect(a(name)), name).toBe(text);
    expect(inspect(true)).toBe('true');
    expect(inspect(false)).toBe('false');
  });

  it('quotes maybe and else, reserved words from OTP 27 on (erl 25 leaves them bare)', () => {
    expect(inspect(a('maybe'))).toBe("'maybe'");
    expect(inspect(a('else'))).toBe("'else'");
  });

  it("escapes characters past U+00FF with encoding 'latin1', as ~p", () => {
    expect(inspect(a('😀'), { encoding: 'latin1' })).toBe("'\\x{1F600}'");
    expect(inspect(a('aα'), { encoding: 'latin1' })).toBe("'a\\x{3B1}'");
    expect(inspect(a('ünï'), { encoding: 'latin1' })).toBe('ünï');
  });
});

describe('inspect: lists and strings', () => {
  it('prints printable Latin-1 lists as strings, other lists as lists', () => {
    expect(inspect([])).toBe('[]');
    expect(inspect([1, 2, 3])).toBe('[1,2,3]');
    expect(inspect([104, 105])).toBe('"hi"');
    expect(inspect([104, 252])).toBe('"hü"');
    expect(inspect([104, 1000])).toBe('[104,1000]');
    expect(inspect([7, 8])).toBe('[7,8]');
    expect(inspect([127])).toBe('[127]');
    expect(inspect([160])).toBe('"\u00a0"');
    expect(inspect([0])).toBe('[0]');
    expect(inspect([104n, 105n])).toBe('"hi"');
    expect(inspect([97, 10, 98, 9, 99, 27, 8, 11, 12, 13])).toBe('"a\\nb\\tc\\e\\b\\v\\f\\r"');
    expect(inspect([34, 92, 39])).toBe('"\\"\\\\\'"');
    expect(inspect([104, float(105)])).toBe('[104,105.0]');
    expect(inspect([32.5])).toBe('[32.5]');
  });

  it('prints improper lists, flattening list tails', () => {
    expect(inspect(new ImproperList([a('a')], a('b')))).toBe('[a|b]');
    expect(inspect(new ImproperList([a('a'), a('b')], a('c')))).toBe('[a,b|c]');
    expect(inspect(new ImproperList([1], [2, 3]))).toBe('[1,2,3]');
    expect(inspect(new ImproperList([104], [105]))).toBe('"hi"');
    expect(inspect(new ImproperList([1], new ImproperList([2], 3)))).toBe('[1,2|3]');
    expect(inspect(new ImproperList([104, 105], 106))).toBe('[104,105|106]');
  });
});

describe('inspect: binaries', () => {
  it('prints text binaries as text, others as bytes, as ~tp', () => {
    expect(inspect(Buffer.alloc(0))).toBe('<<>>');
    expect(inspect(Buffer.from('text'))).toBe('<<"text">>');
    expect(inspect(Buffer.from('hi\n'))).toBe('<<"hi\\n">>');
    expect(inspect(Buffer.from('"\\'))).toBe('<<"\\"\\\\">>');
    expect(inspect(Buffer.from([252]))).toBe('<<"ü">>');
    expect(inspect(Buffer.from('ü', 'utf8'))).toBe('<<"ü"/utf8>>');
    expect(inspect(Buffer.from('€', 'utf8'))).toBe('<<226,130,172>>');
    expect(inspect(Buffer.from([1, 2, 3]))).toBe('<<1,2,3>>');
    expect(inspect(Buffer.from([97, 0]))).toBe('<<97,0>>');
    expect(inspect(new Uint8Array([104, 105]))).toBe('<<"hi">>');
  });

  it('prints a JS string as the binary of its UTF-8', () => {
    expect(inspect('hello')).toBe('<<"hello">>');
    expect(inspect('héllo')).toBe('<<"héllo"/utf8>>');
    expect(inspect('')).toBe('<<>>');
    expect(inspect('€')).toBe('<<226,130,172>>');
  });

  it('prints bit strings with the size of the last segment', () => {
    expect(inspect(new BitBinary(Buffer.from([0x20]), 3))).toBe('<<1:3>>');
    expect(inspect(new BitBinary(Buffer.from([255, 0x80]), 1))).toBe('<<255,1:1>>');
    expect(inspect(new BitBinary(Buffer.from([104, 105]), 8))).toBe('<<"hi">>');
  });

  it("prints UTF-8 binaries as their bytes' Latin-1 text with encoding 'latin1', as ~p", () => {
    expect(inspect(Buffer.from('ü', 'utf8'), { encoding: 'latin1' })).toBe('<<"Ã¼">>');
    expect(inspect(Buffer.from([252]), { encoding: 'latin1' })).toBe('<<"ü">>');
  });
});

describe('inspect: tuples, maps and the rest', () => {
  it('prints tuples', () => {
    expect(inspect(new Tuple([]))).toBe('{}');
    expect(inspect(tuple(a('ok'), [1, 2.5, Buffer.from('bin'), new TermMap([[a('a'), a('b')]])]))).toBe(
      '{ok,[1,2.5,<<"bin">>,#{a => b}]}',
    );
  });

  it('prints maps with keys in map key order (integers before floats)', () => {
    expect(inspect(new TermMap())).toBe('#{}');
    const m = new TermMap<Term, Term>([
      [new Tuple([1.5]), a('x')],
      [1.5, a('b')],
      [2, a('c')],
      [new Tuple([2]), a('y')],
      [1, a('a')],
    ]);
    expect(inspect(m)).toBe('#{1 => a,2 => c,1.5 => b,{2} => y,{1.5} => x}');
    // At every depth, in map and improper-list keys too (as erl 25.2.3 prints them).
    const maps = new TermMap<Term, Term>([
      [new TermMap([[float(1), a('a')]]), a('y')],
      [new TermMap([[2, a('a')]]), a('x')],
    ]);
    expect(inspect(maps)).toBe('#{#{2 => a} => x,#{1.0 => a} => y}');
    const improper = new TermMap<Term, Term>([
      [new ImproperList([1], float(2)), a('x')],
      [new ImproperList([1], 1), a('y')],
      [new ImproperList([0.5], a('b')), a('z')],
    ]);
    expect(inspect(improper)).toBe('#{[1|1] => y,[1|2.0] => x,[0.5|b] => z}');
    // Keys that are not terms cannot be ordered; inspect still prints.
    expect(
      inspect(
        new Map<Term, Term>([
          [undefined as unknown as Term, 1],
          [a('a'), 2],
        ]),
      ),
    ).toMatch(/^#\{/);
    expect(
      inspect(
        new Map<Term, Term>([
          [a('b'), 2],
          [a('a'), 1],
        ]),
      ),
    ).toBe('#{a => 1,b => 2}');
    expect(inspect({ b: 1, a: [a('x')] })).toBe('#{<<"a">> => [x],<<"b">> => 1}');
    expect(inspect(Object.create(null) as Record<string, Term>)).toBe('#{}');
  });

  it('prints funs; an export fun reads back', () => {
    const f = new ExportFun(a('lists'), a('map'), 2);
    expect(inspect(f)).toBe('fun lists:map/2');
    expect(inspect(new ExportFun(a('a b'), a('if'), 0))).toBe("fun 'a b':'if'/0");
    const pid = new Pid(a('n@h'), 1, 0, 1);
    const local = makeFun(a('fx'), 1, new Uint8Array(16), 7, 7, 89742274, pid, []);
    expect(inspect(local)).toBe('#Fun<fx.7.89742274>');
  });

  it('prints pids, references and ports with the node name', () => {
    expect(inspect(new Pid(a('a@host'), 85, 0, 3))).toBe('<a@host.85.0>');
    // Words most significant first, as erl prints them.
    expect(inspect(new Reference(a('a@host'), 3, [121073, 989593601, 3176017764]))).toBe(
      '#Ref<a@host.3176017764.989593601.121073>',
    );
    expect(inspect(new Port(a('a@host'), 5, 3))).toBe('#Port<a@host.5>');
    expect(inspect(new Port(a('a@host'), 2n ** 60n, 3))).toBe(`#Port<a@host.${2n ** 60n}>`);
  });

  it('prints values that are not terms as #JS<...> and cycles as ..., without throwing', () => {
    expect(inspect(Number.NaN)).toBe('#JS<NaN>');
    expect(inspect(float(Number.POSITIVE_INFINITY))).toBe('#JS<Infinity>');
    expect(inspect(undefined as unknown as Term)).toBe('#JS<undefined>');
    expect(inspect(null as unknown as Term)).toBe('#JS<null>');
    expect(inspect(new Date(0) as unknown as Term)).toBe('#JS<Date>');
    const loop: Term[] = [1];
    loop.push(loop);
    expect(inspect(loop)).toBe('[1,...]');
  });
});

describe('inspect: maxDepth, as ~P', () => {
  const big = parseTerm(
    '{ok,[1,2,3,4,5,6,7,8,9,10],<<"hello world, this is a long binary">>,#{a => [x,y,z]}}',
  );

  it('cuts containers, as erl', () => {
    const cases: [Term, number, string][] = [
      [[a('a'), a('b'), a('c')], 0, '...'],
      [[a('a'), a('b'), a('c')], 1, '[...]'],
      [[a('a'), a('b'), a('c')], 2, '[a|...]'],
      [[a('a'), a('b'), a('c')], 3, '[a,b|...]'],
      [[a('a'), a('b'), a('c')], 4, '[a,b,c]'],
      [new ImproperList([a('a'), a('b')], a('c')), 3, '[a,b|...]'],
      [new ImproperList([a('a'), a('b')], a('c')), 4, '[a,b|c]'],
      [tuple(a('a'), a('b'), a('c'), a('d')), 3, '{a,b,...}'],
      [tuple(a('a'), a('b'), a('c'), a('d')), 5, '{a,b,c,d}'],
      [
        new TermMap<Term, Term>([
          [a('a'), 1],
          [a('b'), tuple(a('x'), a('y'))],
          [a('c'), 3],
        ]),
        3,
        '#{a => 1,b => {x,...},...}',
      ],
      [[104, 105], 1, '[...]'],
      [[104, 105], 2, '"hi"'],
      [[[[[a('a')]]]], 4, '[[[[...]]]]'],
    ];
    for (const [t, d, text] of cases) expect(inspect(t, { maxDepth: d }), `${text} at ${d}`).toBe(text);
    expect(inspect(big, { maxDepth: 4 })).toBe('{ok,[1|...],<<...>>,...}');
    expect(inspect(big, { maxDepth: -1 })).toBe(inspect(big));
  });

  it('cuts binaries, 4 characters a level, as erl', () => {
    const hello = Buffer.from([...Buffer.from('hello'), 0, 1, 2]);
    const cases: [Term, number, string][] = [
      [hello, 1, '<<...>>'],
      [hello, 2, '<<"hell"...>>'],
      [hello, 3, '<<"hello"...>>'],
      [Buffer.from('hello world, this is long text!'), 4, '<<"hello world,"...>>'],
      [Buffer.from([1, 2, 3, 4, 5]), 3, '<<1,2,...>>'],
      [new BitBinary(Buffer.from([1, 2, 0x60]), 3), 3, '<<1,2,...>>'],
      [new BitBinary(Buffer.from([1, 2, 0x60]), 3), 4, '<<1,2,3:3>>'],
      [Buffer.from('üüüüü', 'utf8'), 2, '<<"üüüü"/utf8...>>'],
      [Buffer.from('üüüüü', 'utf8'), 3, '<<"üüüüü"/utf8>>'],
    ];
    for (const [t, d, text] of cases) expect(inspect(t, { maxDepth: d }), `${text} at ${d}`).toBe(text);
  });
});

describe('inspect: maxLength', () => {
  const big = parseTerm(
    '{ok,[1,2,3,4,5,6,7,8,9,10],<<"hello world, this is a long binary">>,#{a => [x,y,z]}}',
  );
  const full = inspect(big);

  it('cuts at element boundaries and inside text, closing the brackets', () => {
    expect(inspect(big, { maxLength: 3 })).toBe('...');
    expect(inspect(big, { maxLength: 1 })).toBe('...');
    expect(inspect(big, { maxLength: 5 })).toBe('{...}');
    expect(inspect(big, { maxLength: 15 })).toBe('{ok,[1,2|...]}');
    expect(inspect(big, { maxLength: 40 })).toBe('{ok,[1,2,3,4,5,6,7,8,9,10],<<"hel"...>>}');
    expect(inspect(big, { maxLength: 80 })).toBe(
      '{ok,[1,2,3,4,5,6,7,8,9,10],<<"hello world, this is a long binary">>,#{a => ...}}',
    );
    expect(inspect(big, { maxLength: full.length })).toBe(full);
    expect(inspect([104, 101, 108, 108, 111], { maxLength: 6 })).toBe('"h"...');
    expect(inspect(Buffer.from([1, 2, 3, 4, 5]), { maxLength: 12 })).toBe('<<1,2,...>>');
    expect(inspect(tuple(a('data'), Buffer.from('x'.repeat(1e6))), { maxLength: 27 })).toBe(
      '{data,<<"xxxxxxxxxxx"...>>}',
    );
  });

  it('never gives more than maxLength characters', () => {
    for (let n = 3; n <= full.length + 2; n++) {
      const s = inspect(big, { maxLength: n });
      expect(s.length, s).toBeLessThanOrEqual(n);
      if (n >= full.length) expect(s).toBe(full);
    }
  });
});
