// Public face of the storage module: containers (sites, freezers, racks, boxes), their tree and
// grids, and placement: where a specimen may go and where it is.
export {
  createStorageService,
  toContainerDto,
  type StorageService,
  type ContainerView,
  type RackScanReport,
} from './storage.service.js';
export {
  planPlacements,
  positionOccupied,
  locationOf,
  type Placement,
  type PlacementRequest,
  type PlacementOutcome,
  type PlacedRow,
} from './storage.placement.js';
export { lockPositions } from './position-occupancy.read-model.js';
export { insertContainers, countContainers, type BulkContainer } from './containers.bulk.js';
export {
  containerNotFound,
  containerPath,
  chainPath,
  findContainer,
  findContainerByBarcode,
  labelOf,
  loadContainers,
  loadContainersWithAncestors,
  typeAllowed,
  SPECIMEN_HOLDERS,
} from './storage.repo.js';
export { allPositions, parsePosition, positionLabel } from './grid.js';
export type { ContainerRow, LocationChainEntry } from './storage.table.js';
