// SQL over shipment and the item columns shipments and receipt write. The caller has loaded (and
// locked) the request through the visibility rules of sharing.requests.ts, so these take ids.
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import type { ItemState, RequestState } from './sharing.lifecycle.js';
import {
  sharingRequestItems,
  sharingRequests,
  shipments,
  type SharingItemRow,
  type ShipmentRow,
} from './sharing.table.js';

export async function findShipment(
  db: DbOrTx,
  requestId: string,
  opts: { lock?: boolean } = {},
): Promise<ShipmentRow | undefined> {
  const q = db.select().from(shipments).where(eq(shipments.requestId, requestId));
  const [row] = opts.lock ? await q.for('update') : await q;
  return row;
}

export async function insertShipment(
  tx: DbOrTx,
  values: typeof shipments.$inferInsert,
): Promise<ShipmentRow> {
  const [row] = await tx.insert(shipments).values(values).returning();
  return row!;
}

/** Applies a patch at the version the row was locked at (the caller holds the lock). */
export async function updateShipment(
  tx: DbOrTx,
  before: ShipmentRow,
  patch: Partial<typeof shipments.$inferInsert>,
): Promise<ShipmentRow> {
  const [row] = await tx
    .update(shipments)
    .set({ ...patch, version: sql`${shipments.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(shipments.id, before.id), eq(shipments.version, before.version)))
    .returning();
  if (!row) throw new Error(`shipment ${before.id} changed while locked`);
  return row;
}

/** Moves the given items of the request to `state`, with the receiver's specimen and a note when given. */
export async function setItems(
  tx: DbOrTx,
  requestId: string,
  changes: { id: string; state: ItemState; receiverSpecimenId?: string | null; note?: string | null }[],
): Promise<void> {
  if (changes.length === 0) return;
  // One statement for the batch: a receipt of 500 items is one UPDATE.
  const payload = JSON.stringify(
    changes.map((c) => ({
      id: c.id,
      state: c.state,
      receiver_specimen_id: c.receiverSpecimenId ?? null,
      note: c.note ?? null,
      keep_receiver: c.receiverSpecimenId === undefined,
      keep_note: c.note === undefined,
    })),
  );
  await tx.execute(sql`
    update sharing_request_item i
       set state = v.state::sharing_item_state,
           receiver_specimen_id = case when v.keep_receiver then i.receiver_specimen_id else v.receiver_specimen_id end,
           note = case when v.keep_note then i.note else v.note end,
           updated_at = now()
      from jsonb_to_recordset(${payload}::jsonb)
           as v(id uuid, state text, receiver_specimen_id uuid, note text, keep_receiver boolean, keep_note boolean)
     where i.id = v.id and i.request_id = ${requestId}`);
}

/** The request's item for one of the provider's specimens, if any. */
export async function findItemOfSpecimen(
  db: DbOrTx,
  requestId: string,
  specimenId: string,
): Promise<SharingItemRow | undefined> {
  const [row] = await db
    .select()
    .from(sharingRequestItems)
    .where(and(eq(sharingRequestItems.requestId, requestId), eq(sharingRequestItems.specimenId, specimenId)));
  return row;
}

/** The item a receiver's specimen was made from (the custody link), if any. */
export async function findItemByReceiverSpecimen(
  db: DbOrTx,
  specimenId: string,
): Promise<SharingItemRow | undefined> {
  const [row] = await db
    .select()
    .from(sharingRequestItems)
    .where(eq(sharingRequestItems.receiverSpecimenId, specimenId));
  return row;
}

export interface ItemWithRequest {
  item: SharingItemRow;
  requestState: RequestState;
  requesterInstitutionId: string;
}

/** Items naming any of the provider's specimens, in the given states, with their request's state. */
export async function itemsOfSpecimens(
  db: DbOrTx,
  specimenIds: readonly string[],
  states: readonly ItemState[],
): Promise<ItemWithRequest[]> {
  if (specimenIds.length === 0) return [];
  const rows = await db
    .select({
      item: sharingRequestItems,
      requestState: sharingRequests.state,
      requesterInstitutionId: sharingRequests.requesterInstitutionId,
    })
    .from(sharingRequestItems)
    .innerJoin(sharingRequests, eq(sharingRequests.id, sharingRequestItems.requestId))
    .where(
      and(
        inArray(sharingRequestItems.specimenId, [...specimenIds]),
        inArray(sharingRequestItems.state, [...states]),
      ),
    )
    .orderBy(sharingRequestItems.requestId, sharingRequestItems.sampleCode);
  return rows;
}
