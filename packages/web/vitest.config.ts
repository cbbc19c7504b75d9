import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Every answer must read back exactly through its route's response schema (packages/server/src/http/response-check.ts).
    env: { ENTRADA_CHECK_RESPONSES: 'on' },
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 240_000,
    // The browser suites share one built app and one Chromium binary; run them one after another.
    fileParallelism: false,
  },
});
