import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GqlResult } from './helpers/graphql.js';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

// Issue 13, finding 10: the operator's admins reach another institution's donors only through a
// break-glass key: a reason is required, the key expires within 24 hours, and the institution
// sees it in its own audit log and gets a `security.break_glass` webhook, in the same transaction.

let t: TestApp;
let receiver: WebhookReceiver;
let operator: Awaited<ReturnType<typeof makeInstitution>>;
let hospital: Awaited<ReturnType<typeof makeInstitution>>;
let participantId: string;
beforeAll(async () => {
  t = await createTestApp();
  receiver = await startWebhookReceiver();
  operator = await makeInstitution(t, { operator: true, roles: ['admin'] });
  hospital = await makeInstitution(t, { roles: ['admin', 'manager'] });
  const patch = await t.app.inject({
    method: 'PATCH',
    url: `/v1/institutions/${hospital.institution.id}`,
    headers: { ...bearer(hospital.keys.admin), 'if-match': 'W/"1"' },
    payload: { webhookUrl: `${receiver.url}/hospital` },
  });
  expect(patch.statusCode).toBe(200);
  const protocol = await t.app.inject({
    method: 'POST',
    url: '/v1/protocols',
    headers: bearer(hospital.keys.manager),
    payload: { code: 'BG-1', title: 'Cohort', ethicsApprovalRef: 'EC-1', consentTiers: ['GENETIC_RESEARCH'] },
  });
  const participant = await t.app.inject({
    method: 'POST',
    url: '/v1/participants',
    headers: bearer(hospital.keys.manager),
    payload: {
      protocolId: protocol.json<{ id: string }>().id,
      protocolParticipantId: 'BG-P1',
      sex: 'female',
    },
  });
  expect(participant.statusCode).toBe(201);
  participantId = participant.json<{ id: string }>().id;
});
afterAll(async () => {
  await t.close();
  await receiver.close();
});

const mint = (payload: Record<string, unknown>, token = operator.keys.admin) =>
  t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(token), payload });

async function keysOf(institutionId: string) {
  const { rows } = await t.sql.query('select id from api_key where institution_id = $1', [institutionId]);
  return rows.length;
}

describe("the operator's powers", () => {
  it("cannot read another institution's donors with its own key", async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/participants/${participantId}`,
      headers: bearer(operator.keys.admin),
    });
    expect(res.statusCode).toBe(404);
  });

  it('refuses a key for another institution without a reason: 403 BREAK_GLASS_REQUIRED, nothing written', async () => {
    const before = await keysOf(hospital.institution.id);
    const res = await mint({ name: 'support', role: 'admin', institutionId: hospital.institution.id });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({
      code: 'BREAK_GLASS_REQUIRED',
      errors: [{ field: 'breakGlassReason' }],
    });
    expect(await keysOf(hospital.institution.id)).toBe(before);
  });

  it('refuses a break-glass key that would live more than 24 hours', async () => {
    const res = await mint({
      name: 'support',
      role: 'admin',
      institutionId: hospital.institution.id,
      breakGlassReason: 'ticket 4711: restore access after the admin left',
      expiresAt: new Date(Date.now() + 25 * 3_600_000).toISOString(),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'expiresAt' }] });
  });

  it("mints a short-lived key with a reason, recorded in the institution's audit log and sent to its webhook", async () => {
    const reason = 'ticket 4712: restore access after the admin left';
    const res = await mint({
      name: 'support',
      role: 'admin',
      institutionId: hospital.institution.id,
      breakGlassReason: reason,
    });
    expect(res.statusCode).toBe(201);
    const key = res.json<{ id: string; token: string; expiresAt: string }>();
    const life = new Date(key.expiresAt).getTime() - Date.now();
    expect(life).toBeGreaterThan(3.9 * 3_600_000);
    expect(life).toBeLessThanOrEqual(4 * 3_600_000);

    // The institution's own admins see it in their audit log.
    const audit = await t.app.inject({
      method: 'GET',
      url: `/v1/audit?entityType=api_key&entityId=${key.id}`,
      headers: bearer(hospital.keys.admin),
    });
    const entries = audit.json<{ items: { action: string; after: Record<string, unknown> }[] }>().items;
    const breakGlass = entries.find((e) => e.action === 'breakGlass');
    expect(breakGlass?.after).toMatchObject({
      apiKeyId: key.id,
      role: 'admin',
      reason,
      byInstitution: operator.institution.code,
    });
    // And a webhook, queued in the same transaction.
    const { rows } = await t.sql.query<{ payload: { data: Record<string, unknown> } }>(
      "select payload from webhook_delivery where institution_id = $1 and event_type = 'security.break_glass'",
      [hospital.institution.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.payload.data).toMatchObject({ apiKeyId: key.id, reason });

    // What the key is for: that institution's donors, identity included.
    const donor = await t.app.inject({
      method: 'GET',
      url: `/v1/participants/${participantId}`,
      headers: bearer(key.token),
    });
    expect(donor.statusCode).toBe(200);
    expect(donor.json<{ identity: { protocolParticipantId: string } }>().identity.protocolParticipantId).toBe(
      'BG-P1',
    );
  });

  it('takes the same reason through GraphQL', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(operator.keys.admin),
      payload: {
        query: `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id expiresAt } } }`,
        variables: { input: { name: 'gql', role: 'manager', institutionId: hospital.institution.id } },
      },
    });
    expect(res.json<GqlResult>().errors![0]!.extensions.code).toBe('BREAK_GLASS_REQUIRED');
    const ok = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(operator.keys.admin),
      payload: {
        query: `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id expiresAt } } }`,
        variables: {
          input: {
            name: 'gql',
            role: 'manager',
            institutionId: hospital.institution.id,
            breakGlassReason: 'ticket 4713: audit support',
          },
        },
      },
    });
    expect(ok.json<GqlResult>().errors).toBeUndefined();
  });

  it('needs no reason for its own institution, and other admins still cannot reach another institution', async () => {
    expect((await mint({ name: 'own', role: 'technician' })).statusCode).toBe(201);
    const other = await mint(
      {
        name: 'x',
        role: 'admin',
        institutionId: operator.institution.id,
        breakGlassReason: 'trying my luck here',
      },
      hospital.keys.admin,
    );
    expect(other.statusCode).toBe(404);
  });
});
