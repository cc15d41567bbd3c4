/**
 * `node.election`: the election as the per-node API over {@link ElectionService}.
 *
 * The object exists with every node and costs nothing until `start(...)`; it runs at most one
 * service at a time and may be started again after `stop()`. Names follow the issue:
 * `leader()`, `isLeader()`, `fencingToken()`, a `leader` event, `stop()`, and `elect()` in the
 * shape the Gleam library's users know.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { Node } from '../../node/node.ts';
import { ElectionError } from './errors.ts';
import type { NodeId } from './messages.ts';
import { ElectionService, type ElectionServiceOptions } from './service.ts';

/** How to start the election on this node: {@link ElectionServiceOptions} without the node. */
export type NodeElectionStartOptions = Omit<ElectionServiceOptions, 'node'>;

/** The leader this voter knows of, with the term it leads. */
export interface ElectionLeader {
  readonly node: NodeId;
  readonly term: number;
}

/** Result of {@link NodeElection.elect}, as in the Gleam library. */
export type ElectResult = { readonly kind: 'leader'; readonly node: NodeId } | { readonly kind: 'no_leader' };

/** Events of {@link NodeElection}. */
export interface NodeElectionEvents {
  /** The known leader changed (undefined: none known), or the same node leads a new term. */
  leader: [leader: ElectionLeader | undefined];
  /** Storage failed and the service stopped (see {@link ElectionService}). */
  error: [error: ElectionError];
}

/** The election service of one node; see the module comment. */
export class NodeElection extends EventEmitter<NodeElectionEvents> {
  readonly #node: Node;
  #service: ElectionService | undefined;
  #starting = false;

  constructor(node: Node) {
    super();
    this.#node = node;
  }

  /**
   * Joins the election as the voter named after this node. `voters` must list the same node
   * names on every voter, this one included. Throws `ElectionError` (`invalid-config` also
   * when already started, `storage-corrupt`, `storage-failed`).
   */
  async start(options: NodeElectionStartOptions): Promise<void> {
    if (this.#service !== undefined || this.#starting) {
      throw new ElectionError('invalid-config', `${this.#node.name}: the election is already started`);
    }
    this.#starting = true;
    try {
      const service = await ElectionService.start({ ...options, node: this.#node });
      service.on('leader-changed', (leader, term) =>
        this.emit('leader', leader === null ? undefined : { node: leader, term }),
      );
      service.on('error', (err) => {
        if (this.#service === service) this.#service = undefined;
        if (this.listenerCount('error') > 0) this.emit('error', err);
      });
      this.#service = service;
    } finally {
      this.#starting = false;
    }
  }

  /** The running service (for `role`, `status()`, `stats`), or undefined when not started. */
  get service(): ElectionService | undefined {
    return this.#service;
  }

  /** The leader this voter knows of and its term, or undefined (none known, or not started). */
  leader(): ElectionLeader | undefined {
    const s = this.#service;
    if (s === undefined || s.leader === null) return undefined;
    return { node: s.leader, term: s.term };
  }

  /** True while this node leads with a valid lease: only then may it act as the leader. */
  isLeader(): boolean {
    return this.#service?.hasLease() ?? false;
  }

  /**
   * The fencing token of this node's leadership (its term), to pass to guarded resources.
   * Throws `ElectionError` `not-leader` (also when not started) or `no-lease`.
   */
  fencingToken(): number {
    const s = this.#service;
    if (s === undefined)
      throw new ElectionError('not-leader', `${this.#node.name}: the election is not started`);
    return s.fencingToken();
  }

  /** The current leader in the Gleam library's shape: `leader` with its node, or `no_leader`. */
  elect(): ElectResult {
    const l = this.leader();
    return l === undefined ? { kind: 'no_leader' } : { kind: 'leader', node: l.node };
  }

  /** Leaves the election; `start` may be called again afterwards. */
  async stop(): Promise<void> {
    const s = this.#service;
    this.#service = undefined;
    await s?.stop();
  }
}
