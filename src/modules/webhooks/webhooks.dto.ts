// DTO mapping for webhook deliveries and their attempts.
import type { z } from 'zod';
import type { WebhookAttemptRow, WebhookDeliveryRow } from './webhooks.repo.js';
import type { webhookAttemptDto, webhookDeliveryDto } from './webhooks.schemas.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

export const toWebhookDeliveryDto = (d: WebhookDeliveryRow): z.infer<typeof webhookDeliveryDto> => ({
  id: d.id,
  eventType: d.eventType,
  targetUrl: d.targetUrl,
  status: d.status,
  attemptCount: d.attemptCount,
  lastStatusCode: d.lastStatusCode,
  lastError: d.lastError,
  lastAttemptAt: iso(d.lastAttemptAt),
  deliveredAt: iso(d.deliveredAt),
  createdAt: d.createdAt.toISOString(),
  payload: d.payload,
});

export const toAttemptDto = (a: WebhookAttemptRow): z.infer<typeof webhookAttemptDto> => ({
  attemptNumber: a.attemptNumber,
  startedAt: a.startedAt.toISOString(),
  durationMs: a.durationMs,
  statusCode: a.statusCode,
  error: a.error,
  responseExcerpt: a.responseExcerpt,
});
