// Container rows and maps as the API shows them, for REST routes, GraphQL resolvers and loaders
// alike (one mapping, so the two transports cannot drift).
import { containerPath, labelOf } from './storage.rules.js';
import type { ContainerDto } from './storage.schemas.js';
import type { ContainerRow } from './storage.table.js';

/** A container with its ancestors (and any other containers it was loaded with), for its path. */
export interface ContainerView {
  container: ContainerRow;
  byId: Map<string, ContainerRow>;
}

/** What occupies a grid position: a tube in a box or plate, a box in a rack. */
export interface MapOccupant {
  kind: 'specimen' | 'container';
  id: string;
  barcode: string;
  type?: string;
  status?: string;
  holds?: string[];
}

export interface MapPosition {
  position: string;
  row: number;
  col: number;
  occupant: MapOccupant | null;
}

/** The grid of a container with its occupants, as the container-map services return it. */
export interface ContainerMap extends ContainerView {
  rows: number;
  cols: number;
  scheme: NonNullable<ContainerRow['gridScheme']>;
  occupied: number;
  positions: MapPosition[];
}

export function toContainerDto(c: ContainerRow, byId: Map<string, ContainerRow>): ContainerDto {
  const parent = c.parentId ? byId.get(c.parentId) : undefined;
  return {
    id: c.id,
    kind: c.kind,
    barcode: c.barcode,
    name: c.name,
    parentId: c.parentId,
    slot: labelOf(parent, c.slotRow, c.slotCol),
    path: containerPath(c, byId),
    temperatureC: c.temperatureC,
    grid:
      c.gridRows && c.gridCols && c.gridScheme
        ? { rows: c.gridRows, cols: c.gridCols, scheme: c.gridScheme, fillOrder: c.fillOrder }
        : null,
    allowedTypes: c.allowedTypes,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    version: c.version,
  };
}

export const containerViewDto = (v: ContainerView): ContainerDto => toContainerDto(v.container, v.byId);

/** A map's grid without the container itself (GraphQL's Container.map). */
export function toMapGridDto(m: ContainerMap) {
  return {
    rows: m.rows,
    cols: m.cols,
    occupied: m.occupied,
    positions: m.positions,
    svgUrl: `/v1/containers/${m.container.id}/map.svg`,
  };
}

/** A map with its container (REST's getContainerMap). */
export function toContainerMapDto(m: ContainerMap) {
  return { container: toContainerDto(m.container, m.byId), ...toMapGridDto(m) };
}
