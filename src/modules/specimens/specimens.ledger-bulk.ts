// The specimen ledger's bulk command: new specimens with their whole custody histories (the
// synthetic inventory, a migration from another system), written with a few `unnest` statements
// instead of a command per event. The rules are the ledger's own (specimens.ledger-bulk-rules.ts):
// each history is replayed through the lifecycle table from the status the ledger gives a new
// tube, every place must be a specimen container of the institution, and the row must state what
// the replay ends with. The hash chain is computed here with custody's eventHash, never taken from
// the caller.
//
// Not done per tube, unlike `ledger.register`: audit rows (the importer records one summary row,
// as a row per tube would double a million-tube import) and change notices (standardization runs
// over an import as a whole).
import { sql } from 'drizzle-orm';
import type { Ctx } from '../../context.js';
import { actorLabel } from '../../auth/roles.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { actorIdentity, eventHash } from '../custody/index.js';
import { loadContainersWithAncestors } from '../storage/index.js';
import { findExternalIdHolders } from './specimens.repo.js';
import { externalIdTaken } from './specimens.errors.js';
import {
  checkLineage,
  checkPlaces,
  externalIdsOf,
  replayHistory,
  scale4,
  type ReplayVisitor,
  type SpecimenHistory,
} from './specimens.ledger-bulk-rules.js';
import { A, Q, pgArray } from '../../db/array-literals.js';

export type { ImportedEvent, ImportedSpecimen, SpecimenHistory } from './specimens.ledger-bulk-rules.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const NO_DETAILS: Record<string, unknown> = Object.freeze({});
/** Specimens replayed between turns of the event loop: a large import never holds it for long. */
const SLICE = 500;
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Replays each history and hashes its chain as it goes (the fields hashed are the ones written).
 * Returns the custody_event columns and, per specimen in item order, its chain length, head hash,
 * version and holds, all as array literals for `unnest`; and every container an event puts a tube
 * in, with a tube that went there (to name in errors).
 */
async function replayAndHash(ctx: Ctx, institutionId: string, items: readonly SpecimenHistory[]) {
  const actor = actorLabel(ctx.actor);
  const identity = actorIdentity(ctx.actor);
  const places = new Map<string, SpecimenHistory>();
  const ev = {
    specimenId: [] as string[],
    seq: [] as number[],
    type: [] as string[],
    occurredAt: [] as string[],
    recordedAt: [] as string[],
    requestId: [] as string[],
    fromContainerId: [] as (string | null)[],
    fromPosition: [] as (string | null)[],
    toContainerId: [] as (string | null)[],
    toPosition: [] as (string | null)[],
    quantityChange: [] as (string | null)[],
    details: [] as string[],
    prevHash: [] as (string | null)[],
    hash: [] as string[],
  };
  const seqs: number[] = [];
  const heads: string[] = [];
  const versions: number[] = [];
  const holds: string[] = [];
  let current: SpecimenHistory;
  let prevHash: string | null = null;
  let lastPlace: string | null = null;
  const record: ReplayVisitor = (e, seq, fromContainerId, fromPosition) => {
    const s = current.specimen;
    const quantityChange = e.quantityChange ?? null;
    const details = e.details ?? NO_DETAILS;
    const requestId = e.requestId ?? ctx.requestId;
    const toContainerId = e.toContainerId ?? null;
    const toPosition = e.toPosition ?? null;
    // Tubes fill a box one after another: look a container up once per run of them.
    if (toContainerId !== null && toContainerId !== lastPlace) {
      lastPlace = toContainerId;
      if (!places.has(toContainerId)) places.set(toContainerId, current);
    }
    const hash = eventHash(prevHash, {
      specimenId: s.id,
      institutionId,
      seq,
      type: e.type,
      occurredAt: e.occurredAt,
      recordedAt: e.recordedAt,
      actor,
      ...identity,
      requestId,
      fromContainerId,
      fromPosition,
      toContainerId,
      toPosition,
      quantityChange,
      details,
    });
    ev.specimenId.push(s.id);
    ev.seq.push(seq);
    ev.type.push(e.type);
    ev.occurredAt.push(e.occurredAt.toISOString());
    ev.recordedAt.push(e.recordedAt.toISOString());
    ev.requestId.push(requestId);
    ev.fromContainerId.push(fromContainerId);
    ev.fromPosition.push(fromPosition);
    ev.toContainerId.push(toContainerId);
    ev.toPosition.push(toPosition);
    ev.quantityChange.push(quantityChange === null ? null : quantityChange.toFixed(4));
    ev.details.push(details === NO_DETAILS ? '{}' : JSON.stringify(details));
    ev.prevHash.push(prevHash);
    ev.hash.push(hash);
    prevHash = hash;
  };
  for (const [i, h] of items.entries()) {
    if (i % SLICE === SLICE - 1) await yieldToIo();
    current = h;
    prevHash = null;
    const end = replayHistory(h, institutionId, record);
    seqs.push(h.events.length);
    heads.push(prevHash!);
    versions.push(1 + end.commands);
    holds.push(end.holds.length ? pgArray(end.holds) : '{}');
  }
  return {
    events: ev.hash.length,
    columns: {
      specimenId: A(ev.specimenId),
      seq: A(ev.seq),
      type: A(ev.type),
      occurredAt: A(ev.occurredAt),
      recordedAt: A(ev.recordedAt),
      requestId: Q(ev.requestId),
      fromContainerId: A(ev.fromContainerId),
      fromPosition: Q(ev.fromPosition),
      toContainerId: A(ev.toContainerId),
      toPosition: Q(ev.toPosition),
      quantityChange: A(ev.quantityChange),
      details: Q(ev.details),
      prevHash: A(ev.prevHash),
      hash: A(ev.hash),
    },
    seqs: A(seqs),
    heads: A(heads),
    versions: A(versions),
    holds: Q(holds),
    places,
  };
}

/** Histories replayed, checked and hashed, ready to write (`prepareSpecimenImport`). */
export interface SpecimenImport {
  readonly specimens: number;
  readonly custodyEvents: number;
  /**
   * Checks every place against the institution's containers, then inserts the specimens and their
   * custody events in `tx`. Throws CONTAINER_NOT_FOUND, NOT_A_SPECIMEN_CONTAINER, TYPE_NOT_ALLOWED,
   * VALIDATION_FAILED (the row's position is not where its history left the tube).
   */
  write(tx: Tx): Promise<{ specimens: number; custodyEvents: number }>;
}

/**
 * Replays each history through the lifecycle table (from pending, or available when stored at
 * birth; a child from in use, or available when stored at birth), checks that each row states
 * where its history ends and that each child's parent recorded drawing it, and hashes the chains:
 * all in memory and in slices between turns of the event loop, so a loader can prepare its next
 * batch while the last one is written. The histories must not change until written. Throws the
 * ledger's own refusals for the tube as replayed up to the refused event (INVALID_TRANSITION,
 * SPECIMEN_ON_HOLD, INSUFFICIENT_QUANTITY, HOLD_EXISTS, HOLD_NOT_FOUND), and VALIDATION_FAILED
 * naming `specimens.<barcode>.events.<seq>` for a history the ledger would not have written
 * (malformed, a child without its parent's draw, or a row stating another outcome).
 */
export async function prepareSpecimenImport(
  ctx: Ctx,
  institutionId: string,
  items: readonly SpecimenHistory[],
): Promise<SpecimenImport> {
  const chains = await replayAndHash(ctx, institutionId, items);
  checkLineage(items);
  const externalIds = externalIdsOf(items);
  const held = {
    system: Q(externalIds.map((x) => x.system)),
    value: Q(externalIds.map((x) => x.value)),
    specimenId: A(externalIds.map((x) => x.specimenId)),
  };
  const actor = actorLabel(ctx.actor);
  const identity = actorIdentity(ctx.actor);
  const s = items.map((h) => h.specimen);
  const v = {
    id: A(s.map((x) => x.id)),
    barcode: Q(s.map((x) => x.barcode)),
    type: A(s.map((x) => x.type)),
    lineage: A(s.map((x) => x.lineage)),
    parentId: A(s.map((x) => x.parentId)),
    rootId: A(s.map((x) => x.rootId)),
    participantId: A(s.map((x) => x.participantId)),
    protocolId: A(s.map((x) => x.protocolId)),
    anatomicSite: Q(s.map((x) => x.anatomicSite)),
    pathologyStatus: A(s.map((x) => x.pathologyStatus)),
    collectedAt: A(s.map((x) => iso(x.collectedAt))),
    receivedAt: A(s.map((x) => iso(x.receivedAt))),
    processedAt: A(s.map((x) => iso(x.processedAt))),
    frozenAt: A(s.map((x) => iso(x.frozenAt))),
    sprecCode: Q(s.map((x) => x.sprecCode)),
    sprecVersion: Q(s.map((x) => x.sprecVersion)),
    unit: A(s.map((x) => x.unit)),
    initialQuantity: A(s.map((x) => x.initialQuantity)),
    availableQuantity: A(s.map((x) => scale4(x.availableQuantity))),
    quality: Q(s.map((x) => JSON.stringify(x.quality))),
    freezeThawCount: A(s.map((x) => x.freezeThawCount)),
    status: A(s.map((x) => x.status)),
    containerId: A(s.map((x) => x.containerId)),
    positionRow: A(s.map((x) => x.positionRow)),
    positionCol: A(s.map((x) => x.positionCol)),
    externalIds: Q(s.map((x) => JSON.stringify(x.externalIds))),
    // A row is created with its first event and last changed with its last.
    createdAt: A(items.map((h) => h.events[0]!.recordedAt.toISOString())),
    updatedAt: A(items.map((h) => h.events[h.events.length - 1]!.recordedAt.toISOString())),
  };
  const e = chains.columns;
  const written = { specimens: items.length, custodyEvents: chains.events };
  return {
    ...written,
    async write(tx: Tx) {
      if (items.length === 0) return written;
      const places = chains.places;
      checkPlaces(items, await loadContainersWithAncestors(tx, institutionId, [...places.keys()]), places);
      const [taken] = await findExternalIdHolders(tx, institutionId, externalIds);
      if (taken) {
        const at = externalIds.find((e) => e.system === taken.system && e.value === taken.value)!;
        throw externalIdTaken(taken.system, taken.value, taken.barcode, at.field);
      }
      await tx.execute(sql`
        insert into specimen (id, institution_id, barcode, type, lineage, parent_id, root_id,
          participant_id, protocol_id, anatomic_site, pathology_status, collected_at, received_at,
          processed_at, frozen_at, sprec_code, sprec_version, unit, initial_quantity, available_quantity,
          quality, freeze_thaw_count, status, holds, qc_status, container_id, position_row, position_col,
          external_ids, custody_seq, custody_head, created_at, updated_at, version)
        select u.id, ${institutionId}, u.barcode, u.type, u.lineage, u.parent_id, u.root_id,
               u.participant_id, u.protocol_id, u.anatomic_site, u.pathology_status, u.collected_at,
               u.received_at, u.processed_at, u.frozen_at, u.sprec_code, u.sprec_version, u.unit,
               u.initial_quantity, u.available_quantity, u.quality::jsonb, u.freeze_thaw_count, u.status,
               u.holds::text[], 'unchecked', u.container_id, u.position_row, u.position_col,
               u.external_ids::jsonb, u.custody_seq, u.custody_head, u.created_at, u.updated_at, u.version
          from unnest(${v.id}::uuid[], ${v.barcode}::text[], ${v.type}::specimen_type[],
                      ${v.lineage}::specimen_lineage[], ${v.parentId}::uuid[], ${v.rootId}::uuid[],
                      ${v.participantId}::uuid[], ${v.protocolId}::uuid[], ${v.anatomicSite}::text[],
                      ${v.pathologyStatus}::pathology_status[], ${v.collectedAt}::timestamptz[],
                      ${v.receivedAt}::timestamptz[], ${v.processedAt}::timestamptz[],
                      ${v.frozenAt}::timestamptz[], ${v.sprecCode}::text[], ${v.sprecVersion}::text[],
                      ${v.unit}::quantity_unit[], ${v.initialQuantity}::numeric[],
                      ${v.availableQuantity}::numeric[], ${v.quality}::text[],
                      ${v.freezeThawCount}::int[], ${v.status}::specimen_status[], ${chains.holds}::text[],
                      ${v.containerId}::uuid[], ${v.positionRow}::int[], ${v.positionCol}::int[],
                      ${v.externalIds}::text[], ${chains.seqs}::int[], ${chains.heads}::text[],
                      ${v.createdAt}::timestamptz[], ${v.updatedAt}::timestamptz[], ${chains.versions}::int[])
            as u(id, barcode, type, lineage, parent_id, root_id, participant_id, protocol_id,
                 anatomic_site, pathology_status, collected_at, received_at, processed_at, frozen_at,
                 sprec_code, sprec_version, unit, initial_quantity, available_quantity, quality,
                 freeze_thaw_count, status, holds, container_id, position_row, position_col, external_ids,
                 custody_seq, custody_head, created_at, updated_at, version)`);
      await tx.execute(sql`
        insert into custody_event (specimen_id, institution_id, seq, type, occurred_at, recorded_at, actor,
          actor_name, actor_role, actor_institution_code, hash_version,
          request_id, from_container_id, from_position, to_container_id, to_position, quantity_change,
          details, prev_hash, hash)
        select u.specimen_id, ${institutionId}, u.seq, u.type, u.occurred_at, u.recorded_at, ${actor},
               ${identity.actorName}, ${identity.actorRole}, ${identity.actorInstitutionCode},
               ${identity.hashVersion}, u.request_id, u.from_container_id, u.from_position, u.to_container_id, u.to_position,
               u.quantity_change, u.details::jsonb, u.prev_hash, u.hash
          from unnest(${e.specimenId}::uuid[], ${e.seq}::int[], ${e.type}::custody_event_type[],
                      ${e.occurredAt}::timestamptz[], ${e.recordedAt}::timestamptz[],
                      ${e.requestId}::text[], ${e.fromContainerId}::uuid[], ${e.fromPosition}::text[],
                      ${e.toContainerId}::uuid[], ${e.toPosition}::text[], ${e.quantityChange}::numeric[],
                      ${e.details}::text[], ${e.prevHash}::text[], ${e.hash}::text[])
            as u(specimen_id, seq, type, occurred_at, recorded_at, request_id, from_container_id,
                 from_position, to_container_id, to_position, quantity_change, details, prev_hash, hash)`);
      // The external ids the rows list become theirs, as `ledger.register` holds them.
      if (externalIds.length > 0)
        await tx.execute(sql`
          insert into specimen_external_id (institution_id, system, value, specimen_id)
          select ${institutionId}, u.system, u.value, u.specimen_id
            from unnest(${held.system}::text[], ${held.value}::text[], ${held.specimenId}::uuid[])
              as u(system, value, specimen_id)`);
      return written;
    },
  };
}

/**
 * Imports new specimens of one institution with their custody histories, in the caller's
 * transaction: `prepareSpecimenImport`, then its `write`. Nothing is written when one history is
 * refused. Throws as both.
 */
export async function importSpecimenHistories(
  tx: Tx,
  ctx: Ctx,
  institutionId: string,
  items: readonly SpecimenHistory[],
): Promise<{ specimens: number; custodyEvents: number }> {
  return (await prepareSpecimenImport(ctx, institutionId, items)).write(tx);
}

/** Whether the institution holds any specimen (an importer fills an institution once). */
export async function institutionHasSpecimens(db: DbOrTx, institutionId: string): Promise<boolean> {
  const r = await db.execute(sql`select 1 from specimen where institution_id = ${institutionId} limit 1`);
  return r.rows.length > 0;
}

/** How many specimens the institution holds (every status). */
export async function countSpecimens(db: DbOrTx, institutionId: string): Promise<number> {
  const r = await db.execute<{ n: number }>(
    sql`select count(*)::int as n from specimen where institution_id = ${institutionId}`,
  );
  return r.rows[0]!.n;
}
