// The storage service: one object over the use cases, each in its own file.
//   containers.service.ts      create, read, list, update containers
//   container-tree.service.ts  move a container with its subtree (the tubes inside record it)
//   container-map.service.ts   grids with their occupants, free positions
//   rack-scan.service.ts       reconcile a scanner reading (rack-scan.reconcile.ts) and apply it
import { createContainerMapService } from './container-map.service.js';
import { createContainerTreeService, type ContainerTreeDeps } from './container-tree.service.js';
import { createContainersService } from './containers.service.js';
import { createRackScanService, type RackScanDeps } from './rack-scan.service.js';

export type StorageServiceDeps = ContainerTreeDeps & RackScanDeps;

export function createStorageService(deps: StorageServiceDeps) {
  return {
    ...createContainersService(deps),
    ...createContainerTreeService(deps),
    ...createContainerMapService(deps),
    ...createRackScanService(deps),
  };
}

export type StorageService = ReturnType<typeof createStorageService>;
