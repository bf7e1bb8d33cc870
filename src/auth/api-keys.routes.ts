import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { execute } from '../http/request-context.js';
import { POST_ERRORS, errorResponses, idParams, idempotencyHeaders } from '../http/schemas.js';
import { createApiKeyInput, type ApiKeyRow, type ApiKeyService } from './api-keys.service.js';
import { ROLES } from './roles.js';

export const apiKeyDto = z.object({
  id: z.uuid(),
  institutionId: z.uuid(),
  name: z.string(),
  role: z.enum(ROLES),
  prefix: z.string().describe('visible part of the token, `bbk_<prefix>_...`'),
  createdBy: z.string(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().nullable(),
  revokedAt: z.iso.datetime().nullable(),
  lastUsedAt: z.iso.datetime().nullable().describe('minute resolution'),
});

export function toApiKeyDto(row: ApiKeyRow): z.infer<typeof apiKeyDto> {
  return {
    id: row.id,
    institutionId: row.institutionId,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  };
}

export function apiKeyRoutes(app: FastifyInstance, deps: { db: Db; apiKeys: ApiKeyService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, apiKeys } = deps;
  const tags = ['api-keys'];

  r.post(
    '/v1/api-keys',
    {
      schema: {
        operationId: 'createApiKey',
        tags,
        summary: 'Create an API key; the token is returned once and never again',
        headers: idempotencyHeaders,
        body: createApiKeyInput,
        response: {
          201: apiKeyDto.extend({
            token: z
              .string()
              .nullable()
              .describe('`bbk_...`: store it now, it is not shown again (null on an Idempotency-Key replay)'),
          }),
          ...errorResponses(403, 404, ...POST_ERRORS),
        },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        201,
        (ctx) => apiKeys.createApiKey(ctx, req.body),
        (res) => ({ ...toApiKeyDto(res.apiKey), token: res.token }),
        // The token exists only in this first answer: an Idempotency-Key replay says the key was
        // created but cannot show its token again (only its hash is kept).
        { forReplay: (body) => ({ ...body, token: null }) },
      ),
  );

  r.get(
    '/v1/api-keys',
    {
      schema: {
        operationId: 'listApiKeys',
        tags,
        summary: "List the institution's API keys (without secrets)",
        querystring: z.object({ institutionId: z.uuid().optional() }),
        response: { 200: z.object({ items: z.array(apiKeyDto) }), ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => apiKeys.listApiKeys(ctx, { institutionId: req.query.institutionId }),
        (rows) => ({ items: rows.map(toApiKeyDto) }),
      ),
  );

  r.post(
    '/v1/api-keys/:id/revoke',
    {
      schema: {
        operationId: 'revokeApiKey',
        tags,
        summary: 'Revoke an API key at once',
        headers: idempotencyHeaders,
        params: idParams,
        response: { 200: apiKeyDto, ...errorResponses(403, 404, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      execute(db, req, reply, 200, (ctx) => apiKeys.revokeApiKey(ctx, req.params.id), toApiKeyDto),
  );
}
