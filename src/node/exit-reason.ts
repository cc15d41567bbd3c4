/**
 * The exit reason of a process whose JavaScript code threw.
 *
 * The BEAM gives a crashed process the reason `{Reason, Stack}`; a JavaScript error has a name, a
 * message and a stack of text lines instead, so a process that throws exits with
 *
 * ```erlang
 * {js_error, #{name => <<"TypeError">>, message => <<"x is not a function">>,
 *              stack => [<<"at f (file.ts:3:9)">>, ...],
 *              code => <<"ERR_X">>,        % only when the error has a string `code`
 *              cause => Reason}}           % only when it has a `cause`, converted the same way
 * ```
 *
 * and a thrown value that is not an `Error` gives `{nocatch, Value}` (the BEAM's word for an
 * uncaught `throw`), where `Value` is the value itself when it is an Erlang term, else its text.
 * Keys are atoms, text is UTF-8 binaries. Texts and stacks are capped so a reason stays small
 * enough to send over the network and to log.
 *
 * @module
 */

import {
  type Atom,
  Atom as AtomClass,
  atom,
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

/** Most stack lines kept in a reason. */
export const MAX_STACK_LINES = 32;
/** Most characters kept of a message or a stack line. */
export const MAX_TEXT_CHARS = 1024;
/** Deepest chain of `cause` followed. */
export const MAX_CAUSE_DEPTH = 4;

const keys: {
  readonly js_error: Atom;
  readonly nocatch: Atom;
  readonly name: Atom;
  readonly message: Atom;
  readonly stack: Atom;
  readonly code: Atom;
  readonly cause: Atom;
  readonly undefined: Atom;
} = Object.freeze({
  js_error: atom('js_error'),
  nocatch: atom('nocatch'),
  name: atom('name'),
  message: atom('message'),
  stack: atom('stack'),
  code: atom('code'),
  cause: atom('cause'),
  undefined: atom('undefined'),
});

function cap(text: string): string {
  return text.length <= MAX_TEXT_CHARS ? text : `${text.slice(0, MAX_TEXT_CHARS)}...`;
}

/** The stack lines below the `Name: message` header, trimmed and capped. */
function stackLines(error: Error): string[] {
  const stack = typeof error.stack === 'string' ? error.stack : '';
  const lines: string[] = [];
  for (const raw of stack.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('at ')) continue;
    lines.push(cap(line));
    if (lines.length === MAX_STACK_LINES) break;
  }
  return lines;
}

/** True when `value` is an Erlang term small enough to carry as it is (no functions, no cycles). */
function isPlainTerm(value: unknown, budget: { left: number }, depth: number): boolean {
  if (--budget.left < 0 || depth > 32) return false;
  switch (typeof value) {
    case 'number':
    case 'bigint':
    case 'boolean':
      return true;
    case 'string':
      return value.length <= MAX_TEXT_CHARS;
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return false;
  if (
    value instanceof AtomClass ||
    value instanceof Pid ||
    value instanceof Reference ||
    value instanceof Port ||
    value instanceof Float ||
    value instanceof ExportFun ||
    value instanceof Fun
  ) {
    return true;
  }
  if (value instanceof Uint8Array) return value.length <= MAX_TEXT_CHARS;
  if (value instanceof BitBinary) return value.data.length <= MAX_TEXT_CHARS;
  if (value instanceof Tuple) return value.elements.every((e) => isPlainTerm(e, budget, depth + 1));
  if (value instanceof ImproperList) {
    return (
      value.elements.every((e) => isPlainTerm(e, budget, depth + 1)) &&
      isPlainTerm(value.tail, budget, depth + 1)
    );
  }
  if (Array.isArray(value)) return value.every((e) => isPlainTerm(e, budget, depth + 1));
  if (value instanceof Map) {
    for (const [k, v] of value)
      if (!isPlainTerm(k, budget, depth + 1) || !isPlainTerm(v, budget, depth + 1)) return false;
    return true;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value).every((v) => isPlainTerm(v, budget, depth + 1));
  }
  return false;
}

function describe(value: unknown, depth: number): Term {
  if (value instanceof Error) {
    const map = new Map<Term, Term>([
      [keys.name, cap(value.name)],
      [keys.message, cap(value.message)],
      [keys.stack, stackLines(value)],
    ]);
    const code = (value as { code?: unknown }).code;
    if (typeof code === 'string') map.set(keys.code, cap(code));
    if (value.cause !== undefined && depth < MAX_CAUSE_DEPTH)
      map.set(keys.cause, describe(value.cause, depth + 1));
    return new Tuple([keys.js_error, map]);
  }
  if (value === undefined || value === null) return new Tuple([keys.nocatch, keys.undefined]);
  if (isPlainTerm(value, { left: 1000 }, 0)) return new Tuple([keys.nocatch, value as Term]);
  let text: string;
  try {
    text = String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return new Tuple([keys.nocatch, cap(text)]);
}

/**
 * The exit reason of a process that threw `thrown`: `{js_error, #{name, message, stack, ...}}`
 * for an `Error`, `{nocatch, Value}` otherwise (see the module comment).
 */
export function exitReasonOf(thrown: unknown): Term {
  return describe(thrown, 0);
}
