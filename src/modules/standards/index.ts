// Public face of the standards module: SPREC decoding and computation, the standardization checks
// (per specimen after every change, and batch runs), protocols' quality rules and the MIABIS
// export, with their REST routes, GraphQL resolvers and loaders, jobs and command.
export {
  createStandardsService,
  RUN_CHUNK,
  type StandardsService,
  type StandardsServiceDeps,
} from './standards.service.js';
export { createStandardsChangeListener, MAX_IDS_PER_CHECK_JOB } from './standards.listener.js';
export { STANDARDS_ACTOR } from './standards.actor.js';
export type { RunHooks } from './standardization-runs.service.js';
export { readSummary, type RunSummary } from './run-summary.js';
export { standardsJobs } from './standards.handlers.js';
export { checkSpecimenJob, runStandardizationJob } from './standards.jobs.js';
export { standardsRoutes } from './standards.routes.js';
export { standardsResolvers } from './standards.resolvers.js';
export { standardsLoaders } from './standards.loaders.js';
export { standardizeCommand, STANDARDIZE_USAGE, type CliIo } from './standards.cli.js';
export { decodeSprec, type SprecDecodeResult } from './sprec.js';
export {
  centrifugationCode,
  classifyProcessingTemperature,
  fixationTimeCode,
  ischaemiaCode,
  longTermStorageCode,
  postCentrifugationCode,
  preCentrifugationCode,
} from './sprec.letters.js';
export type { SprecKind, SprecLongTermContainerKind, SprecVersion } from './sprec.vocabulary.js';
export { longTermStorageCodesAtOrBelow } from './sprec.vocabulary.js';
export { computeSprec, compareSprec } from './sprec.compute.js';
export {
  MIABIS_STORAGE_TEMPERATURES,
  miabisStorageTemperature,
  type MiabisStorageTemperature,
} from './miabis.js';
export type { QcOutcome, QcResultRow, QualityRulesetRow, StandardizationRunRow } from './standards.table.js';
export { evaluateSpecimen, worstOutcome, type CheckResult, type SpecimenFacts } from './standards.rules.js';
