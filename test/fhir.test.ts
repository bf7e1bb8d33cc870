import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FhirSpecimen } from '../src/modules/fhir/index.js';
import { BARCODE_SYSTEM, donor, expectOutcome, fhir, OUR_TYPES } from './helpers/fhir.js';
import { fhirSchemaErrors } from './helpers/fhir-schema.js';
import { makeLab, uid, type Lab } from './helpers/inventory.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// HL7 FHIR R4 under /fhir/R4: the CapabilityStatement, reading a specimen as a FHIR Specimen, and
// the refusals, all as FHIR resources that validate against the R4 JSON schema.

let t: TestApp;
let lab: Lab;
let other: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  other = await makeLab(t);
});
afterAll(() => t.close());

const ext = (s: { extension?: { url: string }[] }, name: string) =>
  s.extension?.find((e) => e.url === `https://biobank.dev/fhir/StructureDefinition/${name}`);

describe('GET /fhir/R4/metadata', () => {
  it('answers a CapabilityStatement without a key, listing Specimen read, vread, update and search', async () => {
    const a = await fhir<{
      kind: string;
      fhirVersion: string;
      rest: {
        resource: { type: string; interaction: { code: string }[]; searchParam: { name: string }[] }[];
      }[];
    }>(t, lab, 'GET', '/metadata', { role: null });
    expect(a.status).toBe(200);
    expect(a.body.fhirVersion).toBe('4.0.1');
    expect(a.body.kind).toBe('instance');
    const [resource, ...more] = a.body.rest[0]!.resource;
    expect(more).toEqual([]);
    expect(resource!.type).toBe('Specimen');
    expect(resource!.interaction.map((i) => i.code).sort()).toEqual([
      'read',
      'search-type',
      'update',
      'vread',
    ]);
    expect(resource!.searchParam.map((p) => p.name).sort()).toEqual(['_lastUpdated', 'identifier', 'type']);
  });

  it('refuses a format other than JSON with 400', async () => {
    const a = await fhir(t, lab, 'GET', '/metadata?_format=xml', { role: null });
    const o = expectOutcome(a, 400, 'VALIDATION_FAILED');
    expect(o.issue[0]!.expression).toEqual(['_format']);
    expect(
      (await fhir(t, lab, 'GET', '/metadata?_format=application/fhir%2Bjson', { role: null })).status,
    ).toBe(200);
  });

  it('answers 406 to a client that accepts no JSON, before authentication, and JSON to one that does', async () => {
    for (const accept of ['application/fhir+xml', 'application/xml, text/xml;q=0.9']) {
      const metadata = await fhir(t, lab, 'GET', '/metadata', { role: null, headers: { accept } });
      expectOutcome(metadata, 406, 'NOT_ACCEPTABLE');
      const search = await fhir(t, lab, 'GET', '/Specimen', { role: null, headers: { accept } });
      expectOutcome(search, 406, 'NOT_ACCEPTABLE');
    }
    for (const accept of ['application/fhir+xml;q=0.9, application/fhir+json', '*/*', 'application/json']) {
      const a = await fhir(t, lab, 'GET', '/metadata', { role: null, headers: { accept } });
      expect(a.status).toBe(200);
    }
  });
});

describe('GET /fhir/R4/Specimen/{id}', () => {
  it('maps a stored, processed tube of a donor: identifiers, type codings, subject, collection, SPREC, location', async () => {
    const d = await donor(lab);
    const box = await lab.box({ rows: 9, cols: 9 });
    const tube = await lab.register({
      type: 'plasma',
      participantId: d.participantId,
      anatomicSite: 'left arm',
      collectedAt: '2026-03-04T06:45:00+01:00',
      receivedAt: '2026-03-04T08:00:00Z',
      processedAt: '2026-03-04T08:30:00Z',
      frozenAt: '2026-03-04T09:00:00Z',
      sprecCode: 'PL1-SST-A-B-C-D-E',
      quantity: 4,
      externalIds: [
        { system: 'LIS', value: 'ACC-1' },
        { system: 'urn:oid:1.2.3', value: 'X 9' },
      ],
      containerId: box.id,
      position: 'B3',
    });
    const a = await fhir<FhirSpecimen>(t, lab, 'GET', `/Specimen/${tube.id}`);
    expect(a.status).toBe(200);
    expect(a.res.headers.etag).toBe(`W/"${tube.version}"`);
    expect(a.res.headers['last-modified']).toBeDefined();
    const s = a.body;
    expect(s.id).toBe(tube.id);
    expect(s.meta.versionId).toBe(String(tube.version));
    expect(s.identifier).toEqual([
      { use: 'official', system: 'urn:ietf:rfc:3986', value: `urn:uuid:${tube.id}` },
      { system: BARCODE_SYSTEM, value: tube.barcode },
      { system: 'https://biobank.dev/fhir/sid/external/LIS', value: 'ACC-1' },
      { system: 'urn:oid:1.2.3', value: 'X 9' },
    ]);
    expect(s.accessionIdentifier).toEqual({
      system: 'https://biobank.dev/fhir/sid/external/LIS',
      value: 'ACC-1',
    });
    expect(s.status).toBe('available');
    expect(s.type.coding).toEqual([
      { system: OUR_TYPES, code: 'plasma', display: 'Plasma (single-spun)' },
      { system: 'http://snomed.info/sct', code: '119361006', display: 'Plasma specimen' },
      { system: 'http://terminology.hl7.org/CodeSystem/v2-0487', code: 'PLAS' },
      { system: 'https://doi.org/10.1089/bio.2017.0109/type-of-sample', code: 'PL1' },
    ]);
    expect(s.subject).toEqual({ reference: `Patient/${d.participantId}` });
    expect(JSON.stringify(s)).not.toContain(d.mrn);
    expect(s.collection).toEqual({
      collectedDateTime: '2026-03-04T05:45:00.000Z',
      quantity: { value: 4, unit: 'mL', system: 'http://unitsofmeasure.org', code: 'mL' },
      bodySite: { text: 'left arm' },
    });
    expect(s.receivedTime).toBe('2026-03-04T08:00:00.000Z');
    expect(s.processing).toEqual([
      expect.objectContaining({
        procedure: {
          coding: [{ system: 'http://snomed.info/sct', code: '9265001', display: 'Specimen processing' }],
        },
        timeDateTime: '2026-03-04T08:30:00.000Z',
        extension: [
          {
            url: 'https://biobank.dev/fhir/StructureDefinition/sprec',
            valueCoding: {
              system: 'https://doi.org/10.1089/bio.2017.0109',
              version: '3.0',
              code: 'PL1-SST-A-B-C-D-E',
            },
          },
        ],
      }),
      {
        procedure: {
          coding: [{ system: 'http://snomed.info/sct', code: '27872000', display: 'Specimen freezing' }],
        },
        timeDateTime: '2026-03-04T09:00:00.000Z',
      },
    ]);
    expect(s.container[0]!.description).toBe(tube.location!.path);
    expect(s.container[0]!.description).toMatch(/ \/ B3$/);
    expect(s.container[0]!.specimenQuantity.value).toBe(4);
    expect(s.container[0]!.extension?.[0]?.extension).toEqual([
      { url: 'container', valueString: box.barcode },
      { url: 'position', valueString: 'B3' },
    ]);
    expect(ext(s, 'specimen-status')).toMatchObject({ valueCode: 'available' });
    expect(s.parent).toBeUndefined();
    expect(s.condition).toBeUndefined();
  });

  it('gives an aliquot its parent, and a held tube its condition, note and unsatisfactory status for QC', async () => {
    const parent = await lab.register({ type: 'serum', quantity: 5 });
    await lab.action(parent.id, 'receive');
    const res = await lab.post(`/v1/specimens/${parent.id}/aliquots`, { aliquots: [{ quantity: 1 }] });
    expect(res.statusCode, res.body).toBe(201);
    const aliquot = res.json<{ children: { id: string }[] }>().children[0]!;
    const a = await fhir<FhirSpecimen>(t, lab, 'GET', `/Specimen/${aliquot.id}`);
    expect(a.body.parent).toEqual([{ reference: `Specimen/${parent.id}` }]);

    await lab.action(parent.id, 'place-hold', { reason: 'QC_FAILED' }, 'manager');
    const held = (await fhir<FhirSpecimen>(t, lab, 'GET', `/Specimen/${parent.id}`)).body;
    expect(held.status).toBe('unsatisfactory');
    expect(held.condition).toEqual([
      {
        coding: [
          {
            system: 'https://biobank.dev/fhir/CodeSystem/specimen-hold',
            code: 'QC_FAILED',
            display: 'On hold: failed quality control',
          },
        ],
        text: 'On hold: failed quality control',
      },
    ]);
    expect(held.note?.[0]?.text).toMatch(/not to be used or shared/);
  });

  it('reads the current version by vread and answers 404 for another one', async () => {
    const tube = await lab.register({ type: 'urine', quantity: 10 });
    expect((await fhir(t, lab, 'GET', `/Specimen/${tube.id}/_history/${tube.version}`)).status).toBe(200);
    expectOutcome(
      await fhir(t, lab, 'GET', `/Specimen/${tube.id}/_history/${tube.version + 1}`),
      404,
      'SPECIMEN_NOT_FOUND',
    );
  });

  it('answers 404 for another institution’s specimen, an unknown id and an id that is no uuid', async () => {
    const theirs = await other.register({ type: 'serum', quantity: 1 });
    for (const id of [theirs.id, '01900000-0000-7000-8000-000000000000', 'not-an-id']) {
      const o = expectOutcome(await fhir(t, lab, 'GET', `/Specimen/${id}`), 404, 'SPECIMEN_NOT_FOUND');
      expect(o.issue[0]!.code).toBe('not-found');
    }
  });

  it('answers 401 without a valid key and 403 for a role that may not read specimens', async () => {
    const tube = await lab.register({ type: 'serum', quantity: 1 });
    const none = await fhir(t, lab, 'GET', `/Specimen/${tube.id}`, { role: null });
    expect(expectOutcome(none, 401, 'UNAUTHENTICATED').issue[0]!.code).toBe('login');
    const bad = await fhir(t, lab, 'GET', `/Specimen/${tube.id}`, {
      role: null,
      headers: { authorization: 'Bearer bbk_nope' },
    });
    expectOutcome(bad, 401, 'UNAUTHENTICATED');
    const partner = await fhir(t, lab, 'GET', `/Specimen/${tube.id}`, { role: 'partner' });
    expect(expectOutcome(partner, 403, 'FORBIDDEN').issue[0]!.code).toBe('forbidden');
    expectOutcome(await fhir(t, lab, 'GET', '/Specimen?type=serum', { role: 'partner' }), 403, 'FORBIDDEN');
  });

  it('answers unknown routes and methods under /fhir with an OperationOutcome, never problem+json', async () => {
    const tube = await lab.register({ type: 'serum', quantity: 1 });
    expectOutcome(await fhir(t, lab, 'GET', '/Patient/x'), 404, 'ROUTE_NOT_FOUND');
    const r5 = await t.app.inject({ method: 'GET', url: '/fhir/R5/metadata' });
    expect(r5.statusCode).toBe(404);
    expect(r5.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    // An interaction R4 defines but this server does not take: 405 with Allow, never "not found".
    for (const [method, path] of [
      ['DELETE', `/Specimen/${tube.id}`],
      ['PATCH', `/Specimen/${tube.id}`],
      ['POST', '/Specimen'],
      ['POST', '/Specimen/_search'],
    ] as const) {
      const res = await fhir(t, lab, method, path);
      expectOutcome(res, 405, 'METHOD_NOT_ALLOWED');
      expect(res.res.headers.allow).toBe('GET, HEAD, PUT');
    }
    expect((await fhir(t, lab, 'GET', `/Specimen/${tube.id}`)).status).toBe(200);
    expectOutcome(await fhir(t, lab, 'GET', `/Specimen/${tube.id}?_summary=true`), 400, 'VALIDATION_FAILED');
  });

  it('keeps the FHIR routes out of the OpenAPI document (the CapabilityStatement describes them)', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: object }>();
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/fhir'))).toEqual([]);
  });
});

describe('specimen type codings', () => {
  it('codes every one of our types with our code system and validates', async () => {
    const types = ['whole_blood', 'buffy_coat', 'pbmc', 'ffpe_block', 'dna', 'cfdna', 'protein'] as const;
    for (const type of types) {
      const tube = await lab.register({ type, quantity: 1, barcode: uid('TY') });
      const s = (await fhir<FhirSpecimen>(t, lab, 'GET', `/Specimen/${tube.id}`)).body;
      expect(s.type.coding[0]).toMatchObject({ system: OUR_TYPES, code: type });
    }
  });
});

describe('the R4 schema check the answers go through', () => {
  it('refuses what R4 does not allow, Medplum’s own additions included', () => {
    expect(fhirSchemaErrors({ resourceType: 'Specimen', status: 'available' })).toEqual([]);
    expect(fhirSchemaErrors({ resourceType: 'Specimen', status: 'lost' })).not.toEqual([]);
    expect(fhirSchemaErrors({ resourceType: 'Specimen', colour: 'red' })).not.toEqual([]);
    expect(fhirSchemaErrors({ resourceType: 'Specimen', meta: { project: 'x' } })).not.toEqual([]);
    expect(fhirSchemaErrors({ resourceType: 'Project', name: 'x' })).not.toEqual([]);
    expect(
      fhirSchemaErrors({
        resourceType: 'Bundle',
        type: 'searchset',
        entry: [{ resource: { resourceType: 'Specimen', identifier: [{ value: '' }] } }],
      }),
    ).not.toEqual([]);
  });
});
