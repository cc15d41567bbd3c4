/**
 * pg on five nodes: five TS nodes (`ts`: this process drives, four peers run
 * bench/support/pg-peer.ts in their own OS processes) against five erl nodes running OTP's pg
 * (`erl`: bench/erl/pg_bench.erl, started by this run), same workloads, same timing. Loopback,
 * private EPMD, the default scope `pg`, default flags on both sides.
 *
 * - propagation: from `join` on the driver's node until every one of the four other nodes has
 *   seen the member: each peer subscribes to the group (TS: `groups.monitor`, erl:
 *   `pg:monitor/1`) and acknowledges every change to the driver; the time to the fourth
 *   acknowledgement, over SAMPLES joins (after WARMUP), each followed by an (untimed) leave.
 *   p50 and p99 in microseconds.
 * - join_leave: JOIN_LEAVES joins and as many leaves of one process, until the last one has
 *   reached every node (a marker join after them comes back from each peer): operations (a join
 *   or a leave) per second, best of 2.
 * - broadcast: MEMBERS processes in one group, spread evenly over the five nodes; ROUNDS
 *   broadcasts from the driver (TS: `groups.broadcast`, erl: a send to each of
 *   `pg:get_members/1`), until every member has them all: messages per second, best of 2.
 * - calibration (not a pg figure): a plain message round trip between the driver and one peer,
 *   p50, so the latencies above can be read against the transport's own in the same run.
 * - CPU per join: the CPU time all five processes (every thread) spend over the timed
 *   propagation samples, per join (a sample is a join and a leave, each fanned out to the four
 *   peers and acknowledged by each): `cpu_per_join` from the threads' nanosecond counters
 *   (`/proc/<pid>/task/<tid>/schedstat`), and its split into user and system time (`stat`, 10 ms
 *   ticks, so coarse). With five busy processes on a small machine the propagation time follows
 *   this figure.
 * - `node-raw` (calibration, TS runs only): the join's message pattern with no protocol at all:
 *   the driver writes 100 bytes to a plain TCP echo in each of the four peer processes and waits
 *   for all four echoes; its p50 and its CPU per fan-out, as the CPU figures above. What Node.js
 *   and the kernel charge for the sixteen message ends of a join before any pg or distribution
 *   work.
 *
 * erl and ts runs alternate RUNS times (fresh nodes each time), so a change in the host's load
 * falls on both: percentiles are over the samples of every run, throughputs the median run.
 *
 * `npm run bench -- pg`.
 */
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Node } from '../src/node/node.ts';
import type { ProcessContext } from '../src/node/process.ts';
import { type Atom, atom, Float, type Pid, type Term, Tuple } from '../src/term/index.ts';
import { startEpmd } from '../test/support/epmd.ts';
import { type ErlNode, startErlNode, stopAllErlNodes } from '../test/support/erl-node.ts';
import { startPeerScript } from './support/peer.ts';
import { A } from './support/pg-atoms.ts';
import { type CpuTime, cpuBetween, processCpu } from './support/proc-cpu.ts';
import { connectRaw } from './support/raw-echo.ts';
import { type ResultRow, writeResults } from './support/results.ts';
import { median } from './support/stats.ts';

const SAMPLES = Number(process.env.PG_BENCH_SAMPLES ?? 1000);
/**
 * Untimed joins (and pings) before the timed ones, on both sides alike. The TS peers are fresh
 * processes whose pg paths V8 has not optimised yet: measured, a peer spends about 220 µs of CPU
 * per join or leave over its first thousand, 85 over the next, and settles near 45 after some
 * 5,000 (the BEAM compiles its code when it loads it). A long-running node lives in the settled
 * state; that is the one measured. `PG_BENCH_WARMUP` overrides it.
 */
const WARMUP = Number(process.env.PG_BENCH_WARMUP ?? 3000);
const JOIN_LEAVES = Number(process.env.PG_BENCH_JOIN_LEAVES ?? 20_000);
const MEMBERS = 1000;
const ROUNDS = Number(process.env.PG_BENCH_ROUNDS ?? 100);
const NODES = 5;
/** erl and ts alternate this many times (the host's load changes; alternating spreads it evenly). */
const RUNS = Number(process.env.PG_BENCH_RUNS ?? 3);
const COOKIE = 'pg-bench';
const here = dirname(fileURLToPath(import.meta.url));
const erlSource = join(here, 'erl', 'pg_bench.erl');
const peerScript = join(here, 'support', 'pg-peer.ts');

interface Figures {
  /** Propagation samples in microseconds (warm-up excluded). */
  readonly propagation: number[];
  readonly joinLeave: number;
  readonly broadcast: number;
  /** Calibration: plain round trips to one peer's control process, in microseconds. */
  readonly rtt: number[];
  /** CPU of all five processes over the timed propagation samples. */
  readonly cpu: CpuTime;
  /** TS runs: the `node-raw` fan-out calibration. */
  readonly raw?: { readonly samples: number[]; readonly cpu: CpuTime };
}

/** The CPU rows: the total (precise) and its split into user and system time (10 ms ticks). */
const CPU_METRICS = [
  ['totalUs', 'cpu_per_join'],
  ['userUs', 'cpu_user_per_join'],
  ['sysUs', 'cpu_sys_per_join'],
] as const;

/** Bytes of one `node-raw` message (about a pg join on the wire). */
const RAW_BYTES = 100;

/** A number from erl (integral floats decode as {@link Float}). */
function num(t: Term): number {
  return t instanceof Float ? t.value : Number(t);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))] as number;
}

// ---- TS ----

async function startTsPeer(
  name: string,
  epmdPort: number,
): Promise<{ child: ChildProcess; rawPort: number }> {
  // PG_BENCH_PEER_ARGS: extra node flags for the peers (e.g. `--cpu-prof` when profiling).
  const extra = process.env.PG_BENCH_PEER_ARGS?.split(' ').filter((x) => x.length > 0) ?? [];
  const { child, ready } = await startPeerScript(peerScript, [name, COOKIE, String(epmdPort)], extra);
  return { child, rawPort: Number(ready) };
}

/**
 * `node-raw`: WARMUP + SAMPLES fan-outs of RAW_BYTES to the peers' plain TCP echoes, each waited
 * for until every echo is back; samples after the warm-up, and the CPU of `pids` over them.
 */
async function rawFanout(
  ports: readonly number[],
  pids: readonly number[],
): Promise<{ samples: number[]; cpu: CpuTime }> {
  const sockets: Socket[] = [];
  try {
    for (const port of ports) sockets.push(await connectRaw(port));
    const msg = Buffer.alloc(RAW_BYTES, 1);
    let waiting = 0;
    let wake: (() => void) | undefined;
    for (const s of sockets) {
      let got = 0;
      s.on('data', (chunk: Buffer) => {
        got += chunk.length;
        while (got >= RAW_BYTES) {
          got -= RAW_BYTES;
          if (--waiting === 0) wake?.();
        }
      });
    }
    const samples: number[] = [];
    let cpu0 = processCpu(pids);
    for (let k = 0; k < WARMUP + SAMPLES; k++) {
      if (k === WARMUP) cpu0 = processCpu(pids);
      const t0 = performance.now();
      const back = new Promise<void>((resolve) => {
        wake = resolve;
      });
      waiting = sockets.length;
      for (const s of sockets) s.write(msg);
      await back;
      if (k >= WARMUP) samples.push((performance.now() - t0) * 1000);
    }
    return { samples, cpu: cpuBetween(cpu0, processCpu(pids)) };
  } finally {
    for (const s of sockets) s.destroy();
  }
}

/** Waits for `n` acknowledgements `{seen, action, group}`. */
async function waitSeen(self: ProcessContext, action: Atom, group: Atom, n: number): Promise<void> {
  const match = (m: Term): boolean =>
    m instanceof Tuple && m.elements[0] === A.seen && m.elements[1] === action && m.elements[2] === group;
  for (let i = 0; i < n; i++) await self.receive({ match, timeoutMs: 10_000 });
}

async function tsDriver(
  node: Node,
  self: ProcessContext,
  peers: readonly string[],
  pids: readonly number[],
): Promise<Figures> {
  const g = node.groups;
  const n = peers.length;
  for (const p of peers) self.send([A.pgBench, atom(p)], new Tuple([A.watch, self.pid]));
  const isWatching = (m: Term): boolean => m instanceof Tuple && m.elements[0] === A.watching;
  for (let i = 0; i < n; i++) await self.receive({ match: isWatching, timeoutMs: 10_000 });
  // And every scope knows ours once a marker join comes back from each.
  g.join(A.mark, self.pid);
  await waitSeen(self, A.join, A.mark, n);
  g.leave(A.mark, self.pid);
  await waitSeen(self, A.leave, A.mark, n);

  const propagation: number[] = [];
  let cpu0 = processCpu(pids);
  for (let k = 0; k < WARMUP + SAMPLES; k++) {
    if (k === WARMUP) cpu0 = processCpu(pids);
    const t0 = performance.now();
    g.join(A.prop, self.pid);
    await waitSeen(self, A.join, A.prop, n);
    const us = (performance.now() - t0) * 1000;
    if (k >= WARMUP) propagation.push(us);
    g.leave(A.prop, self.pid);
    await waitSeen(self, A.leave, A.prop, n);
  }
  const cpu = cpuBetween(cpu0, processCpu(pids));

  let joinLeave = 0;
  for (let run = 0; run < 2; run++) {
    const t0 = performance.now();
    for (let k = 0; k < JOIN_LEAVES; k++) {
      g.join(A.jl, self.pid);
      g.leave(A.jl, self.pid);
    }
    g.join(A.mark, self.pid);
    await waitSeen(self, A.join, A.mark, n);
    const ms = performance.now() - t0;
    g.leave(A.mark, self.pid);
    await waitSeen(self, A.leave, A.mark, n);
    joinLeave = Math.max(joinLeave, (2 * JOIN_LEAVES * 1000) / ms);
  }

  const per = Math.floor(MEMBERS / (n + 1));
  for (const p of peers) self.send([A.pgBench, atom(p)], new Tuple([A.members, per, ROUNDS, self.pid]));
  const isReady = (m: Term): boolean => m instanceof Tuple && m.elements[0] === A.ready;
  for (let i = 0; i < n; i++) await self.receive({ match: isReady, timeoutMs: 10_000 });
  const driver = self.pid;
  const local: Pid[] = [];
  for (let i = 0; i < per; i++) {
    local.push(
      self.spawn(async (m) => {
        for (;;) {
          for (let left = ROUNDS; left > 0; left--) if (m.tryReceive() === undefined) await m.receive();
          m.send(driver, A.done);
        }
      }),
    );
  }
  g.join(A.bc, local);
  const deadline = Date.now() + 10_000;
  while (g.members(A.bc).length < per * (n + 1)) {
    if (Date.now() > deadline) throw new Error('broadcast members never all joined');
    await new Promise((r) => setTimeout(r, 5));
  }
  const total = g.members(A.bc).length;
  const isDone = (m: Term): boolean => m === A.done;
  let broadcast = 0;
  for (let run = 0; run < 2; run++) {
    const t0 = performance.now();
    for (let r = 1; r <= ROUNDS; r++) g.broadcast(A.bc, new Tuple([A.bc, r]), { from: driver });
    for (let i = 0; i < total; i++) await self.receive({ match: isDone, timeoutMs: 30_000 });
    broadcast = Math.max(broadcast, (total * ROUNDS * 1000) / (performance.now() - t0));
  }
  for (const pid of local) self.sendExit(pid, A.kill);

  const rtt: number[] = [];
  const first = [A.pgBench, atom(peers[0] as string)] as const;
  const isPong = (m: Term): boolean => m === A.pong;
  const ping = new Tuple([A.ping, self.pid]);
  for (let k = 0; k < WARMUP + SAMPLES; k++) {
    const t0 = performance.now();
    self.send(first, ping);
    await self.receive({ match: isPong });
    if (k >= WARMUP) rtt.push((performance.now() - t0) * 1000);
  }
  return { propagation, joinLeave, broadcast, rtt, cpu };
}

async function runTs(epmdPort: number): Promise<Figures> {
  const names = Array.from({ length: NODES - 1 }, (_, i) => `pgbench_ts_${i + 2}@127.0.0.1`);
  const children: ChildProcess[] = [];
  const rawPorts: number[] = [];
  const node = await Node.start({
    name: 'pgbench_ts_1@127.0.0.1',
    cookie: COOKIE,
    epmd: 'external',
    epmdPort,
  });
  try {
    for (const name of names) {
      const { child, rawPort } = await startTsPeer(name, epmdPort);
      children.push(child);
      rawPorts.push(rawPort);
    }
    const pids = [process.pid, ...children.map((c) => c.pid ?? -1)];
    node.groups.default;
    for (const name of names) await node.connect(name);
    // The full mesh the BEAM makes by itself (global): every peer connects to the others.
    for (const name of names) {
      node.send([A.pgBench, atom(name)], new Tuple([A.connect, names.filter((x) => x !== name).map(atom)]));
    }
    // The floor first, on fresh processes (no heap from the pg run to collect meanwhile).
    const raw = await rawFanout(rawPorts, pids);
    const figures = await new Promise<Figures>((resolve, reject) => {
      node.spawn(async (self) => {
        try {
          resolve(await tsDriver(node, self, names, pids));
        } catch (e) {
          reject(e);
        }
      });
    });
    return { ...figures, raw };
  } finally {
    for (const c of children) c.stdin?.end();
    await node.stop();
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) resolve();
            else c.once('exit', () => resolve());
            setTimeout(() => c.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
  }
}

// ---- erl ----

async function runErl(epmdPort: number): Promise<Figures> {
  const nodes: ErlNode[] = [];
  try {
    for (let i = 1; i <= NODES; i++) {
      nodes.push(
        await startErlNode({
          name: `pgbench_erl_${i}@127.0.0.1`,
          cookie: COOKIE,
          epmdPort,
          // PG_BENCH_ERL_ARGS: extra erl flags (e.g. `+sbwt none` to study scheduler busy-waiting).
          args: [
            '-kernel',
            'start_pg',
            'true',
            ...(process.env.PG_BENCH_ERL_ARGS?.split(' ').filter((x) => x) ?? []),
          ],
        }),
      );
    }
    for (const e of nodes) {
      await e.eval(
        `{ok, M, Bin} = compile:file("${erlSource}", [binary]), {module, M} = code:load_binary(M, "pg_bench.erl", Bin), ok`,
      );
    }
    // Full mesh, then the peers' control processes.
    for (const e of nodes) {
      for (const o of nodes) if (o !== e) await e.eval(`pong = net_adm:ping('${o.name}'), ok`);
    }
    for (const e of nodes.slice(1)) await e.eval('pg_bench:start_peer()');
    const peers = nodes
      .slice(1)
      .map((e) => `'${e.name}'`)
      .join(', ');
    const result = (await (nodes[0] as ErlNode).eval(
      `pg_bench:run([${peers}], ${WARMUP}, ${SAMPLES}, ${JOIN_LEAVES}, ${MEMBERS}, ${ROUNDS})`,
      300_000,
    )) as Tuple;
    const [prop, joinLeave, broadcast, rtt, ticks] = result.elements as [Term[], Term, Term, Term[], Tuple];
    // Clock ticks of /proc (USER_HZ 100) to microseconds; nanoseconds to microseconds.
    const [userTicks, sysTicks, ns] = ticks.elements.map(num) as [number, number, number];
    return {
      propagation: prop.slice(WARMUP).map(num),
      joinLeave: num(joinLeave),
      broadcast: num(broadcast),
      rtt: rtt.slice(WARMUP).map(num),
      cpu: { userUs: userTicks * 10_000, sysUs: sysTicks * 10_000, totalUs: ns / 1000 },
    };
  } finally {
    await stopAllErlNodes();
  }
}

export async function main(): Promise<void> {
  const epmd = await startEpmd();
  try {
    console.log(
      `${RUNS} alternating runs of erl then ts, 5 nodes each: ${SAMPLES} propagation samples, ` +
        `${JOIN_LEAVES} join+leave, ${MEMBERS} members x ${ROUNDS} rounds ...`,
    );
    const runs: Record<'ts' | 'erl', Figures[]> = { ts: [], erl: [] };
    // PG_BENCH_ONLY=ts|erl measures one side (for profiling); results are written only for both.
    const only = process.env.PG_BENCH_ONLY;
    for (let r = 0; r < RUNS; r++) {
      if (only !== 'ts') runs.erl.push(await runErl(epmd.port));
      if (only !== 'erl') runs.ts.push(await runTs(epmd.port));
      console.log(`run ${r + 1}/${RUNS} done`);
    }
    const rows: ResultRow[] = [];
    for (const impl of ['ts', 'erl'] as const) {
      if (runs[impl].length === 0) continue;
      // Percentiles over every run's samples; throughputs: the median run.
      const sorted = runs[impl].flatMap((f) => f.propagation).sort((a, b) => a - b);
      const c = 'join seen on all 5 nodes';
      rows.push({ case: c, impl, metric: 'propagation_p50', value: percentile(sorted, 0.5), unit: 'us' });
      rows.push({ case: c, impl, metric: 'propagation_p99', value: percentile(sorted, 0.99), unit: 'us' });
      rows.push({
        case: 'join+leave, 4 peers',
        impl,
        metric: 'join_leave',
        value: median(runs[impl].map((f) => f.joinLeave)),
        unit: 'ops/s',
      });
      rows.push({
        case: `broadcast to ${MEMBERS} members on 5 nodes`,
        impl,
        metric: 'broadcast',
        value: median(runs[impl].map((f) => f.broadcast)),
        unit: 'msg/s',
      });
      // CPU of the five processes per join (a sample is a join and a leave); medians over runs.
      const perJoin = (f: Figures, k: keyof CpuTime): number => f.cpu[k] / (2 * SAMPLES);
      for (const [k, metric] of CPU_METRICS) {
        rows.push({ case: c, impl, metric, value: median(runs[impl].map((f) => perJoin(f, k))), unit: 'us' });
      }
      // Not a pg figure: the transport's own round trip in the same run, to read the others by.
      const rtt = runs[impl].flatMap((f) => f.rtt).sort((a, b) => a - b);
      rows.push({
        case: 'calibration: plain round trip to one peer',
        impl,
        metric: 'rtt_p50',
        value: percentile(rtt, 0.5),
        unit: 'us',
      });
    }
    const raws = runs.ts.flatMap((f) => (f.raw === undefined ? [] : [f.raw]));
    if (raws.length > 0) {
      const c = 'calibration: bare Node.js fan-out to 4 echo processes (no protocol)';
      const sorted = raws.flatMap((r) => r.samples).sort((a, b) => a - b);
      for (const [p, metric] of [
        [0.5, 'propagation_p50'],
        [0.99, 'propagation_p99'],
      ] as const) {
        rows.push({ case: c, impl: 'node-raw', metric, value: percentile(sorted, p), unit: 'us' });
      }
      for (const [k, metric] of CPU_METRICS) {
        rows.push({
          case: c,
          impl: 'node-raw',
          metric,
          value: median(raws.map((r) => r.cpu[k] / SAMPLES)),
          unit: 'us',
        });
      }
    }
    if (only === undefined) writeResults('pg', rows, 'erl');
    else console.table(rows);
  } finally {
    await epmd.stop();
  }
}
