// Upsert by a key the caller knows (PUT /v1/specimens/by-external-id/{system}/{value}, the
// upsertSpecimen mutation, and FHIR's PUT Specimen?identifier= and PUT Specimen/{id}). An LIS
// knows its tubes by accession number and resends what it knows whenever it likes: the first
// statement registers the tube, later ones update what changed, and one that changes nothing
// writes nothing (no version, audit row, custody event or feed entry). The rules every surface
// shares are in specimens.upsert-rules.ts; changes go through the ledger's `edit` like a PATCH.
//
// Fields the statement leaves out keep their stored value (the lab adds facts the LIS does not
// know: receipt, quality, SPREC). `containerId` and `position` place a new tube only, since an
// existing tube moves through store and move, and a resent first body must not carry it back.
import type { z } from 'zod';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db, Tx } from '../../db/client.js';
import { lockNaturalKey, retryAfterUniqueRace } from '../../db/natural-keys.js';
import { inTransaction } from '../../db/transaction.js';
import {
  immutableField,
  noCurrentVersion,
  validationFailed,
  versionConflict,
  type FieldProblem,
} from '../../errors.js';
import { specimenViews, type SpecimenView } from './specimens.dto.js';
import { assertExternalIdsFree } from './specimens.edits.js';
import { placementRace, specimenNotFound } from './specimens.errors.js';
import type { SpecimenLedger } from './specimens.ledger.js';
import { registerWithin } from './specimens.register.js';
import {
  futurePreanalyticalTime,
  PREANALYTICAL_TIMES,
  storedTimes,
  timeBeforeCollectionOf,
} from './specimens.times.js';
import { findExternalIdHolders, findSpecimensByBarcodes } from './specimens.repo.js';
import { registerSpecimenInput } from './specimens.schemas.js';
import type { SpecimenRow } from './specimens.table.js';
import {
  externalIdsOfNew,
  fixedFieldConflicts,
  statedEdit,
  type SpecimenStatement,
  type SpecimenUpsertKey,
} from './specimens.upsert-rules.js';
import type { UseGate } from './specimens.use-gate.js';
import { resolveVersion, type ExpectedVersion } from '../../versions.js';

export interface SpecimenUpsertInput {
  key: SpecimenUpsertKey;
  body: SpecimenStatement;
  /** the version the caller last read (If-Match, expectedVersion), when it sent one */
  expectedVersion?: ExpectedVersion;
}

export interface SpecimenUpsert {
  created: boolean;
  specimen: SpecimenView;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const describeKey = (key: SpecimenUpsertKey) =>
  key.kind === 'external'
    ? `specimen with external id ${key.system} ${key.value}`
    : key.kind === 'barcode'
      ? `specimen with barcode ${key.barcode}`
      : `specimen ${key.id}`;

/** zod problems of a statement, by field path (FHIR names them by element). */
/** A statement's fields, each read as the register body reads it (what is stated may be partial). */
const statedFields = registerSpecimenInput.partial();

const problemsOf = (issues: z.core.$ZodIssue[]): FieldProblem[] =>
  issues.map((i) => ({ field: i.path.map(String).join('.'), message: i.message, code: i.code }));

export function createSpecimenUpsert(deps: {
  db: Db;
  ledger: SpecimenLedger;
  useGate: UseGate;
  clock: () => Date;
}) {
  const { db, ledger } = deps;

  /** Takes the key's lock and finds the tube it names, locked (undefined: none yet). */
  async function holderOf(tx: Tx, institutionId: string, key: SpecimenUpsertKey) {
    let id: string | undefined;
    if (key.kind === 'id') id = UUID.test(key.id) ? key.id.toLowerCase() : undefined;
    else if (key.kind === 'barcode') {
      await lockNaturalKey(tx, 'specimen_barcode', institutionId, key.barcode);
      id = (await findSpecimensByBarcodes(tx, institutionId, [key.barcode]))[0]?.id;
    } else {
      await lockNaturalKey(tx, 'specimen_external_id', institutionId, key.system, key.value);
      id = (await findExternalIdHolders(tx, institutionId, [key]))[0]?.specimenId;
    }
    return id === undefined ? undefined : (await ledger.lock(tx, institutionId, [id]))[0];
  }

  async function create(tx: Tx, ctx: Ctx, input: SpecimenUpsertInput): Promise<SpecimenView> {
    const { key } = input;
    const { id, parentId, ...stated } = input.body;
    if (key.kind === 'id') throw specimenNotFound(key.id);
    authorize(ctx.actor, 'specimens.register');
    if (input.expectedVersion !== undefined) throw noCurrentVersion(describeKey(key), input.expectedVersion);
    const refused: FieldProblem[] = [];
    if (id !== undefined)
      refused.push({ field: 'id', message: `no specimen holds this key yet; a new one gets its id here` });
    if (parentId !== undefined)
      refused.push({ field: 'parentId', message: 'aliquots and derivatives are drawn here, not registered' });
    const barcode = stated.barcode ?? (key.kind === 'barcode' ? key.barcode : undefined);
    for (const field of ['type', 'quantity'] as const)
      if (stated[field] === undefined) refused.push({ field, message: 'is needed to register a specimen' });
    if (barcode === undefined)
      refused.push({ field: 'barcode', message: 'is needed to register a specimen' });
    if (refused.length) throw validationFailed(refused);
    const body = registerSpecimenInput.safeParse({
      ...stated,
      barcode,
      externalIds: externalIdsOfNew(stated.externalIds ?? [], key),
    });
    if (!body.success) throw validationFailed(problemsOf(body.error.issues));
    const [specimen] = await registerWithin(deps, tx, ctx, [body.data], {
      batch: false,
      action: 'upsertSpecimen',
    });
    return specimen!;
  }

  async function update(tx: Tx, ctx: Ctx, input: SpecimenUpsertInput, row: SpecimenRow) {
    authorize(ctx.actor, 'specimens.update');
    const conflicts = fixedFieldConflicts(row, input.body);
    const patch = statedEdit(row, input.body, input.key);
    const unchanged = conflicts.length === 0 && Object.keys(patch).length === 0;
    if (
      input.expectedVersion !== undefined &&
      resolveVersion(input.expectedVersion, row.version) !== row.version &&
      !unchanged
    )
      throw versionConflict(`specimen ${row.barcode}`, input.expectedVersion, row.version);
    if (conflicts.length > 0) throw immutableField(`specimen ${row.barcode}`, conflicts);
    if (unchanged) return row;
    // The times this statement changes are held to the rule registration and PATCH hold them to.
    const changedTimes = Object.fromEntries(
      PREANALYTICAL_TIMES.filter((f) => f in patch).map((f) => [f, input.body[f]] as const),
    ) as Partial<Record<(typeof PREANALYTICAL_TIMES)[number], string | null>>;
    const future =
      futurePreanalyticalTime(changedTimes, deps.clock()) ??
      (Object.keys(changedTimes).length
        ? timeBeforeCollectionOf({ ...storedTimes(row), ...changedTimes })
        : undefined);
    if (future) throw future;
    if (patch.externalIds) await assertExternalIdsFree(tx, row, patch.externalIds);
    const [after] = await ledger.apply(tx, ctx, [
      { kind: 'edit', specimen: row, patch, expectedVersion: row.version, action: 'upsertSpecimen' },
    ]);
    return after!;
  }

  return {
    /**
     * Creates the specimen the key names (an external id or a barcode; never by id), or brings it
     * to what the statement says (specimens.upsert-rules.ts); the same statement again changes
     * nothing. Concurrent calls for one new key create it once (the later ones update or change
     * nothing). Throws IMMUTABLE_FIELD, VERSION_CONFLICT, NO_CURRENT_VERSION, VALIDATION_FAILED (a
     * new tube's missing fields), SPECIMEN_NOT_FOUND (by id), BARCODE_TAKEN, EXTERNAL_ID_TAKEN,
     * and what a registration throws (PARTICIPANT_NOT_FOUND, POSITION_OCCUPIED, ...).
     */
    async upsertSpecimen(ctx: Ctx, input: SpecimenUpsertInput): Promise<SpecimenUpsert> {
      const institutionId = actorInstitutionId(ctx.actor);
      const { id, parentId, ...fields } = input.body;
      const read = statedFields.safeParse(fields);
      if (!read.success) throw validationFailed(problemsOf(read.error.issues));
      const stated: SpecimenUpsertInput = {
        ...input,
        body: {
          ...read.data,
          ...(id !== undefined ? { id } : {}),
          ...(parentId !== undefined ? { parentId } : {}),
        },
      };
      return placementRace(() =>
        retryAfterUniqueRace(['specimen_external_id_unique', 'specimen_barcode_unique'], () =>
          inTransaction(db, ctx, async (tx) => {
            const row = await holderOf(tx, institutionId, input.key);
            if (!row) return { created: true, specimen: await create(tx, ctx, stated) };
            const after = await update(tx, ctx, stated, row);
            const [specimen] = await specimenViews(tx, institutionId, [after]);
            return { created: false, specimen: specimen! };
          }),
        ),
      );
    },
  };
}
