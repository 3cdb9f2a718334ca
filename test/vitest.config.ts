import { defineConfig } from 'vitest/config';

// Cross-app tests start real processes; run files one at a time so two
// managers never compete for the two cores of a CI machine.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
