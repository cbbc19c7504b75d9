import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 240_000,
    // The browser suites share one built app and one Chromium binary; run them one after another.
    fileParallelism: false,
  },
});
