import { fork } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { API_LOAD_MESSAGE, reportApiLoad } from '../src/jobs/api-load.js';
import { OutboxRelay } from '../src/jobs/relay.js';
import { startWorkers } from '../src/jobs/workers.js';
import { createTestApp, until } from './helpers/test-app.js';
import { makeLab } from './helpers/inventory.js';

// Checks yield to a busy API (src/jobs/pacer.ts, its unit tests beside it): `serve` reports its
// load to its background child over IPC, and the workers give a check its turn from the pacer.

describe("the API's load", () => {
  it('arrives from the parent over the IPC channel, a report every tenth of a second', async () => {
    const child = fork(new URL('./helpers/api-load-echo.ts', import.meta.url).pathname, [], {
      execArgv: ['--import', 'tsx'],
      stdio: 'ignore',
    });
    try {
      reportApiLoad(child);
      const reports = await new Promise<Record<string, number | string>[]>((resolve, reject) => {
        child.once('message', (m) => resolve(m as Record<string, number | string>[]));
        child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
      });
      expect(reports).toHaveLength(6);
      for (const report of reports) {
        expect(report.type).toBe(API_LOAD_MESSAGE);
        for (const key of ['utilization', 'machineBusy']) {
          expect(report[key]).toBeGreaterThanOrEqual(0);
          expect(report[key]).toBeLessThanOrEqual(1);
        }
      }
      // Five intervals of a tenth of a second, give or take the timers of a loaded machine (a
      // child that is not scheduled for a while reads the reports sent meanwhile together).
      const span = Number(reports[5]!.receivedAt) - Number(reports[0]!.receivedAt);
      expect(span).toBeGreaterThanOrEqual(250);
      expect(span).toBeLessThan(5_000);
    } finally {
      child.kill();
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
      release(); // a failed assertion must not leave the job waiting, or close() would wait for it
      await relay.stop();
      await workers.close();
      await t.close();
    }
  });
});
