/**
 * Term codec throughput: encode (term_to_binary) and decode (binary_to_term) for our codec
 * (`ts`, decoding with its default zero-copy binaries), the erlang_js package (`erlang_js`,
 * given its own natural values: OtpErlangAtom, OtpErlangBinary, ...) and the BEAM (`erl`,
 * bench/erl/term_bench.erl, started by this run on the same terms built the same way).
 *
 * Fairness on a shared machine: every figure is the median of {@link ROUNDS} samples; in each
 * round the three implementations take one sample each, back to back, in an order that rotates
 * from round to round, and each ratio is the median of the per-round ratios. Samples are timed
 * in CPU time (process.cpuUsage for Node, statistics(runtime) for the BEAM: all threads of the
 * process), not wall time: time spent waiting for a core that another program holds is not the
 * codec's. Every task is warmed up first, and runs calls in batches of about {@link BATCH_MS}.
 *
 * `npm run bench -- term [case ...]` (naming cases measures only those, and writes no results).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import erlangJs from 'erlang_js';
import { BufferView } from '../src/term/buffer-view.ts';
import { TermEncoder } from '../src/term/encode.ts';
import { atom, decode, encode, equals, type Term, tuple } from '../src/term/index.ts';
import { type ResultRow, writeResults } from './support/results.ts';
import { median } from './support/stats.ts';

/** Samples per figure. */
const ROUNDS = 7;
/** CPU time of one sample. */
const SAMPLE_MS = 100;
/** CPU time each task runs before its first sample. */
const WARMUP_MS = 150;
/** JS calls run in batches lasting about this long, so reading the clock costs nothing measurable. */
const BATCH_MS = 1;

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
    // No busy-waiting schedulers: their spinning would count as CPU time of the codec.
    const noSpin = ['+sbwt', 'none', '+sbwtdcpu', 'none', '+sbwtdio', 'none'];
    this.#child = spawn('erl', [...noSpin, '-noshell', '-eval', boot], {
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

  /** One sample of term_to_binary (encode) or binary_to_term (decode) on one case. */
  async sample(name: string, metric: string, timeMs: number): Promise<Sample> {
    this.#child.stdin.write(`run ${name} ${metric} ${timeMs}\n`);
    const line = await this.#line();
    const [tag, gotName, gotMetric, calls, cpu] = line.split(' ');
    if (tag !== 'RESULT' || gotName !== name || gotMetric !== metric)
      throw new Error(`erl bench said: ${line}`);
    return { calls: Number(calls), cpuMs: Number(cpu) };
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

/** One timed run of many calls. */
interface Sample {
  readonly calls: number;
  /** CPU time of the whole process (all threads: GC helpers count too), in ms. */
  readonly cpuMs: number;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** A JS codec under test: one call, run in batches of `batch` calls lasting about {@link BATCH_MS}. */
class JsTask {
  readonly #one: () => unknown;
  readonly #sink: { last: unknown };
  #batch = 1;

  constructor(one: () => unknown, sink: { last: unknown }) {
    this.#one = one;
    this.#sink = sink;
  }

  #run(n: number): void {
    const one = this.#one;
    const sink = this.#sink;
    for (let i = 0; i < n; i++) sink.last = one();
  }

  /** Runs for `ms` of CPU time without recording, and sizes the batch. */
  warm(ms: number): void {
    const t0 = cpuMs();
    let n = 1;
    for (;;) {
      const t = cpuMs();
      this.#run(n);
      const spent = cpuMs() - t;
      if (spent < BATCH_MS && n < 1 << 20) n *= 2;
      if (cpuMs() - t0 >= ms) break;
    }
    this.#batch = n;
  }

  sample(ms: number): Sample {
    const batch = this.#batch;
    const t0 = cpuMs();
    let t = t0;
    let calls = 0;
    do {
      this.#run(batch);
      calls += batch;
      t = cpuMs();
    } while (t - t0 < ms);
    return { calls, cpuMs: t - t0 };
  }
}

/** A full collection (the bench runs without --expose-gc, so the function is fetched this way). */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Median and range of per-round ratios `a[i] / b[i]` (rounds pair samples taken back to back). */
function pairedRatio(
  a: readonly number[],
  b: readonly number[],
): { median: number; min: number; max: number } {
  const r = a.map((v, i) => v / b[i]!);
  return { median: median(r), min: Math.min(...r), max: Math.max(...r) };
}

type Impl = 'erl' | 'ts' | 'ts-encoder' | 'erlang_js' | 'view-floor';

export async function main(): Promise<void> {
  const only = process.argv.slice(3);
  const all = buildCases();
  const cases = all.filter((c) => only.length === 0 || only.includes(c.name));
  if (cases.length === 0) throw new Error(`no case named ${only.join(', ')}`);
  const sink: { last: unknown } = { last: undefined };

  // Correctness and sizes first: a fast wrong codec is no result.
  const tsBytes = new Map<string, Buffer>();
  const ejBytes = new Map<string, Buffer>();
  for (const c of all) {
    const ours = encode(c.ts);
    if (!equals(decode(ours), c.ts)) throw new Error(`${c.name}: ts decode(encode(t)) differs from t`);
    tsBytes.set(c.name, ours);
    const theirs = ejEncode(c.ej);
    ejDecode(theirs);
    ejBytes.set(c.name, theirs);
  }
  // Both JS codecs meet every case before any is timed, whichever cases are measured: the JIT
  // then compiles each for the mix of terms a program sends, not for the one case at hand.
  for (const c of all) {
    const ours = tsBytes.get(c.name)!;
    const theirs = ejBytes.get(c.name)!;
    const encoder = new TermEncoder();
    for (const one of [
      () => encode(c.ts),
      () => encoder.encode(c.ts),
      () => decode(ours),
      () => ejEncode(c.ej),
      () => ejDecode(theirs),
    ])
      new JsTask(one, sink).warm(WARMUP_MS / 3);
  }

  const erl = new ErlBench();
  const rows: ResultRow[] = [];
  const ratios: string[] = [];
  let printed = 0;
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
    console.log(
      `\nmeasuring ${cases.length * 2} figures: ${ROUNDS} rounds of ${SAMPLE_MS} ms (CPU) per implementation ...\n`,
    );

    for (const c of cases) {
      const ours = tsBytes.get(c.name)!;
      const theirs = ejBytes.get(c.name)!;
      const beamBytes = sizes.get(c.name)?.bytes ?? 0;
      for (const metric of ['encode', 'decode'] as const) {
        // The hot-path API: one encoder per owner, as a connection would keep.
        const encoder = new TermEncoder();
        const js = new Map<Impl, JsTask>(
          metric === 'encode'
            ? [
                ['ts', new JsTask(() => encode(c.ts), sink)],
                ['ts-encoder', new JsTask(() => encoder.encode(c.ts), sink)],
                ['erlang_js', new JsTask(() => ejEncode(c.ej), sink)],
              ]
            : [
                ['ts', new JsTask(() => decode(ours), sink)],
                ['erlang_js', new JsTask(() => ejDecode(theirs), sink)],
              ],
        );
        // For a binary alone, the least a zero-copy decode can do: learn where the input's memory
        // is (its `buffer` and `byteOffset`, two getters V8 does not inline: ~20-30 ns each here)
        // and make one view of it, as our decoder does. Not a decoder: the floor under any.
        if (metric === 'decode' && c.ts instanceof Uint8Array) {
          const input = ours;
          js.set(
            'view-floor',
            new JsTask(
              () => new BufferView(input.buffer as ArrayBuffer, input.byteOffset + 6, input.length - 6),
              sink,
            ),
          );
        }
        const impls: Impl[] = ['erl', ...js.keys()];
        // Samples count the CPU time of every thread: collect the garbage of earlier figures
        // now, so that no collector thread still works on it while this figure is sampled.
        collectGarbage();
        for (const task of js.values()) task.warm(WARMUP_MS);
        await erl.sample(c.name, metric, WARMUP_MS);
        const ops = new Map<Impl, number[]>(impls.map((i) => [i, []]));
        for (let round = 0; round < ROUNDS; round++) {
          for (let k = 0; k < impls.length; k++) {
            const impl = impls[(round + k) % impls.length]!;
            const s =
              impl === 'erl' ? await erl.sample(c.name, metric, SAMPLE_MS) : js.get(impl)!.sample(SAMPLE_MS);
            ops.get(impl)!.push((s.calls * 1000) / s.cpuMs);
          }
        }
        for (const impl of impls) {
          const value = median(ops.get(impl)!);
          const bytes = impl === 'erl' ? beamBytes : impl === 'erlang_js' ? theirs.length : ours.length;
          rows.push({ case: c.name, impl, metric, value, unit: 'ops/s' });
          rows.push({ case: c.name, impl, metric, value: (value * bytes) / 1e6, unit: 'MB/s' });
        }
        const line = (label: string, r: ReturnType<typeof pairedRatio>, target: number): string =>
          `  ${c.name.padEnd(10)} ${metric}  ${label.padEnd(20)} ${r.median.toFixed(2)}x  (rounds ${r.min.toFixed(2)}-${r.max.toFixed(2)})${r.median >= target ? '' : '  BELOW TARGET'}`;
        ratios.push(
          `  ${c.name.padEnd(10)} ${metric}  ops/s (CPU) ${impls.map((i) => `${i} ${Math.round(median(ops.get(i)!))}`).join(', ')}`,
        );
        const vsEj = pairedRatio(ops.get('ts')!, ops.get('erlang_js')!);
        ratios.push(line('/ erlang_js', vsEj, 3));
        if (js.has('view-floor')) {
          const floor = pairedRatio(ops.get('view-floor')!, ops.get('erlang_js')!);
          const share = pairedRatio(ops.get('ts')!, ops.get('view-floor')!);
          ratios.push(
            `  ${c.name.padEnd(10)} ${metric}  (floor: reading the input's buffer and byteOffset and making one view, the least any zero-copy decode does, runs at ${floor.median.toFixed(2)}x erlang_js's whole decode; our decode runs at ${share.median.toFixed(2)}x that floor)`,
          );
        }
        if (c.name === 'small-msg')
          ratios.push(line('/ erl', pairedRatio(ops.get('ts')!, ops.get('erl')!), 0.5));
        if (js.has('ts-encoder')) {
          ratios.push(
            line('encoder / erlang_js', pairedRatio(ops.get('ts-encoder')!, ops.get('erlang_js')!), 3),
          );
          if (c.name === 'small-msg')
            ratios.push(line('encoder / erl', pairedRatio(ops.get('ts-encoder')!, ops.get('erl')!), 0.5));
        }
        for (const l of ratios.slice(printed)) console.log(l);
        printed = ratios.length;
      }
    }
  } finally {
    await erl.stop();
  }

  console.log('');
  if (only.length === 0) writeResults('term', rows, 'erl');
  console.log(
    '\nts / erlang_js: target >= 3x; ts / erl on small-msg: target >= 0.5x (medians of per-round ratios)',
  );
  for (const line of ratios) console.log(line);
  if (sink.last === Symbol.for('never')) console.log('unreachable');
}
