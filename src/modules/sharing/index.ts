// Public face of the sharing module: agreements between institutions, sharing requests with their
// proposals, review and reservations, shipments and receipt, the request lifecycle, and the
// adapters; and what other modules are given through the composition root: the custody link
// reader (specimens) and the withdrawal subscriber (consent).
export { createSharingService, type SharingService, type SharingServiceDeps } from './sharing.service.js';
export { sharingCustodyLinks } from './sharing.custody-link.js';
export { createSharingWithdrawal } from './sharing.withdrawal.js';
export { createSharingReservationWatch } from './sharing.reservation-watch.js';
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
export { sharingRequestRoutes } from './sharing.requests.routes.js';
export { sharingShipmentRoutes } from './sharing.shipments.routes.js';
export { sharingShipmentResolvers, GQL_SHIPPING_TEMPERATURES } from './sharing.shipments.resolvers.js';
export {
  scanOutSharingItemInput,
  dispatchSharingShipmentInput,
  receiveSharingItemsInput,
  shipmentDto,
  shipmentItemDto,
  pickListDto,
  RECEIPT_OUTCOMES,
  type ReceiptOutcome,
} from './sharing.shipments.schemas.js';
export { toShipmentDto, toShipmentItemDto, toPickLineDto } from './sharing.shipments.dto.js';
export type { ShipmentView } from './sharing.shipments.js';
export {
  createSharingRequestInput,
  updateSharingRequestInput,
  listSharingRequestsQuery,
  editSharingProposalInput,
  approveSharingRequestInput,
  rejectSharingRequestInput,
  cancelSharingRequestInput,
  sharingRequestDto,
  sharingItemDto,
  sharingEventDto,
  REQUEST_SIDES,
} from './sharing.requests.schemas.js';
export {
  toSharingRequestDto,
  toSharingItemDto,
  toSharingEventDto,
  toSharingRequestUpdate,
  type SharingRequestUpdate,
} from './sharing.dto.js';
export type { SharingRequestView, SharingItemView } from './sharing.requests.js';
export { sharingResolvers } from './sharing.resolvers.js';
export { sharingRequestResolvers } from './sharing.requests.resolvers.js';
export { sharingSubscriptionResolvers } from './sharing.subscription.resolvers.js';
export { sharingJobs, sharingRecurringJobs } from './sharing.handlers.js';
export {
  proposeSharingItemsJob,
  notifySharingTransitionJob,
  expireSharingReservationsJob,
  remindSharingReviewsJob,
} from './sharing.jobs.js';
export { NOTIFIED_EVENTS, recipientsOf } from './sharing.notify.js';
export { DEFAULT_RESERVATION_DAYS } from './sharing.review.js';
export {
  criteriaSchema,
  compileCriteria,
  criteriaPredicate,
  excludedBy,
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
export { CATALOGUE_DIMENSIONS } from './sharing.catalogue.count.js';
