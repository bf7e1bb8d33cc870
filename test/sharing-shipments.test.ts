import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { custodyRows, expectProblem, fieldsOf, specimenRow, uid } from './helpers/inventory.js';
import {
  hookArrives,
  makePair,
  requesterBox,
  reservedRequest,
  type Pair,
  type ProviderItem,
} from './helpers/shipments.js';
import { createTestApp, makeInstitution, bearer, type TestApp } from './helpers/test-app.js';

// A request walked from draft to completed across two institutions: the provider prepares the
// shipment, scans the tubes out along the pick list and dispatches them; the requester confirms
// receipt item by item; each side's custody chain verifies and the receiver's names the link to
// the provider's. Then every refusal on the way, each changing nothing.

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ workers: true });
});
afterAll(() => t.close());

interface ManifestItem {
  id: string;
  sampleCode: string;
  donorCode: string;
  state: string;
  type: string;
  quantity: number;
  sprecCode: string | null;
  specimen: { id: string; barcode: string } | null;
  receivedSpecimen: { id: string; barcode: string } | null;
}
interface ShipmentBody {
  id: string;
  courier: string | null;
  shippingTemperature: string | null;
  dispatchedAt: string | null;
  receivedAt: string | null;
  counts: Record<string, number>;
  manifest: ManifestItem[];
}
interface PickLine {
  sampleCode: string;
  barcode: string;
  freezer: string | null;
  rack: string | null;
  box: string | null;
  position: string | null;
}
interface Verification {
  valid: boolean;
  link: { providerInstitutionId: string; shippedEventHash: string; matches: boolean } | null;
}

const shipmentUrl = (id: string) => `/v1/sharing-requests/${id}/shipment`;

/**
 * Rows a refused call must leave as they were. The timeline leaves out `notified` events: the
 * notification job writes them after the call that made the event, so one may land at any time.
 */
async function footprint(p: Pair, requestId: string) {
  const { rows } = await t.sql.query<Record<string, number>>(
    `select (select count(*)::int from specimen where institution_id = $2) as "receiverSpecimens",
            (select count(*)::int from custody_event where institution_id in ($1, $2)) as custody,
            (select count(*)::int from sharing_request_event where request_id = $3 and action <> 'notified') as timeline,
            (select coalesce(sum(version), 0)::int from shipment where request_id = $3) as "shipmentVersion",
            (select string_agg(state::text, ',' order by sample_code) from sharing_request_item where request_id = $3) as items`,
    [p.provider.lab.institution.id, p.requester.institution.id, requestId],
  );
  return rows[0]!;
}

describe('a request from draft to completed across two institutions', () => {
  it('ships along the pick list, is received item by item, and leaves two linked chains that verify', async () => {
    const p = await makePair(t);
    const r = await reservedRequest(t, p, 3);
    const base = shipmentUrl(r.id);
    expectProblem(await p.requester.call('GET', base), 404, 'SHIPMENT_NOT_FOUND');

    const created = await p.provider.lab.post(base, {}, { role: 'technician' });
    expect(created.statusCode, created.body).toBe(201);
    const shipment = created.json<ShipmentBody>();
    expect(shipment.manifest.map((i) => i.state)).toEqual(['reserved', 'reserved', 'reserved']);
    expect(shipment.manifest[0]).toMatchObject({
      type: 'plasma',
      quantity: 1,
      sprecCode: 'PL1-PED-A-B-N-B-D',
    });

    // The requester reads the manifest by sample and donor codes only.
    const seen = (await p.requester.call('GET', base)).json<ShipmentBody>();
    expect(seen.manifest.map((i) => i.specimen)).toEqual([null, null, null]);
    for (const i of r.items) {
      expect(JSON.stringify(seen)).not.toContain(i.specimen.barcode);
      expect(JSON.stringify(seen)).not.toContain(i.specimen.id);
    }
    expect(seen.manifest.map((i) => i.donorCode)).toEqual(shipment.manifest.map((i) => i.donorCode));
    expectProblem(
      await p.requester.call('GET', `${base}/pick-list`, undefined, { role: 'manager' }),
      403,
      'FORBIDDEN',
    );

    // The pick list walks box by box, position by position.
    const pick = await p.provider.lab.get(`${base}/pick-list`, { role: 'technician' });
    expect(pick.statusCode, pick.body).toBe(200);
    const lines = pick.json<{ lines: PickLine[] }>().lines;
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.freezer && l.rack && l.box && l.position)).toBe(true);
    const order = lines.map((l) => `${l.box}/${l.position}`);
    expect(order).toEqual([...order].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })));

    for (const [n, line] of lines.entries()) {
      const scan = await p.provider.lab.post(
        `${base}/scan-out`,
        { barcode: line.barcode },
        { role: 'technician' },
      );
      expect(scan.statusCode, scan.body).toBe(200);
      expect(scan.json()).toMatchObject({ item: { state: 'shipped' }, scannedOut: n + 1, toPick: 2 - n });
    }
    for (const i of r.items) {
      const row = await specimenRow(t, i.specimen.id);
      expect(row).toMatchObject({ status: 'shipped', container_id: null, position_row: null });
      const chain = await custodyRows(t, i.specimen.id);
      expect(chain.at(-1)).toMatchObject({ type: 'shipped' });
      expect(chain.at(-1)!.details).toMatchObject({ requestId: r.id, sampleCode: i.sampleCode });
    }
    expect((await p.provider.lab.get(`${base}/pick-list`)).json<{ lines: PickLine[] }>().lines).toEqual([]);

    // A dispatch dated ahead is refused, and nothing leaves.
    const ahead = await p.provider.lab.post(`${base}/dispatch`, {
      courier: 'World Courier',
      trackingNumber: 'WC-123456',
      shippingTemperature: 'dry_ice',
      dispatchedAt: '2999-01-01T00:00:00Z',
    });
    expect(fieldsOf(expectProblem(ahead, 400, 'TIME_IN_FUTURE'))).toEqual(['dispatchedAt']);
    const sent = await p.provider.lab.post(`${base}/dispatch`, {
      courier: 'World Courier',
      trackingNumber: 'WC-123456',
      shippingTemperature: 'dry_ice',
    });
    expect(sent.statusCode, sent.body).toBe(200);
    expect(sent.json<ShipmentBody>()).toMatchObject({
      courier: 'World Courier',
      shippingTemperature: 'dry_ice',
    });
    expect(sent.json<ShipmentBody>().dispatchedAt).not.toBeNull();
    const shippedHook = await hookArrives(p, 'requester', 'sharing_request.shipped', r.id);
    expect(shippedHook.data).toMatchObject({ toState: 'shipped', details: { trackingNumber: 'WC-123456' } });

    // Receipt, in two visits: one tube stored at once, one relabelled because its label collides here.
    const box = await requesterBox(p);
    const [a, b, c] = r.items as [ProviderItem, ProviderItem, ProviderItem];
    const clash = await p.requester.call(
      'POST',
      '/v1/specimens',
      { barcode: b.specimen.barcode, type: 'serum', quantity: 1 },
      { role: 'manager' },
    );
    expect(clash.statusCode, clash.body).toBe(201);
    const receipt = (items: unknown[]) =>
      p.requester.call('POST', `${base}/receipt`, { items }, { role: 'technician' });
    const before = await footprint(p, r.id);
    const collides = await receipt([
      { sampleCode: a.sampleCode, outcome: 'received', containerId: box.id, position: 'A1' },
      { barcode: b.specimen.barcode, outcome: 'received' },
    ]);
    expectProblem(collides, 409, 'RELABEL_REQUIRED');
    expect(collides.json<{ errors: { field: string }[] }>().errors[0]!.field).toBe('items.1.relabel');
    expect(await footprint(p, r.id)).toEqual(before);
    // A new label follows the rules of every barcode here, or the tube could never be scanned.
    const unscannable = await receipt([
      { barcode: b.specimen.barcode, outcome: 'received', relabel: 'bad label with spaces' },
    ]);
    expect(expectProblem(unscannable, 400, 'VALIDATION_FAILED').errors![0]!.field).toBe(
      'body.items.0.relabel',
    );
    const late = await p.requester.call(
      'POST',
      `${base}/receipt`,
      {
        items: [{ sampleCode: a.sampleCode, outcome: 'received' }],
        receivedAt: new Date(Date.now() + 2 * 86_400_000).toISOString(),
      },
      { role: 'technician' },
    );
    expect(expectProblem(late, 400, 'TIME_IN_FUTURE').errors![0]!.field).toBe('receivedAt');
    const early = await p.requester.call(
      'POST',
      `${base}/receipt`,
      { items: [{ sampleCode: a.sampleCode, outcome: 'received' }], receivedAt: '2020-01-01T00:00:00Z' },
      { role: 'technician' },
    );
    expect(expectProblem(early, 400, 'RECEIVED_BEFORE_DISPATCH').errors![0]!.field).toBe('receivedAt');
    expect(await footprint(p, r.id)).toEqual(before);

    const first = await receipt([
      { sampleCode: a.sampleCode, outcome: 'received', containerId: box.id, position: 'A1' },
      { barcode: b.specimen.barcode, outcome: 'received', relabel: uid('RX') },
    ]);
    expect(first.statusCode, first.body).toBe(200);
    expect((await p.requester.call('GET', `/v1/sharing-requests/${r.id}`)).json()).toMatchObject({
      state: 'shipped',
    });
    const second = await receipt([
      { sampleCode: c.sampleCode, outcome: 'temperature_excursion', note: 'ice gone' },
    ]);
    expect(second.statusCode, second.body).toBe(200);
    const done = second.json<ShipmentBody>();
    expect(done.receivedAt).not.toBeNull();
    // The shipment says when the last tube was received, as its custody event does.
    const lastReceipt = await t.sql.query<{ at: Date }>(
      `select max(occurred_at) as at from custody_event where specimen_id = $1`,
      [c.specimen.id],
    );
    expect(done.receivedAt).toBe(lastReceipt.rows[0]!.at.toISOString());
    expect(done.counts).toEqual({ received: 2, temperature_excursion: 1 });
    expect((await p.requester.call('GET', `/v1/sharing-requests/${r.id}`)).json()).toMatchObject({
      state: 'received',
    });
    await hookArrives(p, 'provider', 'sharing_request.received', r.id);

    // Custody on both sides: the provider's tube ends distributed; the receiver's starts with the link.
    const bySample = new Map(done.manifest.map((i) => [i.sampleCode, i]));
    for (const i of r.items) {
      expect((await specimenRow(t, i.specimen.id)).status).toBe('distributed');
      const providerChain = await custodyRows(t, i.specimen.id);
      expect(providerChain.slice(-2).map((e) => e.type)).toEqual(['shipped', 'received_by_partner']);
      const providerCheck = await p.provider.lab.get(`/v1/specimens/${i.specimen.id}/custody/verify`);
      expect(providerCheck.json<Verification>()).toMatchObject({ valid: true, link: null });

      const mine = bySample.get(i.sampleCode)!.receivedSpecimen!;
      const check = await p.requester.call('GET', `/v1/specimens/${mine.id}/custody/verify`, undefined, {
        role: 'manager',
      });
      expect(check.statusCode, check.body).toBe(200);
      const shippedHash = (providerChain.at(-2) as { hash: string }).hash;
      expect(check.json<Verification>()).toEqual(
        expect.objectContaining({
          valid: true,
          link: {
            providerInstitutionId: p.provider.lab.institution.id,
            shippedEventHash: shippedHash,
            matches: true,
          },
        }),
      );
      const chain = await custodyRows(t, mine.id);
      expect(chain[0]).toMatchObject({
        type: 'received_from_institution',
        institution_id: p.requester.institution.id,
      });
      expect(JSON.stringify(chain)).not.toContain(i.specimen.id);
      // The provider cannot read the receiver's specimen.
      expectProblem(await p.provider.lab.get(`/v1/specimens/${mine.id}`), 404, 'SPECIMEN_NOT_FOUND');
    }
    const storedHere = bySample.get(a.sampleCode)!.receivedSpecimen!;
    expect(storedHere.barcode).toBe(a.specimen.barcode);
    const stored = await specimenRow(t, storedHere.id);
    expect(stored).toMatchObject({
      status: 'available',
      container_id: box.id,
      institution_id: p.requester.institution.id,
    });
    expect(bySample.get(b.sampleCode)!.receivedSpecimen!.barcode).not.toBe(b.specimen.barcode);
    const warm = await specimenRow(t, bySample.get(c.sampleCode)!.receivedSpecimen!.id);
    expect(warm.holds).toEqual(['QUARANTINE']);

    // The receiver uses its tube like any other: aliquoting works on the received specimen.
    const aliquot = await p.requester.call(
      'POST',
      `/v1/specimens/${storedHere.id}/aliquots`,
      { aliquots: [{ barcode: uid('AL'), quantity: 0.2 }] },
      { role: 'technician' },
    );
    expect([200, 201]).toContain(aliquot.statusCode);

    const completed = await p.requester.call('POST', `/v1/sharing-requests/${r.id}/complete`, {});
    expect(completed.statusCode, completed.body).toBe(200);
    expect(completed.json()).toMatchObject({ state: 'completed', allowedActions: [] });
    await hookArrives(p, 'provider', 'sharing_request.completed', r.id);

    const timeline = await p.requester.call('GET', `/v1/sharing-requests/${r.id}/events?limit=100`);
    const steps = timeline
      .json<{ items: { action: string; toState: string }[] }>()
      .items.filter((e) => e.action !== 'notified')
      .map((e) => `${e.action}>${e.toState}`);
    expect(steps.slice(steps.indexOf('reserve>reserved'))).toEqual([
      'reserve>reserved',
      'prepare_shipment>reserved',
      'scan_out>reserved',
      'scan_out>reserved',
      'scan_out>reserved',
      'ship>shipped',
      'receive_items>shipped',
      'receive_items>shipped',
      'receive>received',
      'complete>completed',
    ]);
    await p.hooks.close();
  });
});

describe('refusals change nothing', () => {
  it('refuses scan-outs and dispatches that do not fit the shipment, then sends what was scanned', async () => {
    const p = await makePair(t);
    const r = await reservedRequest(t, p, 3);
    const base = shipmentUrl(r.id);
    const [a, b, c] = r.items as [ProviderItem, ProviderItem, ProviderItem];
    const other = await p.provider.specimen(await p.provider.donor(), await p.provider.box());
    const stranger = await makeInstitution(t);
    const scan = (barcode: string) =>
      p.provider.lab.post(`${base}/scan-out`, { barcode }, { role: 'technician' });

    let before = await footprint(p, r.id);
    expectProblem(await scan(a.specimen.barcode), 404, 'SHIPMENT_NOT_FOUND');
    expectProblem(await p.requester.call('POST', base, {}, { role: 'manager' }), 403, 'FORBIDDEN');
    expectProblem(
      await t.app.inject({ method: 'POST', url: base, headers: bearer(stranger.keys.manager), payload: {} }),
      404,
      'SHARING_REQUEST_NOT_FOUND',
    );
    expect(await footprint(p, r.id)).toEqual(before);

    expect((await p.provider.lab.post(base, {})).statusCode).toBe(201);
    expectProblem(await p.provider.lab.post(base, {}), 409, 'SHIPMENT_EXISTS');
    expectProblem(
      await t.app.inject({ method: 'GET', url: base, headers: bearer(stranger.keys.manager) }),
      404,
      'SHARING_REQUEST_NOT_FOUND',
    );
    before = await footprint(p, r.id);
    const stray = expectProblem(await scan(other.barcode), 422, 'NOT_IN_SHIPMENT');
    expect(stray.errors![0]!.field).toBe('barcode');
    expect((await specimenRow(t, other.id)).status).toBe('available');
    expectProblem(await scan('NO-SUCH-TUBE'), 404, 'SPECIMEN_NOT_FOUND');
    expectProblem(
      await p.requester.call(
        'POST',
        `${base}/scan-out`,
        { barcode: a.specimen.barcode },
        { role: 'manager' },
      ),
      403,
      'FORBIDDEN',
    );
    expectProblem(
      await p.provider.lab.post(`${base}/dispatch`, {
        courier: 'X',
        trackingNumber: 'T-1',
        shippingTemperature: 'dry_ice',
      }),
      422,
      'SHIPMENT_EMPTY',
    );
    expect(await footprint(p, r.id)).toEqual(before);

    expect((await scan(a.specimen.barcode)).statusCode).toBe(200);
    expect((await scan(b.specimen.barcode)).statusCode).toBe(200);
    before = await footprint(p, r.id);
    expectProblem(await scan(a.specimen.barcode), 409, 'ITEM_ALREADY_SHIPPED');
    const dispatch = (body: Record<string, unknown>) =>
      p.provider.lab.post(`${base}/dispatch`, {
        courier: 'World Courier',
        trackingNumber: 'WC-9',
        shippingTemperature: 'ln2_dry_shipper',
        ...body,
      });
    const incomplete = expectProblem(await dispatch({}), 409, 'SHIPMENT_INCOMPLETE');
    expect(incomplete.unscanned).toEqual([c.sampleCode]);
    expectProblem(await dispatch({ shippingTemperature: 'warm' }), 400, 'VALIDATION_FAILED');
    expectProblem(await dispatch({ courier: '' }), 400, 'VALIDATION_FAILED');
    expect(await footprint(p, r.id)).toEqual(before);

    const sent = await dispatch({ releaseUnscanned: true });
    expect(sent.statusCode, sent.body).toBe(200);
    expect(sent.json<ShipmentBody>().counts).toEqual({ shipped: 2 });
    expect((await specimenRow(t, c.specimen.id)).status).toBe('available');
    expect((await custodyRows(t, c.specimen.id)).at(-1)).toMatchObject({ type: 'reservation_released' });
    expectProblem(await scan(c.specimen.barcode), 409, 'INVALID_REQUEST_TRANSITION');
    await p.hooks.close();
  });

  it('refuses receipts naming what the shipment does not hold, twice, or from the wrong side', async () => {
    const p = await makePair(t);
    const r = await reservedRequest(t, p, 3);
    const base = shipmentUrl(r.id);
    const [a, b, c] = r.items as [ProviderItem, ProviderItem, ProviderItem];
    const receipt = (items: unknown[], as: 'requester' | 'provider' = 'requester') =>
      as === 'requester'
        ? p.requester.call('POST', `${base}/receipt`, { items }, { role: 'technician' })
        : p.provider.lab.post(`${base}/receipt`, { items });

    expect((await p.provider.lab.post(base, {})).statusCode).toBe(201);
    expectProblem(
      await receipt([{ sampleCode: a.sampleCode, outcome: 'received' }]),
      409,
      'INVALID_REQUEST_TRANSITION',
    );
    await dispatchedFrom(p, r.id, [a, b]);

    const box = await requesterBox(p);
    const taken = await p.requester.call(
      'POST',
      '/v1/specimens',
      { barcode: uid('S'), type: 'serum', quantity: 1, containerId: box.id, position: 'A1' },
      { role: 'manager' },
    );
    expect(taken.statusCode, taken.body).toBe(201);
    const before = await footprint(p, r.id);
    const unknown = expectProblem(
      await receipt([{ sampleCode: 'S9999', outcome: 'received' }]),
      422,
      'NOT_IN_SHIPMENT',
    );
    expect(unknown.errors![0]!.field).toBe('items.0.sampleCode');
    // The tube left behind (released at dispatch) is not in the shipment.
    expectProblem(
      await receipt([{ barcode: c.specimen.barcode, outcome: 'received' }]),
      422,
      'NOT_IN_SHIPMENT',
    );
    expectProblem(
      await receipt([{ sampleCode: a.sampleCode, outcome: 'received' }], 'provider'),
      403,
      'FORBIDDEN',
    );
    expectProblem(
      await receipt([{ sampleCode: a.sampleCode, barcode: a.specimen.barcode, outcome: 'received' }]),
      400,
      'VALIDATION_FAILED',
    );
    expectProblem(
      await receipt([{ sampleCode: a.sampleCode, outcome: 'missing', containerId: box.id }]),
      400,
      'VALIDATION_FAILED',
    );
    const both = expectProblem(
      await receipt([
        { sampleCode: a.sampleCode, outcome: 'received' },
        { sampleCode: a.sampleCode, outcome: 'damaged' },
        { sampleCode: 'S0404', outcome: 'received' },
      ]),
      422,
      'BATCH_REJECTED',
    );
    expect(both.errors!.map((e) => `${e.field}:${e.code}`)).toEqual([
      'items.1.sampleCode:VALIDATION_FAILED',
      'items.2.sampleCode:NOT_IN_SHIPMENT',
    ]);
    const occupied = await receipt([
      { sampleCode: a.sampleCode, outcome: 'received', containerId: box.id, position: 'A1' },
    ]);
    expectProblem(occupied, 409, 'POSITION_OCCUPIED');
    expectProblem(
      await p.requester.call('POST', `/v1/sharing-requests/${r.id}/complete`, {}),
      409,
      'INVALID_REQUEST_TRANSITION',
    );
    expect(await footprint(p, r.id)).toEqual(before);

    // One lost in transit: the provider's tube is recorded missing, no specimen is made of it.
    const ok = await receipt([
      { sampleCode: a.sampleCode, outcome: 'received' },
      { sampleCode: b.sampleCode, outcome: 'missing', note: 'not in the box' },
    ]);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json<ShipmentBody>().counts).toEqual({ received: 1, missing: 1 });
    expect((await specimenRow(t, b.specimen.id)).status).toBe('missing');
    expect((await custodyRows(t, b.specimen.id)).at(-1)).toMatchObject({ type: 'marked_missing' });
    expectProblem(
      await receipt([{ sampleCode: a.sampleCode, outcome: 'received' }]),
      409,
      'INVALID_REQUEST_TRANSITION',
    );
    await p.hooks.close();
  });

  it('refuses to scan out or dispatch once the agreement ran out or no longer allows the use, then sends under a mended one', async () => {
    const { p, r, base, b } = await twoReservedOneScannedOut();
    const edit = async (patch: Record<string, unknown>) => {
      const url = `/v1/agreements/${p.agreementId}`;
      const { version } = (await p.provider.lab.get(url)).json<{ version: number }>();
      const res = await p.provider.lab.call('PATCH', url, patch, {
        headers: { 'if-match': `W/"${version}"` },
      });
      expect(res.statusCode, res.body).toBe(200);
    };
    const dispatch = () =>
      p.provider.lab.post(`${base}/dispatch`, {
        courier: 'World Courier',
        trackingNumber: uid('TRK'),
        shippingTemperature: 'dry_ice',
      });

    await edit({ validUntil: '2025-01-01' });
    const before = await footprint(p, r.id);
    expectProblem(await dispatch(), 422, 'AGREEMENT_NOT_IN_FORCE');
    // Nor is another tube taken out of its box for it.
    expectProblem(
      await p.provider.lab.post(`${base}/scan-out`, { barcode: b.specimen.barcode }),
      422,
      'AGREEMENT_NOT_IN_FORCE',
    );
    await edit({ validUntil: null, uses: ['genetic_research'] });
    expectProblem(await dispatch(), 422, 'USE_NOT_IN_AGREEMENT');
    expect(await footprint(p, r.id)).toEqual(before);
    expect((await p.provider.lab.get(`/v1/sharing-requests/${r.id}`)).json<{ state: string }>().state).toBe(
      'reserved',
    );

    await edit({ uses: ['external_sharing'] });
    expect((await p.provider.lab.post(`${base}/scan-out`, { barcode: b.specimen.barcode })).statusCode).toBe(
      200,
    );
    const sent = await dispatch();
    expect(sent.statusCode, sent.body).toBe(200);
    await p.hooks.close();
  });

  it('lets nothing leave once the reservation ran out, before the expiry job has run', async () => {
    const { p, r, base, b } = await twoReservedOneScannedOut();
    await t.sql.query(
      `update sharing_request set reservation_deadline = now() - interval '1 minute' where id = $1`,
      [r.id],
    );
    const before = await footprint(p, r.id);
    // Nor is shipping offered.
    const read = await p.provider.lab.get(`/v1/sharing-requests/${r.id}`);
    expect(read.json<{ state: string; allowedActions: string[] }>()).toMatchObject({ state: 'reserved' });
    expect(read.json<{ allowedActions: string[] }>().allowedActions).not.toContain('ship');
    expectProblem(
      await p.provider.lab.post(`${base}/scan-out`, { barcode: b.specimen.barcode }),
      409,
      'RESERVATION_EXPIRED',
    );
    const dispatch = await p.provider.lab.post(`${base}/dispatch`, {
      courier: 'World Courier',
      trackingNumber: uid('TRK'),
      shippingTemperature: 'dry_ice',
      releaseUnscanned: true,
    });
    expectProblem(dispatch, 409, 'RESERVATION_EXPIRED');
    expect(await footprint(p, r.id)).toEqual(before);
    await p.hooks.close();
  });

  it('takes back tubes scanned out but not dispatched when the requester cancels', async () => {
    const { p, r, base, a, b } = await twoReservedOneScannedOut();
    const cancelled = await p.requester.call('POST', `/v1/sharing-requests/${r.id}/cancel`, {
      reason: 'study stopped',
    });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    for (const i of [a, b]) {
      expect((await specimenRow(t, i.specimen.id)).status).toBe('available');
      expect((await custodyRows(t, i.specimen.id)).at(-1)).toMatchObject({ type: 'reservation_released' });
    }
    expect((await p.provider.lab.get(base)).json<ShipmentBody>().counts).toEqual({});
    await p.hooks.close();
  });
});

/** A pair's reserved request of two tubes, its shipment opened and the first tube scanned out. */
async function twoReservedOneScannedOut() {
  const p = await makePair(t);
  const r = await reservedRequest(t, p, 2);
  const base = shipmentUrl(r.id);
  expect((await p.provider.lab.post(base, {})).statusCode).toBe(201);
  const [a, b] = r.items as [ProviderItem, ProviderItem];
  expect((await p.provider.lab.post(`${base}/scan-out`, { barcode: a.specimen.barcode })).statusCode).toBe(
    200,
  );
  return { p, r, base, a, b };
}

/** Scans the given items out and dispatches, releasing the others. */
async function dispatchedFrom(p: Pair, requestId: string, items: ProviderItem[]) {
  const base = shipmentUrl(requestId);
  for (const i of items)
    expect((await p.provider.lab.post(`${base}/scan-out`, { barcode: i.specimen.barcode })).statusCode).toBe(
      200,
    );
  const sent = await p.provider.lab.post(`${base}/dispatch`, {
    courier: 'World Courier',
    trackingNumber: uid('TRK'),
    shippingTemperature: '2_8c',
    releaseUnscanned: true,
  });
  expect(sent.statusCode, sent.body).toBe(200);
}
