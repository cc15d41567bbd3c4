/**
 * `distribute rpc NODE MOD FUN [ARG...]`: calls `MOD:FUN(ARG...)` on NODE (`erpc:call`) from a
 * short-lived hidden node and prints the result in Erlang term syntax. Each ARG is one Erlang
 * term (`'[1,2,3]'`, `'<<"bin">>'`, `'#{a => 1}'`); MOD and FUN are atom names as typed.
 *
 * @module
 */

import { rpcDefaults } from '../../services/rpc.ts';
import { inspect } from '../../term/inspect.ts';
import { parseTerm } from '../../term/parse.ts';
import type { Term } from '../../term/types.ts';
import { connectTo, type TlsFiles, targetName, withClient } from '../client.ts';
import { type CliContext, parseTimeout } from '../context.ts';
import { badTerm, usageError } from '../errors.ts';
import { termToJson } from '../output.ts';

/** Options of `rpc`. */
export interface RpcCommandOptions extends TlsFiles {
  readonly cookie?: string;
  readonly timeout?: string;
}

/** Parses each argument as one Erlang term; a bad one fails with its position and offset. */
export function parseArgs(texts: readonly string[]): Term[] {
  return texts.map((text, i) => {
    try {
      return parseTerm(text);
    } catch (e) {
      throw badTerm(`argument ${i + 1}`, text, e);
    }
  });
}

/** Runs `distribute rpc NODE MOD FUN [ARG...]`. */
export async function rpc(
  ctx: CliContext,
  nodeText: string,
  mod: string,
  fun: string,
  argTexts: readonly string[],
  options: RpcCommandOptions,
): Promise<void> {
  const target = targetName(nodeText);
  if (mod.length === 0 || mod.length > 255 || fun.length === 0 || fun.length > 255) {
    throw usageError('MOD and FUN must be atom names of 1..255 characters');
  }
  const timeoutMs = parseTimeout(options.timeout, rpcDefaults.timeoutMs);
  if (Number.isNaN(timeoutMs)) throw usageError(`--timeout must be milliseconds or infinity`);
  const args = parseArgs(argTexts);
  await withClient(target, { ...options, logger: ctx.logger }, async (node) => {
    await connectTo(node, target.full);
    const result = await node.rpc.call(target.full, mod, fun, args, { timeoutMs });
    const text = inspect(result);
    ctx.out.result(text, { ok: true, result: text, value: termToJson(result) });
  });
}
