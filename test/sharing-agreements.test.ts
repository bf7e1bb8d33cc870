import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlRequests } from './helpers/graphql.js';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// Agreements (issue 10, point 1): the provider's managers and admins write them, both parties
// read them, anyone else gets 404; bad input changes nothing.

let t: TestApp;
let provider: Awaited<ReturnType<typeof makeInstitution>>;
let requester: Awaited<ReturnType<typeof makeInstitution>>;
let outsider: Awaited<ReturnType<typeof makeInstitution>>;

const call = (
  token: string,
  method: 'GET' | 'POST' | 'PATCH',
  url: string,
  payload?: unknown,
  headers = {},
) =>
  t.app.inject({
    method,
    url,
    headers: { ...bearer(token), ...headers },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

let seq = 0;
const agreementBody = (extra: Record<string, unknown> = {}) => ({
  requesterInstitutionId: requester.institution.id,
  uses: ['external_sharing', 'genetic_research'],
  mtaReference: `MTA-${++seq}`,
  validFrom: '2026-01-01',
  validUntil: '2027-12-31',
  reviewDeadlineDays: 10,
  ...extra,
});

async function agreementCount(): Promise<number> {
  const r = await t.sql.query<{ n: number }>('select count(*)::int as n from sharing_agreement');
  return r.rows[0]!.n;
}

beforeAll(async () => {
  t = await createTestApp();
  provider = await makeInstitution(t);
  requester = await makeInstitution(t, { kind: 'research_hospital' });
  outsider = await makeInstitution(t);
});
afterAll(() => t.close());

describe('agreements', () => {
  it('lets a provider manager record an agreement that both parties read, with uses in vocabulary order', async () => {
    const res = await call(provider.keys.manager, 'POST', '/v1/agreements', agreementBody());
    expect(res.statusCode, res.body).toBe(201);
    const a = res.json<{ id: string; providerInstitutionId: string; uses: string[]; version: number }>();
    expect(a).toMatchObject({
      providerInstitutionId: provider.institution.id,
      requesterInstitutionId: requester.institution.id,
      uses: ['genetic_research', 'external_sharing'],
      validUntil: '2027-12-31',
      reviewDeadlineDays: 10,
      version: 1,
    });
    expect(res.headers.etag).toBe('W/"1"');
    for (const token of [provider.keys.admin, requester.keys.partner, requester.keys.manager]) {
      const read = await call(token, 'GET', `/v1/agreements/${a.id}`);
      expect(read.statusCode, read.body).toBe(200);
    }
    const listed = await call(requester.keys.partner, 'GET', '/v1/agreements?side=requester');
    expect(listed.json<{ items: { id: string }[] }>().items.map((i) => i.id)).toContain(a.id);
    const asProvider = await call(requester.keys.partner, 'GET', '/v1/agreements?side=provider');
    expect(asProvider.json<{ items: { id: string }[] }>().items).toEqual([]);
  });

  it('answers 404 to an institution that is not a party', async () => {
    const a = (await call(provider.keys.manager, 'POST', '/v1/agreements', agreementBody())).json<{
      id: string;
    }>();
    const res = await call(outsider.keys.admin, 'GET', `/v1/agreements/${a.id}`);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'AGREEMENT_NOT_FOUND' });
    const patch = await call(
      outsider.keys.admin,
      'PATCH',
      `/v1/agreements/${a.id}`,
      { reviewDeadlineDays: 3 },
      {
        'if-match': 'W/"1"',
      },
    );
    expect(patch.statusCode).toBe(404);
  });

  it('refuses technicians, partners and the requesting side from writing agreements', async () => {
    const before = await agreementCount();
    for (const token of [provider.keys.technician, provider.keys.partner, provider.keys.integration]) {
      const res = await call(token, 'POST', '/v1/agreements', agreementBody());
      expect(res.statusCode, res.body).toBe(403);
    }
    const a = (await call(provider.keys.manager, 'POST', '/v1/agreements', agreementBody())).json<{
      id: string;
    }>();
    const res = await call(
      requester.keys.admin,
      'PATCH',
      `/v1/agreements/${a.id}`,
      { reviewDeadlineDays: 3 },
      {
        'if-match': 'W/"1"',
      },
    );
    expect(res.statusCode).toBe(403);
    expect(res.json<{ detail: string }>().detail).toContain('requesting institution');
    expect(await agreementCount()).toBe(before + 1);
    const row = await t.sql.query('select review_deadline_days from sharing_agreement where id = $1', [a.id]);
    expect(row.rows[0]).toEqual({ review_deadline_days: 10 });
  });

  it('updates under If-Match and refuses a stale version with 412', async () => {
    const a = (await call(provider.keys.manager, 'POST', '/v1/agreements', agreementBody())).json<{
      id: string;
    }>();
    const res = await call(
      provider.keys.admin,
      'PATCH',
      `/v1/agreements/${a.id}`,
      { validUntil: null, uses: ['external_sharing'] },
      {
        'if-match': 'W/"1"',
      },
    );
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ validUntil: null, uses: ['external_sharing'], version: 2 });
    const stale = await call(
      provider.keys.admin,
      'PATCH',
      `/v1/agreements/${a.id}`,
      { reviewDeadlineDays: 3 },
      {
        'if-match': 'W/"1"',
      },
    );
    expect(stale.statusCode).toBe(412);
    expect(stale.json()).toMatchObject({ code: 'VERSION_CONFLICT' });
    const missing = await call(provider.keys.admin, 'PATCH', `/v1/agreements/${a.id}`, {
      reviewDeadlineDays: 3,
    });
    expect(missing.statusCode).toBe(428);
  });

  it('refuses bad input with a 4xx naming the field, changing nothing', async () => {
    const before = await agreementCount();
    const cases: [Record<string, unknown>, number, string, string][] = [
      [agreementBody({ uses: [] }), 400, 'VALIDATION_FAILED', 'body.uses'],
      [agreementBody({ uses: ['selling'] }), 400, 'VALIDATION_FAILED', 'body.uses.0'],
      [agreementBody({ validFrom: '2026-02-30' }), 400, 'VALIDATION_FAILED', 'body.validFrom'],
      [agreementBody({ validUntil: '2025-01-01' }), 400, 'VALIDATION_FAILED', 'body.validUntil'],
      [agreementBody({ reviewDeadlineDays: 0 }), 400, 'VALIDATION_FAILED', 'body.reviewDeadlineDays'],
      [
        agreementBody({ requesterInstitutionId: provider.institution.id }),
        422,
        'AGREEMENT_WITH_SELF',
        'requesterInstitutionId',
      ],
      [
        agreementBody({ requesterInstitutionId: '0190a0a0-0000-7000-8000-000000000000' }),
        404,
        'INSTITUTION_NOT_FOUND',
        'requesterInstitutionId',
      ],
    ];
    for (const [body, status, code, field] of cases) {
      const res = await call(provider.keys.manager, 'POST', '/v1/agreements', body);
      expect(res.statusCode, res.body).toBe(status);
      const problem = res.json<{ code: string; errors: { field: string }[] }>();
      expect(problem.code).toBe(code);
      expect(problem.errors.map((e) => e.field)).toContain(field);
    }
    const first = await call(
      provider.keys.manager,
      'POST',
      '/v1/agreements',
      agreementBody({ mtaReference: 'MTA-DUP' }),
    );
    expect(first.statusCode).toBe(201);
    const dup = await call(
      provider.keys.manager,
      'POST',
      '/v1/agreements',
      agreementBody({ mtaReference: 'MTA-DUP' }),
    );
    expect(dup.statusCode).toBe(409);
    expect(dup.json()).toMatchObject({ code: 'AGREEMENT_EXISTS' });
    expect(await agreementCount()).toBe(before + 1);
  });

  it('records the agreement in the audit trail under the operation name', async () => {
    const a = (await call(provider.keys.manager, 'POST', '/v1/agreements', agreementBody())).json<{
      id: string;
    }>();
    const rows = await t.sql.query('select action, institution_id from audit_log where entity_id = $1', [
      a.id,
    ]);
    expect(rows.rows).toEqual([{ action: 'createAgreement', institution_id: provider.institution.id }]);
  });
});

describe('agreements over GraphQL', () => {
  const { gql } = graphqlRequests(
    () => t,
    () => provider.keys.manager,
  );

  it('creates, reads and updates through the same service', async () => {
    const created = await gql<{ createAgreement: { id: string; uses: string[]; version: number } }>(
      `mutation($input: CreateAgreementInput!) { createAgreement(input: $input) { id uses version validUntil } }`,
      { input: agreementBody({ validUntil: null }) },
    );
    expect(created.errors).toBeUndefined();
    const id = created.data!.createAgreement.id;
    const read = await gql<{ agreement: { id: string } | null }>(
      `query($id: ID!) { agreement(id: $id) { id mtaReference } }`,
      { id },
      requester.keys.partner,
    );
    expect(read.data!.agreement?.id).toBe(id);
    const hidden = await gql<{ agreement: null }>(
      `query($id: ID!) { agreement(id: $id) { id } }`,
      { id },
      outsider.keys.admin,
    );
    expect(hidden.data!.agreement).toBeNull();
    const updated = await gql<{ updateAgreement: { version: number; reviewDeadlineDays: number } }>(
      `mutation($id: ID!) { updateAgreement(id: $id, expectedVersion: 1, input: { reviewDeadlineDays: 5 }) { version reviewDeadlineDays } }`,
      { id },
    );
    expect(updated.data!.updateAgreement).toEqual({ version: 2, reviewDeadlineDays: 5 });
    const refused = await gql(
      `mutation($id: ID!) { updateAgreement(id: $id, expectedVersion: 2, input: { reviewDeadlineDays: 0 }) { version } }`,
      { id },
    );
    expect(refused.errors?.[0]?.extensions.code).toBe('VALIDATION_FAILED');
    const list = await gql<{ agreements: { edges: { node: { id: string } }[] } }>(
      `{ agreements(side: requester) { edges { node { id } } } }`,
      undefined,
      requester.keys.manager,
    );
    expect(list.data!.agreements.edges.map((e) => e.node.id)).toContain(id);
  });
});
