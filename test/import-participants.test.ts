import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, makeLab, uid, type Lab } from './helpers/inventory.js';
import { cohort, csv, runImportJob, uploader, type ImportBody } from './helpers/imports.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// Importing participants (by protocol code and LIS patient id, through the participant upsert) and
// consents (by participant and document version, through recordConsent); specimens then name
// their donors by LIS patient id. A file sent again creates nothing.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

const send = (...args: Parameters<ReturnType<typeof uploader>>) =>
  uploader(t, () => lab.keys.integration)(...args);

async function imported(file: string, kind: string) {
  const res = await send(file, { kind });
  expect(res.statusCode, res.body).toBe(202);
  const job = res.json<ImportBody>();
  await runImportJob(t, job.id);
  return (await lab.get(`/v1/imports/${job.id}`, { role: 'integration' })).json<ImportBody>();
}

async function count(table: string, where: string, params: unknown[]) {
  const { rows } = await t.sql.query<{ n: number }>(
    `select count(*)::int as n from ${table} where ${where}`,
    params,
  );
  return rows[0]!.n;
}

describe('POST /v1/imports?kind=participants and kind=consents', () => {
  it('imports participants, their consents and their specimens by natural keys; a second run creates nothing', async () => {
    const { code, protocolId } = await cohort(t, lab, []);
    const lis = [uid('PAT'), uid('PAT')];
    const participants = csv(
      'protocolCode,lisPatientId,participantCode,sex,birthYear,diagnoses',
      lis.map((l, i) => `${code},${l},${uid('D')},female,19${60 + i},C50.9;E11.9`),
    );
    expect(await imported(participants, 'participants')).toMatchObject({
      status: 'completed',
      appliedRows: 2,
      createdRecords: 2,
    });
    expect(await count('participant', 'protocol_id = $1', [protocolId])).toBe(2);

    const consents = csv(
      'protocolCode,participantLisId,documentVersion,signedOn,obtainedBy,responses',
      lis.map((l) => `${code},${l},v2,2026-01-15,nurse-17,GENETIC_RESEARCH=yes`),
    );
    expect(await imported(consents, 'consents')).toMatchObject({ status: 'completed', createdRecords: 2 });
    expect(await count('consent', 'protocol_id = $1 and superseded_at is null', [protocolId])).toBe(2);

    const box = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
    const accession = uid('ACC');
    const specimens = csv(
      'externalIdSystem,externalIdValue,barcode,type,quantity,protocolCode,participantLisId,containerBarcode,position',
      [`LIS,${accession},${uid('S')},serum,1,${code},${lis[0]},${box.barcode},A1`],
    );
    expect(await imported(specimens, 'specimens')).toMatchObject({ status: 'completed', createdRecords: 1 });
    const { rows } = await t.sql.query<{ participant_id: string; protocol_id: string }>(
      'select s.participant_id, s.protocol_id from specimen s join specimen_external_id x on x.specimen_id = s.id where x.value = $1',
      [accession],
    );
    expect(rows[0]!.protocol_id).toBe(protocolId);
    expect(rows[0]!.participant_id).toBeTruthy();

    // The same files again: every record is already there as described.
    const versions = await t.sql.query(
      'select id, version from participant where protocol_id = $1 order by id',
      [protocolId],
    );
    const p2 = await imported(participants, 'participants');
    expect(p2).toMatchObject({ appliedRows: 2, createdRecords: 0 });
    const c2 = await imported(consents, 'consents');
    expect(c2).toMatchObject({ createdRecords: 0 });
    expect(
      (
        await t.sql.query('select id, version from participant where protocol_id = $1 order by id', [
          protocolId,
        ])
      ).rows,
    ).toEqual(versions.rows);
    expect(await count('consent', 'protocol_id = $1', [protocolId])).toBe(2);
    const s2 = await send(specimens, { kind: 'specimens' });
    expect(s2.json()).toMatchObject({ status: 'completed', existingRows: 1, validRows: 0 });

    // The same document with another answer is a correction: recorded, as POST /v1/consents would.
    const corrected = csv('protocolCode,participantLisId,documentVersion,signedOn,obtainedBy,responses', [
      `${code},${lis[0]},v2,2026-01-15,nurse-17,GENETIC_RESEARCH=no`,
    ]);
    expect(await imported(corrected, 'consents')).toMatchObject({ status: 'completed', createdRecords: 1 });
    // The two donors' current answers: the corrected one's is now "no".
    const answer = async () =>
      (
        await t.sql.query<{ a: string }>(
          `select responses->>'GENETIC_RESEARCH' as a from consent
            where protocol_id = $1 and superseded_at is null order by a`,
          [protocolId],
        )
      ).rows.map((r) => r.a);
    expect(await answer()).toEqual(['no', 'yes']);
    // Both files again: each row matches a version already recorded, so nothing changes.
    expect(await imported(consents, 'consents')).toMatchObject({ createdRecords: 0 });
    expect(await imported(corrected, 'consents')).toMatchObject({ createdRecords: 0 });
    expect(await answer()).toEqual(['no', 'yes']);
    expect(await count('consent', 'protocol_id = $1', [protocolId])).toBe(3);
  });

  it('reports unknown protocols and participants, tiers the protocol does not ask, and a participant code of another donor', async () => {
    const { code } = await cohort(t, lab, []);
    const lis = uid('PAT');
    const pcode = uid('D');
    await imported(
      csv('protocolCode,lisPatientId,participantCode', [`${code},${lis},${pcode}`]),
      'participants',
    );
    const participants = await send(
      csv('protocolCode,lisPatientId,participantCode,birthYear', [
        `NO-SUCH,${uid('PAT')},${uid('D')},1970`,
        `${code},${uid('PAT')},${pcode},1970`,
        `${code},${uid('PAT')},${uid('D')},next year`,
      ]),
      { kind: 'participants', dryRun: 'true' },
    );
    expect(participants.json<ImportBody>().errors.map((e) => [e.row, e.column, e.code])).toEqual([
      [2, 'protocolCode', 'PROTOCOL_NOT_FOUND'],
      [3, 'participantCode', 'PARTICIPANT_EXISTS'],
      [4, 'birthYear', 'VALIDATION_FAILED'],
    ]);
    const consents = await send(
      csv('protocolCode,participantLisId,documentVersion,signedOn,obtainedBy,responses', [
        `${code},${uid('PAT')},v1,2026-01-15,nurse,`,
        `${code},${lis},v1,2026-01-15,nurse,EXTERNAL_SHARING=yes`,
        `${code},${lis},v1,2999-01-15,nurse,`,
        `${code},${lis},v1,2026-01-15,nurse,GENETIC_RESEARCH`,
      ]),
      { kind: 'consents', dryRun: 'true' },
    );
    expect(consents.json<ImportBody>().errors.map((e) => [e.row, e.column, e.code])).toEqual([
      [2, 'participantLisId', 'PARTICIPANT_NOT_FOUND'],
      [3, 'responses', 'TIER_NOT_IN_PROTOCOL'],
      [4, 'signedOn', 'SIGNED_DATE_IN_FUTURE'],
      [5, 'responses', 'VALIDATION_FAILED'],
    ]);
  });

  it('names a record given twice in one file by what the file said, never by a hash', async () => {
    const { code } = await cohort(t, lab, []);
    const lis = uid('PAT');
    const participants = await send(
      csv('protocolCode,lisPatientId,participantCode', [
        `${code},${lis},${uid('D')}`,
        `${code},${lis},${uid('D')}`,
      ]),
      { kind: 'participants', dryRun: 'true' },
    );
    expect(participants.json<ImportBody>().errors).toEqual([
      {
        row: 3,
        column: 'lisPatientId',
        code: 'DUPLICATE_IN_FILE',
        detail: 'the same lisPatientId is also in row 2',
      },
    ]);
    await imported(
      csv('protocolCode,lisPatientId,participantCode', [`${code},${lis},${uid('D')}`]),
      'participants',
    );
    const line = `${code},${lis},v3,2026-01-15,nurse,`;
    const consents = await send(
      csv('protocolCode,participantLisId,documentVersion,signedOn,obtainedBy,responses', [line, line]),
      { kind: 'consents', dryRun: 'true' },
    );
    expect(consents.json<ImportBody>().errors).toEqual([
      {
        row: 3,
        column: 'documentVersion',
        code: 'DUPLICATE_IN_FILE',
        detail: 'documentVersion v3 is also in row 2',
      },
    ]);
  });

  it('refuses a participants file without the required columns with 400', async () => {
    const res = await send('protocolCode,lisPatientId\nP,L\n', { kind: 'participants' });
    expect(expectProblem(res, 400, 'IMPORT_MALFORMED').detail).toMatch(/participantCode/);
  });
});
