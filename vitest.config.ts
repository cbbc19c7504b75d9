import { defineConfig } from 'vitest/config';

// `npm test` runs every workspace's suites in one Vitest run (each package keeps its own config).
export default defineConfig({
  test: {
    projects: ['packages/*'],
  },
});
