import { fork } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { apiLoadFromParent, reportApiLoad } from '../src/jobs/api-load.js';
import { createPacer } from '../src/jobs/pacer.js';
import { OutboxRelay } from '../src/jobs/relay.js';
import { startWorkers } from '../src/jobs/workers.js';
import { createTestApp, until } from './helpers/test-app.js';
import { makeLab } from './helpers/inventory.js';

// Checks yield to a busy API (src/jobs/pacer.ts): `serve` reports its load to its background
// child, and while the API is busy on a saturated machine the jobs that yield run one at a time,
// each followed by a rest.

afterEach(() => {
  vi.useRealTimers();
});

describe('the pacer', () => {
  it('lets jobs run at once, side by side, while the API is not busy', async () => {
    const pacer = createPacer({ load: { busy: () => false }, restRatio: 2, maxRestMs: 500 });
    const turns = await Promise.all([pacer.turn(), pacer.turn(), pacer.turn()]);
    expect(turns).toHaveLength(3);
  });

  it('runs them one at a time while it is busy, each after the last one rested twice its duration', async () => {
    vi.useFakeTimers();
    let clock = 0;
    const pacer = createPacer({ load: { busy: () => true }, restRatio: 2, maxRestMs: 500, now: () => clock });
    const started: string[] = [];
    const first = await pacer.turn();
    started.push('first');
    const second = pacer.turn().then((done) => (started.push('second'), done));
    const third = pacer.turn().then((done) => (started.push('third'), done));
    clock += 40; // the first job takes 40 ms
    first();
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['first']);
    await vi.advanceTimersByTimeAsync(79);
    expect(started).toEqual(['first']);
    await vi.advanceTimersByTimeAsync(1);
    expect(started).toEqual(['first', 'second']);
    // A long job rests at most maxRestMs.
    clock += 10_000;
    (await second)();
    await vi.advanceTimersByTimeAsync(499);
    expect(started).toEqual(['first', 'second']);
    await vi.advanceTimersByTimeAsync(1);
    expect(started).toEqual(['first', 'second', 'third']);
    (await third)();
  });
});

describe("the API's load as the background child reads it", () => {
  const report = (utilization: unknown, machineBusy: unknown) =>
    process.emit('message', { type: 'biobank:api-load', utilization, machineBusy }, undefined);

  it('is busy when the API has work and the machine no core to spare, and only for a second', () => {
    let clock = 0;
    const load = apiLoadFromParent({ utilization: 0.1, machineBusy: 0.8 }, () => clock);
    expect(load.busy()).toBe(false); // no report yet
    report(0.5, 0.95);
    expect(load.busy()).toBe(true);
    report(0.05, 0.95); // the machine is busy with something else than requests
    expect(load.busy()).toBe(false);
    report(0.5, 0.6); // requests, but cores to spare
    expect(load.busy()).toBe(false);
    report(0.5, 0.95);
    clock += 999;
    expect(load.busy()).toBe(true);
    clock += 1; // the reports stopped
    expect(load.busy()).toBe(false);
    // Malformed reports and other messages change nothing.
    report(0.5, 0.95);
    report('high', 0.95);
    report(0.5, Number.NaN);
    process.emit('message', { type: 'something else' }, undefined);
    expect(load.busy()).toBe(true);
  });

  it('arrives from the parent over the IPC channel, every tenth of a second', async () => {
    const child = fork(new URL('./helpers/api-load-echo.ts', import.meta.url).pathname, [], {
      execArgv: ['--import', 'tsx'],
      stdio: 'ignore',
    });
    reportApiLoad(child);
    const started = Date.now();
    const echoed = await new Promise<Record<string, unknown>>((resolve, reject) => {
      child.once('message', (m) => resolve(m as Record<string, unknown>));
      child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(echoed.type).toBe('biobank:api-load');
    for (const key of ['utilization', 'machineBusy']) {
      expect(echoed[key]).toBeGreaterThanOrEqual(0);
      expect(echoed[key]).toBeLessThanOrEqual(1);
    }
  });
});

describe('the workers', () => {
  it('hold a specimen check until the pacer gives it a turn, and end the turn when it is done', async () => {
    const t = await createTestApp();
    const relay = new OutboxRelay({
      db: t.c.db,
      queues: t.c.queues,
      log: t.c.log,
      databaseUrl: t.config.DATABASE_URL,
      pollMs: 100,
    });
    let release!: () => void;
    const granted = new Promise<void>((r) => (release = r));
    const turns: string[] = [];
    const workers = startWorkers({
      db: t.c.db,
      queues: t.c.queues,
      registry: t.c.registry,
      log: t.c.log,
      pacer: {
        async turn() {
          turns.push('asked');
          await granted;
          turns.push('granted');
          return () => void turns.push('done');
        },
      },
    });
    try {
      const lab = await makeLab(t);
      const box = await lab.box({ rows: 1, cols: 2 });
      const tube = await lab.register({ type: 'serum', quantity: 1, containerId: box.id, position: 'A1' });
      await relay.start();
      const results = async () =>
        (await t.sql.query('select 1 from qc_result where specimen_id = $1', [tube.id])).rowCount ?? 0;
      await until(async () => turns.includes('asked'));
      await new Promise((r) => setTimeout(r, 300));
      expect(await results()).toBe(0); // still waiting for its turn
      release();
      await until(async () => (await results()) > 0);
      await until(async () => turns.includes('done'));
      expect(turns.slice(0, 3)).toEqual(['asked', 'granted', 'done']);
    } finally {
      await relay.stop();
      await workers.close();
      await t.close();
    }
  });
});
