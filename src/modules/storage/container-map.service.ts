// Container maps: the grid of a box or plate with its tubes, of a rack with its boxes, and the
// free positions of a subtree in the order a technician fills them.
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { tubesInContainers, type ContainedTube } from './container-contents.read-model.js';
import { allPositions, positionLabel } from './grid.js';
import type { ContainerMap, MapOccupant } from './storage.dto.js';
import { containerMapSvg, type MapColourBy } from './container-map.svg.js';
import {
  findChildContainers,
  findSubtree,
  loadContainersWithAncestors,
  requireContainer,
} from './storage.repo.js';
import { containerNotFound, noGrid } from './storage.errors.js';
import { SPECIMEN_HOLDERS, containerPath, typeAllowed } from './storage.rules.js';
import type { ContainerRow } from './storage.table.js';

export interface FreePosition {
  containerId: string;
  containerBarcode: string;
  position: string;
  path: string;
}

const tubeOccupant = (s: ContainedTube): MapOccupant => ({
  kind: 'specimen',
  id: s.id,
  barcode: s.barcode,
  type: s.type,
  status: s.status,
  holds: s.holds,
});

const boxOccupant = (c: ContainerRow): MapOccupant => ({ kind: 'container', id: c.id, barcode: c.barcode });

/** Containers in depth-first slot order from the root, so a rack fills box after box as a technician would. */
function fillOrderOf(root: ContainerRow, subtree: ContainerRow[]): ContainerRow[] {
  const children = new Map<string, ContainerRow[]>();
  for (const c of subtree)
    if (c.parentId && c.id !== root.id) children.set(c.parentId, [...(children.get(c.parentId) ?? []), c]);
  const order: ContainerRow[] = [];
  const walk = (c: ContainerRow) => {
    order.push(c);
    const kids = (children.get(c.id) ?? []).sort(
      (a, b) =>
        (a.slotRow ?? 0) - (b.slotRow ?? 0) ||
        (a.slotCol ?? 0) - (b.slotCol ?? 0) ||
        a.barcode.localeCompare(b.barcode),
    );
    kids.forEach(walk);
  };
  walk(root);
  return order;
}

export function createContainerMapService(deps: { db: Db }) {
  const { db } = deps;

  const service = {
    /** The grid of a box or plate with its occupants, or of a rack with its boxes. Throws CONTAINER_NOT_FOUND, NO_GRID. */
    async getContainerMap(ctx: Ctx, id: string): Promise<ContainerMap> {
      authorize(ctx.actor, 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const byId = await loadContainersWithAncestors(db, institutionId, [id]);
      const c = byId.get(id);
      if (!c) throw containerNotFound(id, 'id');
      if (!c.gridRows || !c.gridCols || !c.gridScheme) {
        throw noGrid(c, 'map');
      }
      const { gridRows: rows, gridCols: cols, gridScheme: scheme } = c;
      const occupants = new Map<string, MapOccupant>();
      if (SPECIMEN_HOLDERS.includes(c.kind)) {
        for (const s of await tubesInContainers(db, [c.id])) {
          if (s.positionRow && s.positionCol)
            occupants.set(`${s.positionRow}:${s.positionCol}`, tubeOccupant(s));
        }
      } else {
        for (const ch of await findChildContainers(db, institutionId, [c.id])) {
          if (ch.slotRow && ch.slotCol) occupants.set(`${ch.slotRow}:${ch.slotCol}`, boxOccupant(ch));
        }
      }
      const positions = allPositions(rows, cols, 'row_major').map((p) => ({
        position: positionLabel(scheme, rows, cols, p.row, p.col),
        row: p.row,
        col: p.col,
        occupant: occupants.get(`${p.row}:${p.col}`) ?? null,
      }));
      return { container: c, byId, rows, cols, scheme, occupied: occupants.size, positions };
    },

    /**
     * The maps of many containers (as getContainerMap) in at most three queries; null for an unknown
     * container or one without a grid.
     */
    async containerMaps(ctx: Ctx, ids: readonly string[]): Promise<(ContainerMap | null)[]> {
      authorize(ctx.actor, 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const byId = await loadContainersWithAncestors(db, institutionId, [...new Set(ids)]);
      const gridded = [...new Set(ids)]
        .map((id) => byId.get(id))
        .filter((c): c is ContainerRow => !!c && !!c.gridRows && !!c.gridCols && !!c.gridScheme);
      const holders = gridded.filter((c) => SPECIMEN_HOLDERS.includes(c.kind)).map((c) => c.id);
      const racks = gridded.filter((c) => !SPECIMEN_HOLDERS.includes(c.kind)).map((c) => c.id);
      const occupants = new Map<string, MapOccupant>();
      for (const s of await tubesInContainers(db, holders)) {
        if (s.positionRow && s.positionCol)
          occupants.set(`${s.containerId}:${s.positionRow}:${s.positionCol}`, tubeOccupant(s));
      }
      for (const ch of await findChildContainers(db, institutionId, racks)) {
        if (ch.slotRow && ch.slotCol)
          occupants.set(`${ch.parentId}:${ch.slotRow}:${ch.slotCol}`, boxOccupant(ch));
      }
      return ids.map((id) => {
        const c = byId.get(id);
        if (!c || !c.gridRows || !c.gridCols || !c.gridScheme) return null;
        const { gridRows: rows, gridCols: cols, gridScheme: scheme } = c;
        const positions = allPositions(rows, cols, 'row_major').map((p) => ({
          position: positionLabel(scheme, rows, cols, p.row, p.col),
          row: p.row,
          col: p.col,
          occupant: occupants.get(`${c.id}:${p.row}:${p.col}`) ?? null,
        }));
        const occupied = positions.filter((p) => p.occupant !== null).length;
        return { container: c, byId, rows, cols, scheme, occupied, positions };
      });
    },

    /** The next N free positions in a subtree, in fill order (boxes in slot order). Throws CONTAINER_NOT_FOUND. */
    async getFreePositions(
      ctx: Ctx,
      id: string,
      q: { count: number; type?: string },
    ): Promise<FreePosition[]> {
      authorize(ctx.actor, 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const root = await requireContainer(db, institutionId, id);
      const subtree = await findSubtree(db, institutionId, root.id);
      const byId = new Map(subtree.map((c) => [c.id, c]));
      for (const [k, v] of await loadContainersWithAncestors(db, institutionId, [root.id])) byId.set(k, v);
      const holders = fillOrderOf(root, subtree).filter(
        (c) =>
          SPECIMEN_HOLDERS.includes(c.kind) &&
          c.gridRows &&
          c.gridCols &&
          c.gridScheme &&
          (!q.type || !typeAllowed(c, byId, q.type)),
      );
      const taken = new Set(
        (
          await tubesInContainers(
            db,
            holders.map((h) => h.id),
          )
        ).map((s) => `${s.containerId}:${s.positionRow}:${s.positionCol}`),
      );
      const free: FreePosition[] = [];
      for (const h of holders) {
        for (const p of allPositions(h.gridRows!, h.gridCols!, h.fillOrder)) {
          if (free.length >= q.count) break;
          if (taken.has(`${h.id}:${p.row}:${p.col}`)) continue;
          const label = positionLabel(h.gridScheme!, h.gridRows!, h.gridCols!, p.row, p.col);
          free.push({
            containerId: h.id,
            containerBarcode: h.barcode,
            position: label,
            path: `${containerPath(h, byId)} / ${label}`,
          });
        }
        if (free.length >= q.count) break;
      }
      return free;
    },
  };

  return {
    ...service,
    /** The map drawn as SVG (container-map.svg.ts). Throws CONTAINER_NOT_FOUND, NO_GRID. */
    async getContainerMapSvg(ctx: Ctx, input: { id: string; colourBy: MapColourBy }): Promise<string> {
      return containerMapSvg(await service.getContainerMap(ctx, input.id), input.colourBy);
    },
  };
}
