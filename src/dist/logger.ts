/**
 * The logging sink of the distribution layer and the node: a pino-compatible subset
 * (`logger.warn({ code, peer }, 'message')`). Every method is optional, so `{}` is a silent
 * logger and a pino instance works as is (its methods are always called as methods).
 *
 * Fields. A node wraps the logger it is given (node/correlation.ts), so every line it emits
 * carries `node` (its name) and, inside `withCorrelation`, `correlationId`. Call sites add `code`
 * (a stable string naming the event), and where relevant `peer` (the other node's name), `pid`
 * (the process concerned, as text) and `err` (the error, for pino's serializer).
 *
 * @module
 */

/** One log method: structured fields first, then a message, as pino takes them. */
export type LogMethod = (fields: Record<string, unknown>, message?: string) => void;

/** A pino-compatible logger; absent methods drop their records. */
export interface Logger {
  readonly debug?: LogMethod;
  readonly info?: LogMethod;
  readonly warn?: LogMethod;
  readonly error?: LogMethod;
}

/** Drops everything. */
export const silentLogger: Logger = Object.freeze({});
