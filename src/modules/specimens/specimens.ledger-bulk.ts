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
import { eventHash } from '../custody/index.js';
import { loadContainersWithAncestors } from '../storage/index.js';
import {
  checkLineage,
  checkPlaces,
  replayHistory,
  scale4,
  type ReplayVisitor,
  type SpecimenHistory,
} from './specimens.ledger-bulk-rules.js';

export type { ImportedEvent, ImportedSpecimen, SpecimenHistory } from './specimens.ledger-bulk-rules.js';

// Array parameters go as ready-made array literals, cheaper than letting pg escape every element:
// A() for values that need no quoting (uuids, numbers, enum labels, ISO times, hex), Q() for text.
const quote = (v: string) => `"${v.replace(/["\\]/g, '\\$&')}"`;
const pgArray = (values: readonly string[]) => `{${values.map(quote).join(',')}}`;
const A = (values: readonly (string | number | null)[]) =>
  `{${values.map((v) => (v === null ? 'NULL' : v)).join(',')}}`;
const Q = (values: readonly (string | null)[]) =>
  `{${values.map((v) => (v === null ? 'NULL' : quote(v))).join(',')}}`;
const iso = (d: Date | null) => (d ? d.toISOString() : null);
const NO_DETAILS: Record<string, unknown> = Object.freeze({});

/**
 * Imports new specimens of one institution with their custody histories, in the caller's
 * transaction. Each history is replayed through the lifecycle table (from pending, or available
 * when stored at birth; a child from in use, or available when stored at birth) and its chain is
 * hashed here. Nothing is written when one history is refused. Throws INVALID_TRANSITION,
 * SPECIMEN_ON_HOLD, INSUFFICIENT_QUANTITY, HOLD_EXISTS, HOLD_NOT_FOUND (the ledger's refusals,
 * naming the barcode and the event), INVALID_HISTORY (malformed, or the row states another
 * outcome), CONTAINER_NOT_FOUND, NOT_A_SPECIMEN_CONTAINER, TYPE_NOT_ALLOWED.
 */
export async function importSpecimenHistories(
  tx: Tx,
  ctx: Ctx,
  institutionId: string,
  items: readonly SpecimenHistory[],
): Promise<{ specimens: number; custodyEvents: number }> {
  if (items.length === 0) return { specimens: 0, custodyEvents: 0 };
  const actor = actorLabel(ctx.actor);
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
  // Per specimen, in item order: chain length, head hash, version and holds (array literal).
  const seqs: number[] = [];
  const headHashes: string[] = [];
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
  for (const h of items) {
    current = h;
    prevHash = null;
    const end = replayHistory(h, record);
    seqs.push(h.events.length);
    headHashes.push(prevHash!);
    versions.push(1 + end.commands);
    holds.push(end.holds.length ? pgArray(end.holds) : '{}');
  }
  checkLineage(items);
  checkPlaces(items, await loadContainersWithAncestors(tx, institutionId, [...places.keys()]), places);

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
    holds: Q(holds),
    containerId: A(s.map((x) => x.containerId)),
    positionRow: A(s.map((x) => x.positionRow)),
    positionCol: A(s.map((x) => x.positionCol)),
    externalIds: Q(s.map((x) => JSON.stringify(x.externalIds))),
    custodySeq: A(seqs),
    custodyHead: A(headHashes),
    // A row is created with its first event and last changed with its last.
    createdAt: A(items.map((h) => h.events[0]!.recordedAt.toISOString())),
    updatedAt: A(items.map((h) => h.events[h.events.length - 1]!.recordedAt.toISOString())),
    version: A(versions),
  };
  await tx.execute(sql`
    insert into specimen (id, institution_id, barcode, type, lineage, parent_id, root_id, participant_id,
      protocol_id, anatomic_site, pathology_status, collected_at, received_at, processed_at, frozen_at,
      sprec_code, sprec_version, unit, initial_quantity, available_quantity, quality, freeze_thaw_count,
      status, holds, qc_status, container_id, position_row, position_col, external_ids, custody_seq,
      custody_head, created_at, updated_at, version)
    select u.id, ${institutionId}, u.barcode, u.type, u.lineage, u.parent_id, u.root_id, u.participant_id,
           u.protocol_id, u.anatomic_site, u.pathology_status, u.collected_at, u.received_at,
           u.processed_at, u.frozen_at, u.sprec_code, u.sprec_version, u.unit, u.initial_quantity,
           u.available_quantity, u.quality::jsonb, u.freeze_thaw_count, u.status, u.holds::text[],
           'unchecked', u.container_id, u.position_row, u.position_col, u.external_ids::jsonb,
           u.custody_seq, u.custody_head, u.created_at, u.updated_at, u.version
      from unnest(${v.id}::uuid[], ${v.barcode}::text[], ${v.type}::specimen_type[],
                  ${v.lineage}::specimen_lineage[], ${v.parentId}::uuid[], ${v.rootId}::uuid[],
                  ${v.participantId}::uuid[], ${v.protocolId}::uuid[], ${v.anatomicSite}::text[],
                  ${v.pathologyStatus}::pathology_status[], ${v.collectedAt}::timestamptz[],
                  ${v.receivedAt}::timestamptz[], ${v.processedAt}::timestamptz[],
                  ${v.frozenAt}::timestamptz[], ${v.sprecCode}::text[], ${v.sprecVersion}::text[],
                  ${v.unit}::quantity_unit[], ${v.initialQuantity}::numeric[],
                  ${v.availableQuantity}::numeric[], ${v.quality}::text[], ${v.freezeThawCount}::int[],
                  ${v.status}::specimen_status[], ${v.holds}::text[], ${v.containerId}::uuid[],
                  ${v.positionRow}::int[], ${v.positionCol}::int[], ${v.externalIds}::text[],
                  ${v.custodySeq}::int[], ${v.custodyHead}::text[], ${v.createdAt}::timestamptz[],
                  ${v.updatedAt}::timestamptz[], ${v.version}::int[])
        as u(id, barcode, type, lineage, parent_id, root_id, participant_id, protocol_id, anatomic_site,
             pathology_status, collected_at, received_at, processed_at, frozen_at, sprec_code,
             sprec_version, unit, initial_quantity, available_quantity, quality, freeze_thaw_count, status,
             holds, container_id, position_row, position_col, external_ids, custody_seq, custody_head,
             created_at, updated_at, version)`);
  await tx.execute(sql`
    insert into custody_event (specimen_id, institution_id, seq, type, occurred_at, recorded_at, actor,
      request_id, from_container_id, from_position, to_container_id, to_position, quantity_change, details,
      prev_hash, hash)
    select u.specimen_id, ${institutionId}, u.seq, u.type, u.occurred_at, u.recorded_at, ${actor},
           u.request_id, u.from_container_id, u.from_position, u.to_container_id, u.to_position,
           u.quantity_change, u.details::jsonb, u.prev_hash, u.hash
      from unnest(${A(ev.specimenId)}::uuid[], ${A(ev.seq)}::int[], ${A(ev.type)}::custody_event_type[],
                  ${A(ev.occurredAt)}::timestamptz[], ${A(ev.recordedAt)}::timestamptz[],
                  ${Q(ev.requestId)}::text[], ${A(ev.fromContainerId)}::uuid[], ${Q(ev.fromPosition)}::text[],
                  ${A(ev.toContainerId)}::uuid[], ${Q(ev.toPosition)}::text[],
                  ${A(ev.quantityChange)}::numeric[], ${Q(ev.details)}::text[], ${A(ev.prevHash)}::text[],
                  ${A(ev.hash)}::text[])
        as u(specimen_id, seq, type, occurred_at, recorded_at, request_id, from_container_id, from_position,
             to_container_id, to_position, quantity_change, details, prev_hash, hash)`);
  return { specimens: items.length, custodyEvents: ev.hash.length };
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
