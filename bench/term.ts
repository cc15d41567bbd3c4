/**
 * Term codec throughput: encode (term_to_binary) and decode (binary_to_term) for our codec
 * (`ts`, decoding with its default zero-copy binaries), the erlang_js package (`erlang_js`,
 * given its own natural values: OtpErlangAtom, OtpErlangBinary, ...) and the BEAM (`erl`,
 * bench/erl/term_bench.erl, started by this run on the same terms built the same way).
 *
 * For each case and metric the three are measured back to back (erl, then ts and erlang_js),
 * so that a machine shared with other work loads them alike. JS timings use tinybench; each
 * task runs a batch of calls sized to take about 0.2 ms, so the per-sample clock reads do not
 * count. The BEAM times batches the same way with erlang:monotonic_time.
 * `npx tsx bench/run.ts term`.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import erlangJs from 'erlang_js';
import { Bench } from 'tinybench';
import { atom, decode, encode, equals, type Term, tuple } from '../src/term/index.ts';
import { type ResultRow, writeResults } from './support/results.ts';

/** Measured time per task and per BEAM loop, after a warm-up. */
const TIME_MS = 700;
const WARMUP_MS = 200;
/** A JS task call runs calls in a batch lasting about this long. */
const BATCH_MS = 0.2;

const erlScript = join(dirname(fileURLToPath(import.meta.url)), 'erl', 'term_bench.erl');

interface Case {
  readonly name: string;
  /** Our value. */
  readonly ts: Term;
  /** erlang_js's value for the same Erlang term. */
  readonly ej: unknown;
}

interface ErlSize {
  readonly bytes: number;
  readonly md5: string;
}

const E = erlangJs.Erlang;
const ejAtom = (name: string): object => new E.OtpErlangAtom(name);
const ejBin = (data: Buffer): object => new E.OtpErlangBinary(data);
const ejList = (items: unknown[]): object => new E.OtpErlangList(items);
const ejMap = (entries: Array<[unknown, unknown]>): object => new E.OtpErlangMap(new Map(entries));

/** The terms of `cases/0` in bench/erl/term_bench.erl, for both JS codecs. Keep them in step. */
function buildCases(): Case[] {
  const mixed = (i: number): [Term, unknown] => {
    switch (i % 5) {
      case 0:
        return [i, i];
      case 1:
        return [atom('item'), ejAtom('item')];
      case 2:
        return [Buffer.from('bin'), ejBin(Buffer.from('bin'))];
      case 3:
        return [tuple(i, atom('x')), [i, ejAtom('x')]];
      default:
        return [i + 0.5, i + 0.5];
    }
  };
  const list200 = Array.from({ length: 200 }, (_, k) => mixed(k + 1));
  const bin64k = Buffer.from(Array.from({ length: 65536 }, (_, i) => i % 256));
  const records = Array.from({ length: 2900 }, (_, k) => record(k + 1));
  return [
    {
      name: 'small-msg',
      ts: tuple(atom('msg'), 42, Buffer.from('payload')),
      ej: [ejAtom('msg'), 42, ejBin(Buffer.from('payload'))],
    },
    {
      name: 'tuple10',
      ts: tuple(
        atom('ok'),
        42,
        -7,
        3.14,
        Buffer.from('abc'),
        [1, 2, 3],
        atom('hello'),
        100000,
        tuple(atom('a'), atom('b')),
        [],
      ),
      // erlang_js writes a JS string as STRING_EXT and reads STRING_EXT back as one: its own form of [1,2,3].
      ej: [
        ejAtom('ok'),
        42,
        -7,
        3.14,
        ejBin(Buffer.from('abc')),
        '\x01\x02\x03',
        ejAtom('hello'),
        100000,
        [ejAtom('a'), ejAtom('b')],
        ejList([]),
      ],
    },
    {
      name: 'map10',
      ts: new Map<Term, Term>([
        [atom('id'), 1],
        [atom('name'), Buffer.from('Alice')],
        [atom('age'), 30],
        [atom('email'), Buffer.from('alice@example.com')],
        [atom('active'), true],
        [atom('score'), 9.5],
        [atom('tags'), [atom('admin'), atom('user')]],
        [atom('created'), 1700000000],
        [atom('ticket'), tuple(atom('ticket'), 7)],
        [atom('meta'), new Map()],
      ]),
      ej: ejMap([
        [ejAtom('id'), 1],
        [ejAtom('name'), ejBin(Buffer.from('Alice'))],
        [ejAtom('age'), 30],
        [ejAtom('email'), ejBin(Buffer.from('alice@example.com'))],
        [ejAtom('active'), true],
        [ejAtom('score'), 9.5],
        [ejAtom('tags'), ejList([ejAtom('admin'), ejAtom('user')])],
        [ejAtom('created'), 1700000000],
        [ejAtom('ticket'), [ejAtom('ticket'), 7]],
        [ejAtom('meta'), ejMap([])],
      ]),
    },
    { name: 'list200', ts: list200.map(([t]) => t), ej: ejList(list200.map(([, e]) => e)) },
    { name: 'bin64k', ts: bin64k, ej: ejBin(bin64k) },
    { name: 'nested1m', ts: records.map(([t]) => t), ej: ejList(records.map(([, e]) => e)) },
  ];
}

/** One element of nested1m: `record/1` in term_bench.erl. */
function record(i: number): [Term, unknown] {
  const name = Buffer.from(`item-${i}`);
  const payload = Buffer.alloc(200, i % 256);
  const ts = new Map<Term, Term>([
    [atom('id'), i],
    [atom('name'), name],
    [atom('pos'), tuple(i, -i, i * 1.5 + 0.25)],
    [atom('tags'), [atom('alpha'), atom('beta'), atom('gamma')]],
    [atom('payload'), payload],
    [
      atom('children'),
      [tuple(atom('leaf'), i, Buffer.from('x')), tuple(atom('leaf'), i + 1, Buffer.from('y'))],
    ],
  ]);
  const ej = ejMap([
    [ejAtom('id'), i],
    [ejAtom('name'), ejBin(name)],
    [ejAtom('pos'), [i, -i, i * 1.5 + 0.25]],
    [ejAtom('tags'), ejList([ejAtom('alpha'), ejAtom('beta'), ejAtom('gamma')])],
    [ejAtom('payload'), ejBin(payload)],
    [
      ejAtom('children'),
      ejList([
        [ejAtom('leaf'), i, ejBin(Buffer.from('x'))],
        [ejAtom('leaf'), i + 1, ejBin(Buffer.from('y'))],
      ]),
    ],
  ]);
  return [ts, ej];
}

function ejEncode(term: unknown): Buffer {
  let out: Buffer | undefined;
  let failure: Error | undefined;
  E.term_to_binary(term, (error, data) => {
    failure = error;
    out = data;
  });
  if (out === undefined) throw failure ?? new Error('erlang_js term_to_binary did not call back');
  return out;
}

function ejDecode(bytes: Buffer): unknown {
  let out: unknown;
  let failure: Error | undefined;
  let called = false;
  E.binary_to_term(bytes, (error, term) => {
    called = true;
    failure = error;
    out = term;
  });
  if (!called || failure !== undefined)
    throw failure ?? new Error('erlang_js binary_to_term did not call back');
  return out;
}

/** term_bench.erl in a fresh `erl`, answering one command per line (see the file's header). */
class ErlBench {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  #waiting: ((line: string) => void) | undefined;
  #stderr = '';
  #exit: Error | undefined;

  constructor() {
    const path = JSON.stringify(erlScript);
    const boot =
      `{ok, M, B} = compile:file(${path}, [binary, return_errors]),` +
      `{module, M} = code:load_binary(M, ${path}, B),` +
      'M:serve().';
    this.#child = spawn('erl', ['-noshell', '-eval', boot], {
      env: { ...process.env, ERL_CRASH_DUMP_SECONDS: '0' },
    });
    let partial = '';
    this.#child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) this.#push(line.trim());
    });
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
    });
    const died = (why: string): void => {
      this.#exit = new Error(`erl bench ${why}: ${this.#stderr}`);
      this.#push('');
    };
    this.#child.once('error', (error) => died(error.message));
    this.#child.once('exit', (code, signal) => died(`exited (${code ?? signal})`));
  }

  #push(line: string): void {
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting(line);
    } else {
      this.#lines.push(line);
    }
  }

  async #line(): Promise<string> {
    const line = this.#lines.shift() ?? (await new Promise<string>((resolve) => (this.#waiting = resolve)));
    if (this.#exit !== undefined) throw this.#exit;
    return line;
  }

  /** Encoded size and md5 of each case on the BEAM. */
  async sizes(): Promise<Map<string, ErlSize>> {
    this.#child.stdin.write('sizes\n');
    const sizes = new Map<string, ErlSize>();
    for (let line = await this.#line(); line !== 'END'; line = await this.#line()) {
      const [tag, name, bytes, md5] = line.split(' ');
      if (tag !== 'SIZE' || name === undefined || md5 === undefined)
        throw new Error(`erl bench said: ${line}`);
      sizes.set(name, { bytes: Number(bytes), md5: md5.toLowerCase() });
    }
    return sizes;
  }

  /** Calls per second of term_to_binary (encode) or binary_to_term (decode) on one case. */
  async run(name: string, metric: string, timeMs: number): Promise<number> {
    this.#child.stdin.write(`run ${name} ${metric} ${timeMs}\n`);
    const line = await this.#line();
    const [tag, gotName, gotMetric, ops] = line.split(' ');
    if (tag !== 'RESULT' || gotName !== name || gotMetric !== metric)
      throw new Error(`erl bench said: ${line}`);
    return Number(ops);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin.end('quit\n');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Sizes a batch so one call of `run(batch)` takes about {@link BATCH_MS}. */
function batchSize(run: (n: number) => void): number {
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    run(n);
    if (performance.now() - t0 >= BATCH_MS || n >= 1 << 20) return n;
    n *= 2;
  }
}

/** Calls per second of `one`, timed by tinybench over {@link TIME_MS} in batches. */
async function jsOpsPerSecond(one: () => unknown, sink: { last: unknown }): Promise<number> {
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) sink.last = one();
  };
  const batch = batchSize(run);
  const bench = new Bench({ time: TIME_MS, warmupTime: WARMUP_MS, iterations: 10 });
  bench.add('task', () => run(batch));
  await bench.run();
  const result = bench.tasks[0]?.result;
  if (result === undefined || (result.state !== 'completed' && result.state !== 'aborted-with-statistics')) {
    throw new Error(`tinybench task did not complete: ${JSON.stringify(result)}`);
  }
  return (batch * 1000) / result.period;
}

export async function main(): Promise<void> {
  const cases = buildCases();
  const sink: { last: unknown } = { last: undefined };

  // Correctness and sizes first: a fast wrong codec is no result.
  const tsBytes = new Map<string, Buffer>();
  const ejBytes = new Map<string, Buffer>();
  for (const c of cases) {
    const ours = encode(c.ts);
    if (!equals(decode(ours), c.ts)) throw new Error(`${c.name}: ts decode(encode(t)) differs from t`);
    tsBytes.set(c.name, ours);
    const theirs = ejEncode(c.ej);
    ejDecode(theirs);
    ejBytes.set(c.name, theirs);
  }

  const erl = new ErlBench();
  const rows: ResultRow[] = [];
  try {
    const sizes = await erl.sizes();
    console.log('encoded sizes (bytes)');
    for (const c of cases) {
      const ours = tsBytes.get(c.name)!;
      const beam = sizes.get(c.name);
      const sameBytes = beam !== undefined && createHash('md5').update(ours).digest('hex') === beam.md5;
      const note =
        beam === undefined
          ? 'no erl result'
          : beam.bytes !== ours.length
            ? 'SIZE DIFFERS from erl'
            : sameBytes
              ? 'same bytes as erl'
              : 'same size as erl, different bytes (map key order)';
      console.log(
        `  ${c.name.padEnd(10)} ts ${ours.length}  erl ${beam?.bytes ?? '?'}  erlang_js ${ejBytes.get(c.name)!.length}  ${note}`,
      );
    }
    console.log(`\nmeasuring ${cases.length * 2 * 3} figures, ${TIME_MS} ms each ...\n`);

    const push = (name: string, metric: string, impl: string, ops: number, bytes: number): void => {
      rows.push({ case: name, impl, metric, value: ops, unit: 'ops/s' });
      rows.push({ case: name, impl, metric, value: (ops * bytes) / 1e6, unit: 'MB/s' });
    };
    for (const c of cases) {
      const ours = tsBytes.get(c.name)!;
      const theirs = ejBytes.get(c.name)!;
      const beamBytes = sizes.get(c.name)?.bytes ?? 0;
      push(c.name, 'encode', 'erl', await erl.run(c.name, 'encode', TIME_MS), beamBytes);
      push(c.name, 'encode', 'ts', await jsOpsPerSecond(() => encode(c.ts), sink), ours.length);
      push(c.name, 'encode', 'erlang_js', await jsOpsPerSecond(() => ejEncode(c.ej), sink), theirs.length);
      push(c.name, 'decode', 'erl', await erl.run(c.name, 'decode', TIME_MS), beamBytes);
      push(c.name, 'decode', 'ts', await jsOpsPerSecond(() => decode(ours), sink), ours.length);
      push(c.name, 'decode', 'erlang_js', await jsOpsPerSecond(() => ejDecode(theirs), sink), theirs.length);
    }
  } finally {
    await erl.stop();
  }

  writeResults('term', rows, 'erl');

  const ops = (name: string, metric: string, impl: string): number =>
    rows.find((r) => r.case === name && r.metric === metric && r.impl === impl && r.unit === 'ops/s')
      ?.value ?? 0;
  console.log('\nts / erlang_js (ops/s; target >= 3x)');
  for (const c of cases) {
    for (const metric of ['encode', 'decode']) {
      const ratio = ops(c.name, metric, 'ts') / ops(c.name, metric, 'erlang_js');
      console.log(
        `  ${c.name.padEnd(10)} ${metric}  ${ratio.toFixed(2)}x${ratio >= 3 ? '' : '  BELOW TARGET'}`,
      );
    }
  }
  console.log('\nts / erl for small-msg (ops/s; target >= 0.5x, i.e. within 2x)');
  for (const metric of ['encode', 'decode']) {
    const ratio = ops('small-msg', metric, 'ts') / ops('small-msg', metric, 'erl');
    console.log(`  small-msg  ${metric}  ${ratio.toFixed(2)}x${ratio >= 0.5 ? '' : '  BELOW TARGET'}`);
  }
  if (sink.last === Symbol.for('never')) console.log('unreachable');
}
