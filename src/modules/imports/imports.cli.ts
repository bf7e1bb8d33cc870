import { createReadStream } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Container } from '../../container.js';
import type { Ctx } from '../../context.js';
import { isDomainError, toProblem } from '../../errors.js';
import { findInstitutionByCode } from '../institutions/index.js';
import { IMPORT_FORMATS, type ImportFormat } from './imports.parse.js';
import {
  IMPORT_KINDS,
  IMPORT_MODES,
  type ImportJobRow,
  type ImportKind,
  type ImportMode,
} from './imports.table.js';

/** The command's lines for the CLI usage text (indented as src/cli.ts lays its commands out). */
export const IMPORT_USAGE = `  import FILE --institution C [--kind specimens|participants|consents] [--dry-run]
         [--mode all-or-nothing|valid-rows] [--format csv|ndjson]
                                           validate FILE (gzip accepted) and apply it in this
                                           process; progress on stderr, the report on stdout`;

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

function progressLine(job: ImportJobRow, startedAt: number, width = 30): string {
  const total = job.validRows;
  const done = job.appliedRows;
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  const seconds = (Date.now() - startedAt) / 1000;
  const rate = seconds > 0 ? Math.round(done / seconds) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${done.toLocaleString('en')}/${total.toLocaleString('en')} rows, ${rate.toLocaleString('en')}/s`;
}

/**
 * `npm run biobank -- import FILE ...`: the same validation and apply as POST /v1/imports, run in
 * this process (no worker needed) as the system acting for the institution. Returns the exit
 * code: 0 done, 1 refused (bad rows or an unreadable file), 2 bad arguments.
 */
export async function importCommand(
  c: Container,
  args: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const usage = (message: string) => {
    io.stderr.write(`biobank import: ${message}\n\nusage: npm run biobank --\n${IMPORT_USAGE}\n`);
    return 2;
  };
  let parsed: ReturnType<typeof parse>;
  const parse = () =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        institution: { type: 'string' },
        kind: { type: 'string', default: 'specimens' },
        mode: { type: 'string', default: 'all-or-nothing' },
        format: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
      },
    });
  try {
    parsed = parse();
  } catch (err) {
    return usage(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  const file = positionals[0];
  if (!file || positionals.length > 1) return usage('name one FILE');
  if (!values.institution) return usage('--institution is required');
  if (!IMPORT_KINDS.includes(values.kind as ImportKind))
    return usage(`--kind must be one of ${IMPORT_KINDS.join(', ')}`);
  if (!IMPORT_MODES.includes(values.mode as ImportMode))
    return usage(`--mode must be one of ${IMPORT_MODES.join(', ')}`);
  if (values.format && !IMPORT_FORMATS.includes(values.format as ImportFormat))
    return usage(`--format must be one of ${IMPORT_FORMATS.join(', ')}`);
  const format = (values.format ?? (/\.ndjson(\.gz)?$/i.test(file) ? 'ndjson' : 'csv')) as ImportFormat;
  const institution = await findInstitutionByCode(c.db, values.institution);
  if (!institution) return usage(`no institution has code ${values.institution}`);
  const ctx: Ctx = {
    actor: { kind: 'system', name: 'cli:import', institutionId: institution.id },
    requestId: `cli-import-${Date.now()}`,
    log: c.log,
  };
  const imports = c.services.imports;
  const startedAt = Date.now();
  try {
    const answer = await imports.startImport(
      ctx,
      {
        kind: values.kind as ImportKind,
        mode: values.mode as ImportMode,
        dryRun: values['dry-run'],
        format,
        file: createReadStream(file),
      },
      { enqueue: false },
    );
    let job = answer.job;
    for (const e of answer.errors)
      io.stdout.write(`row ${e.rowNo}${e.column ? ` ${e.column}` : ''}: ${e.code} ${e.detail}\n`);
    if (job.status === 'queued') {
      const tty = io.stderr.isTTY === true;
      job =
        (await imports.applyImport(ctx, job.id, {
          progress: (j) => {
            io.stderr.write(tty ? `\r${progressLine(j, startedAt)}` : `${progressLine(j, startedAt)}\n`);
          },
        })) ?? job;
      if (tty) io.stderr.write('\n');
    }
    io.stdout.write(
      `import ${job.id}: ${job.status}; ${job.totalRows} rows read, ${job.validRows} valid, ` +
        `${job.existingRows} already there, ${job.invalidRows} with errors (${job.errorCount} errors), ` +
        `${job.appliedRows} applied, ${job.createdRecords} created\n`,
    );
    return job.status === 'failed' ? 1 : 0;
  } catch (err) {
    if (!isDomainError(err)) throw err;
    const p = toProblem(err);
    const rows =
      (p.rowErrors as { row: number; column: string; code: string; detail: string }[] | undefined) ?? [];
    for (const e of rows)
      io.stdout.write(`row ${e.row}${e.column ? ` ${e.column}` : ''}: ${e.code} ${e.detail}\n`);
    io.stderr.write(`biobank import: ${p.code}: ${p.detail}\n`);
    return 1;
  }
}
