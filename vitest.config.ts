import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // tfjs backends are process-wide singletons: one file per worker, files in sequence.
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
  },
});
