/**
 * The logging sink of the distribution layer and the node: a pino-compatible subset
 * (`logger.warn({ code, peer }, 'message')`). Every method is optional, so `{}` is a silent
 * logger and a pino instance works as is.
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
