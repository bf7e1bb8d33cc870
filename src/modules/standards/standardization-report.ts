// A run's results as a lab reads them: per specimen by id (REST and GraphQL pages), or the whole
// run as CSV streamed in constant memory.

import { z } from 'zod';
import type { Ctx } from '../../context.js';
import { authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { decodeCursor, toPage, type Page } from '../../pagination.js';
import type { SpecimenType } from '../../vocabulary/specimen-types.js';
import { currentResults } from './qc-results.repo.js';
import { runCsvPage, specimenLabels } from './run-results.read-model.js';
import { listRunItems } from './standardization-runs.repo.js';
import { ownRun } from './standardization-runs.service.js';
import type { QcOutcome, QcResultRow } from './standards.table.js';

export const RUN_CSV_HEADER = [
  'specimen_id',
  'barcode',
  'type',
  'check',
  'outcome',
  'message',
  'ruleset_version',
  'checked_at',
] as const;

/** CSV field (RFC 4180), with spreadsheet formula prefixes defused (OWASP CSV injection). */
function csvField(value: string | number | null): string {
  if (value === null) return '';
  let s = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export interface RunResultItem {
  specimenId: string;
  barcode: string;
  type: SpecimenType;
  outcome: QcOutcome;
  results: QcResultRow[];
}

export function createStandardizationReport(deps: { db: Db }) {
  const { db } = deps;
  return {
    /**
     * Per-specimen results of a run, by specimen id: each specimen the run checked, its worst
     * outcome in the run, and its current results (a specimen checked again since, by a later run
     * or after a change, shows the newer results). Throws RUN_NOT_FOUND, INVALID_CURSOR.
     */
    async listStandardizationRunResults(
      ctx: Ctx,
      id: string,
      q: { outcome?: QcOutcome; cursor?: string; limit: number },
    ): Promise<Page<RunResultItem>> {
      authorize(ctx.actor, 'standards.read');
      const run = await ownRun(db, ctx, id);
      const after = decodeCursor(q.cursor, z.uuid());
      const rows = await listRunItems(db, run.id, {
        after: after ?? null,
        outcome: q.outcome,
        limit: q.limit + 1,
      });
      const { items, nextCursor } = toPage(
        rows,
        q.limit,
        (i) => i.specimenId,
        (i) => i,
      );
      if (items.length === 0) return { items: [], nextCursor };
      const ids = items.map((i) => i.specimenId);
      const [info, results] = await Promise.all([specimenLabels(db, ids), currentResults(db, ids)]);
      const bySpecimen = new Map<string, QcResultRow[]>();
      for (const r of results) {
        const list = bySpecimen.get(r.specimenId) ?? [];
        list.push(r);
        bySpecimen.set(r.specimenId, list);
      }
      return {
        items: items.map((i) => ({
          specimenId: i.specimenId,
          barcode: info.get(i.specimenId)?.barcode ?? '',
          type: info.get(i.specimenId)?.type ?? 'whole_blood',
          outcome: i.outcome,
          results: (bySpecimen.get(i.specimenId) ?? []).sort((a, b) =>
            a.checkCode.localeCompare(b.checkCode),
          ),
        })),
        nextCursor,
      };
    },

    /**
     * The run's results as CSV lines (header first, one line per current result of each specimen
     * the run checked), read a thousand specimens at a time so a million-specimen run streams in
     * constant memory. Throws RUN_NOT_FOUND before the first line.
     */
    async exportStandardizationRunResults(ctx: Ctx, id: string): Promise<AsyncIterable<string>> {
      authorize(ctx.actor, 'standards.read');
      const run = await ownRun(db, ctx, id);
      const pageSize = 1_000;
      async function* lines() {
        yield RUN_CSV_HEADER.join(',') + '\r\n';
        let after: string | null = null;
        for (;;) {
          const rows = await runCsvPage(db, run.id, after, pageSize);
          if (rows.length === 0) return;
          let chunk = '';
          for (const r of rows) {
            chunk +=
              [
                csvField(r.specimen_id),
                csvField(r.barcode),
                csvField(r.type),
                csvField(r.check_code),
                csvField(r.outcome),
                csvField(r.message),
                csvField(r.ruleset_version ?? null),
                csvField(r.checked_at),
              ].join(',') + '\r\n';
          }
          yield chunk;
          after = rows.at(-1)!.specimen_id;
        }
      }
      return lines();
    },
  };
}
