import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlRequests } from './helpers/graphql.js';
import { expectProblem, makeLab, uid, type Lab } from './helpers/inventory.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// An LIS corrects a donor's record: PATCH /v1/participants/{id} with If-Match, and the GraphQL
// mutation updateParticipant with expectedVersion.

let t: TestApp;
let lab: Lab;
let protocolId: string;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  const proto = await lab.post('/v1/protocols', {
    code: uid('PU'),
    title: 'Participant updates',
    ethicsApprovalRef: 'EC-9',
    consentTiers: [],
  });
  expect(proto.statusCode, proto.body).toBe(201);
  protocolId = proto.json<{ id: string }>().id;
});
afterAll(() => t.close());

interface ParticipantBody {
  id: string;
  sex: string;
  diagnoses: string[];
  identity: { protocolParticipantId: string; birthYear: number | null; hasMrn: boolean } | null;
  version: number;
}

async function participant(extra: Record<string, unknown> = {}): Promise<ParticipantBody> {
  const res = await lab.post('/v1/participants', { protocolId, protocolParticipantId: uid('P'), ...extra });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<ParticipantBody>();
}

const patch = (id: string, body: unknown, ifMatch?: string, role: 'manager' | 'technician' = 'manager') =>
  lab.call('PATCH', `/v1/participants/${id}`, body, {
    role,
    headers: ifMatch === undefined ? {} : { 'if-match': ifMatch },
  });

const { gql } = graphqlRequests(
  () => t,
  () => lab.keys.integration,
);

describe('PATCH /v1/participants/{id}', () => {
  it('updates sex, diagnoses and identity fields at the version read, with an audit row', async () => {
    const p = await participant({ sex: 'unknown' });
    const newPid = uid('P');
    const res = await patch(
      p.id,
      { sex: 'female', diagnoses: ['c50.9'], birthYear: 1970, protocolParticipantId: newPid, mrn: 'MRN-778' },
      `W/"${p.version}"`,
    );
    expect(res.statusCode, res.body).toBe(200);
    const after = res.json<ParticipantBody>();
    expect(after).toMatchObject({
      sex: 'female',
      diagnoses: ['C50.9'],
      identity: { protocolParticipantId: newPid, birthYear: 1970, hasMrn: true },
      version: p.version + 1,
    });
    expect(res.headers.etag).toBe(`W/"${p.version + 1}"`);
    const byMrn = await lab.post('/v1/participants/search-by-mrn', { mrn: 'MRN-778' });
    expect(byMrn.json<{ items: { id: string }[] }>().items.map((i) => i.id)).toEqual([p.id]);
    const { rows } = await t.sql.query<{ before: { version: number }; after: { sex: string } }>(
      `select before, after from audit_log where action = 'updateParticipant' and entity_id = $1`,
      [p.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.before.version).toBe(p.version);
    expect(rows[0]!.after.sex).toBe('female');
  });

  it('leaves fields not sent as they were, and null forgets the MRN', async () => {
    const p = await participant({ sex: 'male', birthYear: 1950, mrn: 'MRN-1', diagnoses: ['C61'] });
    const res = await patch(p.id, { mrn: null }, `W/"${p.version}"`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<ParticipantBody>()).toMatchObject({
      sex: 'male',
      diagnoses: ['C61'],
      identity: { birthYear: 1950, hasMrn: false },
    });
  });

  it('refuses a stale If-Match with 412 and a missing one with 428, changing nothing', async () => {
    const p = await participant();
    const first = await patch(p.id, { sex: 'male' }, `W/"${p.version}"`);
    expect(first.statusCode, first.body).toBe(200);
    const stale = expectProblem(
      await patch(p.id, { sex: 'female' }, `W/"${p.version}"`),
      412,
      'VERSION_CONFLICT',
    );
    expect(stale).toMatchObject({ currentVersion: p.version + 1 });
    expectProblem(await patch(p.id, { sex: 'female' }), 428, 'IF_MATCH_REQUIRED');
    const now = (await lab.get(`/v1/participants/${p.id}`)).json<ParticipantBody>();
    expect(now).toMatchObject({ sex: 'male', version: p.version + 1 });
  });

  it('refuses roles that may not manage participants, an unknown field and another donor’s id', async () => {
    const p = await participant();
    const other = await participant();
    expectProblem(await patch(p.id, { sex: 'male' }, `W/"${p.version}"`, 'technician'), 403, 'FORBIDDEN');
    const bad = await patch(p.id, { protocolId }, `W/"${p.version}"`);
    expect(bad.statusCode, bad.body).toBeGreaterThanOrEqual(400);
    expect(bad.statusCode).toBeLessThan(500);
    expectProblem(
      await patch(p.id, { protocolParticipantId: other.identity!.protocolParticipantId }, `W/"${p.version}"`),
      409,
      'PARTICIPANT_EXISTS',
    );
    expectProblem(await patch(crypto.randomUUID(), { sex: 'male' }, 'W/"1"'), 404, 'PARTICIPANT_NOT_FOUND');
  });
});

describe('GraphQL updateParticipant', () => {
  const mutation = `mutation($id: ID!, $v: Int!, $input: UpdateParticipantInput!) {
    updateParticipant(id: $id, expectedVersion: $v, input: $input) { sex diagnoses version identity { birthYear } }
  }`;

  it('updates at the expected version and refuses a stale one with VERSION_CONFLICT', async () => {
    const p = await participant();
    const done = await gql<{
      updateParticipant: { sex: string; version: number; identity: { birthYear: number } };
    }>(mutation, { id: p.id, v: p.version, input: { sex: 'other', birthYear: 1988 } });
    expect(done.errors).toBeUndefined();
    expect(done.data!.updateParticipant).toMatchObject({
      sex: 'other',
      version: p.version + 1,
      identity: { birthYear: 1988 },
    });
    const stale = await gql(mutation, { id: p.id, v: p.version, input: { sex: 'male' } });
    expect(stale.errors?.[0]?.extensions.code).toBe('VERSION_CONFLICT');
  });
});
