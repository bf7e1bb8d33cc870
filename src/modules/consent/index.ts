// Public face of the consent module: consent records, the gate every use passes, withdrawal
// cascades and destruction.
export {
  createConsentService,
  type ConsentService,
  type ConsentRow,
  type WithdrawalSubscriber,
} from './consent.service.js';
export { createConsentGate, today, type ConsentGate } from './consent.gate.js';
export { permittedUses, evaluateUse, type Eligibility } from './consent.eligibility.js';
export { consentJobs } from './consent.handlers.js';
export { consentRoutes } from './consent.routes.js';
export { consentResolvers } from './consent.resolvers.js';
export { consentLoaders } from './consent.loaders.js';
