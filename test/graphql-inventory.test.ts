import type { GraphQLEnumType, GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES } from '../src/auth/roles.js';
import { graphqlLoaders, graphqlResolvers } from '../src/graphql/graphql.js';
import {
  CONSENT_RESPONSES,
  CONSENT_STATUSES,
  WITHDRAWAL_SCOPES,
  cascadeKind,
  cascadeStatus,
} from '../src/modules/consent/consent.table.js';
import { USES } from '../src/vocabulary/uses.js';
import { DISEASE_AREAS } from '../src/vocabulary/disease-areas.js';
import {
  AGREEMENT_SIDES,
  CATALOGUE_DIMENSIONS,
  ITEM_STATES,
  REQUEST_ACTIONS,
  REQUEST_SIDES,
  GQL_SHIPPING_TEMPERATURES,
  RECEIPT_OUTCOMES,
  REQUEST_STATES,
} from '../src/modules/sharing/index.js';
import { CUSTODY_EVENT_TYPES } from '../src/modules/custody/index.js';
import { IMPORT_KINDS, IMPORT_STATUSES } from '../src/modules/imports/imports.table.js';
import { INSTITUTION_KINDS } from '../src/modules/institutions/index.js';
import { CHANGE_ENTITIES, CHANGE_OPERATIONS } from '../src/modules/integration/index.js';
import { protocolDto, participantDto } from '../src/modules/participants/participants.schemas.js';
import { CONSENT_TIERS } from '../src/vocabulary/consent-tiers.js';
import { SEXES } from '../src/modules/participants/participants.table.js';
import { SCAN_ACTIONS } from '../src/modules/specimens/specimens.scans.js';
import { SPECIMEN_TYPES, SPECIMEN_UNITS } from '../src/vocabulary/specimen-types.js';
import { SPECIMEN_STATUSES } from '../src/modules/specimens/specimens.lifecycle.js';
import { custodyEventDto } from '../src/modules/specimens/specimens.schemas.js';
import { specimenDto } from '../src/modules/specimens/specimens.schemas.js';
import {
  HOLD_REASONS,
  LINEAGES,
  PATHOLOGY_STATUSES,
  QC_STATUSES,
} from '../src/modules/specimens/specimens.table.js';
import { SPREC_KINDS } from '../src/modules/standards/sprec.vocabulary.js';
import { QC_OUTCOMES, RUN_STATUSES } from '../src/modules/standards/standards.table.js';
import { FILL_ORDERS, GRID_SCHEMES } from '../src/modules/storage/grid.js';
import { containerDto } from '../src/modules/storage/storage.schemas.js';
import { CONTAINER_KINDS } from '../src/modules/storage/storage.table.js';
import {
  executableSchema,
  fieldNames,
  graphqlRequests,
  isEnumType,
  statementsInFlight,
} from './helpers/graphql.js';
import { createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// Inventory over GraphQL (STYLE.md rules 16-17): the same data and error codes as REST, a
// resolver for every root field, enums equal to the tables' arrays, and relations batched so a
// page costs the same number of SQL statements whatever its size.

let t: TestApp;
let bank: Awaited<ReturnType<typeof makeInstitution>>;
let schema: GraphQLSchema;

beforeAll(async () => {
  t = await createTestApp();
  bank = await makeInstitution(t, { roles: ['admin', 'manager', 'technician'] });
  // The executable schema as the app registers it (there it lives in an encapsulated context).
  schema = await executableSchema(t);
});
afterAll(() => t.close());

const fieldsOf = (name: string) => fieldNames(schema, name);

const { gql, ok, rest } = graphqlRequests(
  () => t,
  () => bank.keys.admin,
);

/** Every field of the REST specimen DTO, so a field added to REST is compared here too. */
const SPECIMEN_FIELDS = Object.keys(specimenDto.shape)
  .map((k) =>
    k === 'location'
      ? 'location { containerId containerBarcode position path }'
      : k === 'externalIds'
        ? 'externalIds { system value }'
        : k,
  )
  .join(' ');
const CONTAINER_FIELDS = Object.keys(containerDto.shape)
  .map((k) => (k === 'grid' ? 'grid { rows cols scheme fillOrder }' : k))
  .join(' ');
// The actor as recorded then is an object: select all of it.
const CUSTODY_FIELDS = Object.keys(custodyEventDto.shape)
  .map((f) => (f === 'actorIdentity' ? 'actorIdentity { name role institutionCode }' : f))
  .join(' ');

let seq = 0;
const code = (prefix: string) => `${prefix}-${++seq}-${Math.random().toString(36).slice(2, 7)}`;

async function freezerWithBox(rows = 10, cols = 10) {
  const freezer = await rest<{ id: string }>('POST', '/v1/containers', {
    kind: 'freezer',
    barcode: code('FRZ'),
    temperatureC: -80,
  });
  const box = await rest<{ id: string; barcode: string }>('POST', '/v1/containers', {
    kind: 'box',
    barcode: code('BOX'),
    parentId: freezer.id,
    grid: { rows, cols },
  });
  return { freezer, box };
}

/** A1..J10 on a 10 x 10 box, row by row. */
const positions = (n: number) =>
  Array.from({ length: n }, (_, i) => `${String.fromCharCode(65 + Math.floor(i / 10))}${(i % 10) + 1}`);

describe('schema', () => {
  it('has a resolver for every field of Query and Mutation', () => {
    const resolvers = graphqlResolvers() as Record<string, Record<string, unknown>>;
    const missing: string[] = [];
    for (const root of [schema.getQueryType(), schema.getMutationType()]) {
      for (const [name, field] of Object.entries(root!.getFields())) {
        if (typeof resolvers[root!.name]?.[name] !== 'function' || typeof field.resolve !== 'function') {
          missing.push(`${root!.name}.${name}`);
        }
      }
    }
    expect(missing).toEqual([]);
    expect(fieldsOf('Query')).toEqual(
      expect.arrayContaining(['specimens', 'specimen', 'specimenByBarcode', 'container', 'containers']),
    );
  });

  it('resolves every relation through a loader, and loaders name only real fields', () => {
    const loaders = graphqlLoaders() as Record<string, Record<string, unknown>>;
    const relations: Record<string, string[]> = {
      Specimen: ['parent', 'children', 'latestCustodyEvent', 'container'],
      Container: ['parent', 'map', 'freePositions'],
    };
    for (const [type, fields] of Object.entries(relations)) {
      for (const field of fields) {
        expect(fieldsOf(type)).toContain(field);
        expect(loaders[type]?.[field], `${type}.${field}`).toBeDefined();
      }
    }
    for (const [type, fields] of Object.entries(loaders)) {
      for (const field of Object.keys(fields)) expect(fieldsOf(type)).toContain(field);
    }
  });

  it('names the object fields as the REST DTOs do', () => {
    const dtos = {
      Specimen: specimenDto,
      Container: containerDto,
      CustodyEvent: custodyEventDto,
      Protocol: protocolDto,
      Participant: participantDto,
    };
    for (const [type, dto] of Object.entries(dtos)) {
      expect(fieldsOf(type), type).toEqual(expect.arrayContaining(Object.keys(dto.shape)));
    }
  });

  it('declares every enum with exactly the values of the TypeScript arrays', () => {
    const expected: Record<string, readonly string[]> = {
      Role: ROLES,
      InstitutionKind: INSTITUTION_KINDS,
      SpecimenType: SPECIMEN_TYPES,
      SpecimenStatus: SPECIMEN_STATUSES,
      SpecimenLineage: LINEAGES,
      PathologyStatus: PATHOLOGY_STATUSES,
      QcStatus: QC_STATUSES,
      HoldReason: HOLD_REASONS,
      ContainerKind: CONTAINER_KINDS,
      GridScheme: GRID_SCHEMES,
      FillOrder: FILL_ORDERS,
      CustodyEventType: CUSTODY_EVENT_TYPES,
      SpecimenUnit: SPECIMEN_UNITS,
      ConsentTier: CONSENT_TIERS,
      Sex: SEXES,
      ScanAction: SCAN_ACTIONS,
      Use: USES,
      // The REST map DTO's z.enum(['specimen', 'container']).
      OccupantKind: ['specimen', 'container'],
      ConsentStatus: CONSENT_STATUSES,
      ConsentResponse: CONSENT_RESPONSES,
      WithdrawalScope: WITHDRAWAL_SCOPES,
      ConsentCascadeKind: cascadeKind.enumValues,
      ConsentCascadeStatus: cascadeStatus.enumValues,
      SprecKind: SPREC_KINDS,
      QcOutcome: QC_OUTCOMES,
      StandardizationRunStatus: RUN_STATUSES,
      ChangeEntity: CHANGE_ENTITIES,
      ChangeOperation: CHANGE_OPERATIONS,
      DiseaseArea: DISEASE_AREAS,
      AgreementSide: AGREEMENT_SIDES,
      SharingRequestState: REQUEST_STATES,
      SharingRequestAction: REQUEST_ACTIONS,
      SharingItemState: ITEM_STATES,
      SharingSide: REQUEST_SIDES,
      // REST's shipping temperatures, `2_8c` named `refrigerated` (a GraphQL name cannot start with a digit).
      ShippingTemperature: GQL_SHIPPING_TEMPERATURES,
      ReceiptOutcome: RECEIPT_OUTCOMES,
      CatalogueDimension: CATALOGUE_DIMENSIONS,
      ImportKind: IMPORT_KINDS,
      ImportStatus: IMPORT_STATUSES,
    };
    const declared = Object.values(schema.getTypeMap()).filter(
      (type) => isEnumType(type) && !type.name.startsWith('__'),
    ) as GraphQLEnumType[];
    expect(declared.map((e) => e.name).sort()).toEqual(Object.keys(expected).sort());
    for (const e of declared) {
      expect(
        e.getValues().map((v) => v.value as string),
        e.name,
      ).toEqual([...expected[e.name]!]);
    }
  });
});

describe('the same data as REST', () => {
  it('returns every field of a specimen, its container, map, custody and lineage as REST does', async () => {
    const { box } = await freezerWithBox();
    const protocol = await rest<{ id: string }>('POST', '/v1/protocols', {
      code: code('P'),
      title: 'Breast cancer cohort',
      ethicsApprovalRef: 'EC-2024-17',
      consentTiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH'],
    });
    const participant = await rest<{ id: string }>('POST', '/v1/participants', {
      protocolId: protocol.id,
      protocolParticipantId: code('D'),
      sex: 'female',
      birthYear: 1971,
      diagnoses: ['C50.9'],
      mrn: 'MRN-1',
    });
    const created = await rest<{ id: string; barcode: string }>('POST', '/v1/specimens', {
      barcode: code('TUBE'),
      type: 'plasma',
      participantId: participant.id,
      anatomicSite: 'arm vein',
      pathologyStatus: 'malignant',
      collectedAt: '2024-05-01T08:30:00+02:00',
      processedAt: '2024-05-01T09:10:00+02:00',
      sprecCode: 'PL1-SST-A-B-N-A-A',
      quantity: 2.5,
      quality: { hemolysisIndex: 0.2 },
      externalIds: [{ system: 'LIS', value: 'A-123' }],
      containerId: box.id,
      position: 'B3',
    });
    // Lineage on a specimen without a donor: aliquoting a donor's specimen needs consent on file.
    const source = await rest<{ id: string }>('POST', '/v1/specimens', {
      barcode: code('SRC'),
      type: 'serum',
      quantity: 2,
      containerId: box.id,
      position: 'C1',
    });
    const [child] = (
      await rest<{ children: { id: string }[] }>('POST', `/v1/specimens/${source.id}/aliquots`, {
        aliquots: [{ quantity: 0.5, containerId: box.id, position: 'B4' }],
      })
    ).children;

    const data = await ok<Record<string, unknown>>(
      `query ($id: ID!, $barcode: String!, $box: ID!, $child: ID!) {
        specimen(id: $id) { ${SPECIMEN_FIELDS} }
        specimenByBarcode(barcode: $barcode) { ${SPECIMEN_FIELDS} permittedUses }
        specimens(filter: { containerId: $box }) { edges { node { ${SPECIMEN_FIELDS} } } pageInfo { hasNextPage } }
        container(id: $box) {
          ${CONTAINER_FIELDS}
          map { rows cols occupied positions { position row col occupant { kind id barcode type status holds } } }
          freePositions(count: 3, type: plasma) { containerId containerBarcode position path }
        }
        lineage(id: $child) {
          specimen { ${SPECIMEN_FIELDS} } ancestors { ${SPECIMEN_FIELDS} } descendants { ${SPECIMEN_FIELDS} }
        }
        custody(specimenId: $id) { ${CUSTODY_FIELDS} }
        verifyCustody(specimenId: $id) { specimenId events valid checked firstBreak { seq eventId reason expected found } link { providerInstitutionId shippedEventHash matches } }
        protocols { id code title ethicsApprovalRef consentTiers diseaseArea createdAt version }
        participants { edges { node { id protocolId sex diagnoses identity { protocolParticipantId birthYear hasMrn hasLisPatientId } createdAt version } } }
      }`,
      { id: created.id, barcode: created.barcode, box: box.id, child: child!.id },
    );

    const restSpecimen = await rest(`GET`, `/v1/specimens/${created.id}`);
    expect(data.specimen).toEqual(restSpecimen);
    expect(data.specimenByBarcode).toEqual(await rest('GET', `/v1/specimens/by-barcode/${created.barcode}`));
    const list = await rest<{ items: unknown[] }>('GET', `/v1/specimens?containerId=${box.id}`);
    expect(data.specimens).toEqual({
      edges: list.items.map((node) => ({ node })),
      pageInfo: { hasNextPage: false },
    });

    const { map, freePositions, ...container } = data.container as Record<string, unknown>;
    expect(container).toEqual(await rest('GET', `/v1/containers/${box.id}`));
    const restMap = await rest<Record<string, unknown>>('GET', `/v1/containers/${box.id}/map`);
    expect(map).toEqual({
      rows: restMap.rows,
      cols: restMap.cols,
      occupied: 3,
      positions: restMap.positions,
    });
    expect(restMap.occupied).toBe(3);
    expect(freePositions).toEqual(
      (await rest<{ items: unknown[] }>('GET', `/v1/containers/${box.id}/free-positions?count=3&type=plasma`))
        .items,
    );

    expect(data.lineage).toEqual(await rest('GET', `/v1/specimens/${child!.id}/lineage`));
    const custody = await rest<{ items: { id: number }[] }>('GET', `/v1/specimens/${created.id}/custody`);
    // A custody event id is a bigint sequence: GraphQL carries it as an ID (a string).
    expect(data.custody).toEqual(custody.items.map((e) => ({ ...e, id: String(e.id) })));
    expect(data.verifyCustody).toEqual(await rest('GET', `/v1/specimens/${created.id}/custody/verify`));
    expect(data.protocols).toEqual((await rest<{ items: unknown[] }>('GET', '/v1/protocols')).items);
    expect(data.participants).toEqual({
      edges: (await rest<{ items: unknown[] }>('GET', '/v1/participants')).items.map((node) => ({ node })),
    });
    // The comparison is not vacuous.
    expect(restSpecimen).toMatchObject({
      participantId: participant.id,
      protocolId: protocol.id,
      location: { containerBarcode: box.barcode, position: 'B3' },
      externalIds: [{ system: 'LIS', value: 'A-123' }],
      availableQuantity: 2.5,
    });
  });

  it('answers specimen(id) of another institution with null, as for an unknown id', async () => {
    const other = await makeInstitution(t, { roles: ['admin'] });
    const theirs = await rest<{ id: string }>(
      'POST',
      '/v1/specimens',
      { barcode: code('THEIRS'), type: 'serum', quantity: 1 },
      other.keys.admin,
    );
    expect(await ok(`{ specimen(id: "${theirs.id}") { id } }`)).toEqual({ specimen: null });
    const custody = await gql(`{ custody(specimenId: "${theirs.id}") { id } }`);
    expect(custody.errors?.[0]?.extensions.code).toBe('SPECIMEN_NOT_FOUND');
  });

  it('hides participant identity from technicians, as REST does', async () => {
    const data = await ok<{ participants: { edges: { node: { identity: unknown } }[] } }>(
      '{ participants(first: 5) { edges { node { identity { protocolParticipantId } } } } }',
      undefined,
      bank.keys.technician,
    );
    expect(data.participants.edges.length).toBeGreaterThan(0);
    for (const e of data.participants.edges) expect(e.node.identity).toBeNull();
  });
});

describe('batching', () => {
  it('serves a page of 100 specimens with location, parent, custody and container in as many statements as 10', async () => {
    const { box: parentBox } = await freezerWithBox();
    const { box } = await freezerWithBox();
    const parent = await rest<{ id: string }>('POST', '/v1/specimens', {
      barcode: code('PARENT'),
      type: 'plasma',
      quantity: 500,
      containerId: parentBox.id,
      position: 'A1',
    });
    await rest('POST', `/v1/specimens/${parent.id}/aliquots`, {
      aliquots: positions(100).map((position) => ({ quantity: 1, containerId: box.id, position })),
    });

    const query = `query ($box: ID!, $first: Int!) {
      specimens(filter: { containerId: $box }, first: $first) {
        edges { node {
          id barcode status location { containerBarcode position path }
          parent { id barcode location { path } }
          latestCustodyEvent { type seq occurredAt }
          container { id barcode path }
        } }
        pageInfo { endCursor hasNextPage }
      }
    }`;
    type Page = {
      specimens: {
        edges: {
          node: {
            parent: { id: string; location: { path: string } };
            location: { position: string };
            latestCustodyEvent: { type: string };
            container: { id: string };
          };
        }[];
        pageInfo: { hasNextPage: boolean };
      };
    };
    // Warm the API key cache so authentication is not counted in one run and not the other.
    await ok(query, { box: box.id, first: 1 });

    const counts: Record<number, { statements: number; poolCalls: number }> = {};
    for (const first of [10, 100]) {
      let page: Page | undefined;
      const { sent, poolCalls } = await statementsInFlight(t.c.database.pool, async () => {
        page = await ok<Page>(query, { box: box.id, first });
      });
      counts[first] = { statements: sent.length, poolCalls };
      const edges = page!.specimens.edges;
      expect(edges).toHaveLength(first);
      expect(page!.specimens.pageInfo.hasNextPage).toBe(first < 100);
      for (const { node } of edges) {
        expect(node.parent.id).toBe(parent.id);
        expect(node.parent.location.path).toMatch(/ \/ A1$/);
        expect(node.latestCustodyEvent.type).toBe('stored');
        expect(node.container.id).toBe(box.id);
      }
      expect(edges.map((e) => e.node.location.position)).toEqual(positions(first));
      // list + its locations, parents + their locations, latest custody events, containers.
      expect(sent.length, sent.join('\n')).toBeLessThanOrEqual(6);
    }
    console.info('SQL statements per GraphQL page', JSON.stringify(counts));
    expect(counts[100]!.statements).toBe(counts[10]!.statements);
  });

  it('loads direct children and container parents in one round each', async () => {
    const { freezer, box } = await freezerWithBox();
    const parents = await ok<{ registerSpecimens: { id: string }[] }>(
      `mutation ($specimens: [RegisterSpecimenInput!]!) { registerSpecimens(specimens: $specimens) { id } }`,
      {
        specimens: positions(3).map((position) => ({
          barcode: code('P'),
          type: 'serum',
          quantity: 10,
          containerId: box.id,
          position,
        })),
      },
    );
    for (const p of parents.registerSpecimens) {
      await ok(
        `mutation ($id: ID!) { aliquotSpecimen(id: $id, input: { aliquots: [{ quantity: 1 }, { quantity: 2 }] }) { parent { id } } }`,
        {
          id: p.id,
        },
      );
    }
    const data = await ok<{
      specimens: {
        edges: {
          node: {
            id: string;
            children: { parentId: string; lineage: string }[];
            container: { parent: { id: string; kind: string } };
          };
        }[];
      };
    }>(
      `query ($box: ID!) { specimens(filter: { containerId: $box }) { edges { node {
        id children { parentId lineage initialQuantity } container { parent { id kind } }
      } } } }`,
      { box: box.id },
    );
    expect(data.specimens.edges).toHaveLength(3);
    for (const { node } of data.specimens.edges) {
      expect(node.children).toHaveLength(2);
      expect(node.children.every((c) => c.parentId === node.id && c.lineage === 'aliquot')).toBe(true);
      expect(node.container.parent).toEqual({ id: freezer.id, kind: 'freezer' });
    }
  });
});

describe('mutations', () => {
  const SPLIT = `parent { id status availableQuantity children { id } } children { id barcode lineage parentId status availableQuantity location { position } latestCustodyEvent { type } }`;

  it('runs a lifecycle (register, check out, check in, aliquot) with coded refusals', async () => {
    const { box } = await freezerWithBox();
    const registered = await ok<{ registerSpecimen: { id: string; status: string; version: number } }>(
      `mutation ($input: RegisterSpecimenInput!) { registerSpecimen(input: $input) { id status version } }`,
      // Explicit nulls for optional fields are read as absent.
      { input: { barcode: code('LIFE'), type: 'whole_blood', quantity: 4, participantId: null, unit: null } },
    );
    const id = registered.registerSpecimen.id;
    expect(registered.registerSpecimen.status).toBe('pending');

    // A pending tube cannot be checked out.
    const early = await gql(`mutation ($id: ID!) { checkOutSpecimen(id: $id) { id } }`, { id });
    expect(early.data).toBeNull();
    expect(early.errors).toHaveLength(1);
    expect(early.errors![0]).toMatchObject({
      path: ['checkOutSpecimen'],
      extensions: { code: 'INVALID_TRANSITION', status: 409 },
    });

    const stored = await ok<{ storeSpecimen: { status: string; location: { position: string } } }>(
      `mutation ($id: ID!, $box: ID!) { storeSpecimen(id: $id, input: { containerId: $box, position: "C5" }) { status location { position } } }`,
      { id, box: box.id },
    );
    expect(stored.storeSpecimen).toEqual({ status: 'available', location: { position: 'C5' } });

    const out = await ok<{ checkOutSpecimen: { status: string; latestCustodyEvent: { type: string } } }>(
      `mutation ($id: ID!) { checkOutSpecimen(id: $id, input: { use: null, note: "for PCR" }) { status latestCustodyEvent { type } } }`,
      { id },
    );
    expect(out.checkOutSpecimen).toEqual({ status: 'in_use', latestCustodyEvent: { type: 'checked_out' } });

    const back = await ok<{
      checkInSpecimen: { status: string; freezeThawCount: number; location: { position: string } };
    }>(`mutation ($id: ID!) { checkInSpecimen(id: $id) { status freezeThawCount location { position } } }`, {
      id,
    });
    expect(back.checkInSpecimen).toEqual({
      status: 'available',
      freezeThawCount: 1,
      location: { position: 'C5' },
    });

    const split = await ok<{
      aliquotSpecimen: {
        parent: { id: string; status: string; availableQuantity: number; children: { id: string }[] };
        children: {
          id: string;
          lineage: string;
          parentId: string;
          status: string;
          location: { position: string } | null;
          latestCustodyEvent: { type: string };
        }[];
      };
    }>(
      `mutation ($id: ID!, $box: ID!) { aliquotSpecimen(id: $id, input: { aliquots: [
        { quantity: 1, containerId: $box, position: "D1" }, { quantity: 1.5, barcode: null }
      ] }) { ${SPLIT} } }`,
      { id, box: box.id },
    );
    const { parent, children } = split.aliquotSpecimen;
    expect(parent).toMatchObject({ id, status: 'available', availableQuantity: 1.5 });
    expect(children.map((c) => [c.lineage, c.parentId, c.location?.position ?? null])).toEqual([
      ['aliquot', id, 'D1'],
      ['aliquot', id, null],
    ]);
    expect(children[0]!.status).toBe('available');
    // The unplaced one's status is the service's to decide: GraphQL says what REST says.
    expect(children[1]!.status).toBe(
      (await rest<{ status: string }>('GET', `/v1/specimens/${children[1]!.id}`)).status,
    );
    expect(children.map((c) => c.latestCustodyEvent.type)).toEqual(['stored', 'created_from_parent']);
    expect(parent.children.map((c) => c.id)).toEqual(children.map((c) => c.id));

    // Too much drawn: the domain refusal, nothing written.
    const greedy = await gql(
      `mutation ($id: ID!) { aliquotSpecimen(id: $id, input: { aliquots: [{ quantity: 100 }] }) { parent { id } } }`,
      { id },
    );
    expect(greedy.errors?.[0]?.extensions.code).toBe('INSUFFICIENT_QUANTITY');

    const custody = await ok<{ custody: { type: string }[]; verifyCustody: { valid: boolean } }>(
      `query ($id: ID!) { custody(specimenId: $id) { type } verifyCustody(specimenId: $id) { valid } }`,
      { id },
    );
    expect(custody.custody.map((e) => e.type)).toEqual([
      'registered',
      'stored',
      'checked_out',
      'checked_in',
      'thawed',
      'aliquoted',
    ]);
    expect(custody.verifyCustody.valid).toBe(true);
  });

  it('refuses invalid input with VALIDATION_FAILED naming the field, before any write', async () => {
    const barcode = code('BAD');
    const body = await gql(
      `mutation { registerSpecimen(input: { barcode: "${barcode}", type: serum, quantity: -1 }) { id } }`,
    );
    expect(body.data).toBeNull();
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    expect(body.errors![0]!.extensions.errors?.map((e) => e.field)).toEqual(['quantity']);
    const { rowCount } = await t.sql.query('select 1 from specimen where barcode = $1', [barcode]);
    expect(rowCount).toBe(0);

    const badId = await gql(`mutation { checkInSpecimen(id: "nope") { id } }`);
    expect(badId.errors![0]!.extensions.code).toBe('VALIDATION_FAILED');
    expect(badId.errors![0]!.extensions.errors?.[0]?.field).toBe('id');
  });

  it('answers a bad variable with a status however often the document ran (compiled or not)', async () => {
    const query = 'query ($f: SpecimenFilter) { specimens(filter: $f, first: 1) { edges { node { id } } } }';
    expect((await gql(query, { f: { type: 'plasma' } })).errors).toBeUndefined();
    for (let i = 0; i < 3; i++) {
      const bad = await gql(query, { f: { type: 'PLASMA' } });
      expect(bad.errors![0]!.extensions, `run ${i}`).toMatchObject({
        code: 'GRAPHQL_VALIDATION_FAILED',
        status: 400,
      });
    }
  });

  it('reads a variable written inside a JSON literal', async () => {
    const barcode = code('JL');
    const body = await gql(
      `mutation ($r: Float) { registerSpecimen(input: { barcode: "${barcode}", type: plasma, quantity: 1, quality: { rin: $r } }) { quality } }`,
      { r: 7.5 },
    );
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ registerSpecimen: { quality: { rin: 7.5 } } });
  });

  it('updates with expectedVersion: null clears a field, a stale version is VERSION_CONFLICT', async () => {
    const created = await ok<{ registerSpecimen: { id: string; version: number } }>(
      `mutation { registerSpecimen(input: { barcode: "${code('UPD')}", type: urine, quantity: 10, anatomicSite: "bladder" }) { id version } }`,
    );
    const { id, version } = created.registerSpecimen;
    const updated = await ok<{
      updateSpecimen: { anatomicSite: string | null; pathologyStatus: string; version: number };
    }>(
      `mutation ($id: ID!, $v: Int!) { updateSpecimen(id: $id, expectedVersion: $v, input: { anatomicSite: null, pathologyStatus: normal, quality: null }) { anatomicSite pathologyStatus version } }`,
      { id, v: version },
    );
    expect(updated.updateSpecimen).toEqual({
      anatomicSite: null,
      pathologyStatus: 'normal',
      version: version + 1,
    });
    const stale = await gql(
      `mutation ($id: ID!, $v: Int!) { updateSpecimen(id: $id, expectedVersion: $v, input: { anatomicSite: "x" }) { id } }`,
      { id, v: version },
    );
    expect(stale.errors![0]!.extensions).toMatchObject({
      code: 'VERSION_CONFLICT',
      currentVersion: version + 1,
    });
  });

  it('runs the other specimen actions and scans', async () => {
    const { box } = await freezerWithBox();
    const reg = await ok<{ registerSpecimens: { id: string; barcode: string }[] }>(
      `mutation ($s: [RegisterSpecimenInput!]!) { registerSpecimens(specimens: $s) { id barcode } }`,
      { s: [1, 2, 3].map(() => ({ barcode: code('ACT'), type: 'serum', quantity: 3 })) },
    );
    const [a, b, c] = reg.registerSpecimens;
    const act = async (mutation: string, id: string, input?: string) =>
      (
        await ok<Record<string, { status: string; holds: string[]; availableQuantity: number }>>(
          `mutation ($id: ID!) { r: ${mutation}(id: $id${input ? `, input: ${input}` : ''}) { status holds availableQuantity } }`,
          { id },
        )
      ).r!;
    expect((await act('receiveSpecimen', a!.id, `{ containerId: "${box.id}", position: "A1" }`)).status).toBe(
      'available',
    );
    await act('moveSpecimen', a!.id, `{ containerId: "${box.id}", position: "A2" }`);
    expect(await act('consumeSpecimen', a!.id, '{ quantity: 1 }')).toMatchObject({ availableQuantity: 2 });
    expect((await act('placeHold', a!.id, '{ reason: QUARANTINE }')).holds).toEqual(['QUARANTINE']);
    expect((await act('releaseHold', a!.id, '{ reason: QUARANTINE }')).holds).toEqual([]);
    expect((await act('markSpecimenMissing', a!.id, '{ reason: "not in its box" }')).status).toBe('missing');
    expect(
      (await act('markSpecimenFound', a!.id, `{ containerId: "${box.id}", position: "A3" }`)).status,
    ).toBe('available');
    expect((await act('destroySpecimen', b!.id)).status).toBe('destroyed');

    const derived = await ok<{ deriveSpecimen: { children: { type: string; lineage: string }[] } }>(
      `mutation ($id: ID!) { deriveSpecimen(id: $id, input: { type: protein, consumedQuantity: 1, derivatives: [{ quantity: 0.2 }] }) { children { type lineage } } }`,
      { id: a!.id },
    );
    expect(derived.deriveSpecimen.children).toEqual([{ type: 'protein', lineage: 'derivative' }]);

    const scans = await ok<{
      applyScans: { barcode: string; status: string; location: { position: string } }[];
    }>(
      `mutation ($scans: [ScanInput!]!) { applyScans(scans: $scans) { barcode status location { position } } }`,
      { scans: [{ action: 'store', barcode: c!.barcode, containerId: box.id, position: 'J10', use: null }] },
    );
    expect(scans.applyScans).toEqual([
      { barcode: c!.barcode, status: 'available', location: { position: 'J10' } },
    ]);
  });

  it('configures storage: create, update, move containers and reconcile a rack scan', async () => {
    const created = await ok<{ f1: { id: string }; f2: { id: string } }>(
      `mutation { f1: createContainer(input: { kind: freezer, barcode: "${code('GF')}", temperatureC: -80 }) { id }
                  f2: createContainer(input: { kind: freezer, barcode: "${code('GF')}", name: null }) { id } }`,
    );
    const box = await ok<{
      createContainer: { id: string; version: number; path: string; grid: { rows: number } };
    }>(
      `mutation ($p: ID!) { createContainer(input: { kind: box, barcode: "${code('GB')}", parentId: $p, grid: { rows: 2, cols: 2, scheme: null }, allowedTypes: [serum] }) { id version path grid { rows } } }`,
      { p: created.f1.id },
    );
    const boxId = box.createContainer.id;
    const updated = await ok<{
      updateContainer: { name: string; allowedTypes: string[] | null; version: number };
    }>(
      `mutation ($id: ID!, $v: Int!) { updateContainer(id: $id, expectedVersion: $v, input: { name: "Serum box", allowedTypes: null }) { name allowedTypes version } }`,
      { id: boxId, v: box.createContainer.version },
    );
    expect(updated.updateContainer).toEqual({
      name: 'Serum box',
      allowedTypes: null,
      version: box.createContainer.version + 1,
    });
    const moved = await ok<{ moveContainer: { parentId: string; parent: { id: string } } }>(
      `mutation ($id: ID!, $p: ID!) { moveContainer(id: $id, input: { parentId: $p }) { parentId parent { id } } }`,
      { id: boxId, p: created.f2.id },
    );
    expect(moved.moveContainer).toEqual({ parentId: created.f2.id, parent: { id: created.f2.id } });

    const tube = await ok<{ registerSpecimen: { barcode: string } }>(
      `mutation ($box: ID!) { registerSpecimen(input: { barcode: "${code('RS')}", type: serum, quantity: 1, containerId: $box, position: "A1" }) { barcode } }`,
      { box: boxId },
    );
    const scan = await ok<{
      rackScan: {
        applied: boolean;
        matched: { position: string }[];
        unknown: { barcode: string }[];
        missing: unknown[];
      };
    }>(
      `mutation ($id: ID!, $tube: String!) { rackScan(id: $id, input: { readings: [
        { position: "A1", barcode: $tube }, { position: "A2", barcode: "NOT-OURS" }, { position: "B1" }, { position: "B2", barcode: null }
      ] }) { applied matched { position } unknown { barcode } missing { barcode } } }`,
      { id: boxId, tube: tube.registerSpecimen.barcode },
    );
    expect(scan.rackScan).toEqual({
      applied: false,
      matched: [{ position: 'A1' }],
      unknown: [{ barcode: 'NOT-OURS' }],
      missing: [],
    });

    const listed = await ok<{ containers: { id: string; map: unknown }[] }>(
      `query ($p: ID!) { containers(parentId: $p) { id map { occupied } } }`,
      { p: created.f2.id },
    );
    expect(listed.containers).toEqual([{ id: boxId, map: { occupied: 1 } }]);
    const noGrid = await ok<{ container: { map: unknown } }>(
      `query ($id: ID!) { container(id: $id) { map { rows } } }`,
      {
        id: created.f2.id,
      },
    );
    expect(noGrid.container.map).toBeNull();
    const badCount = await gql(
      `query ($id: ID!) { container(id: $id) { id freePositions(count: 0) { position } } }`,
      {
        id: boxId,
      },
    );
    expect(badCount.errors![0]!.extensions.code).toBe('VALIDATION_FAILED');
  });

  it('creates protocols and registers participants', async () => {
    const protocol = await ok<{ createProtocol: { id: string; consentTiers: string[] } }>(
      `mutation { createProtocol(input: { code: "${code('GP')}", title: "Cohort", ethicsApprovalRef: "EC-1" }) { id consentTiers } }`,
    );
    expect(protocol.createProtocol.consentTiers).toEqual([]);
    const participant = await ok<{
      registerParticipant: { protocolId: string; sex: string; diagnoses: string[]; identity: unknown };
    }>(
      `mutation ($p: ID!) { registerParticipant(input: { protocolId: $p, protocolParticipantId: "D-1", diagnoses: ["c50.9"], birthYear: null }) {
        protocolId sex diagnoses identity { protocolParticipantId birthYear hasMrn } } }`,
      { p: protocol.createProtocol.id },
    );
    expect(participant.registerParticipant).toEqual({
      protocolId: protocol.createProtocol.id,
      sex: 'unknown',
      diagnoses: ['C50.9'],
      identity: { protocolParticipantId: 'D-1', birthYear: null, hasMrn: false },
    });
    const page = await ok<{ participants: { edges: unknown[]; pageInfo: { hasNextPage: boolean } } }>(
      `query ($p: ID!) { participants(protocolId: $p) { edges { cursor } pageInfo { hasNextPage endCursor } } }`,
      { p: protocol.createProtocol.id },
    );
    expect(page.participants.edges).toHaveLength(1);
    expect(page.participants.pageInfo.hasNextPage).toBe(false);
  });
});

describe('pagination and limits', () => {
  it('pages with first/after until hasNextPage is false', async () => {
    const { box } = await freezerWithBox(2, 3);
    await ok(`mutation ($s: [RegisterSpecimenInput!]!) { registerSpecimens(specimens: $s) { id } }`, {
      s: ['A1', 'A2', 'A3', 'B1', 'B2'].map((position) => ({
        barcode: code('PG'),
        type: 'serum',
        quantity: 1,
        containerId: box.id,
        position,
      })),
    });
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const data: {
        specimens: {
          edges: { cursor: string; node: { id: string } }[];
          pageInfo: { endCursor: string | null; hasNextPage: boolean };
        };
      } = await ok(
        `query ($box: ID!, $after: String) { specimens(filter: { containerId: $box, held: false }, first: 2, after: $after) {
            edges { cursor node { id } } pageInfo { endCursor hasNextPage } } }`,
        { box: box.id, after },
      );
      seen.push(...data.specimens.edges.map((e) => e.node.id));
      expect(data.specimens.pageInfo.endCursor).toBe(data.specimens.edges.at(-1)?.cursor ?? null);
      if (!data.specimens.pageInfo.hasNextPage) break;
      after = data.specimens.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);

    const bad = await gql(`{ specimens(after: "garbage!") { edges { cursor } } }`);
    expect(bad.errors![0]!.extensions.code).toBe('INVALID_CURSOR');
    expect(bad.errors![0]!.extensions.errors?.map((e) => e.field)).toEqual(['after']);
    const tooMany = await gql(`{ specimens(first: 501) { edges { cursor } } }`);
    expect(tooMany.errors![0]!.extensions.code).toBe('VALIDATION_FAILED');
    // The refusal names the argument the caller wrote, not the service's `limit`.
    expect(tooMany.errors![0]!.extensions.errors?.map((e) => e.field)).toEqual(['first']);
    const none = await gql(`{ participants(first: 0) { edges { cursor } } }`);
    expect(none.errors![0]!.extensions.errors?.map((e) => e.field)).toEqual(['first']);
  });

  it('refuses a document with too many aliases before running it', async () => {
    const fields = Array.from({ length: 31 }, (_, i) => `a${i}: specimens(first: 500) { edges { cursor } }`);
    const body = await gql(`{ ${fields.join(' ')} }`);
    expect(body.data).toBeNull();
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.extensions.code).toBe('TOO_MANY_ALIASES');
    expect(body.errors![0]!.message).toMatch(/31 aliases; at most 30/);
  });

  it('limits depth through relations but not introspection', async () => {
    const deep = await gql(
      `{ specimens { edges { node { parent { parent { parent { parent { parent { id } } } } } } } } }`,
    );
    expect(deep.errors![0]!.extensions.code).toBe('QUERY_TOO_DEEP');
    const typeDepth = await gql(
      `{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } }`,
    );
    expect(typeDepth.errors).toBeUndefined();
  });
});
