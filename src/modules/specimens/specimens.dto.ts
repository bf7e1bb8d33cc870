// DTO mapping for specimens and their custody events: one place, used by REST routes, GraphQL
// resolvers and loaders, and the modules that answer with specimens (consent, storage).
import type { z } from 'zod';
import type { DbOrTx } from '../../db/client.js';
import type { CustodyEventRow } from '../custody/index.js';
import { loadContainersWithAncestors, locationOf } from '../storage/index.js';
import type { SpecimenDto, custodyEventDto } from './specimens.schemas.js';
import type { SpecimenRow } from './specimens.table.js';

export interface SpecimenView {
  row: SpecimenRow;
  location: SpecimenDto['location'];
}

// Module level: toSpecimenDto runs on every scan lookup, and a closure per call costs there.
const isoOrNull = (d: Date | null) => d?.toISOString() ?? null;

export function toSpecimenDto(v: SpecimenView): SpecimenDto {
  const r = v.row;
  const iso = isoOrNull;
  return {
    id: r.id,
    barcode: r.barcode,
    type: r.type,
    lineage: r.lineage,
    parentId: r.parentId,
    rootId: r.rootId,
    participantId: r.participantId,
    protocolId: r.protocolId,
    anatomicSite: r.anatomicSite,
    pathologyStatus: r.pathologyStatus,
    collectedAt: iso(r.collectedAt),
    receivedAt: iso(r.receivedAt),
    processedAt: iso(r.processedAt),
    frozenAt: iso(r.frozenAt),
    sprecCode: r.sprecCode,
    sprecVersion: r.sprecVersion,
    unit: r.unit,
    initialQuantity: r.initialQuantity,
    availableQuantity: r.availableQuantity,
    quality: r.quality,
    freezeThawCount: r.freezeThawCount,
    status: r.status,
    holds: r.holds,
    qcStatus: r.qcStatus,
    location: v.location,
    externalIds: r.externalIds,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    version: r.version,
  };
}

export const toCustodyEventDto = (e: CustodyEventRow): z.infer<typeof custodyEventDto> => ({
  id: e.id,
  seq: e.seq,
  type: e.type,
  occurredAt: e.occurredAt.toISOString(),
  recordedAt: e.recordedAt.toISOString(),
  actor: e.actor,
  actorIdentity:
    e.actorName === null
      ? null
      : { name: e.actorName, role: e.actorRole, institutionCode: e.actorInstitutionCode },
  hashVersion: e.hashVersion,
  requestId: e.requestId,
  fromContainerId: e.fromContainerId,
  fromPosition: e.fromPosition,
  toContainerId: e.toContainerId,
  toPosition: e.toPosition,
  quantityChange: e.quantityChange === null ? null : Number(e.quantityChange),
  details: e.details,
  prevHash: e.prevHash,
  hash: e.hash,
});

/** Views with locations: one container query for any number of specimens. */
export async function specimenViews(
  handle: DbOrTx,
  institutionId: string,
  rows: SpecimenRow[],
): Promise<SpecimenView[]> {
  const containers = await loadContainersWithAncestors(handle, institutionId, [
    ...new Set(rows.map((r) => r.containerId).filter((c): c is string => c !== null)),
  ]);
  return rows.map((row) => ({ row, location: locationOf(row, containers) }));
}
