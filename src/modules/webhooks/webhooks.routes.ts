import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { execute } from '../../http/request-context.js';
import {
  POST_ERRORS,
  errorResponses,
  idParams,
  idempotencyHeaders,
  pageOf,
  pageQuery,
} from '../../http/schemas.js';
import type { WebhookAttemptRow, WebhookDeliveryRow, WebhookService } from './webhooks.service.js';
import { WEBHOOK_DELIVERY_STATUSES } from './webhooks.table.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

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

const toAttemptDto = (a: WebhookAttemptRow): z.infer<typeof webhookAttemptDto> => ({
  attemptNumber: a.attemptNumber,
  startedAt: a.startedAt.toISOString(),
  durationMs: a.durationMs,
  statusCode: a.statusCode,
  error: a.error,
  responseExcerpt: a.responseExcerpt,
});

export function webhookRoutes(app: FastifyInstance, deps: { db: Db; webhooks: WebhookService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, webhooks } = deps;
  const tags = ['webhooks'];

  r.get(
    '/v1/webhook-deliveries',
    {
      schema: {
        operationId: 'listWebhookDeliveries',
        tags,
        summary: "The institution's webhook delivery log, newest first",
        querystring: pageQuery.extend({ status: z.enum(WEBHOOK_DELIVERY_STATUSES).optional() }),
        response: { 200: pageOf(webhookDeliveryDto), ...errorResponses(403) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => webhooks.listWebhookDeliveries(ctx, req.query),
        (page) => ({
          items: page.items.map(toWebhookDeliveryDto),
          nextCursor: page.nextCursor,
        }),
      ),
  );

  r.get(
    '/v1/webhook-deliveries/:id',
    {
      schema: {
        operationId: 'getWebhookDelivery',
        tags,
        summary: 'One delivery with every attempt',
        params: idParams,
        response: {
          200: webhookDeliveryDto.extend({ attempts: z.array(webhookAttemptDto) }),
          ...errorResponses(403, 404),
        },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => webhooks.getWebhookDelivery(ctx, req.params.id),
        (d) => ({
          ...toWebhookDeliveryDto(d),
          attempts: d.attempts.map(toAttemptDto),
        }),
      ),
  );

  r.post(
    '/v1/webhook-deliveries/:id/redeliver',
    {
      schema: {
        operationId: 'redeliverWebhook',
        tags,
        summary: 'Send a delivery again (same webhook-id, so receivers can deduplicate)',
        headers: idempotencyHeaders,
        params: idParams,
        response: { 202: webhookDeliveryDto, ...errorResponses(403, 404, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        202,
        (ctx) => webhooks.redeliverWebhook(ctx, req.params.id),
        toWebhookDeliveryDto,
      ),
  );

  r.post(
    '/v1/webhook-deliveries/ping',
    {
      schema: {
        operationId: 'pingWebhook',
        tags,
        summary: "Send a `webhook.ping` event to the institution's own endpoint",
        headers: idempotencyHeaders,
        response: { 202: webhookDeliveryDto, ...errorResponses(403, ...POST_ERRORS) },
      },
    },
    (req, reply) => execute(db, req, reply, 202, (ctx) => webhooks.pingWebhook(ctx), toWebhookDeliveryDto),
  );
}
