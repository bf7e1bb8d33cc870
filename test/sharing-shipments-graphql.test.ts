import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlRequests } from './helpers/graphql.js';
import { makePair, reservedRequest, type ProviderItem } from './helpers/shipments.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// Shipments over GraphQL: the same services, DTOs and codes as REST, from preparing the shipment
// to completing the request, and the receiver's custody link.

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ workers: true });
});
afterAll(() => t.close());

describe('over GraphQL', () => {
  it('prepares, scans out, dispatches, receives and completes through the same services', async () => {
    const p = await makePair(t);
    const r = await reservedRequest(t, p, 1);
    const [a] = r.items as [ProviderItem];
    const { ok, refusal } = graphqlRequests(
      () => t,
      () => p.provider.lab.keys.manager,
    );
    const asRequester = p.requester.keys.manager;
    const SHIPMENT =
      'id shippingTemperature counts { state count } manifest { sampleCode state specimen { id } receivedSpecimen { id barcode } }';

    expect(await ok(`query($id: ID!) { sharingShipment(id: $id) { id } }`, { id: r.id })).toEqual({
      sharingShipment: null,
    });
    const created = await ok<{ createSharingShipment: { manifest: { specimen: { id: string } }[] } }>(
      `mutation($id: ID!) { createSharingShipment(id: $id) { ${SHIPMENT} } }`,
      { id: r.id },
    );
    expect(created.createSharingShipment.manifest[0]!.specimen.id).toBe(a.specimen.id);
    const pick = await ok<{ sharingPickList: { lines: { barcode: string; position: string }[] } }>(
      `query($id: ID!) { sharingPickList(id: $id) { lines { barcode position } } }`,
      { id: r.id },
    );
    expect(pick.sharingPickList.lines.map((l) => l.barcode)).toEqual([a.specimen.barcode]);
    expect(pick.sharingPickList.lines[0]!.position).toMatch(/^[A-I][1-9]$/);
    const stray = await refusal(
      `mutation($id: ID!) { scanOutSharingItem(id: $id, barcode: "NOPE") { toPick } }`,
      {
        id: r.id,
      },
    );
    expect(stray.extensions.code).toBe('SPECIMEN_NOT_FOUND');
    const scanned = await ok<{ scanOutSharingItem: { scannedOut: number; toPick: number } }>(
      `mutation($id: ID!, $b: String!) { scanOutSharingItem(id: $id, barcode: $b) { scannedOut toPick item { state } } }`,
      { id: r.id, b: a.specimen.barcode },
    );
    expect(scanned.scanOutSharingItem).toMatchObject({ scannedOut: 1, toPick: 0 });
    const sent = await ok<{ dispatchSharingShipment: { shippingTemperature: string } }>(
      `mutation($id: ID!, $input: DispatchSharingShipmentInput!) { dispatchSharingShipment(id: $id, input: $input) { ${SHIPMENT} } }`,
      {
        id: r.id,
        input: { courier: 'Courier', trackingNumber: 'GQL-1', shippingTemperature: 'refrigerated' },
      },
    );
    expect(sent.dispatchSharingShipment.shippingTemperature).toBe('refrigerated');
    expect(
      (await t.sql.query('select shipping_temperature from shipment where request_id = $1', [r.id])).rows,
    ).toEqual([{ shipping_temperature: '2_8c' }]);

    const refused = await refusal(
      `mutation($id: ID!, $input: ReceiveSharingItemsInput!) { receiveSharingItems(id: $id, input: $input) { id } }`,
      { id: r.id, input: { items: [{ sampleCode: 'S0999', outcome: 'received' }] } },
      asRequester,
    );
    expect(refused.extensions.code).toBe('NOT_IN_SHIPMENT');
    const received = await ok<{
      receiveSharingItems: {
        counts: unknown;
        manifest: { specimen: unknown; receivedSpecimen: { id: string; barcode: string } }[];
      };
    }>(
      `mutation($id: ID!, $input: ReceiveSharingItemsInput!) { receiveSharingItems(id: $id, input: $input) { ${SHIPMENT} } }`,
      { id: r.id, input: { items: [{ sampleCode: a.sampleCode, outcome: 'received' }] } },
      asRequester,
    );
    expect(received.receiveSharingItems.counts).toEqual([{ state: 'received', count: 1 }]);
    expect(received.receiveSharingItems.manifest[0]).toMatchObject({
      specimen: null,
      receivedSpecimen: { barcode: a.specimen.barcode },
    });
    const mine = await ok<{ verifyCustody: unknown }>(
      `query($id: ID!) { verifyCustody(specimenId: $id) { valid link { providerInstitutionId matches } } }`,
      { id: received.receiveSharingItems.manifest[0]!.receivedSpecimen.id },
      asRequester,
    );
    expect(mine.verifyCustody).toEqual({
      valid: true,
      link: { providerInstitutionId: p.provider.lab.institution.id, matches: true },
    });
    const done = await ok<{ completeSharingRequest: { state: string } }>(
      `mutation($id: ID!) { completeSharingRequest(id: $id) { state } }`,
      { id: r.id },
      asRequester,
    );
    expect(done.completeSharingRequest.state).toBe('completed');
    await p.hooks.close();
  });
});
