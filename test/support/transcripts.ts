/**
 * Transcript suites: every `*.txt` under a testdata folder is a script with the output it must
 * print; `run` replays one file (and rewrites it when `UPDATE_TESTDATA=1`).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

export function describeTranscripts(
  title: string,
  dir: string,
  run: (path: string) => { readonly expected: string; readonly actual: string },
): void {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort();
  describe(title, () => {
    it('has transcripts', () => {
      expect(files.length).toBeGreaterThan(0);
    });
    for (const file of files) {
      it(file, () => {
        const { expected, actual } = run(join(dir, file));
        expect(actual).toBe(expected);
      });
    }
  });
}
