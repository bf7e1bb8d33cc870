// Public face of the sharing module: agreements between institutions, sharing requests with their
// proposals, review and reservations, the request lifecycle, and the adapters.
export { createSharingService, type SharingService, type SharingServiceDeps } from './sharing.service.js';
export { assertAgreementCovers } from './sharing.agreements.js';
export {
  REQUEST_STATES,
  REQUEST_ACTIONS,
  ITEM_STATES,
  HOLDING_ITEM_STATES,
  FINAL_STATES,
  SIDES,
  requestTransition,
  allowedRequestActions,
  type RequestState,
  type RequestAction,
  type ItemState,
  type Side,
} from './sharing.lifecycle.js';
export { SHIPPING_TEMPERATURES, type ShippingTemperature } from './sharing.table.js';
export type {
  AgreementRow,
  SharingRequestRow,
  SharingItemRow,
  SharingEventRow,
  ShipmentRow,
} from './sharing.table.js';
export {
  agreementDto,
  createAgreementInput,
  updateAgreementInput,
  listAgreementsQuery,
  AGREEMENT_SIDES,
} from './sharing.agreements.schemas.js';
export { toAgreementDto } from './sharing.dto.js';
export { agreementRoutes } from './sharing.agreements.routes.js';
export { sharingResolvers } from './sharing.resolvers.js';
export {
  criteriaSchema,
  compileCriteria,
  criteriaPredicate,
  quantityAtLeast,
  quantityInput,
  CRITERION_FIELDS,
  type Criteria,
  type CriterionField,
  type CompiledCriterion,
  type QuantityInput,
} from './sharing.criteria.js';
export { shareableSpecimens, type ShareableScope } from './shareable-specimens.read-model.js';
export { createCatalogueService, type CatalogueService } from './sharing.catalogue.js';
export { catalogueRoutes } from './sharing.catalogue.routes.js';
export { catalogueResolvers } from './sharing.catalogue.resolvers.js';
