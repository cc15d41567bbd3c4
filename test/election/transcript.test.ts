/**
 * Transcript tests: each file in testdata/ is a script of commands with the output they must
 * print (see support/transcript.ts). `UPDATE_TESTDATA=1 npx vitest run test/election/transcript.test.ts`
 * rewrites the expectations; review the diff before keeping it.
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

describe('election transcripts', () => {
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
