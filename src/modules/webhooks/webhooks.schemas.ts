// Webhook delivery schemas the REST routes validate and answer with.
import { z } from 'zod';
import { pageQuery } from '../../pagination.js';
import { WEBHOOK_DELIVERY_STATUSES } from './webhooks.table.js';

export const webhookDeliveryDto = z.object({
  id: z.uuid().describe('also the `webhook-id` header, stable across retries'),
  eventType: z.string(),
  targetUrl: z.string(),
  status: z.enum(WEBHOOK_DELIVERY_STATUSES),
  attemptCount: z.number().int(),
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  lastAttemptAt: z.iso.datetime().nullable(),
  deliveredAt: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
  payload: z.unknown(),
});

export const webhookAttemptDto = z.object({
  attemptNumber: z.number().int(),
  startedAt: z.iso.datetime(),
  durationMs: z.number().int(),
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
  responseExcerpt: z.string().nullable(),
});

/** The delivery log's page query: newest first, of one status if given. */
export const webhookDeliveryListQuery = pageQuery.extend({
  status: z.enum(WEBHOOK_DELIVERY_STATUSES).optional(),
});
