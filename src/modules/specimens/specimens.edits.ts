// Edits of a tube's descriptive fields, shared by the PATCH (updateSpecimen) and the upsert by
// external id: the ledger patch an input asks for, the part of it that changes something, and
// the external ids another tube already holds.
import type { Tx } from '../../db/client.js';
import type { SpecimenEdit } from './specimens.commands.js';
import { externalIdTaken } from './specimens.errors.js';
import { findExternalIdHolders } from './specimens.repo.js';
import type { UpdateSpecimenInput } from './specimens.schemas.js';
import type { SpecimenRow } from './specimens.table.js';

const date = (iso: string | null | undefined) =>
  iso === undefined ? undefined : iso === null ? null : new Date(iso);

/** The ledger patch for the fields the input gives (absent: left as they are). */
export function editOf(before: SpecimenRow, p: UpdateSpecimenInput): SpecimenEdit {
  return {
    ...(p.anatomicSite !== undefined ? { anatomicSite: p.anatomicSite } : {}),
    ...(p.pathologyStatus !== undefined ? { pathologyStatus: p.pathologyStatus } : {}),
    ...(p.collectedAt !== undefined ? { collectedAt: date(p.collectedAt) } : {}),
    ...(p.receivedAt !== undefined ? { receivedAt: date(p.receivedAt) } : {}),
    ...(p.processedAt !== undefined ? { processedAt: date(p.processedAt) } : {}),
    ...(p.frozenAt !== undefined ? { frozenAt: date(p.frozenAt) } : {}),
    ...(p.sprecCode !== undefined
      ? {
          sprecCode: p.sprecCode,
          sprecVersion: p.sprecCode ? (p.sprecVersion ?? before.sprecVersion ?? '3.0') : null,
        }
      : {}),
    ...(p.sprecVersion !== undefined && p.sprecCode === undefined ? { sprecVersion: p.sprecVersion } : {}),
    ...(p.quality !== undefined ? { quality: p.quality } : {}),
    ...(p.externalIds !== undefined ? { externalIds: p.externalIds } : {}),
  };
}

const pairKey = (e: { system: string; value: string }) => JSON.stringify([e.system, e.value]);

/** Same value as stored: instants by time, quality by metric, external ids as a set of pairs. */
function same(field: keyof SpecimenEdit, stored: unknown, wanted: unknown): boolean {
  if (stored instanceof Date || wanted instanceof Date)
    return (stored as Date | null)?.getTime() === (wanted as Date | null)?.getTime();
  if (field === 'quality') {
    const a = stored as Record<string, number>;
    const b = wanted as Record<string, number>;
    return Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => a[k] === b[k]);
  }
  if (field === 'externalIds') {
    const a = new Set((stored as { system: string; value: string }[]).map(pairKey));
    const b = new Set((wanted as { system: string; value: string }[]).map(pairKey));
    return a.size === b.size && [...a].every((k) => b.has(k));
  }
  return stored === wanted;
}

/** The fields of the patch whose value differs from the row's: an empty patch changes nothing. */
export function changedOnly(before: SpecimenRow, patch: SpecimenEdit): SpecimenEdit {
  return Object.fromEntries(
    Object.entries(patch).filter(
      ([k, v]) => !same(k as keyof SpecimenEdit, before[k as keyof SpecimenEdit], v),
    ),
  );
}

/**
 * Refuses external ids another tube of the institution holds (409 EXTERNAL_ID_TAKEN naming the
 * holder and the field `externalIds.N`); the tube's own ids are free to keep.
 */
export async function assertExternalIdsFree(
  tx: Tx,
  tube: SpecimenRow,
  ids: readonly { system: string; value: string }[],
): Promise<void> {
  const other = (await findExternalIdHolders(tx, tube.institutionId, ids)).find(
    (h) => h.specimenId !== tube.id,
  );
  if (other) {
    const j = ids.findIndex((e) => e.system === other.system && e.value === other.value);
    throw externalIdTaken(other.system, other.value, other.barcode, `externalIds.${j}`);
  }
}
