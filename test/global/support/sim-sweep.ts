/**
 * A bounded seed sweep of the randomized run (sim-run.ts), for hunting rare divergences outside
 * vitest (`batch`, `batch-race`, `bursts`: the experimental batchRegistrations):
 * `npx tsx test/global/support/sim-sweep.ts <firstSeed> <count> [race|nopop|bursts|batch|batch-race]`.
 * Prints each failing seed with the first line of its error, then a summary.
 */
import { randomRun } from './sim-run.ts';

const first = Number(process.argv[2] ?? 0);
const count = Number(process.argv[3] ?? 100);
const mode = process.argv[4];
let failures = 0;
const started = Date.now();
for (let seed = first; seed < first + count; seed++) {
  try {
    randomRun(seed, {
      raceNodeup: mode === 'race' || mode === 'batch-race',
      pop: mode !== 'nopop',
      batch: mode === 'bursts' || mode === 'batch' || mode === 'batch-race',
      bursts: mode === 'bursts',
    });
  } catch (e) {
    failures++;
    console.log(`FAIL ${seed} ${mode ?? 'plain'}: ${String(e).split('\n').slice(0, 4).join(' | ')}`);
  }
}
console.log(
  `done ${first}..${first + count - 1} ${mode ?? 'plain'}: ${failures} failures in ${Date.now() - started} ms`,
);
