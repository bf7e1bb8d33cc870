import { and, asc, eq, getTableColumns, gt, inArray, sql } from 'drizzle-orm';
import type { Ctx } from '../../context.js';
import { actorLabel, type Actor } from '../../auth/roles.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { CURRENT_HASH_VERSION, eventHash, type ChainedEventFields } from './custody.chain.js';
import { custodyEvents, type CustodyEventRow, type CustodyEventType } from './custody.table.js';

export interface CustodyEventInput {
  specimenId: string;
  institutionId: string;
  type: CustodyEventType;
  occurredAt?: Date | null;
  fromContainerId?: string | null;
  fromPosition?: string | null;
  toContainerId?: string | null;
  toPosition?: string | null;
  quantityChange?: number | null;
  details?: Record<string, unknown>;
}

/** The chain head a specimen row carries (locked by the caller with FOR UPDATE). */
export interface ChainHead {
  specimenId: string;
  custodySeq: number;
  custodyHead: string | null;
}

/**
 * Appends custody events in the caller's transaction. Callers hold the specimen rows locked, so
 * each chain grows one writer at a time; returns the new heads to store on the specimens.
 */
export async function appendCustodyEvents(
  tx: Tx,
  ctx: Ctx,
  heads: Map<string, ChainHead>,
  events: CustodyEventInput[],
  /** when the ledger records them (the writer's clock); an event without `occurredAt` happened then */
  recordedAt: Date = new Date(),
): Promise<Map<string, ChainHead>> {
  if (events.length === 0) return heads;
  const actor = actorLabel(ctx.actor);
  const identity = actorIdentity(ctx.actor);
  const rows: (ChainedEventFields & { prevHash: string | null; hash: string })[] = [];
  for (const e of events) {
    const head = heads.get(e.specimenId) ?? { specimenId: e.specimenId, custodySeq: 0, custodyHead: null };
    const fields: ChainedEventFields = {
      specimenId: e.specimenId,
      institutionId: e.institutionId,
      seq: head.custodySeq + 1,
      type: e.type,
      occurredAt: e.occurredAt ?? recordedAt,
      recordedAt,
      actor,
      ...identity,
      requestId: ctx.requestId,
      fromContainerId: e.fromContainerId ?? null,
      fromPosition: e.fromPosition ?? null,
      toContainerId: e.toContainerId ?? null,
      toPosition: e.toPosition ?? null,
      quantityChange: e.quantityChange ?? null,
      details: e.details ?? {},
    };
    const hash = eventHash(head.custodyHead, fields);
    rows.push({ ...fields, prevHash: head.custodyHead, hash });
    heads.set(e.specimenId, { specimenId: e.specimenId, custodySeq: fields.seq, custodyHead: hash });
  }
  // One JSON parameter for the whole batch: a rack scan appends 96 events in one statement.
  const payload = JSON.stringify(
    rows.map((r) => ({
      specimen_id: r.specimenId,
      institution_id: r.institutionId,
      seq: r.seq,
      type: r.type,
      occurred_at: r.occurredAt.toISOString(),
      recorded_at: r.recordedAt.toISOString(),
      actor: r.actor,
      actor_name: r.actorName,
      actor_role: r.actorRole,
      actor_institution_code: r.actorInstitutionCode,
      hash_version: r.hashVersion,
      request_id: r.requestId,
      from_container_id: r.fromContainerId,
      from_position: r.fromPosition,
      to_container_id: r.toContainerId,
      to_position: r.toPosition,
      quantity_change: r.quantityChange === null ? null : Number(r.quantityChange).toFixed(4),
      details: r.details,
      prev_hash: r.prevHash,
      hash: r.hash,
    })),
  );
  await tx.execute(sql`
    insert into ${custodyEvents} (specimen_id, institution_id, seq, type, occurred_at, recorded_at, actor,
      actor_name, actor_role, actor_institution_code, hash_version, request_id,
      from_container_id, from_position, to_container_id, to_position, quantity_change, details, prev_hash, hash)
    select specimen_id, institution_id, seq, type, occurred_at, recorded_at, actor,
      actor_name, actor_role, actor_institution_code, hash_version, request_id,
      from_container_id, from_position, to_container_id, to_position, quantity_change, details, prev_hash, hash
      from jsonb_populate_recordset(null::custody_event, ${payload}::jsonb)`);
  return heads;
}

/**
 * The actor's readable identity as it is now, to be kept in the event (a key renamed later does
 * not rename who acted): an API key's name, role and institution code; the system's job or command.
 */
export function actorIdentity(
  actor: Actor,
): Pick<ChainedEventFields, 'hashVersion' | 'actorName' | 'actorRole' | 'actorInstitutionCode'> {
  return actor.kind === 'api_key'
    ? {
        hashVersion: CURRENT_HASH_VERSION,
        actorName: actor.name,
        actorRole: actor.role,
        actorInstitutionCode: actor.institutionCode,
      }
    : {
        hashVersion: CURRENT_HASH_VERSION,
        actorName: actor.name,
        actorRole: null,
        actorInstitutionCode: null,
      };
}

export async function listCustodyEvents(
  db: DbOrTx,
  specimenId: string,
  opts: { afterSeq?: number; limit?: number } = {},
): Promise<CustodyEventRow[]> {
  const q = db
    .select()
    .from(custodyEvents)
    .where(
      and(
        eq(custodyEvents.specimenId, specimenId),
        opts.afterSeq ? gt(custodyEvents.seq, opts.afterSeq) : undefined,
      ),
    )
    .orderBy(asc(custodyEvents.seq));
  return opts.limit ? q.limit(opts.limit) : q;
}

/** The full custody chains of the given specimens, by specimen id, in sequence order (one query). */
export async function custodyChainsOf(
  db: DbOrTx,
  specimenIds: readonly string[],
): Promise<Map<string, CustodyEventRow[]>> {
  const chains = new Map<string, CustodyEventRow[]>();
  if (specimenIds.length === 0) return chains;
  const events = await db
    .select()
    .from(custodyEvents)
    .where(inArray(custodyEvents.specimenId, [...specimenIds]))
    .orderBy(asc(custodyEvents.specimenId), asc(custodyEvents.seq));
  for (const e of events) {
    const list = chains.get(e.specimenId) ?? [];
    list.push(e);
    chains.set(e.specimenId, list);
  }
  return chains;
}

/**
 * The events of each chain after a given sequence number (0: the whole chain), by specimen id, in
 * sequence order, in one query: each chain is read from its position on the (specimen_id, seq)
 * index, so the continuation of a long chain costs its new events only.
 */
export async function custodyEventsAfter(
  db: DbOrTx,
  after: readonly { specimenId: string; seq: number }[],
): Promise<Map<string, CustodyEventRow[]>> {
  const chains = new Map<string, CustodyEventRow[]>();
  if (after.length === 0) return chains;
  const events = await db
    .select(getTableColumns(custodyEvents))
    .from(custodyEvents)
    .innerJoin(
      sql`unnest(${sql.param(after.map((a) => a.specimenId))}::uuid[], ${sql.param(after.map((a) => a.seq))}::int[]) as h(id, after_seq)`,
      sql`${custodyEvents.specimenId} = h.id and ${custodyEvents.seq} > h.after_seq`,
    )
    .orderBy(asc(custodyEvents.specimenId), asc(custodyEvents.seq));
  for (const e of events) {
    const list = chains.get(e.specimenId);
    if (list) list.push(e);
    else chains.set(e.specimenId, [e]);
  }
  return chains;
}
