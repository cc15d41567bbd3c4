/**
 * What the CLI prints: human text (colours only on a terminal and without `NO_COLOR`) or, with
 * `--json`, one JSON document per result on stdout. Errors always go to stderr as one line; with
 * `--json` stdout also gets `{"ok": false, "error": {"code", "message"}}`.
 *
 * Terms in JSON (a lossless tagged mapping; the `text` field next to a term is its Erlang text):
 * - integers: numbers while safe, else `{"$bigint": "123..."}`; floats: numbers (`{"$float": 1}`
 *   for an integral float, so `1.0` stays a float); `true`/`false`: booleans;
 * - atoms: `{"$atom": "ok"}`; tuples: `{"$tuple": [...]}`; proper lists: arrays; improper lists:
 *   `{"$improper": [...], "$tail": T}`;
 * - binaries: `{"$binary": "<base64>"}` (bit strings add `"$bits": N`, the bits used in the last
 *   byte); JS strings (from TS nodes): JSON strings;
 * - maps: `{"$map": [[K, V], ...]}`; pids, references, ports and funs: `{"$pid": "<text>"}`,
 *   `{"$ref": ...}`, `{"$port": ...}`, `{"$fun": ...}` with their Erlang text.
 *
 * @module
 */

import pc from 'picocolors';
import { inspect } from '../term/inspect.ts';
import {
  Atom,
  BitBinary,
  ExportFun,
  Float,
  Fun,
  ImproperList,
  Pid,
  Port,
  Reference,
  type Term,
  Tuple,
} from '../term/types.ts';

/** A JSON value. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

type Colors = ReturnType<typeof pc.createColors>;

/** Where the CLI writes; injected so tests and embedders can capture it. */
export interface CliStreams {
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

/** The printer a command gets. */
export class Output {
  readonly json: boolean;
  /** Colours for stdout (off with `--json`, `NO_COLOR`, or when stdout is not a terminal). */
  readonly color: Colors;
  readonly #streams: CliStreams;
  readonly #errColor: Colors;

  constructor(streams: CliStreams, json: boolean) {
    this.#streams = streams;
    this.json = json;
    const noColor = streams.env.NO_COLOR !== undefined && streams.env.NO_COLOR !== '';
    this.color = pc.createColors(!json && !noColor && streams.stdout.isTTY === true);
    this.#errColor = pc.createColors(!noColor && streams.stderr.isTTY === true);
  }

  /** Prints a result: `human` as text, or `data` as one line of JSON. */
  result(human: string, data: Json): void {
    if (this.json) this.#streams.stdout.write(`${JSON.stringify(data)}\n`);
    else this.#streams.stdout.write(`${human}\n`);
  }

  /** A line of text for humans only (nothing in JSON mode). */
  note(text: string): void {
    if (!this.json) this.#streams.stdout.write(`${text}\n`);
  }

  /** Reports a failure: one line on stderr, and a JSON document on stdout with `--json`. */
  failure(code: string, message: string): void {
    const oneLine = message.replace(/\s*\n\s*/g, ' ');
    this.#streams.stderr.write(`${this.#errColor.red('error:')} ${oneLine}\n`);
    if (this.json)
      this.#streams.stdout.write(`${JSON.stringify({ ok: false, error: { code, message: oneLine } })}\n`);
  }
}

/** A term as tagged JSON (see the module comment). */
export function termToJson(term: Term): Json {
  if (typeof term === 'number') return Number.isFinite(term) ? term : String(term);
  if (typeof term === 'bigint') return { $bigint: term.toString() };
  if (typeof term === 'boolean' || typeof term === 'string') return term;
  if (term instanceof Atom) return { $atom: term.name };
  if (term instanceof Float) return { $float: term.value };
  if (term instanceof Tuple) return { $tuple: term.elements.map(termToJson) };
  if (Array.isArray(term)) return (term as readonly Term[]).map(termToJson);
  if (term instanceof ImproperList)
    return { $improper: term.elements.map(termToJson), $tail: termToJson(term.tail) };
  if (term instanceof Uint8Array)
    return { $binary: Buffer.from(term.buffer, term.byteOffset, term.byteLength).toString('base64') };
  if (term instanceof BitBinary) return { $binary: term.data.toString('base64'), $bits: term.bits };
  if (term instanceof Map) return { $map: [...term].map(([k, v]) => [termToJson(k), termToJson(v)]) };
  if (term instanceof Pid) return { $pid: inspect(term) };
  if (term instanceof Reference) return { $ref: inspect(term) };
  if (term instanceof Port) return { $port: inspect(term) };
  if (term instanceof ExportFun || term instanceof Fun) return { $fun: inspect(term) };
  // A plain object: a map with binary keys.
  return { $map: Object.entries(term).map(([k, v]) => [k, termToJson(v as Term)]) };
}

/** A term for JSON output: its Erlang text and its tagged JSON. */
export function termField(term: Term): { text: string; value: Json } {
  return { text: inspect(term), value: termToJson(term) };
}
