/**
 * Transcript tests of the global core (see support/transcript.ts). Each file in testdata/ replays
 * a scenario; most follow a wire log of shared/reference/global-traces/ line by line.
 * `UPDATE_TESTDATA=1 npx vitest run test/global/transcript.test.ts` rewrites the expectations;
 * review the diff against the trace before keeping it.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runTranscriptFile } from './support/transcript.ts';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort();

describe('global transcripts', () => {
  it('has transcripts', () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const file of files) {
    it(file, () => {
      const { expected, actual } = runTranscriptFile(join(dir, file));
      expect(actual).toBe(expected);
    });
  }
});
