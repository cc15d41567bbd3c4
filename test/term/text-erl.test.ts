/**
 * The term text parser and printer against a real `erl` (OTP 25), on seeded random terms:
 * - our `inspect` gives exactly erl's `~0tp` text (and `encoding: 'latin1'` exactly `~0p`);
 * - with a depth, exactly erl's `~0tP` / `~0P` text;
 * - erl's `~0p` and `~0tp` texts parse with our `parseTerm` to a term equal to the original;
 * - our text read by `erl_scan:string` + `erl_parse:parse_term` is `=:=` the original.
 * Terms go to erl as external term format made by our `encode`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  Atom,
  atom,
  decode,
  ExportFun,
  encode,
  equals,
  float,
  ImproperList,
  type Term,
  Tuple,
  tuple,
} from '../../src/term/index.ts';
import { inspect } from '../../src/term/inspect.ts';
import { parseTerm, RESERVED_WORDS } from '../../src/term/parse.ts';
import { describeErl } from '../support/erl.ts';
import { arbTextFloat, arbTextTerm } from './text-arbitrary.ts';

const SEED = 0x7e47_0001;
const peerSource = join(dirname(fileURLToPath(import.meta.url)), 'text_peer.erl');

/** `erl -noinput` running text_peer.erl: one batch request, one reply, in order. */
class TextPeer {
  readonly #child: ChildProcess;
  #buffered: Buffer = Buffer.alloc(0);
  readonly #waiting: { resolve: (t: Term) => void; reject: (e: Error) => void }[] = [];
  #stderr = '';
  #dead: Error | undefined;

  constructor() {
    const path = JSON.stringify(peerSource);
    const boot =
      `{ok, M, B} = compile:file(${path}, [binary, return_errors]),` +
      `{module, M} = code:load_binary(M, ${path}, B),` +
      'M:main().';
    this.#child = spawn('erl', ['-noinput', '-eval', boot], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ERL_CRASH_DUMP_SECONDS: '0' },
    });
    this.#child.stdout?.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.#stderr = (this.#stderr + s).slice(-4000);
    });
    this.#child.once('exit', (code, signal) =>
      this.#fail(new Error(`erl exited (${code ?? signal}): ${this.#stderr}`)),
    );
    this.#child.once('error', (e) => this.#fail(e));
    this.#child.stdin?.on('error', (e) => this.#fail(e));
  }

  async request(req: Term, timeoutMs = 60_000): Promise<Term> {
    if (this.#dead !== undefined) throw this.#dead;
    const body = encode(req);
    const frame = Buffer.alloc(4 + body.length);
    frame.writeUInt32BE(body.length, 0);
    body.copy(frame, 4);
    const reply = new Promise<Term>((resolve, reject) => this.#waiting.push({ resolve, reject }));
    this.#child.stdin?.write(frame);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no reply from erl within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([reply, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  #onData(chunk: Buffer): void {
    this.#buffered = Buffer.concat([this.#buffered, chunk]);
    while (this.#buffered.length >= 4) {
      const size = this.#buffered.readUInt32BE(0);
      if (this.#buffered.length < 4 + size) return;
      const body = this.#buffered.subarray(4, 4 + size);
      this.#buffered = this.#buffered.subarray(4 + size);
      const w = this.#waiting.shift();
      if (w === undefined) {
        this.#fail(new Error('a reply nobody asked for'));
        return;
      }
      try {
        const reply = decode(body);
        if (reply instanceof Tuple && reply.at(0) === atom('crash')) {
          w.reject(new Error(`text_peer crashed: ${String(reply.at(2))}`));
        } else {
          w.resolve(reply);
        }
      } catch (e) {
        w.reject(e as Error);
      }
    }
  }

  #fail(e: Error): void {
    this.#dead ??= e;
    for (const w of this.#waiting.splice(0)) w.reject(e);
  }
}

function text(t: Term | undefined): string {
  if (!(t instanceof Uint8Array))
    throw new Error(`expected a binary from erl, got ${inspect(t ?? atom('undefined'))}`);
  return Buffer.from(t).toString('utf8');
}

function pair(t: Term | undefined): [string, string] {
  if (!(t instanceof Tuple) || t.length !== 2) throw new Error(`unexpected reply item ${inspect(t ?? [])}`);
  return [text(t.at(0)), text(t.at(1))];
}

function list(t: Term): readonly Term[] {
  if (!Array.isArray(t)) throw new Error(`expected a list from erl, got ${inspect(t)}`);
  return t as readonly Term[];
}

/** erl's ~0p and ~0tp texts of each term. */
async function erlPrint(peer: TextPeer, terms: readonly Term[]): Promise<[string, string][]> {
  const reply = await peer.request(
    tuple(
      atom('print'),
      terms.map((t) => encode(t)),
    ),
  );
  return list(reply).map(pair);
}

/** Whether erl reads each text as a term =:= the paired term (or its error). */
async function erlParse(peer: TextPeer, items: readonly [string, Term][]): Promise<Term[]> {
  const reply = await peer.request(
    tuple(
      atom('parse'),
      items.map(([s, t]) => tuple(Buffer.from(s, 'utf8'), encode(t))),
    ),
  );
  return [...list(reply)];
}

/**
 * Whether erl prints `t` as we do: not when it holds `maybe` or `else` (we quote them), a map of
 * more than 32 keys (erl prints those in hash order) or an export fun whose names are not plain
 * (erl's fun_to_list has quoting rules of its own: it quotes `a@b`, leaves reserved words bare
 * and writes the UTF-8 bytes of a non-ASCII name as Latin-1 characters).
 */
function comparable(t: Term): boolean {
  if (t instanceof Atom) return t.name !== 'maybe' && t.name !== 'else';
  if (t instanceof ExportFun) return plainName(t.module.name) && plainName(t.name.name);
  if (t instanceof Tuple) return t.elements.every(comparable);
  if (Array.isArray(t)) return (t as readonly Term[]).every(comparable);
  if (t instanceof Map)
    return (
      t.size <= 32 && [...(t as ReadonlyMap<Term, Term>)].every(([k, v]) => comparable(k) && comparable(v))
    );
  if (t instanceof ImproperList) return [...t.elements, t.tail].every(comparable);
  if (isPlainObject(t)) {
    return Object.values(t as Record<string, Term>).every(comparable);
  }
  return true;
}

function isPlainObject(t: Term): boolean {
  if (t === null || typeof t !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(t);
  return proto === Object.prototype || proto === null;
}

function plainName(name: string): boolean {
  return (
    /^[a-z][a-zA-Z0-9_]*$/.test(name) && !RESERVED_WORDS.has(name) && name !== 'maybe' && name !== 'else'
  );
}

/**
 * Whether erl's text of `t` reads back: not with an export fun whose name is not ASCII or is a
 * reserved word (see `comparable`).
 */
function erlTextReadsBack(t: Term): boolean {
  if (t instanceof ExportFun) {
    const names = [t.module.name, t.name.name];
    return names.every((n) => !/[^ -~]/.test(n) && !RESERVED_WORDS.has(n));
  }
  if (t instanceof Tuple) return t.elements.every(erlTextReadsBack);
  if (Array.isArray(t)) return (t as readonly Term[]).every(erlTextReadsBack);
  if (t instanceof Map)
    return [...(t as ReadonlyMap<Term, Term>)].every(([k, v]) => erlTextReadsBack(k) && erlTextReadsBack(v));
  if (t instanceof ImproperList) return [...t.elements, t.tail].every(erlTextReadsBack);
  if (isPlainObject(t)) {
    return Object.values(t as Record<string, Term>).every(erlTextReadsBack);
  }
  return true;
}

describeErl('term text against a real erl', () => {
  let peer: TextPeer | undefined;
  const beam = (): TextPeer => {
    if (peer === undefined) throw new Error('the erl peer did not start');
    return peer;
  };

  beforeAll(async () => {
    peer = new TextPeer();
    // The first reply proves the node is up and the module loaded.
    expect(await erlPrint(peer, [atom('ok')])).toEqual([['ok', 'ok']]);
  }, 60_000);

  afterAll(async () => {
    await peer?.stop();
  });

  const terms = fc.sample(arbTextTerm, { seed: SEED, numRuns: 400 });

  it('inspect prints exactly what ~0tp and ~0p print', async () => {
    const sample = terms.filter(comparable);
    expect(sample.length).toBeGreaterThan(300);
    const printed = await erlPrint(beam(), sample);
    const mismatches: string[] = [];
    sample.forEach((t, i) => {
      const [p, tp] = printed[i]!;
      const ours = inspect(t);
      const oursLatin1 = inspect(t, { encoding: 'latin1' });
      if (ours !== tp) mismatches.push(`~tp: erl ${tp}\n      ours ${ours}`);
      if (oursLatin1 !== p) mismatches.push(`~p: erl ${p}\n      ours ${oursLatin1}`);
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
  }, 60_000);

  it("parseTerm reads erl's ~0p and ~0tp texts back to the same terms", async () => {
    const sample = terms.filter(erlTextReadsBack);
    expect(sample.length).toBeGreaterThan(300);
    const printed = await erlPrint(beam(), sample);
    const failures: string[] = [];
    sample.forEach((t, i) => {
      for (const s of printed[i]!) {
        let back: Term;
        try {
          back = parseTerm(s);
        } catch (e) {
          failures.push(`${s}: ${(e as Error).message}`);
          continue;
        }
        if (!equals(back, t)) failures.push(`${s}: read back as ${inspect(back)}`);
      }
    });
    expect(failures.slice(0, 5)).toEqual([]);
  }, 60_000);

  it('erl_parse reads our text back to a term =:= the original', async () => {
    const items: [string, Term][] = [];
    for (const t of terms) {
      items.push([inspect(t), t], [inspect(t, { encoding: 'latin1' }), t]);
    }
    const verdicts = await erlParse(beam(), items);
    const failures = items.flatMap(([s], i) =>
      verdicts[i] === true ? [] : [`${s}: ${inspect(verdicts[i]!)}`],
    );
    expect(failures.slice(0, 5)).toEqual([]);
  }, 60_000);

  it('with a depth, inspect prints exactly what ~0tP and ~0P print', async () => {
    const sample = terms.filter(comparable).slice(0, 200);
    const items = sample.flatMap((t) => [0, 1, 2, 3, 4, 5, 7].map((d) => [t, d] as const));
    const reply = await beam().request(
      tuple(
        atom('print_depth'),
        items.map(([t, d]) => tuple(encode(t), d)),
      ),
    );
    const printed = list(reply).map(pair);
    const mismatches: string[] = [];
    items.forEach(([t, d], i) => {
      const [p, tp] = printed[i]!;
      const ours = inspect(t, { maxDepth: d });
      const oursLatin1 = inspect(t, { maxDepth: d, encoding: 'latin1' });
      if (ours !== tp) mismatches.push(`~tP ${d}: erl ${tp}\n      ours ${ours}`);
      if (oursLatin1 !== p) mismatches.push(`~P ${d}: erl ${p}\n      ours ${oursLatin1}`);
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
  }, 60_000);

  it('floats of every magnitude print as erl prints them and read back exactly', async () => {
    const floats = fc.sample(arbTextFloat, { seed: SEED + 1, numRuns: 2000 });
    const printed = await erlPrint(beam(), floats);
    const mismatches: string[] = [];
    floats.forEach((f, i) => {
      const [, tp] = printed[i]!;
      const ours = inspect(f);
      if (ours !== tp) mismatches.push(`erl ${tp}, ours ${ours}`);
      const back = parseTerm(tp);
      if (!equals(back, f)) mismatches.push(`${tp} read back as ${inspect(back)}`);
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
  }, 60_000);

  it('texts erl accepts and we reject on purpose, and the ones we both reject', async () => {
    // <<"€">>: erl keeps the low byte of each character; we refuse it (see src/term/parse.ts).
    expect(() => parseTerm('<<"€">>')).toThrow(/invalid_string/);
    const [verdict] = await erlParse(beam(), [['<<"€">>', Buffer.from([0xac])]]);
    expect(verdict).toBe(true);
    // Pids have no text syntax, for erl either.
    const [pid] = await erlParse(beam(), [['<0.1.0>', atom('x')]]);
    expect(pid).toBeInstanceOf(Tuple);
    expect(() => parseTerm('<0.1.0>')).toThrow(/syntax/);
    // `maybe` is an atom in OTP 25; we quote it when printing.
    expect(parseTerm('maybe')).toBe(atom('maybe'));
    expect(inspect(atom('maybe'))).toBe("'maybe'");
    const [quoted] = await erlParse(beam(), [["'maybe'", atom('maybe')]]);
    expect(quoted).toBe(true);
    expect(inspect(float(1))).toBe('1.0');
  }, 60_000);
});
