import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FhirSpecimen } from '../src/modules/fhir/index.js';
import {
  BARCODE_SYSTEM,
  donor,
  expectOutcome,
  fhir,
  LIS,
  lisSpecimen,
  OUR_TYPES,
  writes,
} from './helpers/fhir.js';
import { custodyRows, makeLab, uid, type Lab } from './helpers/inventory.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// PUT /fhir/R4/Specimen?identifier=system|value (conditional update) and PUT /fhir/R4/Specimen/{id}:
// an LIS sends its specimens as FHIR; they go through the same specimen services as REST, so the
// same rules, custody events and audit rows. Sending the same resource again changes nothing.

let t: TestApp;
let lab: Lab;
let other: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  other = await makeLab(t);
});
afterAll(() => t.close());

type Sent = ReturnType<typeof lisSpecimen>;
const accession = (s: Sent) => s.accessionIdentifier;
const byAccession = (s: Sent) =>
  `/Specimen?identifier=${encodeURIComponent(`${accession(s).system}|${accession(s).value}`)}`;
const put = (url: string, body: unknown, opts: { as?: Lab; headers?: Record<string, string> } = {}) =>
  fhir<FhirSpecimen>(t, opts.as ?? lab, 'PUT', url, {
    body,
    ...(opts.headers ? { headers: opts.headers } : {}),
  });

async function auditActions(specimenId: string) {
  const { rows } = await t.sql.query<{ action: string }>(
    'select action from audit_log where entity_id = $1 order by id',
    [specimenId],
  );
  return rows.map((r) => r.action);
}

describe('conditional update', () => {
  it('creates the specimen (201, Location, ETag) through upsertSpecimen, with its custody and audit', async () => {
    const sent = lisSpecimen();
    const a = await put(byAccession(sent), sent);
    expect(a.status).toBe(201);
    const s = a.body;
    expect(a.res.headers.etag).toBe('W/"1"');
    expect(a.res.headers.location).toBe(`http://localhost:80/fhir/R4/Specimen/${s.id}/_history/1`);
    expect(s.accessionIdentifier).toEqual(accession(sent));
    expect(s.identifier).toContainEqual(sent.identifier[0]);
    expect(s.type.coding[0]).toMatchObject({ system: OUR_TYPES, code: 'serum' });
    expect(s.collection.collectedDateTime).toBe('2026-03-04T05:45:00.000Z');
    expect(s.collection.quantity.value).toBe(2.5);
    expect(s.status).toBe('unavailable'); // registered ahead of arrival: pending
    expect(await auditActions(s.id)).toEqual(['upsertSpecimen']);
    expect((await custodyRows(t, s.id)).map((e) => e.type)).toEqual(['collected']);
  });

  it('twice is one specimen, and the same resource again writes nothing: no version, audit row or event', async () => {
    const sent = lisSpecimen();
    const first = await put(byAccession(sent), sent);
    expect(first.status).toBe(201);
    const before = await writes(t, lab);
    const again = await put(byAccession(sent), sent);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.meta.versionId).toBe('1');
    expect(again.res.headers.etag).toBe('W/"1"');
    expect(await writes(t, lab)).toEqual(before);
    // What a GET answers, sent back unchanged, changes nothing either.
    const read = await fhir<FhirSpecimen>(t, lab, 'GET', `/Specimen/${first.body.id}`);
    expect((await put(byAccession(sent), read.body)).body.meta.versionId).toBe('1');
    expect((await put(`/Specimen/${first.body.id}`, read.body)).body.meta.versionId).toBe('1');
    expect(await writes(t, lab)).toEqual(before);
  });

  it('updates what changed through upsertSpecimen: one new version, no custody event', async () => {
    const sent = lisSpecimen();
    const created = (await put(byAccession(sent), sent)).body;
    const changed = {
      ...sent,
      identifier: [...sent.identifier, { system: 'https://lis.example/order', value: 'ORD-7' }],
      collection: {
        ...sent.collection,
        collectedDateTime: '2026-03-04T07:00:00Z',
        bodySite: { text: 'right arm' },
      },
      receivedTime: '2026-03-04T09:00:00Z',
      processing: [
        {
          procedure: { coding: [{ system: 'http://snomed.info/sct', code: '9265001' }] },
          timeDateTime: '2026-03-04T09:30:00Z',
          extension: [
            {
              url: 'https://biobank.dev/fhir/StructureDefinition/sprec',
              valueCoding: { system: 'https://doi.org/10.1089/bio.2017.0109', code: 'SER-SST-A-B-C-D-E' },
            },
          ],
        },
      ],
    };
    const a = await put(byAccession(sent), changed);
    expect(a.status).toBe(200);
    expect(a.body.meta.versionId).toBe('2');
    expect(a.res.headers.etag).toBe('W/"2"');
    expect(a.body.collection.collectedDateTime).toBe('2026-03-04T07:00:00.000Z');
    expect(a.body.collection.bodySite).toEqual({ text: 'right arm' });
    expect(a.body.receivedTime).toBe('2026-03-04T09:00:00.000Z');
    expect(a.body.processing?.[0]?.extension?.[0]?.valueCoding?.code).toBe('SER-SST-A-B-C-D-E');
    expect(a.body.identifier).toContainEqual({ system: 'https://lis.example/order', value: 'ORD-7' });
    expect(a.body.accessionIdentifier).toEqual(accession(sent));
    expect(await auditActions(created.id)).toEqual(['upsertSpecimen', 'upsertSpecimen']);
    expect((await custodyRows(t, created.id)).map((e) => e.type)).toEqual(['collected']);
    // An element left out keeps its value; external ids are added, never removed.
    const lean = await put(byAccession(sent), { resourceType: 'Specimen' });
    expect(lean.body.meta.versionId).toBe('2');
    expect(lean.body.identifier).toContainEqual({ system: 'https://lis.example/order', value: 'ORD-7' });
  });

  it('honours If-Match: the current version passes, a stale one is 412 and changes nothing, none yet is 412 NO_CURRENT_VERSION', async () => {
    const sent = lisSpecimen();
    await put(byAccession(sent), sent);
    const newer = { ...sent, receivedTime: '2026-03-05T10:00:00Z' };
    const ok = await put(byAccession(sent), newer, { headers: { 'if-match': 'W/"1"' } });
    expect(ok.body.meta.versionId).toBe('2');
    const before = await writes(t, lab);
    const stale = await put(
      byAccession(sent),
      { ...sent, receivedTime: '2026-03-06T10:00:00Z' },
      {
        headers: { 'if-match': 'W/"1"' },
      },
    );
    expect(expectOutcome(stale, 412, 'VERSION_CONFLICT').issue[0]!.code).toBe('conflict');
    expectOutcome(
      await put(byAccession(sent), sent, { headers: { 'if-match': 'nonsense' } }),
      412,
      'VERSION_MISMATCH',
    );
    const fresh = lisSpecimen();
    expectOutcome(
      await put(byAccession(fresh), fresh, { headers: { 'if-match': 'W/"1"' } }),
      412,
      'NO_CURRENT_VERSION',
    );
    expect(await writes(t, lab)).toEqual(before);
  });

  it('refers to the donor as Patient/<participant id> and refuses an unknown one with 422', async () => {
    const d = await donor(lab);
    const sent = lisSpecimen({ subject: { reference: `Patient/${d.participantId}` } });
    const a = await put(byAccession(sent), sent);
    expect(a.status).toBe(201);
    expect(a.body.subject).toEqual({ reference: `Patient/${d.participantId}` });
    expect(a.res.body).not.toContain(d.mrn);
    const unknown = lisSpecimen({ subject: { reference: 'Patient/01900000-0000-7000-8000-000000000000' } });
    const o = expectOutcome(await put(byAccession(unknown), unknown), 422, 'PARTICIPANT_NOT_FOUND');
    expect(o.issue[0]!.expression).toEqual(['Specimen.subject']);
  });

  it('refuses to change an element fixed at registration with 422 IMMUTABLE_FIELD, changing nothing', async () => {
    const sent = lisSpecimen();
    const created = (await put(byAccession(sent), sent)).body;
    const before = await writes(t, lab);
    const urine = { ...sent, type: { coding: [{ system: OUR_TYPES, code: 'urine' }] } };
    const o = expectOutcome(await put(byAccession(sent), urine), 422, 'IMMUTABLE_FIELD');
    expect(o.issue[0]).toMatchObject({ code: 'business-rule', expression: ['Specimen.type'] });
    const more = { ...sent, collection: { ...sent.collection, quantity: { value: 9, code: 'mL' } } };
    expectOutcome(await put(byAccession(sent), more), 422, 'IMMUTABLE_FIELD');
    const barcode = { ...sent, identifier: [{ system: BARCODE_SYSTEM, value: uid('OTHER') }] };
    expectOutcome(await put(byAccession(sent), barcode), 422, 'IMMUTABLE_FIELD');
    const parent = { ...sent, parent: [{ reference: `Specimen/${created.id}` }] };
    expectOutcome(await put(byAccession(sent), parent), 422, 'IMMUTABLE_FIELD');
    expect(await writes(t, lab)).toEqual(before);
  });

  it('refuses a NUL in a search parameter or the resource with a 400 OperationOutcome, writing nothing', async () => {
    const before = await writes(t, lab);
    const sent = lisSpecimen();
    const nulIdentifier = `/Specimen?identifier=${encodeURIComponent(`${LIS}|A\u0000B`)}`;
    expectOutcome(await put(nulIdentifier, sent), 400, 'VALIDATION_FAILED');
    const nulSite = { ...sent, collection: { ...sent.collection, bodySite: { text: 'a\u0000b' } } };
    expectOutcome(await put(byAccession(sent), nulSite), 400, 'VALIDATION_FAILED');
    expectOutcome(
      await fhir(t, lab, 'GET', `/Specimen?identifier=${encodeURIComponent(`${BARCODE_SYSTEM}|A\u0000B`)}`),
      400,
      'VALIDATION_FAILED',
    );
    expect(await writes(t, lab)).toEqual(before);
  });

  it('answers 409 for an identifier or barcode another tube holds', async () => {
    const a = lisSpecimen();
    await put(byAccession(a), a);
    const b = lisSpecimen({ identifier: a.identifier });
    expectOutcome(await put(byAccession(b), b), 409, 'BARCODE_TAKEN');
    const c = lisSpecimen();
    const cWithA = { ...c, identifier: [...c.identifier, a.accessionIdentifier] };
    expect(expectOutcome(await put(byAccession(c), cWithA), 409, 'EXTERNAL_ID_TAKEN').issue[0]!.code).toBe(
      'duplicate',
    );
  });

  it('creates one specimen when two requests send the same new identifier at once', async () => {
    const sent = lisSpecimen();
    const answers = await Promise.all([put(byAccession(sent), sent), put(byAccession(sent), sent)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 201]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.map((a) => a.body.meta.versionId)).toEqual(['1', '1']);
  });

  it('keeps institutions apart: the same LIS id elsewhere is another tube, another’s id is 404', async () => {
    const sent = lisSpecimen();
    const mine = (await put(byAccession(sent), sent)).body;
    const theirs = await put(byAccession(sent), sent, { as: other });
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(mine.id);
    expectOutcome(
      await put(`/Specimen/${mine.id}`, { ...sent, id: mine.id }, { as: other }),
      404,
      'SPECIMEN_NOT_FOUND',
    );
  });
});

describe('a malformed or incomplete resource is a 400 OperationOutcome and changes nothing', () => {
  const target = `/Specimen?identifier=${encodeURIComponent(`${LIS}|BAD-1`)}`;
  const cases: [string, unknown, string][] = [
    ['the wrong resourceType', { ...lisSpecimen(), resourceType: 'Patient' }, 'resourceType'],
    ['no type', { ...lisSpecimen(), type: undefined }, 'Specimen.type'],
    ['no collected quantity', { ...lisSpecimen(), collection: {} }, 'Specimen.collection.quantity'],
    ['no barcode identifier', { ...lisSpecimen(), identifier: [] }, 'Specimen.identifier'],
    [
      'an identifier whose system is no URI',
      { ...lisSpecimen(), identifier: [{ system: 'a b', value: 'x' }] },
      'Specimen.identifier[0].system',
    ],
    [
      'an identifier without a value',
      { ...lisSpecimen(), identifier: [{ system: LIS }] },
      'Specimen.identifier[0].value',
    ],
    [
      'a type code no type of ours has',
      { ...lisSpecimen(), type: { coding: [{ system: OUR_TYPES, code: 'blood' }] } },
      'Specimen.type',
    ],
    [
      'an ambiguous type code',
      {
        ...lisSpecimen(),
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0487', code: 'TISS' }] },
      },
      'Specimen.type',
    ],
    [
      'a unit not ours',
      { ...lisSpecimen(), collection: { quantity: { value: 1, code: 'kg' } } },
      'Specimen.collection.quantity',
    ],
    [
      'a negative quantity',
      { ...lisSpecimen(), collection: { quantity: { value: -1, code: 'mL' } } },
      'Specimen.collection.quantity',
    ],
    [
      'a date-time without time zone',
      { ...lisSpecimen(), receivedTime: '2026-03-04T10:00:00' },
      'Specimen.receivedTime',
    ],
    [
      'a misspelt element (stored nowhere otherwise)',
      {
        ...lisSpecimen(),
        collection: { ...lisSpecimen().collection, collectedDatetime: '2026-03-04T06:45:00+01:00' },
      },
      'Specimen.collection.collectedDatetime',
    ],
    ['an element R4 does not define', { ...lisSpecimen(), collecton: {} }, 'Specimen.collecton'],
    [
      'a modifier extension (none is understood here)',
      {
        ...lisSpecimen(),
        modifierExtension: [{ url: 'https://lis.example/not-for-use', valueBoolean: true }],
      },
      'Specimen.modifierExtension',
    ],
    [
      'a modifier extension on the collection',
      {
        ...lisSpecimen(),
        collection: { ...lisSpecimen().collection, modifierExtension: [{ url: 'https://lis.example/x' }] },
      },
      'Specimen.collection.modifierExtension',
    ],
    [
      'a body site sent as a bare code (its system would be lost)',
      {
        ...lisSpecimen(),
        collection: {
          ...lisSpecimen().collection,
          bodySite: { coding: [{ system: 'http://snomed.info/sct', code: '368208006' }] },
        },
      },
      'Specimen.collection.bodySite.text',
    ],
    [
      'a quantity in a unit system other than UCUM',
      {
        ...lisSpecimen(),
        collection: { quantity: { value: 1, code: 'mL', system: 'http://unitsofmeasure.org/' } },
      },
      'Specimen.collection.quantity.system',
    ],
    [
      'a subject that is no Patient reference',
      { ...lisSpecimen(), subject: { reference: 'Group/1' } },
      'Specimen.subject',
    ],
    ['an id for a specimen that does not exist', { ...lisSpecimen(), id: 'x1' }, 'Specimen.id'],
    ['a JSON array', [], 'Specimen'],
  ];
  for (const [what, body, element] of cases)
    it(`refuses ${what}`, async () => {
      const before = await writes(t, lab);
      const o = expectOutcome(await put(target, body), 400, 'VALIDATION_FAILED');
      expect(o.issue.flatMap((i) => i.expression ?? [])).toContain(element);
      expect(await writes(t, lab)).toEqual(before);
    });

  it('refuses a conditional update without a usable identifier', async () => {
    const sent = lisSpecimen();
    for (const query of [
      '',
      '?identifier=ACC-1',
      '?identifier=a%7Cb&type=serum',
      '?identifier=not%20a%20uri%7Cx',
    ])
      expectOutcome(await put(`/Specimen${query}`, sent), 400, 'VALIDATION_FAILED');
  });

  it('refuses bodies that are not JSON: malformed (400), empty (400), text (415)', async () => {
    expectOutcome(await fhir(t, lab, 'PUT', target, { raw: '{"resourceType":' }), 400, 'MALFORMED_JSON');
    expectOutcome(await fhir(t, lab, 'PUT', target), 400, 'VALIDATION_FAILED');
    expectOutcome(
      await fhir(t, lab, 'PUT', target, { raw: 'hello', headers: { 'content-type': 'text/plain' } }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('accepts application/json as well as application/fhir+json', async () => {
    const sent = lisSpecimen();
    const a = await fhir(t, lab, 'PUT', byAccession(sent), {
      raw: JSON.stringify(sent),
      headers: { 'content-type': 'application/json' },
    });
    expect(a.status).toBe(201);
  });
});

describe('PUT /fhir/R4/Specimen/{id}', () => {
  it('updates an existing specimen and answers 404 for one that does not exist (no create by id)', async () => {
    const tube = await lab.register({ type: 'serum', quantity: 1 });
    const a = await put(`/Specimen/${tube.id}`, {
      resourceType: 'Specimen',
      id: tube.id,
      receivedTime: '2026-01-01T00:00:00Z',
    });
    expect(a.status).toBe(200);
    expect(a.body.meta.versionId).toBe(String(tube.version + 1));
    const unknown = '01900000-0000-7000-8000-000000000000';
    expectOutcome(
      await put(`/Specimen/${unknown}`, { ...lisSpecimen(), id: unknown }),
      404,
      'SPECIMEN_NOT_FOUND',
    );
    const wrongId = { resourceType: 'Specimen', id: unknown };
    expectOutcome(await put(`/Specimen/${tube.id}`, wrongId), 400, 'VALIDATION_FAILED');
    // An update by id carries that id (FHIR R4 http.html#update), and changes nothing without it.
    const noId = await put(`/Specimen/${tube.id}`, {
      resourceType: 'Specimen',
      receivedTime: '2026-01-02T00:00:00Z',
    });
    expect(expectOutcome(noId, 400, 'VALIDATION_FAILED').issue[0]!.expression).toEqual(['Specimen.id']);
    // An upper-case id names the same specimen, in the URL and in the resource.
    const upper = tube.id.toUpperCase();
    const cased = await put(`/Specimen/${upper}`, {
      resourceType: 'Specimen',
      id: upper,
      receivedTime: '2026-01-03T00:00:00Z',
    });
    expect(cased.status, cased.res.body).toBe(200);
    expect((cased.body as { id: string }).id).toBe(tube.id);
  });

  it('needs a role that may write specimens', async () => {
    const tube = await lab.register({ type: 'serum', quantity: 1 });
    const a = await fhir(t, lab, 'PUT', `/Specimen/${tube.id}`, {
      body: { resourceType: 'Specimen' },
      role: 'partner',
    });
    const outcome = expectOutcome(a, 403, 'FORBIDDEN');
    // It names the write the role may not do, not a read.
    expect(JSON.stringify(outcome)).toContain('specimens.update');
  });
});
