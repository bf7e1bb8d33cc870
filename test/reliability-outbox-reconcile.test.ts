import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerPool } from '../src/jobs/workers.js';
import { reconcileOutbox } from '../src/jobs/reconciler.js';
import { startBackground } from '../src/runtime.js';
import {
  bearer,
  createTestApp,
  dropQueueKeys,
  makeInstitution,
  type TestApp,
  until,
} from './helpers/test-app.js';

// PostgreSQL is the record of work: an outbox row stays open until its job's handler has finished,
// and the reconciler puts back what Redis lost (a restart without persistence, FLUSHALL), so a
// consent withdrawal reaches every tube of the donor even when the queue forgot it: after the
// relay, and halfway through the cascade's batches.

let t: TestApp;
let keys: Awaited<ReturnType<typeof makeInstitution>>['keys'];
let background: WorkerPool | null = null;

const post = (token: string, url: string, payload: unknown) =>
  t.app.inject({ method: 'POST', url, headers: bearer(token), payload: payload as object });

beforeAll(async () => {
  // No workers at first: the test decides when the background role starts.
  t = await createTestApp({ env: { OUTBOX_RECONCILE_MS: '500' } });
  t.sql.on('error', () => undefined);
  ({ keys } = await makeInstitution(t));
});
afterAll(async () => {
  await background?.close();
  await t.close();
});

async function donorWithTubes(n: number) {
  const protocol = await post(keys.manager, '/v1/protocols', {
    code: `RC${Date.now() % 100000}`,
    title: 'Reconcile cohort',
    ethicsApprovalRef: 'EC-2',
  });
  expect(protocol.statusCode, protocol.body).toBe(201);
  const p = await post(keys.manager, '/v1/participants', {
    protocolId: protocol.json<{ id: string }>().id,
    protocolParticipantId: `P-${Date.now()}`,
    sex: 'female',
  });
  const participantId = p.json<{ id: string }>().id;
  const c = await post(keys.manager, '/v1/consents', {
    participantId,
    documentVersion: 'v1',
    signedOn: '2024-01-10',
    obtainedBy: 'nurse-7',
    responses: {},
  });
  expect(c.statusCode, c.body).toBe(201);
  const tubes: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await post(keys.technician, '/v1/specimens', {
      barcode: `RC${Date.now()}${i}`,
      type: 'whole_blood',
      quantity: 2,
      participantId,
    });
    expect(r.statusCode, r.body).toBe(201);
    tubes.push(r.json<{ id: string }>().id);
  }
  return { consentId: c.json<{ id: string }>().id, participantId, tubes };
}

/** A donor with `n` tubes registered in batches of 1,000 (registerSpecimens), quicker than one by one. */
async function donorWithManyTubes(n: number) {
  const { consentId, participantId } = await donorWithTubes(0);
  for (let done = 0; done < n; done += 1000) {
    const specimens = Array.from({ length: Math.min(1000, n - done) }, (_, i) => ({
      barcode: `RM${Date.now()}-${done + i}`,
      type: 'whole_blood',
      quantity: 2,
      participantId,
    }));
    const r = await post(keys.technician, '/v1/specimens/batch', { specimens });
    expect(r.statusCode, r.body.slice(0, 500)).toBe(201);
  }
  return { consentId, participantId };
}

async function outboxRow(cascadeId: string) {
  const { rows } = await t.sql.query<{ id: string; enqueued_at: Date | null; done_at: Date | null }>(
    "select id, enqueued_at, done_at from outbox where job_name = 'consent.cascade' and payload->>'cascadeId' = $1",
    [cascadeId],
  );
  return rows[0]!;
}

describe('work survives Redis losing its data', () => {
  it('a relayed withdrawal cascade whose job Redis lost is queued again and runs to completion', async () => {
    const { consentId, tubes } = await donorWithTubes(3);
    const w = await post(keys.manager, `/v1/consents/${consentId}/withdraw`, {
      scope: 'stop_future_use',
      reason: 'donor request',
    });
    expect(w.statusCode, w.body).toBe(202);
    const cascadeId = w.json<{ cascade: { id: string } }>().cascade.id;
    // The relay hands the cascade to BullMQ (the row is marked relayed), then Redis loses
    // everything this deployment had: the queued cascade and the recurring jobs' schedulers.
    // (FLUSHALL itself would also wipe the queues of the test files running beside this one.)
    await t.c.relay.runOnce();
    const relayed = await outboxRow(cascadeId);
    expect(relayed.enqueued_at).toBeInstanceOf(Date);
    expect(await t.c.queues.get('consent').getJobState(relayed.id)).toBe('waiting');
    await dropQueueKeys(t.config.REDIS_URL, t.config.QUEUE_PREFIX);
    expect(await t.c.queues.get('consent').getJobState(relayed.id)).toBe('unknown');

    background = await startBackground(t.c);
    const done = await until(async () => {
      const { rows } = await t.sql.query<{ status: string; specimens_changed: number }>(
        'select status, specimens_changed from consent_cascade where id = $1',
        [cascadeId],
      );
      return rows[0]?.status === 'completed' ? rows[0] : null;
    }, 20_000);
    expect(done.specimens_changed).toBe(3);
    const { rows: held } = await t.sql.query<{ n: number }>(
      "select count(*)::int as n from specimen where id = any($1) and 'CONSENT_WITHDRAWN' = any(holds)",
      [tubes],
    );
    expect(held[0]!.n).toBe(3);
    // The handler's end is recorded in PostgreSQL; nothing is left to put back.
    const finished = await until(async () => {
      const r = await outboxRow(cascadeId);
      return r.done_at ? r : null;
    });
    await reconcileOutbox({ db: t.c.db, queues: t.c.queues });
    expect(await t.c.queues.get('consent').getJobState(finished.id)).toBe('completed');
    // The recurring jobs are scheduled again too.
    const schedulers = await t.c.queues.get('maintenance').getJobSchedulers();
    expect(schedulers.map((s) => s.key)).toContain('purge-idempotency-keys');
  });

  it('a job Redis still has is left alone, and a finished job is never put back', async () => {
    const { consentId } = await donorWithTubes(1);
    const w = await post(keys.manager, `/v1/consents/${consentId}/withdraw`, {
      scope: 'stop_future_use',
      reason: 'donor request',
    });
    const cascadeId = w.json<{ cascade: { id: string } }>().cascade.id;
    const row = await until(async () => {
      const r = await outboxRow(cascadeId);
      return r.done_at ? r : null;
    }, 20_000);
    const job = await t.c.queues.get('consent').getJob(row.id);
    expect(job?.finishedOn).toBeGreaterThan(0);
    await dropQueueKeys(t.config.REDIS_URL, t.config.QUEUE_PREFIX);
    // (Other work still open, the tubes' standardization checks, may be put back meanwhile.)
    await reconcileOutbox({ db: t.c.db, queues: t.c.queues });
    expect(await t.c.queues.get('consent').getJobState(row.id)).toBe('unknown');
  });

  it('a cascade whose queue Redis loses between its batches still holds every tube exactly once', async () => {
    background ??= await startBackground(t.c);
    // 1,200 tubes: three batches of the cascade (500, 500, 200).
    const { consentId, participantId } = await donorWithManyTubes(1200);
    // Their standardization checks first, so nothing else waits on the tube held below.
    await until(async () => {
      const { rows } = await t.sql.query<{ n: number }>(
        'select count(*)::int as n from outbox where done_at is null and failed_at is null',
      );
      return rows[0]!.n === 0;
    }, 120_000);
    // The first tube of the second batch is held by this session, so the cascade stops after its
    // first batch, deterministically, until the test lets it go.
    const gate = await t.sql.connect();
    try {
      await gate.query('begin');
      // (Found first, then locked alone: FOR UPDATE with OFFSET would lock the skipped rows too.)
      const { rows: second } = await gate.query<{ id: string }>(
        'select id from specimen where participant_id = $1 order by id offset 500 limit 1',
        [participantId],
      );
      expect(second).toHaveLength(1);
      await gate.query('select id from specimen where id = $1 for update', [second[0]!.id]);
      const w = await post(keys.manager, `/v1/consents/${consentId}/withdraw`, {
        scope: 'stop_future_use',
        reason: 'donor request',
      });
      expect(w.statusCode, w.body).toBe(202);
      const cascadeId = w.json<{ cascade: { id: string } }>().cascade.id;
      const cascade = async () =>
        (
          await t.sql.query<{ status: string; specimens_found: number; specimens_changed: number }>(
            'select status, specimens_found, specimens_changed from consent_cascade where id = $1',
            [cascadeId],
          )
        ).rows[0]!;
      // Halfway: the first batch applied, the second waiting on the tube held above.
      await until(async () => (await cascade()).specimens_found === 500, 60_000);
      expect(await cascade()).toMatchObject({ status: 'running', specimens_changed: 500 });
      const row = await outboxRow(cascadeId);
      expect(row.done_at).toBeNull();
      expect(await t.c.queues.get('consent').getJobState(row.id)).toBe('active');

      const flushedAt = Date.now();
      await dropQueueKeys(t.config.REDIS_URL, t.config.QUEUE_PREFIX);
      // The reconciler finds the open row without its job and puts the job back (added after the
      // flush), while the attempt that was running is still waiting on the second batch.
      const again = await until(async () => {
        const job = await t.c.queues.get('consent').getJob(row.id);
        return job && job.timestamp >= flushedAt ? job : null;
      }, 30_000);
      expect(again.data).toMatchObject({ cascadeId });
      expect((await cascade()).status).toBe('running');
      await gate.query('rollback');
    } finally {
      gate.release(true); // closed, not pooled: it may still hold the lock if the test failed
    }

    const done = await until(async () => {
      const { rows } = await t.sql.query<{ status: string; specimens_changed: number }>(
        "select c.status, c.specimens_changed from consent_cascade c join consent k on k.id = c.consent_id where k.id = $1 and c.status = 'completed'",
        [consentId],
      );
      return rows[0];
    }, 60_000);
    // Each tube changed once in total, across the attempts that ran.
    expect(done.specimens_changed).toBe(1200);
    const { rows: events } = await t.sql.query<{ tubes: number; held: number; events: number; max: number }>(
      `select count(*)::int as tubes,
              count(*) filter (where 'CONSENT_WITHDRAWN' = any(s.holds))::int as held,
              coalesce(sum(e.n), 0)::int as events, coalesce(max(e.n), 0)::int as max
         from specimen s
         left join lateral (select count(*)::int as n from custody_event c
                             where c.specimen_id = s.id and c.type = 'consent_withdrawn') e on true
        where s.participant_id = $1`,
      [participantId],
    );
    expect(events[0]).toEqual({ tubes: 1200, held: 1200, events: 1200, max: 1 });
    const finished = await until(async () => {
      const { rows } = await t.sql.query<{ done_at: Date | null }>(
        "select done_at from outbox where job_name = 'consent.cascade' and payload->>'cascadeId' in (select id::text from consent_cascade where consent_id = $1)",
        [consentId],
      );
      return rows[0]?.done_at ?? null;
    }, 30_000);
    expect(finished).toBeInstanceOf(Date);
  }, 300_000);
});
