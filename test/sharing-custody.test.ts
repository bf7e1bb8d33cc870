import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { custodyRows, expectProblem, specimenRow } from './helpers/inventory.js';
import {
  dispatched,
  hookArrives,
  hooksOf,
  makePair,
  reservedRequest,
  type Pair,
  type ProviderItem,
} from './helpers/shipments.js';
import { createTestApp, systemCtx, until, type TestApp } from './helpers/test-app.js';

// Custody across institutions after a donor withdraws consent at the provider: the consent
// cascade's subscriber takes the donor's tubes out of open requests (reservation released, the
// requester told) and holds the specimens a receiver already made of them (the receiver told),
// never naming the provider's specimens to the receiver.

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ workers: true });
});
afterAll(() => t.close());

interface ItemBody {
  id: string;
  sampleCode: string;
  state: string;
}
interface ManifestItem {
  sampleCode: string;
  state: string;
  receivedSpecimen: { id: string; barcode: string } | null;
}

/** Withdraws the consent of the donor of the provider's specimen (as the provider's manager). */
async function withdrawDonorOf(p: Pair, specimenId: string) {
  const { rows } = await t.sql.query<{ id: string }>(
    `select c.id from consent c join specimen s on s.participant_id = c.participant_id and s.protocol_id = c.protocol_id
      where s.id = $1 and c.superseded_at is null`,
    [specimenId],
  );
  expect(rows).toHaveLength(1);
  const res = await p.provider.lab.post(`/v1/consents/${rows[0]!.id}/withdraw`, {
    scope: 'stop_future_use',
    reason: 'donor request',
  });
  expect(res.statusCode, res.body).toBe(202);
}

const itemsAsProvider = async (p: Pair, id: string) =>
  (await p.provider.lab.get(`/v1/sharing-requests/${id}/items`)).json<{ items: ItemBody[] }>().items;

async function receiveAll(p: Pair, id: string, items: ProviderItem[]): Promise<ManifestItem[]> {
  const res = await p.requester.call(
    'POST',
    `/v1/sharing-requests/${id}/shipment/receipt`,
    { items: items.map((i) => ({ sampleCode: i.sampleCode, outcome: 'received' })) },
    { role: 'technician' },
  );
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ manifest: ManifestItem[] }>().manifest;
}

describe('a consent withdrawal at the provider', () => {
  it('takes the donor’s item out of an open request, releases its tube and tells the requester', async () => {
    const p = await makePair(t);
    const r = await reservedRequest(t, p, 3);
    const [a, b] = r.items as [ProviderItem, ProviderItem];
    await withdrawDonorOf(p, a.specimen.id);
    await until(
      async () => (await itemsAsProvider(p, r.id)).find((i) => i.id === a.id)?.state === 'withdrawn',
    );

    const items = await itemsAsProvider(p, r.id);
    expect(items.filter((i) => i.state === 'reserved').map((i) => i.sampleCode)).toHaveLength(2);
    const tube = await specimenRow(t, a.specimen.id);
    expect(tube).toMatchObject({ status: 'available', holds: ['CONSENT_WITHDRAWN'] });
    expect((await custodyRows(t, a.specimen.id)).slice(-2).map((e) => e.type)).toEqual([
      'consent_withdrawn',
      'reservation_released',
    ]);
    expect((await specimenRow(t, b.specimen.id)).status).toBe('reserved');

    const hook = await hookArrives(p, 'requester', 'sharing_request.items_withdrawn', r.id);
    expect(hook.data.details).toMatchObject({ sampleCodes: [a.sampleCode] });
    expect(JSON.stringify(hook)).not.toContain(a.specimen.id);
    expect(JSON.stringify(hook)).not.toContain(a.specimen.barcode);
    const timeline = await p.requester.call('GET', `/v1/sharing-requests/${r.id}/events?limit=100`);
    expect(
      timeline
        .json<{ items: { action: string; reason: string | null }[] }>()
        .items.find((e) => e.action === 'withdraw_items'),
    ).toMatchObject({ reason: 'the donor withdrew consent at the providing institution' });

    // Its tube cannot be shipped any more, and a refused scan changes nothing.
    const base = `/v1/sharing-requests/${r.id}/shipment`;
    expect((await p.provider.lab.post(base, {})).statusCode).toBe(201);
    const chain = (await custodyRows(t, a.specimen.id)).length;
    const refused = await p.provider.lab.post(`${base}/scan-out`, { barcode: a.specimen.barcode });
    expectProblem(refused, 409, 'ITEM_NOT_RESERVED');
    expect((await custodyRows(t, a.specimen.id)).length).toBe(chain);
    expect((await p.provider.lab.get(base)).json<{ counts: Record<string, number> }>().counts).toEqual({
      reserved: 2,
    });
    await p.hooks.close();
  });

  it('cancels a reserved request once its last tube is withdrawn, telling both institutions, and only then', async () => {
    const p = await makePair(t);
    const r = await reservedRequest(t, p, 2);
    const [a, b] = r.items as [ProviderItem, ProviderItem];
    const stateOf = async () =>
      (await p.requester.call('GET', `/v1/sharing-requests/${r.id}`)).json<{
        state: string;
        reason: string | null;
        allowedActions: string[];
      }>();

    // One tube left: the request stays reserved, to ship what remains.
    await withdrawDonorOf(p, a.specimen.id);
    await hookArrives(p, 'requester', 'sharing_request.items_withdrawn', r.id);
    const check = () => t.c.services.sharing.cancelEmptiedSharingRequest(systemCtx(t.c), { id: r.id });
    expect(await check()).toEqual({ cancelled: false });
    expect((await stateOf()).state).toBe('reserved');

    // The last one: nothing is left to ship, and the request ends cancelled, with the reason.
    await withdrawDonorOf(p, b.specimen.id);
    await until(async () => (await stateOf()).state === 'cancelled');
    const after = await stateOf();
    expect(after.reason).toBe('nothing is left to ship: every item was withdrawn or released');
    expect(after.allowedActions).toEqual([]);
    for (const side of ['requester', 'provider'] as const)
      await hookArrives(p, side, 'sharing_request.cancelled_emptied', r.id);
    const timeline = await p.provider.lab.get(`/v1/sharing-requests/${r.id}/events?limit=100`);
    expect(
      timeline
        .json<{ items: { action: string; fromState: string; toState: string }[] }>()
        .items.filter((e) => e.action === 'cancel_emptied'),
    ).toHaveLength(1);
    for (const tube of [a, b]) expect((await specimenRow(t, tube.specimen.id)).status).toBe('available');
    // The job delivered again finds nothing to do.
    expect(await check()).toEqual({ cancelled: false });
    await p.hooks.close();
  });

  it('holds the specimen the receiver made of a received tube and tells the receiver, by its own ids', async () => {
    const p = await makePair(t);
    const r = await reservedRequest(t, p, 2);
    const [a, b] = r.items as [ProviderItem, ProviderItem];
    await dispatched(t, p, r);
    const manifest = await receiveAll(p, r.id, r.items);
    const mine = manifest.find((i) => i.sampleCode === a.sampleCode)!.receivedSpecimen!;
    const other = manifest.find((i) => i.sampleCode === b.sampleCode)!.receivedSpecimen!;
    expect((await p.requester.call('POST', `/v1/sharing-requests/${r.id}/complete`, {})).statusCode).toBe(
      200,
    );

    await withdrawDonorOf(p, a.specimen.id);
    await until(async () => (await specimenRow(t, mine.id)).holds.length > 0);
    expect((await specimenRow(t, mine.id)).holds).toEqual(['PROVIDER_CONSENT_WITHDRAWN']);
    expect((await specimenRow(t, other.id)).holds).toEqual([]);
    const held = (await custodyRows(t, mine.id)).at(-1)!;
    expect(held).toMatchObject({ type: 'hold_placed', institution_id: p.requester.institution.id });
    expect(held.details).toMatchObject({
      reason: 'PROVIDER_CONSENT_WITHDRAWN',
      providerInstitutionId: p.provider.lab.institution.id,
      sampleCode: a.sampleCode,
    });

    const hook = await hookArrives(p, 'requester', 'sharing_request.consent_withdrawn', r.id);
    expect(hook.data.details).toMatchObject({ sampleCodes: [a.sampleCode], held: [mine.id] });
    expect(JSON.stringify(hooksOf(p, 'requester'))).not.toContain(a.specimen.id);
    // The receiver's own specimens are the receiver's to read: not on the provider's timeline or
    // hooks, and the provider's staff show as their institution on the requester's timeline.
    const timeline = async (side: 'provider' | 'requester') =>
      (side === 'provider'
        ? await p.provider.lab.get(`/v1/sharing-requests/${r.id}/events?limit=100`)
        : await p.requester.call('GET', `/v1/sharing-requests/${r.id}/events?limit=100`)
      ).json<{
        items: { action: string; actor: string; actorInstitutionId: string | null; details: object }[];
      }>().items;
    const theirs = (await timeline('provider')).find((e) => e.action === 'consent_withdrawn')!;
    expect(theirs.details).toMatchObject({ sampleCodes: [a.sampleCode] });
    expect(JSON.stringify(await timeline('provider'))).not.toContain(mine.id);
    await until(async () => hooksOf(p, 'provider').some((h) => h.type === 'sharing_request.completed'));
    expect(JSON.stringify(hooksOf(p, 'provider'))).not.toContain(mine.id);
    const ours = (await timeline('requester')).find((e) => e.action === 'consent_withdrawn')!;
    expect(ours.details).toMatchObject({ held: [mine.id], receivedSpecimenIds: [mine.id] });
    const approved = (await timeline('requester')).find((e) => e.action === 'approve')!;
    expect(approved.actor).toBe(`institution:${p.provider.lab.institution.id}`);
    const submitted = (await timeline('provider')).find((e) => e.action === 'submit')!;
    expect(submitted.actor).toBe(`institution:${p.requester.institution.id}`);

    // Its chain still verifies and is still linked; the hold stops its use at the receiver.
    const check = await p.requester.call('GET', `/v1/specimens/${mine.id}/custody/verify`, undefined, {
      role: 'manager',
    });
    expect(check.json()).toMatchObject({ valid: true, link: { matches: true } });
    expectProblem(
      await p.requester.call('POST', `/v1/specimens/${mine.id}/check-out`, {}, { role: 'technician' }),
      409,
      'SPECIMEN_ON_HOLD',
    );
    await p.hooks.close();
  });

  it('reaches a tube in transit at its receipt: the receiver’s specimen is born on hold', async () => {
    const p = await makePair(t);
    const r = await reservedRequest(t, p, 1);
    const [a] = r.items as [ProviderItem];
    await dispatched(t, p, r);
    await withdrawDonorOf(p, a.specimen.id);
    const hook = await hookArrives(p, 'requester', 'sharing_request.consent_withdrawn', r.id);
    expect(hook.data.details).toMatchObject({ inTransit: [a.sampleCode], held: [] });

    const [mine] = await receiveAll(p, r.id, r.items);
    const row = await specimenRow(t, mine!.receivedSpecimen!.id);
    expect(row).toMatchObject({ status: 'available', holds: ['PROVIDER_CONSENT_WITHDRAWN'] });
    expect((await custodyRows(t, row.id)).map((e) => e.type)).toEqual([
      'received_from_institution',
      'hold_placed',
    ]);
    await p.hooks.close();
  });
});

describe('a reserved tube destroyed or lost at the provider', () => {
  it('releases its item and tells the requester; a request left with no tube ends cancelled', async () => {
    const p = await makePair(t);
    const r = await reservedRequest(t, p, 2);
    const [a, b] = r.items as [ProviderItem, ProviderItem];
    const base = `/v1/sharing-requests/${r.id}/shipment`;
    expect((await p.provider.lab.post(base, {})).statusCode).toBe(201);
    // One tube packed (scanned out, not dispatched), the other still in its box.
    expect((await p.provider.lab.post(`${base}/scan-out`, { barcode: b.specimen.barcode })).statusCode).toBe(
      200,
    );

    // Reported missing: the item leaves the request, which still has one tube to ship.
    await p.provider.lab.action(a.specimen.id, 'mark-missing');
    const hook = await hookArrives(p, 'requester', 'sharing_request.items_released', r.id);
    expect(hook.data.details).toMatchObject({ sampleCodes: [a.sampleCode], missing: [a.sampleCode] });
    expect(JSON.stringify(hook)).not.toContain(a.specimen.id);
    expect((await itemsAsProvider(p, r.id)).find((i) => i.id === a.id)?.state).toBe('released');
    const pick = await p.provider.lab.get(`${base}/pick-list`);
    expect(pick.statusCode, pick.body).toBe(200);
    expect(JSON.stringify(pick.json())).not.toContain(a.specimen.barcode);
    const check = () => t.c.services.sharing.cancelEmptiedSharingRequest(systemCtx(t.c), { id: r.id });
    expect(await check()).toEqual({ cancelled: false });

    // Found again: back to stock, no longer held for the request.
    expect((await p.provider.lab.action(a.specimen.id, 'mark-found')).status).toBe('available');

    // The packed tube destroyed: nothing is left to ship, and the request ends cancelled.
    await p.provider.lab.action(b.specimen.id, 'destroy', { reason: 'tube cracked' });
    const stateOf = async () =>
      (await p.requester.call('GET', `/v1/sharing-requests/${r.id}`)).json<{
        state: string;
        reason: string;
      }>();
    await until(async () => (await stateOf()).state === 'cancelled');
    expect((await stateOf()).reason).toBe('nothing is left to ship: every item was withdrawn or released');
    for (const side of ['requester', 'provider'] as const)
      await hookArrives(p, side, 'sharing_request.cancelled_emptied', r.id);
    expect((await specimenRow(t, b.specimen.id)).status).toBe('destroyed');
    await p.hooks.close();
  });
});
