// SQL over the webhook delivery log: deliveries and their attempts.
import { and, desc, eq, lt, ne, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { webhookAttempts, webhookDeliveries, type WEBHOOK_DELIVERY_STATUSES } from './webhooks.table.js';

export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

export async function insertDelivery(
  tx: DbOrTx,
  values: typeof webhookDeliveries.$inferInsert,
): Promise<void> {
  await tx.insert(webhookDeliveries).values(values);
}

/** A delivery by id; with an institution, only that institution's. */
export async function findDelivery(
  handle: DbOrTx,
  id: string,
  institutionId?: string,
): Promise<WebhookDeliveryRow | undefined> {
  const [row] = await handle
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.id, id),
        institutionId ? eq(webhookDeliveries.institutionId, institutionId) : undefined,
      ),
    );
  return row;
}

/** A keyset page of an institution's deliveries, newest first. */
export async function listDeliveryRows(
  handle: DbOrTx,
  f: { institutionId: string; status?: WebhookDeliveryStatus; beforeId?: string; limit: number },
): Promise<WebhookDeliveryRow[]> {
  return handle
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.institutionId, f.institutionId),
        f.status ? eq(webhookDeliveries.status, f.status) : undefined,
        f.beforeId ? lt(webhookDeliveries.id, f.beforeId) : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.id))
    .limit(f.limit);
}

export async function listAttempts(handle: DbOrTx, deliveryId: string): Promise<WebhookAttemptRow[]> {
  return handle
    .select()
    .from(webhookAttempts)
    .where(eq(webhookAttempts.deliveryId, deliveryId))
    .orderBy(webhookAttempts.attemptNumber);
}

/** Puts a delivery back in the queue's hands. */
/**
 * Opens a delivered or failed delivery for one more run of attempts; undefined when there is none
 * or it is still pending (its run of retries goes on: a second run would double every attempt).
 * A pending one with no attempt for `staleMs` (longer than any wait between two attempts) has no
 * run left (its process died mid-attempt, its job was lost) and is opened again too.
 */
export async function reopenDelivery(
  tx: DbOrTx,
  id: string,
  staleMs: number,
): Promise<WebhookDeliveryRow | undefined> {
  const [row] = await tx
    .update(webhookDeliveries)
    .set({ status: 'pending', deliveredAt: null })
    .where(
      and(
        eq(webhookDeliveries.id, id),
        or(
          ne(webhookDeliveries.status, 'pending'),
          sql`coalesce(${webhookDeliveries.lastAttemptAt}, ${webhookDeliveries.createdAt}) < now() - make_interval(secs => ${staleMs / 1000})`,
        ),
      ),
    )
    .returning();
  return row;
}

/**
 * Claims the next attempt number of a pending delivery; undefined when it is no longer pending
 * (already delivered or given up: an at-least-once replay).
 */
export async function claimAttempt(handle: DbOrTx, id: string): Promise<WebhookDeliveryRow | undefined> {
  const [row] = await handle
    .update(webhookDeliveries)
    .set({ attemptCount: sql`${webhookDeliveries.attemptCount} + 1`, lastAttemptAt: sql`now()` })
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, 'pending')))
    .returning();
  return row;
}

/** Logs an attempt and sets the delivery's outcome, in the caller's transaction. */
export async function recordAttempt(
  tx: DbOrTx,
  attempt: typeof webhookAttempts.$inferInsert,
  outcome: {
    status: WebhookDeliveryStatus;
    lastStatusCode: number | null;
    lastError: string | null;
    delivered: boolean;
    /** where this attempt went: the institution's endpoint when it was made */
    targetUrl?: string;
  },
): Promise<WebhookDeliveryRow | undefined> {
  await tx.insert(webhookAttempts).values(attempt);
  const [row] = await tx
    .update(webhookDeliveries)
    .set({
      ...(outcome.targetUrl !== undefined ? { targetUrl: outcome.targetUrl } : {}),
      status: outcome.status,
      lastStatusCode: outcome.lastStatusCode,
      lastError: outcome.lastError,
      deliveredAt: outcome.delivered ? sql`now()` : null,
    })
    .where(eq(webhookDeliveries.id, attempt.deliveryId))
    .returning();
  return row;
}
