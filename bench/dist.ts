/**
 * Distribution throughput and latency: one-way `{msg, I, <<"payload">>}` messages from a sender
 * process to a receiving process on another node (acknowledged when the last one arrives), and
 * ping-pong round trips, for ts->ts, ts->erl, erl->ts and erl->erl (the BEAM baseline, two erl
 * nodes started by this run, running bench/erl/dist_bench.erl). Loopback, private EPMD.
 *
 * Every node is its own OS process, as the two erl nodes are: the TS sender (or pinger) runs in
 * this process, the TS receiver of ts->ts in a child (bench/support/dist-peer.ts). Each figure is
 * the median of `RUNS` runs (ping-pong: `RTT_RUNS` shorter ones) after a warm-up run; the runs of
 * the pairs are interleaved (round r runs every pair once), so a change in the host's load falls
 * on all of them.
 *
 * Calibration row `node-raw` (ping-pong): the same round trip between the same two Node.js
 * processes through a plain TCP echo (no distribution protocol at all), i.e. the floor Node.js
 * and the kernel set for any TS pair.
 * `npm run bench -- dist`.
 */
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Node } from '../src/node/node.ts';
import { type Atom, atom, type Pid, type Term, Tuple, tuple } from '../src/term/index.ts';
import { inProcess } from '../test/support/dist-helpers.ts';
import { startEpmd } from '../test/support/epmd.ts';
import { type ErlNode, startErlNode, stopAllErlNodes } from '../test/support/erl-node.ts';
import { startPeerScript } from './support/peer.ts';
import { connectRaw } from './support/raw-echo.ts';
import { type ResultRow, writeResults } from './support/results.ts';
import { median } from './support/stats.ts';

const MESSAGES = Number(process.env.DIST_BENCH_MESSAGES ?? 200_000);
/** Round trips per ping-pong figure, split over `RTT_RUNS` runs. */
const ROUND_TRIPS = Number(process.env.DIST_BENCH_ROUND_TRIPS ?? 10_000);
/** Rounds; every round runs every pair once (see measureInterleaved). */
const RUNS = Number(process.env.DIST_BENCH_RUNS ?? 5);
/**
 * Ping-pong rounds: more and shorter than the throughput ones, because a latency figure is the
 * one a busy host disturbs most (short runs, many of them, interleaved: a burst of load spoils a
 * few runs of every pair rather than all the runs of one).
 */
const RTT_RUNS = RUNS * 3;
const RTT_PER_RUN = Math.max(1, Math.round(ROUND_TRIPS / RTT_RUNS));
const COOKIE = 'dist-bench';
const here = dirname(fileURLToPath(import.meta.url));
const erlSource = join(here, 'erl', 'dist_bench.erl');
const peerScript = join(here, 'support', 'dist-peer.ts');

/** Starts bench/support/dist-peer.ts as a TS node in a child process; resolves with its raw echo port. */
async function startTsPeer(
  name: string,
  epmdPort: number,
): Promise<{ child: ChildProcess; rawPort: number }> {
  const { child, ready } = await startPeerScript(peerScript, [name, COOKIE, String(epmdPort)]);
  return { child, rawPort: Number(ready) };
}

/** Bytes per raw round trip: about a ping frame of the distribution case. */
const RAW_BYTES = 90;

/**
 * Calibration, not a distribution figure: microseconds per round trip of RAW_BYTES through the
 * peer's plain TCP echo (same two processes, loopback, TCP_NODELAY), i.e. what Node.js and the
 * kernel cost before any protocol work.
 */
async function rawRtt(port: number): Promise<number> {
  const socket = await connectRaw(port);
  try {
    const msg = Buffer.alloc(RAW_BYTES, 1);
    let got = 0;
    let wake: (() => void) | undefined;
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got >= RAW_BYTES && wake !== undefined) {
        got -= RAW_BYTES;
        const w = wake;
        wake = undefined;
        w();
      }
    });
    const t0 = performance.now();
    for (let i = 0; i < RTT_PER_RUN; i++) {
      const back = new Promise<void>((r) => {
        wake = r;
      });
      socket.write(msg);
      await back;
    }
    return ((performance.now() - t0) * 1000) / RTT_PER_RUN;
  } finally {
    socket.destroy();
  }
}

const A = {
  msg: atom('msg'),
  start: atom('start'),
  done: atom('done'),
  ping: atom('ping'),
  sink: atom('bench_sink'),
  echo: atom('bench_echo'),
};
const PAYLOAD = Buffer.from('payload');

/** A TS sink: `{start, N, ReportTo}`, then N messages, then `done` to ReportTo. */
function startTsSink(node: Node): void {
  node.spawn(
    async (self) => {
      for (;;) {
        const start = (await self.receive()) as Tuple;
        let n = start.elements[1] as number;
        while (n > 0) {
          // Drain what is queued without a promise per message; wait only when empty.
          if (self.tryReceive() === undefined) await self.receive();
          n--;
        }
        self.send(start.elements[2] as Pid, A.done);
      }
    },
    { name: A.sink },
  );
}

/** A TS echo: `{From, M}` -> `From ! M`. */
function startTsEcho(node: Node): void {
  node.spawn(
    async (self) => {
      for (;;) {
        const m = (await self.receive()) as Tuple;
        self.send(m.elements[0] as Pid, m.elements[1] as Term);
      }
    },
    { name: A.echo },
  );
}

/** Waits until the connection to `peer` can take more (socket backpressure). */
async function writable(node: Node, peer: string): Promise<void> {
  const conn = node.connection(peer);
  if (conn === undefined || conn.writable) {
    await new Promise((r) => setImmediate(r));
    return;
  }
  await new Promise<void>((r) => conn.once('drain', () => r()));
}

/** TS sender: microseconds for MESSAGES messages to `[sink, peer]`, until its `done`. */
function tsThroughput(node: Node, peer: string): Promise<number> {
  const dest = [A.sink, atom(peer)] as const;
  return inProcess(node, async (self) => {
    self.send(dest, tuple(A.start, MESSAGES, self.pid));
    const t0 = performance.now();
    for (let i = MESSAGES; i > 0; i--) {
      self.send(dest, new Tuple([A.msg, i, PAYLOAD]));
      if ((i & 1023) === 0) await writable(node, peer);
    }
    await self.receive({ match: (m) => m === A.done });
    return (performance.now() - t0) * 1000;
  });
}

/** TS ping-pong: microseconds per round trip through `[echo, peer]`. */
function tsRtt(node: Node, peer: string, echo: Atom): Promise<number> {
  const dest = [echo, atom(peer)] as const;
  return inProcess(node, async (self) => {
    const msg = tuple(self.pid, A.ping);
    const t0 = performance.now();
    for (let i = 0; i < RTT_PER_RUN; i++) {
      self.send(dest, msg);
      await self.receive();
    }
    return ((performance.now() - t0) * 1000) / RTT_PER_RUN;
  });
}

async function erlThroughput(from: ErlNode, to: string): Promise<number> {
  return (await from.eval(`dist_bench:throughput({bench_sink, '${to}'}, ${MESSAGES})`, 120_000)) as number;
}

async function erlRtt(from: ErlNode, to: string): Promise<number> {
  const us = (await from.eval(`dist_bench:rtt({bench_echo, '${to}'}, ${RTT_PER_RUN})`, 120_000)) as number;
  return us / RTT_PER_RUN;
}

/** One figure to measure: a label and a run that returns microseconds. */
interface Case {
  readonly label: string;
  readonly run: () => Promise<number>;
}

/**
 * Warms every case up once (connection set up, JIT, caches), then runs `runs` rounds in which
 * every case runs once, in the same order: a change in the host's load during the bench falls on
 * every pair alike instead of on whichever was measured then. Returns the median per case.
 */
async function measureInterleaved(cases: readonly Case[], runs: number): Promise<number[]> {
  for (const c of cases) await c.run();
  const xs: number[][] = cases.map(() => []);
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < cases.length; i++) xs[i]!.push(await cases[i]!.run());
  }
  return cases.map((c, i) => {
    const m = median(xs[i]!);
    console.error(`${c.label}: ${xs[i]!.map((x) => x.toFixed(1)).join(', ')} -> ${m.toFixed(1)}`);
    return m;
  });
}

export async function main(): Promise<void> {
  const epmd = await startEpmd();
  const nodes: Node[] = [];
  let peer: ChildProcess | undefined;
  try {
    const base = { cookie: COOKIE, epmd: 'external' as const, epmdPort: epmd.port };
    const tsA = await Node.start({ name: 'bench_ts_a@127.0.0.1', ...base });
    nodes.push(tsA);
    startTsSink(tsA);
    startTsEcho(tsA);
    const tsB = 'bench_ts_b@127.0.0.1';
    const started = await startTsPeer(tsB, epmd.port);
    peer = started.child;
    const erlOpts = { cookie: COOKIE, epmdPort: epmd.port };
    const e1 = await startErlNode({ name: 'bench_erl_1@127.0.0.1', ...erlOpts });
    const e2 = await startErlNode({ name: 'bench_erl_2@127.0.0.1', ...erlOpts });
    for (const e of [e1, e2]) {
      const loaded = await e.eval(
        `{ok, M, Bin} = compile:file("${erlSource}", [binary]), {module, M} = code:load_binary(M, "dist_bench.erl", Bin), dist_bench:start_sink(bench_sink), dist_bench:start_echo(bench_echo), M`,
        60_000,
      );
      if (loaded !== atom('dist_bench')) throw new Error(`could not load dist_bench into ${e.name}`);
    }

    const rows: ResultRow[] = [];
    const tput = (impl: string, us: number): void => {
      rows.push({
        case: '{msg, I, <<"payload">>} one way',
        impl,
        metric: 'throughput',
        value: MESSAGES / (us / 1e6),
        unit: 'msg/s',
      });
    };
    const rtt = (impl: string, us: number): void => {
      rows.push({ case: 'ping-pong', impl, metric: 'rtt', value: us, unit: 'us' });
    };

    const tputCases: [string, () => Promise<number>][] = [
      ['erl->erl', () => erlThroughput(e2, e1.name)],
      ['ts->ts', () => tsThroughput(tsA, tsB)],
      ['ts->erl', () => tsThroughput(tsA, e1.name)],
      ['erl->ts', () => erlThroughput(e1, tsA.name)],
    ];
    const rttCases: [string, () => Promise<number>][] = [
      ['erl->erl', () => erlRtt(e2, e1.name)],
      ['ts->ts', () => tsRtt(tsA, tsB, A.echo)],
      ['ts->erl', () => tsRtt(tsA, e1.name, A.echo)],
      ['erl->ts', () => erlRtt(e1, tsA.name)],
      ['node-raw', () => rawRtt(started.rawPort)],
    ];
    const tputs = await measureInterleaved(
      tputCases.map(([impl, run]) => ({ label: `throughput ${impl}`, run })),
      RUNS,
    );
    for (const [i, [impl]] of tputCases.entries()) tput(impl, tputs[i]!);
    const rtts = await measureInterleaved(
      rttCases.map(([impl, run]) => ({ label: `rtt ${impl}`, run })),
      RTT_RUNS,
    );
    for (const [i, [impl]] of rttCases.entries()) rtt(impl, rtts[i]!);

    writeResults('dist', rows, 'erl->erl');
  } finally {
    peer?.stdin?.end();
    if (peer !== undefined && peer.exitCode === null) await new Promise((r) => peer?.once('exit', r));
    await Promise.all(nodes.map((n) => n.stop()));
    await stopAllErlNodes();
    await epmd.stop();
  }
}
