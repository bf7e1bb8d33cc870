// Public face of the specimens module: the specimen ledger (the only author of specimen rows),
// the specimen services, their DTOs and adapters, and the reads other modules may make.
export {
  createSpecimenLedger,
  refuse,
  type SpecimenLedger,
  type SpecimenChangeListener,
} from './specimens.ledger.js';
export {
  importSpecimenHistories,
  prepareSpecimenImport,
  institutionHasSpecimens,
  countSpecimens,
  type SpecimenHistory,
  type ImportedSpecimen,
  type ImportedEvent,
  type SpecimenImport,
} from './specimens.ledger-bulk.js';
export type {
  SpecimenCommand,
  SpecimenCommandCheck,
  SpecimenEdit,
  NewSpecimen,
  InstitutionLink,
} from './specimens.commands.js';
export { createSpecimenService, type SpecimenService } from './specimens.service.js';
export type { SpecimenUpsert, SpecimenUpsertInput } from './specimens.upsert.js';
export type { SpecimenStatement, SpecimenUpsertKey } from './specimens.upsert-rules.js';
export { registerValidWithin } from './specimens.register.js';
export {
  createScanService,
  scanInput,
  scansInput,
  SCAN_ACTIONS,
  type ScanService,
  type ScanInput,
} from './specimens.scans.js';
export { openUseGate, type UseGate, type ScanConsentFacts } from './specimens.use-gate.js';
export type { CustodyLink, CustodyLinkReader } from './specimens.custody-link.js';
export { specimenNotFound, barcodeTaken } from './specimens.errors.js';
export { fixedFieldConflicts } from './specimens.upsert-rules.js';
export { toSpecimenDto, toCustodyEventDto, specimenViews, type SpecimenView } from './specimens.dto.js';
export {
  specimenDto,
  custodyEventDto,
  barcode as specimenBarcode,
  registerSpecimenInput,
  updateSpecimenInput,
  canonicalIdentifierSystem,
  type SpecimenDto,
  type RegisterSpecimenInput,
  type UpdateSpecimenInput,
} from './specimens.schemas.js';
export {
  findSpecimen,
  findSpecimensByIds,
  findSpecimensByBarcodes,
  findExternalIdHolders,
  specimensInContainers,
  type NewSpecimenRow,
} from './specimens.repo.js';
export { createScanLookup, SCAN_SQL, type ScanLookup } from './scan-lookup.read-model.js';
export {
  SPECIMEN_STATUSES,
  SPECIMEN_ACTIONS,
  LIVE_STATUSES,
  INACTIVE_STATUSES,
  transition,
  isLiveStatus,
  type SpecimenStatus,
  type SpecimenAction,
} from './specimens.lifecycle.js';
export {
  HOLD_REASONS,
  QC_STATUSES,
  LINEAGES,
  PATHOLOGY_STATUSES,
  type HoldReason,
  type SpecimenRow,
} from './specimens.table.js';
export { specimenRoutes } from './specimens.routes.js';
export { scanRoutes } from './specimens.scans.routes.js';
export { specimenUpsertRoutes } from './specimens.upsert.routes.js';
export { specimenResolvers } from './specimens.resolvers.js';
export { specimenLoaders } from './specimens.loaders.js';
export { futureEventTime } from './specimens.times.js';
