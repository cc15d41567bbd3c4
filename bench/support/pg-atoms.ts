/**
 * The atoms of the messages between bench/pg.ts (the driver) and bench/support/pg-peer.ts (its
 * peers in other OS processes), defined once for both sides.
 *
 * @module
 */
import { type Atom, atom } from '../../src/term/index.ts';

/** The message tags. */
export type Tag =
  | 'watch'
  | 'members'
  | 'connect'
  | 'seen'
  | 'watching'
  | 'ping'
  | 'pong'
  | 'ready'
  | 'done'
  | 'prop'
  | 'mark'
  | 'jl'
  | 'bc'
  | 'join'
  | 'leave'
  | 'pgBench'
  | 'kill';

/** One atom per message tag; see the driver and the peer for each message's shape. */
export const A: Readonly<Record<Tag, Atom>> = {
  watch: atom('watch'),
  members: atom('members'),
  connect: atom('connect'),
  seen: atom('seen'),
  watching: atom('watching'),
  ping: atom('ping'),
  pong: atom('pong'),
  ready: atom('ready'),
  done: atom('done'),
  prop: atom('prop'),
  mark: atom('mark'),
  jl: atom('jl'),
  bc: atom('bc'),
  join: atom('join'),
  leave: atom('leave'),
  pgBench: atom('pg_bench'),
  kill: atom('kill'),
};
