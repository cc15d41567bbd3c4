/**
 * Built-in functions a node started by `distribute start` answers over RPC, so that client
 * commands ask TS nodes what they ask BEAM nodes: `erlang:node/0`, `erlang:nodes/0` and
 * `erlang:nodes/1` (`visible`, `hidden`, `connected`, `this`, `known`, or a list of these), as
 * BIFs answer on the BEAM. Only these are exposed in the `erlang` module; anything else there
 * stays `undef`. A TS node started by other means exposes nothing unless it calls
 * {@link exposeBuiltins}.
 *
 * The `distribute_cli` module ({@link exposeClusterBuiltins}) answers what a BEAM node has no
 * BIF for: `members/0` (the SWIM view) and `leader/0` (the election's view, or the membership's
 * leader hint). Both return `undefined` when the service they read is not running, so a client
 * tells "not running here" from `undef` ("not a node started by `distribute start`").
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

/** The module of {@link exposeClusterBuiltins}: what `members --via` and `leader --via` call. */
export const CLI_MODULE = 'distribute_cli';

/**
 * `distribute_cli:members/0` on `node`: `undefined` when membership is not running, else
 * `#{node => Self, address => <<"host:port">>, members => [#{node, status, incarnation}]}`
 * (node names and statuses as atoms, the view sorted by name, self included).
 */
export function membersTerm(node: Node): Term {
  const address = node.membership.address;
  if (!node.membership.running || address === undefined) return atoms.undefined;
  return new Map<Term, Term>([
    [atom('node'), node.atom],
    [atom('address'), Buffer.from(address)],
    [
      atom('members'),
      node.membership.members().map(
        (m) =>
          new Map<Term, Term>([
            [atom('node'), atom(m.node)],
            [atom('status'), atom(m.status)],
            [atom('incarnation'), m.incarnation],
          ]),
      ),
    ],
  ]);
}

/**
 * `distribute_cli:leader/0` on `node`: `undefined` when neither the election nor membership
 * runs, else `#{node => Self, election => undefined | #{leader => Node | undefined, term => T,
 * role => follower | 'pre-candidate' | candidate | leader, lease => boolean}, hint => undefined |
 * Node}`. `hint` is `node.health.leader()` (the smallest live member of the membership view):
 * a guess, not an elected leader, given only while membership runs.
 */
export function leaderTerm(node: Node): Term {
  const service = node.election.service;
  const membership = node.membership.running;
  if (service === undefined && !membership) return atoms.undefined;
  const election: Term =
    service === undefined
      ? atoms.undefined
      : new Map<Term, Term>([
          [atom('leader'), service.leader === null ? atoms.undefined : atom(service.leader)],
          [atom('term'), service.term],
          [atom('role'), atom(service.role)],
          [atom('lease'), service.hasLease()],
        ]);
  return new Map<Term, Term>([
    [atom('node'), node.atom],
    [atom('election'), election],
    [atom('hint'), membership ? atom(node.health.leader()) : atoms.undefined],
  ]);
}

/** Exposes `distribute_cli:members/0` and `distribute_cli:leader/0`; returns the function that removes them. */
export function exposeClusterBuiltins(node: Node): () => void {
  return node.rpc.expose(CLI_MODULE, {
    members: { fn: () => membersTerm(node), arity: 0 },
    leader: { fn: () => leaderTerm(node), arity: 0 },
  });
}
