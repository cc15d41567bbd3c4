import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints `tests: N passed, N failed, N skipped` as the very last line of a run, so CI can read
 * the outcome without parsing vitest's own summary. A module that failed to load counts as one
 * failed test, and so does an unhandled error: neither may pass silently.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const mod of modules) {
      let cases = 0;
      for (const test of mod.children.allTests()) {
        cases++;
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      if (cases === 0 && mod.state() === 'failed') failed++;
      else if (mod.errors().length > 0) failed += mod.errors().length;
    }
    // Written after vitest's own summary (this reporter is listed last), on stdout.
    process.stdout.write(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
