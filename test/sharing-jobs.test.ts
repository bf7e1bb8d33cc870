import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { custodyRows, specimenRow } from './helpers/inventory.js';
import {
  makeAgreement,
  makeProvider,
  makeRequester,
  runJob,
  runProposalJob,
  type Provider,
  type Requester,
} from './helpers/sharing.js';
import { bearer, createTestApp, until, type TestApp } from './helpers/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

// The sharing jobs with real workers, Redis and a webhook endpoint per institution: the proposal
// after submission, a signed webhook to the other institution on every transition, reservations
// released at their deadline, review reminders and escalations; every one of them idempotent.

const HOUR = 3_600_000;
let now = new Date();
let t: TestApp;
let receiver: WebhookReceiver;
let provider: Provider;
let requester: Requester;
const secrets: Record<string, string> = {};
const paths: Record<string, string> = {};

async function withEndpoint(institutionId: string, adminKey: string) {
  const path = `/hooks/${institutionId}`;
  const res = await t.app.inject({
    method: 'PATCH',
    url: `/v1/institutions/${institutionId}`,
    headers: { ...bearer(adminKey), 'if-match': 'W/"1"' },
    payload: { webhookUrl: receiver.url + path },
  });
  expect(res.statusCode, res.body).toBe(200);
  secrets[institutionId] = res.json<{ webhookSecret: string }>().webhookSecret;
  paths[institutionId] = path;
}

/**
 * Webhook events one institution received about a request, each signature checked against the
 * institution's secret (at the time it was signed: the service's clock is moved in these tests).
 */
function received(institutionId: string, requestId: string): string[] {
  return receiver
    .on(paths[institutionId]!)
    .filter((r) => r.status === 200)
    .map((r) => {
      const signedAt = new Date(Number(r.headers['webhook-timestamp']) * 1000);
      const signature = new Webhook(secrets[institutionId]!).sign(r.headers['webhook-id']!, signedAt, r.body);
      expect(r.headers['webhook-signature']).toBe(signature);
      return JSON.parse(r.body) as { type: string; data: { requestId: string } };
    })
    .filter((b) => b.data.requestId === requestId)
    .map((b) => b.type);
}

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  t = await createTestApp({ workers: true, overrides: { clock: () => now } });
  t.sql.on('error', () => undefined);
  provider = await makeProvider(t);
  requester = await makeRequester(t);
  await withEndpoint(provider.lab.institution.id, provider.lab.keys.admin);
  await withEndpoint(requester.institution.id, requester.keys.admin);
});
afterAll(async () => {
  await t.close();
  await receiver.close();
});

async function stocked(n: number) {
  const box = await provider.box();
  const tubes = [];
  for (let i = 0; i < n; i++) tubes.push(await provider.specimen(await provider.donor(), box));
  return tubes;
}

async function draft(agreementId: string, count: number): Promise<string> {
  const res = await requester.call('POST', '/v1/sharing-requests', {
    providerInstitutionId: provider.lab.institution.id,
    agreementId,
    use: 'external_sharing',
    ethicsApprovalRef: 'EC-JOBS',
    specimenCount: count,
    quantityPerSpecimen: 0.2,
    unit: 'mL',
    purpose: 'jobs',
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ id: string }>().id;
}

const itemCount = async (id: string) =>
  (
    await t.sql.query<{ n: number }>(
      'select count(*)::int as n from sharing_request_item where request_id = $1',
      [id],
    )
  ).rows[0]!.n;

describe('proposal and notifications, with workers', () => {
  it('proposes after submission and tells the other institution of every transition by a signed webhook', async () => {
    await stocked(3);
    const agreement = await makeAgreement(provider, requester.institution.id);
    const id = await draft(agreement.id, 2);
    expect((await requester.call('POST', `/v1/sharing-requests/${id}/submit`, {})).statusCode).toBe(200);
    await until(async () => (await itemCount(id)) === 2);
    await until(async () => received(provider.lab.institution.id, id).includes('sharing_request.submitted'));

    expect((await provider.lab.post(`/v1/sharing-requests/${id}/start-review`, {})).statusCode).toBe(200);
    expect((await provider.lab.post(`/v1/sharing-requests/${id}/approve`, {})).statusCode).toBe(200);
    await until(async () => received(requester.institution.id, id).length === 3);
    expect(received(requester.institution.id, id).sort()).toEqual([
      'sharing_request.approved',
      'sharing_request.reserved',
      'sharing_request.review_started',
    ]);
    // An institution is not told of its own actions.
    expect(received(provider.lab.institution.id, id)).toEqual(['sharing_request.submitted']);

    // The delivery is in the provider's log, and the timeline records each notification once.
    const log = await t.app.inject({
      method: 'GET',
      url: '/v1/webhook-deliveries',
      headers: bearer(provider.lab.keys.admin),
    });
    expect(log.json<{ items: { eventType: string }[] }>().items.map((d) => d.eventType)).toContain(
      'sharing_request.submitted',
    );
    await until(async () => {
      const n = await t.sql.query<{ n: number }>(
        "select count(*)::int as n from sharing_request_event where request_id = $1 and action = 'notified'",
        [id],
      );
      return n.rows[0]!.n === 4;
    });
    // Each side's timeline shows its own deliveries only, never the other institution's.
    for (const [side, own] of [
      ['requester', requester.institution.id],
      ['provider', provider.lab.institution.id],
    ] as const) {
      const events = await t.app.inject({
        method: 'GET',
        url: `/v1/sharing-requests/${id}/events?limit=100`,
        headers: bearer(side === 'requester' ? requester.keys.partner : provider.lab.keys.admin),
      });
      const notified = events
        .json<{ items: { action: string; details: { deliveries: { institutionId: string }[] } }[] }>()
        .items.filter((e) => e.action === 'notified');
      expect(notified).toHaveLength(4);
      const shown = notified.flatMap((e) => e.details.deliveries.map((d) => d.institutionId));
      expect(shown.length, side).toBeGreaterThan(0);
      expect(new Set(shown), side).toEqual(new Set([own]));
    }
  });

  it('runs the proposal once: a replay of the job changes nothing', async () => {
    await stocked(2);
    const agreement = await makeAgreement(provider, requester.institution.id);
    const id = await draft(agreement.id, 2);
    await requester.call('POST', `/v1/sharing-requests/${id}/submit`, {});
    await until(async () => (await itemCount(id)) === 2);
    const before = await t.sql.query('select * from sharing_request_item where request_id = $1 order by id', [
      id,
    ]);
    expect(await runProposalJob(t, id)).toBeNull();
    expect(
      (await t.sql.query('select * from sharing_request_item where request_id = $1 order by id', [id])).rows,
    ).toEqual(before.rows);
    const proposals = await t.sql.query<{ n: number }>(
      "select count(*)::int as n from sharing_request_event where request_id = $1 and action = 'propose'",
      [id],
    );
    expect(proposals.rows[0]!.n).toBe(1);
  });

  it('sends a notification once when its job runs again', async () => {
    await stocked(1);
    const agreement = await makeAgreement(provider, requester.institution.id);
    const id = await draft(agreement.id, 1);
    await requester.call('POST', `/v1/sharing-requests/${id}/submit`, {});
    await until(async () => received(provider.lab.institution.id, id).length === 1);
    const { rows } = await t.sql.query<{ id: number }>(
      "select id from sharing_request_event where request_id = $1 and action = 'submit'",
      [id],
    );
    const deliveries = async () =>
      (
        await t.sql.query<{ n: number }>(
          "select count(*)::int as n from webhook_delivery where payload->'data'->>'requestId' = $1",
          [id],
        )
      ).rows[0]!.n;
    const before = await deliveries();
    await runJob(t, 'sharing.notifyTransition', { eventId: rows[0]!.id });
    expect(await deliveries()).toBe(before);
  });
});

describe('a failing endpoint', () => {
  it("retries a sharing webhook the provider's endpoint refused, and its delivery log shows both attempts", async () => {
    const agreement = await makeAgreement(provider, requester.institution.id);
    const id = await draft(agreement.id, 1);
    receiver.answer(paths[provider.lab.institution.id]!, 503);
    expect((await requester.call('POST', `/v1/sharing-requests/${id}/submit`, {})).statusCode).toBe(200);
    const delivery = await until(async () => {
      const { rows } = await t.sql.query<{
        id: string;
        attempt_count: number;
        last_status_code: number | null;
      }>(
        "select id, attempt_count, last_status_code from webhook_delivery where payload->'data'->>'requestId' = $1",
        [id],
      );
      return rows[0]?.last_status_code === 503 ? rows[0] : undefined;
    });
    const logOf = async () =>
      (
        await t.app.inject({
          method: 'GET',
          url: `/v1/webhook-deliveries/${delivery.id}`,
          headers: bearer(provider.lab.keys.admin),
        })
      ).json<{ status: string; eventType: string; attempts: { statusCode: number | null }[] }>();
    expect(await logOf()).toMatchObject({
      status: 'pending',
      eventType: 'sharing_request.submitted',
      attempts: [{ statusCode: 503 }],
    });
    // The retry waits out its backoff in BullMQ; run it now.
    const { rows } = await t.sql.query<{ id: string }>(
      "select id from outbox where payload->>'deliveryId' = $1 order by created_at desc, id desc limit 1",
      [delivery.id],
    );
    const job = await until(() => t.c.queues.get('webhooks').getJob(rows[0]!.id));
    await until(async () => (await job.getState()) === 'delayed');
    await job.promote();
    await until(async () => (await logOf()).status === 'succeeded');
    expect((await logOf()).attempts.map((a) => a.statusCode)).toEqual([503, 200]);
    expect(received(provider.lab.institution.id, id)).toEqual(['sharing_request.submitted']);
  });
});

describe('deadlines', () => {
  it('releases a reservation not shipped by its deadline, once, and tells both institutions', async () => {
    await stocked(2);
    const agreement = await makeAgreement(provider, requester.institution.id);
    const id = await draft(agreement.id, 2);
    await requester.call('POST', `/v1/sharing-requests/${id}/submit`, {});
    await until(async () => (await itemCount(id)) === 2);
    await provider.lab.post(`/v1/sharing-requests/${id}/start-review`, {});
    const approved = await provider.lab.post(`/v1/sharing-requests/${id}/approve`, {
      reservedUntil: new Date(now.getTime() + HOUR).toISOString(),
    });
    expect(approved.statusCode, approved.body).toBe(200);
    const specimenIds = (
      await t.sql.query<{ specimen_id: string }>(
        'select specimen_id from sharing_request_item where request_id = $1',
        [id],
      )
    ).rows.map((r) => r.specimen_id);

    // Not yet due.
    await runJob(t, 'sharing.expireReservations', {});
    expect(
      (await t.sql.query<{ state: string }>('select state from sharing_request where id = $1', [id])).rows[0]!
        .state,
    ).toBe('reserved');

    now = new Date(now.getTime() + 2 * HOUR);
    await runJob(t, 'sharing.expireReservations', {});
    const after = await requester.call('GET', `/v1/sharing-requests/${id}`);
    expect(after.json<{ state: string; reason: string }>()).toMatchObject({ state: 'cancelled' });
    expect(after.json<{ reason: string }>().reason).toContain('deadline');
    for (const s of specimenIds) {
      expect((await specimenRow(t, s)).status).toBe('available');
      expect((await custodyRows(t, s)).at(-1)).toMatchObject({ type: 'reservation_released' });
    }
    const chain = await custodyRows(t, specimenIds[0]!);
    await runJob(t, 'sharing.expireReservations', {});
    expect(await custodyRows(t, specimenIds[0]!)).toEqual(chain);
    await until(async () =>
      received(provider.lab.institution.id, id).includes('sharing_request.reservation_expired'),
    );
    await until(async () =>
      received(requester.institution.id, id).includes('sharing_request.reservation_expired'),
    );
  });

  it('reminds the provider of an overdue review, then escalates, each once', async () => {
    await stocked(1);
    const agreement = await makeAgreement(provider, requester.institution.id, { reviewDeadlineDays: 2 });
    const id = await draft(agreement.id, 1);
    await requester.call('POST', `/v1/sharing-requests/${id}/submit`, {});
    const steps = async () =>
      (
        await t.sql.query<{ action: string }>(
          "select action from sharing_request_event where request_id = $1 and action in ('remind_review', 'escalate_review') order by id",
          [id],
        )
      ).rows.map((r) => r.action);

    await runJob(t, 'sharing.remindReviews', {});
    expect(await steps()).toEqual([]);
    now = new Date(now.getTime() + 49 * HOUR);
    await runJob(t, 'sharing.remindReviews', {});
    await runJob(t, 'sharing.remindReviews', {});
    expect(await steps()).toEqual(['remind_review']);
    const reminded = (await provider.lab.get(`/v1/sharing-requests/${id}`)).json<{
      reviewRemindedAt: string | null;
    }>();
    expect(reminded.reviewRemindedAt).not.toBeNull();
    await until(async () =>
      received(provider.lab.institution.id, id).includes('sharing_request.review_overdue'),
    );

    now = new Date(now.getTime() + 48 * HOUR);
    await runJob(t, 'sharing.remindReviews', {});
    await runJob(t, 'sharing.remindReviews', {});
    expect(await steps()).toEqual(['remind_review', 'escalate_review']);
    await until(async () =>
      received(provider.lab.institution.id, id).includes('sharing_request.review_escalated'),
    );
    // The requester is not sent the provider's reminders.
    expect(received(requester.institution.id, id)).toEqual([]);
  });
});
