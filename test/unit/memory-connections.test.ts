// Connections that leave count towards the collections of a master gone quiet: judged by the
// collector the module is given (a stand-in for the one --expose-gc exposes) and fake timers.

import { afterEach, beforeAll, expect, it, vi } from 'vitest';

type Collector = (options?: { type: 'minor' }) => void;

const collections: (string | undefined)[] = [];
let collectAfterOutput: typeof import('../../src/master/memory.js').collectAfterOutput;

beforeAll(async () => {
  // Taken by the module as it loads, as a detached master's gc() is.
  (globalThis as { gc?: Collector }).gc = (options) => { collections.push(options?.type); };
  ({ collectAfterOutput } = await import('../../src/master/memory.js'));
});

afterEach(() => {
  vi.useRealTimers();
  collections.length = 0;
});

it('a few hundred connections that came and went are collected (fully, twice) once the master has been quiet for 6 s', () => {
  vi.useFakeTimers();
  const collection = collectAfterOutput();
  for (let connection = 0; connection < 300; connection++) collection.connectionLeft(0);
  vi.advanceTimersByTime(5_000);
  expect(collections, 'while quiet for less than 6 s').toEqual([]);
  vi.advanceTimersByTime(3_000);
  expect(collections).toEqual([undefined, undefined]);
  // Done: an idle master wakes for nothing after that.
  vi.advanceTimersByTime(60_000);
  expect(collections).toHaveLength(2);
});

it('a connection now and then is not worth a collection', () => {
  vi.useFakeTimers();
  const collection = collectAfterOutput();
  for (let connection = 0; connection < 20; connection++) collection.connectionLeft(0);
  vi.advanceTimersByTime(60_000);
  expect(collections).toEqual([]);
});

it('what a connection held when it left (an unfinished frame) counts too', () => {
  vi.useFakeTimers();
  const collection = collectAfterOutput();
  collection.connectionLeft(1024 * 1024);
  vi.advanceTimersByTime(8_000);
  expect(collections).toEqual([undefined, undefined]);
});
