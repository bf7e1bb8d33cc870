// DTO mapping for the standards module: rows and domain objects as REST, GraphQL and the loaders
// answer them (one mapping per shape, so both transports answer the same data).

import type { z } from 'zod';
import type { SpecimenRow } from '../specimens/index.js';
import type { SprecDecodeResult } from './sprec.js';
import type { RunResultItem } from './standardization-report.js';
import { readSummary } from './run-summary.js';
import type {
  qcResultDto,
  qualityRulesetDto,
  runDto,
  runResultItemDto,
  specimenQcDto,
  sprecDecodeDto,
} from './standards.schemas.js';
import type {
  QcResultHistoryRow,
  QcResultRow,
  QualityRulesetRow,
  StandardizationRunRow,
} from './standards.table.js';

/** The decode DTO (GET /v1/sprec/decode). */
export const toDecodeDto = (r: SprecDecodeResult): z.infer<typeof sprecDecodeDto> =>
  r.valid
    ? { valid: true, code: r.code, version: r.version, kind: r.kind, fields: r.fields, errors: [] }
    : { valid: false, code: r.code, version: r.version, kind: null, fields: [], errors: r.errors };

/** The quality ruleset DTO (GET /v1/protocols/:id/quality-rules). */
export const toRulesetDto = (x: {
  protocolId: string;
  row: QualityRulesetRow | null;
}): z.infer<typeof qualityRulesetDto> => ({
  protocolId: x.protocolId,
  version: x.row?.version ?? 0,
  rules: (x.row?.rules ?? []) as Record<string, unknown>[],
  createdBy: x.row?.createdBy ?? null,
  createdAt: x.row?.createdAt.toISOString() ?? null,
});

/** The QC result DTO (GET /v1/specimens/:id/qc `results`). */
export const toQcResultDto = (r: QcResultRow): z.infer<typeof qcResultDto> => ({
  check: r.checkCode,
  outcome: r.outcome,
  message: r.message,
  details: r.details ?? null,
  rulesetVersion: r.rulesetVersion,
  runId: r.runId,
  checkedAt: r.checkedAt.toISOString(),
});

/** The run DTO (GET /v1/standardization/runs/:id): progress and the summary by check. */
export function toRunDto(r: StandardizationRunRow): z.infer<typeof runDto> {
  const summary = readSummary(r.summary);
  return {
    id: r.id,
    status: r.status,
    filter: r.filter,
    total: r.total,
    processed: r.processed,
    progress: r.status === 'completed' ? 1 : r.total ? Math.min(1, (r.processed + r.skipped) / r.total) : 0,
    skipped: r.skipped,
    holdsPlaced: r.holdsPlaced,
    specimens: summary.specimens,
    checks: Object.entries(summary.checks)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([check, c]) => ({ check, ...c })),
    rulesets: Object.entries(r.rulesets).map(([protocolId, version]) => ({ protocolId, version })),
    error: r.error,
    requestedBy: r.requestedBy,
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    completedAt: r.completedAt?.toISOString() ?? null,
  };
}

/** The specimen QC DTO (GET /v1/specimens/:id/qc): status, current results, changes of outcome. */
export const toSpecimenQcDto = (x: {
  specimen: Pick<SpecimenRow, 'id' | 'barcode' | 'qcStatus'>;
  results: QcResultRow[];
  history: QcResultHistoryRow[];
}): z.infer<typeof specimenQcDto> => ({
  specimenId: x.specimen.id,
  barcode: x.specimen.barcode,
  qcStatus: x.specimen.qcStatus,
  results: x.results.map(toQcResultDto),
  history: x.history.map((h) => ({
    check: h.checkCode,
    previousOutcome: h.previousOutcome,
    outcome: h.outcome,
    message: h.message,
    rulesetVersion: h.rulesetVersion,
    runId: h.runId,
    checkedAt: h.checkedAt.toISOString(),
  })),
});

/** A run result item (GET /v1/standardization/runs/:id/results): the run is the one asked for. */
export const toRunResultItemDto = (i: RunResultItem): z.infer<typeof runResultItemDto> => ({
  specimenId: i.specimenId,
  barcode: i.barcode,
  type: i.type,
  outcome: i.outcome,
  results: i.results.map((x) => {
    const { runId: _runId, ...rest } = toQcResultDto(x);
    return rest;
  }),
});
