export {
  createStandardsService,
  createStandardsChangeListener,
  STANDARDS_ACTOR,
  type StandardsService,
} from './standards.service.js';
export { standardsJobs } from './standards.handlers.js';
export { standardsRoutes } from './standards.routes.js';
export { standardizeCommand } from './standards.cli.js';
export { decodeSprec, type SprecDecodeResult } from './sprec.js';
export { computeSprec, compareSprec } from './sprec.compute.js';
export { evaluateSpecimen, worstOutcome, type CheckResult, type SpecimenFacts } from './standards.rules.js';
export { checkSpecimenJob, runStandardizationJob } from './standards.jobs.js';
