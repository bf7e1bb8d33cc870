import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../src/db/transaction.js';
import { purgeIdempotencyKeysJob } from '../src/jobs/maintenance.jobs.js';
import { enqueueJob } from '../src/jobs/outbox.js';
import { OutboxRelay } from '../src/jobs/relay.js';
import { startWorkers, type WorkerPool } from '../src/jobs/workers.js';
import { deliverWebhookJob, emitWebhook } from '../src/modules/webhooks/index.js';
import { createTestApp, makeInstitution, systemCtx, type TestApp } from './helpers/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

// The container's own relay is not started (no `workers`): each test runs the relays it needs,
// and the workers below make the effect of a job (a webhook request) observable.
let t: TestApp;
let receiver: WebhookReceiver;
let workers: WorkerPool;
let institutionId: string;
const relays: OutboxRelay[] = [];

beforeAll(async () => {
  t = await createTestApp();
  // Dropping the database at close() can terminate t.sql's clients while they end (pg-pool
  // resolves end() before its clients close): a pool with no error listener rethrows that.
  t.sql.on('error', () => undefined);
  receiver = await startWebhookReceiver();
  workers = startWorkers({ db: t.c.db, queues: t.c.queues, registry: t.c.registry, log: t.c.log });
  const { institution } = await makeInstitution(t, { roles: [] });
  institutionId = institution.id;
  await t.c.services.institutions.updateInstitution(systemCtx(t.c), {
    id: institution.id,
    expectedVersion: 1,
    patch: { webhookUrl: `${receiver.url}/outbox` },
  });
});
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
});
afterAll(async () => {
  await workers.close();
  await t.close();
  await receiver.close();
});

function relay(pollMs = 60_000): OutboxRelay {
  const r = new OutboxRelay({
    db: t.c.db,
    queues: t.c.queues,
    log: t.c.log,
    databaseUrl: t.config.DATABASE_URL,
    pollMs,
  });
  relays.push(r);
  return r;
}

/** Polls until `check` returns a value other than undefined, null or false; fails after `ms`. */
async function until<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  ms = 8_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Commits `n` webhook deliveries, each with its outbox row, in one transaction. */
async function emitDeliveries(n: number): Promise<{ deliveryId: string; outboxId: string }[]> {
  const ctx = systemCtx(t.c);
  const deliveryIds = await inTransaction(t.c.db, ctx, async (tx) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = await emitWebhook(tx, ctx, { institutionId, eventType: 'test.outbox', data: { i } });
      ids.push(id!);
    }
    return ids;
  });
  const { rows } = await t.sql.query<{ id: string; delivery_id: string }>(
    "select id, payload->>'deliveryId' as delivery_id from outbox where payload->>'deliveryId' = any($1)",
    [deliveryIds],
  );
  const byDelivery = new Map(rows.map((r) => [r.delivery_id, r.id]));
  return deliveryIds.map((deliveryId) => ({ deliveryId, outboxId: byDelivery.get(deliveryId)! }));
}

async function emitDelivery(): Promise<{ deliveryId: string; outboxId: string }> {
  const [one] = await emitDeliveries(1);
  if (!one) throw new Error('nothing emitted');
  return one;
}

interface OutboxRow {
  id: string;
  queue: string;
  job_name: string;
  payload: Record<string, unknown>;
  enqueued_at: Date | null;
  relay_attempts: number;
}

async function outboxRows(ids: string[]): Promise<OutboxRow[]> {
  const { rows } = await t.sql.query<OutboxRow>('select * from outbox where id = any($1) order by id', [ids]);
  return rows;
}

const requestsFor = (deliveryId: string) =>
  receiver.on('/outbox').filter((r) => r.headers['webhook-id'] === deliveryId);

/** Every BullMQ job, in any state, that carries this delivery. */
async function jobsFor(deliveryId: string): Promise<Job[]> {
  const jobs = await t.c.queues
    .get('webhooks')
    .getJobs(['completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized']);
  return jobs.filter((j) => (j.data as { deliveryId?: string }).deliveryId === deliveryId);
}

async function attemptsFor(deliveryId: string): Promise<number> {
  const { rows } = await t.sql.query<{ n: number }>(
    'select count(*)::int as n from webhook_attempt where delivery_id = $1',
    [deliveryId],
  );
  return rows[0]!.n;
}

/** Backend pids of relay LISTEN connections to this file's database. */
async function relayConnections(): Promise<number[]> {
  const { rows } = await t.sql.query<{ pid: number }>(
    "select pid from pg_stat_activity where datname = current_database() and application_name = 'biobank-relay'",
  );
  return rows.map((row) => row.pid);
}

async function pendingOutboxRows(): Promise<number> {
  const { rows } = await t.sql.query<{ n: number }>(
    'select count(*)::int as n from outbox where enqueued_at is null',
  );
  return rows[0]!.n;
}

describe('exactly once in effect', () => {
  it('moves each row once when two relays run at the same time', async () => {
    const emitted = await emitDeliveries(20);
    const a = relay();
    const b = relay();
    const moved = await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()]);
    expect(moved.reduce((x, y) => x + y, 0)).toBe(20);

    const rows = await outboxRows(emitted.map((e) => e.outboxId));
    expect(rows).toHaveLength(20);
    for (const row of rows) {
      expect(row.enqueued_at).toBeInstanceOf(Date);
      expect(row.relay_attempts).toBe(1);
    }
    await until(async () => {
      const { rows: done } = await t.sql.query<{ n: number }>(
        "select count(*)::int as n from webhook_delivery where id = any($1) and status = 'succeeded'",
        [emitted.map((e) => e.deliveryId)],
      );
      return done[0]!.n === 20;
    });
    for (const { deliveryId, outboxId } of emitted) {
      expect(requestsFor(deliveryId)).toHaveLength(1);
      expect(await attemptsFor(deliveryId)).toBe(1);
      expect((await jobsFor(deliveryId)).map((j) => j.id)).toEqual([outboxId]);
    }
  });

  it('does not run a job twice when a relay crashed between adding it and marking its row', async () => {
    const { deliveryId, outboxId } = await emitDelivery();
    const [row] = await outboxRows([outboxId]);
    // What the crashed relay left: the job added under the outbox id, the row still unmarked.
    const queue = t.c.queues.get('webhooks');
    const original = await queue.add(row!.job_name, row!.payload, { jobId: outboxId });
    await until(async () => (await original.getState()) === 'completed');
    expect(requestsFor(deliveryId)).toHaveLength(1);
    expect((await outboxRows([outboxId]))[0]!.enqueued_at).toBeNull();

    expect(await relay().runOnce()).toBe(1);
    const [marked] = await outboxRows([outboxId]);
    expect(marked!.enqueued_at).toBeInstanceOf(Date);
    // The second add was deduplicated by the job id: one job, the crashed relay's, already done.
    const jobs = await jobsFor(deliveryId);
    expect(jobs.map((j) => [j.id, j.timestamp])).toEqual([[outboxId, original.timestamp]]);
    expect(await jobs[0]!.getState()).toBe('completed');
    const waiting = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    expect(Object.values(waiting).every((n) => n === 0)).toBe(true);
    expect(requestsFor(deliveryId)).toHaveLength(1);
    expect(await attemptsFor(deliveryId)).toBe(1);
  });

  it('deduplicates a job the crashed relay added that has not run yet', async () => {
    const { deliveryId, outboxId } = await emitDelivery();
    const [row] = await outboxRows([outboxId]);
    const queue = t.c.queues.get('webhooks');
    // Added delayed, as if its worker had not picked it up yet when the relay replays the row.
    await queue.add(row!.job_name, row!.payload, { jobId: outboxId, delay: 60_000 });
    expect(await relay().runOnce()).toBe(1);
    const jobs = await jobsFor(deliveryId);
    expect(jobs).toHaveLength(1);
    expect(await jobs[0]!.getState()).toBe('delayed');
    await jobs[0]!.promote();
    await until(async () => (await jobs[0]!.getState()) === 'completed');
    expect(requestsFor(deliveryId)).toHaveLength(1);
    expect(await jobsFor(deliveryId)).toHaveLength(1);
  });

  it('leaves no outbox row and no job when the transaction rolls back', async () => {
    const ctx = systemCtx(t.c);
    let outboxId: string | undefined;
    let deliveryId: string | null = null;
    await expect(
      inTransaction(t.c.db, ctx, async (tx) => {
        deliveryId = await emitWebhook(tx, ctx, { institutionId, eventType: 'test.rollback', data: {} });
        outboxId = await enqueueJob(tx, ctx, deliverWebhookJob, { deliveryId: randomUUID() });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(outboxId).toBeDefined();
    expect(deliveryId).not.toBeNull();
    expect(await outboxRows([outboxId!])).toEqual([]);
    const { rowCount } = await t.sql.query("select 1 from outbox where payload->>'deliveryId' = $1", [
      deliveryId,
    ]);
    expect(rowCount).toBe(0);
    expect(await relay().runOnce()).toBe(0);
    expect(await t.c.queues.get('webhooks').getJob(outboxId!)).toBeUndefined();
    expect(await jobsFor(deliveryId!)).toEqual([]);
    expect(requestsFor(deliveryId!)).toEqual([]);
  });
});

describe('waking the relay', () => {
  it('moves a committed row on NOTIFY well before the polling interval', async () => {
    const r = relay(60_000);
    await r.start();
    await until(async () => (await pendingOutboxRows()) === 0);
    const started = Date.now();
    const { deliveryId, outboxId } = await emitDelivery();
    await until(() => t.c.queues.get('webhooks').getJob(outboxId), 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    await until(() => requestsFor(deliveryId).length === 1);
  });

  it('picks up by polling a row whose notification never came', async () => {
    const r = relay(250);
    await r.start();
    await until(async () => (await pendingOutboxRows()) === 0);
    const id = randomUUID();
    // Triggers are off in this transaction, so no NOTIFY is sent for the row.
    const client = await t.sql.connect();
    try {
      await client.query('begin');
      await client.query('set local session_replication_role = replica');
      await client.query(
        `insert into outbox (id, queue, job_name, payload) values ($1, 'maintenance', $2, $3)`,
        [id, purgeIdempotencyKeysJob.name, { requestId: 'test-poll' }],
      );
      await client.query('commit');
    } finally {
      client.release();
    }
    await until(async () => (await outboxRows([id]))[0]?.enqueued_at, 5_000);
    expect(await t.c.queues.get('maintenance').getJob(id)).toBeDefined();
  });

  it('moves rows committed while it was stopped as soon as it starts again', async () => {
    const r = relay(60_000);
    await r.start();
    await r.stop();
    const { deliveryId, outboxId } = await emitDelivery();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await outboxRows([outboxId]))[0]!.enqueued_at).toBeNull();
    await r.start();
    await until(() => t.c.queues.get('webhooks').getJob(outboxId), 5_000);
    await until(() => requestsFor(deliveryId).length === 1);
  });

  it('listens again after losing its LISTEN connection, polling meanwhile', async () => {
    const r = relay(250);
    await r.start();
    const [lost] = await until(async () => {
      const pids = await relayConnections();
      return pids.length === 1 && pids;
    });
    await t.sql.query('select pg_terminate_backend($1)', [lost]);
    const { deliveryId } = await emitDelivery();
    await until(() => requestsFor(deliveryId).length === 1, 5_000);
    const [again] = await until(async () => {
      const pids = await relayConnections();
      return pids.length === 1 && pids[0] !== lost && pids;
    });
    expect(again).not.toBe(lost);
    await r.stop();
    await until(async () => (await relayConnections()).length === 0);
  });
  it('closes its listener for good when stopped while reconnecting', async () => {
    const r = relay(300);
    await r.start();
    const [lost] = await until(async () => {
      const pids = await relayConnections();
      return pids.length === 1 && pids;
    });
    const warned = () =>
      t.logs.filter((l) => l.msg === 'outbox listener lost; relying on polling until it reconnects');
    const before = warned().length;
    await t.sql.query('select pg_terminate_backend($1)', [lost]);
    await until(() => warned().length > before);
    await r.stop();
    // Past the reconnect delay, no listener came back.
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await relayConnections()).toEqual([]);
  });
});

describe('bookkeeping', () => {
  it('marks moved rows and reports the age of the oldest unmoved row as lag', async () => {
    const r = relay();
    await r.runOnce();
    expect(await r.lagSeconds()).toBe(0);
    const old = randomUUID();
    const recent = randomUUID();
    await t.sql.query(
      `insert into outbox (id, queue, job_name, payload, created_at) values
         ($1, 'maintenance', $3, $4, now() - interval '42 seconds'),
         ($2, 'maintenance', $3, $4, now() - interval '5 seconds')`,
      [old, recent, purgeIdempotencyKeysJob.name, { requestId: 'test-lag' }],
    );
    const lag = await r.lagSeconds();
    expect(lag).toBeGreaterThanOrEqual(42);
    expect(lag).toBeLessThan(50);

    expect(await r.runOnce()).toBe(2);
    for (const row of await outboxRows([old, recent])) {
      expect(row.enqueued_at).toBeInstanceOf(Date);
      expect(row.relay_attempts).toBe(1);
    }
    expect(await r.lagSeconds()).toBe(0);
    expect(await r.runOnce()).toBe(0);
  });

  it('adds a row with run_at in the future as a delayed job', async () => {
    const id = randomUUID();
    await t.sql.query(
      `insert into outbox (id, queue, job_name, payload, run_at)
       values ($1, 'maintenance', $2, $3, now() + interval '1 hour')`,
      [id, purgeIdempotencyKeysJob.name, { requestId: 'test-delay' }],
    );
    expect(await relay().runOnce()).toBe(1);
    const job = await t.c.queues.get('maintenance').getJob(id);
    expect(await job!.getState()).toBe('delayed');
    expect(job!.delay).toBeGreaterThan(3_500_000);
    expect(job!.delay).toBeLessThanOrEqual(3_600_000);
    await job!.remove();
  });
});
