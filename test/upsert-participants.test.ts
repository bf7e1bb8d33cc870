import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlRequests } from './helpers/graphql.js';
import { expectProblem, fieldsOf, makeLab, uid, type Lab } from './helpers/inventory.js';
import { bearer, createTestApp, type TestApp } from './helpers/test-app.js';
import { feedUpdates, putAs, traces } from './helpers/upsert.js';

// Upserts of protocols (by code) and participants (by the LIS patient id, kept only as a keyed
// hash), and the GraphQL mutations doing the same through the same services: the first call
// creates, a changed body updates, the same body again changes nothing.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

// Protocols are managed by managers and admins; an LIS integration key upserts participants.
const put = (url: string, payload: unknown, headers?: Record<string, string>) =>
  putAs(t, url.includes('/participants/') ? lab.keys.integration : lab.keys.manager)(url, payload, headers);
const { ok, refusal } = graphqlRequests(
  () => t,
  () => lab.keys.integration,
);

interface ProtocolBody {
  id: string;
  code: string;
  title: string;
  consentTiers: string[];
  version: number;
}
interface ParticipantBody {
  id: string;
  sex: string;
  diagnoses: string[];
  identity: {
    protocolParticipantId: string;
    birthYear: number | null;
    hasMrn: boolean;
    hasLisPatientId: boolean;
  };
  version: number;
}

const protocolBody = () => ({
  title: 'LIS cohort',
  ethicsApprovalRef: 'EC-2026-7',
  consentTiers: ['GENETIC_RESEARCH', 'RECONTACT'],
});

async function protocol(): Promise<ProtocolBody> {
  const code = uid('P');
  const res = await put(`/v1/protocols/by-code/${code}`, protocolBody());
  expect(res.statusCode, res.body).toBe(201);
  return res.json<ProtocolBody>();
}

describe('PUT /v1/protocols/by-code/{code}', () => {
  it('creates with 201, Location and ETag, then the same body changes nothing', async () => {
    const code = uid('P');
    const created = await put(`/v1/protocols/by-code/${code}`, protocolBody());
    expect(created.statusCode, created.body).toBe(201);
    const p = created.json<ProtocolBody>();
    expect(created.headers.location).toBe(`/v1/protocols/${p.id}`);
    expect(created.headers.etag).toBe('W/"1"');
    expect(p).toMatchObject({ code, consentTiers: ['GENETIC_RESEARCH', 'RECONTACT'], version: 1 });
    const before = await traces(t, 'collection_protocol', p.id);
    // The body may name its code, and list the tiers in another order.
    const again = await put(`/v1/protocols/by-code/${code}`, {
      ...protocolBody(),
      code,
      consentTiers: ['RECONTACT', 'GENETIC_RESEARCH'],
    });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toEqual(p);
    expect(await traces(t, 'collection_protocol', p.id)).toEqual(before);
    expect(before).toMatchObject({ version: 1, audit: 1 });
  });

  it('updates the title, keeps the tiers when left out, and refuses other tiers with 409 IMMUTABLE_FIELD', async () => {
    const p = await protocol();
    const url = `/v1/protocols/by-code/${p.code}`;
    const res = await put(url, { title: 'Renamed', ethicsApprovalRef: 'EC-2026-7' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      title: 'Renamed',
      consentTiers: ['GENETIC_RESEARCH', 'RECONTACT'],
      version: 2,
    });
    expect(res.headers.etag).toBe('W/"2"');
    const { rows } = await t.sql.query<{ action: string }>(
      'select action from audit_log where entity_id = $1 order by id',
      [p.id],
    );
    expect(rows.map((r) => r.action)).toEqual(['upsertProtocol', 'upsertProtocol']);
    const before = await traces(t, 'collection_protocol', p.id);
    const tiers = await put(url, { ...protocolBody(), title: 'Renamed', consentTiers: ['GENETIC_RESEARCH'] });
    expect(fieldsOf(expectProblem(tiers, 409, 'IMMUTABLE_FIELD'))).toEqual(['consentTiers']);
    expect(await traces(t, 'collection_protocol', p.id)).toEqual(before);
  });

  it('refuses a body code other than the path’s with 400, a stale If-Match with 412, and races create one', async () => {
    const p = await protocol();
    const url = `/v1/protocols/by-code/${p.code}`;
    const other = await put(url, { ...protocolBody(), code: uid('Q') });
    expect(fieldsOf(expectProblem(other, 400, 'VALIDATION_FAILED'))).toEqual(['code']);
    expectProblem(
      await put(url, { ...protocolBody(), title: 'x' }, { 'if-match': 'W/"7"' }),
      412,
      'VERSION_CONFLICT',
    );
    expectProblem(
      await put(`/v1/protocols/by-code/${uid('N')}`, protocolBody(), { 'if-match': 'W/"1"' }),
      412,
      'NO_CURRENT_VERSION',
    );
    const code = uid('R');
    const answers = await Promise.all(
      [0, 1, 2].map(() => put(`/v1/protocols/by-code/${code}`, protocolBody())),
    );
    expect(answers.map((r) => r.statusCode).sort()).toEqual([200, 200, 201]);
    const { rowCount } = await t.sql.query('select 1 from collection_protocol where code = $1', [code]);
    expect(rowCount).toBe(1);
  });

  it('refuses a code that differs from an existing one only in case, by PUT, POST and in a race', async () => {
    const p = await protocol();
    const lower = p.code.toLowerCase();
    const put409 = expectProblem(
      await put(`/v1/protocols/by-code/${lower}`, protocolBody()),
      409,
      'PROTOCOL_CODE_TAKEN',
    );
    expect(put409.detail).toContain(`use ${p.code}`);
    const post = await t.app.inject({
      method: 'POST',
      url: '/v1/protocols',
      headers: bearer(lab.keys.manager),
      payload: { ...protocolBody(), code: lower },
    });
    expectProblem(post, 409, 'PROTOCOL_CODE_TAKEN');
    // Two spellings of a new code at once: one protocol.
    const code = uid('C');
    const answers = await Promise.all(
      [code, code.toLowerCase()].map((c) => put(`/v1/protocols/by-code/${c}`, protocolBody())),
    );
    expect(answers.map((r) => r.statusCode).sort()).toEqual([201, 409]);
    const { rowCount } = await t.sql.query(
      'select 1 from collection_protocol where lower(code) = lower($1)',
      [code],
    );
    expect(rowCount).toBe(1);
  });
});

describe('PUT /v1/protocols/by-code/{code}/participants/by-lis-patient-id', () => {
  const url = (p: ProtocolBody) => `/v1/protocols/by-code/${p.code}/participants/by-lis-patient-id`;
  const donor = (extra: Record<string, unknown> = {}) => ({
    lisPatientId: uid('PAT'),
    protocolParticipantId: uid('D'),
    sex: 'female',
    birthYear: 1971,
    diagnoses: ['C50.9'],
    mrn: uid('MRN'),
    ...extra,
  });

  it('creates with 201 and keeps the LIS patient id only as a keyed hash, out of URLs and logs', async () => {
    const p = await protocol();
    const sent = donor();
    const res = await put(url(p), sent);
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json<ParticipantBody>();
    expect(res.headers.location).toBe(`/v1/participants/${created.id}`);
    expect(res.headers.etag).toBe('W/"1"');
    expect(created.identity).toEqual({
      protocolParticipantId: sent.protocolParticipantId,
      birthYear: 1971,
      hasMrn: true,
      hasLisPatientId: true,
    });
    const { rows } = await t.sql.query<{ row: string; hash: string }>(
      'select to_jsonb(p)::text as row, lis_patient_id_hash as hash from participant p where id = $1',
      [created.id],
    );
    expect(rows[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]!.row).not.toContain(sent.lisPatientId);
    expect(JSON.stringify(t.logs)).not.toContain(sent.lisPatientId);
    const audit = await t.sql.query<{ text: string }>(
      'select to_jsonb(a)::text as text from audit_log a where entity_id = $1',
      [created.id],
    );
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0]!.text).toContain('upsertParticipant');
    expect(audit.rows[0]!.text).not.toContain(sent.lisPatientId);
  });

  it('changes nothing for the same body (the id in any case), updates only what differs, keeps what is left out', async () => {
    const p = await protocol();
    const sent = donor();
    const created = (await put(url(p), sent)).json<ParticipantBody>();
    const before = await traces(t, 'participant', created.id);
    const again = await put(url(p), { ...sent, lisPatientId: sent.lisPatientId.toLowerCase() });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toEqual(created);
    expect(await traces(t, 'participant', created.id)).toEqual(before);
    expect(before).toMatchObject({ version: 1, audit: 1, feed: 1 });

    const { birthYear: _left, mrn: _out, ...rest } = sent;
    const changed = await put(url(p), { ...rest, sex: 'unknown', diagnoses: ['C50.9', 'D05.1'] });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({
      sex: 'unknown',
      diagnoses: ['C50.9', 'D05.1'],
      identity: { birthYear: 1971, hasMrn: true },
      version: 2,
    });
    expect(await traces(t, 'participant', created.id)).toMatchObject({ version: 2, audit: 2, feed: 2 });
    expect(await feedUpdates(t, created.id)).toEqual([['sex', 'diagnoses']]);

    // A diagnosis given twice (in any case) is refused, not stored twice.
    const twice = await put(url(p), { ...rest, diagnoses: ['C50.9', 'c50.9 '] });
    expect(twice.statusCode, twice.body).toBe(400);
    expect(twice.json<{ errors: { field: string }[] }>().errors.map((e) => e.field)).toEqual([
      'body.diagnoses.1',
    ]);
    expect(await traces(t, 'participant', created.id)).toMatchObject({ version: 2 });
  });

  it('honours If-Match, and creates one participant when PUTs of a new patient id race', async () => {
    const p = await protocol();
    const sent = donor();
    const answers = await Promise.all([0, 1, 2].map(() => put(url(p), sent)));
    expect(answers.map((r) => r.statusCode).sort()).toEqual([200, 200, 201]);
    const { rows } = await t.sql.query<{ id: string }>('select id from participant where protocol_id = $1', [
      p.id,
    ]);
    expect(rows).toHaveLength(1);
    const stale = await put(url(p), { ...sent, sex: 'male' }, { 'if-match': 'W/"0"' });
    expect(expectProblem(stale, 412, 'VERSION_CONFLICT')).toMatchObject({ currentVersion: 1 });
    const current = await put(url(p), { ...sent, sex: 'male' }, { 'if-match': 'W/"1"' });
    expect(current.statusCode, current.body).toBe(200);
    expect(current.headers.etag).toBe('W/"2"');
    expectProblem(await put(url(p), donor(), { 'if-match': 'W/"1"' }), 412, 'NO_CURRENT_VERSION');
    expect(await traces(t, 'participant', rows[0]!.id)).toMatchObject({ version: 2, audit: 2 });
  });

  it('answers an unknown protocol 404, a taken protocol participant id 409, a technician 403, changing nothing', async () => {
    const p = await protocol();
    const first = (await put(url(p), donor())).json<ParticipantBody>();
    const count = async () =>
      (await t.sql.query('select 1 from participant where institution_id = $1', [lab.institution.id]))
        .rowCount;
    const before = await count();
    expectProblem(
      await put(`/v1/protocols/by-code/${uid('NOPE')}/participants/by-lis-patient-id`, donor()),
      404,
      'PROTOCOL_NOT_FOUND',
    );
    const taken = await put(url(p), donor({ protocolParticipantId: first.identity.protocolParticipantId }));
    expectProblem(taken, 409, 'PARTICIPANT_EXISTS');
    const tech = await putAs(t, lab.keys.technician)(url(p), donor());
    expectProblem(tech, 403, 'FORBIDDEN');
    expect(await count()).toBe(before);
  });
});

describe('GraphQL upserts', () => {
  const SPECIMEN = 'created specimen { id barcode anatomicSite externalIds { system value } version }';

  it('upsertSpecimen answers as the REST PUT does, through the same service', async () => {
    const id = { system: 'urn:oid:1.2.840.99', value: uid('ACC') };
    const input = { barcode: uid('S'), type: 'serum', quantity: 1.5, anatomicSite: 'vein' };
    const mutation = `mutation ($s: String!, $v: String!, $i: RegisterSpecimenInput!, $e: Int) {
      upsertSpecimen(system: $s, value: $v, input: $i, expectedVersion: $e) { ${SPECIMEN} } }`;
    type Answer = { upsertSpecimen: { created: boolean; specimen: { id: string; version: number } } };
    const first = await ok<Answer>(mutation, { s: id.system, v: id.value, i: input });
    expect(first.upsertSpecimen).toMatchObject({
      created: true,
      specimen: { externalIds: [id], version: 1 },
    });
    const rest = await put(
      `/v1/specimens/by-external-id/${encodeURIComponent(id.system)}/${id.value}`,
      input,
    );
    expect(rest.statusCode, rest.body).toBe(200);
    expect(rest.json()).toMatchObject(first.upsertSpecimen.specimen);
    const again = await ok<Answer>(mutation, { s: id.system, v: id.value, i: input });
    expect(again.upsertSpecimen).toEqual({ ...first.upsertSpecimen, created: false });
    const specimenId = first.upsertSpecimen.specimen.id;
    expect(await traces(t, 'specimen', specimenId)).toMatchObject({ version: 1, audit: 1, custody: 1 });

    const changed = { ...input, anatomicSite: 'artery' };
    const stale = await refusal(mutation, { s: id.system, v: id.value, i: changed, e: 0 });
    expect(stale.extensions.code).toBe('VERSION_CONFLICT');
    const updated = await ok<Answer>(mutation, { s: id.system, v: id.value, i: changed, e: 1 });
    expect(updated.upsertSpecimen).toMatchObject({
      created: false,
      specimen: { anatomicSite: 'artery', version: 2 },
    });
    const bad = await refusal(mutation, { s: 'no such system', v: id.value, i: input });
    expect(bad.extensions).toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [expect.objectContaining({ field: 'system' })],
    });
    const fixed = await refusal(mutation, { s: id.system, v: id.value, i: { ...changed, type: 'plasma' } });
    expect(fixed.extensions).toMatchObject({
      code: 'IMMUTABLE_FIELD',
      errors: [expect.objectContaining({ field: 'type' })],
    });
    expect(await traces(t, 'specimen', specimenId)).toMatchObject({ version: 2, audit: 2, custody: 1 });
  });

  it('upsertProtocol and upsertParticipant answer as their REST PUTs do', async () => {
    const code = uid('GP');
    const protocolMutation = `mutation ($c: String!, $i: UpsertProtocolInput!) {
      upsertProtocol(code: $c, input: $i) { created protocol { id code title consentTiers version } } }`;
    type P = { upsertProtocol: { created: boolean; protocol: ProtocolBody } };
    const created = await ok<P>(protocolMutation, { c: code, i: protocolBody() }, lab.keys.manager);
    expect(created.upsertProtocol).toMatchObject({ created: true, protocol: { code, version: 1 } });
    const rest = await put(`/v1/protocols/by-code/${code}`, protocolBody());
    expect(rest.statusCode, rest.body).toBe(200);
    expect(rest.json()).toMatchObject(created.upsertProtocol.protocol);
    const again = await ok<P>(protocolMutation, { c: code, i: protocolBody() }, lab.keys.manager);
    expect(again.upsertProtocol).toEqual({ ...created.upsertProtocol, created: false });

    const participantMutation = `mutation ($c: String!, $i: UpsertParticipantInput!) {
      upsertParticipant(protocolCode: $c, input: $i) {
        created participant { id sex identity { protocolParticipantId hasMrn hasLisPatientId } version } } }`;
    type D = { upsertParticipant: { created: boolean; participant: { id: string; version: number } } };
    const input = { lisPatientId: uid('PAT'), protocolParticipantId: uid('D'), sex: 'male' };
    const donor = await ok<D>(participantMutation, { c: code, i: input });
    expect(donor.upsertParticipant).toMatchObject({
      created: true,
      participant: { identity: { hasMrn: false, hasLisPatientId: true }, version: 1 },
    });
    const viaRest = await put(`/v1/protocols/by-code/${code}/participants/by-lis-patient-id`, input);
    expect(viaRest.statusCode, viaRest.body).toBe(200);
    expect(viaRest.json<{ id: string; version: number }>()).toMatchObject({
      id: donor.upsertParticipant.participant.id,
      version: 1,
    });
    const unknown = await refusal(participantMutation, { c: uid('NOPE'), i: input });
    expect(unknown.extensions.code).toBe('PROTOCOL_NOT_FOUND');
  });
});
