/**
 * A process mailbox: a FIFO queue with selective removal, and at most one waiting reader.
 *
 * Messages sit in segments of up to {@link SEGMENT} slots: the oldest one (with a moving head)
 * and, once it is full, a list of later ones. Taking the first message is O(1); a consumed
 * segment is dropped whole, so a long queue is never copied or shifted, and no array gets large
 * enough to live in the old generation from birth (which makes the garbage collector track every
 * young message stored in it). A selective take scans from the head and leaves a hole where it
 * removed a message, so the messages it skipped keep their order and nothing is copied; holes are
 * compacted away once they outnumber the live messages.
 *
 * A waiting reader (one pending `receive`) is checked when a message arrives: a message it
 * matches is handed to it directly and never queued. This keeps the invariant the BEAM's receive
 * marker keeps: while a reader waits, no queued message matches it (it scanned them all before
 * waiting), so arrival only tests the new message. Delivery to a process that is not waiting
 * just appends: no promise or closure per message.
 *
 * Memory: nothing is allocated before the first message, so an idle process that never received
 * one pays only for the fields below (a process's state extends this class).
 *
 * Correlation ids (correlation.ts): a message that arrived with one is queued wrapped with its id
 * ({@link pushCorrelated}, {@link offerCorrelated}); predicates and readers only ever see the
 * message. Taking a message records its id, read back through {@link correlation}. A mailbox that
 * never held such a message keeps `#corr` undefined, and every path tests only that field.
 *
 * @module
 */

const HOLE: unique symbol = Symbol('hole');

/** Returned by {@link Mailbox.take} when no message matches. */
export const NO_MESSAGE: unique symbol = Symbol('no message');

/** A selective-receive predicate. It must be pure: it runs when messages arrive, too. */
export type MessageMatch<M> = (message: M) => boolean;

/** Slots per segment: small enough to be an ordinary young object (8 KiB), big enough to be rare. */
const SEGMENT = 1024;

/** Compact once this many holes exist and they outnumber the live messages. */
const COMPACT_AT = 1024;

/** A queued message and the correlation id it arrived with. Never escapes this module. */
class Correlated<M> {
  readonly message: M;
  readonly id: string;
  constructor(message: M, id: string) {
    this.message = message;
    this.id = id;
  }
}

/** Correlation bookkeeping, made on the first correlated message. */
interface CorrelationState {
  /** Correlated messages queued. */
  queued: number;
  /** The id of the message taken last (undefined when it had none). */
  last: string | undefined;
}

type Slot<M> = M | typeof HOLE | Correlated<M>;

/** A FIFO message queue with selective take and one waiting reader. */
export class Mailbox<M> {
  /** The oldest segment; live messages start at `#head` (a live one whenever `#count` > 0). */
  #first: Slot<M>[] | undefined = undefined;
  #head = 0;
  /** Later segments, oldest first; only the last one grows. Undefined when there are none. */
  #rest: Slot<M>[][] | undefined = undefined;
  #count = 0;
  /** Holes after `#head`. */
  #holes = 0;
  #waitMatch: MessageMatch<M> | undefined = undefined;
  #waitResolve: ((message: M) => void) | undefined = undefined;
  #waitReject: ((error: unknown) => void) | undefined = undefined;
  /** Undefined unless a correlated message is queued or was the last one taken. */
  #corr: CorrelationState | undefined = undefined;

  /** Messages queued. */
  get length(): number {
    return this.#count;
  }

  /** True while a reader waits. */
  get waiting(): boolean {
    return this.#waitResolve !== undefined;
  }

  /** Appends a message (no reader check: see {@link offer}). */
  push(message: M): void {
    this.#count++;
    const first = this.#first;
    if (first === undefined) {
      this.#first = [message];
      return;
    }
    const rest = this.#rest;
    if (rest === undefined) {
      if (first.length < SEGMENT) first.push(message);
      else this.#rest = [[message]];
      return;
    }
    const last = rest[rest.length - 1] as Slot<M>[];
    if (last.length < SEGMENT) last.push(message);
    else rest.push([message]);
  }

  /**
   * Hands `message` to the waiting reader if it matches, and returns true; otherwise returns
   * false and the caller queues it. A reader whose predicate throws is failed with the error.
   */
  offer(message: M): boolean {
    const resolve = this.#acceptWaiting(message);
    if (resolve === undefined) return false;
    if (this.#corr !== undefined) this.#tookPlain(this.#corr);
    resolve(message);
    return true;
  }

  /**
   * The waiting reader's resolve when it takes `message` (its wait then cleared), else undefined.
   * A reader whose predicate throws is failed with the error.
   */
  #acceptWaiting(message: M): ((message: M) => void) | undefined {
    const resolve = this.#waitResolve;
    if (resolve === undefined) return undefined;
    const match = this.#waitMatch;
    if (match !== undefined) {
      let matched: boolean;
      try {
        matched = match(message);
      } catch (error) {
        this.fail(error);
        return undefined;
      }
      if (!matched) return undefined;
    }
    this.#clearWait();
    return resolve;
  }

  /**
   * The correlation id of the message taken last (by {@link take} or handed over by an offer),
   * or undefined when it carried none.
   */
  get correlation(): string | undefined {
    return this.#corr?.last;
  }

  /** {@link push} for a message that arrived with correlation id `id`. */
  pushCorrelated(message: M, id: string): void {
    const corr = this.#corrState();
    corr.queued++;
    this.push(new Correlated(message, id) as unknown as M);
  }

  /** {@link offer} for a message that arrived with correlation id `id`. */
  offerCorrelated(message: M, id: string): boolean {
    const resolve = this.#acceptWaiting(message);
    if (resolve === undefined) return false;
    this.#corrState().last = id;
    resolve(message);
    return true;
  }

  /** Removes and returns the first message `match` accepts (the first message without `match`). */
  take(match?: MessageMatch<M>): M | typeof NO_MESSAGE {
    if (this.#count === 0) return NO_MESSAGE;
    if (this.#corr !== undefined) return this.#takeCorrelated(this.#corr, match);
    const first = this.#first as Slot<M>[];
    if (match === undefined) {
      const message = first[this.#head] as M;
      this.#removeHead(first);
      return message;
    }
    // No correlated slot is queued here (`#corr` is undefined).
    for (let i = this.#head; i < first.length; i++) {
      const message = first[i] as M | typeof HOLE;
      if (message === HOLE || !match(message)) continue;
      if (i === this.#head) this.#removeHead(first);
      else this.#removeHole(first, i);
      return message;
    }
    const rest = this.#rest;
    if (rest === undefined) return NO_MESSAGE;
    for (const segment of rest) {
      for (let i = 0; i < segment.length; i++) {
        const message = segment[i] as M | typeof HOLE;
        if (message === HOLE || !match(message)) continue;
        this.#removeHole(segment, i);
        return message;
      }
    }
    return NO_MESSAGE;
  }

  /** Removes the first message `match` accepts; true if one was removed. */
  removeFirst(match: MessageMatch<M>): boolean {
    return this.take(match) !== NO_MESSAGE;
  }

  /** Registers the one waiting reader. The caller checks {@link waiting} first. */
  wait(
    match: MessageMatch<M> | undefined,
    resolve: (message: M) => void,
    reject: (error: unknown) => void,
  ): void {
    this.#waitMatch = match;
    this.#waitResolve = resolve;
    this.#waitReject = reject;
  }

  /**
   * Registers the one waiting reader as the `resolve` function of a promise: a failure then
   * resolves it with a rejected promise, so the promise's `reject` function need not be kept
   * (one function less per waiting process).
   */
  waitPromise(match: MessageMatch<M> | undefined, resolve: (value: M | PromiseLike<M>) => void): void {
    this.#waitMatch = match;
    this.#waitResolve = resolve;
    this.#waitReject = undefined;
  }

  /** Forgets the waiting reader without settling it (its timeout or abort settles it). */
  cancelWait(): void {
    this.#clearWait();
  }

  /** Rejects the waiting reader, if any, with `error`. */
  fail(error: unknown): void {
    const resolve = this.#waitResolve;
    const reject = this.#waitReject;
    this.#clearWait();
    if (reject !== undefined) reject(error);
    else if (resolve !== undefined) (resolve as (value: PromiseLike<M>) => void)(Promise.reject(error));
  }

  /** Drops every message. */
  clear(): void {
    this.#corr = undefined;
    this.#first = undefined;
    this.#head = 0;
    this.#rest = undefined;
    this.#count = 0;
    this.#holes = 0;
  }

  /** The queued messages, oldest first (a snapshot for inspection). */
  toArray(): M[] {
    const out = this.#live();
    if (this.#corr !== undefined) {
      for (let i = 0; i < out.length; i++) {
        const slot = out[i] as Slot<M>;
        if (slot instanceof Correlated) out[i] = slot.message;
      }
    }
    return out;
  }

  /** The live slots, oldest first, correlated ones still wrapped. */
  #live(): M[] {
    const out: M[] = [];
    const first = this.#first;
    if (first === undefined) return out;
    for (let i = this.#head; i < first.length; i++) {
      const message = first[i] as Slot<M>;
      if (message !== HOLE) out.push(message as M);
    }
    for (const segment of this.#rest ?? []) {
      for (const message of segment) if (message !== HOLE) out.push(message as M);
    }
    return out;
  }

  #corrState(): CorrelationState {
    this.#corr ??= { queued: 0, last: undefined };
    return this.#corr;
  }

  /** A message without an id was taken: forget the last id, and the state once nothing needs it. */
  #tookPlain(corr: CorrelationState): void {
    corr.last = undefined;
    if (corr.queued === 0) this.#corr = undefined;
  }

  /** {@link take} while correlated messages may be queued: predicates see unwrapped messages. */
  #takeCorrelated(corr: CorrelationState, match: MessageMatch<M> | undefined): M | typeof NO_MESSAGE {
    const first = this.#first as Slot<M>[];
    for (let i = this.#head; i < first.length; i++) {
      const slot = first[i] as Slot<M>;
      if (slot === HOLE) continue;
      const message = slot instanceof Correlated ? (slot.message as M) : slot;
      if (match !== undefined && !match(message)) continue;
      if (i === this.#head) this.#removeHead(first);
      else this.#removeHole(first, i);
      return this.#took(corr, slot, message);
    }
    const rest = this.#rest;
    if (rest === undefined) return NO_MESSAGE;
    for (const segment of rest) {
      for (let i = 0; i < segment.length; i++) {
        const slot = segment[i] as Slot<M>;
        if (slot === HOLE) continue;
        const message = slot instanceof Correlated ? (slot.message as M) : slot;
        if (match !== undefined && !match(message)) continue;
        this.#removeHole(segment, i);
        return this.#took(corr, slot, message);
      }
    }
    return NO_MESSAGE;
  }

  #took(corr: CorrelationState, slot: Slot<M>, message: M): M {
    if (slot instanceof Correlated) {
      corr.queued--;
      corr.last = slot.id;
    } else {
      this.#tookPlain(corr);
    }
    return message;
  }

  #clearWait(): void {
    this.#waitMatch = undefined;
    this.#waitResolve = undefined;
    this.#waitReject = undefined;
  }

  /** Removes the message at the head, then moves the head past holes and consumed segments. */
  #removeHead(first: Slot<M>[]): void {
    first[this.#head] = HOLE;
    this.#count--;
    let segment = first;
    let head = this.#head + 1;
    for (;;) {
      while (head < segment.length && segment[head] === HOLE) {
        head++;
        this.#holes--;
      }
      if (head < segment.length) break;
      const rest = this.#rest;
      if (rest === undefined) {
        // Empty: drop the segment. (Truncating it with `length = 0` and pushing again costs
        // V8 far more than a fresh one-element array.)
        this.#first = undefined;
        this.#head = 0;
        this.#holes = 0;
        return;
      }
      segment = rest.shift() as Slot<M>[];
      if (rest.length === 0) this.#rest = undefined;
      head = 0;
    }
    this.#first = segment;
    this.#head = head;
  }

  /** Removes a message that is not at the head: it leaves a hole. */
  #removeHole(segment: Slot<M>[], index: number): void {
    segment[index] = HOLE;
    this.#count--;
    this.#holes++;
    if (this.#holes >= COMPACT_AT && this.#holes * 2 > this.#count) this.#compact();
  }

  /** Rebuilds the segments without holes. */
  #compact(): void {
    const live = this.#live();
    let rest: Slot<M>[][] | undefined;
    for (let i = SEGMENT; i < live.length; i += SEGMENT) {
      rest ??= [];
      rest.push(live.slice(i, i + SEGMENT));
    }
    this.#first = live.length === 0 ? undefined : live.slice(0, SEGMENT);
    this.#head = 0;
    this.#rest = rest;
    this.#holes = 0;
  }
}
