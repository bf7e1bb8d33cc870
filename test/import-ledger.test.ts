import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, makeLab, uid, type ContainerBody, type Lab } from './helpers/inventory.js';
import {
  SPECIMEN_HEADER,
  csv,
  runImportJob,
  specimenLine,
  uploader,
  type ImportBody,
} from './helpers/imports.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { VALIDATE_CHUNK } from '../src/modules/imports/imports.service.js';

// An imported tube is written as a registered one is: the same custody events (hash-chained, the
// uploading key as actor), one audit row, one change-feed entry carrying the upload's request id.
// Rows naming the same record twice are errors of the later row, within a chunk or across chunks.

let t: TestApp;
let lab: Lab;
let box: ContainerBody;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  box = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
});
afterAll(() => t.close());

const send = (...args: Parameters<ReturnType<typeof uploader>>) =>
  uploader(t, () => lab.keys.integration)(...args);

async function traces(specimenId: string) {
  const custody = await t.sql.query<Record<string, unknown>>(
    `select seq, type, actor, to_position, quantity_change::text as quantity, prev_hash is null as first,
            details - 'barcode' as details
       from custody_event where specimen_id = $1 order by seq`,
    [specimenId],
  );
  const audit = await t.sql.query<{ action: string; entity_type: string; actor: string }>(
    'select action, entity_type, actor from audit_log where entity_id = $1::text',
    [specimenId],
  );
  const after = await t.sql.query<{ after: Record<string, unknown> }>(
    'select after from audit_log where entity_id = $1::text',
    [specimenId],
  );
  const feed = await t.sql.query<{ entity: string; operation: string; version: number; request_id: string }>(
    `select entity, operation::text, version, request_id from change_log_pending where entity_id = $1
     union all select entity, operation::text, version, request_id from change_log where entity_id = $1`,
    [specimenId],
  );
  return { custody: custody.rows, audit: audit.rows, after: after.rows[0]!.after, feed: feed.rows };
}

describe('an imported tube', () => {
  it('has the custody events, audit row and change-feed entry of a registered one, naming the uploading key', async () => {
    const registeredRes = await lab.post(
      '/v1/specimens',
      {
        barcode: uid('S'),
        type: 'serum',
        quantity: 1.5,
        collectedAt: '2026-03-02T08:15:00Z',
        containerId: box.id,
        position: 'A1',
        externalIds: [{ system: 'LIS', value: uid('ACC') }],
      },
      { role: 'integration' },
    );
    expect(registeredRes.statusCode, registeredRes.body).toBe(201);
    const registered = registeredRes.json<{ id: string }>();
    const accession = uid('ACC');
    const res = await send(
      csv(SPECIMEN_HEADER, [
        specimenLine({ accession, barcode: uid('S'), box: box.barcode, position: 'A2' }),
      ]),
      { kind: 'specimens' },
    );
    expect(res.statusCode, res.body).toBe(202);
    await runImportJob(t, res.json<ImportBody>().id);
    const { rows } = await t.sql.query<{ specimen_id: string }>(
      'select specimen_id from specimen_external_id where value = $1',
      [accession],
    );
    const imported = await traces(rows[0]!.specimen_id);
    const reference = await traces(registered.id);

    expect(imported.custody.map((e) => ({ ...e, to_position: e.to_position && 'P' }))).toEqual(
      reference.custody.map((e) => ({ ...e, to_position: e.to_position && 'P' })),
    );
    expect(imported.custody.map((e) => e.type)).toEqual(['collected', 'stored']);
    expect(imported.custody[1]!.to_position).toBe('A2');
    expect(imported.audit).toEqual([{ ...reference.audit[0], action: 'importSpecimens' }]);
    // The audit row's `after` is the row as a registration records it: the same fields, written alike.
    const ownOfEachTube = new Set(['id', 'rootId', 'barcode', 'externalIds', 'positionCol', 'custodyHead']);
    const shape = (after: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(after).map(([k, v]) => [
          k,
          ownOfEachTube.has(k) ? typeof v : /At$/.test(k) && typeof v === 'string' ? v.length : v,
        ]),
      );
    expect(shape(imported.after)).toEqual(shape(reference.after));
    expect(imported.after.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(imported.after.collectedAt).toBe(reference.after.collectedAt);
    expect(imported.feed).toEqual([{ ...reference.feed[0], request_id: res.headers['x-request-id'] }]);
    expect(imported.feed[0]!.request_id).not.toBe(reference.feed[0]!.request_id);
    // The chain verifies as a registered one does.
    const verify = await lab.get(`/v1/specimens/${rows[0]!.specimen_id}/custody/verify`, {
      role: 'integration',
    });
    expect(verify.statusCode, verify.body).toBe(200);
    expect(verify.json()).toMatchObject({ valid: true, events: 2 });
  });

  it('reports a record named twice in one chunk as DUPLICATE_IN_FILE of the later row, naming the first', async () => {
    const acc = uid('ACC');
    const res = await send(
      csv(SPECIMEN_HEADER, [
        specimenLine({ accession: acc, barcode: uid('S') }),
        specimenLine({ accession: acc, barcode: uid('S') }),
        specimenLine({ accession: uid('ACC'), barcode: uid('S'), box: box.barcode, position: 'C3' }),
        specimenLine({ accession: uid('ACC'), barcode: uid('S'), box: box.barcode, position: 'c3' }),
      ]),
      { kind: 'specimens', dryRun: 'true' },
    );
    expect(res.statusCode, res.body).toBe(200);
    const errors = res.json<ImportBody>().errors;
    expect(errors.map((e) => [e.row, e.column, e.code])).toEqual([
      [3, 'externalIdValue', 'DUPLICATE_IN_FILE'],
      [5, 'position', 'DUPLICATE_IN_FILE'],
    ]);
    expect(errors[0]!.detail).toMatch(/row 2/);
  });

  it('reports a record named twice in different chunks of a large file', async () => {
    const acc = uid('ACC');
    const lines = [specimenLine({ accession: acc, barcode: uid('S') })];
    const n = VALIDATE_CHUNK + 100;
    for (let i = 0; i < n; i++) lines.push(specimenLine({ accession: uid('ACC'), barcode: uid('S') }));
    lines.push(specimenLine({ accession: acc, barcode: uid('S') }));
    const res = await send(csv(SPECIMEN_HEADER, lines), { kind: 'specimens', dryRun: 'true' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ totalRows: n + 2, validRows: n + 1, invalidRows: 1 });
    expect(res.json<ImportBody>().errors.map((e) => [e.row, e.column, e.code])).toEqual([
      [n + 3, 'externalIdValue', 'DUPLICATE_IN_FILE'],
    ]);
  });

  it('keeps nothing of a file that breaks after its first chunks were checked and staged', async () => {
    const count = async () =>
      (
        await t.sql.query<{ jobs: number; staged: number }>(
          'select (select count(*)::int from import_job) as jobs, (select count(*)::int from import_row) as staged',
        )
      ).rows[0];
    const before = await count();
    const lines: string[] = [];
    for (let i = 0; i < 2 * VALIDATE_CHUNK + 10; i++)
      lines.push(specimenLine({ accession: uid('ACC'), barcode: uid('S') }));
    lines.push('LIS,"ACC-unclosed,S-1,serum,1');
    const res = await send(csv(SPECIMEN_HEADER, lines), { kind: 'specimens' });
    expect(expectProblem(res, 400, 'IMPORT_MALFORMED').detail).toMatch(/not closed/);
    expect(await count()).toEqual(before);
  });
});
