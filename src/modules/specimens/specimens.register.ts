// Registering primary specimens: one, or a batch of up to 1,000, all or nothing.
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db, Tx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { inTransaction } from '../../db/transaction.js';
import { batchRejected, type DomainError } from '../../errors.js';
import { SPECIMEN_TYPE_INFO } from '../../vocabulary/specimen-types.js';
import {
  findParticipantsAndProtocols,
  participantNotFound,
  protocolNotFound,
} from '../participants/index.js';
import { planPlacements, type PlacementRequest } from '../storage/index.js';
import type { NewSpecimen } from './specimens.commands.js';
import { specimenViews, type SpecimenView } from './specimens.dto.js';
import {
  barcodeTaken,
  positionWithoutContainer,
  externalIdTaken,
  placementRace,
  protocolMismatch,
} from './specimens.errors.js';
import type { SpecimenLedger } from './specimens.ledger.js';
import { findExternalIdHolders, findSpecimensByBarcodes } from './specimens.repo.js';
import type { RegisterSpecimenInput } from './specimens.schemas.js';
import { futurePreanalyticalTime, timeBeforeCollectionOf } from './specimens.times.js';
import type { UseGate } from './specimens.use-gate.js';

const date = (iso: string | null | undefined) => (iso === undefined || iso === null ? null : new Date(iso));

/** Participants and protocols named by the items must exist here, and agree with each other. */
async function checkReferences(
  tx: Tx,
  institutionId: string,
  items: { index: number; field: string; participantId?: string; protocolId?: string }[],
  errors: Map<number, DomainError>,
) {
  const found = await findParticipantsAndProtocols(
    tx,
    institutionId,
    [...new Set(items.map((i) => i.participantId).filter((x): x is string => !!x))],
    [...new Set(items.map((i) => i.protocolId).filter((x): x is string => !!x))],
  );
  for (const i of items) {
    if (i.participantId && !found.participantProtocol.has(i.participantId)) {
      errors.set(i.index, participantNotFound(i.participantId, `${i.field}participantId`, 'reference'));
    } else if (i.protocolId && !found.protocolIds.has(i.protocolId)) {
      errors.set(i.index, protocolNotFound(i.protocolId, `${i.field}protocolId`, 'reference'));
    } else if (
      i.participantId &&
      i.protocolId &&
      found.participantProtocol.get(i.participantId) !== i.protocolId
    ) {
      errors.set(i.index, protocolMismatch(i.participantId, i.protocolId, `${i.field}protocolId`));
    }
  }
  return found.participantProtocol;
}

/**
 * External ids (system, value) name one tube of the institution: none may be held by another
 * specimen or listed by an earlier item of the same request.
 */
async function checkExternalIds(
  tx: Tx,
  institutionId: string,
  inputs: RegisterSpecimenInput[],
  field: (i: number) => string,
  errors: Map<number, DomainError>,
) {
  const firstItem = new Map<string, number>();
  const key = (e: { system: string; value: string }) => JSON.stringify([e.system, e.value]);
  inputs.forEach((s, i) =>
    (s.externalIds ?? []).forEach((e, j) => {
      const first = firstItem.get(key(e));
      if (first === undefined) firstItem.set(key(e), i);
      else if (first !== i)
        errors.set(i, externalIdTaken(e.system, e.value, null, `${field(i)}externalIds.${j}`, first));
    }),
  );
  const wanted = inputs.flatMap((s) => s.externalIds ?? []);
  for (const h of await findExternalIdHolders(tx, institutionId, wanted)) {
    const i = firstItem.get(key(h))!;
    const j = (inputs[i]!.externalIds ?? []).findIndex((e) => key(e) === key(h));
    errors.set(i, externalIdTaken(h.system, h.value, h.barcode, `${field(i)}externalIds.${j}`));
  }
}

type RegistrationDeps = { ledger: SpecimenLedger; useGate: UseGate; clock: () => Date };

/**
 * Every check a registration makes, per item (barcodes, external ids, participants and protocols,
 * positions, times), without writing: the refusals by item index and what the write needs.
 */
async function checkRegistrations(
  deps: RegistrationDeps,
  tx: Tx,
  institutionId: string,
  inputs: RegisterSpecimenInput[],
  field: (i: number) => string,
) {
  const errors = new Map<number, DomainError>();
  // Barcodes: unique within the request and within the institution.
  const seen = new Map<string, number>();
  inputs.forEach((s, i) => {
    const first = seen.get(s.barcode);
    if (first !== undefined) {
      errors.set(i, barcodeTaken(s.barcode, `${field(i)}barcode`, first));
    } else seen.set(s.barcode, i);
  });
  const taken = new Set(
    (await findSpecimensByBarcodes(tx, institutionId, [...seen.keys()])).map((e) => e.barcode),
  );
  const now = deps.clock();
  inputs.forEach((s, i) => {
    const future = futurePreanalyticalTime(s, now, field(i)) ?? timeBeforeCollectionOf(s, field(i));
    if (future) errors.set(i, future);
    if (taken.has(s.barcode)) {
      errors.set(i, barcodeTaken(s.barcode, `${field(i)}barcode`));
    }
    const unplaced = positionWithoutContainer(s, field(i));
    if (unplaced) errors.set(i, unplaced);
  });
  await checkExternalIds(tx, institutionId, inputs, field, errors);
  const participantProtocol = await checkReferences(
    tx,
    institutionId,
    inputs.map((s, i) => ({
      index: i,
      field: field(i),
      participantId: s.participantId,
      protocolId: s.protocolId,
    })),
    errors,
  );
  const requests: PlacementRequest[] = inputs.flatMap((s, i) =>
    s.containerId
      ? [{ index: i, field: field(i), containerId: s.containerId, position: s.position, type: s.type }]
      : [],
  );
  const plan = await planPlacements(tx, institutionId, requests);
  for (const [i, e] of plan.errors) if (!errors.has(i)) errors.set(i, e);
  return { errors, participantProtocol, placements: plan.placements };
}

/** The ledger's new tubes for checked items (`checkRegistrations`), with the holds they are born with. */
async function newSpecimens(
  deps: RegistrationDeps,
  tx: Tx,
  institutionId: string,
  inputs: { input: RegisterSpecimenInput; index: number }[],
  checked: Awaited<ReturnType<typeof checkRegistrations>>,
): Promise<NewSpecimen[]> {
  const { participantProtocol, placements } = checked;
  // A donor whose consent is already withdrawn gives tubes that are born on hold.
  const protocolOf = (s: RegisterSpecimenInput) =>
    s.protocolId ?? (s.participantId ? (participantProtocol.get(s.participantId) ?? null) : null);
  const birthHolds = new Map<string, string[]>();
  for (const { input: s } of inputs) {
    const key = `${s.participantId ?? ''}:${protocolOf(s) ?? ''}`;
    if (s.participantId && !birthHolds.has(key))
      birthHolds.set(key, await deps.useGate.holdsAtBirth(tx, s.participantId, protocolOf(s)));
  }
  return inputs.map(({ input: s, index }) => {
    const id = newId();
    return {
      row: {
        id,
        institutionId,
        barcode: s.barcode,
        type: s.type,
        lineage: 'primary',
        rootId: id,
        participantId: s.participantId ?? null,
        protocolId: protocolOf(s),
        anatomicSite: s.anatomicSite ?? null,
        pathologyStatus: s.pathologyStatus ?? 'unknown',
        collectedAt: date(s.collectedAt),
        receivedAt: date(s.receivedAt),
        processedAt: date(s.processedAt),
        frozenAt: date(s.frozenAt),
        sprecCode: s.sprecCode ?? null,
        sprecVersion: s.sprecCode ? (s.sprecVersion ?? '3.0') : null,
        unit: s.unit ?? SPECIMEN_TYPE_INFO[s.type].defaultUnit,
        initialQuantity: s.quantity,
        availableQuantity: s.quantity,
        quality: s.quality ?? {},
        externalIds: s.externalIds ?? [],
        holds: birthHolds.get(`${s.participantId ?? ''}:${protocolOf(s) ?? ''}`) ?? [],
      },
      placement: placements.get(index) ?? null,
      occurredAt: date(s.collectedAt),
      origin: { kind: 'registered' },
    };
  });
}

/**
 * Registers primary specimens in the caller's transaction, after checking every item (barcodes,
 * external ids, participants and protocols, positions): one refusal refuses all. `batch` names
 * each item's fields `specimens.N.` and answers BATCH_REJECTED; `action` is the audit action.
 */
export async function registerWithin(
  deps: RegistrationDeps,
  tx: Tx,
  ctx: Ctx,
  inputs: RegisterSpecimenInput[],
  opts: { batch: boolean; action: string },
): Promise<SpecimenView[]> {
  const { batch } = opts;
  const institutionId = actorInstitutionId(ctx.actor);
  const field = (i: number) => (batch ? `specimens.${i}.` : '');
  const checked = await checkRegistrations(deps, tx, institutionId, inputs, field);
  const { errors } = checked;
  if (errors.size > 0) {
    if (!batch) throw errors.get(0)!;
    throw batchRejected(errors, inputs.length);
  }
  const items = await newSpecimens(
    deps,
    tx,
    institutionId,
    inputs.map((input, index) => ({ input, index })),
    checked,
  );
  const rows = await deps.ledger.register(tx, ctx, items, opts.action);
  return specimenViews(tx, institutionId, rows);
}

/**
 * The bulk registration command (a file import): checks every item as `registerWithin` does and
 * registers, in the caller's transaction, the items nothing refuses, each with its custody events,
 * audit row and change notices as if registered alone (`ledger.registerPrimaries`, set-based). With
 * `dryRun` nothing is written. Returns the refusals by item index (their fields without prefix) and
 * the new specimens' ids by item index.
 */
export async function registerValidWithin(
  deps: RegistrationDeps,
  tx: Tx,
  ctx: Ctx,
  inputs: RegisterSpecimenInput[],
  opts: { action: string; dryRun: boolean },
): Promise<{ errors: Map<number, DomainError>; registered: Map<number, string> }> {
  authorize(ctx.actor, 'specimens.register');
  const institutionId = actorInstitutionId(ctx.actor);
  const checked = await checkRegistrations(deps, tx, institutionId, inputs, () => '');
  const registered = new Map<number, string>();
  const valid = inputs.flatMap((input, index) => (checked.errors.has(index) ? [] : [{ input, index }]));
  if (opts.dryRun || valid.length === 0) return { errors: checked.errors, registered };
  const items = await newSpecimens(deps, tx, institutionId, valid, checked);
  const ids = await deps.ledger.registerPrimaries(tx, ctx, items, opts.action);
  ids.forEach((id, i) => registered.set(valid[i]!.index, id));
  return { errors: checked.errors, registered };
}

export function createSpecimenRegistration(deps: {
  db: Db;
  ledger: SpecimenLedger;
  useGate: UseGate;
  clock: () => Date;
}) {
  const { db } = deps;

  /** `answer` picks the service's answer inside the transaction, which an Idempotency-Key stores. */
  async function register<A>(
    ctx: Ctx,
    inputs: RegisterSpecimenInput[],
    batch: boolean,
    answer: (views: SpecimenView[]) => A,
  ): Promise<A> {
    authorize(ctx.actor, 'specimens.register');
    return placementRace(() =>
      inTransaction(db, ctx, async (tx) =>
        answer(await registerWithin(deps, tx, ctx, inputs, { batch, action: 'registerSpecimen' })),
      ),
    );
  }

  return {
    /** Registers one primary specimen. Throws BARCODE_TAKEN, CONTAINER_NOT_FOUND, POSITION_*, TYPE_NOT_ALLOWED, PARTICIPANT_NOT_FOUND, TIME_IN_FUTURE. */
    async registerSpecimen(ctx: Ctx, input: RegisterSpecimenInput): Promise<SpecimenView> {
      return register(ctx, [input], false, (views) => views[0]!);
    },

    /** Registers up to 1,000 specimens, all or nothing. Throws BATCH_REJECTED with per-item errors. */
    async registerSpecimens(ctx: Ctx, inputs: RegisterSpecimenInput[]): Promise<SpecimenView[]> {
      return register(ctx, inputs, true, (views) => views);
    },
  };
}
