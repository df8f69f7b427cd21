import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // node-pty is a native addon: keep each test file in its own process.
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 15_000,
    // .ci/run asks for a JSON report beside the usual one, to print its totals line.
    reporters: process.env['DT_TEST_JSON'] ? ['default', 'json'] : ['default'],
    outputFile: process.env['DT_TEST_JSON'] ? { json: process.env['DT_TEST_JSON'] } : {},
  },
});
