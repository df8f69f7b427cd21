import os from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // node-pty is a native addon: keep each test file in its own process.
    pool: 'forks',
    // The suite mostly waits, on the programs and terminals it starts and on limits the product
    // keeps by design (a client waits 5 s for a reply, a stalled viewer is cut off after 10 s,
    // an idle master collects after 6 s): one file at a time, it used 85 s of CPU in 280 s on
    // 2 cores. Vitest's default, one file fewer than there are cores, ran one file at a time
    // there; one file per core (at least two) takes about 145 s on 2 cores. Half again as many
    // took about 115 s, but kept the machine so busy that a test now and then missed a
    // deadline: two runs on clean clones failed one test each, in different files, both
    // passing alone and beside CPU hogs.
    maxWorkers: Math.max(2, os.availableParallelism()),
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 15_000,
    // .ci/run asks for a JSON report beside the usual one, to print its totals line.
    reporters: process.env['DT_TEST_JSON'] ? ['default', 'json'] : ['default'],
    outputFile: process.env['DT_TEST_JSON'] ? { json: process.env['DT_TEST_JSON'] } : {},
  },
});
