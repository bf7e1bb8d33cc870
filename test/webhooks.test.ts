import type { Job } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES, cappedExponentialDelay } from '../src/jobs/queues.js';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

let t: TestApp;
let receiver: WebhookReceiver;

beforeAll(async () => {
  t = await createTestApp({ workers: true });
  // Dropping the database at close() can terminate t.sql's clients while they end (pg-pool
  // resolves end() before its clients close): a pool with no error listener rethrows that.
  t.sql.on('error', () => undefined);
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await t.close();
  await receiver.close();
});

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
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface DeliveryDto {
  id: string;
  eventType: string;
  targetUrl: string;
  status: 'pending' | 'succeeded' | 'failed';
  attemptCount: number;
  lastStatusCode: number | null;
  payload: { type: string; timestamp: string; data: Record<string, unknown> };
  attempts?: { attemptNumber: number; statusCode: number | null; error: string | null }[];
}

/** An institution whose webhook endpoint is `receiver.url + path`; returns the one-time secret. */
async function withEndpoint() {
  const inst = await makeInstitution(t, { roles: ['admin', 'manager', 'integration'] });
  const path = `/hooks/${inst.institution.code}`;
  const res = await t.app.inject({
    method: 'PATCH',
    url: `/v1/institutions/${inst.institution.id}`,
    headers: { ...bearer(inst.keys.admin), 'if-match': 'W/"1"' },
    payload: { webhookUrl: receiver.url + path },
  });
  expect(res.statusCode).toBe(200);
  const body = res.json<{ webhookSecret?: string; webhookConfigured: boolean }>();
  expect(body.webhookConfigured).toBe(true);
  expect(body.webhookSecret).toMatch(/^whsec_/);
  return { ...inst, path, secret: body.webhookSecret! };
}

/** Sets (or removes, with null) an institution's webhook endpoint at its current version. */
async function setEndpoint(
  inst: { institution: { id: string }; keys: { admin: string } },
  webhookUrl: string | null,
) {
  const current = await t.sql.query<{ version: number }>('select version from institution where id = $1', [
    inst.institution.id,
  ]);
  return t.app.inject({
    method: 'PATCH',
    url: `/v1/institutions/${inst.institution.id}`,
    headers: { ...bearer(inst.keys.admin), 'if-match': `W/"${current.rows[0]!.version}"` },
    payload: { webhookUrl },
  });
}

function ping(token: string) {
  return t.app.inject({ method: 'POST', url: '/v1/webhook-deliveries/ping', headers: bearer(token) });
}

function getDelivery(token: string, id: string) {
  return t.app.inject({ method: 'GET', url: `/v1/webhook-deliveries/${id}`, headers: bearer(token) });
}

async function deliveryRow(id: string) {
  const { rows } = await t.sql.query<{
    status: string;
    attempt_count: number;
    last_status_code: number | null;
  }>('select status, attempt_count, last_status_code from webhook_delivery where id = $1', [id]);
  return rows[0];
}

/** The BullMQ job of the latest outbox row for a delivery (its id is the outbox id). */
async function latestJob(deliveryId: string): Promise<Job> {
  const { rows } = await t.sql.query<{ id: string }>(
    "select id from outbox where payload->>'deliveryId' = $1 order by created_at desc, id desc limit 1",
    [deliveryId],
  );
  const outboxId = rows[0]?.id;
  expect(outboxId).toBeDefined();
  return until(() => t.c.queues.get('webhooks').getJob(outboxId!));
}

describe('signed deliveries', () => {
  it('POSTs a Standard Webhooks request that verifies with the secret returned once', async () => {
    const inst = await withEndpoint();
    const res = await ping(inst.keys.admin);
    expect(res.statusCode).toBe(202);
    const delivery = res.json<DeliveryDto>();
    expect(delivery).toMatchObject({ eventType: 'webhook.ping', status: 'pending', attemptCount: 0 });

    const [received] = await until(() => receiver.on(inst.path).length === 1 && receiver.on(inst.path));
    expect(received!.headers['content-type']).toBe('application/json');
    expect(received!.headers['webhook-id']).toBe(delivery.id);
    expect(received!.headers['webhook-timestamp']).toMatch(/^\d{10}$/);
    expect(received!.headers['webhook-signature']).toMatch(/^v1,/);
    const verified = new Webhook(inst.secret).verify(received!.body, received!.headers);
    expect(verified).toMatchObject({ type: 'webhook.ping', data: { institutionId: inst.institution.id } });
    // Another institution's secret does not verify it.
    const other = await withEndpoint();
    expect(() => new Webhook(other.secret).verify(received!.body, received!.headers)).toThrow();

    await until(async () => (await deliveryRow(delivery.id))?.status === 'succeeded');
    const log = await getDelivery(inst.keys.manager, delivery.id);
    expect(log.statusCode).toBe(200);
    expect(log.json<DeliveryDto>()).toMatchObject({
      status: 'succeeded',
      attemptCount: 1,
      lastStatusCode: 200,
      attempts: [{ attemptNumber: 1, statusCode: 200, error: null }],
    });
  });

  it('retries a receiver that answered 500 and logs both attempts', async () => {
    const inst = await withEndpoint();
    receiver.answer(inst.path, 500);
    const res = await ping(inst.keys.manager);
    expect(res.statusCode).toBe(202);
    const { id } = res.json<DeliveryDto>();

    // Attempt 1 failed: the delivery waits, its job is delayed by the backoff (seconds).
    // The attempt count is claimed before the request, the status code recorded after it.
    await until(async () => (await deliveryRow(id))?.last_status_code === 500);
    expect(await deliveryRow(id)).toEqual({ status: 'pending', attempt_count: 1, last_status_code: 500 });
    const job = await latestJob(id);
    await until(async () => (await job.getState()) === 'delayed');
    const pending = await getDelivery(inst.keys.admin, id);
    expect(pending.json<DeliveryDto>()).toMatchObject({
      status: 'pending',
      attempts: [{ attemptNumber: 1, statusCode: 500, error: 'receiver answered 500' }],
    });

    // Run the retry now rather than after the backoff.
    await job.promote();
    await until(async () => (await deliveryRow(id))?.status === 'succeeded');
    const log = await getDelivery(inst.keys.admin, id);
    expect(log.json<DeliveryDto>()).toMatchObject({
      status: 'succeeded',
      attemptCount: 2,
      lastStatusCode: 200,
      attempts: [
        { attemptNumber: 1, statusCode: 500 },
        { attemptNumber: 2, statusCode: 200, error: null },
      ],
    });
    const calls = receiver.on(inst.path);
    expect(calls.map((c) => c.status)).toEqual([500, 200]);
    // Both tries carry the same webhook-id and each verifies.
    for (const call of calls) {
      expect(call.headers['webhook-id']).toBe(id);
      expect(() => new Webhook(inst.secret).verify(call.body, call.headers)).not.toThrow();
    }
    const { rows } = await t.sql.query<{ n: number }>(
      'select count(*)::int as n from webhook_attempt where delivery_id = $1',
      [id],
    );
    expect(rows[0]!.n).toBe(2);
  });

  it('lists the delivery log newest first with the attempts counted', async () => {
    const inst = await withEndpoint();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await ping(inst.keys.admin)).json<DeliveryDto>().id);
    await until(async () => {
      const { rows } = await t.sql.query<{ n: number }>(
        "select count(*)::int as n from webhook_delivery where institution_id = $1 and status = 'succeeded'",
        [inst.institution.id],
      );
      return rows[0]!.n === 3;
    });
    const first = await t.app.inject({
      method: 'GET',
      url: '/v1/webhook-deliveries?limit=2',
      headers: bearer(inst.keys.integration),
    });
    expect(first.statusCode).toBe(200);
    const page1 = first.json<{ items: DeliveryDto[]; nextCursor: string | null }>();
    expect(page1.items.map((d) => d.id)).toEqual([ids[2], ids[1]]);
    expect(page1.items.every((d) => d.status === 'succeeded' && d.attemptCount === 1)).toBe(true);
    const second = await t.app.inject({
      method: 'GET',
      url: `/v1/webhook-deliveries?limit=2&cursor=${page1.nextCursor}`,
      headers: bearer(inst.keys.integration),
    });
    const page2 = second.json<{ items: DeliveryDto[]; nextCursor: string | null }>();
    expect(page2.items.map((d) => d.id)).toEqual([ids[0]]);
    expect(page2.nextCursor).toBeNull();
  });

  it('redelivers with the same webhook-id', async () => {
    const inst = await withEndpoint();
    const { id } = (await ping(inst.keys.admin)).json<DeliveryDto>();
    await until(async () => (await deliveryRow(id))?.status === 'succeeded');

    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/webhook-deliveries/${id}/redeliver`,
      headers: bearer(inst.keys.manager),
    });
    expect(res.statusCode).toBe(202);
    expect(res.json<DeliveryDto>()).toMatchObject({ id, status: 'pending' });
    await until(async () => (await deliveryRow(id))?.status === 'succeeded');

    const calls = await until(() => receiver.on(inst.path).length === 2 && receiver.on(inst.path));
    expect(calls.map((c) => c.headers['webhook-id'])).toEqual([id, id]);
    expect(() => new Webhook(inst.secret).verify(calls[1]!.body, calls[1]!.headers)).not.toThrow();
    expect(calls[1]!.body).toBe(calls[0]!.body);
    const log = await getDelivery(inst.keys.admin, id);
    expect(log.json<DeliveryDto>()).toMatchObject({
      attemptCount: 2,
      attempts: [
        { attemptNumber: 1, statusCode: 200 },
        { attemptNumber: 2, statusCode: 200 },
      ],
    });
    const audit = await t.sql.query(
      "select 1 from audit_log where entity_id = $1 and action = 'redeliverWebhook'",
      [id],
    );
    expect(audit.rowCount).toBe(1);
  });

  it('starts one run of attempts for redelivers sent at once, refusing the others while it runs', async () => {
    const inst = await withEndpoint();
    const { id } = (await ping(inst.keys.admin)).json<DeliveryDto>();
    await until(async () => (await deliveryRow(id))?.status === 'succeeded');
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        t.app.inject({
          method: 'POST',
          url: `/v1/webhook-deliveries/${id}/redeliver`,
          headers: bearer(inst.keys.manager),
        }),
      ),
    );
    expect(answers.map((a) => a.statusCode).sort()).toEqual([202, 409, 409, 409, 409, 409]);
    for (const a of answers.filter((x) => x.statusCode === 409))
      expect(a.json()).toMatchObject({ code: 'WEBHOOK_DELIVERY_PENDING' });
    await until(async () => (await deliveryRow(id))?.status === 'succeeded');
    await until(() => receiver.on(inst.path).length === 2);
    const audit = await t.sql.query(
      "select 1 from audit_log where entity_id = $1 and action = 'redeliverWebhook'",
      [id],
    );
    expect(audit.rowCount).toBe(1);
    expect(await deliveryRow(id)).toMatchObject({ attempt_count: 2 });

    // A run that died mid-attempt (pending, and no attempt for longer than any backoff) is over.
    await t.sql.query(
      `update webhook_delivery set status = 'pending', last_attempt_at = now() - interval '3 hours' where id = $1`,
      [id],
    );
    const revived = await t.app.inject({
      method: 'POST',
      url: `/v1/webhook-deliveries/${id}/redeliver`,
      headers: bearer(inst.keys.manager),
    });
    expect(revived.statusCode, revived.body).toBe(202);
    await until(() => receiver.on(inst.path).length === 3);
  });

  it('forgets the secret with the URL: the next URL gets a new secret, returned once', async () => {
    const inst = await withEndpoint();
    const patch = (webhookUrl: string | null) => setEndpoint(inst, webhookUrl);
    expect((await patch(null)).statusCode).toBe(200);
    const { rows } = await t.sql.query<{ webhook_secret: string | null }>(
      'select webhook_secret from institution where id = $1',
      [inst.institution.id],
    );
    expect(rows[0]!.webhook_secret).toBeNull();
    const again = await patch(receiver.url + inst.path);
    const secret = again.json<{ webhookSecret?: string }>().webhookSecret;
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(inst.secret);
  });

  it('sends a retry to the endpoint as it is now, and ends a delivery whose endpoint was removed, unsent', async () => {
    const inst = await withEndpoint();
    receiver.answer(inst.path, 500);
    const moved = await ping(inst.keys.admin);
    const { id } = moved.json<DeliveryDto>();
    await until(async () => (await deliveryRow(id))?.last_status_code === 500);
    const job = await latestJob(id);
    await until(async () => (await job.getState()) === 'delayed');

    // The admin moves the endpoint: the retry goes there, signed with the institution's secret.
    const path = `${inst.path}/moved`;
    expect((await setEndpoint(inst, receiver.url + path)).statusCode).toBe(200);
    await job.promote();
    await until(async () => (await deliveryRow(id))?.status === 'succeeded');
    expect(receiver.on(inst.path)).toHaveLength(1);
    const [retry] = receiver.on(path);
    expect(retry!.headers['webhook-id']).toBe(id);
    expect(() => new Webhook(inst.secret).verify(retry!.body, retry!.headers)).not.toThrow();
    expect((await getDelivery(inst.keys.admin, id)).json<DeliveryDto>().targetUrl).toBe(receiver.url + path);

    // The admin removes it: the pending retry ends failed, and nothing is sent anywhere.
    receiver.answer(path, 500);
    const dropped = (await ping(inst.keys.admin)).json<DeliveryDto>().id;
    await until(async () => (await deliveryRow(dropped))?.last_status_code === 500);
    const second = await latestJob(dropped);
    await until(async () => (await second.getState()) === 'delayed');
    expect((await setEndpoint(inst, null)).statusCode).toBe(200);
    await second.promote();
    await until(async () => (await deliveryRow(dropped))?.status === 'failed');
    expect(receiver.on(path)).toHaveLength(2);
    expect((await getDelivery(inst.keys.admin, dropped)).json<DeliveryDto>()).toMatchObject({
      status: 'failed',
      attempts: [
        { attemptNumber: 1, statusCode: 500 },
        {
          attemptNumber: 2,
          statusCode: null,
          error: 'the institution has no webhook endpoint any more: not sent',
        },
      ],
    });
    expect(await second.getState()).toBe('completed');
    // Nowhere to redeliver it either.
    const redeliver = await t.app.inject({
      method: 'POST',
      url: `/v1/webhook-deliveries/${dropped}/redeliver`,
      headers: bearer(inst.keys.admin),
    });
    expect(redeliver.statusCode).toBe(409);
    expect(redeliver.json<{ code: string }>().code).toBe('WEBHOOK_NOT_CONFIGURED');
  });

  it('refuses a ping without a configured URL with 409 WEBHOOK_NOT_CONFIGURED', async () => {
    const { institution, keys } = await makeInstitution(t, { roles: ['admin'] });
    const res = await ping(keys.admin);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'WEBHOOK_NOT_CONFIGURED' });
    const { rowCount } = await t.sql.query('select 1 from webhook_delivery where institution_id = $1', [
      institution.id,
    ]);
    expect(rowCount).toBe(0);
  });

  it("answers 404 for another institution's delivery and leaves it out of the list", async () => {
    const owner = await withEndpoint();
    const { id } = (await ping(owner.keys.admin)).json<DeliveryDto>();
    await until(async () => (await deliveryRow(id))?.status === 'succeeded');
    const stranger = await makeInstitution(t, { roles: ['admin'] });

    const read = await getDelivery(stranger.keys.admin, id);
    expect(read.statusCode).toBe(404);
    expect(read.json()).toMatchObject({ code: 'WEBHOOK_DELIVERY_NOT_FOUND' });
    const redeliver = await t.app.inject({
      method: 'POST',
      url: `/v1/webhook-deliveries/${id}/redeliver`,
      headers: bearer(stranger.keys.admin),
    });
    expect(redeliver.statusCode).toBe(404);
    const list = await t.app.inject({
      method: 'GET',
      url: '/v1/webhook-deliveries',
      headers: bearer(stranger.keys.admin),
    });
    expect(list.json<{ items: unknown[] }>().items).toEqual([]);
    expect(await deliveryRow(id)).toMatchObject({ status: 'succeeded', attempt_count: 1 });
  });
});

describe('cappedExponentialDelay', () => {
  const { baseMs, capMs } = QUEUES.webhooks.backoff;
  const middle = () => 0.5;

  it('doubles from the base with each attempt', () => {
    expect([1, 2, 3, 4].map((n) => cappedExponentialDelay('webhooks', n, middle))).toEqual([
      baseMs,
      baseMs * 2,
      baseMs * 4,
      baseMs * 8,
    ]);
  });

  it('stops growing at the cap', () => {
    expect(cappedExponentialDelay('webhooks', 30, middle)).toBe(capMs);
    expect(cappedExponentialDelay('webhooks', 5_000, middle)).toBe(capMs);
    expect(cappedExponentialDelay('maintenance', 30, middle)).toBe(QUEUES.maintenance.backoff.capMs);
  });

  it('jitters within ±20 % of the exponential value', () => {
    expect(cappedExponentialDelay('webhooks', 3, () => 0)).toBe(baseMs * 4 * 0.8);
    expect(cappedExponentialDelay('webhooks', 3, () => 1)).toBe(baseMs * 4 * 1.2);
    for (let i = 0; i < 200; i++) {
      const d = cappedExponentialDelay('webhooks', 2);
      expect(d).toBeGreaterThanOrEqual(baseMs * 2 * 0.8);
      expect(d).toBeLessThanOrEqual(baseMs * 2 * 1.2);
    }
    const spread = new Set(Array.from({ length: 50 }, () => cappedExponentialDelay('webhooks', 2)));
    expect(spread.size).toBeGreaterThan(1);
  });
});
