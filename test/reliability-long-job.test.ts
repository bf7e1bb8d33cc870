import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSynthetic } from '../src/seed/synthetic.js';
import { startServerProcess, sleep, type ServerProcess } from './helpers/server-process.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// A long standardization run shares its process with the API (workers in-process, the default):
// it yields the event loop between slices, so requests are answered while it runs, and a SIGTERM
// during it lets every request in flight finish before the process waits for the run and exits.
// Timing bounds are relative to the run's own duration, so a loaded machine slows both alike.

/** Enough specimens that the run lasts seconds, even on a quiet host. */
const SPECIMENS = 40_000;
/** Requests held in flight across the SIGTERM. */
const IN_FLIGHT = 12;

let t: TestApp;
let server: ServerProcess | null = null;
let admin: string;
let institutionId: string;

beforeAll(async () => {
  t = await createTestApp();
  const quiet = { info: () => undefined };
  const seeded = await seedSynthetic(t.c, { count: SPECIMENS, institutionCode: 'LONGJOB', log: quiet });
  admin = seeded.keys.find((k) => k.role === 'admin')!.token;
  const { rows } = await t.sql.query<{ id: string }>("select id from institution where code = 'LONGJOB'");
  institutionId = rows[0]!.id;
}, 300_000);
afterAll(async () => {
  await server?.kill();
  await t.close();
});

type RunRow = { status: string; processed: number; started_at: Date | null; completed_at: Date | null };
const runRow = async (id: string) =>
  (
    await t.sql.query<RunRow>(
      'select status, processed, started_at, completed_at from standardization_run where id = $1',
      [id],
    )
  ).rows[0]!;

async function until<T>(fn: () => Promise<T | null | undefined | false>, ms: number, what: string) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms\n${server?.output().slice(-3000)}`);
    await sleep(50);
  }
}

describe('a standardization run in the API process', () => {
  it('leaves the API answering while it runs, and a SIGTERM finishes every request in flight', async () => {
    server = await startServerProcess(
      {
        DATABASE_URL: t.config.DATABASE_URL,
        QUEUE_PREFIX: t.config.QUEUE_PREFIX,
        BIOBANK_SECRET: t.config.BIOBANK_SECRET,
        WORKERS: '1',
        // The run must finish inside the grace period: shutdown waits for jobs in progress.
        SHUTDOWN_TIMEOUT_MS: '300000',
      },
      { startTimeoutMs: 60_000 },
    );
    const s = server;
    const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      fetch(`${s.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${admin}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });

    const started = await call('POST', '/v1/standardization/runs', { filter: {} });
    expect(started.status, await started.clone().text()).toBe(202);
    const runId = ((await started.json()) as { id: string }).id;
    await until(async () => (await runRow(runId)).processed > 0, 120_000, 'the run did not start');

    // Requests while the run is going: each answered, and the run still running after it.
    const latencies: number[] = [];
    while (latencies.length < 10) {
      const sent = Date.now();
      const res = await fetch(`${s.url}/health/live`);
      expect(res.status).toBe(200);
      const took = Date.now() - sent;
      if ((await runRow(runId)).status !== 'running') break;
      latencies.push(took);
      await sleep(50);
    }
    expect(latencies.length, 'the run ended before ten answers: seed more specimens').toBe(10);

    // Requests in flight across the SIGTERM: renames of the institution, parked on its row, held
    // by this session, until the signal has been received.
    const gate = new pg.Client({ connectionString: t.config.DATABASE_URL });
    await gate.connect();
    let answers: { status: number; body: string }[];
    try {
      await gate.query('begin');
      await gate.query('select id from institution where id = $1 for update', [institutionId]);
      const { rows } = await gate.query<{ version: number }>(
        'select version from institution where id = $1',
        [institutionId],
      );
      const version = rows[0]!.version;
      const inFlight = Array.from({ length: IN_FLIGHT }, (_, i) =>
        call(
          'PATCH',
          `/v1/institutions/${institutionId}`,
          { name: `Renamed ${i}` },
          { 'if-match': `W/"${version}"` },
        )
          .then(async (r) => ({ status: r.status, body: await r.text() }))
          .catch((err: Error & { cause?: { code?: string } }) => ({
            status: 0,
            body: `${err.message} ${err.cause?.code ?? ''}`,
          })),
      );
      // Every one received by the server before the signal.
      await until(
        async () =>
          s
            .output()
            .split('\n')
            .filter((l) => l.includes('incoming request') && l.includes(institutionId)).length >= IN_FLIGHT,
        60_000,
        'the renames did not all arrive',
      );
      expect((await runRow(runId)).status).toBe('running');
      s.child.kill('SIGTERM');
      await until(async () => s.output().includes('"msg":"shutting down"'), 30_000, 'no shutdown');
      await sleep(200);
      await gate.query('rollback');
      answers = await Promise.all(inFlight);
    } finally {
      await gate.end();
    }

    // Complete answers, none reset: one rename wins, the others find a newer version.
    expect(answers.map((a) => a.status).sort()).toEqual([200, ...Array<number>(IN_FLIGHT - 1).fill(412)]);
    for (const a of answers) expect(() => JSON.parse(a.body) as unknown, a.body).not.toThrow();
    const exit = await s.exited;
    expect(exit, s.output().slice(-3000)).toEqual({ code: 0, signal: null });

    // The run finished before the process exited; no answer waited anywhere near as long as it ran.
    const run = await runRow(runId);
    expect(run.status).toBe('completed');
    expect(run.processed).toBe(SPECIMENS);
    const ran = run.completed_at!.getTime() - run.started_at!.getTime();
    expect(Math.max(...latencies), `answers ${latencies.join(', ')} ms during a ${ran} ms run`).toBeLessThan(
      ran / 3,
    );
  }, 600_000);
});
