import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Every answer must read back exactly through its route's response schema (packages/server/src/http/response-check.ts).
    env: { ENTRADA_CHECK_RESPONSES: 'on' },
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    // The browser suite shares one built console and one Chromium binary.
    fileParallelism: false,
  },
});
