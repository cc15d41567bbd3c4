/**
 * The pure parts of RPC: option parsing, the erpc and rex result envelopes in both directions,
 * and the Erlang stack made from a JavaScript error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErlangException, RpcError } from '../../src/services/errors.ts';
import {
  erlangStack,
  erpcReason,
  type Outcome,
  parseSpawnOptions,
  processExitReason,
  rexReply,
  thrownOutcome,
} from '../../src/services/rex.ts';
import { erpcOutcome, outcomeResult, rexOutcome } from '../../src/services/rpc.ts';
import { atom, encode, equals, Reference, type Term, Tuple, tuple } from '../../src/term/index.ts';
import { arbReference, arbTerm } from '../support/term-arbitrary.ts';

const M = atom('m');
const F = atom('f');
const ctx = { node: 'n@h', module: M, function: F, arity: 1 };

const arbOutcome: fc.Arbitrary<Outcome> = fc.oneof(
  arbTerm.map((value): Outcome => ({ kind: 'return', value })),
  arbTerm.map((value): Outcome => ({ kind: 'throw', value })),
  arbTerm.map((reason): Outcome => ({ kind: 'exit', reason })),
  fc
    .tuple(
      arbTerm,
      fc.array(
        arbTerm.map((t) => tuple(M, F, 0, [t])),
        { maxLength: 3 },
      ),
    )
    .map(([reason, stacktrace]): Outcome => ({ kind: 'error', reason, stacktrace })),
  arbTerm.map((reason): Outcome => ({ kind: 'erpc', reason })),
);

function sameOutcome(a: Outcome | undefined, b: Outcome): boolean {
  if (a === undefined || a.kind !== b.kind) return false;
  const pa = a as Record<string, Term>;
  const pb = b as Record<string, Term>;
  return ['value', 'reason', 'stacktrace'].every((k) =>
    k in pb ? equals(pa[k] as Term, pb[k] as Term) : true,
  );
}

describe('spawn options', () => {
  it('reads link and monitor as atoms or tuples and ignores the rest', () => {
    expect(parseSpawnOptions([])).toEqual({ link: false, monitor: false });
    expect(parseSpawnOptions([atom('monitor')])).toEqual({ link: false, monitor: true });
    expect(parseSpawnOptions([tuple(atom('monitor'), [])])).toEqual({ link: false, monitor: true });
    expect(parseSpawnOptions([atom('link'), tuple(atom('priority'), atom('high'))])).toEqual({
      link: true,
      monitor: false,
    });
    expect(parseSpawnOptions([1, 'x', tuple(), tuple(1, 2), [atom('monitor')], atom('monitors')])).toEqual({
      link: false,
      monitor: false,
    });
  });

  it('never throws on any option list', () => {
    fc.assert(
      fc.property(fc.array(arbTerm, { maxLength: 8 }), (options) => {
        const r = parseSpawnOptions(options);
        expect(typeof r.link).toBe('boolean');
      }),
    );
  });
});

describe('erpc envelope', () => {
  it('decodes what it encodes, for any outcome, and only for its own result reference', () => {
    fc.assert(
      fc.property(arbReference, arbReference, arbOutcome, (res, other, outcome) => {
        const reason = erpcReason(res, outcome);
        // It goes on the wire as it is.
        expect(encode(reason).length).toBeGreaterThan(0);
        expect(sameOutcome(erpcOutcome(reason, res), outcome)).toBe(true);
        if (!equals(res, other)) expect(erpcOutcome(reason, other)).toBeUndefined();
      }),
    );
  });

  it('has the shapes erpc:execute_call/4 produces', () => {
    const res = new Reference(atom('n@h'), 1, [1, 2, 3]);
    expect(erpcReason(res, { kind: 'return', value: 1 })).toEqual(tuple(res, atom('return'), 1));
    expect(erpcReason(res, { kind: 'error', reason: atom('badarg'), stacktrace: [] })).toEqual(
      tuple(res, atom('error'), atom('badarg'), []),
    );
    expect(erpcReason(res, { kind: 'erpc', reason: atom('badarg') })).toEqual(
      tuple(res, atom('error'), tuple(atom('erpc'), atom('badarg'))),
    );
    for (const bad of [
      atom('noconnection'),
      tuple(res, atom('other'), 1),
      tuple(res),
      42,
      tuple(1, atom('return'), 1),
    ]) {
      expect(erpcOutcome(bad, res)).toBeUndefined();
    }
  });

  it('maps outcomes to values and errors; undef only for the called function itself', () => {
    expect(outcomeResult({ kind: 'return', value: tuple(atom('badrpc'), 1) }, ctx)).toEqual(
      tuple(atom('badrpc'), 1),
    );
    const undef = outcomeResult(
      { kind: 'error', reason: atom('undef'), stacktrace: [tuple(M, F, [1], [])] },
      ctx,
    ) as RpcError;
    expect(undef).toBeInstanceOf(RpcError);
    expect(undef.code).toBe('undef');
    const inner = outcomeResult(
      {
        kind: 'error',
        reason: atom('undef'),
        stacktrace: [tuple(atom('other'), F, [1], []), tuple(M, F, 1, [])],
      },
      ctx,
    ) as RpcError;
    expect(inner).toMatchObject({ code: 'exception', class: 'error', reason: atom('undef') });
    expect(outcomeResult({ kind: 'throw', value: 1 }, ctx)).toMatchObject({
      code: 'exception',
      class: 'throw',
    });
    expect(outcomeResult({ kind: 'exit', reason: 1 }, ctx)).toMatchObject({
      code: 'exception',
      class: 'exit',
    });
    expect(outcomeResult({ kind: 'erpc', reason: atom('badarg') }, ctx)).toMatchObject({
      code: 'badrpc',
      term: tuple(atom('EXIT'), atom('badarg')),
    });
  });
});

describe('rex envelope', () => {
  it('answers as OTP rex does', () => {
    expect(rexReply({ kind: 'return', value: 1 })).toBe(1);
    expect(rexReply({ kind: 'throw', value: 2 })).toBe(2);
    expect(rexReply({ kind: 'exit', reason: atom('x') })).toEqual(
      tuple(atom('badrpc'), tuple(atom('EXIT'), atom('x'))),
    );
    expect(rexReply({ kind: 'error', reason: atom('x'), stacktrace: [] })).toEqual(
      tuple(atom('badrpc'), tuple(atom('EXIT'), tuple(atom('x'), []))),
    );
  });

  it('reads back errors with a stack and exits; plain values are values', () => {
    fc.assert(
      fc.property(arbTerm, (value) => {
        const o = rexOutcome(rexReply({ kind: 'return', value }));
        const isBadrpc = value instanceof Tuple && value.length === 2 && value.elements[0] === atom('badrpc');
        if (!isBadrpc) expect(o.kind === 'return' && equals(o.value, value)).toBe(true);
      }),
    );
    const stack = [tuple(M, F, 1, [])];
    expect(rexOutcome(rexReply({ kind: 'error', reason: atom('boom'), stacktrace: stack }))).toEqual({
      kind: 'error',
      reason: atom('boom'),
      stacktrace: stack,
    });
    expect(rexOutcome(rexReply({ kind: 'exit', reason: atom('bye') }))).toEqual({
      kind: 'exit',
      reason: atom('bye'),
    });
    expect(rexOutcome(tuple(atom('badrpc'), atom('nodedown')))).toEqual({
      kind: 'badrpc',
      term: atom('nodedown'),
    });
  });
});

describe('exceptions of exposed functions', () => {
  it('keeps the class and reason of an ErlangException', () => {
    expect(thrownOutcome(ErlangException.throw(1), M, F, 1)).toEqual({ kind: 'throw', value: 1 });
    expect(thrownOutcome(ErlangException.exit(2), M, F, 1)).toEqual({ kind: 'exit', reason: 2 });
    expect(thrownOutcome(ErlangException.error(3), M, F, 1)).toEqual({
      kind: 'error',
      reason: 3,
      stacktrace: [tuple(M, F, 1, [])],
    });
    expect(thrownOutcome(ErlangException.error(3, []), M, F, 1)).toEqual({
      kind: 'error',
      reason: 3,
      stacktrace: [],
    });
  });

  it('turns a JavaScript error into {js_error, ...} with Erlang frames ending at the function', () => {
    const err = new Error('nope');
    err.stack = [
      'Error: nope',
      '    at handler (/app/src/handlers/users.ts:12:7)',
      '    at async Promise.all (index 0)',
      '    at file:///app/lib/db.mjs:40:3',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    ].join('\n');
    const o = thrownOutcome(err, M, F, 2);
    expect(o.kind).toBe('error');
    const stack = erlangStack(err, M, F, 2);
    const chars = (s: string): number[] => [...s].map((c) => c.codePointAt(0) as number);
    expect(stack).toEqual([
      tuple(atom('users'), atom('handler'), 0, [
        tuple(atom('file'), chars('/app/src/handlers/users.ts')),
        tuple(atom('line'), 12),
      ]),
      tuple(atom('db'), atom('<anonymous>'), 0, [
        tuple(atom('file'), chars('/app/lib/db.mjs')),
        tuple(atom('line'), 40),
      ]),
      tuple(M, F, 2, []),
    ]);
    expect(erlangStack('not an error', M, F, 0)).toEqual([tuple(M, F, 0, [])]);
    expect(encode(o.kind === 'error' ? o.reason : 0).length).toBeGreaterThan(0);
  });

  it('gives a plain spawned process the exit reasons of the BEAM', () => {
    expect(processExitReason({ kind: 'return', value: 1 })).toBe(atom('normal'));
    expect(processExitReason({ kind: 'exit', reason: atom('x') })).toBe(atom('x'));
    expect(processExitReason({ kind: 'error', reason: atom('x'), stacktrace: [] })).toEqual(
      tuple(atom('x'), []),
    );
    expect(processExitReason({ kind: 'throw', value: 1 })).toEqual(tuple(tuple(atom('nocatch'), 1), []));
  });
});
