// SQL over sharing_request, sharing_request_item and sharing_request_event. Reads made for a
// person are scoped to the institutions of the request: the requester always, the provider once
// the request was submitted (a draft is the requester's own, also once cancelled unsubmitted).
import { and, asc, desc, eq, gt, inArray, isNotNull, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import type { RequestState } from './sharing.lifecycle.js';
import {
  sharingRequestEvents,
  sharingRequestItems,
  sharingRequests,
  type SharingEventRow,
  type SharingItemRow,
  type SharingRequestRow,
} from './sharing.table.js';

export type RequestSide = 'requester' | 'provider';

function visibleTo(institutionId: string, side?: RequestSide) {
  const asRequester = eq(sharingRequests.requesterInstitutionId, institutionId);
  const asProvider = and(
    eq(sharingRequests.providerInstitutionId, institutionId),
    isNotNull(sharingRequests.submittedAt),
  );
  if (side === 'requester') return asRequester;
  if (side === 'provider') return asProvider;
  return or(asRequester, asProvider);
}

/**
 * A request the institution may see (`institutionId` null: the system, any request); with
 * `lock`, FOR UPDATE, so writers of one request queue.
 */
export async function findRequest(
  db: DbOrTx,
  institutionId: string | null,
  id: string,
  opts: { lock?: boolean } = {},
): Promise<SharingRequestRow | undefined> {
  const q = db
    .select()
    .from(sharingRequests)
    .where(and(eq(sharingRequests.id, id), institutionId ? visibleTo(institutionId) : undefined));
  // NO KEY UPDATE: a timeline event or item written under another lock order (a consent cascade,
  // a tube destroyed) checks its foreign key with KEY SHARE, which this must not block.
  const [row] = opts.lock ? await q.for('no key update') : await q;
  return row;
}

export async function listRequestRows(
  db: DbOrTx,
  f: { institutionId: string; side?: RequestSide; state?: RequestState; afterId?: string; limit: number },
): Promise<SharingRequestRow[]> {
  return db
    .select()
    .from(sharingRequests)
    .where(
      and(
        visibleTo(f.institutionId, f.side),
        f.state ? eq(sharingRequests.state, f.state) : undefined,
        f.afterId ? gt(sharingRequests.id, f.afterId) : undefined,
      ),
    )
    .orderBy(asc(sharingRequests.id))
    .limit(f.limit);
}

export async function insertRequest(
  tx: DbOrTx,
  values: typeof sharingRequests.$inferInsert,
): Promise<SharingRequestRow> {
  const [row] = await tx.insert(sharingRequests).values(values).returning();
  return row!;
}

/** Applies a patch at the version the row was locked at (the caller holds the lock). */
export async function updateRequestRow(
  tx: DbOrTx,
  before: SharingRequestRow,
  patch: Partial<typeof sharingRequests.$inferInsert>,
): Promise<SharingRequestRow> {
  const [row] = await tx
    .update(sharingRequests)
    .set({ ...patch, version: sql`${sharingRequests.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(sharingRequests.id, before.id), eq(sharingRequests.version, before.version)))
    .returning();
  if (!row) throw new Error(`sharing request ${before.id} changed while locked`);
  return row;
}

/** Reserved requests whose reservation deadline passed, oldest deadline first. */
export async function reservationsDue(db: DbOrTx, now: Date, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: sharingRequests.id })
    .from(sharingRequests)
    .where(and(eq(sharingRequests.state, 'reserved'), lt(sharingRequests.reservationDeadline, now)))
    .orderBy(asc(sharingRequests.reservationDeadline))
    .limit(limit);
  return rows.map((r) => r.id);
}

/**
 * Requests waiting for review past their agreement's review deadline that still owe a reminder
 * (past one deadline) or an escalation (past two), oldest submission first.
 */
export async function reviewsDue(db: DbOrTx, now: Date, limit: number): Promise<string[]> {
  const res = await db.execute<{ id: string }>(sql`
    select r.id
      from sharing_request r join sharing_agreement a on a.id = r.agreement_id
     where r.state in ('submitted', 'under_review') and r.review_escalated_at is null
       and r.submitted_at
           + make_interval(days => a.review_deadline_days * (case when r.review_reminded_at is null then 1 else 2 end))
           <= ${now.toISOString()}::timestamptz
     order by r.submitted_at
     limit ${limit}`);
  return res.rows.map((r) => r.id);
}

export async function listItems(
  db: DbOrTx,
  requestId: string,
  opts: { afterId?: string; limit?: number; states?: readonly SharingItemRow['state'][] } = {},
): Promise<SharingItemRow[]> {
  const q = db
    .select()
    .from(sharingRequestItems)
    .where(
      and(
        eq(sharingRequestItems.requestId, requestId),
        opts.afterId ? gt(sharingRequestItems.id, opts.afterId) : undefined,
        opts.states ? inArray(sharingRequestItems.state, [...opts.states]) : undefined,
      ),
    )
    .orderBy(asc(sharingRequestItems.id));
  return opts.limit ? q.limit(opts.limit) : q;
}

export async function insertItems(
  tx: DbOrTx,
  values: (typeof sharingRequestItems.$inferInsert)[],
): Promise<SharingItemRow[]> {
  if (values.length === 0) return [];
  return tx.insert(sharingRequestItems).values(values).returning();
}

export async function deleteItems(tx: DbOrTx, requestId: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx
    .delete(sharingRequestItems)
    .where(and(eq(sharingRequestItems.requestId, requestId), inArray(sharingRequestItems.id, [...ids])));
}

/** Moves the request's items in `from` states to `to`. */
export async function setItemStates(
  tx: DbOrTx,
  requestId: string,
  from: readonly SharingItemRow['state'][],
  to: SharingItemRow['state'],
): Promise<SharingItemRow[]> {
  return tx
    .update(sharingRequestItems)
    .set({ state: to, updatedAt: sql`now()` })
    .where(and(eq(sharingRequestItems.requestId, requestId), inArray(sharingRequestItems.state, [...from])))
    .returning();
}

export async function insertEvent(
  tx: DbOrTx,
  values: typeof sharingRequestEvents.$inferInsert,
): Promise<SharingEventRow> {
  const [row] = await tx.insert(sharingRequestEvents).values(values).returning();
  return row!;
}

export async function listEvents(
  db: DbOrTx,
  requestId: string,
  opts: { afterId?: number; limit: number },
): Promise<SharingEventRow[]> {
  return db
    .select()
    .from(sharingRequestEvents)
    .where(
      and(
        eq(sharingRequestEvents.requestId, requestId),
        opts.afterId ? gt(sharingRequestEvents.id, opts.afterId) : undefined,
      ),
    )
    .orderBy(asc(sharingRequestEvents.id))
    .limit(opts.limit);
}

export async function findEvent(db: DbOrTx, id: number): Promise<SharingEventRow | undefined> {
  const [row] = await db.select().from(sharingRequestEvents).where(eq(sharingRequestEvents.id, id));
  return row;
}

/** The latest event of the request with this action whose details name `eventId` (a notification sent). */
export async function findNotification(
  db: DbOrTx,
  requestId: string,
  eventId: number,
): Promise<SharingEventRow | undefined> {
  const [row] = await db
    .select()
    .from(sharingRequestEvents)
    .where(
      and(
        eq(sharingRequestEvents.requestId, requestId),
        eq(sharingRequestEvents.action, 'notified'),
        sql`${sharingRequestEvents.details}->>'eventId' = ${String(eventId)}`,
      ),
    )
    .orderBy(desc(sharingRequestEvents.id))
    .limit(1);
  return row;
}
