/**
 * Helpers for the pg tests: TS nodes in this process against an in-process EPMD server (no
 * `epmd` binary, no BEAM), a process that collects its messages, and multiset comparisons of
 * member lists.
 */

import type { Logger } from '../../src/dist/logger.ts';
import { type EpmdServer, startEpmdServer } from '../../src/epmd/server.ts';
import { Node } from '../../src/node/node.ts';
import type { NodeOptions } from '../../src/node/options.ts';
import type { Pid, Term } from '../../src/term/index.ts';
import { until } from '../support/dist-helpers.ts';

/** Sorted text of a pid list: equal for equal multisets. */
export function pidSet(pids: readonly Pid[]): string[] {
  return pids.map((p) => `${p.node.name}.${p.id}.${p.serial}.${p.creation}`).sort();
}

/** True when `a` and `b` hold the same pids, each as many times. */
export function sameMembers(a: readonly Pid[], b: readonly Pid[]): boolean {
  const x = pidSet(a);
  const y = pidSet(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Waits until `read()` holds exactly `expected` (as a multiset). */
export async function waitMembers(
  read: () => readonly Pid[],
  expected: readonly Pid[],
  ms = 10_000,
  what = 'members',
): Promise<void> {
  try {
    await until(() => sameMembers(read(), expected), ms, what);
  } catch (e) {
    throw new Error(
      `${(e as Error).message}: have ${pidSet(read()).join(' ')}; want ${pidSet(expected).join(' ')}`,
    );
  }
}

/** TS nodes sharing one in-process EPMD; `stop()` in afterEach stops them all. */
export class TsCluster {
  readonly nodes: Node[] = [];
  #epmd: EpmdServer | undefined;
  #seq = 0;
  readonly #prefix: string;

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  async epmdPort(): Promise<number> {
    this.#epmd ??= await startEpmdServer({ port: 0, host: '127.0.0.1' });
    return this.#epmd.port;
  }

  async node(opts: Partial<NodeOptions> & { logger?: Logger } = {}): Promise<Node> {
    const node = await Node.start({
      name: `${this.#prefix}${++this.#seq}@127.0.0.1`,
      cookie: 'pg-cookie',
      epmd: 'external',
      epmdPort: await this.epmdPort(),
      netTicktimeMs: 4000,
      ...opts,
    });
    this.nodes.push(node);
    return node;
  }

  /** Connects every pair. */
  async mesh(nodes: readonly Node[] = this.nodes): Promise<void> {
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) await (nodes[i] as Node).connect((nodes[j] as Node).name);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.splice(0).map((n) => n.stop()));
    await this.#epmd?.close();
    this.#epmd = undefined;
  }
}

/** A process that keeps every message it receives in `inbox` (until it is killed). */
export function collector(node: Node): { pid: Pid; inbox: Term[] } {
  const inbox: Term[] = [];
  const pid = node.spawn(async (self) => {
    for (;;) inbox.push(await self.receive());
  });
  return { pid, inbox };
}

/** A process that waits for `stop` (any message) and then returns. */
export function idle(node: Node): Pid {
  return node.spawn(async (self) => {
    await self.receive();
  });
}
