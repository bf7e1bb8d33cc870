import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importCommand } from '../src/modules/imports/index.js';
import { graphqlRequests } from './helpers/graphql.js';
import { makeLab, uid, type ContainerBody, type Lab } from './helpers/inventory.js';
import { SPECIMEN_HEADER, csv, specimenLine, tubes, uploader, type ImportBody } from './helpers/imports.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// The import command (`npm run biobank -- import FILE ...`): the same validation and apply as the
// route, in the calling process, with the report on stdout and progress on stderr; and an import's
// progress read over GraphQL.

let t: TestApp;
let lab: Lab;
let box: ContainerBody;
let dir: string;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  box = await lab.box({ rows: 9, cols: 9, scheme: 'alphanumeric' });
  dir = mkdtempSync(join(tmpdir(), 'biobank-import-cli-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await t.close();
});

function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { stream, text: () => text };
}

async function run(args: string[]) {
  const stdout = sink();
  const stderr = sink();
  const code = await importCommand(t.c, args, { stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe('npm run biobank -- import', () => {
  it('reports bad rows of a dry run, then imports the fixed gzip file with progress on stderr', async () => {
    const lines = tubes(3, box.barcode);
    const bad = csv(SPECIMEN_HEADER, [
      ...lines.map(specimenLine),
      specimenLine({ accession: uid('ACC'), barcode: uid('S'), box: box.barcode, position: 'Q1' }),
    ]);
    const badFile = join(dir, 'bad.csv');
    writeFileSync(badFile, bad);
    const dry = await run([badFile, '--institution', lab.institution.code, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/row 5 position: POSITION_OUTSIDE_GRID/);
    expect(dry.stdout).toMatch(/validated; 4 rows read, 3 valid/);

    const file = join(dir, 'good.csv.gz');
    writeFileSync(file, gzipSync(csv(SPECIMEN_HEADER, lines.map(specimenLine))));
    const done = await run([file, '--institution', lab.institution.code]);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(
      /completed; 3 rows read, 3 valid, 0 already there, 0 with errors \(0 errors\), 3 applied, 3 created/,
    );
    expect(done.stderr).toMatch(/\[#+\] 100% 3\/3 rows/);
    const { rows } = await t.sql.query<{ n: number }>(
      'select count(*)::int as n from specimen where institution_id = $1 and container_id = $2',
      [lab.institution.id, box.id],
    );
    expect(rows[0]!.n).toBe(3);
  });

  it('exits 1 on a refused file and 2 on bad arguments', async () => {
    const file = join(dir, 'refused.csv');
    writeFileSync(
      file,
      csv(SPECIMEN_HEADER, [
        specimenLine({ accession: uid('ACC'), barcode: uid('S'), box: 'NOPE', position: 'A1' }),
      ]),
    );
    const refused = await run([file, '--institution', lab.institution.code]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/row 2 containerBarcode: CONTAINER_NOT_FOUND/);
    expect(refused.stderr).toMatch(/IMPORT_REJECTED/);
    expect((await run([file, '--institution', lab.institution.code, '--mode', 'some'])).code).toBe(2);
    expect((await run([file])).code).toBe(2);
  });
});

describe('Query.importJob', () => {
  const { ok, refusal } = graphqlRequests(
    () => t,
    () => lab.keys.integration,
  );

  it("answers an import's progress as REST does, and another institution's as IMPORT_NOT_FOUND", async () => {
    const send = uploader(t, () => lab.keys.integration);
    const res = await send(csv(SPECIMEN_HEADER, tubes(2, box.barcode).map(specimenLine)), {
      kind: 'specimens',
      dryRun: 'true',
    });
    const id = res.json<ImportBody>().id;
    const data = await ok<{ importJob: Record<string, unknown> }>(
      'query ($id: ID!) { importJob(id: $id) { id kind mode status totalRows validRows appliedRows progress errorsUrl } }',
      { id },
    );
    expect(data.importJob).toMatchObject({
      id,
      kind: 'specimens',
      mode: 'all-or-nothing',
      status: 'validated',
      totalRows: 2,
    });
    const other = await makeLab(t);
    const e = await refusal('query ($id: ID!) { importJob(id: $id) { id } }', { id }, other.keys.integration);
    expect(e.extensions?.code).toBe('IMPORT_NOT_FOUND');
  });
});
