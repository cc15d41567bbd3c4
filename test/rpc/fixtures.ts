/**
 * The functions the RPC suites expose on a TS node (module `fixture`), with hooks the tests use to
 * observe and steer them (casts received, a gate that holds `blocked/0` calls).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { Node } from '../../src/node/node.ts';
import { ErlangException, RpcError } from '../../src/services/errors.ts';
import { atom, type Term, tuple } from '../../src/term/index.ts';

/** What the fixture functions report to the test. */
export interface FixtureProbe {
  /** Arguments of each `fixture:record/1` call, in order. */
  readonly recorded: Term[];
  /** Resolves pending `fixture:blocked/0` calls (with `released`). */
  release(): void;
  /** `fixture:blocked/0` calls waiting. */
  blocked(): number;
  /** Resolves once `recorded` has `n` entries. */
  waitRecorded(n: number, ms?: number): Promise<void>;
}

/** Exposes module `fixture` on `node`. */
export function exposeFixtures(node: Node): FixtureProbe {
  const recorded: Term[] = [];
  let gate: (() => void)[] = [];
  const waiters: (() => void)[] = [];
  node.rpc.expose('fixture', {
    echo: (x: Term) => x,
    add: (a: number, b: number) => a + b,
    async_add: async (a: number, b: number) => {
      await sleep(1);
      return a + b;
    },
    throws: (v: Term) => {
      throw ErlangException.throw(v);
    },
    exits: (r: Term) => {
      throw ErlangException.exit(r);
    },
    errors: (r: Term) => {
      throw ErlangException.error(r);
    },
    fails: () => {
      throw new TypeError('boom');
    },
    async_fails: async () => {
      await sleep(1);
      throw new RangeError('later');
    },
    sleep: async (ms: number) => {
      await sleep(ms);
      return atom('slept');
    },
    badrpc: () => tuple(atom('badrpc'), atom('not_an_error')),
    nothing: () => undefined,
    unencodable: () => () => 1,
    typed: {
      schema: z.tuple([z.number().int(), z.number().int()]),
      fn: (a: number, b: number) => a * b,
    },
    variadic: { arity: [0, 1, 2], fn: (...xs: Term[]) => xs.length },
    blocked: () =>
      new Promise<Term>((resolve) => {
        gate.push(() => resolve(atom('released')));
      }),
    record: (x: Term) => {
      recorded.push(x);
      for (const w of waiters.splice(0)) w();
      return atom('ok');
    },
  });
  return {
    recorded,
    release: () => {
      const g = gate;
      gate = [];
      for (const r of g) r();
    },
    blocked: () => gate.length,
    waitRecorded: (n, ms = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${recorded.length} of ${n} recorded`)), ms);
        const check = (): void => {
          if (recorded.length >= n) {
            clearTimeout(timer);
            resolve();
          } else {
            waiters.push(check);
          }
        };
        check();
      }),
  };
}

/** The `RpcError` that `p` rejects with (any other outcome fails the test). */
export async function rejection(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RpcError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}
