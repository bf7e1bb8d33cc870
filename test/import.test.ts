import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, fieldsOf, makeLab, uid, type ContainerBody, type Lab } from './helpers/inventory.js';
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

// Bulk import of specimens: the whole file is validated before anything is applied, every bad row
// is reported with its row, column and code at once, a dry run and a refused file change nothing,
// the rows apply through the ledger as one job, and a file sent again creates nothing.

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

async function specimensHeld(accessions: string[]) {
  const { rows } = await t.sql.query<{ n: number }>(
    `select count(*)::int as n from specimen_external_id where institution_id = $1 and value = any($2)`,
    [lab.institution.id, accessions],
  );
  return rows[0]!.n;
}

describe('POST /v1/imports?kind=specimens', () => {
  it('reports every bad row at once with row, column and code, and refuses the file (422) changing nothing', async () => {
    const other = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
    const good = tubes(3, other.barcode);
    const held = uid('ACC');
    await lab.register({ externalIds: [{ system: 'LIS', value: held }] });
    const lines = [
      ...good.map(specimenLine),
      specimenLine({ accession: uid('ACC'), barcode: uid('S'), box: other.barcode, position: 'K12' }),
      specimenLine({ accession: uid('ACC'), barcode: uid('S'), protocol: 'NO-SUCH-PROTOCOL' }),
      specimenLine({ accession: uid('ACC'), barcode: uid('S'), box: 'NO-SUCH-BOX', position: 'A1' }),
      specimenLine({ accession: good[0]!.accession, barcode: uid('S') }),
      specimenLine({ accession: uid('ACC'), barcode: uid('S'), quantity: 'lots' }),
      'LIS,too,few',
      specimenLine({ accession: held, barcode: uid('S') }),
    ];
    const before = await lab.counts();
    const res = await send(csv(SPECIMEN_HEADER, lines), { kind: 'specimens' });
    const problem = expectProblem(res, 422, 'IMPORT_REJECTED');
    const rowErrors = (problem.rowErrors as ImportBody['errors']).map((e) => [e.row, e.column, e.code]);
    // The header is row 1: the first data row is row 2.
    expect(rowErrors).toEqual([
      [5, 'position', 'POSITION_OUTSIDE_GRID'],
      [6, 'protocolCode', 'PROTOCOL_NOT_FOUND'],
      [7, 'containerBarcode', 'CONTAINER_NOT_FOUND'],
      [8, 'externalIdValue', 'DUPLICATE_IN_FILE'],
      [9, 'quantity', 'VALIDATION_FAILED'],
      [10, null, 'MALFORMED_ROW'],
      [11, 'externalIdValue', 'EXTERNAL_ID_TAKEN'],
    ]);
    expect(problem).toMatchObject({ totalRows: 10, invalidRows: 7, errorCount: 7 });
    expect(await lab.counts()).toEqual(before);
    expect(await specimensHeld(good.map((g) => g.accession))).toBe(0);
    // The job keeps its report, paged.
    const id = problem.importId as string;
    const job = await lab.get(`/v1/imports/${id}`, { role: 'integration' });
    expect(job.json()).toMatchObject({ status: 'rejected', invalidRows: 7, appliedRows: 0 });
    const page1 = await lab.get(`/v1/imports/${id}/errors?limit=4`, { role: 'integration' });
    const p1 = page1.json<{ items: { row: number }[]; nextCursor: string }>();
    expect(p1.items.map((e) => e.row)).toEqual([5, 6, 7, 8]);
    const page2 = await lab.get(`/v1/imports/${id}/errors?limit=4&cursor=${p1.nextCursor}`, {
      role: 'integration',
    });
    expect(page2.json<{ items: { row: number }[]; nextCursor: null }>()).toMatchObject({
      items: [{ row: 9 }, { row: 10 }, { row: 11 }],
      nextCursor: null,
    });
  });

  it('a dry run reports and changes nothing; the import then applies through the ledger as one job', async () => {
    const lines = tubes(5, box.barcode);
    const file = csv(SPECIMEN_HEADER, lines.map(specimenLine));
    const before = await lab.counts();
    const dry = await send(file, { kind: 'specimens', dryRun: 'true' });
    expect(dry.statusCode, dry.body).toBe(200);
    expect(dry.json()).toMatchObject({ status: 'validated', totalRows: 5, validRows: 5, errors: [] });
    expect(await lab.counts()).toEqual(before);
    const { rows: queued } = await t.sql.query("select 1 from outbox where job_name = 'imports.apply'");
    const outboxBefore = queued.length;

    const res = await send(file, { kind: 'specimens' });
    expect(res.statusCode, res.body).toBe(202);
    const job = res.json<ImportBody>();
    expect(res.headers.location).toBe(`/v1/imports/${job.id}`);
    expect(job).toMatchObject({ status: 'queued', validRows: 5, appliedRows: 0 });
    expect((await t.sql.query("select 1 from outbox where job_name = 'imports.apply'")).rows).toHaveLength(
      outboxBefore + 1,
    );
    await runImportJob(t, job.id);
    const done = await lab.get(`/v1/imports/${job.id}`, { role: 'integration' });
    expect(done.json()).toMatchObject({
      status: 'completed',
      appliedRows: 5,
      createdRecords: 5,
      progress: 1,
    });
    expect(await specimensHeld(lines.map((l) => l.accession))).toBe(5);
    const after = await lab.counts();
    // Each tube: collected + stored custody events and one audit row, as registered one by one.
    expect(after.specimen - before.specimen).toBe(5);
    expect(after.custody - before.custody).toBe(10);
  });

  it('re-importing the same file creates nothing new', async () => {
    const other = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
    const file = csv(SPECIMEN_HEADER, tubes(4, other.barcode).map(specimenLine));
    const first = await send(file, { kind: 'specimens' });
    expect(first.statusCode, first.body).toBe(202);
    await runImportJob(t, first.json<ImportBody>().id);
    const before = await lab.counts();
    const again = await send(file, { kind: 'specimens' });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toMatchObject({ status: 'completed', existingRows: 4, validRows: 0, errorCount: 0 });
    expect(await lab.counts()).toEqual({ ...before, audit: before.audit + 1 });
  });

  it('refuses a row naming a registered tube with another type or quantity (IMMUTABLE_FIELD), before and while applying', async () => {
    const other = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
    const lines = tubes(2, other.barcode);
    const file = csv(SPECIMEN_HEADER, lines.map(specimenLine));
    const first = await send(file, { kind: 'specimens' });
    await runImportJob(t, first.json<ImportBody>().id);
    const changed = csv(SPECIMEN_HEADER, [
      specimenLine(lines[0]!),
      specimenLine({ ...lines[1]!, type: 'urine', quantity: '9' }),
    ]);
    const before = await lab.counts();
    const again = await send(changed, { kind: 'specimens', dryRun: 'true' });
    const body = again.json<ImportBody>();
    expect(body).toMatchObject({ existingRows: 1, validRows: 0, invalidRows: 1 });
    expect(body.errors.map((e) => [e.row, e.column, e.code])).toEqual([[3, 'type', 'IMMUTABLE_FIELD']]);
    expect(body.errors[0]!.detail).toContain('type, quantity');

    // Validated while the tube was not there yet, applied after another copy registered it.
    const late = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
    const [tube] = tubes(1, late.barcode);
    const queued = await send(csv(SPECIMEN_HEADER, [specimenLine({ ...tube!, type: 'urine' })]), {
      kind: 'specimens',
      mode: 'valid-rows',
    });
    expect(queued.statusCode, queued.body).toBe(202);
    const registered = await send(csv(SPECIMEN_HEADER, [specimenLine(tube!)]), { kind: 'specimens' });
    await runImportJob(t, registered.json<ImportBody>().id);
    await runImportJob(t, queued.json<ImportBody>().id);
    const applied = await lab.get(`/v1/imports/${queued.json<ImportBody>().id}`, { role: 'integration' });
    expect(applied.json<ImportBody>()).toMatchObject({ existingRows: 0, createdRecords: 0, errorCount: 1 });
    const errors = await lab.get(`/v1/imports/${queued.json<ImportBody>().id}/errors`, {
      role: 'integration',
    });
    expect(errors.json<{ items: { code: string }[] }>().items.map((e) => e.code)).toEqual([
      'IMMUTABLE_FIELD',
    ]);
    expect((await lab.counts()).specimen).toBe(before.specimen + 1);
  });

  it('counts the rows of a file sent again before the first copy was applied as already there', async () => {
    for (const mode of ['all-or-nothing', 'valid-rows']) {
      const box = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
      const copy = csv(SPECIMEN_HEADER, tubes(4, box.barcode).map(specimenLine));
      // Both copies validated and queued before either is applied (an LIS retrying after a timeout).
      const first = await send(copy, { kind: 'specimens', mode });
      const second = await send(copy, { kind: 'specimens', mode });
      expect([first.statusCode, second.statusCode], second.body).toEqual([202, 202]);
      await runImportJob(t, first.json<ImportBody>().id);
      const before = await lab.counts();
      await runImportJob(t, second.json<ImportBody>().id);
      const again = await lab.get(`/v1/imports/${second.json<ImportBody>().id}`, { role: 'integration' });
      expect(again.json(), mode).toMatchObject({
        status: 'completed',
        totalRows: 4,
        validRows: 0,
        existingRows: 4,
        invalidRows: 0,
        appliedRows: 0,
        createdRecords: 0,
        errorCount: 0,
        progress: 1,
      });
      expect((await lab.counts()).specimen).toBe(before.specimen);
    }
  });

  it('valid-rows applies the good rows and reports the bad ones', async () => {
    const other = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
    const good = tubes(3, other.barcode);
    const lines = [
      ...good.map(specimenLine),
      specimenLine({ accession: uid('ACC'), barcode: uid('S'), box: other.barcode, position: 'Z99' }),
    ];
    const res = await send(csv(SPECIMEN_HEADER, lines), { kind: 'specimens', mode: 'valid-rows' });
    expect(res.statusCode, res.body).toBe(202);
    const job = res.json<ImportBody>();
    expect(job).toMatchObject({ validRows: 3, invalidRows: 1 });
    expect(job.errors.map((e) => [e.row, e.column, e.code])).toEqual([
      [5, 'position', 'POSITION_OUTSIDE_GRID'],
    ]);
    await runImportJob(t, job.id);
    expect(await specimensHeld(good.map((g) => g.accession))).toBe(3);
  });

  it('a row refused while applying (its position taken since validation): all-or-nothing keeps nothing, valid-rows the rest', async () => {
    for (const mode of ['all-or-nothing', 'valid-rows']) {
      const other = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
      const lines = tubes(3, other.barcode);
      const res = await send(csv(SPECIMEN_HEADER, lines.map(specimenLine)), { kind: 'specimens', mode });
      expect(res.statusCode, res.body).toBe(202);
      // Another tube takes the third row's position before the job runs.
      await lab.register({ containerId: other.id, position: lines[2]!.position });
      const id = res.json<ImportBody>().id;
      await runImportJob(t, id);
      const job = (await lab.get(`/v1/imports/${id}`, { role: 'integration' })).json<ImportBody>();
      const errors = (await lab.get(`/v1/imports/${id}/errors`, { role: 'integration' })).json<{
        items: ImportBody['errors'];
      }>().items;
      expect(errors.map((e) => [e.row, e.column, e.code])).toEqual([[4, 'position', 'POSITION_OCCUPIED']]);
      if (mode === 'all-or-nothing') {
        expect(job).toMatchObject({ status: 'failed', appliedRows: 0, createdRecords: 0 });
        // The rows read still add up: the refused row moved from valid to invalid.
        expect(job).toMatchObject({ totalRows: 3, validRows: 2, existingRows: 0, invalidRows: 1 });
        expect(await specimensHeld(lines.map((l) => l.accession))).toBe(0);
      } else {
        expect(job).toMatchObject({ status: 'completed', appliedRows: 2, createdRecords: 2, invalidRows: 1 });
        expect(job).toMatchObject({ totalRows: 3, validRows: 2, existingRows: 0 });
        expect(await specimensHeld(lines.map((l) => l.accession))).toBe(2);
      }
    }
  });

  it('applies each row once when the job is delivered twice at the same time', async () => {
    for (const mode of ['all-or-nothing', 'valid-rows']) {
      const other = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
      const lines = tubes(4, other.barcode);
      const res = await send(csv(SPECIMEN_HEADER, lines.map(specimenLine)), { kind: 'specimens', mode });
      expect(res.statusCode, res.body).toBe(202);
      const id = res.json<ImportBody>().id;
      await Promise.all([runImportJob(t, id), runImportJob(t, id)]);
      const job = (await lab.get(`/v1/imports/${id}`, { role: 'integration' })).json<ImportBody>();
      expect(job, mode).toMatchObject({
        status: 'completed',
        appliedRows: 4,
        createdRecords: 4,
        errorCount: 0,
      });
      expect(await specimensHeld(lines.map((l) => l.accession))).toBe(4);
    }
  });

  it('accepts gzip, and NDJSON', async () => {
    const other = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
    const [a, b] = tubes(2, other.barcode);
    const gz = await send(csv(SPECIMEN_HEADER, [specimenLine(a!)]), { kind: 'specimens' }, { gzip: true });
    expect(gz.statusCode, gz.body).toBe(202);
    const ndjson = JSON.stringify({
      externalIdSystem: 'LIS',
      externalIdValue: b!.accession,
      barcode: b!.barcode,
      type: 'serum',
      quantity: 1.5,
      containerBarcode: other.barcode,
      position: b!.position,
    });
    const nd = await send(`${ndjson}\n`, { kind: 'specimens' }, { contentType: 'application/x-ndjson' });
    expect(nd.statusCode, nd.body).toBe(202);
    await runImportJob(t, gz.json<ImportBody>().id);
    await runImportJob(t, nd.json<ImportBody>().id);
    expect(await specimensHeld([a!.accession, b!.accession])).toBe(2);
  });

  it('reads a CRLF file with blank lines (as a Windows tool writes it) as it reads the same file with LF', async () => {
    const other = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
    const [a, b] = tubes(2, other.barcode);
    const file = `${SPECIMEN_HEADER}\r\n${specimenLine(a!)}\r\n\r\n${specimenLine(b!)}\r\n\r\n`;
    const res = await send(file, { kind: 'specimens' });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json<ImportBody>()).toMatchObject({ totalRows: 2 });
    await runImportJob(t, res.json<ImportBody>().id);
    expect(await specimensHeld([a!.accession, b!.accession])).toBe(2);
  });

  it("reports a NUL in a text column as the row's error, in CSV and NDJSON, and keeps nothing", async () => {
    const before = await lab.counts();
    // externalIdValue is free text: no pattern of its schema refuses the NUL.
    const nulAccession = specimenLine({ accession: `ACC\u0000${uid('N')}`, barcode: uid('S') });
    const fromCsv = await send(
      csv(SPECIMEN_HEADER, [specimenLine({ accession: uid('ACC'), barcode: uid('S') }), nulAccession]),
      { kind: 'specimens', dryRun: 'true' },
    );
    expect(fromCsv.statusCode, fromCsv.body).toBe(200);
    const csvRows = fromCsv.json<ImportBody>().errors;
    expect(csvRows.map((e) => [e.row, e.column, e.code])).toEqual([
      [3, 'externalIdValue', 'VALIDATION_FAILED'],
    ]);
    const fields = {
      externalIdSystem: 'LIS',
      externalIdValue: uid('ACC'),
      barcode: uid('S'),
      type: 'serum',
      quantity: 1,
    };
    const lines = [
      JSON.stringify({ ...fields, anatomicSite: 'a\u0000b' }),
      // A field name with a NUL is an unknown field, named escaped in the row's error.
      JSON.stringify({ ...fields, externalIdValue: uid('ACC'), barcode: uid('S'), 'x\u0000': 1 }),
    ];
    const fromNdjson = await send(
      `${lines.join('\n')}\n`,
      { kind: 'specimens', mode: 'valid-rows' },
      { contentType: 'application/x-ndjson' },
    );
    expect(fromNdjson.statusCode, fromNdjson.body).toBeLessThan(500);
    const report = fromNdjson.json<ImportBody>();
    expect(report.errors.map((e) => [e.row, e.column, e.code])).toEqual([
      [1, 'anatomicSite', 'VALIDATION_FAILED'],
      [2, 'x\\u0000', 'MALFORMED_ROW'],
    ]);
    // No specimen or custody event (the imports themselves are audited).
    expect(await lab.counts()).toMatchObject({ specimen: before.specimen, custody: before.custody });
  });

  it('refuses a file it cannot read with 400 and keeps nothing', async () => {
    const before = await lab.counts();
    const { rows: jobsBefore } = await t.sql.query('select count(*)::int as n from import_job');
    const unclosed = await send(`${SPECIMEN_HEADER}\nLIS,"ACC-1,S-1,serum,1\n`, { kind: 'specimens' });
    expect(expectProblem(unclosed, 400, 'IMPORT_MALFORMED').detail).toMatch(/not closed/);
    const unknownColumn = await send('barcode,colour\nS-1,red\n', { kind: 'specimens' });
    expect(expectProblem(unknownColumn, 400, 'IMPORT_MALFORMED').detail).toMatch(/unknown column colour/);
    const badGzip = await send(
      Buffer.from([0x1f, 0x8b, 1, 2, 3]),
      { kind: 'specimens' },
      { contentType: 'application/gzip' },
    );
    expectProblem(badGzip, 400, 'IMPORT_MALFORMED');
    // A media type a file is not sent in is told what to send; a format the media type contradicts is refused.
    for (const contentType of ['text/plain', 'application/json']) {
      const wrong = await send('{}', { kind: 'specimens' }, { contentType });
      expect(expectProblem(wrong, 415, 'UNSUPPORTED_MEDIA_TYPE').detail).toMatch(
        /text\/csv or application\/x-ndjson/,
      );
    }
    const contradicted = await send(`${SPECIMEN_HEADER}\n`, { kind: 'specimens', format: 'ndjson' });
    expect(fieldsOf(expectProblem(contradicted, 400, 'VALIDATION_FAILED'))).toEqual(['querystring.format']);
    expect(await lab.counts()).toEqual(before);
    const { rows: jobsAfter } = await t.sql.query('select count(*)::int as n from import_job');
    expect(jobsAfter).toEqual(jobsBefore);
  });

  it("keeps institutions apart: another institution's import is 404 and its boxes are unknown here", async () => {
    const other = await makeLab(t);
    const theirBox = await other.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
    const res = await send(csv(SPECIMEN_HEADER, tubes(1, theirBox.barcode).map(specimenLine)), {
      kind: 'specimens',
      dryRun: 'true',
    });
    expect(res.json<ImportBody>().errors.map((e) => e.code)).toEqual(['CONTAINER_NOT_FOUND']);
    const id = res.json<ImportBody>().id;
    expectProblem(await other.get(`/v1/imports/${id}`, { role: 'integration' }), 404, 'IMPORT_NOT_FOUND');
    expectProblem(
      await other.get(`/v1/imports/${id}/errors`, { role: 'integration' }),
      404,
      'IMPORT_NOT_FOUND',
    );
  });

  it('serves a CSV template per kind: a header and one example row', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/imports/templates/specimens.csv',
      headers: bearer(lab.keys.integration),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const lines = res.body.trim().split('\r\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^externalIdSystem,externalIdValue,barcode,type,quantity,/);
  });

  it('answers a technician uploading participants with 403', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/imports?kind=participants',
      headers: { ...bearer(lab.keys.technician), 'content-type': 'text/csv' },
      payload: 'protocolCode,lisPatientId,participantCode\nP,L,D\n',
    });
    expectProblem(res, 403, 'FORBIDDEN');
  });
});
