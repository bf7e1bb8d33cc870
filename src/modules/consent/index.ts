// Public face of the consent module: donors' consents per protocol, the gate every use of a
// specimen passes, the withdrawal cascade and the destruction list.
export { createConsentService, type ConsentService, type ConsentServiceDeps } from './consent.service.js';
export type { WithdrawalSubscriber } from './consent.cascade.js';
export type { DestructionListItem, SpecimenReads } from './consent.destruction.js';
export { effectiveStatus } from './consent.records.js';
export type { CascadeRow, ConsentRow } from './consent.repo.js';
export { createConsentGate, loadConsentContexts, parseUse, today, type ConsentGate } from './consent.gate.js';
export {
  evaluateUse,
  permittedUses,
  type ConsentFacts,
  type Eligibility,
  type EligibilityInput,
} from './consent.eligibility.js';
export {
  confirmDestructionInput,
  listConsentsQuery,
  recordConsentInput,
  withdrawConsentInput,
  type ConfirmDestructionInput,
  type RecordConsentInput,
  type WithdrawConsentInput,
} from './consent.schemas.js';
export {
  cascadeDto,
  consentDto,
  destructionItemDto,
  toCascadeDto,
  toConsentDto,
  toConsentGql,
  toDestructionItemDto,
} from './consent.dto.js';
export {
  CONSENT_RESPONSES,
  CONSENT_STATUSES,
  WITHDRAWAL_SCOPES,
  type ConsentResponse,
  type WithdrawalScope,
} from './consent.table.js';
export { consentCascadeJob } from './consent.jobs.js';
export { consentJobs } from './consent.handlers.js';
export { consentRoutes } from './consent.routes.js';
export { consentResolvers } from './consent.resolvers.js';
export { consentLoaders } from './consent.loaders.js';
export { consentForUse, type ConsentSql } from './use-permitted.read-model.js';
