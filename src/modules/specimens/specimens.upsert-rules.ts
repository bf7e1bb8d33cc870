// The rules of an upsert, one set for every surface that brings a tube to what a caller states
// (the REST PUT by external id, the upsertSpecimen mutation, the FHIR conditional update), so
// they cannot decide differently. Pure.
//
// - Fields fixed at registration (barcode, type, quantity, unit, donor, protocol, parent, the id
//   itself) stated with another value: IMMUTABLE_FIELD naming each; a field not stated is not
//   compared.
// - External ids are added, never removed: a caller states the ids it knows, and another system's
//   ids (or the key itself) stay. Removing one is an explicit PATCH.
// - A stale If-Match is refused only when the call would change the tube; one already as stated
//   answers its current version (RFC 9110 13.1.1), so a retry whose answer was lost succeeds.
import type { FieldProblem } from '../../errors.js';
import type { SpecimenEdit } from './specimens.commands.js';
import { changedOnly, editOf } from './specimens.edits.js';
import type { RegisterSpecimenInput } from './specimens.schemas.js';
import type { SpecimenRow } from './specimens.table.js';

type Pair = { system: string; value: string };

/**
 * What a caller states about a tube: the register body, a field left out meaning "not stated",
 * plus what only FHIR states about an existing tube (its id and its parent).
 */
export type SpecimenStatement = Partial<RegisterSpecimenInput> & { id?: string; parentId?: string };

/** Which tube an upsert names: an external id or a barcode (created when none holds it), or its id. */
export type SpecimenUpsertKey =
  | { kind: 'external'; system: string; value: string }
  | { kind: 'barcode'; barcode: string }
  | { kind: 'id'; id: string };

/** Quantities are numeric(14,4): compared at that scale. */
const scaled = (n: number) => Math.round(n * 10_000) / 10_000;

/** Fields fixed at registration that the statement gives another value. */
export function fixedFieldConflicts(row: SpecimenRow, s: SpecimenStatement): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const check = (field: string, stored: string | null, sent: string | undefined) => {
    if (sent !== undefined && sent !== stored)
      problems.push({ field, message: `is ${stored ?? 'none'}; ${sent} was sent` });
  };
  check('id', row.id, s.id);
  check('barcode', row.barcode, s.barcode);
  check('type', row.type, s.type);
  if (s.quantity !== undefined && scaled(s.quantity) !== scaled(row.initialQuantity))
    problems.push({
      field: 'quantity',
      message: `is ${row.initialQuantity} ${row.unit} at registration; ${s.quantity} was sent`,
    });
  check('unit', row.unit, s.unit);
  check('participantId', row.participantId, s.participantId);
  check('protocolId', row.protocolId, s.protocolId);
  check('parentId', row.parentId, s.parentId);
  return problems;
}

const samePair = (a: Pair, b: Pair) => a.system === b.system && a.value === b.value;

/** The tube's external ids with those stated (and the key) added, or undefined when none is new. */
export function addedExternalIds(stored: readonly Pair[], stated: readonly Pair[]): Pair[] | undefined {
  const added = stated.filter(
    (e, i) => !stored.some((x) => samePair(x, e)) && stated.findIndex((x) => samePair(x, e)) === i,
  );
  return added.length ? [...stored, ...added] : undefined;
}

/** The external ids a new tube is registered with: those stated, and the key when it is one. */
export const externalIdsOfNew = (stated: readonly Pair[], key: SpecimenUpsertKey): Pair[] =>
  key.kind !== 'external' || stated.some((e) => samePair(e, key))
    ? [...stated]
    : [...stated, { system: key.system, value: key.value }];

/** The edit of the descriptive fields the statement asks for: only what differs (empty: nothing). */
export function statedEdit(row: SpecimenRow, s: SpecimenStatement, key: SpecimenUpsertKey): SpecimenEdit {
  const externalIds = addedExternalIds(row.externalIds, externalIdsOfNew(s.externalIds ?? [], key));
  return changedOnly(
    row,
    editOf(row, {
      anatomicSite: s.anatomicSite,
      pathologyStatus: s.pathologyStatus,
      collectedAt: s.collectedAt,
      receivedAt: s.receivedAt,
      processedAt: s.processedAt,
      frozenAt: s.frozenAt,
      sprecCode: s.sprecCode,
      sprecVersion: s.sprecVersion,
      quality: s.quality,
      externalIds,
    }),
  );
}
