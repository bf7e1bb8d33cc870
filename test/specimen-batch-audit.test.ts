import { randomBytes } from 'node:crypto';
import { getTableColumns, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ctx } from '../src/context.js';
import type { Tx } from '../src/db/client.js';
import { inTransaction } from '../src/db/transaction.js';
import { REDACTED_KEYS } from '../src/modules/audit/audit.repo.js';
import type { SpecimenCommand } from '../src/modules/specimens/index.js';
import { findSpecimensByIds } from '../src/modules/specimens/specimens.repo.js';
import { specimens, type SpecimenRow } from '../src/modules/specimens/specimens.table.js';
import { donor } from './helpers/fhir.js';
import { makeLab, uid, type Lab, type SpecimenBody } from './helpers/inventory.js';
import { bearer, createTestApp, systemCtx, type TestApp } from './helpers/test-app.js';
import type { AuditLogRow } from './helpers/audit.js';

// A batch of specimen changes (more than one tube) has its audit rows built by PostgreSQL from the
// row images of its UPDATE (specimens.ledger.ts), a single change by `recordAudit` from the rows
// in the process. Both must store what `JSON.stringify` makes of the ORM's rows: this holds the
// batch's documents to the rows as locked and as returned, for every kind of column, and to what
// the single-change path stores for the same change.

let t: TestApp;
let lab: Lab;
let people: { protocolId: string; participantId: string };

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  // The donor's ids only: its MRN is no member of a specimen.
  const { protocolId, participantId } = await donor(lab);
  people = { protocolId, participantId };
});
afterAll(() => t.close());

const asJson = (row: unknown): unknown => JSON.parse(JSON.stringify(row)) as unknown;

/** `JSON.stringify(row)` as jsonb prints it: what `recordAudit` stores for the row, to the character. */
async function storedText(row: unknown): Promise<string> {
  const { rows } = await t.sql.query<{ text: string }>('select $1::jsonb::text as text', [
    JSON.stringify(row),
  ]);
  return rows[0]!.text;
}
const byId = (rows: SpecimenRow[]) => new Map(rows.map((r) => [r.id, r]));

interface AuditDoc extends AuditLogRow {
  /** the documents as PostgreSQL prints them (a numeric 1.5000 reads 1.5 in JavaScript, not here) */
  before_text: string | null;
  after_text: string | null;
  /** `after` without what each transaction stamps: its time and the custody hash over it */
  after_unstamped_text: string | null;
}

const AUDIT_OF_REQUEST = (requestId: string) => sql`
  select a.*, a.before::text as before_text, a.after::text as after_text,
         (a.after - '{updatedAt,custodyHead}'::text[])::text as after_unstamped_text
    from audit_log a where a.request_id = ${requestId} order by a.id`;

async function auditOf(requestId: string): Promise<AuditDoc[]> {
  const { rows } = await t.c.db.execute<Record<string, unknown>>(AUDIT_OF_REQUEST(requestId));
  return rows as unknown as AuditDoc[];
}

async function auditIn(tx: Tx, requestId: string): Promise<AuditDoc[]> {
  const { rows } = await tx.execute<Record<string, unknown>>(AUDIT_OF_REQUEST(requestId));
  return rows as unknown as AuditDoc[];
}

/** A time with microseconds, which PostgreSQL keeps and the API cannot write. */
const MICROS = '2024-03-04T05:06:07.123456Z';
/** Rounded, this would be the next second: the driver's date, and so `toISOString`, truncates. */
const MICROS_UP = '2024-03-04T05:06:07.999999Z';

/**
 * Tubes that between them hold every kind of specimen column set and unset: times (one with
 * microseconds, one just under a second), quantities with fractions, quality metrics, external ids,
 * holds, a parent, a donor and protocol or none, a place or none.
 */
async function tubesOfEveryKind() {
  const box = await lab.box({ rows: 3, cols: 3 });
  const full = await lab.register({
    ...people,
    type: 'serum',
    anatomicSite: 'C50.9',
    pathologyStatus: 'malignant',
    collectedAt: '2024-03-04T05:06:07.891Z',
    receivedAt: '2024-03-04T06:00:00.000Z',
    processedAt: '2024-03-04T06:30:00.5Z',
    frozenAt: '2024-03-04T07:00:00.001Z',
    sprecCode: 'PL1-SST-A-B-N-A-A',
    sprecVersion: '3.0',
    quantity: 2.5,
    quality: { rin: 8.1, a260a280: 1.85, concentrationNgUl: 52.3 },
    externalIds: [{ system: 'LIS', value: uid('L') }],
    containerId: box.id,
    position: 'A1',
  });
  const bare = await lab.register({ quantity: 3 });
  // A parent without a donor: drawing from a donor's tube asks for consent.
  const parent = await lab.register({ containerId: box.id, position: 'C3', quantity: 2 });
  const aliquots = await lab.post(`/v1/specimens/${parent.id}/aliquots`, {
    aliquots: [{ quantity: 0.75, containerId: box.id, position: 'A2' }],
  });
  expect(aliquots.statusCode, aliquots.body).toBe(201);
  const child = aliquots.json<{ children: SpecimenBody[] }>().children[0]!;
  const held = await lab.register({ containerId: box.id, position: 'A3', quantity: 1.2345 });
  await lab.action(held.id, 'place-hold', { reason: 'QUARANTINE' });
  const edited = await lab.register({
    ...people,
    containerId: box.id,
    position: 'B1',
    quantity: 4,
    externalIds: [{ system: 'LIS', value: uid('L') }],
  });
  // Times written with microseconds, as PostgreSQL keeps them (the API takes milliseconds).
  await t.sql.query(`update specimen set collected_at = $2, frozen_at = $3 where id = $1`, [
    full.id,
    MICROS,
    MICROS_UP,
  ]);
  await t.sql.query(`update specimen set received_at = $2 where id = $1`, [child.id, MICROS]);
  return { box, full, bare, child, held, edited };
}

/** Locks the tubes, applies `commands` through the ledger and returns the rows as locked and after. */
async function applyBatch(
  ctx: Ctx,
  ids: string[],
  commands: (locked: Map<string, SpecimenRow>) => SpecimenCommand[],
  inspect?: (tx: Tx, after: SpecimenRow[]) => Promise<void>,
): Promise<{ locked: SpecimenRow[]; after: SpecimenRow[]; commands: SpecimenCommand[] }> {
  const ledger = t.c.services.ledger;
  return inTransaction(t.c.db, ctx, async (tx) => {
    const locked = await ledger.lock(tx, lab.institution.id, ids);
    const cs = commands(byId(locked));
    const after = await ledger.apply(tx, ctx, cs);
    await inspect?.(tx, after);
    return { locked, after, commands: cs };
  });
}

describe('audit rows of a batch of specimen changes', () => {
  it('holds no column the trail redacts, so the rows need no redaction', () => {
    const keys = Object.keys(getTableColumns(specimens));
    expect(keys.filter((k) => REDACTED_KEYS.has(k))).toEqual([]);
  });

  it("stores each tube's before and after as the JSON of its row as locked and as returned, for every kind of column", async () => {
    const { full, bare, child, held, edited } = await tubesOfEveryKind();
    const ctx = systemCtx(t.c, lab.institution.id);
    const ids = [full.id, bare.id, child.id, held.id, edited.id];
    const { locked, after, commands } = await applyBatch(ctx, ids, (rows) => [
      { kind: 'check_out', specimen: rows.get(full.id)! },
      { kind: 'receive', specimen: rows.get(bare.id)!, placement: null },
      { kind: 'consume', specimen: rows.get(child.id)!, quantity: 0.3333 },
      { kind: 'release_hold', specimen: rows.get(held.id)!, reason: 'QUARANTINE' },
      {
        kind: 'edit',
        specimen: rows.get(edited.id)!,
        expectedVersion: rows.get(edited.id)!.version,
        patch: {
          quality: { rin: 6.75 },
          collectedAt: new Date('2024-05-06T07:08:09.010Z'),
          anatomicSite: 'C18.7',
          externalIds: [{ system: 'LIS', value: uid('L') }],
        },
      },
    ]);
    // The cases this test exists for are really there.
    const lockedById = byId(locked);
    expect(lockedById.get(full.id)!.collectedAt!.toISOString()).toBe('2024-03-04T05:06:07.123Z');
    expect(lockedById.get(full.id)!.frozenAt!.toISOString()).toBe('2024-03-04T05:06:07.999Z');
    expect(lockedById.get(held.id)!.holds).toEqual(['QUARANTINE']);
    expect(lockedById.get(child.id)!.parentId).not.toBeNull();
    expect(lockedById.get(bare.id)).toMatchObject({ participantId: null, containerId: null, quality: {} });
    expect(after.find((r) => r.id === child.id)!.availableQuantity).toBe(0.4167);
    const { rows: micros } = await t.sql.query<{ n: number }>(
      `select count(*)::int as n from specimen where id = any($1) and extract(microseconds from updated_at)::int % 1000 <> 0`,
      [ids],
    );
    expect(micros[0]!.n).toBeGreaterThan(0);

    const audit = await auditOf(ctx.requestId);
    expect(audit.map((a) => [a.entity_id, a.action])).toEqual([
      [full.id, 'checkOutSpecimen'],
      [bare.id, 'receiveSpecimen'],
      [child.id, 'consumeSpecimen'],
      [held.id, 'releaseHold'],
      [edited.id, 'updateSpecimen'],
    ]);
    for (const [i, a] of audit.entries()) {
      const c = commands[i]!;
      expect(a).toMatchObject({
        institution_id: lab.institution.id,
        actor: 'system:test',
        actor_role: null,
        entity_type: 'specimen',
        request_id: ctx.requestId,
      });
      expect(a.before, `before of ${a.action}`).toEqual(asJson(c.specimen));
      expect(a.after, `after of ${a.action}`).toEqual(asJson(after[i]));
      expect(a.before_text).toBe(await storedText(c.specimen));
      expect(a.after_text).toBe(await storedText(after[i]));
    }
    // The rows the batch returns are the rows as the ORM reads them.
    const read = byId(await findSpecimensByIds(t.c.db, lab.institution.id, ids));
    expect(after).toEqual(after.map((r) => read.get(r.id)));
  });

  it('stores the same documents as the single-change path for the same change', async () => {
    const { full, edited } = await tubesOfEveryKind();
    const change = (rows: Map<string, SpecimenRow>): SpecimenCommand => ({
      kind: 'consume',
      specimen: rows.get(full.id)!,
      quantity: 0.125,
    });
    // The change alone (recordAudit), rolled back once its audit row is read: the tube stays as it was.
    const alone = systemCtx(t.c, lab.institution.id);
    let single: AuditDoc[] = [];
    let singleAfter: SpecimenRow[] = [];
    await expect(
      applyBatch(
        alone,
        [full.id],
        (rows) => [change(rows)],
        async (tx, after) => {
          single = await auditIn(tx, alone.requestId);
          singleAfter = after;
          throw new Error('rolled back on purpose');
        },
      ),
    ).rejects.toThrow('rolled back on purpose');
    // The same change in a batch with another tube, from the same row.
    const together = systemCtx(t.c, lab.institution.id);
    const batch = await applyBatch(together, [full.id, edited.id], (rows) => [
      change(rows),
      { kind: 'check_out', specimen: rows.get(edited.id)! },
    ]);
    const batched = await auditOf(together.requestId);
    expect(single).toHaveLength(1);
    expect(batched).toHaveLength(2);
    const [one, inBatch] = [single[0]!, batched[0]!];
    expect([inBatch.entity_id, inBatch.action]).toEqual([one.entity_id, one.action]);
    expect(one.after).toEqual(asJson(singleAfter[0]));
    expect(inBatch.after).toEqual(asJson(batch.after[0]));
    // Before: the same row, stored alike to the character.
    expect(inBatch.before_text).toBe(one.before_text);
    // After: alike to the character but for what each transaction stamps (its time, and the
    // custody hash over it).
    expect(inBatch.after_unstamped_text).toBe(one.after_unstamped_text);
    expect(inBatch.after!.updatedAt).not.toBe(one.after!.updatedAt);
    expect(inBatch.after!.availableQuantity).toBe(2.375);
  });
});

describe('audit rows of a rack scan', () => {
  it('stores every moved tube as read before and after the scan, under the technician who scanned', async () => {
    const box = await lab.box({ rows: 3, cols: 3 });
    const other = await lab.box({ rows: 3, cols: 3 });
    const a = await lab.register({ ...people, containerId: box.id, position: 'A1', quantity: 1.5 });
    const b = await lab.register({ containerId: box.id, position: 'A2', quantity: 0.25 });
    const c = await lab.register({
      containerId: other.id,
      position: 'C3',
      collectedAt: '2024-01-02T03:04:05.678Z',
      quality: { rin: 9.2 },
    });
    const ids = [a.id, b.id, c.id];
    const before = byId(await findSpecimensByIds(t.c.db, lab.institution.id, ids));
    const requestId = `rack-audit-${randomBytes(4).toString('hex')}`;
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/containers/${box.id}/rack-scan`,
      headers: { ...bearer(lab.keys.technician), 'x-request-id': requestId },
      payload: {
        apply: true,
        readings: [
          { position: 'A1', barcode: b.barcode },
          { position: 'A2', barcode: a.barcode },
          { position: 'B2', barcode: c.barcode },
        ],
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const after = byId(await findSpecimensByIds(t.c.db, lab.institution.id, ids));
    const audit = await auditOf(requestId);
    expect(audit.map((r) => r.entity_id).sort()).toEqual([...ids].sort());
    for (const row of audit) {
      expect(row).toMatchObject({ action: 'rackScan', actor_role: 'technician', entity_type: 'specimen' });
      expect(row.actor).toMatch(/^api_key:/);
      expect(row.before).toEqual(asJson(before.get(row.entity_id)));
      expect(row.after).toEqual(asJson(after.get(row.entity_id)));
      expect(row.before_text).toBe(await storedText(before.get(row.entity_id)));
      expect(row.after_text).toBe(await storedText(after.get(row.entity_id)));
    }
    expect(after.get(c.id)).toMatchObject({ containerId: box.id, positionRow: 2, positionCol: 2 });
  });
});
