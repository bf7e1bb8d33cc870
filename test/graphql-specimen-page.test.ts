import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { custodyEventDto } from '../src/modules/specimens/specimens.schemas.js';
import { graphqlRequests, statementsInFlight } from './helpers/graphql.js';
import { createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// The GraphQL specimen page builds only the fields a query selects, and reads each tube's
// container, the container's parent and its latest custody event in its one statement (issue 16):
// what it answers is what the specimen, container and custody queries answer.

let t: TestApp;
let bank: Awaited<ReturnType<typeof makeInstitution>>;

beforeAll(async () => {
  t = await createTestApp();
  bank = await makeInstitution(t, { roles: ['admin'] });
});
afterAll(() => t.close());

const { ok, rest } = graphqlRequests(
  () => t,
  () => bank.keys.admin,
);

let seq = 0;
const code = (prefix: string) => `${prefix}-${++seq}-${Math.random().toString(36).slice(2, 7)}`;

// Every container field the page writes in SQL; `slot` and `path` go through the storage service.
const CONTAINER =
  'id kind barcode name parentId temperatureC grid { rows cols scheme fillOrder } allowedTypes createdAt updatedAt version';
const EVENT = Object.keys(custodyEventDto.shape)
  .map((f) => (f === 'actorIdentity' ? 'actorIdentity { name role institutionCode }' : f))
  .join(' ');
const SPECIMEN =
  'id barcode holds quality externalIds { system value } availableQuantity collectedAt updatedAt';

type Node = {
  id: string;
  container: ({ id: string; parent: unknown } & Record<string, unknown>) | null;
  latestCustodyEvent: Record<string, unknown> | null;
} & Record<string, unknown>;

describe('GraphQL specimen page', () => {
  it('answers the selected fields, the container with its parent and the latest event as their own queries do, in one statement', async () => {
    const rack = await rest<{ id: string }>('POST', '/v1/containers', {
      kind: 'freezer',
      barcode: code('FRZ'),
      temperatureC: -80,
    });
    const box = await rest<{ id: string }>('POST', '/v1/containers', {
      kind: 'box',
      barcode: code('BOX'),
      parentId: rack.id,
      grid: { rows: 9, cols: 9 },
      allowedTypes: ['plasma', 'serum'],
    });
    for (const position of ['A1', 'B2']) {
      await rest('POST', '/v1/specimens', {
        barcode: code('TUBE'),
        type: 'plasma',
        quantity: 1.5,
        collectedAt: '2024-05-01T08:30:00.123+02:00',
        quality: { rin: 8.1 },
        externalIds: [{ system: 'LIS', value: code('L') }],
        containerId: box.id,
        position,
      });
    }
    const loose = await rest<{ id: string }>('POST', '/v1/specimens', {
      barcode: code('LOOSE'),
      type: 'serum',
      quantity: 1,
    });
    await rest('POST', `/v1/specimens/${loose.id}/place-hold`, { reason: 'QUARANTINE' });

    const query = `{ specimens(first: 10) { edges { node {
      ${SPECIMEN} container { ${CONTAINER} parent { ${CONTAINER} } } latestCustodyEvent { ${EVENT} }
    } } } }`;
    await ok(query); // the API key is cached: only the page is counted
    let data: { specimens: { edges: { node: Node }[] } } | undefined;
    const { sent } = await statementsInFlight(t.c.database.pool, async () => {
      data = await ok(query);
    });
    expect(sent, sent.join('\n')).toHaveLength(1);

    const nodes = data!.specimens.edges.map((e) => e.node);
    expect(nodes).toHaveLength(3);
    for (const node of nodes) {
      const restSpecimen = await rest<Record<string, unknown>>('GET', `/v1/specimens/${node.id}`);
      const { container, latestCustodyEvent, ...fields } = node;
      expect(fields).toEqual(Object.fromEntries(Object.keys(fields).map((k) => [k, restSpecimen[k]])));

      const own = await ok<{ container: unknown }>(
        `query ($id: ID!) { container(id: $id) { ${CONTAINER} parent { ${CONTAINER} } } }`,
        { id: container?.id ?? box.id },
      );
      expect(container).toEqual(node.id === loose.id ? null : own.container);

      const custody = await ok<{ custody: unknown[] }>(
        `query ($id: ID!) { custody(specimenId: $id) { ${EVENT} } }`,
        { id: node.id },
      );
      expect(latestCustodyEvent).toEqual(custody.custody.at(-1));
    }
    // Not vacuous: a box in a freezer, a tube on hold outside any box.
    expect(nodes.find((n) => n.id !== loose.id)?.container).toMatchObject({
      id: box.id,
      grid: { rows: 9, cols: 9 },
      allowedTypes: ['plasma', 'serum'],
      parent: { id: rack.id, temperatureC: -80, parentId: null },
    });
    expect(nodes.find((n) => n.id === loose.id)).toMatchObject({ holds: ['QUARANTINE'], container: null });
  });
});
