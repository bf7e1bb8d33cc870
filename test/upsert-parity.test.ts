import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BARCODE_SYSTEM, fhir, LIS, OUR_TYPES } from './helpers/fhir.js';
import { graphqlRequests } from './helpers/graphql.js';
import { makeLab, uid, type Lab } from './helpers/inventory.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { putAs } from './helpers/upsert.js';

// The REST upsert by external id, the upsertSpecimen mutation and FHIR's conditional update are
// adapters over one upsert: the same statement sent to each decides the same way (the same code;
// the status differs only where FHIR's convention does) and leaves the same rows behind.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  // The first FHIR answer compiles the R4 schema every answer is checked against: slow, once.
  await fhir(t, lab, 'GET', '/metadata');
}, 120_000);
afterAll(() => t.close());

type Pair = { system: string; value: string };
/** What a caller states about a tube, in neutral words each surface renders its own way. */
interface Statement {
  barcode: string;
  type: 'serum' | 'plasma';
  quantity: number;
  anatomicSite: string;
  receivedAt?: string;
  externalIds: Pair[];
  /** two more ids of this surface's tube (an LIS order number, a ward's id), to add */
  order: Pair;
  ward: Pair;
}
type Surface = 'rest' | 'graphql' | 'fhir';
const SURFACES: Surface[] = ['rest', 'graphql', 'fhir'];

/** A decision: the HTTP status (GraphQL: 200 or the error's), the code of a refusal, the version. */
interface Decision {
  status: number;
  code: string | null;
  version: number | null;
}

const restBody = (s: Statement) => ({
  barcode: s.barcode,
  type: s.type,
  quantity: s.quantity,
  unit: 'mL',
  anatomicSite: s.anatomicSite,
  collectedAt: '2026-03-04T05:45:00.000Z',
  ...(s.receivedAt ? { receivedAt: s.receivedAt } : {}),
  externalIds: s.externalIds,
});

const fhirResource = (s: Statement) => ({
  resourceType: 'Specimen',
  accessionIdentifier: s.externalIds[0],
  identifier: [{ system: BARCODE_SYSTEM, value: s.barcode }, ...s.externalIds.slice(1)],
  type: { coding: [{ system: OUR_TYPES, code: s.type }] },
  collection: {
    collectedDateTime: '2026-03-04T05:45:00.000Z',
    quantity: { value: s.quantity, system: 'http://unitsofmeasure.org', code: 'mL' },
    bodySite: { text: s.anatomicSite },
  },
  ...(s.receivedAt ? { receivedTime: s.receivedAt } : {}),
});

const { gql } = graphqlRequests(
  () => t,
  () => lab.keys.integration,
);
const MUTATION = `mutation ($s: String!, $v: String!, $i: RegisterSpecimenInput!, $e: Int) {
  upsertSpecimen(system: $s, value: $v, input: $i, expectedVersion: $e) { created specimen { version } } }`;

/** Sends the statement to one surface under the key `key` (If-Match / expectedVersion `version`). */
async function send(surface: Surface, key: Pair, s: Statement, version?: number): Promise<Decision> {
  if (surface === 'rest') {
    const url = `/v1/specimens/by-external-id/${encodeURIComponent(key.system)}/${encodeURIComponent(key.value)}`;
    const res = await putAs(t, lab.keys.integration)(
      url,
      restBody(s),
      version === undefined ? {} : { 'if-match': `W/"${version}"` },
    );
    const body = res.json<{ code?: string; version?: number }>();
    return { status: res.statusCode, code: body.code ?? null, version: body.version ?? null };
  }
  if (surface === 'graphql') {
    const r = await gql<{ upsertSpecimen: { created: boolean; specimen: { version: number } } }>(MUTATION, {
      s: key.system,
      v: key.value,
      i: restBody(s),
      ...(version === undefined ? {} : { e: version }),
    });
    const e = r.errors?.[0];
    return e
      ? { status: e.extensions.status ?? 0, code: e.extensions.code, version: null }
      : {
          // GraphQL answers 200 with `created`; REST says the same with 201.
          status: r.data!.upsertSpecimen.created ? 201 : 200,
          code: null,
          version: r.data!.upsertSpecimen.specimen.version,
        };
  }
  const a = await fhir<{ meta?: { versionId: string } }>(
    t,
    lab,
    'PUT',
    `/Specimen?identifier=${encodeURIComponent(`${key.system}|${key.value}`)}`,
    {
      body: fhirResource(s),
      ...(version === undefined ? {} : { headers: { 'if-match': `W/"${version}"` } }),
    },
  );
  const o = a.body as { issue?: { details: { coding: { code: string }[] } }[] };
  return {
    status: a.status,
    code: o.issue?.[0]?.details.coding[0]?.code ?? null,
    version: a.body.meta ? Number(a.body.meta.versionId) : null,
  };
}

/** Everything an upsert may write about the tube holding `key`, in comparable form. */
async function rowsOf(key: Pair) {
  const { rows } = await t.sql.query<{
    id: string;
    version: number;
    external_ids: Pair[];
    anatomic_site: string;
    received_at: Date | null;
  }>(
    `select s.id, s.version, s.external_ids, s.anatomic_site, s.received_at
       from specimen s join specimen_external_id e on e.specimen_id = s.id
      where s.institution_id = $1 and e.system = $2 and e.value = $3`,
    [lab.institution.id, key.system, key.value],
  );
  const row = rows[0];
  if (!row) return null;
  const q = async (sql: string) => (await t.sql.query<{ v: string }>(sql, [row.id])).rows.map((r) => r.v);
  return {
    version: row.version,
    // Values differ per tube (ids are unique): compared by system, in order.
    externalIds: row.external_ids.map((e) => e.system),
    anatomicSite: row.anatomic_site,
    receivedAt: row.received_at?.toISOString() ?? null,
    custody: await q('select type as v from custody_event where specimen_id = $1 order by seq'),
    audit: await q('select action as v from audit_log where entity_id = $1::text order by id'),
    feed: await q(
      `select operation::text as v from change_log where entity_id = $1
        union all select operation::text from change_log_pending where entity_id = $1 order by 1`,
    ),
  };
}

/**
 * Runs the same steps on each surface, each with its own key and barcode, and returns per surface
 * the decision of every step and the rows left at the end.
 */
async function onEverySurface(steps: { statement: (base: Statement) => Statement; version?: number }[]) {
  const out: Record<Surface, { decisions: Decision[]; rows: Awaited<ReturnType<typeof rowsOf>> }> =
    {} as never;
  for (const surface of SURFACES) {
    const key = { system: LIS, value: uid('ACC') };
    const base: Statement = {
      barcode: uid('T'),
      type: 'serum',
      quantity: 2.5,
      anatomicSite: 'antecubital vein',
      externalIds: [key],
      order: { system: ORDER, value: uid('ORD') },
      ward: { system: WARD, value: uid('W') },
    };
    const decisions: Decision[] = [];
    for (const step of steps) decisions.push(await send(surface, key, step.statement(base), step.version));
    out[surface] = { decisions, rows: await rowsOf(key) };
  }
  return out;
}

/** REST's statuses as FHIR gives them (http.html: a business rule broken is 422, not 409). */
const asFhir = (d: Decision): Decision => (d.code === 'IMMUTABLE_FIELD' ? { ...d, status: 422 } : d);

function expectSameEverywhere(out: Awaited<ReturnType<typeof onEverySurface>>) {
  expect(out.graphql.decisions).toEqual(out.rest.decisions);
  expect(out.fhir.decisions).toEqual(out.rest.decisions.map(asFhir));
  expect(out.graphql.rows).toEqual(out.rest.rows);
  expect(out.fhir.rows).toEqual(out.rest.rows);
}

const ORDER = 'https://lis.example/order';
const WARD = 'urn:lis:ward-7';
const same = (s: Statement) => s;

describe('one upsert behind REST, GraphQL and FHIR', () => {
  it('creates once and writes nothing for the same statement again', async () => {
    const out = await onEverySurface([{ statement: same }, { statement: same }]);
    expect(out.rest.decisions.map((d) => [d.status, d.version])).toEqual([
      [201, 1],
      [200, 1],
    ]);
    expect(out.rest.rows).toMatchObject({ version: 1, custody: ['collected'], audit: ['upsertSpecimen'] });
    expectSameEverywhere(out);
  });

  it('refuses a field fixed at registration with IMMUTABLE_FIELD (REST 409, FHIR 422), changing nothing', async () => {
    const out = await onEverySurface([
      { statement: same },
      { statement: (s) => ({ ...s, type: 'plasma', anatomicSite: 'elsewhere' }) },
      { statement: (s) => ({ ...s, quantity: 9 }) },
    ]);
    expect(out.rest.decisions.slice(1).map((d) => [d.status, d.code])).toEqual([
      [409, 'IMMUTABLE_FIELD'],
      [409, 'IMMUTABLE_FIELD'],
    ]);
    expect(out.rest.rows).toMatchObject({ version: 1, anatomicSite: 'antecubital vein' });
    expectSameEverywhere(out);
  });

  it('adds the external ids a statement lists and removes none', async () => {
    const out = await onEverySurface([
      { statement: (s) => ({ ...s, externalIds: [...s.externalIds, s.order] }) },
      { statement: (s) => ({ ...s, externalIds: [...s.externalIds, s.ward] }) },
      { statement: same },
    ]);
    expect(out.rest.decisions.map((d) => [d.status, d.version])).toEqual([
      [201, 1],
      [200, 2],
      [200, 2],
    ]);
    expect(out.rest.rows).toMatchObject({
      externalIds: [LIS, ORDER, WARD],
      audit: ['upsertSpecimen', 'upsertSpecimen'],
      custody: ['collected'],
    });
    expectSameEverywhere(out);
  });

  it('answers a stale If-Match with 412 when the statement would change the tube, 200 when it already is so', async () => {
    const received = (s: Statement) => ({ ...s, receivedAt: '2026-03-05T10:00:00.000Z' });
    const out = await onEverySurface([
      { statement: same },
      { statement: received, version: 1 },
      // The retry of the step before whose answer was lost: already applied, nothing written.
      { statement: received, version: 1 },
      { statement: (s) => ({ ...received(s), anatomicSite: 'radial artery' }), version: 1 },
    ]);
    expect(out.rest.decisions).toEqual([
      { status: 201, code: null, version: 1 },
      { status: 200, code: null, version: 2 },
      { status: 200, code: null, version: 2 },
      { status: 412, code: 'VERSION_CONFLICT', version: null },
    ]);
    expect(out.rest.rows).toMatchObject({
      version: 2,
      receivedAt: '2026-03-05T10:00:00.000Z',
      anatomicSite: 'antecubital vein',
    });
    expectSameEverywhere(out);
  });

  it('answers a version for a key nothing holds yet with 412 NO_CURRENT_VERSION, creating nothing', async () => {
    const out = await onEverySurface([{ statement: same, version: 1 }]);
    expect(out.rest.decisions).toEqual([{ status: 412, code: 'NO_CURRENT_VERSION', version: null }]);
    expect(out.rest.rows).toBeNull();
    expectSameEverywhere(out);
  });
});
