/**
 * Built-in functions a node started by `distribute start` answers over RPC, so that client
 * commands ask TS nodes what they ask BEAM nodes: `erlang:node/0`, `erlang:nodes/0` and
 * `erlang:nodes/1` (`visible`, `hidden`, `connected`, `this`, `known`, or a list of these), as
 * BIFs answer on the BEAM. Only these are exposed in the `erlang` module; anything else there
 * stays `undef`. A TS node started by other means exposes nothing unless it calls
 * {@link exposeBuiltins}.
 *
 * @module
 */

import type { Node } from '../node/node.ts';
import { ErlangException } from '../services/errors.ts';
import { Atom, type Atom as AtomT, atom, atoms, type Term } from '../term/types.ts';

const KINDS = new Set(['visible', 'hidden', 'connected', 'this', 'known']);

/** `erlang:nodes/1` on `node`: the names of the nodes of the given kinds, as atoms. */
export function nodesOf(node: Node, arg: Term): AtomT[] {
  const kinds = arg instanceof Atom ? [arg] : Array.isArray(arg) ? (arg as readonly Term[]) : undefined;
  if (kinds === undefined || kinds.length === 0) throw ErlangException.error(atoms.badarg);
  const out = new Set<string>();
  for (const k of kinds) {
    if (!(k instanceof Atom) || !KINDS.has(k.name)) throw ErlangException.error(atoms.badarg);
    if (k.name === 'this' || k.name === 'known') out.add(node.name);
    if (k.name === 'visible' || k.name === 'connected' || k.name === 'known') {
      for (const n of node.nodes('visible')) out.add(n);
    }
    if (k.name === 'hidden' || k.name === 'connected' || k.name === 'known') {
      for (const n of node.nodes('hidden')) out.add(n);
    }
  }
  return [...out].map(atom);
}

/** Exposes `erlang:node/0` and `erlang:nodes/0,1` on `node`; returns the function that removes them. */
export function exposeBuiltins(node: Node): () => void {
  return node.rpc.expose('erlang', {
    node: { fn: () => node.atom, arity: 0 },
    nodes: {
      fn: (...args: Term[]) => nodesOf(node, args.length === 0 ? atom('visible') : (args[0] as Term)),
      arity: [0, 1],
    },
  });
}
