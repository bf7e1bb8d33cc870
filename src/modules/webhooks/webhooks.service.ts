import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize, can } from '../../auth/roles.js';
import type { Db, Tx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { inTransaction } from '../../db/transaction.js';
import { decodeCursor, toPage, type Page } from '../../pagination.js';
import { enqueueJob } from '../../jobs/outbox.js';
import { QUEUES } from '../../jobs/queues.js';
import { recordAudit } from '../audit/index.js';
import { findInstitutionById } from '../institutions/index.js';
import type { WebhookSender } from './webhook-sender.js';
import { deliverWebhookJob } from './webhooks.jobs.js';
import {
  claimAttempt,
  findDelivery,
  insertDelivery,
  listAttempts,
  listDeliveryRows,
  recordAttempt,
  reopenDelivery,
  type WebhookAttemptRow,
  type WebhookDeliveryRow,
  type WebhookDeliveryStatus,
} from './webhooks.repo.js';
import { webhookDeliveryNotFound, webhookDeliveryPending, webhookNotConfigured } from './webhooks.errors.js';

export type { WebhookAttemptRow, WebhookDeliveryRow };

/**
 * How long a pending delivery may go without an attempt before it has no run of retries left:
 * twice the longest wait between two attempts.
 */
const STALE_RUN_MS = 2 * QUEUES.webhooks.backoff.capMs;

export interface WebhookEvent {
  institutionId: string;
  /** dotted event name, e.g. `sharing_request.approved` */
  eventType: string;
  /** ids and states only: never donor data */
  data: Record<string, unknown>;
}

/**
 * Queues a signed webhook to an institution inside the caller's transaction. Returns the delivery
 * id, or null when the institution has no endpoint configured.
 */
export async function emitWebhook(tx: Tx, ctx: Ctx, event: WebhookEvent): Promise<string | null> {
  const institution = await findInstitutionById(tx, event.institutionId);
  if (!institution?.webhookUrl || !institution.webhookSecret) return null;
  const id = newId();
  await insertDelivery(tx, {
    id,
    institutionId: institution.id,
    eventType: event.eventType,
    payload: { type: event.eventType, timestamp: new Date().toISOString(), data: event.data },
    targetUrl: institution.webhookUrl,
  });
  await enqueueJob(tx, ctx, deliverWebhookJob, { deliveryId: id });
  return id;
}

export interface WebhookServiceDeps {
  db: Db;
  sender: WebhookSender;
  timeoutMs: number;
  clock?: () => Date;
}

export function createWebhookService(deps: WebhookServiceDeps) {
  const { db } = deps;
  const clock = deps.clock ?? (() => new Date());

  async function loadOwn(ctx: Ctx, id: string): Promise<WebhookDeliveryRow> {
    const row = await findDelivery(db, id, actorInstitutionId(ctx.actor));
    if (!row) throw webhookDeliveryNotFound(id);
    return row;
  }

  return {
    /** The delivery log of the actor's institution, newest first. Throws FORBIDDEN, INVALID_CURSOR. */
    async listWebhookDeliveries(
      ctx: Ctx,
      query: { status?: WebhookDeliveryStatus; cursor?: string; limit: number },
    ): Promise<Page<WebhookDeliveryRow>> {
      authorize(ctx.actor, 'webhooks.read');
      const before = decodeCursor(query.cursor, z.uuid());
      const rows = await listDeliveryRows(db, {
        institutionId: actorInstitutionId(ctx.actor),
        status: query.status,
        beforeId: before,
        limit: query.limit + 1,
      });
      return toPage(
        rows,
        query.limit,
        (r) => r.id,
        (r) => r,
      );
    },

    /**
     * One delivery with its attempts. What the receiver answered is shown to admins only: an
     * endpoint's answer is not an integration key's to read. Throws WEBHOOK_DELIVERY_NOT_FOUND.
     */
    async getWebhookDelivery(
      ctx: Ctx,
      id: string,
    ): Promise<WebhookDeliveryRow & { attempts: WebhookAttemptRow[] }> {
      authorize(ctx.actor, 'webhooks.read');
      const delivery = await loadOwn(ctx, id);
      const attempts = await listAttempts(db, id);
      const responses = can(ctx.actor, 'webhooks.responses');
      return {
        ...delivery,
        attempts: responses ? attempts : attempts.map((a) => ({ ...a, responseExcerpt: null })),
      };
    },

    /** Sends a delivery again, e.g. after the receiver was fixed. Throws WEBHOOK_DELIVERY_NOT_FOUND. */
    async redeliverWebhook(ctx: Ctx, id: string): Promise<WebhookDeliveryRow> {
      authorize(ctx.actor, 'webhooks.manage');
      const before = await loadOwn(ctx, id);
      // Attempts go to the endpoint as it is now: with none, there is nowhere to send it.
      if (!(await findInstitutionById(db, before.institutionId))?.webhookUrl) throw webhookNotConfigured();
      return inTransaction(db, ctx, async (tx) => {
        const after = await reopenDelivery(tx, id, STALE_RUN_MS);
        if (!after)
          throw (await findDelivery(tx, id)) ? webhookDeliveryPending(id) : webhookDeliveryNotFound(id);
        await enqueueJob(tx, ctx, deliverWebhookJob, { deliveryId: id });
        await recordAudit(tx, ctx, {
          action: 'redeliverWebhook',
          entityType: 'webhook_delivery',
          entityId: id,
          institutionId: after.institutionId,
          before: { status: before.status },
          after: { status: after.status },
        });
        return after;
      });
    },

    /** Sends a `webhook.ping` event to the actor's own endpoint. Throws WEBHOOK_NOT_CONFIGURED. */
    async pingWebhook(ctx: Ctx): Promise<WebhookDeliveryRow> {
      authorize(ctx.actor, 'webhooks.manage');
      const institutionId = actorInstitutionId(ctx.actor);
      // The transaction returns the delivery itself, so an Idempotency-Key stores it with the effect.
      return inTransaction(db, ctx, async (tx) => {
        const deliveryId = await emitWebhook(tx, ctx, {
          institutionId,
          eventType: 'webhook.ping',
          data: { institutionId },
        });
        if (!deliveryId) throw webhookNotConfigured();
        const row = await findDelivery(tx, deliveryId);
        if (!row) throw new Error('the delivery just written was not found');
        return row;
      });
    },

    /**
     * Makes one attempt (the job handler's work), to the institution's endpoint as it is now (an
     * admin who moved or removed it expects retries and redeliveries to follow), signed per
     * Standard Webhooks with its current secret. A non-2xx answer or network error throws so the
     * queue retries; `final` marks the last allowed try: its failure marks the delivery failed.
     * With no endpoint any more, the delivery ends failed at once, unsent.
     */
    async attemptWebhookDelivery(
      ctx: Ctx,
      input: { deliveryId: string; jobId: string; final: boolean },
    ): Promise<WebhookDeliveryRow | null> {
      // Claim an attempt number first, so no connection is held while the receiver answers.
      const claimed = await claimAttempt(db, input.deliveryId);
      if (!claimed) return null; // already delivered (or given up): at-least-once replay
      const institution = await findInstitutionById(db, claimed.institutionId);
      const started = clock();
      const body = JSON.stringify(claimed.payload);
      let statusCode: number | null = null;
      let error: string | null = null;
      let excerpt: string | null = null;
      const url = institution?.webhookUrl ?? null;
      if (!url) {
        error = 'the institution has no webhook endpoint any more: not sent';
      } else if (!institution?.webhookSecret) {
        error = 'the institution has no webhook secret';
      } else {
        const signature = new Webhook(institution.webhookSecret).sign(claimed.id, started, body);
        try {
          const res = await deps.sender({
            url,
            headers: {
              'content-type': 'application/json',
              'user-agent': 'biobank-webhooks/1',
              'webhook-id': claimed.id,
              'webhook-timestamp': String(Math.floor(started.getTime() / 1000)),
              'webhook-signature': signature,
            },
            body,
            timeoutMs: deps.timeoutMs,
          });
          statusCode = res.status;
          excerpt = res.bodyExcerpt;
          if (res.status < 200 || res.status >= 300) error = `receiver answered ${res.status}`;
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
      }
      const ok = error === null;
      const after = await db.transaction((tx) =>
        recordAttempt(
          tx,
          {
            deliveryId: claimed.id,
            attemptNumber: claimed.attemptCount,
            jobId: input.jobId,
            startedAt: started,
            durationMs: clock().getTime() - started.getTime(),
            statusCode,
            error,
            responseExcerpt: excerpt,
          },
          {
            status: ok ? 'succeeded' : input.final || !url ? 'failed' : 'pending',
            lastStatusCode: statusCode,
            lastError: error,
            delivered: ok,
            ...(url ? { targetUrl: url } : {}),
          },
        ),
      );
      if (!ok && url) {
        ctx.log.warn({ deliveryId: claimed.id, statusCode }, 'webhook attempt failed');
        throw new Error(`webhook ${claimed.id} attempt ${claimed.attemptCount} failed: ${error}`);
      }
      return after ?? null;
    },
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
