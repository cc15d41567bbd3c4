/**
 * RPC round trips: `rpc_bench:echo({ping, 1})` called with 1 and with 64 concurrent callers, for
 * erl->erl (the BEAM baseline: `rpc:call/4` between two erl nodes started by this run, driven by
 * bench/erl/rpc_bench.erl), ts->erl and ts->ts (`node.rpc.call`), and erl->ts (`rpc:call/4` into a
 * TS node that exposes the function). Loopback, private EPMD.
 *
 * Every node is its own OS process, as the erl nodes are: the TS caller (and the erl->ts callee)
 * runs in this process, the ts->ts callee in a child (bench/support/rpc-peer.ts). Per case: `rtt`,
 * the mean over callers of their time per call (µs), and `throughput`, calls over the run's wall
 * time (calls/s). Each figure is the median of `RUNS` runs (c=1: `RUNS * 3` shorter ones) after
 * untimed warm-up runs (WARMUP_CALLS); the runs of the four pairs are interleaved (round r runs
 * every pair once), so a change in the host's load falls on all of them.
 * One calibration row at c=1, impl `node-floor`: what any Node.js caller of erl pays per round
 * trip on this host before protocol work (see {@link floorRun}).
 * `npm run bench -- rpc`.
 */
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameParser } from '../src/dist/framing.ts';
import { Node } from '../src/node/node.ts';
import { atom, type Term, tuple } from '../src/term/index.ts';
import { startEpmd } from '../test/support/epmd.ts';
import { type ErlNode, startErlNode, stopAllErlNodes } from '../test/support/erl-node.ts';
import { startPeerScript } from './support/peer.ts';
import { type ResultRow, writeResults } from './support/results.ts';
import { median } from './support/stats.ts';

const CALLS_PER_CALLER = Number(process.env.RPC_BENCH_CALLS ?? 4_000);
const CONCURRENCY = [1, 64] as const;
const RUNS = Number(process.env.RPC_BENCH_RUNS ?? 3);
/**
 * At c=1 a run is short and the figure is a latency, the one a busy host disturbs most: it runs
 * `RUNS * 3` times with a third of the calls each (same calls in all), so a burst of load spoils
 * a few runs of every pair rather than all the runs of one.
 */
function runsFor(c: number): { runs: number; per: number } {
  return c === 1
    ? { runs: RUNS * 3, per: Math.max(1, Math.round(CALLS_PER_CALLER / 3)) }
    : { runs: RUNS, per: CALLS_PER_CALLER };
}
/**
 * Calls each pair makes untimed before the timed runs (at least one run), every pair alike. The
 * TS ends are V8 code that optimises as it runs: measured at c=1 (1,333 calls a run), a TS pair's
 * round trip fell from 310-490 us over its first run to 120-140 us by its fourth, so one warm-up
 * run left the timed runs still warming (the BEAM compiles at load). `RPC_BENCH_WARMUP_CALLS`.
 */
const WARMUP_CALLS = Number(process.env.RPC_BENCH_WARMUP_CALLS ?? 10_000);
const COOKIE = 'rpc-bench';
const here = dirname(fileURLToPath(import.meta.url));
const erlSource = join(here, 'erl', 'rpc_bench.erl');
const peerScript = join(here, 'support', 'rpc-peer.ts');
const ARG: Term = tuple(atom('ping'), 1);
const ERL_ARG = '{ping, 1}';

interface Figures {
  /** Wall time of the run, µs. */
  readonly wallUs: number;
  /** Mean over callers of their time per call, µs. */
  readonly rttUs: number;
  readonly calls: number;
}

async function startTsPeer(name: string, epmdPort: number): Promise<ChildProcess> {
  return (await startPeerScript(peerScript, [name, COOKIE, String(epmdPort)])).child;
}

/** `c` concurrent TS callers, each making `per` sequential calls. */
async function tsRun(node: Node, target: string, c: number, per: number): Promise<Figures> {
  const caller = async (): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < per; i++) {
      const r = await node.rpc.call(target, 'rpc_bench', 'echo', [ARG]);
      if (r === undefined) throw new Error('no result');
    }
    return ((performance.now() - t0) * 1000) / per;
  };
  const t0 = performance.now();
  const rtts = await Promise.all(Array.from({ length: c }, caller));
  const wallUs = (performance.now() - t0) * 1000;
  return { wallUs, rttUs: rtts.reduce((a, b) => a + b, 0) / c, calls: per * c };
}

/**
 * The floor of a Node.js caller for ts->erl at c=1: the SPAWN_REQUEST frame `rpc.call` sends,
 * captured once and written again byte for byte on the same socket, and the two frames erl
 * answers with (SPAWN_REPLY, then the DOWN that carries the result) counted, not decoded. No
 * encoding, no decoding, no promise per call. The request id is the same every time, which erl
 * accepts (each call's monitor is gone before the next). The connection's own reader is detached
 * meanwhile (a Node internal: the socket of our Connection).
 */
async function floorRun(node: Node, target: string, per: number): Promise<Figures> {
  await node.rpc.call(target, 'rpc_bench', 'echo', [ARG]);
  const conn = node.connection(target);
  if (conn === undefined) throw new Error('no connection');
  const socket = (conn as unknown as { socket: Socket }).socket;
  let frame: Buffer | undefined;
  const write = socket.write;
  socket.write = ((b: Buffer, ...rest: never[]) => {
    frame ??= Buffer.from(b);
    return write.call(socket, b, ...rest);
  }) as typeof socket.write;
  await node.rpc.call(target, 'rpc_bench', 'echo', [ARG]);
  socket.write = write;
  if (frame === undefined) throw new Error('no request frame seen');
  const request = frame;
  const readers = socket.listeners('data') as ((b: Buffer) => void)[];
  socket.removeAllListeners('data');
  const frames = new FrameParser({ headerBytes: 4 });
  let need = 0;
  let done: (() => void) | undefined;
  // Frames are only split off the stream, not decoded; an empty one is a tick.
  const count = (chunk: Buffer): void => {
    frames.push(chunk);
    for (let f = frames.next(); f !== undefined; f = frames.next()) if (f.length > 0) need--;
    if (need <= 0 && done !== undefined) {
      const d = done;
      done = undefined;
      d();
    }
  };
  socket.on('data', count);
  try {
    const t0 = performance.now();
    for (let i = 0; i < per; i++) {
      need = 2;
      await new Promise<void>((resolve) => {
        done = resolve;
        socket.write(request);
      });
    }
    const us = (performance.now() - t0) * 1000;
    return { wallUs: us, rttUs: us / per, calls: per };
  } finally {
    socket.off('data', count);
    for (const r of readers) socket.on('data', r);
  }
}

async function erlRun(from: ErlNode, target: string, c: number, per: number): Promise<Figures> {
  const calls = per * c;
  const r = (await from.eval(`rpc_bench:run('${target}', ${calls}, ${c}, ${ERL_ARG})`, 300_000)) as {
    elements: readonly Term[];
  };
  return { wallUs: r.elements[0] as number, rttUs: r.elements[1] as number, calls };
}

/**
 * Warms every case up once, then runs `runs` rounds in which every case runs once, in the same
 * order: a change in the host's load during the bench falls on every pair alike. Medians per case.
 */
async function measureInterleaved(
  cases: readonly { readonly label: string; readonly run: () => Promise<Figures> }[],
  runs: number,
  warmups: number,
): Promise<{ rtt: number; tput: number }[]> {
  // Warm-up: connection set up, JIT, caches.
  for (let w = 0; w < warmups; w++) for (const c of cases) await c.run();
  const rtts: number[][] = cases.map(() => []);
  const tputs: number[][] = cases.map(() => []);
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < cases.length; i++) {
      const f = await cases[i]!.run();
      rtts[i]!.push(f.rttUs);
      tputs[i]!.push(f.calls / (f.wallUs / 1e6));
    }
  }
  return cases.map((c, i) => {
    const rtt = median(rtts[i]!);
    const tput = median(tputs[i]!);
    console.error(
      `${c.label}: rtt ${rtts[i]!.map((x) => x.toFixed(1)).join(', ')} us -> ${rtt.toFixed(1)}; ` +
        `${tputs[i]!.map((x) => Math.round(x)).join(', ')} calls/s -> ${Math.round(tput)}`,
    );
    return { rtt, tput };
  });
}

export async function main(): Promise<void> {
  const epmd = await startEpmd();
  const nodes: Node[] = [];
  let peer: ChildProcess | undefined;
  try {
    const tsA = await Node.start({
      name: 'rpc_bench_ts_a@127.0.0.1',
      cookie: COOKIE,
      epmd: 'external',
      epmdPort: epmd.port,
    });
    nodes.push(tsA);
    tsA.rpc.expose('rpc_bench', { echo: (x: Term) => x });
    // Calls queue up behind 64 callers; a generous limit keeps the bench about speed.
    tsA.rpc.configure({ timeoutMs: 60_000 });
    const tsB = 'rpc_bench_ts_b@127.0.0.1';
    peer = await startTsPeer(tsB, epmd.port);
    const erlOpts = { cookie: COOKIE, epmdPort: epmd.port };
    const e1 = await startErlNode({ name: 'rpc_bench_erl_1@127.0.0.1', ...erlOpts });
    const e2 = await startErlNode({ name: 'rpc_bench_erl_2@127.0.0.1', ...erlOpts });
    for (const e of [e1, e2]) {
      const loaded = await e.eval(
        `{ok, M, Bin} = compile:file("${erlSource}", [binary]), {module, M} = code:load_binary(M, "rpc_bench.erl", Bin), M`,
        60_000,
      );
      if (loaded !== atom('rpc_bench')) throw new Error(`could not load rpc_bench into ${e.name}`);
    }

    const rows: ResultRow[] = [];
    const add = (impl: string, c: number, r: { rtt: number; tput: number }): void => {
      rows.push({ case: `c=${c}`, impl, metric: 'rtt', value: r.rtt, unit: 'us' });
      rows.push({ case: `c=${c}`, impl, metric: 'throughput', value: r.tput, unit: 'calls/s' });
    };
    for (const c of CONCURRENCY) {
      const { runs, per } = runsFor(c);
      const cases: [string, () => Promise<Figures>][] = [
        ['erl->erl', () => erlRun(e2, e1.name, c, per)],
        ['ts->ts', () => tsRun(tsA, tsB, c, per)],
        ['ts->erl', () => tsRun(tsA, e1.name, c, per)],
        ['erl->ts', () => erlRun(e1, tsA.name, c, per)],
      ];
      if (c === 1) cases.push(['node-floor', () => floorRun(tsA, e1.name, per)]);
      const results = await measureInterleaved(
        cases.map(([impl, run]) => ({ label: `${impl} c=${c}`, run })),
        runs,
        Math.max(1, Math.ceil(WARMUP_CALLS / (per * c))),
      );
      for (const [i, [impl]] of cases.entries()) add(impl, c, results[i]!);
    }
    writeResults('rpc', rows, 'erl->erl');
  } finally {
    peer?.stdin?.end();
    if (peer !== undefined && peer.exitCode === null) await new Promise((r) => peer?.once('exit', r));
    await Promise.all(nodes.map((n) => n.stop()));
    await stopAllErlNodes();
    await epmd.stop();
  }
}
