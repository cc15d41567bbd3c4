/**
 * The messages between the `distribute demo` parent and its node processes, over the IPC
 * channel of `child_process.fork`. Plain JSON: the parent is not a node, it only watches.
 *
 * A child reports `up` once its node listens and is registered with the demo's EPMD, then a
 * `snapshot` of its own beliefs every {@link SNAPSHOT_INTERVAL_MS}; the parent sends it
 * {@link DemoRequest}s and gets one `result` for each. Times are `Date.now()` of the process
 * that saw the event, so the parent measures detection and election times from the events
 * themselves, not from when it happened to hear of them.
 *
 * @module
 */

/** How often a child reports its beliefs. */
export const SNAPSHOT_INTERVAL_MS = 150;

/** The pg group every demo node joins (scope `pg`). */
export const DEMO_GROUP = 'demo';

/** The global name the worker registers. */
export const DEMO_GLOBAL_NAME = 'demo_worker';

/** Timing of the demo nodes; short, so that failures are detected and repaired in seconds. */
export interface DemoTimings {
  readonly probeIntervalMs: number;
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
  readonly heartbeatIntervalMs: number;
  /** How often each node broadcasts a chat message to the pg group (the traffic of msg/s). */
  readonly chatIntervalMs: number;
  /** SWIM: each update is piggybacked `retransmitMult * ceil(log10(N + 1))` times per member. */
  readonly retransmitMult: number;
  /** SWIM: a full state exchange with one member this often. */
  readonly pushPullIntervalMs: number;
}

/** What a child is started with (JSON in the `DISTRIBUTE_DEMO_CONFIG` environment variable). */
export interface ChildConfig extends DemoTimings {
  readonly name: string;
  readonly cookie: string;
  readonly epmdPort: number;
  /** Node names of every voter, this one included. */
  readonly voters: readonly string[];
  /** File keeping this voter's term and vote across restarts. */
  readonly electionFile: string;
}

/** Name of the environment variable holding a {@link ChildConfig}. */
export const CONFIG_ENV = 'DISTRIBUTE_DEMO_CONFIG';

/** One member of a node's SWIM view. */
export interface MemberView {
  readonly node: string;
  readonly status: string;
  readonly incarnation: number;
  /** When this node saw the member take its current status (ms since the epoch). */
  readonly since: number;
}

/** What a node believes, reported every {@link SNAPSHOT_INTERVAL_MS}. */
export interface Snapshot {
  readonly node: string;
  readonly at: number;
  /** This node's own incarnation in its SWIM view (-1 before membership starts). */
  readonly incarnation: number;
  readonly members: readonly MemberView[];
  readonly leader: { readonly node: string; readonly term: number } | null;
  /** When the leader (or its term) last changed here. */
  readonly leaderSince: number;
  readonly role: string;
  readonly term: number;
  /** Node of each member of the pg group {@link DEMO_GROUP} (one entry per pid), sorted. */
  readonly pg: readonly string[];
  /** Node holding {@link DEMO_GLOBAL_NAME}, or null when unknown here. */
  readonly global: string | null;
  /** Messages received so far: SWIM datagrams, election messages, pg chat, calls served. */
  readonly messages: number;
  /** Connected nodes (visible and hidden). */
  readonly connected: readonly string[];
}

/** What the parent asks of a child. */
export type DemoRequest =
  | { readonly t: 'membership'; readonly id: number; readonly seeds: readonly string[] }
  | { readonly t: 'register'; readonly id: number }
  | { readonly t: 'call'; readonly id: number }
  | { readonly t: 'connect'; readonly id: number; readonly node: string }
  | { readonly t: 'erl-check'; readonly id: number; readonly erl: string }
  | { readonly t: 'leave'; readonly id: number };

/** What a child tells the parent. */
export type DemoReport =
  | { readonly t: 'up'; readonly node: string; readonly port: number; readonly creation: number }
  | { readonly t: 'snapshot'; readonly snapshot: Snapshot }
  | { readonly t: 'fatal'; readonly message: string }
  | {
      readonly t: 'result';
      readonly id: number;
      readonly ok: boolean;
      readonly value?: unknown;
      readonly error?: string;
    };

/** Result value of an `erl-check`: what the Erlang node answered over RPC. */
export interface ErlCheck {
  /** Nodes of the members of the pg group as `pg:get_members/1` on erl lists them. */
  readonly pgNodes: string[];
  /** Node of the pid `global:whereis_name/1` on erl returns, or null for `undefined`. */
  readonly globalNode: string | null;
  /** The reply to `gen_server:call({global, Name}, ...)` made by erl, as Erlang text. */
  readonly reply: string;
  readonly ms: number;
}

/** Result value of a `call`: the worker's reply as Erlang text and the round trip. */
export interface CallResult {
  readonly reply: string;
  readonly ms: number;
}
