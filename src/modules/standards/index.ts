export {
  createStandardsService,
  createStandardsChangeListener,
  STANDARDS_ACTOR,
  type StandardsService,
} from './standards.service.js';
export { standardsJobs } from './standards.handlers.js';
export { standardsRoutes } from './standards.routes.js';
export { standardsResolvers } from './standards.resolvers.js';
export { standardsLoaders } from './standards.loaders.js';
export { standardizeCommand, STANDARDIZE_USAGE } from './standards.cli.js';
export { decodeSprec, type SprecDecodeResult } from './sprec.js';
export { computeSprec, compareSprec } from './sprec.compute.js';
export { evaluateSpecimen, worstOutcome, type CheckResult, type SpecimenFacts } from './standards.rules.js';
export { checkSpecimenJob, runStandardizationJob } from './standards.jobs.js';
