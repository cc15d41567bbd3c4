/**
 * Signals between processes, and the rules a process applies when one arrives.
 *
 * Every interaction between processes is an asynchronous signal (Erlang Reference Manual,
 * "Processes", "Signals"): a message, link, unlink (with the id of the new link protocol) and its
 * acknowledgement, exit (due to a link, or sent by `exit/2`), monitor, demonitor, down, group
 * leader. The process table applies them to local processes; signals for processes on other nodes
 * go to a {@link RemoteSignals}, which the node implements with distribution control messages:
 *
 * | signal | control message |
 * |---|---|
 * | message | SEND / SEND_SENDER (to a pid), REG_SEND (to a name), ALIAS_SEND (to a reference) |
 * | link | LINK |
 * | unlink | UNLINK_ID (`id` > 0), the old UNLINK (`id` 0) |
 * | unlink_ack | UNLINK_ID_ACK |
 * | exit, `link: true` | EXIT / PAYLOAD_EXIT |
 * | exit, `link: false` | EXIT2 / PAYLOAD_EXIT2 |
 * | monitor / demonitor | MONITOR_P / DEMONITOR_P (to a pid or a name atom) |
 * | down | MONITOR_P_EXIT / PAYLOAD_MONITOR_P_EXIT (`from` is the name atom when monitored by name) |
 * | group_leader | GROUP_LEADER |
 *
 * @module
 */

import { type Atom, atom, atoms, type Pid, Reference, type Term, Tuple } from '../term/types.ts';

/** A signal for a process. `from` is always the sending process (or, for `down`, the monitored name). */
export type Signal =
  | { readonly kind: 'message'; readonly from?: Pid; readonly message: Term }
  | { readonly kind: 'link'; readonly from: Pid }
  /** `id` 0n is the old UNLINK (no acknowledgement); otherwise UNLINK_ID, acknowledged with the same id. */
  | { readonly kind: 'unlink'; readonly from: Pid; readonly id: bigint }
  | { readonly kind: 'unlink_ack'; readonly from: Pid; readonly id: bigint }
  /** `link: true`: a linked process terminated (EXIT); `link: false`: sent by `exit/2` (EXIT2). */
  | { readonly kind: 'exit'; readonly from: Pid; readonly reason: Term; readonly link: boolean }
  /** `name`: the monitor was set by registered name; the DOWN then names `{Name, Node}`. */
  | { readonly kind: 'monitor'; readonly from: Pid; readonly ref: Reference; readonly name?: Atom }
  | { readonly kind: 'demonitor'; readonly from: Pid; readonly ref: Reference }
  | { readonly kind: 'down'; readonly from: Pid | Atom; readonly ref: Reference; readonly reason: Term }
  | { readonly kind: 'group_leader'; readonly from: Pid; readonly leader: Pid };

/** The kinds of {@link Signal}. */
export type SignalKind = Signal['kind'];

/**
 * Where the process table sends signals for processes on other nodes. The node implements it
 * with control messages (see the module comment) over the connection to `toNode`.
 *
 * Duties of the implementation:
 * - never throw and never call back into the table synchronously (queue, then deliver later);
 * - signals to one node keep their order;
 * - when the connection to a node is lost, or cannot be set up, call
 *   {@link ProcessTable.handleNodeDown}: links and monitors over it then fire with `noconnection`,
 *   as they do on the BEAM (a signal sent while not connected is lost, so this is the right outcome);
 * - on a connection without UNLINK_ID, send the old UNLINK for an `unlink` signal and deliver an
 *   `unlink_ack` with the same id back to the sender at once (the old protocol has no ack).
 */
export interface RemoteSignals {
  /** A signal for a process (a pid), a registered name (an atom) or an alias (a reference) on `toNode`. */
  send(toNode: Atom, to: Pid | Atom | Reference, signal: Signal): void;
  /**
   * `watcher` starts (`on`) or stops monitoring `node` (`erlang:monitor_node/2`). The table delivers
   * `{nodedown, Node}` itself from {@link ProcessTable.handleNodeDown}; this hook lets the node
   * connect (as the BEAM does) and call `handleNodeDown` when it cannot. May be a no-op.
   */
  monitorNode(node: Atom, watcher: Pid, on: boolean): void;
  /**
   * Whether the connection to `node` negotiated ALIAS (OTP 24+): undefined while there is no
   * connection. `call` picks its reply tag from it. Without this method, peers are assumed to
   * support aliases.
   */
  aliasSupported?(node: Atom): boolean | undefined;
  /** Sets up the connection to `node` (`call` waits for it); without this method, nothing is awaited. */
  connect?(node: Atom): Promise<void>;
}

/**
 * A pid that carries, at the type level only, the type of messages its process accepts, so sends
 * can be typed: `self.send(worker, msg)` checks `msg` against `worker`'s type. A plain {@link Pid} is
 * assignable to any `TypedPid`, and the runtime value is always a plain `Pid`. Contravariant: a
 * pid that accepts `A | B` may be used where one that accepts `A` is expected.
 */
export type TypedPid<M = Term> = Pid & { readonly '~message'?: (message: M) => void };

/** The message type a {@link TypedPid} accepts. */
export type MessageOf<P> = P extends { readonly '~message'?: (message: infer M) => void }
  ? unknown extends M
    ? Term
    : M
  : Term;

/** Atoms of the signal layer, held strongly. */
export const signalAtoms: {
  readonly EXIT: Atom;
  readonly DOWN: Atom;
  readonly process: Atom;
  readonly nodedown: Atom;
  readonly mailbox_overflow: Atom;
} = Object.freeze({
  EXIT: atom('EXIT'),
  DOWN: atom('DOWN'),
  process: atom('process'),
  nodedown: atom('nodedown'),
  mailbox_overflow: atom('mailbox_overflow'),
});

/** Value equality of pids. */
export function samePid(a: Pid, b: Pid): boolean {
  return (
    a === b || (a.node === b.node && a.id === b.id && a.serial === b.serial && a.creation === b.creation)
  );
}

/** Value equality of references. */
export function sameRef(a: Reference, b: Reference): boolean {
  if (a === b) return true;
  if (a.node !== b.node || a.creation !== b.creation || a.ids.length !== b.ids.length) return false;
  for (let i = 0; i < a.ids.length; i++) if (a.ids[i] !== b.ids[i]) return false;
  return true;
}

/** A string key with the equality of {@link samePid}. */
export function pidKey(pid: Pid): string {
  return `${pid.node.name}\u0000${pid.id}.${pid.serial}.${pid.creation}`;
}

/** A string key with the equality of {@link sameRef}. */
export function refKey(ref: Reference): string {
  return `${ref.node.name}\u0000${ref.creation}.${ref.ids.join('.')}`;
}

/** `{'EXIT', From, Reason}`: an exit signal converted to a message for a process trapping exits. */
export function exitMessage(from: Pid, reason: Term): Tuple {
  return new Tuple([signalAtoms.EXIT, from, reason]);
}

/** `{'DOWN', Ref, process, Who, Reason}`; `Who` is the pid, or `{Name, Node}` for a monitor by name. */
export function downMessage(ref: Reference, who: Pid | Tuple, reason: Term): Tuple {
  return new Tuple([signalAtoms.DOWN, ref, signalAtoms.process, who, reason]);
}

/** True for a `{_, Ref, _, _, _}` message: what `demonitor(Ref, [flush])` removes. */
export function isDownFor(message: unknown, ref: Reference): boolean {
  if (!(message instanceof Tuple) || message.length !== 5) return false;
  const second = message.elements[1];
  return second instanceof Reference && sameRef(second, ref);
}

/** What a process does with an exit signal: see {@link exitSignalAction}. */
export type ExitAction =
  | { readonly action: 'drop' }
  | { readonly action: 'message' }
  | { readonly action: 'terminate'; readonly reason: Term };

/** The state {@link exitSignalAction} decides on. */
export interface ExitSignalFacts {
  /** The reason the signal carries. */
  readonly reason: Term;
  /** Sent due to a link (EXIT) rather than by `exit/2` (EXIT2). */
  readonly link: boolean;
  /** For a link signal: the receiver holds an active link to the sender. */
  readonly linkActive: boolean;
  /** The receiver traps exits. */
  readonly trapExit: boolean;
  /** The sender is the receiver itself (`exit(self(), Reason)`). */
  readonly fromSelf: boolean;
}

const DROP: ExitAction = Object.freeze({ action: 'drop' });
const MESSAGE: ExitAction = Object.freeze({ action: 'message' });
const TERMINATE_KILLED: ExitAction = Object.freeze({ action: 'terminate', reason: atoms.killed });
const TERMINATE_NORMAL: ExitAction = Object.freeze({ action: 'terminate', reason: atoms.normal });

/**
 * The rules of the Erlang Reference Manual, "Processes", "Receiving Exit Signals", in order.
 * Pure: the table applies the outcome.
 */
export function exitSignalAction(facts: ExitSignalFacts): ExitAction {
  // A link signal for a link that is no longer active (unlinked, or never made) is dropped.
  if (facts.link && !facts.linkActive) return DROP;
  // exit(P, kill) cannot be trapped; the victim dies with `killed`. Through a link, `kill` is ordinary.
  if (!facts.link && facts.reason === atoms.kill) return TERMINATE_KILLED;
  // A process trapping exits gets {'EXIT', From, Reason}, `normal` included.
  if (facts.trapExit) return MESSAGE;
  if (facts.reason === atoms.normal) {
    // exit(self(), normal) terminates the caller; any other `normal` exit signal is dropped.
    return facts.fromSelf && !facts.link ? TERMINATE_NORMAL : DROP;
  }
  return { action: 'terminate', reason: facts.reason };
}
