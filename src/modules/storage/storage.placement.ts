import type { DbOrTx } from '../../db/client.js';
import { DomainError, positionOccupied } from '../../errors.js';
import { containerName } from './container-kinds.js';
import { containerNotFound, typeNotAllowed } from './storage.errors.js';
import { loadContainersWithAncestors } from './storage.repo.js';
import { containerPath, labelOf, resolvePosition, typeAllowed } from './storage.rules.js';
import type { ContainerRow } from './storage.table.js';
import { findOccupants, lockPositions } from './position-occupancy.read-model.js';

/** Where a specimen is recorded: its container and position (any row with these columns). */
export interface PlacedRow {
  containerId: string | null;
  positionRow: number | null;
  positionCol: number | null;
}

export interface PlacementRequest {
  /** index of the item in its batch, for per-item errors */
  index: number;
  /** field prefix for errors, e.g. `specimens.3` */
  field: string;
  containerId: string;
  position: string | null | undefined;
  type: string;
  /** the specimen moving there (its current slot does not count as occupied) */
  specimenId?: string;
}

export interface Placement {
  container: ContainerRow;
  row: number | null;
  col: number | null;
  label: string | null;
  path: string;
}

export interface PlacementOutcome {
  placements: Map<number, Placement>;
  errors: Map<number, DomainError>;
  containers: Map<string, ContainerRow>;
}

/**
 * Validates target containers and positions for a batch: the container exists and holds specimens,
 * the position is in its grid, the type is allowed there, and no other tube occupies it (in the
 * database or earlier in the batch). The unique constraint remains the last word under races.
 */
export async function planPlacements(
  db: DbOrTx,
  institutionId: string,
  requests: PlacementRequest[],
  opts: { vacating?: ReadonlySet<string> } = {},
): Promise<PlacementOutcome> {
  // Held FOR KEY SHARE until the tubes are stored: an edit narrowing what a container (or one above
  // it) allows waits for them, or is committed before the restriction is read.
  const containers = await loadContainersWithAncestors(
    db,
    institutionId,
    [...new Set(requests.map((r) => r.containerId))],
    { keyShare: true },
  );
  const placements = new Map<number, Placement>();
  const errors = new Map<number, DomainError>();
  for (const req of requests) {
    const container = containers.get(req.containerId);
    if (!container) {
      errors.set(req.index, containerNotFound(req.containerId, `${req.field}containerId`));
      continue;
    }
    try {
      const pos = resolvePosition(container, req.position, `${req.field}position`);
      const blocker = typeAllowed(container, containers, req.type);
      if (blocker) throw typeNotAllowed(req.type, blocker, `${req.field}containerId`);
      const path = containerPath(container, containers) + (pos ? ` / ${pos.label}` : '');
      placements.set(req.index, {
        container,
        row: pos?.row ?? null,
        col: pos?.col ?? null,
        label: pos?.label ?? null,
        path,
      });
    } catch (err) {
      if (err instanceof DomainError) errors.set(req.index, err);
      else throw err;
    }
  }

  // Occupancy: existing tubes (unless they are leaving in this same batch) and earlier items.
  const slots = [...placements.entries()]
    .filter(([, p]) => p.row !== null && p.col !== null)
    .map(([index, p]) => ({ index, containerId: p.container.id, row: p.row!, col: p.col! }));
  await lockPositions(db, slots);
  const occupants = await findOccupants(db, slots);
  const occupantAt = new Map(occupants.map((o) => [`${o.containerId}:${o.positionRow}:${o.positionCol}`, o]));
  const claimed = new Map<string, number>();
  const movers = new Map(requests.map((r) => [r.index, r.specimenId]));
  for (const slot of slots) {
    const key = `${slot.containerId}:${slot.row}:${slot.col}`;
    const p = placements.get(slot.index)!;
    const occupant = occupantAt.get(key);
    const mover = movers.get(slot.index);
    const occupiedByOther = occupant && occupant.id !== mover && !opts.vacating?.has(occupant.id);
    if (occupiedByOther) {
      placements.delete(slot.index);
      errors.set(
        slot.index,
        positionOccupied(
          { position: p.label ?? '', container: containerName(p.container), by: occupant.barcode },
          `${requests.find((r) => r.index === slot.index)?.field ?? ''}position`,
        ),
      );
    } else if (claimed.has(key)) {
      placements.delete(slot.index);
      errors.set(
        slot.index,
        positionOccupied(
          {
            position: p.label ?? '',
            container: containerName(p.container),
            by: `item ${claimed.get(key)} of this request`,
          },
          `${requests.find((r) => r.index === slot.index)?.field ?? ''}position`,
        ),
      );
    } else {
      claimed.set(key, slot.index);
    }
  }
  return { placements, errors, containers };
}

/** Location of a stored specimen for answers, from preloaded containers. */
export function locationOf(row: PlacedRow, containers: Map<string, ContainerRow>) {
  if (!row.containerId) return null;
  const container = containers.get(row.containerId);
  if (!container) return null;
  const label = labelOf(container, row.positionRow, row.positionCol);
  return {
    containerId: container.id,
    containerBarcode: container.barcode,
    position: label,
    path: containerPath(container, containers) + (label ? ` / ${label}` : ''),
  };
}
