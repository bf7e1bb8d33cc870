// Upsert by the hospital's id (PUT /v1/specimens/by-external-id/{system}/{value}, the
// upsertSpecimen mutation). An LIS knows its tubes by accession number and resends what it knows
// whenever it likes: the register call's body creates the tube the first time, updates what
// changed after that, and changes nothing at all (no version, audit row, custody event or feed
// entry) when nothing differs. Changes go through the ledger's `edit` command like a PATCH.
//
// Fields the body leaves out keep their stored value (the lab adds facts the LIS does not know:
// receipt, quality, SPREC). Fields fixed at registration (barcode, type, quantity, unit,
// participant, protocol) are compared and a different value is 409 IMMUTABLE_FIELD; `containerId`
// and `position` place a new tube only, since an existing tube moves through store and move, and
// a resent first body must not carry it back.
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db, Tx } from '../../db/client.js';
import { lockNaturalKey, retryAfterUniqueRace } from '../../db/natural-keys.js';
import { inTransaction } from '../../db/transaction.js';
import { immutableField, noCurrentVersion, versionConflict, type FieldProblem } from '../../errors.js';
import { specimenViews, type SpecimenView } from './specimens.dto.js';
import { assertExternalIdsFree, changedOnly, editOf } from './specimens.edits.js';
import { placementRace } from './specimens.errors.js';
import type { SpecimenLedger } from './specimens.ledger.js';
import { registerWithin } from './specimens.register.js';
import { findExternalIdHolders } from './specimens.repo.js';
import type { RegisterSpecimenInput } from './specimens.schemas.js';
import type { SpecimenRow } from './specimens.table.js';
import type { UseGate } from './specimens.use-gate.js';
import { resolveVersion, type ExpectedVersion } from '../../versions.js';

export interface SpecimenUpsertInput {
  system: string;
  value: string;
  body: RegisterSpecimenInput;
  /** the version the caller last read (If-Match, expectedVersion), when it sent one */
  expectedVersion?: ExpectedVersion;
}

export interface SpecimenUpsert {
  created: boolean;
  specimen: SpecimenView;
}

type Pair = { system: string; value: string };

/** The body's external ids with the one of the path added when the body does not list it. */
const withKey = (ids: Pair[], key: Pair): Pair[] =>
  ids.some((e) => e.system === key.system && e.value === key.value) ? ids : [...ids, key];

/** Quantities are numeric(14,4): compared at that scale. */
const scaled = (n: number) => Math.round(n * 10_000) / 10_000;

/** Fields fixed at registration that the body gives another value (absent ones are not compared). */
function fixedFieldConflicts(row: SpecimenRow, b: RegisterSpecimenInput): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const differs = (field: string, stored: string | number | null, sent: string | number) => {
    problems.push({ field, message: `is ${stored ?? 'none'}; ${sent} was sent` });
  };
  if (b.barcode !== row.barcode) differs('barcode', row.barcode, b.barcode);
  if (b.type !== row.type) differs('type', row.type, b.type);
  if (scaled(b.quantity) !== scaled(row.initialQuantity))
    differs('quantity', `${row.initialQuantity} ${row.unit} at registration`, b.quantity);
  if (b.unit !== undefined && b.unit !== row.unit) differs('unit', row.unit, b.unit);
  if (b.participantId !== undefined && b.participantId !== row.participantId)
    differs('participantId', row.participantId, b.participantId);
  if (b.protocolId !== undefined && b.protocolId !== row.protocolId)
    differs('protocolId', row.protocolId, b.protocolId);
  return problems;
}

export function createSpecimenUpsert(deps: {
  db: Db;
  ledger: SpecimenLedger;
  useGate: UseGate;
  clock: () => Date;
}) {
  const { db, ledger } = deps;

  async function create(tx: Tx, ctx: Ctx, input: SpecimenUpsertInput, key: Pair): Promise<SpecimenUpsert> {
    authorize(ctx.actor, 'specimens.register');
    if (input.expectedVersion !== undefined)
      throw noCurrentVersion(`specimen with external id ${key.system} ${key.value}`, input.expectedVersion);
    const body = { ...input.body, externalIds: withKey(input.body.externalIds ?? [], key) };
    const [specimen] = await registerWithin(deps, tx, ctx, [body], {
      batch: false,
      action: 'upsertSpecimen',
    });
    return { created: true, specimen: specimen! };
  }

  async function update(tx: Tx, ctx: Ctx, input: SpecimenUpsertInput, row: SpecimenRow, key: Pair) {
    authorize(ctx.actor, 'specimens.update');
    const b = input.body;
    const conflicts = fixedFieldConflicts(row, b);
    const patch = changedOnly(
      row,
      editOf(row, {
        anatomicSite: b.anatomicSite,
        pathologyStatus: b.pathologyStatus,
        collectedAt: b.collectedAt,
        receivedAt: b.receivedAt,
        processedAt: b.processedAt,
        frozenAt: b.frozenAt,
        sprecCode: b.sprecCode,
        sprecVersion: b.sprecVersion,
        quality: b.quality,
        externalIds: b.externalIds === undefined ? undefined : withKey(b.externalIds, key),
      }),
    );
    const unchanged = conflicts.length === 0 && Object.keys(patch).length === 0;
    // A stale version is refused unless the tube already is as asked: a retry whose first answer
    // was lost succeeds (RFC 9110 13.1.1 allows a 2xx for a change already applied).
    if (
      input.expectedVersion !== undefined &&
      resolveVersion(input.expectedVersion, row.version) !== row.version &&
      !unchanged
    )
      throw versionConflict(`specimen ${row.barcode}`, input.expectedVersion, row.version);
    if (conflicts.length > 0) throw immutableField(`specimen ${row.barcode}`, conflicts);
    if (unchanged) return row;
    if (patch.externalIds) await assertExternalIdsFree(tx, row, patch.externalIds);
    const [after] = await ledger.apply(tx, ctx, [
      { kind: 'edit', specimen: row, patch, expectedVersion: row.version, action: 'upsertSpecimen' },
    ]);
    return after!;
  }

  return {
    /**
     * Creates the specimen holding external id (system, value), or brings its descriptive fields
     * to what the body says; the same body again changes nothing. Concurrent calls for one new id
     * create it once (the later ones update or change nothing). Throws IMMUTABLE_FIELD,
     * VERSION_CONFLICT, NO_CURRENT_VERSION, BARCODE_TAKEN, EXTERNAL_ID_TAKEN, and what a
     * registration throws (PARTICIPANT_NOT_FOUND, POSITION_OCCUPIED, ...).
     */
    async upsertSpecimen(ctx: Ctx, input: SpecimenUpsertInput): Promise<SpecimenUpsert> {
      const institutionId = actorInstitutionId(ctx.actor);
      const key = { system: input.system, value: input.value };
      return placementRace(() =>
        retryAfterUniqueRace(['specimen_external_id_unique', 'specimen_barcode_unique'], () =>
          inTransaction(db, ctx, async (tx) => {
            await lockNaturalKey(tx, 'specimen_external_id', institutionId, key.system, key.value);
            const [holder] = await findExternalIdHolders(tx, institutionId, [key]);
            if (!holder) return create(tx, ctx, input, key);
            const [row] = await ledger.lock(tx, institutionId, [holder.specimenId]);
            const after = await update(tx, ctx, input, row!, key);
            const [specimen] = await specimenViews(tx, institutionId, [after]);
            return { created: false, specimen: specimen! };
          }),
        ),
      );
    },
  };
}
