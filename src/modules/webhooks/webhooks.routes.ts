import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { execute } from '../../http/request-context.js';
import { POST_ERRORS, errorResponses, idParams, idempotencyHeaders, pageOf } from '../../http/schemas.js';
import { toAttemptDto, toWebhookDeliveryDto } from './webhooks.dto.js';
import { webhookAttemptDto, webhookDeliveryDto, webhookDeliveryListQuery } from './webhooks.schemas.js';
import type { WebhookService } from './webhooks.service.js';

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
        querystring: webhookDeliveryListQuery,
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
