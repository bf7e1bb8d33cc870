import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { preconditionVersion, etag, withEtag } from '../../http/etag.js';
import { execute } from '../../http/request-context.js';
import { POST_ERRORS, errorResponses, idParams, idempotencyHeaders } from '../../http/schemas.js';
import type { InstitutionService } from './institutions.service.js';
import { toInstitutionDto } from './institutions.dto.js';
import {
  createInstitutionInput,
  institutionCode,
  institutionDto,
  updateInstitutionInput,
} from './institutions.schemas.js';

export function institutionRoutes(app: FastifyInstance, deps: { db: Db; institutions: InstitutionService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, institutions } = deps;
  const tags = ['institutions'];

  r.post(
    '/v1/institutions',
    {
      schema: {
        operationId: 'createInstitution',
        tags,
        summary: 'Create an institution (platform operator admins)',
        headers: idempotencyHeaders,
        body: createInstitutionInput,
        response: { 201: institutionDto, ...errorResponses(403, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      withEtag(
        reply,
        execute(
          db,
          req,
          reply,
          201,
          (ctx) => institutions.createInstitution(ctx, req.body),
          toInstitutionDto,
        ),
      ),
  );

  r.get(
    '/v1/institutions',
    {
      schema: {
        operationId: 'listInstitutions',
        tags,
        summary: 'List institutions visible to the caller (its own; all for the operator)',
        querystring: z.object({
          cursor: z.string().max(200).optional().describe('nextCursor of the previous page'),
          after: institutionCode
            .optional()
            .describe(
              'code of the last institution of the previous page (the older way to page; prefer cursor)',
            ),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
        response: {
          200: z.object({ items: z.array(institutionDto), nextCursor: z.string().nullable() }),
          ...errorResponses(400, 403),
        },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) =>
          institutions.listInstitutionPage(ctx, {
            cursor: req.query.cursor,
            afterCode: req.query.after,
            limit: req.query.limit,
          }),
        (page) => ({ items: page.items.map(toInstitutionDto), nextCursor: page.nextCursor }),
      ),
  );

  r.get(
    '/v1/institutions/:id',
    {
      schema: {
        operationId: 'getInstitution',
        tags,
        summary: 'Read one institution',
        params: idParams,
        response: { 200: institutionDto, ...errorResponses(403, 404) },
      },
    },
    async (req, reply) => {
      const dto = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => institutions.getInstitution(ctx, req.params.id),
        toInstitutionDto,
      );
      reply.header('etag', etag(dto.version));
      return dto;
    },
  );

  r.patch(
    '/v1/institutions/:id',
    {
      schema: {
        operationId: 'updateInstitution',
        tags,
        summary: 'Rename, or set the webhook URL (a first URL returns its signing secret once)',
        params: idParams,
        headers: z.object({ 'if-match': z.string().max(100).optional().describe('the ETag last read') }),
        querystring: z.object({ rotateWebhookSecret: z.enum(['true', 'false']).optional() }),
        body: updateInstitutionInput,
        response: {
          200: institutionDto.extend({
            webhookSecret: z.string().optional().describe('only when a secret was just created or rotated'),
          }),
          ...errorResponses(403, 404, 409, 412, 428),
        },
      },
    },
    async (req, reply) => {
      const expectedVersion = preconditionVersion(req.headers['if-match']);
      const dto = await execute(
        db,
        req,
        reply,
        200,
        (ctx) =>
          institutions.updateInstitution(ctx, {
            id: req.params.id,
            expectedVersion,
            patch: req.body,
            rotateWebhookSecret: req.query.rotateWebhookSecret === 'true',
          }),
        (res) => ({
          ...toInstitutionDto(res.institution),
          ...(res.webhookSecret ? { webhookSecret: res.webhookSecret } : {}),
        }),
      );
      reply.header('etag', etag(dto.version));
      return dto;
    },
  );
}
