// Registering many new primary specimens at once (a file import): the rows, custody events, external
// ids, audit rows and change notices `ledger.register` writes for each tube, as set-based
// statements: one INSERT per table from `unnest` arrays, the audit rows written by the specimens'
// statement from the same values. The chains are hashed here with the custody module's `eventHash`, so
// `verifyChain` recomputes them like any other. Part of the specimen ledger (ARCHITECTURE.md).
import { sql } from 'drizzle-orm';
import type { Ctx } from '../../context.js';
import { actorLabel } from '../../auth/roles.js';
import type { Tx } from '../../db/client.js';
import { A, Q, pgArray } from '../../db/array-literals.js';
import { auditRowsInsertSql } from '../audit/index.js';
import { actorIdentity, eventHash } from '../custody/index.js';
import type { NewSpecimen } from './specimens.commands.js';
import type { SpecimenRow } from './specimens.table.js';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/**
 * Each specimen column as the audit row's `after` shows it, from the inserted values (`u`, times as
 * the ISO strings the process sent) and the constants every new primary has (`now` is the
 * transaction's time formatted once): the row as the ORM returns it to the single-tube path
 * (property names, times as `toISOString`, quantities as numbers). Formatting each row's times in
 * SQL cost more than inserting the row.
 */
// Every column of the table, or this does not compile: a new column is written here too.
const AFTER: Record<keyof SpecimenRow, string> = {
  id: 'u.id',
  institutionId: 'u.institution_id',
  barcode: 'u.barcode',
  type: 'u.type',
  lineage: `'primary'`,
  parentId: 'null',
  rootId: 'u.id',
  participantId: 'u.participant_id',
  protocolId: 'u.protocol_id',
  anatomicSite: 'u.anatomic_site',
  pathologyStatus: 'u.pathology_status',
  collectedAt: 'u.collected_at',
  receivedAt: 'u.received_at',
  processedAt: 'u.processed_at',
  frozenAt: 'u.frozen_at',
  sprecCode: 'u.sprec_code',
  sprecVersion: 'u.sprec_version',
  unit: 'u.unit',
  initialQuantity: 'u.quantity::float8',
  availableQuantity: 'u.quantity::float8',
  quality: 'u.quality',
  freezeThawCount: '0',
  status: 'u.status',
  holds: 'u.holds',
  qcStatus: `'unchecked'`,
  containerId: 'u.container_id',
  positionRow: 'u.position_row',
  positionCol: 'u.position_col',
  externalIds: 'u.external_ids',
  custodySeq: 'u.custody_seq',
  custodyHead: 'u.custody_head',
  createdAt: 't.now',
  updatedAt: 't.now',
  version: '1',
};
const AUDIT_AFTER = `jsonb_build_object(${Object.entries(AFTER)
  .map(([key, value]) => `'${key}', ${value}`)
  .join(', ')})`;

/**
 * Inserts new primary specimens (origin `registered`, checked by the caller) with their first
 * custody events (`collected` or `registered`, then `stored` when placed), their external ids, one
 * audit row each (`action`) and the change-feed entries the capture triggers write; returns their
 * ids in item order. The caller tells the change listeners.
 */
export async function insertRegisteredSpecimens(
  tx: Tx,
  ctx: Ctx,
  items: readonly NewSpecimen[],
  opts: { action: string; recordedAt: Date; institutionId: string },
): Promise<string[]> {
  if (items.length === 0) return [];
  const { institutionId, recordedAt } = opts;
  const actor = actorLabel(ctx.actor);
  const identity = actorIdentity(ctx.actor);
  const recorded = recordedAt.toISOString();
  const ev = {
    specimenId: [] as string[],
    seq: [] as number[],
    type: [] as string[],
    occurredAt: [] as string[],
    toContainerId: [] as (string | null)[],
    toPosition: [] as (string | null)[],
    quantityChange: [] as (string | null)[],
    details: [] as string[],
    prevHash: [] as (string | null)[],
    hash: [] as string[],
  };
  const seqs: number[] = [];
  const heads: string[] = [];
  const push = (
    id: string,
    seq: number,
    prevHash: string | null,
    e: {
      type: string;
      occurredAt: Date;
      toContainerId: string | null;
      toPosition: string | null;
      quantityChange: number | null;
      details: Record<string, unknown>;
    },
  ) => {
    const quantityChange = e.quantityChange === null ? null : e.quantityChange.toFixed(4);
    const hash = eventHash(prevHash, {
      specimenId: id,
      institutionId,
      seq,
      type: e.type,
      occurredAt: e.occurredAt,
      recordedAt,
      actor,
      ...identity,
      requestId: ctx.requestId,
      fromContainerId: null,
      fromPosition: null,
      toContainerId: e.toContainerId,
      toPosition: e.toPosition,
      quantityChange,
      details: e.details,
    });
    ev.specimenId.push(id);
    ev.seq.push(seq);
    ev.type.push(e.type);
    ev.occurredAt.push(e.occurredAt.toISOString());
    ev.toContainerId.push(e.toContainerId);
    ev.toPosition.push(e.toPosition);
    ev.quantityChange.push(quantityChange);
    ev.details.push(JSON.stringify(e.details));
    ev.prevHash.push(prevHash);
    ev.hash.push(hash);
    return hash;
  };
  for (const i of items) {
    const r = i.row;
    if (i.origin.kind !== 'registered' || r.institutionId !== institutionId)
      throw new Error('bulk registration takes primary specimens of one institution');
    // The events `ledger.register` appends for a registered tube, hashed the same way.
    let head = push(r.id, 1, null, {
      type: r.collectedAt ? 'collected' : 'registered',
      occurredAt: r.collectedAt ?? recordedAt,
      toContainerId: null,
      toPosition: null,
      quantityChange: r.initialQuantity,
      details: { barcode: r.barcode, type: r.type },
    });
    if (i.placement)
      head = push(r.id, 2, head, {
        type: 'stored',
        occurredAt: recordedAt,
        toContainerId: i.placement.container.id,
        toPosition: i.placement.label,
        quantityChange: null,
        details: {},
      });
    seqs.push(i.placement ? 2 : 1);
    heads.push(head);
  }
  const s = items.map((i) => i.row);
  const p = items.map((i) => i.placement);
  const v = {
    id: A(s.map((x) => x.id)),
    barcode: Q(s.map((x) => x.barcode)),
    type: A(s.map((x) => x.type)),
    participantId: A(s.map((x) => x.participantId ?? null)),
    protocolId: A(s.map((x) => x.protocolId ?? null)),
    anatomicSite: Q(s.map((x) => x.anatomicSite ?? null)),
    pathologyStatus: A(s.map((x) => x.pathologyStatus ?? 'unknown')),
    collectedAt: A(s.map((x) => iso(x.collectedAt))),
    receivedAt: A(s.map((x) => iso(x.receivedAt))),
    processedAt: A(s.map((x) => iso(x.processedAt))),
    frozenAt: A(s.map((x) => iso(x.frozenAt))),
    sprecCode: Q(s.map((x) => x.sprecCode ?? null)),
    sprecVersion: Q(s.map((x) => x.sprecVersion ?? null)),
    unit: A(s.map((x) => x.unit)),
    quantity: A(s.map((x) => x.initialQuantity.toFixed(4))),
    quality: Q(s.map((x) => JSON.stringify(x.quality ?? {}))),
    // A placed tube is in stock; otherwise a primary waits for receipt (`statusAtBirth`).
    status: A(p.map((x) => (x ? 'available' : 'pending'))),
    holds: Q(s.map((x) => pgArray(x.holds ?? []))),
    containerId: A(p.map((x) => x?.container.id ?? null)),
    positionRow: A(p.map((x) => x?.row ?? null)),
    positionCol: A(p.map((x) => x?.col ?? null)),
    externalIds: Q(s.map((x) => JSON.stringify(x.externalIds ?? []))),
  };
  // The specimens, and from the same values their audit rows (as `recordAudit` writes them).
  await tx.execute(sql`
    with u as materialized (
      select x.id, ${institutionId}::uuid as institution_id, x.barcode, x.type, x.participant_id,
             x.protocol_id, x.anatomic_site, x.pathology_status, x.collected_at, x.received_at,
             x.processed_at, x.frozen_at, x.sprec_code, x.sprec_version, x.unit, x.quantity,
             x.quality::jsonb as quality, x.status, x.holds::text[] as holds, x.container_id,
             x.position_row, x.position_col, x.external_ids::jsonb as external_ids, x.custody_seq,
             x.custody_head
        from unnest(${v.id}::uuid[], ${v.barcode}::text[], ${v.type}::specimen_type[],
                    ${v.participantId}::uuid[], ${v.protocolId}::uuid[], ${v.anatomicSite}::text[],
                    ${v.pathologyStatus}::pathology_status[], ${v.collectedAt}::text[],
                    ${v.receivedAt}::text[], ${v.processedAt}::text[], ${v.frozenAt}::text[],
                    ${v.sprecCode}::text[], ${v.sprecVersion}::text[], ${v.unit}::quantity_unit[],
                    ${v.quantity}::numeric[], ${v.quality}::text[], ${v.status}::specimen_status[],
                    ${v.holds}::text[], ${v.containerId}::uuid[], ${v.positionRow}::int[],
                    ${v.positionCol}::int[], ${v.externalIds}::text[], ${A(seqs)}::int[],
                    ${A(heads)}::text[])
          as x(id, barcode, type, participant_id, protocol_id, anatomic_site, pathology_status,
               collected_at, received_at, processed_at, frozen_at, sprec_code, sprec_version, unit,
               quantity, quality, status, holds, container_id, position_row, position_col,
               external_ids, custody_seq, custody_head)),
    s as (
      insert into specimen (id, institution_id, barcode, type, lineage, parent_id, root_id,
        participant_id, protocol_id, anatomic_site, pathology_status, collected_at, received_at,
        processed_at, frozen_at, sprec_code, sprec_version, unit, initial_quantity, available_quantity,
        quality, freeze_thaw_count, status, holds, qc_status, container_id, position_row, position_col,
        external_ids, custody_seq, custody_head, created_at, updated_at, version)
      select u.id, u.institution_id, u.barcode, u.type, 'primary', null, u.id, u.participant_id,
             u.protocol_id, u.anatomic_site, u.pathology_status, u.collected_at::timestamptz,
             u.received_at::timestamptz, u.processed_at::timestamptz, u.frozen_at::timestamptz,
             u.sprec_code, u.sprec_version, u.unit, u.quantity, u.quantity, u.quality, 0, u.status,
             u.holds, 'unchecked', u.container_id, u.position_row, u.position_col, u.external_ids,
             u.custody_seq, u.custody_head, now(), now(), 1
        from u)
    ${auditRowsInsertSql(
      ctx,
      sql`select u.institution_id, ${opts.action}::text as action, 'specimen' as entity_type,
                 u.id::text as entity_id, null::jsonb as before, ${sql.raw(AUDIT_AFTER)} as after
            from u, (select to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as now) t`,
    )}`);
  await tx.execute(sql`
    insert into custody_event (specimen_id, institution_id, seq, type, occurred_at, recorded_at, actor,
      actor_name, actor_role, actor_institution_code, hash_version, request_id, to_container_id,
      to_position, quantity_change, details, prev_hash, hash)
    select u.specimen_id, ${institutionId}, u.seq, u.type, u.occurred_at, ${recorded}, ${actor},
           ${identity.actorName}, ${identity.actorRole}, ${identity.actorInstitutionCode},
           ${identity.hashVersion}, ${ctx.requestId}, u.to_container_id, u.to_position,
           u.quantity_change, u.details::jsonb, u.prev_hash, u.hash
      from unnest(${A(ev.specimenId)}::uuid[], ${A(ev.seq)}::int[], ${A(ev.type)}::custody_event_type[],
                  ${A(ev.occurredAt)}::timestamptz[], ${A(ev.toContainerId)}::uuid[],
                  ${Q(ev.toPosition)}::text[], ${A(ev.quantityChange)}::numeric[], ${Q(ev.details)}::text[],
                  ${A(ev.prevHash)}::text[], ${A(ev.hash)}::text[])
        as u(specimen_id, seq, type, occurred_at, to_container_id, to_position, quantity_change, details,
             prev_hash, hash)`);
  // The external ids the rows list become theirs (unique per institution), as `register` holds them.
  const held = new Map<string, { system: string; value: string; id: string }>();
  for (const r of s)
    for (const e of r.externalIds ?? [])
      held.set(JSON.stringify([r.id, e.system, e.value]), { system: e.system, value: e.value, id: r.id });
  if (held.size > 0) {
    const pairs = [...held.values()];
    await tx.execute(sql`
      insert into specimen_external_id (institution_id, system, value, specimen_id)
      select ${institutionId}, u.system, u.value, u.specimen_id
        from unnest(${Q(pairs.map((x) => x.system))}::text[], ${Q(pairs.map((x) => x.value))}::text[],
                    ${A(pairs.map((x) => x.id))}::uuid[]) as u(system, value, specimen_id)`);
  }
  return s.map((x) => x.id);
}
