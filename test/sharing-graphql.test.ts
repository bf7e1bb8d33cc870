import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlRequests } from './helpers/graphql.js';
import {
  makeAgreement,
  makeProvider,
  makeRequester,
  runProposalJob,
  type Provider,
  type Requester,
} from './helpers/sharing.js';
import { createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// The sharing requests over GraphQL: the same services, the same DTOs and codes as REST.

let t: TestApp;
let provider: Provider;
let requester: Requester;
let agreementId: string;
const { gql, ok, refusal } = graphqlRequests(
  () => t,
  () => requester.keys.partner,
);

const FIELDS = 'id state side allowedActions version reservationDeadline criteria';

beforeAll(async () => {
  t = await createTestApp();
  provider = await makeProvider(t);
  requester = await makeRequester(t);
  agreementId = (await makeAgreement(provider, requester.institution.id)).id;
  const box = await provider.box();
  for (let i = 0; i < 2; i++) await provider.specimen(await provider.donor(), box);
});
afterAll(() => t.close());

const input = (extra: Record<string, unknown> = {}) => ({
  providerInstitutionId: provider.lab.institution.id,
  agreementId,
  use: 'genetic_research',
  ethicsApprovalRef: 'EC-GQL',
  criteria: { specimenTypes: ['plasma'] },
  specimenCount: 2,
  quantityPerSpecimen: 0.5,
  unit: 'mL',
  purpose: 'GraphQL',
  ...extra,
});

describe('sharing requests over GraphQL', () => {
  it('walks a request from draft to reserved, each side seeing its own view', async () => {
    const created = await ok<{ createSharingRequest: { id: string; state: string; criteria: unknown } }>(
      `mutation($input: CreateSharingRequestInput!) { createSharingRequest(input: $input) { ${FIELDS} } }`,
      { input: input() },
    );
    const id = created.createSharingRequest.id;
    expect(created.createSharingRequest).toMatchObject({
      state: 'draft',
      criteria: { specimenTypes: ['plasma'] },
    });
    await ok(`mutation($id: ID!) { submitSharingRequest(id: $id) { id } }`, { id });
    await runProposalJob(t, id);
    const asProvider = provider.lab.keys.manager;
    await ok(`mutation($id: ID!) { startSharingRequestReview(id: $id) { id } }`, { id }, asProvider);
    const items = `query($id: ID!) { sharingRequestItems(id: $id) { edges { node { sampleCode donorCode state type specimen { barcode } } } } }`;
    type Items = { sharingRequestItems: { edges: { node: { specimen: { barcode: string } | null } }[] } };
    const providerItems = await ok<Items>(items, { id }, asProvider);
    expect(providerItems.sharingRequestItems.edges).toHaveLength(2);
    expect(providerItems.sharingRequestItems.edges.every((e) => e.node.specimen !== null)).toBe(true);
    const requesterItems = await ok<Items>(items, { id });
    expect(requesterItems.sharingRequestItems.edges.map((e) => e.node.specimen)).toEqual([null, null]);

    const until = new Date(Date.now() + 60 * 86_400_000).toISOString();
    const approved = await ok<{ approveSharingRequest: { state: string; reservationDeadline: string } }>(
      `mutation($id: ID!) { approveSharingRequest(id: $id, reservedUntil: "${until}") { ${FIELDS} } }`,
      { id },
      asProvider,
    );
    expect(approved.approveSharingRequest).toMatchObject({
      state: 'reserved',
      reservationDeadline: until,
    });
    const again = await refusal(
      `mutation($id: ID!) { approveSharingRequest(id: $id) { id } }`,
      { id },
      asProvider,
    );
    expect(again.extensions.code).toBe('INVALID_REQUEST_TRANSITION');

    const events = await ok<{ sharingRequestEvents: { edges: { node: { action: string } }[] } }>(
      `query($id: ID!) { sharingRequestEvents(id: $id, first: 100) { edges { node { action toState at } } } }`,
      { id },
    );
    expect(events.sharingRequestEvents.edges.map((e) => e.node.action)).toEqual([
      'submit',
      'propose',
      'start_review',
      'approve',
      'reserve',
    ]);
    const cancelled = await ok<{ cancelSharingRequest: { state: string } }>(
      `mutation($id: ID!) { cancelSharingRequest(id: $id, reason: "no longer needed") { state } }`,
      { id },
    );
    expect(cancelled.cancelSharingRequest.state).toBe('cancelled');
  });

  it('answers codes as REST does and null for another institution', async () => {
    const bad = await refusal(
      `mutation($input: CreateSharingRequestInput!) { createSharingRequest(input: $input) { id } }`,
      { input: input({ criteria: { ageBands: [45] } }) },
    );
    expect(bad.extensions.code).toBe('VALIDATION_FAILED');
    expect(bad.extensions.errors?.map((e) => e.field)).toEqual(['criteria.ageBands.0']);
    const outside = await refusal(
      `mutation($input: CreateSharingRequestInput!) { createSharingRequest(input: $input) { id } }`,
      { input: input({ use: 'commercial_use' }) },
    );
    expect(outside.extensions.code).toBe('USE_NOT_IN_AGREEMENT');
    const created = await ok<{ createSharingRequest: { id: string } }>(
      `mutation($input: CreateSharingRequestInput!) { createSharingRequest(input: $input) { id } }`,
      { input: input() },
    );
    const stranger = await makeInstitution(t);
    const hidden = await gql<{ sharingRequest: null }>(
      `query($id: ID!) { sharingRequest(id: $id) { id } }`,
      { id: created.createSharingRequest.id },
      stranger.keys.admin,
    );
    expect(hidden.data?.sharingRequest).toBeNull();
    const list = await ok<{ sharingRequests: { edges: { node: { id: string } }[] } }>(
      `{ sharingRequests(side: requester, state: draft) { edges { node { id } } } }`,
    );
    expect(list.sharingRequests.edges.map((e) => e.node.id)).toContain(created.createSharingRequest.id);
  });
});
