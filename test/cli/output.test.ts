/**
 * The CLI's pure parts in-process: the term-to-JSON mapping, `--epmd` and HOST:PORT parsing,
 * error lines, and the output streams (JSON vs text, NO_COLOR / non-TTY).
 */
import { describe, expect, it } from 'vitest';
import { nodesOf } from '../../src/cli/builtins.ts';
import { parseHostPort } from '../../src/cli/commands/names.ts';
import { parseArgs } from '../../src/cli/commands/rpc.ts';
import { parseEpmdMode } from '../../src/cli/commands/start.ts';
import { CliError, describeError } from '../../src/cli/errors.ts';
import { Output, termToJson } from '../../src/cli/output.ts';
import type { Node } from '../../src/node/node.ts';
import { ErlangException } from '../../src/services/errors.ts';
import { parseTerm } from '../../src/term/parse.ts';
import { atom, Pid, Tuple } from '../../src/term/types.ts';

function capture(isTTY: boolean, env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const streams = {
    stdout: { write: (s: string) => out.push(s), isTTY },
    stderr: { write: (s: string) => err.push(s), isTTY },
    env,
  };
  return { streams, out, err };
}

describe('termToJson', () => {
  it('tags what JSON has no type for, losslessly', () => {
    expect(
      termToJson(parseTerm('{ok, [1, 2.5, 1.0, <<"hi">>, "ab", [a | b], #{k => v}, 99999999999999999999]}')),
    ).toEqual({
      $tuple: [
        { $atom: 'ok' },
        [
          1,
          2.5,
          { $float: 1 },
          { $binary: 'aGk=' },
          [97, 98],
          { $improper: [{ $atom: 'a' }], $tail: { $atom: 'b' } },
          { $map: [[{ $atom: 'k' }, { $atom: 'v' }]] },
          { $bigint: '99999999999999999999' },
        ],
      ],
    });
    expect(termToJson(parseTerm('<<1:3>>'))).toEqual({ $binary: 'IA==', $bits: 3 });
    expect(termToJson(true)).toBe(true);
    expect(termToJson(new Pid(atom('n@h'), 1, 2, 3))).toEqual({ $pid: '<n@h.1.2>' });
  });
});

describe('argument parsing', () => {
  it('--epmd: modes and HOST:PORT; anything else is a usage error', () => {
    expect(parseEpmdMode(undefined)).toBe('auto');
    expect(parseEpmdMode('embedded')).toBe('embedded');
    expect(parseEpmdMode('10.0.0.1:4370')).toEqual({ host: '10.0.0.1', port: 4370 });
    expect(parseHostPort('[::1]:4369', '--epmd')).toEqual({ host: '::1', port: 4369 });
    for (const bad of ['sideways', 'h:0', 'h:70000', ':4369', 'h:x']) {
      expect(() => parseEpmdMode(bad)).toThrow(expect.objectContaining({ code: 'usage', exitCode: 2 }));
    }
  });

  it('rpc arguments: one term each; a bad one names its position and offset', () => {
    expect(parseArgs(['[1,2,3]', 'a'])).toEqual([[1, 2, 3], atom('a')]);
    expect(() => parseArgs(['1', '{a,'])).toThrow(
      new CliError(
        'bad_term',
        'argument 2 is not an Erlang term: unexpected_end at offset 3: expected a term (in "{a,")',
      ),
    );
  });
});

describe('Output', () => {
  it('prints text, or one JSON line per result; failures go to stderr as one line', () => {
    const text = capture(false);
    new Output(text.streams, false).result('pong', { ok: true });
    expect(text.out).toEqual(['pong\n']);
    const json = capture(false);
    const o = new Output(json.streams, true);
    o.result('pong', { ok: true });
    o.note('only for humans');
    o.failure('unreachable', 'cannot reach x\nreally');
    expect(json.out).toEqual([
      '{"ok":true}\n',
      '{"ok":false,"error":{"code":"unreachable","message":"cannot reach x really"}}\n',
    ]);
    expect(json.err).toEqual(['error: cannot reach x really\n']);
  });

  it('colours only on a terminal without NO_COLOR', () => {
    expect(new Output(capture(true).streams, false).color.isColorSupported).toBe(true);
    expect(new Output(capture(false).streams, false).color.isColorSupported).toBe(false);
    expect(new Output(capture(true, { NO_COLOR: '1' }).streams, false).color.isColorSupported).toBe(false);
    expect(new Output(capture(true).streams, true).color.isColorSupported).toBe(false);
  });

  it('describeError gives a code and exit code for every error', () => {
    expect(describeError(new CliError('usage', 'bad'))).toEqual({
      code: 'usage',
      message: 'bad',
      exitCode: 2,
    });
    expect(describeError(new Error('boom'))).toEqual({ code: 'failed', message: 'boom', exitCode: 1 });
  });
});

describe('built-in erlang:nodes/1 of CLI nodes', () => {
  const node = {
    name: 'me@h',
    nodes: (kind: string) => (kind === 'visible' ? ['v@h'] : kind === 'hidden' ? ['h@h'] : []),
  } as unknown as Node;
  it('answers the kinds the BIF knows, and badarg otherwise', () => {
    expect(nodesOf(node, atom('visible'))).toEqual([atom('v@h')]);
    expect(nodesOf(node, atom('connected'))).toEqual([atom('v@h'), atom('h@h')]);
    expect(nodesOf(node, [atom('this'), atom('hidden')])).toEqual([atom('me@h'), atom('h@h')]);
    expect(() => nodesOf(node, atom('everything'))).toThrow(ErlangException);
    expect(() => nodesOf(node, new Tuple([]))).toThrow(ErlangException);
  });
});
