import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, fieldsOf } from './helpers/inventory.js';
import {
  makeAgreement,
  makeProvider,
  makeRequester,
  runProposalJob,
  type Provider,
  type Requester,
} from './helpers/sharing.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// Every refusal of the sharing requests answers a 4xx problem naming the field, and writes
// nothing: no request, no item, no timeline event, no audit row, no job.

let t: TestApp;
let provider: Provider;
let requester: Requester;
let other: Requester;
let agreementId: string;

beforeAll(async () => {
  t = await createTestApp();
  provider = await makeProvider(t);
  requester = await makeRequester(t);
  other = await makeRequester(t);
  agreementId = (await makeAgreement(provider, requester.institution.id)).id;
  const box = await provider.box();
  await provider.specimen(await provider.donor(), box);
});
afterAll(() => t.close());

const body = (extra: Record<string, unknown> = {}) => ({
  providerInstitutionId: provider.lab.institution.id,
  agreementId,
  use: 'external_sharing',
  ethicsApprovalRef: 'EC-BAD',
  specimenCount: 1,
  quantityPerSpecimen: 0.1,
  unit: 'mL',
  purpose: 'bad input',
  ...extra,
});

async function written() {
  const { rows } = await t.sql.query<Record<string, number>>(
    `select (select count(*)::int from sharing_request) as requests,
            (select count(*)::int from sharing_request_item) as items,
            (select count(*)::int from sharing_request_event) as events,
            (select count(*)::int from audit_log) as audit,
            (select count(*)::int from outbox) as jobs`,
  );
  return rows[0]!;
}

async function created(extra: Record<string, unknown> = {}) {
  const res = await requester.call('POST', '/v1/sharing-requests', body(extra));
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ id: string; version: number }>();
}

describe('refused sharing requests change nothing', () => {
  it('refuses requests without a valid agreement, for a use outside it, or with criteria that do not parse', async () => {
    const other2 = (await makeAgreement(provider, other.institution.id)).id;
    const expired = (
      await makeAgreement(provider, requester.institution.id, {
        validFrom: '2020-01-01',
        validUntil: '2021-12-31',
      })
    ).id;
    const before = await written();
    const cases: [Record<string, unknown>, number, string, string][] = [
      [
        body({ agreementId: '0190a0a0-0000-7000-8000-000000000000' }),
        404,
        'AGREEMENT_NOT_FOUND',
        'agreementId',
      ],
      [body({ agreementId: other2 }), 404, 'AGREEMENT_NOT_FOUND', 'agreementId'],
      [body({ providerInstitutionId: other.institution.id }), 404, 'AGREEMENT_NOT_FOUND', 'agreementId'],
      [body({ agreementId: expired }), 422, 'AGREEMENT_NOT_IN_FORCE', 'agreementId'],
      [body({ use: 'commercial_use' }), 422, 'USE_NOT_IN_AGREEMENT', 'use'],
      [body({ use: 'selling' }), 400, 'VALIDATION_FAILED', 'body.use'],
      [
        body({ criteria: { sprec: { preCentrifugation: ['AB'] } } }),
        400,
        'VALIDATION_FAILED',
        'body.criteria.sprec.preCentrifugation.0',
      ],
      [body({ criteria: { colour: 'red' } }), 400, 'VALIDATION_FAILED', 'body.criteria.colour'],
      [body({ criteria: { diagnoses: ['cancer'] } }), 400, 'VALIDATION_FAILED', 'body.criteria.diagnoses.0'],
      [
        body({ criteria: { collectedFrom: '2024-02-01', collectedTo: '2024-01-01' } }),
        400,
        'VALIDATION_FAILED',
        'body.criteria.collectedTo',
      ],
      [body({ specimenCount: 0 }), 400, 'VALIDATION_FAILED', 'body.specimenCount'],
      [body({ quantityPerSpecimen: -1 }), 400, 'VALIDATION_FAILED', 'body.quantityPerSpecimen'],
      [body({ quantityPerSpecimen: 1e-9 }), 400, 'VALIDATION_FAILED', 'body.quantityPerSpecimen'],
      [body({ quantityPerSpecimen: 0.00004 }), 400, 'VALIDATION_FAILED', 'body.quantityPerSpecimen'],
    ];
    for (const [payload, status, code, field] of cases) {
      const problem = expectProblem(
        await requester.call('POST', '/v1/sharing-requests', payload),
        status,
        code,
      );
      expect(fieldsOf(problem), `${code} ${JSON.stringify(payload)}`).toContain(field);
    }
    expectProblem(
      await requester.call('POST', '/v1/sharing-requests', body(), { role: 'technician' }),
      403,
      'FORBIDDEN',
    );
    expect(await written()).toEqual(before);
  });

  it('refuses out-of-turn and malformed steps of a request', async () => {
    const r = await created();
    const url = `/v1/sharing-requests/${r.id}`;
    // A draft is not reviewed, approved or rejected.
    let before = await written();
    expectProblem(await provider.lab.post(`${url}/approve`, {}), 404, 'SHARING_REQUEST_NOT_FOUND');
    expect((await requester.call('POST', `${url}/submit`, {})).statusCode).toBe(200);
    await runProposalJob(t, r.id);
    before = await written();
    expectProblem(await requester.call('POST', `${url}/submit`, {}), 409, 'INVALID_REQUEST_TRANSITION');
    expectProblem(
      await requester.call('PATCH', url, { purpose: 'late' }, { headers: { 'if-match': 'W/"3"' } }),
      409,
      'INVALID_REQUEST_TRANSITION',
    );
    expectProblem(await provider.lab.post(`${url}/approve`, {}), 409, 'INVALID_REQUEST_TRANSITION');
    expectProblem(await provider.lab.post(`${url}/reject`, {}), 400, 'VALIDATION_FAILED');
    expectProblem(
      await provider.lab.post(`${url}/proposal`, { add: ['X'] }),
      409,
      'INVALID_REQUEST_TRANSITION',
    );
    expect(await written()).toEqual(before);

    expect((await provider.lab.post(`${url}/start-review`, {})).statusCode).toBe(200);
    before = await written();
    const past = await provider.lab.post(`${url}/approve`, { reservedUntil: '2020-01-01T00:00:00Z' });
    expect(fieldsOf(expectProblem(past, 400, 'INVALID_EXPIRY'))).toEqual(['reservedUntil']);
    const forever = await provider.lab.post(`${url}/approve`, { reservedUntil: '2999-01-01T00:00:00Z' });
    expect(fieldsOf(expectProblem(forever, 400, 'VALIDATION_FAILED'))).toEqual(['reservedUntil']);
    expect(
      fieldsOf(expectProblem(await provider.lab.post(`${url}/proposal`, {}), 400, 'VALIDATION_FAILED')),
    ).toEqual(['body.add']);
    const unknownItem = await provider.lab.post(`${url}/proposal`, {
      remove: ['0190a0a0-0000-7000-8000-000000000000'],
    });
    expect(fieldsOf(expectProblem(unknownItem, 404, 'SHARING_ITEM_NOT_FOUND'))).toEqual(['remove.0']);
    expect(await written()).toEqual(before);

    // With its only item removed, there is nothing to approve.
    const items = (await provider.lab.get(`${url}/items`)).json<{ items: { id: string }[] }>().items;
    expect((await provider.lab.post(`${url}/proposal`, { remove: [items[0]!.id] })).statusCode).toBe(200);
    before = await written();
    expectProblem(await provider.lab.post(`${url}/approve`, {}), 422, 'PROPOSAL_INCOMPLETE');
    expect(await written()).toEqual(before);
  });

  it('refuses to submit once the agreement is no longer in force', async () => {
    const agreement = await makeAgreement(provider, requester.institution.id);
    const r = await created({ agreementId: agreement.id });
    const ended = await provider.lab.call(
      'PATCH',
      `/v1/agreements/${agreement.id}`,
      { validUntil: '2024-06-30' },
      {
        headers: { 'if-match': 'W/"1"' },
      },
    );
    expect(ended.statusCode, ended.body).toBe(200);
    const before = await written();
    const res = await requester.call('POST', `/v1/sharing-requests/${r.id}/submit`, {});
    expect(fieldsOf(expectProblem(res, 422, 'AGREEMENT_NOT_IN_FORCE'))).toEqual(['agreementId']);
    expect(await written()).toEqual(before);
  });

  it('keeps the timeline append-only in the database itself', async () => {
    const r = await created();
    await requester.call('POST', `/v1/sharing-requests/${r.id}/submit`, {});
    await expect(
      t.sql.query("update sharing_request_event set reason = 'rewritten' where request_id = $1", [r.id]),
    ).rejects.toThrow(/append-only/);
    await expect(
      t.sql.query('delete from sharing_request_event where request_id = $1', [r.id]),
    ).rejects.toThrow(/append-only/);
  });
});
