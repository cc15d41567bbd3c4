/**
 * Transcript tests of the global core (see support/transcript.ts). Each file in testdata/ replays
 * a scenario; most follow a wire log of shared/reference/global-traces/ line by line.
 * `UPDATE_TESTDATA=1 npx vitest run test/global/transcript.test.ts` rewrites the expectations;
 * review the diff against the trace before keeping it.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeTranscripts } from '../support/transcripts.ts';
import { runTranscriptFile } from './support/transcript.ts';

describeTranscripts(
  'global transcripts',
  join(dirname(fileURLToPath(import.meta.url)), 'testdata'),
  runTranscriptFile,
);
