/**
 * What a command runs with: the printer, the CLI's own logger (pino on stderr), and the way it
 * waits for the end of a foreground command. Injected so that commands stay testable in-process.
 *
 * @module
 */

import type { Logger } from '../dist/logger.ts';
import type { Output } from './output.ts';

/** The environment of one command. */
export interface CliContext {
  readonly out: Output;
  /** Structured logs of the CLI and of the nodes it starts; stderr, level from `--log-level`. */
  readonly logger: Logger;
  /** Resolves with the signal that asks a foreground command (`start`) to stop. */
  readonly waitForStop: () => Promise<string>;
}

/** Parses a `--timeout` value: milliseconds, or `infinity`. */
export function parseTimeout(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (text === 'infinity') return Number.POSITIVE_INFINITY;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) return Number.NaN;
  return n;
}
