import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPacer } from './pacer.js';

afterEach(() => {
  vi.useRealTimers();
});

function pacerWithClock(busy: { value: boolean }) {
  const clock = { ms: 0 };
  const pacer = createPacer({
    load: { busy: () => busy.value },
    restRatio: 2,
    maxRestMs: 500,
    maxWaitMs: 5_000,
    now: () => clock.ms,
  });
  return { pacer, clock };
}

describe('the pacer', () => {
  it('gives every job its turn at once while the API is not busy, none waiting for another', async () => {
    const { pacer } = pacerWithClock({ value: false });
    const turns = await Promise.all([pacer.turn(), pacer.turn(), pacer.turn()]);
    expect(turns).toHaveLength(3);
  });

  it('runs jobs one at a time while it is busy, each after the last one rested twice its duration, at most 500 ms', async () => {
    vi.useFakeTimers();
    const { pacer, clock } = pacerWithClock({ value: true });
    const started: string[] = [];
    const first = await pacer.turn();
    started.push('first');
    const second = pacer.turn().then((done) => (started.push('second'), done));
    const third = pacer.turn().then((done) => (started.push('third'), done));
    clock.ms += 40; // the first job takes 40 ms
    first();
    await vi.advanceTimersByTimeAsync(79);
    expect(started).toEqual(['first']);
    await vi.advanceTimersByTimeAsync(1);
    expect(started).toEqual(['first', 'second']);
    clock.ms += 10_000; // a long job rests at most 500 ms
    (await second)();
    await vi.advanceTimersByTimeAsync(499);
    expect(started).toEqual(['first', 'second']);
    await vi.advanceTimersByTimeAsync(1);
    expect(started).toEqual(['first', 'second', 'third']);
    (await third)();
  });

  it('waits at most 5 s after a job that does not end started, then gives the others their turns one by one', async () => {
    vi.useFakeTimers();
    const { pacer, clock } = pacerWithClock({ value: true });
    await pacer.turn(); // never done
    const started: string[] = [];
    const second = pacer.turn().then((done) => (started.push('second'), done));
    const third = pacer.turn().then((done) => (started.push('third'), done));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(started).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(started).toEqual(['second']);
    // The third waits for the second (up to 5 s after it started), not for the one that hangs.
    await vi.advanceTimersByTimeAsync(4_000);
    expect(started).toEqual(['second']);
    clock.ms += 50;
    (await second)();
    await vi.advanceTimersByTimeAsync(100);
    expect(started).toEqual(['second', 'third']);
    (await third)();
  });
});
