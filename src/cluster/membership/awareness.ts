/**
 * Lifeguard's local health awareness: a score of how badly this member itself is doing.
 * Missed acks and nacks raise it, successful probes lower it, and every probe timeout is
 * multiplied by (score + 1), so a member whose own event loop or network is struggling waits
 * longer before it accuses anyone else. (Dadgar, Phillips, Currey: "Lifeguard: Local Health
 * Awareness for More Accurate Failure Detection", 2018, section IV.A.)
 */

/** Health score in [0, max - 1]; 0 is healthy. */
export class Awareness {
  private readonly max: number;
  private current = 0;

  /** @param max the largest timeout multiplier; 1 turns awareness off. */
  constructor(max: number) {
    this.max = Math.max(1, Math.floor(max));
  }

  /** The current score. */
  get score(): number {
    return this.current;
  }

  /** Adds `delta` to the score, clamped to [0, max - 1]. Returns the new score. */
  applyDelta(delta: number): number {
    this.current = clampScore(this.current + delta, this.max);
    return this.current;
  }

  /** `timeoutMs` stretched by the current score. */
  scaleTimeout(timeoutMs: number): number {
    return scaleTimeout(timeoutMs, this.current);
  }
}

/** The score after clamping to [0, max - 1]. */
export function clampScore(score: number, max: number): number {
  return Math.min(Math.max(score, 0), Math.max(0, max - 1));
}

/** A timeout scaled by a health score: `timeoutMs * (score + 1)`. */
export function scaleTimeout(timeoutMs: number, score: number): number {
  return timeoutMs * (score + 1);
}
