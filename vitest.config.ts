import { defineConfig, type ViteUserConfig } from 'vitest/config';

const config: ViteUserConfig = defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Interop tests start real `erl` nodes; two cores do not want more than two files at once.
    maxWorkers: 2,
    pool: 'forks',
  },
});

export default config;
