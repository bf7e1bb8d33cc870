import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { positionLabel } from '../storage/grid.js';
import { createScanLookup } from './specimens.scan.js';
import { permittedUses } from '../consent/consent.eligibility.js';
import { today as utcToday } from '../consent/consent.gate.js';
import { and, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize, type Operation } from '../../auth/roles.js';
import type { Db, DbOrTx, Tx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { findDatabaseError } from '../../db/pg-errors.js';
import { inTransaction } from '../../db/transaction.js';
import {
  DomainError,
  badRequest,
  batchRejected,
  conflict,
  versionConflict,
  type FieldProblem,
} from '../../errors.js';
import { decodeCursor, encodeCursor, type Page } from '../../http/cursor.js';
import { recordAudit, type AuditEntry } from '../audit/audit.repo.js';
import {
  appendCustodyEvents,
  latestCustodyEvents,
  listCustodyEvents,
  verifyChain,
  type ChainHead,
  type CustodyEventInput,
  type CustodyEventRow,
  type CustodyEventType,
} from '../custody/index.js';
import { loadContainersWithAncestors } from '../storage/storage.repo.js';
import type { ContainerRow } from '../storage/storage.table.js';
import {
  SPECIMEN_TYPE_INFO,
  isDerivativeAllowed,
  type SpecimenType,
} from '../../vocabulary/specimen-types.js';
import { transition, type SpecimenAction } from './specimens.lifecycle.js';
import { locationOf, planPlacements, type Placement, type PlacementRequest } from '../storage/index.js';
import {
  findAncestors,
  findDescendants,
  findSpecimen,
  findSpecimensByBarcodes,
  findSpecimensByIds,
  listSpecimenRows,
  lockSpecimens,
  type NewSpecimenRow,
} from './specimens.repo.js';
import type {
  AliquotInput,
  DerivativeInput,
  RegisterSpecimenInput,
  SpecimenDto,
  SpecimenListQuery,
  UpdateSpecimenInput,
} from './specimens.schemas.js';
import { specimens, type HoldReason, type SpecimenRow } from './specimens.table.js';

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

/** Answers whether a specimen may be used for a purpose; the consent capability provides it. */
export interface UseGate {
  /** Throws CONSENT_NOT_GRANTED when a specimen may not be used for the use. */
  assertUsable(tx: Tx, ctx: Ctx, specimens: SpecimenRow[], use: string | undefined): Promise<void>;
  /** Holds a new specimen of this donor starts with (e.g. consent already withdrawn). */
  holdsAtBirth(tx: Tx, participantId: string | null, protocolId: string | null): Promise<string[]>;
}

/** No consent rules: for specimens outside any donor consent (and the composition root's fallback). */
export const openUseGate: UseGate = { assertUsable: async () => undefined, holdsAtBirth: async () => [] };

const SPECIMEN_COLUMNS = getTableColumns(specimens);
/** Columns a lifecycle change may write (identity, lineage and ownership never change). */
const MUTABLE_COLUMNS = [
  'status',
  'holds',
  'containerId',
  'positionRow',
  'positionCol',
  'availableQuantity',
  'freezeThawCount',
  'collectedAt',
  'receivedAt',
  'processedAt',
  'frozenAt',
  'anatomicSite',
  'pathologyStatus',
  'sprecCode',
  'sprecVersion',
  'quality',
  'externalIds',
  'qcStatus',
  'custodySeq',
  'custodyHead',
] as const satisfies readonly (keyof SpecimenRow)[];

/** Told, inside the writing transaction, which specimens were created or changed (e.g. to queue checks). */
export interface SpecimenChangeListener {
  specimensChanged(tx: Tx, ctx: Ctx, specimenIds: string[]): Promise<void>;
}

export interface SpecimenServiceDeps {
  db: Db;
  /** listeners called in the same transaction as every specimen write */
  changeListeners?: SpecimenChangeListener[];
  /** the raw pool, for the prepared scan lookup */
  pool: pg.Pool;
  useGate?: UseGate;
  /** freeze-thaw +1 on check-in when the tube was thawed (a lab may count thaws elsewhere) */
  countThawOnCheckIn?: boolean;
}

/** A change to one specimen inside a transaction: its patch and the custody events it implies. */
interface SpecimenChange {
  before: SpecimenRow;
  patch: Partial<NewSpecimenRow>;
  events: Omit<CustodyEventInput, 'specimenId' | 'institutionId'>[];
  action: string;
}

const occurred = (iso: string | undefined) => (iso ? new Date(iso) : null);
const date = (iso: string | null | undefined) =>
  iso === undefined ? undefined : iso === null ? null : new Date(iso);

function specimenNotFound(idOrBarcode: string, field = 'id') {
  return new DomainError('not_found', 'SPECIMEN_NOT_FOUND', `specimen ${idOrBarcode} was not found`, [
    { field, message: 'unknown specimen' },
  ]);
}

function refuse(row: SpecimenRow, action: SpecimenAction, opts: { depleted?: boolean } = {}) {
  const t = transition(row.status, action, { held: row.holds.length > 0, depleted: opts.depleted });
  if (t.ok) return t.to;
  if (t.blockedBy === 'hold') {
    throw conflict(
      'SPECIMEN_ON_HOLD',
      `specimen ${row.barcode} is on hold (${row.holds.join(', ')}): cannot ${action}`,
      {
        holds: row.holds,
      },
    );
  }
  throw conflict('INVALID_TRANSITION', `cannot ${action} specimen ${row.barcode}: it is ${row.status}`, {
    currentStatus: row.status,
    action,
  });
}

/** Rewrites a race lost at the position unique constraint as the product error. */
async function placementRace<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const pg = findDatabaseError(err);
    if (pg?.code === '23505' && pg.constraint === 'specimen_position_unique') {
      throw new DomainError(
        'conflict',
        'POSITION_OCCUPIED',
        'the position was taken by another request a moment ago',
        [{ field: 'position', message: 'occupied' }],
      );
    }
    if (pg?.code === '23505' && pg.constraint === 'specimen_barcode_unique') {
      throw conflict(
        'BARCODE_TAKEN',
        'a specimen with that barcode was registered by another request a moment ago',
      );
    }
    throw err;
  }
}

export function createSpecimenService(deps: SpecimenServiceDeps) {
  const { db } = deps;
  const useGate = deps.useGate ?? openUseGate;
  const countThaw = deps.countThawOnCheckIn ?? true;
  const scanLookup = createScanLookup(deps.pool);

  async function notifyChanged(tx: Tx, ctx: Ctx, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    for (const l of deps.changeListeners ?? []) await l.specimensChanged(tx, ctx, ids);
  }

  /** Views with locations: one container query for any number of specimens. */
  async function views(handle: DbOrTx, institutionId: string, rows: SpecimenRow[]): Promise<SpecimenView[]> {
    const containers = await loadContainersWithAncestors(handle, institutionId, [
      ...new Set(rows.map((r) => r.containerId).filter((c): c is string => c !== null)),
    ]);
    return rows.map((row) => ({ row, location: locationOf(row, containers) }));
  }

  /** Applies changes: custody events (one insert), specimen updates, audit rows (one insert). */
  async function updateOne(tx: Tx, c: SpecimenChange, heads: Map<string, ChainHead>): Promise<SpecimenRow[]> {
    const head = heads.get(c.before.id)!;
    const [row] = await tx
      .update(specimens)
      .set({
        ...c.patch,
        custodySeq: head.custodySeq,
        custodyHead: head.custodyHead,
        version: sql`${specimens.version} + 1`,
        updatedAt: sql`now()`,
      })
      .where(eq(specimens.id, c.before.id))
      .returning();
    if (!row) throw new Error(`specimen ${c.before.id} vanished while locked`);
    return [row];
  }

  /**
   * One UPDATE for a batch (a rack scan, a cascade): the rows are locked, so each new row is its
   * locked state with the patch applied, sent as one JSON document.
   */
  async function updateMany(
    tx: Tx,
    changes: SpecimenChange[],
    heads: Map<string, ChainHead>,
  ): Promise<SpecimenRow[]> {
    const payload = changes.map((c) => {
      const head = heads.get(c.before.id)!;
      const merged: Record<string, unknown> = {
        ...c.before,
        ...c.patch,
        custodySeq: head.custodySeq,
        custodyHead: head.custodyHead,
      };
      return Object.fromEntries(
        ['id', ...MUTABLE_COLUMNS].map((k) => {
          const v = merged[k];
          return [
            SPECIMEN_COLUMNS[k as keyof typeof SPECIMEN_COLUMNS].name,
            v instanceof Date ? v.toISOString() : v,
          ];
        }),
      );
    });
    const set = Object.fromEntries(MUTABLE_COLUMNS.map((k) => [k, sql.raw(`v.${SPECIMEN_COLUMNS[k].name}`)]));
    await tx
      .update(specimens)
      .set({ ...set, version: sql`${specimens.version} + 1`, updatedAt: sql`now()` })
      .from(sql`jsonb_populate_recordset(null::specimen, ${JSON.stringify(payload)}::jsonb) as v`)
      .where(sql`${specimens.id} = v.id`);
    const rows = await tx
      .select()
      .from(specimens)
      .where(
        inArray(
          specimens.id,
          changes.map((c) => c.before.id),
        ),
      );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return changes.map((c) => {
      const row = byId.get(c.before.id);
      if (!row) throw new Error(`specimen ${c.before.id} vanished while locked`);
      return row;
    });
  }

  async function applyChanges(tx: Tx, ctx: Ctx, changes: SpecimenChange[]): Promise<SpecimenRow[]> {
    // Tubes of one batch may trade places: check one-tube-per-position at commit, not per row.
    if (changes.length > 1) await tx.execute(sql`set constraints specimen_position_unique deferred`);
    const heads = new Map<string, ChainHead>(
      changes.map((c) => [
        c.before.id,
        { specimenId: c.before.id, custodySeq: c.before.custodySeq, custodyHead: c.before.custodyHead },
      ]),
    );
    await appendCustodyEvents(
      tx,
      ctx,
      heads,
      changes.flatMap((c) =>
        c.events.map((e) => ({ ...e, specimenId: c.before.id, institutionId: c.before.institutionId })),
      ),
    );
    const after =
      changes.length === 1 ? await updateOne(tx, changes[0]!, heads) : await updateMany(tx, changes, heads);
    await notifyChanged(
      tx,
      ctx,
      after.map((r) => r.id),
    );
    await recordAudit(
      tx,
      ctx,
      ...changes.map<AuditEntry>((c, i) => ({
        action: c.action,
        entityType: 'specimen',
        entityId: c.before.id,
        institutionId: c.before.institutionId,
        before: c.before,
        after: after[i],
      })),
    );
    return after;
  }

  async function lockOne(tx: Tx, ctx: Ctx, id: string): Promise<SpecimenRow> {
    const [row] = await lockSpecimens(tx, actorInstitutionId(ctx.actor), [id]);
    if (!row) throw specimenNotFound(id);
    return row;
  }

  /** Builds rows and first custody events for new specimens (primary, aliquot or derivative). */
  async function insertNew(
    tx: Tx,
    ctx: Ctx,
    items: {
      row: NewSpecimenRow & { id: string };
      events: Omit<CustodyEventInput, 'specimenId' | 'institutionId'>[];
    }[],
    action: string,
  ): Promise<SpecimenRow[]> {
    const heads = new Map<string, ChainHead>();
    await appendCustodyEvents(
      tx,
      ctx,
      heads,
      items.flatMap((i) =>
        i.events.map((e) => ({ ...e, specimenId: i.row.id, institutionId: i.row.institutionId })),
      ),
    );
    const inserted = await tx
      .insert(specimens)
      .values(
        items.map((i) => {
          const head = heads.get(i.row.id);
          return { ...i.row, custodySeq: head?.custodySeq ?? 0, custodyHead: head?.custodyHead ?? null };
        }),
      )
      .returning();
    await notifyChanged(
      tx,
      ctx,
      inserted.map((r) => r.id),
    );
    await recordAudit(
      tx,
      ctx,
      ...inserted.map<AuditEntry>((r) => ({
        action,
        entityType: 'specimen',
        entityId: r.id,
        institutionId: r.institutionId,
        after: r,
      })),
    );
    return inserted;
  }

  async function checkReferences(
    tx: Tx,
    institutionId: string,
    items: { index: number; field: string; participantId?: string; protocolId?: string }[],
    errors: Map<number, DomainError>,
  ) {
    const participantIds = [...new Set(items.map((i) => i.participantId).filter((x): x is string => !!x))];
    const protocolIds = [...new Set(items.map((i) => i.protocolId).filter((x): x is string => !!x))];
    const found = new Set<string>();
    const participantProtocol = new Map<string, string>();
    if (participantIds.length) {
      const r = await tx.execute<{ id: string; protocol_id: string }>(
        sql`select id, protocol_id from participant where institution_id = ${institutionId} and id in (${sql.join(
          participantIds.map((i) => sql`${i}::uuid`),
          sql`, `,
        )})`,
      );
      for (const p of r.rows) {
        found.add(p.id);
        participantProtocol.set(p.id, p.protocol_id);
      }
    }
    if (protocolIds.length) {
      const r = await tx.execute<{ id: string }>(
        sql`select id from collection_protocol where institution_id = ${institutionId} and id in (${sql.join(
          protocolIds.map((i) => sql`${i}::uuid`),
          sql`, `,
        )})`,
      );
      for (const p of r.rows) found.add(p.id);
    }
    for (const i of items) {
      if (i.participantId && !found.has(i.participantId)) {
        errors.set(
          i.index,
          new DomainError(
            'unprocessable',
            'PARTICIPANT_NOT_FOUND',
            `participant ${i.participantId} was not found`,
            [{ field: `${i.field}participantId`, message: 'unknown participant' }],
          ),
        );
      } else if (i.protocolId && !found.has(i.protocolId)) {
        errors.set(
          i.index,
          new DomainError('unprocessable', 'PROTOCOL_NOT_FOUND', `protocol ${i.protocolId} was not found`, [
            { field: `${i.field}protocolId`, message: 'unknown protocol' },
          ]),
        );
      } else if (
        i.participantId &&
        i.protocolId &&
        participantProtocol.get(i.participantId) !== i.protocolId
      ) {
        errors.set(
          i.index,
          new DomainError(
            'unprocessable',
            'PROTOCOL_MISMATCH',
            `participant ${i.participantId} is not registered to protocol ${i.protocolId}`,
            [{ field: `${i.field}protocolId`, message: 'participant belongs to another protocol' }],
          ),
        );
      }
    }
    return participantProtocol;
  }

  async function register(
    ctx: Ctx,
    inputs: RegisterSpecimenInput[],
    batch: boolean,
  ): Promise<SpecimenView[]> {
    authorize(ctx.actor, 'specimens.register');
    const institutionId = actorInstitutionId(ctx.actor);
    const field = (i: number) => (batch ? `specimens.${i}.` : '');
    return placementRace(() =>
      inTransaction(db, ctx, async (tx) => {
        const errors = new Map<number, DomainError>();
        // Barcodes: unique within the request and within the institution.
        const seen = new Map<string, number>();
        inputs.forEach((s, i) => {
          const first = seen.get(s.barcode);
          if (first !== undefined) {
            errors.set(
              i,
              new DomainError(
                'conflict',
                'BARCODE_TAKEN',
                `barcode ${s.barcode} appears twice in this request (items ${first} and ${i})`,
                [{ field: `${field(i)}barcode`, message: 'duplicate in request' }],
              ),
            );
          } else seen.set(s.barcode, i);
        });
        const existing = await findSpecimensByBarcodes(tx, institutionId, [...seen.keys()]);
        const taken = new Set(existing.map((e) => e.barcode));
        inputs.forEach((s, i) => {
          if (taken.has(s.barcode)) {
            errors.set(
              i,
              new DomainError(
                'conflict',
                'BARCODE_TAKEN',
                `a specimen with barcode ${s.barcode} already exists`,
                [{ field: `${field(i)}barcode`, message: 'already registered' }],
              ),
            );
          }
          if (s.position && !s.containerId) {
            errors.set(
              i,
              badRequest('CONTAINER_REQUIRED', 'a position needs a containerId', [
                { field: `${field(i)}containerId`, message: 'required with position' },
              ]),
            );
          }
        });
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
        if (errors.size > 0) {
          if (!batch) throw errors.get(0)!;
          throw batchRejected(errors, inputs.length);
        }
        const birthHolds = new Map<string, string[]>();
        for (const s of inputs) {
          const protocolId =
            s.protocolId ?? (s.participantId ? (participantProtocol.get(s.participantId) ?? null) : null);
          const key = `${s.participantId ?? ''}:${protocolId ?? ''}`;
          if (s.participantId && !birthHolds.has(key))
            birthHolds.set(key, await useGate.holdsAtBirth(tx, s.participantId, protocolId));
        }
        const rows = await insertNew(
          tx,
          ctx,
          inputs.map((s, i) => {
            const id = newId();
            const placement = plan.placements.get(i);
            const row: NewSpecimenRow & { id: string } = {
              id,
              institutionId,
              barcode: s.barcode,
              type: s.type,
              lineage: 'primary',
              rootId: id,
              participantId: s.participantId ?? null,
              protocolId:
                s.protocolId ?? (s.participantId ? (participantProtocol.get(s.participantId) ?? null) : null),
              anatomicSite: s.anatomicSite ?? null,
              pathologyStatus: s.pathologyStatus ?? 'unknown',
              collectedAt: date(s.collectedAt) ?? null,
              receivedAt: date(s.receivedAt) ?? null,
              processedAt: date(s.processedAt) ?? null,
              frozenAt: date(s.frozenAt) ?? null,
              sprecCode: s.sprecCode ?? null,
              sprecVersion: s.sprecCode ? (s.sprecVersion ?? '3.0') : null,
              unit: s.unit ?? SPECIMEN_TYPE_INFO[s.type].defaultUnit,
              initialQuantity: s.quantity,
              availableQuantity: s.quantity,
              quality: s.quality ?? {},
              externalIds: s.externalIds ?? [],
              holds:
                birthHolds.get(
                  `${s.participantId ?? ''}:${s.protocolId ?? (s.participantId ? (participantProtocol.get(s.participantId) ?? '') : '')}`,
                ) ?? [],
              status: placement ? 'available' : 'pending',
              containerId: placement?.container.id ?? null,
              positionRow: placement?.row ?? null,
              positionCol: placement?.col ?? null,
            };
            const events: SpecimenChange['events'] = [
              {
                type: s.collectedAt ? 'collected' : 'registered',
                occurredAt: date(s.collectedAt) ?? null,
                quantityChange: s.quantity,
                details: { barcode: s.barcode, type: s.type },
              },
            ];
            if (placement) {
              events.push({
                type: 'stored',
                toContainerId: placement.container.id,
                toPosition: placement.label,
              });
            }
            return { row, events };
          }),
          'registerSpecimen',
        );
        return views(tx, institutionId, rows);
      }),
    );
  }

  /** Moves/updates specimens under lock with their custody events; shared by actions and scans. */
  async function act(
    ctx: Ctx,
    id: string,
    op: Operation,
    build: (tx: Tx, row: SpecimenRow) => Promise<SpecimenChange>,
  ): Promise<SpecimenView> {
    authorize(ctx.actor, op);
    const institutionId = actorInstitutionId(ctx.actor);
    return placementRace(() =>
      inTransaction(db, ctx, async (tx) => {
        const row = await lockOne(tx, ctx, id);
        const change = await build(tx, row);
        const [after] = await applyChanges(tx, ctx, [change]);
        return (await views(tx, institutionId, [after!]))[0]!;
      }),
    );
  }

  async function placeOne(
    tx: Tx,
    ctx: Ctx,
    row: SpecimenRow,
    containerId: string,
    position: string | undefined,
  ): Promise<Placement> {
    const plan = await planPlacements(tx, actorInstitutionId(ctx.actor), [
      { index: 0, field: '', containerId, position, type: row.type, specimenId: row.id },
    ]);
    const err = plan.errors.get(0);
    if (err) throw err;
    return plan.placements.get(0)!;
  }

  function fromLocation(row: SpecimenRow, containers?: Map<string, ContainerRow>) {
    const loc = containers ? locationOf(row, containers) : null;
    return { fromContainerId: row.containerId, fromPosition: loc?.position ?? null };
  }

  async function currentLocations(tx: Tx, institutionId: string, rows: SpecimenRow[]) {
    return loadContainersWithAncestors(
      tx,
      institutionId,
      rows.map((r) => r.containerId).filter((c): c is string => c !== null),
    );
  }

  /** Builds the change for a storage-type action (store, move, check-in) into a placement. */
  function placementChange(
    row: SpecimenRow,
    action: 'receive' | 'store' | 'move' | 'check_in',
    placement: Placement | null,
    from: { fromContainerId: string | null; fromPosition: string | null },
    opts: { occurredAt: Date | null; note?: string; thawed?: boolean },
  ): SpecimenChange {
    const to = refuse(row, action);
    // Storing a tube that already has a place relocates it: the ledger says `moved`.
    const type: CustodyEventType =
      action === 'receive'
        ? 'received'
        : action === 'store'
          ? row.containerId
            ? 'moved'
            : 'stored'
          : action === 'move'
            ? 'moved'
            : 'checked_in';
    const patch: Partial<NewSpecimenRow> = { status: to };
    if (placement) {
      patch.containerId = placement.container.id;
      patch.positionRow = placement.row;
      patch.positionCol = placement.col;
    }
    if (action === 'receive') patch.receivedAt = opts.occurredAt ?? new Date();
    const events: SpecimenChange['events'] = [
      {
        type,
        occurredAt: opts.occurredAt,
        ...from,
        toContainerId: placement?.container.id ?? null,
        toPosition: placement?.label ?? null,
        details: opts.note ? { note: opts.note } : {},
      },
    ];
    if (action === 'check_in' && opts.thawed && countThaw) {
      patch.freezeThawCount = row.freezeThawCount + 1;
      events.push({
        type: 'thawed',
        occurredAt: opts.occurredAt,
        details: { freezeThawCount: row.freezeThawCount + 1 },
      });
    }
    return { before: row, patch, events, action: actionVerb[action] ?? action };
  }

  const actionVerb: Record<string, string> = {
    receive: 'receiveSpecimen',
    store: 'storeSpecimen',
    move: 'moveSpecimen',
    check_in: 'checkInSpecimen',
    check_out: 'checkOutSpecimen',
  };

  /** Creates child specimens from a locked parent (aliquots or derivatives). */
  async function createChildren(
    ctx: Ctx,
    parentId: string,
    kind: 'aliquot' | 'derivative',
    input: { occurredAt?: string; note?: string; use?: string },
    children: {
      barcode?: string;
      quantity: number;
      unit?: string;
      quality?: Record<string, number>;
      containerId?: string;
      position?: string;
    }[],
    drawn: number,
    /** the children's type, decided from the locked parent (throws when it may not be made) */
    childType: (parent: SpecimenRow) => SpecimenType,
  ): Promise<{ parent: SpecimenView; children: SpecimenView[] }> {
    authorize(ctx.actor, 'specimens.handle');
    const institutionId = actorInstitutionId(ctx.actor);
    return placementRace(() =>
      inTransaction(db, ctx, async (tx) => {
        const parent = await lockOne(tx, ctx, parentId);
        const type = childType(parent);
        // Status and holds first: a consumed or destroyed parent is refused as such, not as empty.
        refuse(parent, kind === 'aliquot' ? 'aliquot' : 'derive');
        const remaining = Math.round((parent.availableQuantity - drawn) * 10_000) / 10_000;
        if (remaining < 0) {
          throw conflict(
            'INSUFFICIENT_QUANTITY',
            `specimen ${parent.barcode} has ${parent.availableQuantity} ${parent.unit} available; ${drawn} ${parent.unit} were requested`,
            { availableQuantity: parent.availableQuantity },
          );
        }
        const to = refuse(parent, kind === 'aliquot' ? 'aliquot' : 'derive', { depleted: remaining === 0 });
        await useGate.assertUsable(tx, ctx, [parent], input.use);
        const inherited = [
          ...new Set([
            ...parent.holds,
            ...(await useGate.holdsAtBirth(tx, parent.participantId, parent.protocolId)),
          ]),
        ];
        const field = (i: number) => `${kind === 'aliquot' ? 'aliquots' : 'derivatives'}.${i}.`;
        const barcodes = children.map(
          (c, i) =>
            c.barcode ??
            `${parent.barcode}-${kind === 'aliquot' ? 'A' : 'D'}${String(parent.custodySeq + i + 1).padStart(2, '0')}${randomBytes(2).toString('hex').toUpperCase()}`,
        );
        const errors = new Map<number, DomainError>();
        const dup = new Map<string, number>();
        barcodes.forEach((b, i) => {
          if (dup.has(b))
            errors.set(
              i,
              new DomainError('conflict', 'BARCODE_TAKEN', `barcode ${b} appears twice in this request`, [
                { field: `${field(i)}barcode`, message: 'duplicate' },
              ]),
            );
          dup.set(b, i);
        });
        const taken = new Set(
          (await findSpecimensByBarcodes(tx, institutionId, barcodes)).map((s) => s.barcode),
        );
        barcodes.forEach((b, i) => {
          if (taken.has(b))
            errors.set(
              i,
              new DomainError('conflict', 'BARCODE_TAKEN', `a specimen with barcode ${b} already exists`, [
                { field: `${field(i)}barcode`, message: 'already registered' },
              ]),
            );
        });
        const plan = await planPlacements(
          tx,
          institutionId,
          children.flatMap((c, i) =>
            c.containerId
              ? [
                  {
                    index: i,
                    field: field(i),
                    containerId: c.containerId,
                    position: c.position,
                    type: type,
                  },
                ]
              : [],
          ),
        );
        for (const [i, e] of plan.errors) if (!errors.has(i)) errors.set(i, e);
        if (errors.size) throw batchRejected(errors, children.length);

        const occurredAt = occurred(input.occurredAt);
        const childRows = children.map((c, i) => {
          const id = newId();
          const placement = plan.placements.get(i);
          const row: NewSpecimenRow & { id: string } = {
            id,
            institutionId,
            barcode: barcodes[i]!,
            type: type,
            lineage: kind,
            parentId: parent.id,
            rootId: parent.rootId,
            participantId: parent.participantId,
            protocolId: parent.protocolId,
            anatomicSite: parent.anatomicSite,
            pathologyStatus: parent.pathologyStatus,
            collectedAt: parent.collectedAt,
            receivedAt: parent.receivedAt,
            processedAt: occurredAt ?? new Date(),
            sprecVersion: parent.sprecVersion,
            unit: (c.unit ??
              (kind === 'aliquot'
                ? parent.unit
                : SPECIMEN_TYPE_INFO[type].defaultUnit)) as NewSpecimenRow['unit'],
            initialQuantity: c.quantity,
            availableQuantity: c.quantity,
            quality: c.quality ?? (kind === 'aliquot' ? parent.quality : {}),
            // An aliquot inherits the parent's holds; a hold on the donor follows every tube.
            holds: inherited,
            freezeThawCount: kind === 'aliquot' ? parent.freezeThawCount : 0,
            // Without a position the new tube is in the technician's hands: in use until checked in.
            status: placement ? 'available' : 'in_use',
            containerId: placement?.container.id ?? null,
            positionRow: placement?.row ?? null,
            positionCol: placement?.col ?? null,
          };
          // The chain of an aliquot starts with the event that created it from its parent.
          const events: SpecimenChange['events'] = [
            {
              type: 'created_from_parent',
              occurredAt,
              quantityChange: c.quantity,
              details: {
                parentId: parent.id,
                parentBarcode: parent.barcode,
                lineage: kind,
                type: type,
                parentCustodySeq: parent.custodySeq + 1,
              },
            },
          ];
          if (placement)
            events.push({
              type: 'stored',
              occurredAt,
              toContainerId: placement.container.id,
              toPosition: placement.label,
            });
          return { row, events };
        });
        const created = await insertNew(
          tx,
          ctx,
          childRows,
          kind === 'aliquot' ? 'aliquotSpecimen' : 'deriveSpecimen',
        );
        // A parent drawn to nothing is consumed and leaves its position, as with consumeSpecimen.
        const leaves = to === 'consumed';
        const [parentAfter] = await applyChanges(tx, ctx, [
          {
            before: parent,
            patch: {
              availableQuantity: remaining,
              status: to,
              ...(leaves ? { containerId: null, positionRow: null, positionCol: null } : {}),
            },
            events: [
              {
                type: kind === 'aliquot' ? 'aliquoted' : 'derived',
                occurredAt,
                quantityChange: -drawn,
                ...(leaves ? fromLocation(parent, await currentLocations(tx, institutionId, [parent])) : {}),
                details: {
                  children: created.map((c) => ({ id: c.id, barcode: c.barcode })),
                  ...(input.use ? { use: input.use } : {}),
                  ...(input.note ? { note: input.note } : {}),
                },
              },
            ],
            action: kind === 'aliquot' ? 'aliquotSpecimen' : 'deriveSpecimen',
          },
        ]);
        const [pv, ...cv] = await views(tx, institutionId, [parentAfter!, ...created]);
        return { parent: pv!, children: cv };
      }),
    );
  }

  return {
    /** Registers one primary specimen. Throws BARCODE_TAKEN, CONTAINER_NOT_FOUND, POSITION_*, TYPE_NOT_ALLOWED, PARTICIPANT_NOT_FOUND. */
    async registerSpecimen(ctx: Ctx, input: RegisterSpecimenInput): Promise<SpecimenView> {
      return (await register(ctx, [input], false))[0]!;
    },

    /** Registers up to 1,000 specimens, all or nothing. Throws BATCH_REJECTED with per-item errors. */
    async registerSpecimens(ctx: Ctx, inputs: RegisterSpecimenInput[]): Promise<SpecimenView[]> {
      return register(ctx, inputs, true);
    },

    /** Throws SPECIMEN_NOT_FOUND (also for another institution's specimen). */
    async getSpecimen(ctx: Ctx, id: string): Promise<SpecimenView> {
      authorize(ctx.actor, 'specimens.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const row = await findSpecimen(db, institutionId, id);
      if (!row) throw specimenNotFound(id);
      return (await views(db, institutionId, [row]))[0]!;
    },

    /**
     * Scan lookup by barcode: the specimen as `toSpecimenDto` writes it, its location and the uses
     * the donor's consent allows now (empty while on hold), as the UTF-8 bytes of its JSON
     * (`ScanDto`). Serialized once, by PostgreSQL and here, because it is the hottest call;
     * GraphQL parses it. Throws SPECIMEN_NOT_FOUND.
     */
    async scanSpecimen(ctx: Ctx, barcode: string): Promise<Buffer> {
      authorize(ctx.actor, 'specimens.read');
      const found = await scanLookup(actorInstitutionId(ctx.actor), barcode);
      if (!found) throw specimenNotFound(barcode, 'barcode');
      const f = found.facts;
      const uses = permittedUses({
        participantId: f.participantId,
        holds: f.holds,
        protocolTiers: f.protocolTiers,
        consent: f.consent,
        today: utcToday(),
      });
      let location: SpecimenDto['location'] = null;
      if (found.holder) {
        const { container: c, path } = found.holder;
        const label =
          c.gridScheme && c.gridRows && c.gridCols && f.positionRow && f.positionCol
            ? positionLabel(c.gridScheme, c.gridRows, c.gridCols, f.positionRow, f.positionCol)
            : null;
        location = {
          containerId: c.id,
          containerBarcode: c.barcode,
          position: label,
          path: label ? `${path} / ${label}` : path,
        };
      }
      // The specimen's JSON object, closed by PostgreSQL, gets two more members, straight into the
      // UTF-8 bytes that are sent: one copy of the specimen's text, and only the short tail encoded.
      const head = found.specimenJson;
      const tail = `,"location":${JSON.stringify(location)},"permittedUses":${JSON.stringify(uses)}}`;
      const headBytes = Buffer.byteLength(head) - 1; // without its closing brace
      const body = Buffer.allocUnsafe(headBytes + Buffer.byteLength(tail));
      body.write(head, 0, headBytes);
      body.write(tail, headBytes);
      return body;
    },

    async getSpecimensByIds(ctx: Ctx, ids: readonly string[]): Promise<SpecimenView[]> {
      authorize(ctx.actor, 'specimens.read');
      const institutionId = actorInstitutionId(ctx.actor);
      return views(db, institutionId, await findSpecimensByIds(db, institutionId, ids));
    },

    /** Filtered keyset-paginated list. Throws INVALID_CURSOR, CONTAINER_NOT_FOUND. */
    async listSpecimens(ctx: Ctx, q: SpecimenListQuery): Promise<Page<SpecimenView>> {
      authorize(ctx.actor, 'specimens.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const afterId = decodeCursor(q.cursor, z.uuid());
      const rows = await listSpecimenRows(db, {
        institutionId,
        type: q.type,
        status: q.status,
        protocolId: q.protocolId,
        participantId: q.participantId,
        subtreeContainerIds: q.containerId
          ? sql`select c.id from container c where c.institution_id = ${institutionId} and (c.id = ${q.containerId} or c.ancestor_ids @> array[${q.containerId}::uuid])`
          : undefined,
        collectedFrom: q.collectedFrom ? new Date(q.collectedFrom) : undefined,
        collectedTo: q.collectedTo ? new Date(q.collectedTo) : undefined,
        qcStatus: q.qcStatus,
        held: q.held === undefined ? undefined : q.held === 'true',
        afterId,
        limit: q.limit + 1,
      });
      const hasMore = rows.length > q.limit;
      const page = hasMore ? rows.slice(0, q.limit) : rows;
      return {
        items: await views(db, institutionId, page),
        nextCursor: hasMore ? encodeCursor(page[page.length - 1]!.id) : null,
      };
    },

    /** Edits descriptive fields with optimistic concurrency. Throws SPECIMEN_NOT_FOUND, VERSION_CONFLICT. */
    async updateSpecimen(
      ctx: Ctx,
      input: { id: string; expectedVersion: number; patch: UpdateSpecimenInput },
    ): Promise<SpecimenView> {
      authorize(ctx.actor, 'specimens.update');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        const before = await lockOne(tx, ctx, input.id);
        if (before.version !== input.expectedVersion)
          throw versionConflict(`specimen ${before.barcode}`, input.expectedVersion, before.version);
        const p = input.patch;
        const patch: Partial<NewSpecimenRow> = {
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
          ...(p.sprecVersion !== undefined && p.sprecCode === undefined
            ? { sprecVersion: p.sprecVersion }
            : {}),
          ...(p.quality !== undefined ? { quality: p.quality } : {}),
          ...(p.externalIds !== undefined ? { externalIds: p.externalIds } : {}),
        };
        const [after] = await tx
          .update(specimens)
          .set({ ...patch, version: sql`${specimens.version} + 1`, updatedAt: sql`now()` })
          .where(and(eq(specimens.id, before.id), eq(specimens.version, input.expectedVersion)))
          .returning();
        if (!after)
          throw versionConflict(`specimen ${before.barcode}`, input.expectedVersion, before.version);
        await notifyChanged(tx, ctx, [after.id]);
        await recordAudit(tx, ctx, {
          action: 'updateSpecimen',
          entityType: 'specimen',
          entityId: after.id,
          institutionId,
          before,
          after,
        });
        return (await views(tx, institutionId, [after]))[0]!;
      });
    },

    /** Receipt at the bench. Throws INVALID_TRANSITION. */
    async receiveSpecimen(
      ctx: Ctx,
      id: string,
      input: { occurredAt?: string; note?: string; containerId?: string; position?: string },
    ) {
      return act(ctx, id, 'specimens.handle', async (tx, row) => {
        refuse(row, 'receive');
        const placement = input.containerId
          ? await placeOne(tx, ctx, row, input.containerId, input.position)
          : null;
        return placementChange(row, 'receive', placement, fromLocation(row), {
          occurredAt: occurred(input.occurredAt),
          note: input.note,
        });
      });
    },

    /** Stores or moves a specimen into a box position. Throws INVALID_TRANSITION, POSITION_OCCUPIED, TYPE_NOT_ALLOWED. */
    async storeSpecimen(
      ctx: Ctx,
      id: string,
      input: { occurredAt?: string; note?: string; containerId: string; position?: string },
    ) {
      return act(ctx, id, 'specimens.handle', async (tx, row) => {
        // The `store` rule decides, whatever the tube's current place: a reserved tube is moved
        // with `move`, a checked-out one comes back with `check_in`.
        refuse(row, 'store');
        const placement = await placeOne(tx, ctx, row, input.containerId, input.position);
        const from = fromLocation(row, await currentLocations(tx, row.institutionId, [row]));
        return placementChange(row, 'store', placement, from, {
          occurredAt: occurred(input.occurredAt),
          note: input.note,
        });
      });
    },

    async moveSpecimen(
      ctx: Ctx,
      id: string,
      input: { occurredAt?: string; note?: string; containerId: string; position?: string },
    ) {
      return act(ctx, id, 'specimens.handle', async (tx, row) => {
        refuse(row, 'move');
        const placement = await placeOne(tx, ctx, row, input.containerId, input.position);
        const from = fromLocation(row, await currentLocations(tx, row.institutionId, [row]));
        return placementChange(row, 'move', placement, from, {
          occurredAt: occurred(input.occurredAt),
          note: input.note,
        });
      });
    },

    /** Takes a tube out for use; its position stays reserved for check-in. Throws INVALID_TRANSITION, SPECIMEN_ON_HOLD, CONSENT_NOT_GRANTED. */
    async checkOutSpecimen(
      ctx: Ctx,
      id: string,
      input: { occurredAt?: string; note?: string; use?: string },
    ) {
      return act(ctx, id, 'specimens.handle', async (tx, row) => {
        const to = refuse(row, 'check_out');
        await useGate.assertUsable(tx, ctx, [row], input.use);
        const from = fromLocation(row, await currentLocations(tx, row.institutionId, [row]));
        return {
          before: row,
          patch: { status: to },
          events: [
            {
              type: 'checked_out',
              occurredAt: occurred(input.occurredAt),
              ...from,
              details: {
                ...(input.use ? { use: input.use } : {}),
                ...(input.note ? { note: input.note } : {}),
              },
            },
          ],
          action: 'checkOutSpecimen',
        };
      });
    },

    /** Returns a tube; thawing counts a freeze-thaw cycle. Throws INVALID_TRANSITION, POSITION_OCCUPIED. */
    async checkInSpecimen(
      ctx: Ctx,
      id: string,
      input: {
        occurredAt?: string;
        note?: string;
        containerId?: string;
        position?: string;
        thawed?: boolean;
      },
    ) {
      return act(ctx, id, 'specimens.handle', async (tx, row) => {
        refuse(row, 'check_in');
        const placement = input.containerId
          ? await placeOne(tx, ctx, row, input.containerId, input.position)
          : null;
        const from = fromLocation(row, await currentLocations(tx, row.institutionId, [row]));
        return placementChange(row, 'check_in', placement, from, {
          occurredAt: occurred(input.occurredAt),
          note: input.note,
          thawed: input.thawed ?? true,
        });
      });
    },

    /** Uses up part of a specimen. Throws INSUFFICIENT_QUANTITY, INVALID_TRANSITION, SPECIMEN_ON_HOLD. */
    async consumeSpecimen(
      ctx: Ctx,
      id: string,
      input: { occurredAt?: string; note?: string; quantity: number },
    ) {
      return act(ctx, id, 'specimens.handle', async (tx, row) => {
        // Status and holds first: a consumed or destroyed tube is refused as such, not as empty.
        refuse(row, 'consume');
        const remaining = Math.round((row.availableQuantity - input.quantity) * 10_000) / 10_000;
        if (remaining < 0) {
          throw conflict(
            'INSUFFICIENT_QUANTITY',
            `specimen ${row.barcode} has ${row.availableQuantity} ${row.unit} available; ${input.quantity} ${row.unit} were requested`,
            { availableQuantity: row.availableQuantity },
          );
        }
        const to = refuse(row, 'consume', { depleted: remaining === 0 });
        const leaves = to === 'consumed';
        return {
          before: row,
          patch: {
            availableQuantity: remaining,
            status: to,
            ...(leaves ? { containerId: null, positionRow: null, positionCol: null } : {}),
          },
          events: [
            {
              type: 'consumed',
              occurredAt: occurred(input.occurredAt),
              quantityChange: -input.quantity,
              ...(leaves ? fromLocation(row, await currentLocations(tx, row.institutionId, [row])) : {}),
              details: input.note ? { note: input.note } : {},
            },
          ],
          action: 'consumeSpecimen',
        };
      });
    },

    /** Destroys a specimen and frees its position. Throws INVALID_TRANSITION. */
    async destroySpecimen(
      ctx: Ctx,
      id: string,
      input: { occurredAt?: string; note?: string; reason?: string },
    ) {
      return act(ctx, id, 'specimens.destroy', async (tx, row) => {
        const to = refuse(row, 'destroy');
        const from = fromLocation(row, await currentLocations(tx, row.institutionId, [row]));
        return {
          before: row,
          patch: {
            status: to,
            availableQuantity: 0,
            containerId: null,
            positionRow: null,
            positionCol: null,
          },
          events: [
            {
              type: 'destroyed',
              occurredAt: occurred(input.occurredAt),
              ...from,
              quantityChange: row.availableQuantity ? -row.availableQuantity : null,
              details: {
                ...(input.reason ? { reason: input.reason } : {}),
                ...(input.note ? { note: input.note } : {}),
              },
            },
          ],
          action: 'destroySpecimen',
        };
      });
    },

    /** Reports a tube missing; its recorded position is released. Throws INVALID_TRANSITION. */
    async markSpecimenMissing(
      ctx: Ctx,
      id: string,
      input: { occurredAt?: string; note?: string; reason?: string },
    ) {
      return act(ctx, id, 'specimens.handle', async (tx, row) => {
        const to = refuse(row, 'mark_missing');
        const from = fromLocation(row, await currentLocations(tx, row.institutionId, [row]));
        return {
          before: row,
          patch: { status: to, containerId: null, positionRow: null, positionCol: null },
          events: [
            {
              type: 'marked_missing',
              occurredAt: occurred(input.occurredAt),
              ...from,
              details: {
                ...(input.reason ? { reason: input.reason } : {}),
                ...(input.note ? { note: input.note } : {}),
              },
            },
          ],
          action: 'markSpecimenMissing',
        };
      });
    },

    /** A missing tube turned up: it goes back to stock, optionally straight into a position. */
    async markSpecimenFound(
      ctx: Ctx,
      id: string,
      input: { occurredAt?: string; note?: string; containerId?: string; position?: string },
    ) {
      return act(ctx, id, 'specimens.handle', async (tx, row) => {
        const to = refuse(row, 'mark_found');
        const placement = input.containerId
          ? await placeOne(tx, ctx, row, input.containerId, input.position)
          : null;
        return {
          before: row,
          patch: {
            status: to,
            ...(placement
              ? {
                  containerId: placement.container.id,
                  positionRow: placement.row,
                  positionCol: placement.col,
                }
              : {}),
          },
          events: [
            {
              type: 'found',
              occurredAt: occurred(input.occurredAt),
              toContainerId: placement?.container.id ?? null,
              toPosition: placement?.label ?? null,
              details: input.note ? { note: input.note } : {},
            },
          ],
          action: 'markSpecimenFound',
        };
      });
    },

    /** Places a hold (blocks use and sharing, keeps status). Throws HOLD_EXISTS, INVALID_TRANSITION. */
    async placeHold(ctx: Ctx, id: string, input: { occurredAt?: string; note?: string; reason: HoldReason }) {
      return act(ctx, id, 'specimens.holds', async (_tx, row) => {
        refuse(row, 'place_hold');
        if (row.holds.includes(input.reason))
          throw conflict('HOLD_EXISTS', `specimen ${row.barcode} is already on ${input.reason} hold`);
        return {
          before: row,
          patch: { holds: [...row.holds, input.reason] },
          events: [
            {
              type: 'hold_placed',
              occurredAt: occurred(input.occurredAt),
              details: { reason: input.reason, ...(input.note ? { note: input.note } : {}) },
            },
          ],
          action: 'placeHold',
        };
      });
    },

    /** Releases a hold. Throws HOLD_NOT_FOUND, INVALID_TRANSITION. */
    async releaseHold(
      ctx: Ctx,
      id: string,
      input: { occurredAt?: string; note?: string; reason: HoldReason },
    ) {
      return act(ctx, id, 'specimens.holds', async (_tx, row) => {
        refuse(row, 'release_hold');
        if (!row.holds.includes(input.reason))
          throw conflict('HOLD_NOT_FOUND', `specimen ${row.barcode} has no ${input.reason} hold`);
        return {
          before: row,
          patch: { holds: row.holds.filter((h) => h !== input.reason) },
          events: [
            {
              type: 'hold_released',
              occurredAt: occurred(input.occurredAt),
              details: { reason: input.reason, ...(input.note ? { note: input.note } : {}) },
            },
          ],
          action: 'releaseHold',
        };
      });
    },

    /**
     * Splits a specimen into aliquots in one transaction; the parent's quantity can never go below
     * zero (row lock + CHECK). Throws INSUFFICIENT_QUANTITY, INVALID_TRANSITION, SPECIMEN_ON_HOLD, BATCH_REJECTED.
     */
    async aliquotSpecimen(ctx: Ctx, id: string, input: AliquotInput) {
      const drawn = input.aliquots.reduce((sum, a) => sum + a.quantity, 0);
      return createChildren(ctx, id, 'aliquot', input, input.aliquots, drawn, (parent) => parent.type);
    },

    /** Extracts derivatives (e.g. DNA from blood). Throws DERIVATIVE_NOT_ALLOWED and as aliquotSpecimen. */
    async deriveSpecimen(ctx: Ctx, id: string, input: DerivativeInput) {
      return createChildren(
        ctx,
        id,
        'derivative',
        input,
        input.derivatives,
        input.consumedQuantity,
        (parent) => {
          if (!isDerivativeAllowed(parent.type, input.type)) {
            throw new DomainError(
              'unprocessable',
              'DERIVATIVE_NOT_ALLOWED',
              `${input.type} cannot be derived from ${parent.type}`,
              [{ field: 'type', message: `not derivable from ${parent.type}` }],
            );
          }
          return input.type;
        },
      );
    },

    /** Ancestors (root first) and every descendant. Throws SPECIMEN_NOT_FOUND. */
    async getLineage(
      ctx: Ctx,
      id: string,
    ): Promise<{ specimen: SpecimenView; ancestors: SpecimenView[]; descendants: SpecimenView[] }> {
      authorize(ctx.actor, 'specimens.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const row = await findSpecimen(db, institutionId, id);
      if (!row) throw specimenNotFound(id);
      const [ancestors, descendants] = await Promise.all([
        findAncestors(db, institutionId, id),
        findDescendants(db, institutionId, id),
      ]);
      const all = await views(db, institutionId, [row, ...ancestors, ...descendants]);
      return {
        specimen: all[0]!,
        ancestors: all.slice(1, 1 + ancestors.length),
        descendants: all.slice(1 + ancestors.length),
      };
    },

    /** The custody chain, oldest first. Throws SPECIMEN_NOT_FOUND. */
    async getCustody(ctx: Ctx, id: string): Promise<CustodyEventRow[]> {
      authorize(ctx.actor, 'custody.read');
      const row = await findSpecimen(db, actorInstitutionId(ctx.actor), id);
      if (!row) throw specimenNotFound(id);
      return listCustodyEvents(db, id);
    },

    /** Recomputes the chain; reports the first break. Throws SPECIMEN_NOT_FOUND. */
    async verifyCustody(ctx: Ctx, id: string) {
      authorize(ctx.actor, 'custody.read');
      const row = await findSpecimen(db, actorInstitutionId(ctx.actor), id);
      if (!row) throw specimenNotFound(id);
      const events = await listCustodyEvents(db, id);
      const result = verifyChain(events);
      const headMatches = result.firstBreak !== null || (events.at(-1)?.hash ?? null) === row.custodyHead;
      return {
        specimenId: id,
        events: events.length,
        valid: result.firstBreak === null && headMatches && events.length === row.custodySeq,
        checked: result.checked,
        firstBreak:
          result.firstBreak ??
          (headMatches && events.length === row.custodySeq
            ? null
            : {
                seq: events.length,
                eventId: events.at(-1)?.id ?? 0,
                reason: 'head_mismatch' as const,
                expected: row.custodyHead ?? '',
                found: events.at(-1)?.hash ?? '',
              }),
      };
    },

    /** Direct children of the given specimens (aliquots, derivatives), oldest first: one query plus one for locations. */
    async childrenOf(ctx: Ctx, parentIds: readonly string[]): Promise<SpecimenView[]> {
      authorize(ctx.actor, 'specimens.read');
      const institutionId = actorInstitutionId(ctx.actor);
      if (parentIds.length === 0) return [];
      const rows = await db
        .select()
        .from(specimens)
        .where(
          and(
            eq(specimens.institutionId, institutionId),
            sql`${specimens.parentId} in (${sql.join(
              parentIds.map((i) => sql`${i}::uuid`),
              sql`, `,
            )})`,
          ),
        )
        .orderBy(specimens.id);
      return views(db, institutionId, rows);
    },

    /** The latest custody event of each given specimen of the caller's institution, in one query. */
    async latestCustodyEvents(ctx: Ctx, specimenIds: readonly string[]): Promise<CustodyEventRow[]> {
      authorize(ctx.actor, 'custody.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const events = await latestCustodyEvents(db, specimenIds);
      return events.filter((e) => e.institutionId === institutionId);
    },

    /** Internal for scans and storage: apply prepared changes under the caller's transaction. */
    internal: { applyChanges, views, placementChange, refuse, lockOne },
  };
}

export type SpecimenService = ReturnType<typeof createSpecimenService>;
export type { SpecimenChange, FieldProblem };
