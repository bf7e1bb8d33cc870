import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, fieldsOf, makeLab, uid, type Lab, type SpecimenBody } from './helpers/inventory.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { feedUpdates, putAs, traces as tracesOf } from './helpers/upsert.js';

// Upserts by the hospital's ids: an LIS sends what it knows, as often as it likes. The first call
// creates (201), a changed body updates (200, the changed fields only, through the ledger), the
// same body again changes nothing: no version, audit row, custody event or change-feed entry.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

const put = (url: string, payload: unknown, opts: { key?: string; headers?: Record<string, string> } = {}) =>
  putAs(t, opts.key ?? lab.keys.integration)(url, payload, opts.headers);
const traces = (table: 'specimen', id: string) => tracesOf(t, table, id);

const specimenUrl = (system: string, value: string) =>
  `/v1/specimens/by-external-id/${encodeURIComponent(system)}/${encodeURIComponent(value)}`;

describe('PUT /v1/specimens/by-external-id/{system}/{value}', () => {
  const accession = () => ({ system: 'LIS', value: uid('ACC') });
  const body = (extra: Record<string, unknown> = {}) => ({
    barcode: uid('S'),
    type: 'serum',
    quantity: 2,
    collectedAt: '2026-03-02T08:15:00Z',
    anatomicSite: 'antecubital vein',
    ...extra,
  });

  it('creates with 201, Location and ETag, holding the id of the path, audited as upsertSpecimen', async () => {
    const id = accession();
    const sent = body();
    const res = await put(specimenUrl(id.system, id.value), sent);
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json<SpecimenBody & { externalIds: unknown[]; anatomicSite: string }>();
    expect(res.headers.location).toBe(`/v1/specimens/${created.id}`);
    expect(res.headers.etag).toBe('W/"1"');
    expect(created).toMatchObject({ barcode: sent.barcode, version: 1, anatomicSite: 'antecubital vein' });
    expect(created.externalIds).toEqual([id]);
    const { rows } = await t.sql.query<{ action: string }>(
      'select action from audit_log where entity_id = $1::text',
      [created.id],
    );
    expect(rows).toEqual([{ action: 'upsertSpecimen' }]);
    expect(await traces('specimen', created.id)).toMatchObject({ custody: 1, feed: 1 });
  });

  it('changes nothing when the same body comes again: no version, audit row, custody event or feed entry', async () => {
    const id = accession();
    const sent = body({ externalIds: [id, { system: 'urn:oid:2.16.840.1.113883.3.1', value: uid('X') }] });
    const first = await put(specimenUrl(id.system, id.value), sent);
    expect(first.statusCode, first.body).toBe(201);
    const specimen = first.json<SpecimenBody>();
    const before = await traces('specimen', specimen.id);
    for (let i = 0; i < 3; i++) {
      const again = await put(specimenUrl(id.system, id.value), sent);
      expect(again.statusCode, again.body).toBe(200);
      expect(again.headers.etag).toBe('W/"1"');
      expect(again.headers.location).toBeUndefined();
      expect(again.json()).toEqual(first.json());
    }
    expect(await traces('specimen', specimen.id)).toEqual(before);
    expect(before).toEqual({ version: 1, audit: 1, custody: 1, feed: 1 });
  });

  it('updates only what changed, through the ledger: one version, one audit row, no custody event', async () => {
    const id = accession();
    const sent = body();
    const specimen = (await put(specimenUrl(id.system, id.value), sent)).json<SpecimenBody>();
    const before = await traces('specimen', specimen.id);
    const res = await put(specimenUrl(id.system, id.value), {
      ...sent,
      anatomicSite: 'radial artery',
      sprecCode: 'SER-A-N-A-A-A-A',
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers.etag).toBe('W/"2"');
    expect(res.json()).toMatchObject({ anatomicSite: 'radial artery', sprecVersion: '3.0', version: 2 });
    expect(await traces('specimen', specimen.id)).toEqual({
      version: 2,
      audit: before.audit + 1,
      custody: before.custody,
      feed: before.feed + 1,
    });
    const audit = await t.sql.query<{ action: string }>(
      'select action from audit_log where entity_id = $1::text order by id',
      [specimen.id],
    );
    expect(audit.rows.map((r) => r.action)).toEqual(['upsertSpecimen', 'upsertSpecimen']);
    expect(await feedUpdates(t, specimen.id)).toEqual([['anatomic_site', 'sprec_code', 'sprec_version']]);
  });

  it('keeps what the lab recorded when the body leaves it out, and never moves a tube back', async () => {
    const id = accession();
    const [first, second] = [await lab.box(), await lab.box()];
    const sent = body({ containerId: first.id, position: 'A1' });
    const created = (await put(specimenUrl(id.system, id.value), sent)).json<SpecimenBody>();
    expect(created.location).toMatchObject({ containerId: first.id, position: 'A1' });
    const moved = await lab.action(created.id, 'move', { containerId: second.id, position: 'B2' });
    const edited = await lab.call(
      'PATCH',
      `/v1/specimens/${created.id}`,
      { quality: { rin: 8.1 } },
      { headers: { 'if-match': `W/"${moved.version}"` } },
    );
    expect(edited.statusCode, edited.body).toBe(200);
    const before = await traces('specimen', created.id);
    const again = await put(specimenUrl(id.system, id.value), sent);
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toMatchObject({
      location: { containerId: second.id, position: 'B2' },
      quality: { rin: 8.1 },
      version: before.version,
    });
    expect(await traces('specimen', created.id)).toEqual(before);
  });

  it('adds the external ids the body lists and removes none, the id of the path included', async () => {
    const id = accession();
    const other = { system: 'urn:lis:ward-7', value: uid('W') };
    const sent = body();
    await put(specimenUrl(id.system, id.value), sent);
    const res = await put(specimenUrl(id.system, id.value), { ...sent, externalIds: [other] });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ externalIds: unknown[] }>().externalIds).toEqual([id, other]);
    const third = { system: 'urn:lis:ward-8', value: uid('W') };
    const more = await put(specimenUrl(id.system, id.value), { ...sent, externalIds: [third] });
    expect(more.json<{ externalIds: unknown[] }>().externalIds).toEqual([id, other, third]);
  });

  it('takes a URI system and a value with a slash, URL-encoded', async () => {
    const id = { system: 'http://lis.example.org/acc', value: `${uid('A')}/2 b` };
    const created = await put(specimenUrl(id.system, id.value), body());
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json<{ externalIds: unknown[] }>().externalIds).toEqual([id]);
    const again = await put(
      specimenUrl(id.system, id.value),
      body({ barcode: created.json<SpecimenBody>().barcode }),
    );
    expect(again.statusCode, again.body).toBe(200);
  });

  it('keeps an OID as its urn:oid: URI, so a bare OID and its URI (REST or FHIR) name one tube', async () => {
    const value = uid('OID');
    const created = await put(specimenUrl('2.16.840.1.113883', value), body());
    expect(created.statusCode, created.body).toBe(201);
    const tube = created.json<SpecimenBody & { externalIds: unknown[] }>();
    expect(tube.externalIds).toEqual([{ system: 'urn:oid:2.16.840.1.113883', value }]);
    const again = await put(specimenUrl('URN:OID:2.16.840.1.113883', value), body({ barcode: tube.barcode }));
    expect(again.statusCode, again.body).toBe(200);
    const viaFhir = await t.app.inject({
      method: 'GET',
      url: `/fhir/R4/Specimen?identifier=${encodeURIComponent(`urn:oid:2.16.840.1.113883|${value}`)}`,
      headers: { authorization: `Bearer ${lab.keys.integration}` },
    });
    const bundle = viaFhir.json<{
      entry?: { resource: { id: string; identifier: { system: string }[] } }[];
    }>();
    expect(bundle.entry?.map((e) => e.resource.id)).toEqual([tube.id]);
    expect(bundle.entry![0]!.resource.identifier.map((i) => i.system)).toContain('urn:oid:2.16.840.1.113883');
  });

  it('refuses another type, barcode or quantity with 409 IMMUTABLE_FIELD naming each, changing nothing', async () => {
    const id = accession();
    const sent = body();
    const created = (await put(specimenUrl(id.system, id.value), sent)).json<SpecimenBody>();
    const before = await traces('specimen', created.id);
    const res = await put(specimenUrl(id.system, id.value), {
      ...sent,
      type: 'plasma',
      barcode: uid('S'),
      quantity: 3,
      anatomicSite: 'elsewhere',
    });
    const problem = expectProblem(res, 409, 'IMMUTABLE_FIELD');
    expect(fieldsOf(problem)).toEqual(['barcode', 'type', 'quantity']);
    expect(problem.detail).toContain(created.barcode);
    expect(await traces('specimen', created.id)).toEqual(before);
  });

  it('refuses, on update as on create, a time it changes to more than a day ahead (TIME_IN_FUTURE), changing nothing', async () => {
    const id = accession();
    const sent = body({ collectedAt: '2026-03-02T08:15:00Z' });
    const created = (await put(specimenUrl(id.system, id.value), sent)).json<SpecimenBody>();
    const before = await traces('specimen', created.id);
    for (const field of ['collectedAt', 'receivedAt', 'frozenAt'])
      expectProblem(
        await put(specimenUrl(id.system, id.value), { ...sent, [field]: '2035-03-02T08:15:00Z' }),
        400,
        'TIME_IN_FUTURE',
      );
    expect(await traces('specimen', created.id)).toEqual(before);
    const past = await put(specimenUrl(id.system, id.value), { ...sent, receivedAt: '2026-03-02T09:00:00Z' });
    expect(past.statusCode, past.body).toBe(200);
  });

  it('honours If-Match: current applies, stale is 412 VERSION_CONFLICT, stale but already applied is 200', async () => {
    const id = accession();
    const sent = body();
    const created = (await put(specimenUrl(id.system, id.value), sent)).json<SpecimenBody>();
    const url = specimenUrl(id.system, id.value);
    const changed = { ...sent, anatomicSite: 'radial artery' };
    const ok = await put(url, changed, { headers: { 'if-match': 'W/"1"' } });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.headers.etag).toBe('W/"2"');
    const before = await traces('specimen', created.id);
    const stale = await put(url, { ...sent, anatomicSite: 'third' }, { headers: { 'if-match': 'W/"1"' } });
    expect(expectProblem(stale, 412, 'VERSION_CONFLICT')).toMatchObject({ currentVersion: 2 });
    // The retry of a call whose answer was lost: the tube already is as asked.
    const retried = await put(url, changed, { headers: { 'if-match': 'W/"1"' } });
    expect(retried.statusCode, retried.body).toBe(200);
    expect(retried.headers.etag).toBe('W/"2"');
    expectProblem(await put(url, changed, { headers: { 'if-match': 'nonsense' } }), 412, 'VERSION_MISMATCH');
    expect(await traces('specimen', created.id)).toEqual(before);
  });

  it('answers If-Match on an id nothing holds yet with 412 NO_CURRENT_VERSION, creating nothing', async () => {
    const id = accession();
    const before = await lab.counts();
    const res = await put(specimenUrl(id.system, id.value), body(), { headers: { 'if-match': 'W/"1"' } });
    expectProblem(res, 412, 'NO_CURRENT_VERSION');
    expect(await lab.counts()).toEqual(before);
  });

  it('creates one specimen when several PUTs of a new id race; the others answer 200', async () => {
    const id = accession();
    const sent = body();
    const answers = await Promise.all([0, 1, 2, 3].map(() => put(specimenUrl(id.system, id.value), sent)));
    expect(answers.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 201]);
    const ids = new Set(answers.map((r) => r.json<SpecimenBody>().id));
    expect(ids.size).toBe(1);
    const { rows } = await t.sql.query<{ id: string }>(
      'select id from specimen where institution_id = $1 and barcode = $2',
      [lab.institution.id, sent.barcode],
    );
    expect(rows).toHaveLength(1);
    expect(await traces('specimen', rows[0]!.id)).toMatchObject({ version: 1, audit: 1, custody: 1 });
  });

  it('refuses a system of unknown syntax with 400 naming the field, changing nothing', async () => {
    const before = await lab.counts();
    const bad = await put(specimenUrl('not a system', uid('A')), body());
    expect(fieldsOf(expectProblem(bad, 400, 'VALIDATION_FAILED'))).toEqual(['params.system']);
    const inBody = await put(
      specimenUrl('LIS', uid('A')),
      body({ externalIds: [{ system: '42', value: 'x' }] }),
    );
    expect(fieldsOf(expectProblem(inBody, 400, 'VALIDATION_FAILED'))).toEqual(['body.externalIds.0.system']);
    // A pair listed twice is refused, not stored twice.
    const twice = { system: 'X', value: uid('X') };
    const repeated = await put(specimenUrl('LIS', uid('A')), body({ externalIds: [twice, { ...twice }] }));
    expect(fieldsOf(expectProblem(repeated, 400, 'VALIDATION_FAILED'))).toEqual(['body.externalIds.1']);
    expect(await lab.counts()).toEqual(before);
  });

  it('refuses a barcode another tube holds with 409 BARCODE_TAKEN; the same id in another institution is another tube', async () => {
    const holder = await lab.register();
    const id = accession();
    expectProblem(
      await put(specimenUrl(id.system, id.value), body({ barcode: holder.barcode })),
      409,
      'BARCODE_TAKEN',
    );
    // The same LIS id in another institution is another tube: this one creates its own.
    await put(specimenUrl(id.system, id.value), body());
    const other = await makeLab(t);
    const theirs = await put(specimenUrl(id.system, id.value), body(), { key: other.keys.integration });
    expect(theirs.statusCode, theirs.body).toBe(201);
  });

  it('lets a partner key do nothing (403)', async () => {
    const id = accession();
    expectProblem(
      await put(specimenUrl(id.system, id.value), body(), { key: lab.keys.partner }),
      403,
      'FORBIDDEN',
    );
  });
});
