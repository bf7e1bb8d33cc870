import { parseArgs } from 'node:util';
import type { Container } from '../../container.js';
import type { Ctx } from '../../context.js';
import { readSummary } from './run-summary.js';
import { runFilter, type RunFilter } from './standards.schemas.js';
import type { StandardizationRunRow } from './standards.table.js';

/** The command's lines for the CLI usage text (indented as src/cli.ts lays its commands out). */
export const STANDARDIZE_USAGE = `  standardize [--institution C] [--protocol CODE] [--type T] [--status S] [--qc-status Q]
                                           check matching specimens now, progress on stderr
                                           (no --institution: every institution with specimens)`;

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

function progressLine(run: StandardizationRunRow, startedAt: number, width = 30): string {
  const total = run.total ?? 0;
  const done = run.processed + run.skipped;
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  const seconds = (Date.now() - startedAt) / 1000;
  const rate = seconds > 0 ? Math.round(done / seconds) : 0;
  const eta = rate > 0 && total > done ? ` eta ${Math.ceil((total - done) / rate)} s` : '';
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${done.toLocaleString('en')}/${total.toLocaleString('en')} specimens, ${rate.toLocaleString('en')}/s${eta}`;
}

/**
 * `npm run biobank -- standardize ...`: a batch standardization run executed in this process (no
 * worker needed), with a progress bar on stderr and the summary on stdout. Returns the exit code:
 * 0 done, 2 bad arguments.
 */
export async function standardizeCommand(
  c: Container,
  args: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const usage = (message: string) => {
    io.stderr.write(`biobank standardize: ${message}\n\nusage: npm run biobank --\n${STANDARDIZE_USAGE}\n`);
    return 2;
  };
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args,
      options: {
        institution: { type: 'string' },
        protocol: { type: 'string' },
        type: { type: 'string' },
        status: { type: 'string' },
        'qc-status': { type: 'string' },
      },
    }).values;
  } catch (err) {
    return usage(err instanceof Error ? err.message : String(err));
  }
  const oneOf = (name: string, value: string | undefined, allowed: readonly string[]) =>
    value !== undefined && !allowed.includes(value) ? `--${name} must be one of ${allowed.join(', ')}` : null;
  // The values a run filter accepts, in the filter schema's own order.
  const filterFields = runFilter.shape;
  const bad =
    oneOf('type', values.type, filterFields.type.unwrap().options) ??
    oneOf('status', values.status, filterFields.status.unwrap().options) ??
    oneOf('qc-status', values['qc-status'], filterFields.qcStatus.unwrap().options);
  if (bad) return usage(bad);

  const standards = c.services.standards;
  const cliCtx = (institutionId: string | null): Ctx => ({
    actor: { kind: 'system', name: 'cli:standardize', institutionId },
    requestId: `cli-standardize-${Date.now()}`,
    log: c.log,
  });
  const targets = await standards.listStandardizationInstitutions(cliCtx(null), values.institution);
  if (targets.length === 0)
    return values.institution ? usage(`no institution has code ${values.institution}`) : 0;

  for (const institution of targets) {
    const ctx = cliCtx(institution.id);
    let protocolId: string | undefined;
    if (values.protocol) {
      const found = await standards.findRunProtocolId(ctx, values.protocol);
      if (!found) {
        if (values.institution)
          return usage(`institution ${institution.code} has no protocol ${values.protocol}`);
        continue;
      }
      protocolId = found;
    }
    const filter: RunFilter = runFilter.parse({
      protocolId,
      type: values.type,
      status: values.status,
      qcStatus: values['qc-status'],
    });
    const created = await standards.startStandardizationRun(ctx, { filter }, { enqueue: false });
    io.stderr.write(`run ${created.id} for ${institution.code}\n`);
    const startedAt = Date.now();
    let lastPrinted = 0;
    const tty = io.stderr.isTTY === true;
    const run = await standards.processRun(ctx, created.id, {
      final: true,
      progress: (r) => {
        const now = Date.now();
        if (tty) io.stderr.write(`\r${progressLine(r, startedAt)}`);
        else if (now - lastPrinted >= 2_000) {
          lastPrinted = now;
          io.stderr.write(`${progressLine(r, startedAt)}\n`);
        }
      },
    });
    io.stderr.write(`${tty ? '\r' : ''}${progressLine(run, startedAt)}\n`);
    const summary = readSummary(run.summary);
    const lines = [
      `${institution.code}: run ${run.id} ${run.status}: ${run.processed} specimens checked in ${((Date.now() - startedAt) / 1000).toFixed(1)} s` +
        (run.skipped ? `, ${run.skipped} changed meanwhile (re-checked by their own check)` : '') +
        `, ${run.holdsPlaced} QC holds placed`,
      `  specimens: ${summary.specimens.pass} pass, ${summary.specimens.warn} warn, ${summary.specimens.fail} fail`,
      ...Object.entries(summary.checks)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([check, n]) => `  ${check.padEnd(36)} ${n.pass} pass, ${n.warn} warn, ${n.fail} fail`),
    ];
    io.stdout.write(lines.join('\n') + '\n');
  }
  return 0;
}
