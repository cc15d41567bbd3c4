/**
 * Node settings: validation at start (class, code, the option named), the limits reaching the
 * parts they bound, and docs/settings.md kept true to `nodeDefaults`.
 */

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fragmentDefaults } from '../../src/dist/fragments.ts';
import { Node } from '../../src/node/node.ts';
import {
  decodeLimits,
  fragmentLimits,
  NodeError,
  type NodeOptions,
  nodeDefaults,
  OptionError,
  validateNodeOptions,
} from '../../src/node/options.ts';
import { DEFAULT_MAILBOX_LIMIT } from '../../src/node/process-table.ts';
import { rpcDefaults } from '../../src/services/rpc.ts';
import { DECODE_DEFAULTS } from '../../src/term/decode.ts';
import { encode } from '../../src/term/encode.ts';
import { atom, Pid, Tuple } from '../../src/term/types.ts';
import { useTestCluster } from '../support/cluster.ts';
import { until } from '../support/dist-helpers.ts';
import { type RawPeer, rawConnect } from '../support/raw-peer.ts';

const base: NodeOptions = { name: 'opt@127.0.0.1', cookie: 'c' };

function optionError(extra: Record<string, unknown>): OptionError {
  try {
    validateNodeOptions({ ...base, ...extra } as NodeOptions);
  } catch (e) {
    if (e instanceof OptionError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(extra)} to be refused`);
}

describe('option validation', () => {
  it('accepts the defaults, every documented limit, and Infinity where it means "no bound"', () => {
    expect(() => validateNodeOptions(base)).not.toThrow();
    expect(() => validateNodeOptions({ ...base, ...nodeDefaults })).not.toThrow();
    expect(() =>
      validateNodeOptions({
        ...base,
        mailboxLimit: Number.POSITIVE_INFINITY,
        rpcTimeoutMs: Number.POSITIVE_INFINITY,
        atomBudget: 0,
        epmd: { host: '127.0.0.1', port: 4369 },
        listen: { host: '127.0.0.1', port: 0 },
        decode: { atomBudget: 5, copyBinaries: true },
        fragments: { maxFragmentSequences: 3 },
        allow: ['a@h', 'h'],
        logger: {},
        tls: { cert: 'c', key: Buffer.from('k'), ca: ['a', Buffer.from('b')], verify: false },
      }),
    ).not.toThrow();
  });

  it.each([
    ['maxFrameBytes', -1, 'an integer in 1..4294967295'],
    ['maxFrameBytes', 2 ** 32, 'an integer in 1..4294967295'],
    ['maxFrameBytes', 1.5, 'an integer in 1..4294967295'],
    ['maxFrameBytes', '1024', 'an integer in 1..4294967295'],
    ['maxMessageBytes', 0, 'an integer >= 1'],
    ['atomBudget', -1, 'an integer >= 0'],
    ['atomBudget', Number.NaN, 'an integer >= 0'],
    ['maxTermDepth', 0, 'an integer >= 1'],
    ['maxFragmentSequences', 2.5, 'an integer >= 1'],
    ['mailboxLimit', 0, 'an integer >= 1 or Infinity'],
    ['maxPendingHandshakes', Number.POSITIVE_INFINITY, 'an integer >= 1'],
    ['maxQueuedSignals', null, 'an integer >= 1'],
    ['maxConcurrentRpc', -5, 'an integer >= 1'],
    ['rpcTimeoutMs', 0, 'an integer >= 1 or Infinity'],
    ['netTicktimeMs', 0, 'an integer in 1..2147483647'],
    ['setupTimeoutMs', 2 ** 31, 'an integer in 1..2147483647'],
    ['epmdPort', 70_000, 'an integer in 1..65535'],
    ['hidden', 'yes', 'a boolean'],
    ['cookie', 42, 'a string'],
    ['allow', 'a@h', 'an array of strings'],
    ['randomChallenge', 7, 'a function'],
    ['epmd', 'sometimes', "'auto', 'external', 'embedded' or { host, port }"],
  ])('refuses %s = %o', (option, value, expected) => {
    const e = optionError({ [option]: value });
    expect(e).toBeInstanceOf(NodeError);
    expect(e.code).toBe('invalid_option');
    expect(e.option).toBe(option);
    expect(e.message).toContain(`option ${option} must be ${expected}, got `);
  });

  it('names nested options with their path, and refuses unknown ones', () => {
    expect(optionError({ decode: { atomBudget: -1 } }).option).toBe('decode.atomBudget');
    expect(optionError({ decode: { copyBinaries: 1 } }).option).toBe('decode.copyBinaries');
    expect(optionError({ fragments: { maxFragmentedMessageBytes: 0 } }).option).toBe(
      'fragments.maxFragmentedMessageBytes',
    );
    expect(optionError({ listen: { port: -1 } }).option).toBe('listen.port');
    expect(optionError({ epmd: { host: 'h', port: 0 } }).option).toBe('epmd.port');
    expect(optionError({ tls: { key: 'k' } }).option).toBe('tls.cert');
    expect(optionError({ tls: { cert: 'c', key: 'k', ca: ['a', 3] } }).option).toBe('tls.ca[1]');
    expect(optionError({ logger: { warn: 'loud' } }).option).toBe('logger.warn');
    expect(optionError({ logger: null }).option).toBe('logger');
    const typo = optionError({ maxFrameByte: 10 });
    expect(typo.option).toBe('maxFrameByte');
    expect(typo.message).toContain('a known option');
    expect(optionError({ decode: { maxBites: 1 } }).option).toBe('decode.maxBites');
  });

  it('rejects Node.start before listening', async () => {
    await expect(Node.start({ ...base, mailboxLimit: -1 })).rejects.toMatchObject({
      name: 'OptionError',
      code: 'invalid_option',
      option: 'mailboxLimit',
    });
  });
});

describe('defaults and limits', () => {
  it('keeps one set of defaults: nodeDefaults agrees with the modules that apply them', () => {
    expect(nodeDefaults.atomBudget).toBe(DECODE_DEFAULTS.atomBudget);
    expect(nodeDefaults.maxMessageBytes).toBe(DECODE_DEFAULTS.maxBytes);
    expect(nodeDefaults.maxMessageBytes).toBe(fragmentDefaults.maxFragmentedMessageBytes);
    expect(nodeDefaults.maxTermDepth).toBe(DECODE_DEFAULTS.maxDepth);
    expect(nodeDefaults.maxFragmentSequences).toBe(fragmentDefaults.maxFragmentSequences);
    expect(nodeDefaults.mailboxLimit).toBe(DEFAULT_MAILBOX_LIMIT);
    expect(nodeDefaults.maxConcurrentRpc).toBe(rpcDefaults.maxConcurrent);
    expect(nodeDefaults.rpcTimeoutMs).toBe(rpcDefaults.timeoutMs);
  });

  it('derives decoder and fragment limits from the flat options, nested ones overriding', () => {
    expect(decodeLimits(base)).toEqual({
      maxBytes: DECODE_DEFAULTS.maxBytes,
      maxDepth: DECODE_DEFAULTS.maxDepth,
      atomBudget: DECODE_DEFAULTS.atomBudget,
    });
    expect(decodeLimits({ ...base, atomBudget: 7, maxMessageBytes: 100, decode: { maxDepth: 3 } })).toEqual({
      maxBytes: 100,
      maxDepth: 3,
      atomBudget: 7,
    });
    expect(fragmentLimits({ ...base, maxMessageBytes: 100, fragments: { maxFragmentSequences: 2 } })).toEqual(
      {
        maxFragmentedMessageBytes: 100,
        maxFragmentSequences: 2,
      },
    );
  });

  it('documents every default in docs/settings.md, with its value', () => {
    const doc = readFileSync(new URL('../../docs/settings.md', import.meta.url), 'utf8');
    for (const [key, value] of Object.entries(nodeDefaults)) {
      const row = doc.split('\n').find((line) => new RegExp(`^\\|\\s*\`${key}\`\\s*\\|`).test(line));
      expect(row, key).toBeDefined();
      const cell = row!.split('|')[2]!.trim().replaceAll('`', '');
      expect(cell.startsWith(String(value)), `${key}: ${cell} vs ${value}`).toBe(true);
    }
  });
});

describe('limits reach what they bound', () => {
  const raws: RawPeer[] = [];
  const cluster = useTestCluster({
    cookie: 'opt-cookie',
    prefix: 'opts',
    afterEachTest: () => {
      for (const r of raws.splice(0)) r.socket.destroy();
    },
  });
  const tsNode = (opts: Partial<NodeOptions>): Promise<Node> => cluster.tsNode(opts);

  it('applies mailboxLimit to new processes', async () => {
    const a = await tsNode({ mailboxLimit: 3 });
    const pid = a.spawn(() => new Promise(() => undefined));
    expect(a.processes.info(pid)?.mailboxLimit).toBe(3);
    for (let i = 0; i < 4; i++) a.send(pid, i);
    await until(() => !a.processes.isAlive(pid), 5_000, 'the overflowing process to exit');
  });

  it('applies atomBudget to messages from peers', async () => {
    const a = await tsNode({ atomBudget: 2 });
    a.spawn(() => new Promise(() => undefined), { name: atom('budget') });
    const raw = await rawConnect({
      port: a.port,
      name: 'rawopt@127.0.0.1',
      cookie: 'opt-cookie',
      peer: a.name,
    });
    raws.push(raw);
    // REG_SEND to `budget` whose payload is a list of atoms never seen in this OS process.
    const control = encode(
      new Tuple([6, new Pid(atom('rawopt@127.0.0.1'), 1, 0, 1), atom(''), atom('budget')]),
    ).subarray(1);
    const fresh = (n: number): Buffer => {
      const parts: Buffer[] = [Buffer.from([108, 0, 0, 0, n])];
      for (let i = 0; i < n; i++) {
        const name = Buffer.from(`never_${randomUUID()}`);
        parts.push(Buffer.from([119, name.length]), name);
      }
      parts.push(Buffer.from([106]));
      return Buffer.concat(parts);
    };
    raw.sendFrame(Buffer.concat([Buffer.from([131, 68, 0]), control, fresh(2)]));
    const down = new Promise<string | undefined>((resolve) =>
      a.once('nodedown', (_n, info) => resolve(info.detail)),
    );
    raw.sendFrame(Buffer.concat([Buffer.from([131, 68, 0]), control, fresh(3)]));
    expect(await down).toBe('atom_budget');
  });

  it('applies maxConcurrentRpc to calls into the node', async () => {
    const a = await tsNode({ maxConcurrentRpc: 1 });
    const b = await tsNode({});
    let release: () => void = () => undefined;
    a.rpc.expose('slow', { wait: () => new Promise<void>((r) => (release = r)) });
    const first = b.rpc.call(a.name, 'slow', 'wait', []);
    await until(() => a.rpc.runningCalls === 1, 5_000, 'the first call to run');
    await expect(b.rpc.call(a.name, 'slow', 'wait', [])).rejects.toMatchObject({ code: 'badrpc' });
    release();
    await first;
  });
});
