import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { etag, preconditionVersion, withEtag } from '../../http/etag.js';
import { execute } from '../../http/request-context.js';
import { POST_ERRORS, errorResponses, idParams, idempotencyHeaders, pageOf } from '../../http/schemas.js';
import {
  agreementDto,
  createAgreementInput,
  listAgreementsQuery,
  updateAgreementInput,
} from './sharing.agreements.schemas.js';
import { toAgreementDto } from './sharing.dto.js';
import type { SharingService } from './sharing.service.js';

export function agreementRoutes(app: FastifyInstance, deps: { db: Db; sharing: SharingService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, sharing } = deps;
  const tags = ['sharing'];

  r.post(
    '/v1/agreements',
    {
      schema: {
        operationId: 'createAgreement',
        tags,
        summary: 'Allow another institution to request specimens from yours, for given uses and dates',
        headers: idempotencyHeaders,
        body: createAgreementInput,
        response: { 201: agreementDto, ...errorResponses(403, 404, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      withEtag(
        reply,
        execute(db, req, reply, 201, (ctx) => sharing.createAgreement(ctx, req.body), toAgreementDto),
      ),
  );
  r.get(
    '/v1/agreements',
    {
      schema: {
        operationId: 'listAgreements',
        tags,
        summary: 'Agreements your institution is party to, as provider or requester',
        querystring: listAgreementsQuery,
        response: { 200: pageOf(agreementDto), ...errorResponses(403) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => sharing.listAgreements(ctx, req.query),
        (page) => ({ items: page.items.map(toAgreementDto), nextCursor: page.nextCursor }),
      ),
  );
  r.get(
    '/v1/agreements/:id',
    {
      schema: {
        operationId: 'getAgreement',
        tags,
        summary: 'Read an agreement your institution is party to',
        params: idParams,
        response: { 200: agreementDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      withEtag(
        reply,
        execute(db, req, reply, 200, (ctx) => sharing.getAgreement(ctx, req.params.id), toAgreementDto),
      ),
  );
  r.patch(
    '/v1/agreements/:id',
    {
      schema: {
        operationId: 'updateAgreement',
        tags,
        summary:
          "Change an agreement (the provider's managers and admins); needs If-Match with the last ETag",
        params: idParams,
        headers: z.object({ 'if-match': z.string().max(100).optional().describe('the ETag last read') }),
        body: updateAgreementInput,
        response: { 200: agreementDto, ...errorResponses(403, 404, 409, 412, 428) },
      },
    },
    async (req, reply) => {
      const expectedVersion = preconditionVersion(req.headers['if-match']);
      const dto = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => sharing.updateAgreement(ctx, { id: req.params.id, expectedVersion, patch: req.body }),
        toAgreementDto,
      );
      reply.header('etag', etag(dto.version));
      return dto;
    },
  );
}
