import type { GraphQLEnumType, GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlLoaders } from '../src/graphql/graphql.js';
import { cascadeDto, consentDto } from '../src/modules/consent/index.js';
import {
  CONSENT_RESPONSES,
  CONSENT_STATUSES,
  WITHDRAWAL_SCOPES,
  cascadeKind,
  cascadeStatus,
} from '../src/modules/consent/consent.table.js';
import {
  executableSchema,
  fieldNames,
  graphqlRequests,
  isEnumType,
  statementsDuring,
} from './helpers/graphql.js';
import { bearer, createTestApp, makeInstitution, until, type TestApp } from './helpers/test-app.js';

// Consent over GraphQL (issue 4, point 5): the same service and data as REST, the same coded
// errors, identity fields hidden from the same roles, and Specimen.permittedUses batched so a
// page costs the same number of SQL statements whatever its size.

let t: TestApp;
let keys: Awaited<ReturnType<typeof makeInstitution>>['keys'];
let schema: GraphQLSchema;
let protocolId: string;
let freezerId: string;
let bulkBoxId: string;

const { gql, ok, refusal, rest } = graphqlRequests(
  () => t,
  () => keys.manager,
);

let seq = 0;
const code = (prefix: string) => `${prefix}-${++seq}-${Math.random().toString(36).slice(2, 7)}`;

const CONSENT_FIELDS = Object.keys(consentDto.shape)
  .map((k) => (k === 'responses' ? 'responses { tier response }' : k))
  .join(' ');
const CASCADE_FIELDS = Object.keys(cascadeDto.shape).join(' ');

const RECORD = `mutation ($input: RecordConsentInput!) { recordConsent(input: $input) { ${CONSENT_FIELDS} } }`;
const WITHDRAW = `mutation ($id: ID!, $input: WithdrawConsentInput!) {
  withdrawConsent(id: $id, input: $input) { consent { ${CONSENT_FIELDS} } cascade { ${CASCADE_FIELDS} } }
}`;

type ConsentGql = { id: string; responses: { tier: string; response: string }[]; status: string };

/** The REST shape of a GraphQL consent: responses keyed by tier. */
const asRest = (c: ConsentGql) => ({
  ...c,
  responses: Object.fromEntries(c.responses.map((r) => [r.tier, r.response])),
});

async function participant() {
  const p = await rest<{ id: string }>('POST', '/v1/participants', {
    protocolId,
    protocolParticipantId: code('D'),
    sex: 'female',
    birthYear: 1968,
    mrn: `MRN-${seq}`,
  });
  return p.id;
}

async function recordConsent(participantId: string, responses: { tier: string; response: string }[]) {
  const data = await ok<{ recordConsent: ConsentGql }>(RECORD, {
    input: { participantId, documentVersion: 'v1', signedOn: '2024-02-01', obtainedBy: 'nurse-3', responses },
  });
  return data.recordConsent;
}

/** Tubes of one donor in a box of their own (no grid: a bulk bag), so a list can filter on it. */
async function specimens(participantId: string, n: number, containerId = bulkBoxId) {
  const data = await ok<{ registerSpecimens: { id: string; barcode: string }[] }>(
    `mutation ($s: [RegisterSpecimenInput!]!) { registerSpecimens(specimens: $s) { id barcode } }`,
    {
      s: Array.from({ length: n }, () => ({
        barcode: code('T'),
        type: 'plasma',
        quantity: 1,
        participantId,
        containerId,
      })),
    },
    keys.technician,
  );
  return data.registerSpecimens;
}

async function bulkBox() {
  return (
    await rest<{ id: string }>('POST', '/v1/containers', {
      kind: 'box',
      barcode: code('BULK'),
      parentId: freezerId,
    })
  ).id;
}

const permittedUses = async (id: string) =>
  (
    await ok<{ specimen: { permittedUses: string[] } }>(
      `query ($id: ID!) { specimen(id: $id) { permittedUses } }`,
      {
        id,
      },
    )
  ).specimen.permittedUses;

async function completed(cascadeId: string) {
  return until(async () => {
    const data = await ok<{
      consentCascade: { status: string; specimensFound: number; specimensChanged: number };
    }>(`query ($id: ID!) { consentCascade(id: $id) { ${CASCADE_FIELDS} } }`, { id: cascadeId });
    return data.consentCascade.status === 'completed' ? data.consentCascade : null;
  });
}

beforeAll(async () => {
  t = await createTestApp({ workers: true });
  keys = (await makeInstitution(t)).keys;
  schema = await executableSchema(t);
  freezerId = (
    await rest<{ id: string }>('POST', '/v1/containers', {
      kind: 'freezer',
      barcode: code('FZ'),
      temperatureC: -80,
    })
  ).id;
  bulkBoxId = await bulkBox();
  protocolId = (
    await rest<{ id: string }>('POST', '/v1/protocols', {
      code: code('ONC'),
      title: 'Oncology cohort',
      ethicsApprovalRef: 'EC-2024-002',
      consentTiers: ['GENETIC_RESEARCH', 'EXTERNAL_SHARING', 'COMMERCIAL_USE'],
    })
  ).id;
});
afterAll(() => t.close());

const fieldsOf = (name: string) => fieldNames(schema, name);

describe('schema', () => {
  it('names consent fields as the REST DTOs do and declares the consent enums from the tables', () => {
    expect(fieldsOf('Consent')).toEqual(Object.keys(consentDto.shape));
    expect(fieldsOf('ConsentCascade')).toEqual(Object.keys(cascadeDto.shape));
    const expected: Record<string, readonly string[]> = {
      ConsentStatus: CONSENT_STATUSES,
      ConsentResponse: CONSENT_RESPONSES,
      WithdrawalScope: WITHDRAWAL_SCOPES,
      ConsentCascadeKind: cascadeKind.enumValues,
      ConsentCascadeStatus: cascadeStatus.enumValues,
    };
    for (const [name, values] of Object.entries(expected)) {
      const type = schema.getType(name);
      expect(isEnumType(type), name).toBe(true);
      expect(
        (type as GraphQLEnumType).getValues().map((v) => v.value as string),
        name,
      ).toEqual([...values]);
    }
  });

  it('resolves Participant.consents and Specimen.permittedUses through loaders', () => {
    const loaders = graphqlLoaders() as Record<string, Record<string, unknown>>;
    expect(loaders.Participant?.consents).toBeDefined();
    expect(loaders.Specimen?.permittedUses).toBeDefined();
    expect(fieldsOf('Participant')).toContain('consents');
    expect(fieldsOf('Specimen')).toContain('permittedUses');
  });
});

describe('record and withdraw', () => {
  it('records consent and withdraws it through GraphQL, the cascade completing and permittedUses following', async () => {
    const participantId = await participant();
    const consent = await recordConsent(participantId, [
      { tier: 'GENETIC_RESEARCH', response: 'yes' },
      { tier: 'EXTERNAL_SHARING', response: 'no' },
    ]);
    expect(consent).toMatchObject({
      participantId,
      protocolId,
      status: 'active',
      responses: [
        { tier: 'GENETIC_RESEARCH', response: 'yes' },
        { tier: 'EXTERNAL_SHARING', response: 'no' },
        { tier: 'COMMERCIAL_USE', response: 'unspecified' },
      ],
    });
    const [primary] = await specimens(participantId, 1);
    const split = await ok<{ aliquotSpecimen: { children: { id: string }[] } }>(
      `mutation ($id: ID!) { aliquotSpecimen(id: $id, input: { use: genetic_research, aliquots: [{ quantity: 0.2 }] }) { children { id } } }`,
      { id: primary!.id },
      keys.technician,
    );
    const all = [primary!.id, split.aliquotSpecimen.children[0]!.id];
    for (const id of all) expect(await permittedUses(id)).toEqual(['internal_research', 'genetic_research']);

    const read = await ok<{
      consent: ConsentGql;
      consents: ConsentGql[];
      participant: { consents: { id: string }[] };
    }>(
      `query ($id: ID!, $p: ID!) {
        consent(id: $id) { ${CONSENT_FIELDS} }
        consents(participantId: $p) { ${CONSENT_FIELDS} }
        participant(id: $p) { consents { id } }
      }`,
      { id: consent.id, p: participantId },
    );
    expect(asRest(read.consent)).toEqual(await rest('GET', `/v1/consents/${consent.id}`));
    expect(read.consents.map(asRest)).toEqual(
      (await rest<{ items: unknown[] }>('GET', `/v1/consents?participantId=${participantId}`)).items,
    );
    expect(read.participant.consents).toEqual([{ id: consent.id }]);

    const withdrawn = await ok<{
      withdrawConsent: { consent: ConsentGql & { withdrawalScope: string }; cascade: { id: string } };
    }>(WITHDRAW, { id: consent.id, input: { scope: 'stop_future_use', reason: null } });
    expect(withdrawn.withdrawConsent.consent).toMatchObject({
      status: 'withdrawn',
      withdrawalScope: 'stop_future_use',
    });
    const done = await completed(withdrawn.withdrawConsent.cascade.id);
    expect(done).toMatchObject({ specimensFound: 2, specimensChanged: 2 });
    expect(done).toEqual(await rest('GET', `/v1/consent-cascades/${withdrawn.withdrawConsent.cascade.id}`));
    for (const id of all) expect(await permittedUses(id)).toEqual([]);
    expect(
      asRest(
        (await ok<{ consent: ConsentGql }>(`{ consent(id: "${consent.id}") { ${CONSENT_FIELDS} } }`)).consent,
      ),
    ).toEqual(await rest('GET', `/v1/consents/${consent.id}`));

    const twice = await refusal(WITHDRAW, { id: consent.id, input: { scope: 'destroy_specimens' } });
    expect(twice).toMatchObject({
      path: ['withdrawConsent'],
      extensions: { code: 'CONSENT_ALREADY_WITHDRAWN', status: 409 },
    });
    const cascades = await t.sql.query<{ n: number }>(
      'select count(*)::int as n from consent_cascade where consent_id = $1',
      [consent.id],
    );
    expect(cascades.rows[0]!.n).toBe(1);
  });

  it('lists tubes to destroy after a destroy-scope withdrawal and confirms them by barcode', async () => {
    const participantId = await participant();
    const consent = await recordConsent(participantId, [{ tier: 'GENETIC_RESEARCH', response: 'yes' }]);
    const box = await rest<{ id: string; barcode: string }>('POST', '/v1/containers', {
      kind: 'box',
      barcode: code('DBX'),
      parentId: freezerId,
      grid: { rows: 9, cols: 9 },
    });
    const tube = await rest<{ id: string; barcode: string }>(
      'POST',
      '/v1/specimens',
      { barcode: code('D'), type: 'serum', quantity: 1, participantId, containerId: box.id, position: 'C5' },
      keys.technician,
    );
    const w = await ok<{ withdrawConsent: { cascade: { id: string } } }>(WITHDRAW, {
      id: consent.id,
      input: { scope: 'destroy_specimens', reason: 'donor request' },
    });
    expect(await completed(w.withdrawConsent.cascade.id)).toMatchObject({ destructionListed: 1 });

    const list = await ok<{
      destructionList: {
        itemId: string;
        consentId: string;
        specimen: { id: string; location: { path: string } };
      }[];
    }>(
      `{ destructionList { itemId consentId listedAt specimen { id barcode location { path } permittedUses } } }`,
      undefined,
      keys.technician,
    );
    const item = list.destructionList.find((i) => i.specimen.id === tube.id);
    expect(item).toMatchObject({ consentId: consent.id, specimen: { permittedUses: [] } });
    expect(item!.specimen.location.path).toMatch(/C5$/);
    const restList = await rest<{ items: { itemId: string }[] }>(
      'GET',
      '/v1/destruction-list',
      undefined,
      keys.technician,
    );
    expect(restList.items.map((i) => i.itemId)).toEqual(list.destructionList.map((i) => i.itemId));

    const notListed = await refusal(
      `mutation ($b: [String!]!) { confirmDestruction(barcodes: $b) { id } }`,
      { b: [tube.barcode, 'NOT-A-TUBE'] },
      keys.technician,
    );
    expect(notListed.extensions).toMatchObject({ code: 'BATCH_REJECTED', errors: [{ field: 'barcodes.1' }] });
    const confirmed = await ok<{ confirmDestruction: { id: string; status: string; location: unknown }[] }>(
      `mutation ($b: [String!]!) { confirmDestruction(barcodes: $b, occurredAt: null) { id status location { path } } }`,
      { b: [tube.barcode] },
      keys.technician,
    );
    expect(confirmed.confirmDestruction).toEqual([{ id: tube.id, status: 'destroyed', location: null }]);
    const after = await ok<{ destructionList: { specimen: { id: string } }[] }>(
      `{ destructionList { specimen { id } } }`,
    );
    expect(after.destructionList.some((i) => i.specimen.id === tube.id)).toBe(false);
  });
});

describe('bad input changes nothing', () => {
  it('answers a tier the protocol does not ask, a future signed date, a repeated tier and an unknown tier with coded errors', async () => {
    const participantId = await participant();
    const base = { participantId, documentVersion: 'v1', signedOn: '2024-01-10', obtainedBy: 'nurse' };
    const notAsked = await refusal(RECORD, {
      input: { ...base, responses: [{ tier: 'RECONTACT', response: 'yes' }] },
    });
    expect(notAsked).toMatchObject({
      path: ['recordConsent'],
      extensions: { code: 'TIER_NOT_IN_PROTOCOL', status: 422, errors: [{ field: 'responses.RECONTACT' }] },
    });
    const future = await refusal(RECORD, { input: { ...base, signedOn: '2999-01-01', responses: [] } });
    expect(future.extensions).toMatchObject({ code: 'SIGNED_DATE_IN_FUTURE', status: 400 });
    const repeated = await refusal(RECORD, {
      input: {
        ...base,
        responses: [
          { tier: 'GENETIC_RESEARCH', response: 'yes' },
          { tier: 'GENETIC_RESEARCH', response: 'no' },
        ],
      },
    });
    expect(repeated.extensions).toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [{ field: 'responses.1.tier' }],
    });
    const badDate = await refusal(RECORD, { input: { ...base, signedOn: '10/01/2024', responses: [] } });
    expect(badDate.extensions).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'signedOn' }] });
    const unknownTier = await gql(RECORD, {
      input: { ...base, responses: [{ tier: 'TELEPATHY', response: 'yes' }] },
    });
    expect(unknownTier.data).toBeNull();
    expect(unknownTier.errors![0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const unknownConsent = await refusal(WITHDRAW, {
      id: '00000000-0000-7000-8000-000000000000',
      input: { scope: 'stop_future_use' },
    });
    expect(unknownConsent.extensions.code).toBe('CONSENT_NOT_FOUND');
    expect(await ok(`{ consent(id: "00000000-0000-7000-8000-000000000000") { id } }`)).toEqual({
      consent: null,
    });
    const rows = await t.sql.query<{ n: number }>(
      'select count(*)::int as n from consent where participant_id = $1',
      [participantId],
    );
    expect(rows.rows[0]!.n).toBe(0);
  });
});

describe('privacy', () => {
  it('keeps identity fields from technicians and participants and consents from partners, over GraphQL as over REST', async () => {
    const participantId = await participant();
    const consent = await recordConsent(participantId, [{ tier: 'GENETIC_RESEARCH', response: 'yes' }]);
    const IDENTITY = `identity { protocolParticipantId birthYear hasMrn }`;

    const manager = await ok<{ participant: { identity: { hasMrn: boolean } | null } }>(
      `query ($p: ID!) { participant(id: $p) { ${IDENTITY} } }`,
      { p: participantId },
    );
    expect(manager.participant.identity).toMatchObject({ birthYear: 1968, hasMrn: true });

    // Technician: the participant without identity; consent is not theirs to read.
    const tech = await ok<{
      participant: { id: string; identity: unknown };
      participants: { edges: { node: { identity: unknown } }[] };
    }>(
      `query ($p: ID!, $proto: ID!) { participant(id: $p) { id ${IDENTITY} } participants(protocolId: $proto) { edges { node { ${IDENTITY} } } } }`,
      { p: participantId, proto: protocolId },
      keys.technician,
    );
    expect(tech.participant).toEqual({ id: participantId, identity: null });
    expect(tech.participants.edges.length).toBeGreaterThan(0);
    for (const e of tech.participants.edges) expect(e.node.identity).toBeNull();
    const techConsents = await gql(
      `query ($p: ID!) { consents(participantId: $p) { id } }`,
      { p: participantId },
      keys.technician,
    );
    expect(techConsents.errors![0]!.extensions.code).toBe('FORBIDDEN');
    const techRest = await t.app.inject({
      method: 'GET',
      url: `/v1/participants/${participantId}`,
      headers: bearer(keys.technician),
    });
    expect(techRest.statusCode).toBe(200);
    expect(techRest.json<{ identity: unknown }>().identity).toBeNull();
    expect(techRest.body).not.toContain('D-');

    // Partner: no participant, list of participants, consent or consent history at all.
    for (const [query, field] of [
      [`query ($p: ID!) { participant(id: $p) { id ${IDENTITY} } }`, 'participant'],
      [`{ participants { edges { node { id ${IDENTITY} } } } }`, 'participants'],
      [`query ($p: ID!) { consents(participantId: $p) { id } }`, 'consents'],
      [`query ($c: ID!) { consent(id: $c) { id } }`, 'consent'],
    ] as const) {
      const body = await gql(query, { p: participantId, c: consent.id }, keys.partner);
      expect(body.errors?.[0]?.extensions.code, field).toBe('FORBIDDEN');
      // A nullable root field answers null, a non-null one nulls the whole answer.
      expect(body.data?.[field] ?? null, field).toBeNull();
      expect(JSON.stringify(body), field).not.toContain('D-');
    }
    for (const url of [
      `/v1/participants/${participantId}`,
      '/v1/participants',
      `/v1/consents?participantId=${participantId}`,
      `/v1/consents/${consent.id}`,
    ]) {
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(keys.partner) });
      expect(res.statusCode, url).toBe(403);
      expect(res.body, url).not.toContain('D-');
    }
  });
});

describe('batching', () => {
  // The consent worker and the outbox relay run in this process and query all the time:
  // statementsDuring counts only the statements sent on behalf of its `run`.

  it('serves permittedUses for a page of 50 specimens in as many statements as for 5', async () => {
    const box = await bulkBox();
    // Five donors with different answers, ten tubes each: the page mixes their outcomes.
    const answers: [string, string][] = [
      ['yes', 'yes'],
      ['yes', 'no'],
      ['no', 'yes'],
      ['no', 'no'],
      ['unspecified', 'yes'],
    ];
    const expected = new Map<string, string[]>();
    for (const [genetic, sharing] of answers) {
      const participantId = await participant();
      await recordConsent(participantId, [
        { tier: 'GENETIC_RESEARCH', response: genetic },
        { tier: 'EXTERNAL_SHARING', response: sharing },
      ]);
      const uses = [
        'internal_research',
        ...(genetic === 'yes' ? ['genetic_research'] : []),
        ...(sharing === 'yes' ? ['external_sharing'] : []),
      ];
      for (const s of await specimens(participantId, 10, box)) expected.set(s.id, uses);
    }

    const query = `query ($box: ID!, $first: Int!) {
      specimens(filter: { containerId: $box }, first: $first) { edges { node { id permittedUses } } }
    }`;
    type Page = { specimens: { edges: { node: { id: string; permittedUses: string[] } }[] } };
    await ok(query, { box, first: 1 }, keys.technician);
    const counts: Record<number, number> = {};
    for (const first of [5, 50]) {
      let page: Page | undefined;
      const sent = await statementsDuring(async () => {
        page = await ok<Page>(query, { box, first }, keys.technician);
      });
      counts[first] = sent.length;
      expect(page!.specimens.edges).toHaveLength(first);
      for (const { node } of page!.specimens.edges)
        expect(node.permittedUses, node.id).toEqual(expected.get(node.id));
      // list + its locations, then specimens, current consents and protocol tiers for permittedUses.
      expect(sent.length, sent.join('\n')).toBeLessThanOrEqual(5);
    }
    const without = await statementsDuring(() =>
      ok(query.replace(' permittedUses', ''), { box, first: 50 }, keys.technician),
    );
    console.info(
      'SQL statements per GraphQL page',
      JSON.stringify({ withPermittedUses: counts, without50: without.length }),
    );
    expect(counts[50]).toBe(counts[5]);
    // The whole page's permittedUses: its specimens, their current consents, protocol tiers.
    expect(counts[50]! - without.length).toBe(3);

    // Participant.consents: one statement for the page, whatever its size.
    const participants = `query ($p: ID!, $first: Int!) { participants(protocolId: $p, first: $first) { edges { node { id consents { id status } } } } }`;
    const perPage: Record<number, number> = {};
    // The admin's key was last checked before the page above: under load its cached check may have
    // expired, and its lookup would be counted in one run and not the other.
    await ok(participants, { p: protocolId, first: 1 });
    for (const first of [2, 5]) {
      const sent = await statementsDuring(() => ok(participants, { p: protocolId, first }));
      perPage[first] = sent.length;
    }
    expect(perPage[5]).toBe(perPage[2]);
    // The participants page, then every consent of the page.
    expect(perPage[5]).toBe(2);
  });
});
