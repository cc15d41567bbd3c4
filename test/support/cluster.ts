/**
 * One private EPMD per suite and the nodes a test starts on it, all stopped in teardown.
 *
 * Call `useTestCluster` inside a `describe`: it registers the hooks that start the EPMD before the
 * suite, stop every TS node and `erl` node after each test, and stop the EPMD after the suite.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Node } from '../../src/node/node.ts';
import type { NodeOptions } from '../../src/node/options.ts';
import { type EpmdProcess, startEpmd } from './epmd.ts';
import { type ErlNode, type ErlNodeOptions, startErlNode, stopAllErlNodes } from './erl-node.ts';

export interface TestClusterOptions {
  readonly cookie: string;
  /** Node names are `<prefix><n>@127.0.0.1`. */
  readonly prefix: string;
  /** Tick time of every node, TS and erl (ms); short so lost peers are noticed quickly. */
  readonly netTicktimeMs?: number;
  /** Runs after each test, before the nodes stop (e.g. to kill helper OS processes). */
  readonly afterEachTest?: () => Promise<void> | void;
}

export interface TestCluster {
  /** The private EPMD's port (valid once the suite has started). */
  readonly epmdPort: number;
  /** A TS node on the private EPMD with the suite's cookie; `opts` override the defaults. */
  tsNode(opts?: Partial<NodeOptions>): Promise<Node>;
  /** An `erl` node named `<name>@127.0.0.1` on the private EPMD with the suite's cookie. */
  erlNode(name: string, opts?: Partial<ErlNodeOptions>): Promise<ErlNode>;
}

export function useTestCluster(options: TestClusterOptions): TestCluster {
  let epmd: EpmdProcess | undefined;
  const started: Node[] = [];
  let seq = 0;

  beforeAll(async () => {
    epmd = await startEpmd();
  });
  afterEach(async () => {
    await options.afterEachTest?.();
    await Promise.all(started.splice(0).map((n) => n.stop()));
    await stopAllErlNodes();
  });
  afterAll(async () => {
    await stopAllErlNodes();
    await epmd?.stop();
  });

  const port = (): number => {
    if (epmd === undefined) throw new Error('the private EPMD starts in beforeAll');
    return epmd.port;
  };
  const tickMs = options.netTicktimeMs;

  return {
    get epmdPort(): number {
      return port();
    },
    async tsNode(opts: Partial<NodeOptions> = {}): Promise<Node> {
      const node = await Node.start({
        name: `${options.prefix}${++seq}@127.0.0.1`,
        cookie: options.cookie,
        epmd: 'external',
        epmdPort: port(),
        ...(tickMs === undefined ? {} : { netTicktimeMs: tickMs }),
        ...opts,
      });
      started.push(node);
      return node;
    },
    erlNode(name: string, opts: Partial<ErlNodeOptions> = {}): Promise<ErlNode> {
      return startErlNode({
        name: `${name}@127.0.0.1`,
        cookie: options.cookie,
        epmdPort: port(),
        ...(tickMs === undefined ? {} : { netTicktimeSec: Math.ceil(tickMs / 1000) }),
        ...opts,
      });
    },
  };
}
