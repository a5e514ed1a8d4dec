import { defineConfig } from 'vitest/config';

// npm run test:faults: the fault-injection suite (test/faults/), apart from
// the normal suite. One file at a time: each measures client errors under
// load and timings, which a second file's processes on the same two cores
// would disturb. The soak's count is FAULTS_SOAK_UPGRADES (default 1000).
export default defineConfig({
  test: {
    include: ['test/faults/**/*.faults.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
    setupFiles: ['test/faults/setup.ts'],
    reporters: ['default', './test/faults/reporter.ts'],
  },
});
