/** A single election core with a hand-driven clock, for unit tests. */
import type { ElectionConfig } from '../../../src/cluster/election/config.ts';
import { voterSetId } from '../../../src/cluster/election/config.ts';
import type { ElectionMessage, NodeId } from '../../../src/cluster/election/messages.ts';
import { RaftElection, type Ready } from '../../../src/cluster/election/raft.ts';
import type { HardState } from '../../../src/cluster/election/storage.ts';
import { Prng } from '../../../src/sim/prng.ts';

export interface TestNode {
  readonly node: RaftElection;
  readonly clock: { t: number; now(): number };
  /** Sets the clock to `ms` (never backwards). */
  at(ms: number): TestNode;
  /** Performs and returns the Ready (persist is implied: advance() is called). */
  take(): Ready;
  /** A message from `from` to this node, in this voter set. */
  msg<T extends ElectionMessage['type']>(
    type: T,
    from: NodeId,
    term: number,
    extra?: Omit<Extract<ElectionMessage, { type: T }>, 'type' | 'from' | 'to' | 'term' | 'voterSet'>,
  ): ElectionMessage;
}

export function testNode(
  options: {
    id?: NodeId;
    voters?: readonly NodeId[];
    config?: Partial<ElectionConfig>;
    hardState?: HardState;
    seed?: number;
    startMs?: number;
  } = {},
): TestNode {
  const id = options.id ?? 'a';
  const voters = options.voters ?? ['a', 'b', 'c'];
  const clock = {
    t: options.startMs ?? 1_000,
    now(): number {
      return this.t;
    },
  };
  const node = new RaftElection({
    id,
    voters,
    clock,
    rng: new Prng(options.seed ?? 7),
    ...(options.hardState === undefined ? {} : { hardState: options.hardState }),
    ...(options.config === undefined ? {} : { config: options.config }),
  });
  const voterSet = voterSetId(voters);
  const t: TestNode = {
    node,
    clock,
    at(ms) {
      if (ms < clock.t) throw new Error('test clock going back');
      clock.t = ms;
      return t;
    },
    take() {
      const rd = node.ready();
      node.advance();
      return rd;
    },
    msg(type, from, term, extra) {
      return { type, from, to: id, term, voterSet, ...(extra ?? {}) } as ElectionMessage;
    },
  };
  return t;
}

/** Ticks `t` at its next deadline (on its own clock). */
export function fire(t: TestNode): Ready {
  t.at(Math.max(t.clock.t, t.node.nextDeadline()));
  t.node.tick();
  return t.take();
}
