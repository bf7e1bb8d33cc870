import { describe, expect, it } from 'vitest';
import type { CatalogueFacts } from './catalogue-facts.read-model.js';
import { createSnapshotStore } from './sharing.catalogue.snapshot.js';

// When the catalogue reads the inventory again: never answering from facts older than the
// configured age, rebuilding behind the answers past half of it, and on a new UTC day.

const empty: CatalogueFacts = { rows: [], donors: [], protocols: [] };

function store(maxAgeMs: number) {
  let ms = 0;
  let date = new Date('2025-03-01T12:00:00Z');
  const reads: string[] = [];
  let fail = false;
  const s = createSnapshotStore({
    read: (today) => {
      reads.push(today);
      return fail ? Promise.reject(new Error('database gone')) : Promise.resolve(empty);
    },
    clock: () => date,
    maxAgeMs,
    now: () => ms,
  });
  return {
    s,
    reads,
    advance(by: number) {
      ms += by;
      date = new Date(date.getTime() + by);
    },
    failReads() {
      fail = true;
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('catalogue snapshot store', () => {
  it('reads once, answers from it while young, rebuilds behind answers past half its age', async () => {
    const x = store(1000);
    const first = await x.s.current();
    expect(x.reads).toHaveLength(1);
    x.advance(400);
    expect(await x.s.current()).toBe(first);
    expect(x.reads).toHaveLength(1);
    x.advance(200);
    // Past half: this answer still comes from the first snapshot, a rebuild starts behind it.
    expect(await x.s.current()).toBe(first);
    await settle();
    expect(x.reads).toHaveLength(2);
    const second = await x.s.current();
    expect(second).not.toBe(first);
  });

  it('waits for a new read when the snapshot is older than allowed, or from another day', async () => {
    const x = store(1000);
    const first = await x.s.current();
    x.advance(1500);
    const second = await x.s.current();
    expect(second).not.toBe(first);
    expect(x.reads).toHaveLength(2);
    x.advance(12 * 3_600_000);
    const third = await x.s.current();
    expect(third.day).toBe('2025-03-02');
    expect(x.reads).toEqual(['2025-03-01', '2025-03-01', '2025-03-02']);
  });

  it('reads for every question with age 0, and keeps the last snapshot when a rebuild behind fails', async () => {
    const zero = store(0);
    await zero.s.current();
    zero.advance(1);
    await zero.s.current();
    expect(zero.reads).toHaveLength(2);

    const x = store(1000);
    const first = await x.s.current();
    x.failReads();
    x.advance(600);
    expect(await x.s.current()).toBe(first);
    await settle();
    expect(await x.s.current()).toBe(first);
    x.advance(600);
    await expect(x.s.current()).rejects.toThrow('database gone');
  });
});
