/**
 * A slow node as CPU starvation makes one: its event loop is blocked for a while (a long
 * synchronous task, a GC pause, a CPU quota exhausted), runs briefly, and is blocked again.
 * Each stall is a {@link Scheduler.pause} of the node, so while it lasts the node neither reads
 * packets nor fires timers nor sends anything (its outgoing messages are late too); when it
 * ends, the timers that expired meanwhile fire before the queued packets are read, as in
 * Node.js (and in the Go scheduler when the goroutine that reads the socket is starved). That
 * order is what makes a slow node time out probes whose acks already arrived, and expire
 * suspicions whose refutations already arrived: the failures Lifeguard is about.
 */
import type { Rng } from './prng.ts';
import type { Scheduler } from './scheduler.ts';

/** How a slow node stalls; duty cycle = mean stall / (mean stall + mean run). */
export interface StallModel {
  /** Length of each stall in ms, log-uniform in [min, max] (short stalls more frequent than long ones). */
  readonly stallMs: { readonly min: number; readonly max: number };
  /** Time the loop runs between two stalls in ms, uniform in [min, max]. */
  readonly runMs: { readonly min: number; readonly max: number };
}

/** Mean stall length of a model, in ms. */
export function meanStallMs(m: StallModel): number {
  const { min, max } = m.stallMs;
  return max > min ? (max - min) / Math.log(max / min) : min;
}

/** The fraction of time a node following the model is stalled. */
export function stallDutyCycle(m: StallModel): number {
  const stall = meanStallMs(m);
  return stall / (stall + (m.runMs.min + m.runMs.max) / 2);
}

/** Draws one stall length from a model. */
export function drawStallMs(m: StallModel, rng: Rng): number {
  const { min, max } = m.stallMs;
  return max > min ? min * Math.exp(rng.next() * Math.log(max / min)) : min;
}

function checkModel(m: StallModel): void {
  const ok =
    m.stallMs.min > 0 && m.stallMs.max >= m.stallMs.min && m.runMs.min >= 0 && m.runMs.max >= m.runMs.min;
  if (!ok)
    throw new RangeError('StallModel needs 0 < stallMs.min <= stallMs.max and 0 <= runMs.min <= runMs.max');
}

/**
 * Makes `owner` stall by `model` from `startMs` until `untilMs` (virtual times). The driving
 * events have no owner, so they run on time while the node is stalled.
 */
export function stallRepeatedly(
  scheduler: Scheduler,
  rng: Rng,
  owner: string,
  model: StallModel,
  startMs: number,
  untilMs: number,
): void {
  checkModel(model);
  const stall = (): void => {
    const now = scheduler.now();
    if (now >= untilMs) return;
    const d = drawStallMs(model, rng);
    scheduler.pause(owner, now + d);
    const run = model.runMs.min + rng.next() * (model.runMs.max - model.runMs.min);
    scheduler.at(now + d + run, stall);
  };
  scheduler.at(startMs, stall);
}
