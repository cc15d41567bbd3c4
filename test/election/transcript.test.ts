/**
 * Transcript tests: each file in testdata/ is a script of commands with the output they must
 * print (see support/transcript.ts). `UPDATE_TESTDATA=1 npx vitest run test/election/transcript.test.ts`
 * rewrites the expectations; review the diff before keeping it.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeTranscripts } from '../support/transcripts.ts';
import { runTranscriptFile } from './support/transcript.ts';

describeTranscripts(
  'election transcripts',
  join(dirname(fileURLToPath(import.meta.url)), 'testdata'),
  runTranscriptFile,
);
