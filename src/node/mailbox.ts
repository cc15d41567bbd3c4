/**
 * A process mailbox: a FIFO queue with selective removal, and at most one waiting reader.
 *
 * Messages sit in one array with a moving head. Taking the first message is O(1); a selective
 * take scans from the head and leaves a hole where it removed a message, so the messages it
 * skipped keep their order and nothing is copied. Holes and the consumed prefix are compacted
 * away once they outnumber the live messages.
 *
 * A waiting reader (one pending `receive`) is checked when a message arrives: a message it
 * matches is handed to it directly and never queued. This keeps the invariant the BEAM's receive
 * marker keeps: while a reader waits, no queued message matches it (it scanned them all before
 * waiting), so arrival only tests the new message. Delivery to a process that is not waiting
 * just appends: no promise or closure per message.
 *
 * @module
 */

const HOLE: unique symbol = Symbol('hole');

/** Returned by {@link Mailbox.take} when no message matches. */
export const NO_MESSAGE: unique symbol = Symbol('no message');

/** A selective-receive predicate. It must be pure: it runs when messages arrive, too. */
export type MessageMatch<M> = (message: M) => boolean;

/** Compact once this many dead slots exist and they outnumber the live messages. */
const COMPACT_AT = 1024;

/** A FIFO message queue with selective take and one waiting reader. */
export class Mailbox<M> {
  #items: (M | typeof HOLE)[] = [];
  #head = 0;
  /** Holes in `#items` at or after `#head`. */
  #holes = 0;
  #waitMatch: MessageMatch<M> | undefined = undefined;
  #waitResolve: ((message: M) => void) | undefined = undefined;
  #waitReject: ((error: unknown) => void) | undefined = undefined;

  /** Messages queued. */
  get length(): number {
    return this.#items.length - this.#head - this.#holes;
  }

  /** True while a reader waits. */
  get waiting(): boolean {
    return this.#waitResolve !== undefined;
  }

  /** Appends a message (no reader check: see {@link offer}). */
  push(message: M): void {
    this.#items.push(message);
  }

  /**
   * Hands `message` to the waiting reader if it matches, and returns true; otherwise returns
   * false and the caller queues it. A reader whose predicate throws is failed with the error.
   */
  offer(message: M): boolean {
    const resolve = this.#waitResolve;
    if (resolve === undefined) return false;
    const match = this.#waitMatch;
    if (match !== undefined) {
      let matched: boolean;
      try {
        matched = match(message);
      } catch (error) {
        this.fail(error);
        return false;
      }
      if (!matched) return false;
    }
    this.#clearWait();
    resolve(message);
    return true;
  }

  /** Removes and returns the first message `match` accepts (the first message without `match`). */
  take(match?: MessageMatch<M>): M | typeof NO_MESSAGE {
    const items = this.#items;
    for (let i = this.#head; i < items.length; i++) {
      const message = items[i] as M | typeof HOLE;
      if (message === HOLE) continue;
      if (match === undefined || match(message)) {
        this.#removeAt(i);
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

  /** Forgets the waiting reader without settling it (its timeout or abort settles it). */
  cancelWait(): void {
    this.#clearWait();
  }

  /** Rejects the waiting reader, if any, with `error`. */
  fail(error: unknown): void {
    const reject = this.#waitReject;
    this.#clearWait();
    reject?.(error);
  }

  /** Drops every message. */
  clear(): void {
    // Reuse the array: a mailbox that empties after each message allocates nothing.
    this.#items.length = 0;
    this.#head = 0;
    this.#holes = 0;
  }

  /** The queued messages, oldest first (a snapshot for inspection). */
  toArray(): M[] {
    const out: M[] = [];
    const items = this.#items;
    for (let i = this.#head; i < items.length; i++) {
      const message = items[i] as M | typeof HOLE;
      if (message !== HOLE) out.push(message);
    }
    return out;
  }

  #clearWait(): void {
    this.#waitMatch = undefined;
    this.#waitResolve = undefined;
    this.#waitReject = undefined;
  }

  #removeAt(index: number): void {
    const items = this.#items;
    items[index] = HOLE;
    this.#holes++;
    // Keep the head on a live message so an unselective take is O(1).
    while (this.#head < items.length && items[this.#head] === HOLE) {
      this.#head++;
      this.#holes--;
    }
    if (this.#head === items.length) {
      this.clear();
      return;
    }
    if (this.#head >= COMPACT_AT && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
    if (this.#holes >= COMPACT_AT && this.#holes * 2 > this.#items.length - this.#head) {
      this.#items = this.#items.slice(this.#head).filter((m) => m !== HOLE);
      this.#head = 0;
      this.#holes = 0;
    }
  }
}
