import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests spawn CLIs, sandboxes and redis-server: two cores do not like more than two forks at once.
    pool: 'forks',
    maxWorkers: 2,
  },
});
