import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLab, uid, type Lab } from './helpers/inventory.js';
import {
  SPECIMEN_HEADER,
  csv,
  runImportJob,
  specimenLine,
  tubes,
  uploader,
  type ImportBody,
} from './helpers/imports.js';
import { bearer, createTestApp, type TestApp } from './helpers/test-app.js';
import { putAs } from './helpers/upsert.js';

// An LIS integration script's day, as the issue describes it: upsert 200 specimens by accession
// number, resend all of them, update 20, read the change feed from the start and from a saved
// cursor, import a file with 3 bad rows as a dry run, fix and import it, then import it again.
// Each step ends with exactly the expected rows, versions, custody events and feed entries.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

interface Change {
  entity: string;
  entityId: string;
  version: number;
  operation: string;
  changedFields: string[];
}

async function drain(after?: string) {
  const items: Change[] = [];
  let cursor = after;
  for (;;) {
    const q = new URLSearchParams({ limit: '500', ...(cursor ? { after: cursor } : {}) });
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/changes?${q.toString()}`,
      headers: bearer(lab.keys.integration),
    });
    expect(res.statusCode, res.body).toBe(200);
    const page = res.json<{ items: Change[]; nextCursor: string; hasMore: boolean }>();
    items.push(...page.items);
    cursor = page.nextCursor;
    if (!page.hasMore) return { items, cursor };
  }
}

/** The institution's specimens, custody events and audit rows, and the sum of the specimens' versions. */
async function state() {
  const { rows } = await t.sql.query<{ specimens: number; versions: number; custody: number; audit: number }>(
    `select (select count(*)::int from specimen where institution_id = $1) as specimens,
            (select coalesce(sum(version), 0)::int from specimen where institution_id = $1) as versions,
            (select count(*)::int from custody_event where institution_id = $1) as custody,
            (select count(*)::int from audit_log where institution_id = $1 and entity_type = 'specimen') as audit`,
    [lab.institution.id],
  );
  return rows[0]!;
}

describe("an LIS script's day", () => {
  it('ends with exactly the expected rows, versions, custody events and feed entries', async () => {
    const put = putAs(t, lab.keys.integration);
    const url = (accession: string) => `/v1/specimens/by-external-id/LIS/${accession}`;
    const sent = Array.from({ length: 200 }, () => ({
      accession: uid('ACC'),
      body: { barcode: uid('S'), type: 'serum', quantity: 2, collectedAt: '2026-03-02T08:15:00Z' },
    }));

    // 1. Upsert 200 specimens by accession number: 200 created, each version 1 with one custody event.
    for (const s of sent) expect((await put(url(s.accession), s.body)).statusCode).toBe(201);
    expect(await state()).toEqual({ specimens: 200, versions: 200, custody: 200, audit: 200 });

    // 2. Resend all of them: nothing changes.
    for (const s of sent) expect((await put(url(s.accession), s.body)).statusCode).toBe(200);
    expect(await state()).toEqual({ specimens: 200, versions: 200, custody: 200, audit: 200 });

    // 3. Update 20: 20 new versions and audit rows, no custody event (nothing physical happened).
    for (const s of sent.slice(0, 20))
      expect((await put(url(s.accession), { ...s.body, anatomicSite: 'antecubital vein' })).statusCode).toBe(
        200,
      );
    expect(await state()).toEqual({ specimens: 200, versions: 220, custody: 200, audit: 220 });

    // 4. The feed from the start: 200 creations, then 20 updates naming the changed field.
    const fromStart = await drain();
    const specimenChanges = fromStart.items.filter((c) => c.entity === 'specimen');
    expect(specimenChanges.filter((c) => c.operation === 'created')).toHaveLength(200);
    const updates = specimenChanges.filter((c) => c.operation === 'updated');
    expect(updates).toHaveLength(20);
    expect(updates.every((c) => c.version === 2 && c.changedFields.includes('anatomicSite'))).toBe(true);
    const saved = fromStart.cursor;

    // 5. A file with 3 bad rows, as a dry run: all three reported, nothing changed.
    const box = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
    const lines = tubes(30, box.barcode);
    const bad = [...lines];
    bad[3] = { ...lines[3]!, position: 'J10' };
    bad[10] = { ...lines[10]!, box: 'NO-SUCH-BOX' };
    bad[20] = { ...lines[20]!, accession: sent[0]!.accession };
    const send = uploader(t, () => lab.keys.integration);
    const dry = await send(csv(SPECIMEN_HEADER, bad.map(specimenLine)), {
      kind: 'specimens',
      dryRun: 'true',
    });
    expect(dry.statusCode, dry.body).toBe(200);
    expect(dry.json<ImportBody>().errors.map((e) => [e.row, e.column, e.code])).toEqual([
      [5, 'position', 'POSITION_OUTSIDE_GRID'],
      [12, 'containerBarcode', 'CONTAINER_NOT_FOUND'],
      [22, 'externalIdValue', 'EXTERNAL_ID_TAKEN'],
    ]);
    expect(await state()).toEqual({ specimens: 200, versions: 220, custody: 200, audit: 220 });
    expect((await drain(saved)).items.filter((c) => c.entity === 'specimen')).toEqual([]);

    // 6. Fixed and imported: 30 tubes, each collected and stored, one audit row and one feed entry.
    const fixed = csv(SPECIMEN_HEADER, lines.map(specimenLine));
    const res = await send(fixed, { kind: 'specimens' });
    expect(res.statusCode, res.body).toBe(202);
    await runImportJob(t, res.json<ImportBody>().id);
    expect(await state()).toEqual({ specimens: 230, versions: 250, custody: 260, audit: 250 });
    const afterImport = await drain(saved);
    const created = afterImport.items.filter((c) => c.entity === 'specimen');
    expect(created).toHaveLength(30);
    expect(created.every((c) => c.operation === 'created' && c.version === 1)).toBe(true);

    // 7. Imported again: nothing new, and nothing in the feed after the last cursor.
    const again = await send(fixed, { kind: 'specimens' });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toMatchObject({ status: 'completed', existingRows: 30, validRows: 0 });
    expect(await state()).toEqual({ specimens: 230, versions: 250, custody: 260, audit: 250 });
    expect((await drain(afterImport.cursor)).items.filter((c) => c.entity === 'specimen')).toEqual([]);
  });
});
