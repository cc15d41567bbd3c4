/**
 * Virtual time for deterministic simulation.
 *
 * Events sit in a binary heap ordered by (time, insertion order), so two events at the same
 * virtual millisecond always run in the order they were scheduled: one seed, one history.
 * An event may name an owner (a node id). A paused owner is a slow node whose event loop is
 * stuck (a GC pause, a blocked thread): its events that fall due during the pause are deferred
 * to the end of the pause and then run back to back, as a real event loop catches up. Deferred
 * timers run before deferred I/O (packet deliveries), each in their original order: the slow
 * node's timeouts fire before it reads the replies that arrived in time, the worst case for a
 * failure detector and the one Lifeguard is designed for (in Node.js, a loop blocked in an I/O
 * callback runs expired timers before polling for more I/O).
 */
import type { Clock, Timers } from './clock.ts';

/** A scheduled event; pass it to `clearTimeout` to cancel. */
export interface TimerHandle {
  readonly time: number;
  readonly owner: string | undefined;
}

/** What an event stands for: a timer (default) or I/O, such as a packet delivery. */
export type SimEventKind = 'timer' | 'io';

interface SimEvent extends TimerHandle {
  time: number;
  /** 0, or 1 for I/O deferred by a pause: it runs after the timers deferred to the same time. */
  phase: number;
  seq: number;
  readonly kind: SimEventKind;
  readonly fn: () => void;
  readonly owner: string | undefined;
  cancelled: boolean;
}

/** A virtual clock and event queue. */
export class Scheduler implements Clock, Timers {
  private heap: SimEvent[] = [];
  private seq = 0;
  private live = 0;
  private current = 0;
  private readonly pausedUntil = new Map<string, number>();
  /** Events run so far (a cheap progress measure for limits). */
  executed = 0;

  /** @param startMs the virtual time at which the simulation starts. */
  constructor(startMs = 0) {
    this.current = startMs;
  }

  /** The current virtual time in milliseconds. */
  now(): number {
    return this.current;
  }

  /** Events scheduled and not yet run or cancelled. */
  get pending(): number {
    return this.live;
  }

  /** Runs `fn` after `ms` virtual milliseconds (no owner: never paused). */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.at(this.current + Math.max(0, ms), fn);
  }

  /** Cancels an event scheduled by this scheduler; anything else is ignored. */
  clearTimeout(handle: unknown): void {
    const ev = handle as SimEvent | undefined;
    if (ev === undefined || ev === null || typeof ev !== 'object' || !('cancelled' in ev)) return;
    if (ev.cancelled) return;
    ev.cancelled = true;
    this.live--;
  }

  /**
   * Runs `fn` at virtual time `timeMs` (not before now). `owner` ties it to a node that may be
   * paused; `kind` 'io' marks a delivery, which a pause defers behind the owner's timers.
   */
  at(timeMs: number, fn: () => void, owner?: string, kind: SimEventKind = 'timer'): TimerHandle {
    if (!Number.isFinite(timeMs)) throw new RangeError(`Scheduler.at needs a finite time, got ${timeMs}`);
    const ev: SimEvent = {
      time: Math.max(timeMs, this.current),
      phase: 0,
      seq: this.seq++,
      kind,
      fn,
      owner,
      cancelled: false,
    };
    this.push(ev);
    this.live++;
    return ev;
  }

  /**
   * Pauses `owner` until virtual time `untilMs`: its events falling due before then run at
   * `untilMs` instead. A later pause extends, never shortens, an earlier one.
   */
  pause(owner: string, untilMs: number): void {
    const prev = this.pausedUntil.get(owner) ?? Number.NEGATIVE_INFINITY;
    if (untilMs > prev) this.pausedUntil.set(owner, untilMs);
  }

  /** True when `owner` is paused at the current virtual time. */
  isPaused(owner: string): boolean {
    return (this.pausedUntil.get(owner) ?? Number.NEGATIVE_INFINITY) > this.current;
  }

  /** A Clock and Timers view whose timers belong to `owner` (so they wait while it is paused). */
  forOwner(owner: string): Clock & Timers {
    return {
      now: () => this.current,
      setTimeout: (fn, ms) => this.at(this.current + Math.max(0, ms), fn, owner),
      clearTimeout: (h) => this.clearTimeout(h),
    };
  }

  /** Time of the next event to run, or undefined when none. */
  peekTime(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.time;
  }

  /** Runs the next event, advancing virtual time to it. Returns false when no event is left. */
  step(): boolean {
    for (;;) {
      const ev = this.pop();
      if (ev === undefined) return false;
      if (ev.cancelled) continue;
      const until = ev.owner === undefined ? undefined : this.pausedUntil.get(ev.owner);
      if (until !== undefined && until > ev.time) {
        // The owner is paused: requeue at the end of the pause; seq is renewed, but deferred
        // events are popped in their original order, so they keep it among themselves, and
        // deferred I/O goes behind deferred timers.
        ev.time = until;
        ev.phase = ev.kind === 'io' ? 1 : 0;
        ev.seq = this.seq++;
        this.push(ev);
        continue;
      }
      this.current = ev.time;
      this.live--;
      ev.cancelled = true; // a run event cannot be cancelled again
      this.executed++;
      ev.fn();
      return true;
    }
  }

  /** Runs every event due at or before `timeMs`, then sets the clock to `timeMs`. */
  runUntil(timeMs: number): void {
    for (;;) {
      const t = this.peekTime();
      if (t === undefined || t > timeMs) break;
      this.step();
    }
    if (timeMs > this.current) this.current = timeMs;
  }

  /**
   * Runs events while `pred()` holds and the next event is due at or before the absolute
   * virtual time `limitMs`. Returns true when it stopped because `pred()` turned false; false
   * when it hit the limit or ran out of events (the clock then reads `limitMs`).
   */
  runWhile(pred: () => boolean, limitMs: number): boolean {
    while (pred()) {
      const t = this.peekTime();
      if (t === undefined || t > limitMs) {
        if (limitMs > this.current) this.current = limitMs;
        return false;
      }
      this.step();
    }
    return true;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
  }

  private less(a: SimEvent, b: SimEvent): boolean {
    if (a.time !== b.time) return a.time < b.time;
    if (a.phase !== b.phase) return a.phase < b.phase;
    return a.seq < b.seq;
  }

  private push(ev: SimEvent): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      const tmp = h[i]!;
      h[i] = h[p]!;
      h[p] = tmp;
      i = p;
    }
  }

  private pop(): SimEvent | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        const tmp = h[i]!;
        h[i] = h[m]!;
        h[m] = tmp;
        i = m;
      }
    }
    return top;
  }
}
