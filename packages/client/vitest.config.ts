import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Every answer must read back exactly through its route's response schema (packages/server/src/http/response-check.ts).
    env: { ENTRADA_CHECK_RESPONSES: 'on' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
