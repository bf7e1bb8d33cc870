import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../src/db/columns.js';
import {
  importSpecimenHistories,
  type ImportedEvent,
  type ImportedSpecimen,
  type SpecimenHistory,
} from '../src/modules/specimens/index.js';
import { seedSynthetic } from '../src/seed/synthetic.js';
import { bearer, createTestApp, systemCtx, type TestApp } from './helpers/test-app.js';
import { makeLab, uid, type ContainerBody, type Lab, type SpecimenBody } from './helpers/inventory.js';

// The ledger's bulk import (and the synthetic seeder that writes through it): histories are
// replayed through the lifecycle table, refused as a whole when the ledger would have refused one
// event, and written with hash chains that verify end to end.

let t: TestApp;
let lab: Lab;
let box: ContainerBody;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  box = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
});
afterAll(() => t.close());

const T0 = new Date('2024-03-01T08:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
let nextPosition = 0;

/** The next free position of the shared box: its row, column and label. */
function position() {
  const i = nextPosition++;
  const row = Math.floor(i / 9) + 1;
  const col = (i % 9) + 1;
  return { positionRow: row, positionCol: col, label: `${String.fromCharCode(64 + row)}${col}` };
}

function tube(over: Partial<ImportedSpecimen> = {}): ImportedSpecimen {
  const id = newId();
  return {
    id,
    barcode: uid('IMP'),
    type: 'whole_blood',
    lineage: 'primary',
    parentId: null,
    rootId: id,
    participantId: null,
    protocolId: null,
    anatomicSite: null,
    pathologyStatus: 'not_applicable',
    collectedAt: T0,
    receivedAt: null,
    processedAt: null,
    frozenAt: null,
    sprecCode: null,
    sprecVersion: null,
    unit: 'mL',
    initialQuantity: 10,
    availableQuantity: 10,
    quality: {},
    freezeThawCount: 0,
    status: 'available',
    holds: [],
    containerId: null,
    positionRow: null,
    positionCol: null,
    externalIds: [],
    ...over,
  };
}

const event = (
  type: ImportedEvent['type'],
  minute: number,
  more: Partial<ImportedEvent> = {},
): ImportedEvent => ({
  type,
  occurredAt: at(minute),
  recordedAt: at(minute),
  ...more,
});

/** A primary collected and stored straight into the next position of the box. */
function storedPrimary(over: Partial<ImportedSpecimen> = {}): SpecimenHistory {
  const p = position();
  const specimen = tube({
    containerId: box.id,
    positionRow: p.positionRow,
    positionCol: p.positionCol,
    ...over,
  });
  return {
    specimen,
    events: [
      event('collected', 0, {
        quantityChange: specimen.initialQuantity,
        details: { barcode: specimen.barcode, type: specimen.type },
      }),
      event('stored', 1, { toContainerId: box.id, toPosition: p.label }),
    ],
  };
}

/** An aliquot of `parent` drawn by the parent's event `parentCustodySeq`, stored when `stored`. */
function aliquotOf(parent: SpecimenHistory, parentCustodySeq: number, quantity: number, stored: boolean) {
  const p = stored ? position() : null;
  const specimen = tube({
    lineage: 'aliquot',
    parentId: parent.specimen.id,
    rootId: parent.specimen.rootId,
    initialQuantity: quantity,
    availableQuantity: quantity,
    status: stored ? 'available' : 'in_use',
    containerId: stored ? box.id : null,
    positionRow: p?.positionRow ?? null,
    positionCol: p?.positionCol ?? null,
  });
  const events = [
    event('created_from_parent', 5, {
      quantityChange: quantity,
      details: { parentId: parent.specimen.id, lineage: 'aliquot', type: specimen.type, parentCustodySeq },
    }),
  ];
  if (p) events.push(event('stored', 5, { toContainerId: box.id, toPosition: p.label }));
  return { specimen, events };
}

const importHistories = (items: SpecimenHistory[], institutionId = lab.institution.id) =>
  t.c.db.transaction((tx) =>
    importSpecimenHistories(tx, systemCtx(t.c, institutionId), institutionId, items),
  );

async function verify(id: string, token = lab.keys.technician) {
  const res = await t.app.inject({
    method: 'GET',
    url: `/v1/specimens/${id}/custody/verify`,
    headers: bearer(token),
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ valid: boolean; events: number; firstBreak: unknown }>();
}

describe('importSpecimenHistories', () => {
  it('writes a primary, its aliquots, a check-out and a thawed check-in; the chains verify', async () => {
    const parent = storedPrimary();
    const kept = aliquotOf(parent, 3, 1, true);
    const inHand = aliquotOf(parent, 3, 1, false);
    const a1 = parent.events[1]!.toPosition!;
    parent.events.push(
      event('aliquoted', 5, {
        quantityChange: -2,
        details: {
          children: [kept, inHand].map((c) => ({ id: c.specimen.id, barcode: c.specimen.barcode })),
        },
      }),
      event('checked_out', 10, { details: { use: 'research' } }),
      event('checked_in', 40, { toContainerId: box.id, toPosition: a1 }),
      event('thawed', 40, { details: { freezeThawCount: 1 } }),
    );
    Object.assign(parent.specimen, { availableQuantity: 8, freezeThawCount: 1 });

    expect(await importHistories([inHand, parent, kept])).toEqual({ specimens: 3, custodyEvents: 9 });

    for (const h of [parent, kept, inHand]) {
      expect(await verify(h.specimen.id)).toMatchObject({
        valid: true,
        events: h.events.length,
        firstBreak: null,
      });
    }
    const row = (await lab.get(`/v1/specimens/${parent.specimen.id}`)).json<SpecimenBody>();
    expect(row).toMatchObject({ status: 'available', availableQuantity: 8, freezeThawCount: 1, version: 4 });
    expect(row.location).toMatchObject({ containerId: box.id, position: a1 });
    const child = (await lab.get(`/v1/specimens/${inHand.specimen.id}`)).json<SpecimenBody>();
    expect(child).toMatchObject({ status: 'in_use', location: null, version: 1 });
    // The ledger, not the caller, names where the tube left from.
    const custody = (await lab.get(`/v1/specimens/${parent.specimen.id}/custody`)).json<{
      items: { type: string; fromContainerId: string | null; fromPosition: string | null }[];
    }>();
    expect(custody.items.find((e) => e.type === 'checked_out')).toMatchObject({
      fromContainerId: box.id,
      fromPosition: a1,
    });
  });

  it("refuses checked_out of a pending tube with the ledger's own error, and writes nothing", async () => {
    const before = await lab.counts();
    const pending = tube({ status: 'in_use' });
    const history = {
      specimen: pending,
      events: [event('collected', 0, { quantityChange: 10 }), event('checked_out', 5)],
    };
    await expect(importHistories([storedPrimary(), history])).rejects.toMatchObject({
      code: 'INVALID_TRANSITION',
      message: `cannot check_out specimen ${pending.barcode}: it is pending`,
    });
    expect(await lab.counts()).toEqual(before);
  });

  it('refuses an aliquot drawn from a destroyed parent', async () => {
    const parent = storedPrimary({ status: 'destroyed', availableQuantity: 0, containerId: null });
    const child = aliquotOf(parent, 4, 1, true);
    parent.events.push(
      event('destroyed', 3, { quantityChange: -10, details: { reason: 'freezer failure' } }),
      event('aliquoted', 5, { quantityChange: -1, details: { children: [{ id: child.specimen.id }] } }),
    );
    await expect(importHistories([parent, child])).rejects.toMatchObject({
      code: 'INVALID_TRANSITION',
      message: `cannot aliquot specimen ${parent.specimen.barcode}: it is destroyed`,
    });
  });

  it('refuses a draw of more than is left', async () => {
    const parent = storedPrimary({ initialQuantity: 1, availableQuantity: 0 });
    parent.events[0]!.quantityChange = 1;
    parent.events.push(event('consumed', 5, { quantityChange: -2 }));
    await expect(importHistories([parent])).rejects.toMatchObject({
      code: 'INSUFFICIENT_QUANTITY',
      message: `specimen ${parent.specimen.barcode} has 1 mL available; 2 mL were requested`,
    });
  });

  it('refuses a row that states another status than its history ends with', async () => {
    const h = storedPrimary();
    h.events.push(event('checked_out', 5));
    await expect(importHistories([h])).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [
        {
          field: `specimens.${h.specimen.barcode}.events.3`,
          message: 'checked_out: the row states status available; its history ends with in_use',
        },
      ],
    });
  });

  it('refuses an aliquot whose parent chain does not record drawing it', async () => {
    const parent = storedPrimary();
    const child = aliquotOf(parent, 3, 1, true);
    await expect(importHistories([parent, child])).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [{ field: `specimens.${child.specimen.barcode}.events.1` }],
    });
  });

  it('holds the external ids its tubes list, and refuses a pair another tube holds', async () => {
    const lis = uid('L');
    const holder = storedPrimary({ externalIds: [{ system: 'LIS', value: lis }] });
    await importHistories([holder]);
    const { rows } = await t.sql.query<{ specimen_id: string }>(
      'select specimen_id from specimen_external_id where institution_id = $1 and system = $2 and value = $3',
      [lab.institution.id, 'LIS', lis],
    );
    expect(rows).toEqual([{ specimen_id: holder.specimen.id }]);

    const again = storedPrimary({ externalIds: [{ system: 'LIS', value: lis }] });
    await expect(importHistories([again])).rejects.toMatchObject({
      code: 'EXTERNAL_ID_TAKEN',
      details: { holderBarcode: holder.specimen.barcode },
    });
    const other = uid('L');
    const [first, second] = [storedPrimary(), storedPrimary()];
    first.specimen.externalIds = second.specimen.externalIds = [{ system: 'LIS', value: other }];
    await expect(importHistories([first, second])).rejects.toMatchObject({
      code: 'EXTERNAL_ID_TAKEN',
      errors: [{ field: `specimens.${second.specimen.barcode}.externalIds.0` }],
    });
  });

  it("refuses a tube stored in another institution's box", async () => {
    const other = await makeLab(t);
    const h = storedPrimary();
    await expect(importHistories([h], other.institution.id)).rejects.toMatchObject({
      code: 'CONTAINER_NOT_FOUND',
    });
  });
});

describe('seedSynthetic', () => {
  it('seeds an inventory whose every chain verifies, and a second run skips', async () => {
    const code = `SYN${randomBytes(3).toString('hex').toUpperCase()}`;
    const quiet = { info: () => undefined };
    const seeded = await seedSynthetic(t.c, { count: 250, institutionCode: code, log: quiet });
    expect(seeded).toMatchObject({ skipped: false, specimens: 250 });
    const technician = seeded.keys.find((k) => k.role === 'technician')!.token;
    const { rows } = await t.sql.query<{ id: string; status: string; custody_seq: number }>(
      'select id, status, custody_seq from specimen where institution_id = $1',
      [seeded.institutionId],
    );
    expect(rows).toHaveLength(250);
    expect(new Set(rows.map((r) => r.status))).toEqual(new Set(['available']));
    expect(rows.reduce((n, r) => n + r.custody_seq, 0)).toBe(seeded.custodyEvents);
    for (const r of rows) expect((await verify(r.id, technician)).valid).toBe(true);
    const held = await t.sql.query<{ listed: number; held: number }>(
      `select (select count(*)::int from specimen s, jsonb_array_elements(s.external_ids)
                where s.institution_id = $1) as listed,
              (select count(*)::int from specimen_external_id where institution_id = $1) as held`,
      [seeded.institutionId],
    );
    expect(held.rows[0]!.held).toBe(held.rows[0]!.listed);

    const again = await seedSynthetic(t.c, { count: 250, institutionCode: code, log: quiet });
    expect(again).toMatchObject({ skipped: true, specimens: 250, keys: [] });
  });
});
