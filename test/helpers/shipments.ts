import { expect } from 'vitest';
import { uid, type ContainerBody, type SpecimenBody } from './inventory.js';
import { makeAgreement, makeProvider, makeRequester, type Provider, type Requester } from './sharing.js';
import { bearer, until, type TestApp } from './test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

// Shipment fixtures: two institutions with an agreement, webhooks of both going to one local
// receiver (one path each), and a request walked to `reserved` through the REST API. The app must
// run its workers (the proposal, the notifications and their deliveries are jobs).

export interface Pair {
  provider: Provider;
  requester: Requester;
  agreementId: string;
  hooks: WebhookReceiver;
}

export interface Hook {
  type: string;
  data: {
    requestId: string;
    action: string;
    toState: string;
    details: Record<string, unknown>;
  } & Record<string, unknown>;
}

async function pointWebhooks(t: TestApp, institutionId: string, adminKey: string, url: string) {
  const res = await t.app.inject({
    method: 'PATCH',
    url: `/v1/institutions/${institutionId}`,
    headers: { ...bearer(adminKey), 'if-match': 'W/"1"' },
    payload: { webhookUrl: url },
  });
  expect(res.statusCode, res.body).toBe(200);
}

export async function makePair(t: TestApp): Promise<Pair> {
  const provider = await makeProvider(t);
  const requester = await makeRequester(t);
  const agreementId = (await makeAgreement(provider, requester.institution.id)).id;
  const hooks = await startWebhookReceiver();
  await pointWebhooks(t, provider.lab.institution.id, provider.lab.keys.admin, `${hooks.url}/provider`);
  await pointWebhooks(t, requester.institution.id, requester.keys.admin, `${hooks.url}/requester`);
  return { provider, requester, agreementId, hooks };
}

/** The webhooks one side received, parsed. */
export const hooksOf = (p: Pair, side: 'provider' | 'requester'): Hook[] =>
  p.hooks.on(`/${side}`).map((h) => JSON.parse(h.body) as Hook);

/** Waits for a webhook of `type` about the request to reach one side. */
export const hookArrives = (p: Pair, side: 'provider' | 'requester', type: string, requestId: string) =>
  until(async () => hooksOf(p, side).find((h) => h.type === type && h.data.requestId === requestId));

export interface ProviderItem {
  id: string;
  sampleCode: string;
  donorCode: string;
  state: string;
  specimen: { id: string; barcode: string };
}

/**
 * A request for `tubes` plasma tubes, each of its own donor, walked to `reserved`: the tubes are
 * stored in two boxes of the provider. Returns the request id, the donors and the reserved items.
 */
export async function reservedRequest(
  t: TestApp,
  p: Pair,
  tubes: number,
): Promise<{ id: string; donors: string[]; stock: SpecimenBody[]; items: ProviderItem[] }> {
  const boxes = [await p.provider.box(), await p.provider.box()];
  const donors: string[] = [];
  const stock: SpecimenBody[] = [];
  for (let i = 0; i < tubes; i++) {
    const donor = await p.provider.donor();
    donors.push(donor);
    stock.push(await p.provider.specimen(donor, boxes[i % 2]!));
  }
  const created = await p.requester.call('POST', '/v1/sharing-requests', {
    providerInstitutionId: p.provider.lab.institution.id,
    agreementId: p.agreementId,
    use: 'external_sharing',
    ethicsApprovalRef: 'EC-SHIP-1',
    criteria: { specimenTypes: ['plasma'] },
    specimenCount: tubes,
    quantityPerSpecimen: 0.5,
    unit: 'mL',
    purpose: 'Shipment across institutions',
  });
  expect(created.statusCode, created.body).toBe(201);
  const id = created.json<{ id: string }>().id;
  expect((await p.requester.call('POST', `/v1/sharing-requests/${id}/submit`, {})).statusCode).toBe(200);
  // The proposal is the worker's.
  await until(
    async () =>
      (await p.provider.lab.get(`/v1/sharing-requests/${id}`)).json<{ proposedAt: string | null }>()
        .proposedAt,
  );
  const review = await p.provider.lab.post(`/v1/sharing-requests/${id}/start-review`, {});
  expect(review.statusCode, review.body).toBe(200);
  const approved = await p.provider.lab.post(`/v1/sharing-requests/${id}/approve`, {});
  expect(approved.statusCode, approved.body).toBe(200);
  expect(approved.json<{ state: string }>().state).toBe('reserved');
  const items = (await p.provider.lab.get(`/v1/sharing-requests/${id}/items`)).json<{
    items: ProviderItem[];
  }>().items;
  expect(items).toHaveLength(tubes);
  return { id, donors, stock, items };
}

/** Creates the shipment, scans every item out and dispatches it. */
export async function dispatched(t: TestApp, p: Pair, r: { id: string; items: ProviderItem[] }) {
  const base = `/v1/sharing-requests/${r.id}/shipment`;
  expect((await p.provider.lab.post(base, {})).statusCode).toBe(201);
  for (const i of r.items) {
    const s = await p.provider.lab.post(
      `${base}/scan-out`,
      { barcode: i.specimen.barcode },
      { role: 'technician' },
    );
    expect(s.statusCode, s.body).toBe(200);
  }
  const d = await p.provider.lab.post(`${base}/dispatch`, {
    courier: 'World Courier',
    trackingNumber: uid('TRK'),
    shippingTemperature: 'dry_ice',
  });
  expect(d.statusCode, d.body).toBe(200);
}

/** A 9 x 9 box of the requesting institution, to store received tubes in. */
export async function requesterBox(p: Pair): Promise<ContainerBody> {
  const call = (payload: Record<string, unknown>) =>
    p.requester.call('POST', '/v1/containers', { barcode: uid('C'), ...payload }, { role: 'manager' });
  const freezer = await call({ kind: 'freezer', temperatureC: -80 });
  expect(freezer.statusCode, freezer.body).toBe(201);
  const box = await call({
    kind: 'box',
    parentId: freezer.json<{ id: string }>().id,
    grid: { rows: 9, cols: 9 },
  });
  expect(box.statusCode, box.body).toBe(201);
  return box.json<ContainerBody>();
}
