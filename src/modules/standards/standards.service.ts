// The standards module's service as routes, resolvers, job handlers and the CLI see it: the
// composition of one factory per use case.
//   sprec-decode.service.ts            decoding SPREC codes
//   quality-rules.service.ts           protocols' versioned quality rules
//   specimen-qc.service.ts             the per-specimen check after a change, and its results
//   standardization-runs.service.ts    batch runs: start, process in chunks, progress
//   standardization-report.ts          a run's results, paged or as CSV
//   miabis.service.ts                  MIABIS Core 3.0 collection aggregates
// Checks and their recording are shared by the per-specimen check and the batch run
// (qc-recorder.ts).

import type { Db } from '../../db/client.js';
import type { SpecimenLedger } from '../specimens/index.js';
import { createMiabisService } from './miabis.service.js';
import { createQcRecorder } from './qc-recorder.js';
import { createQualityRulesService } from './quality-rules.service.js';
import { createSpecimenQcService } from './specimen-qc.service.js';
import { createSprecDecodeService } from './sprec-decode.service.js';
import { createStandardizationReport } from './standardization-report.js';
import { RUN_CHUNK, createStandardizationRunsService } from './standardization-runs.service.js';

export { RUN_CHUNK };

export interface StandardsServiceDeps {
  db: Db;
  /** the only author of specimen rows: QC status and QC_FAILED holds go through it */
  ledger: SpecimenLedger;
  clock?: () => Date;
  /** specimens per chunk of a batch run (default RUN_CHUNK) */
  chunkSize?: number;
}

export function createStandardsService(deps: StandardsServiceDeps) {
  const { db } = deps;
  const clock = deps.clock ?? (() => new Date());
  const recorder = createQcRecorder({ ledger: deps.ledger, clock });
  return {
    ...createSprecDecodeService(),
    ...createQualityRulesService({ db }),
    ...createSpecimenQcService({ db, recorder, clock }),
    ...createStandardizationRunsService({ db, recorder, clock, chunkSize: deps.chunkSize ?? RUN_CHUNK }),
    ...createStandardizationReport({ db }),
    ...createMiabisService({ db }),
  };
}

export type StandardsService = ReturnType<typeof createStandardsService>;
