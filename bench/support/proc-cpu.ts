/**
 * CPU time of OS processes from `/proc/<pid>/stat` (Linux), for benchmarks that compare what
 * whole clusters of processes spend per operation.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Microseconds of one clock tick: `/proc` counts in USER_HZ, 100 on Linux. */
const TICK_US = 10_000;

/** CPU time, in microseconds. */
export interface CpuTime {
  /** User time (10 ms resolution). */
  readonly userUs: number;
  /** System time (10 ms resolution). */
  readonly sysUs: number;
  /** User and system time of every thread, from the scheduler's nanosecond counters. */
  readonly totalUs: number;
}

/**
 * The CPU time `pids` (every thread of each) have used so far, summed. The user/system split
 * comes from `stat` in clock ticks; the total from each thread's `schedstat` in nanoseconds.
 */
export function processCpu(pids: readonly number[]): CpuTime {
  let user = 0;
  let sys = 0;
  let ns = 0;
  for (const pid of pids) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // The thread ended between the listing and the read: its time is in no counter now.
      }
    }
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    user += Number(fields[11]);
    sys += Number(fields[12]);
  }
  return { userUs: user * TICK_US, sysUs: sys * TICK_US, totalUs: ns / 1000 };
}

/** CPU time from `a` to `b`. */
export function cpuBetween(a: CpuTime, b: CpuTime): CpuTime {
  return { userUs: b.userUs - a.userUs, sysUs: b.sysUs - a.sysUs, totalUs: b.totalUs - a.totalUs };
}
