import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { withEtag } from '../../http/etag.js';
import { execute } from '../../http/request-context.js';
import { POST_ERRORS, errorResponses, idParams, idempotencyHeaders } from '../../http/schemas.js';
import { specimenDto, toSpecimenDto } from '../specimens/index.js';
import {
  cascadeDto,
  consentDto,
  destructionItemDto,
  toCascadeDto,
  toConsentDto,
  toDestructionItemDto,
} from './consent.dto.js';
import {
  confirmDestructionInput,
  listConsentsQuery,
  recordConsentInput,
  withdrawConsentInput,
} from './consent.schemas.js';
import type { ConsentService } from './consent.service.js';

export function consentRoutes(app: FastifyInstance, deps: { db: Db; consent: ConsentService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, consent } = deps;
  const tags = ['consent'];

  r.post(
    '/v1/consents',
    {
      schema: {
        operationId: 'recordConsent',
        tags,
        summary: 'Record a signed consent (a new version supersedes the current one)',
        description: 'One signed before the current consent is refused (409 CONSENT_SIGNED_BEFORE_CURRENT).',
        headers: idempotencyHeaders,
        body: recordConsentInput,
        response: { 201: consentDto, ...errorResponses(403, 404, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      withEtag(
        reply,
        execute(db, req, reply, 201, (ctx) => consent.recordConsent(ctx, req.body), toConsentDto),
      ),
  );
  r.get(
    '/v1/consents',
    {
      schema: {
        operationId: 'listConsents',
        tags,
        summary: "A participant's consent history, newest first",
        querystring: listConsentsQuery,
        response: { 200: z.object({ items: z.array(consentDto) }), ...errorResponses(403) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => consent.listConsents(ctx, req.query),
        (rows) => ({ items: rows.map(toConsentDto) }),
      ),
  );
  r.get(
    '/v1/consents/:id',
    {
      schema: {
        operationId: 'getConsent',
        tags,
        summary: 'Read a consent',
        params: idParams,
        response: { 200: consentDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      withEtag(
        reply,
        execute(db, req, reply, 200, (ctx) => consent.getConsent(ctx, req.params.id), toConsentDto),
      ),
  );
  r.post(
    '/v1/consents/:id/withdraw',
    {
      schema: {
        operationId: 'withdrawConsent',
        tags,
        summary: 'Withdraw consent now; the cascade over every tube of the donor runs in the background',
        headers: idempotencyHeaders,
        params: idParams,
        body: withdrawConsentInput,
        response: {
          202: z.object({ consent: consentDto, cascade: cascadeDto }),
          ...errorResponses(403, 404, ...POST_ERRORS),
        },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        202,
        (ctx) => consent.withdrawConsent(ctx, req.params.id, req.body),
        (res) => ({
          consent: toConsentDto(res.consent),
          cascade: toCascadeDto(res.cascade),
        }),
      ),
  );
  r.get(
    '/v1/consent-cascades/:id',
    {
      schema: {
        operationId: 'getConsentCascade',
        tags,
        summary: 'Progress and final counts of a withdrawal or re-consent cascade',
        params: idParams,
        response: { 200: cascadeDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(db, req, reply, 200, (ctx) => consent.getConsentCascade(ctx, req.params.id), toCascadeDto),
  );
  r.get(
    '/v1/destruction-list',
    {
      schema: {
        operationId: 'listDestruction',
        tags,
        summary: 'Tubes to destroy after withdrawals, with locations, sorted for picking',
        response: {
          200: z.object({ items: z.array(destructionItemDto) }),
          ...errorResponses(403),
        },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => consent.listDestruction(ctx),
        (items) => ({ items: items.map(toDestructionItemDto) }),
      ),
  );
  r.post(
    '/v1/destruction-list/confirm',
    {
      schema: {
        operationId: 'confirmDestruction',
        tags,
        summary: 'Confirm destruction by scanning the tubes (records their destruction)',
        headers: idempotencyHeaders,
        body: confirmDestructionInput,
        response: { 200: z.object({ items: z.array(specimenDto) }), ...errorResponses(403, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => consent.confirmDestruction(ctx, req.body),
        (v) => ({ items: v.map(toSpecimenDto) }),
      ),
  );
}
