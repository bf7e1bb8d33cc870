// Public face of the storage module: containers (sites, freezers, racks, boxes), their tree and
// grids, and placement: where a specimen may go and where it is.
export { createStorageService, type StorageService, type StorageServiceDeps } from './storage.service.js';
export { toContainerDto, type ContainerView, type ContainerMap } from './storage.dto.js';
export type { RackScanReport } from './rack-scan.reconcile.js';
export {
  planPlacements,
  locationOf,
  type Placement,
  type PlacementRequest,
  type PlacementOutcome,
  type PlacedRow,
} from './storage.placement.js';
export { lockPositions } from './position-occupancy.read-model.js';
export { insertContainers, countContainers, type BulkContainer } from './containers.bulk.js';
export {
  findContainer,
  findContainerByBarcode,
  loadContainers,
  loadContainersWithAncestors,
} from './storage.repo.js';
export { containerNotFound, notASpecimenContainer, typeNotAllowed } from './storage.errors.js';
export { containerPath, chainPath, labelOf, typeAllowed, SPECIMEN_HOLDERS } from './storage.rules.js';
export { allPositions, parsePosition, positionLabel } from './grid.js';
export type { ContainerRow, LocationChainEntry } from './storage.table.js';
export { storageRoutes } from './storage.routes.js';
export { storageResolvers } from './storage.resolvers.js';
export { linkedContainerDtos, storageLoaders } from './storage.loaders.js';
export { CONTAINER_SQL_FIELDS, containerSqlHas } from './container-json.js';
