import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { execute } from '../../http/request-context.js';
import { POST_ERRORS, errorResponses, idParams, idempotencyHeaders } from '../../http/schemas.js';
import { specimenDto } from '../specimens/specimens.schemas.js';
import { toSpecimenDto } from '../specimens/index.js';
import { CONSENT_TIERS } from '../../vocabulary/consent-tiers.js';
import { CONSENT_RESPONSES, CONSENT_STATUSES, WITHDRAWAL_SCOPES } from './consent.table.js';
import { confirmDestructionInput, listConsentsQuery } from './consent.schemas.js';
import {
  effectiveStatus,
  recordConsentInput,
  withdrawConsentInput,
  type CascadeRow,
  type ConsentRow,
  type ConsentService,
} from './consent.service.js';

export const consentDto = z.object({
  id: z.uuid(),
  participantId: z.uuid(),
  protocolId: z.uuid(),
  documentVersion: z.string(),
  signedOn: z.string(),
  obtainedBy: z.string(),
  responses: z.partialRecord(z.enum(CONSENT_TIERS), z.enum(CONSENT_RESPONSES)),
  status: z.enum(CONSENT_STATUSES).describe('expired once expiresOn has passed'),
  expiresOn: z.string().nullable(),
  withdrawnAt: z.string().nullable(),
  withdrawalScope: z.enum(WITHDRAWAL_SCOPES).nullable(),
  supersedesId: z.uuid().nullable(),
  supersededAt: z.string().nullable().describe('set when a newer version replaced this one'),
  createdAt: z.string(),
  version: z.number().int(),
});

export const toConsentDto = (c: ConsentRow): z.infer<typeof consentDto> => ({
  id: c.id,
  participantId: c.participantId,
  protocolId: c.protocolId,
  documentVersion: c.documentVersion,
  signedOn: c.signedOn,
  obtainedBy: c.obtainedBy,
  responses: c.responses,
  status: effectiveStatus(c),
  expiresOn: c.expiresOn,
  withdrawnAt: c.withdrawnAt?.toISOString() ?? null,
  withdrawalScope: c.withdrawalScope,
  supersedesId: c.supersedesId,
  supersededAt: c.supersededAt?.toISOString() ?? null,
  createdAt: c.createdAt.toISOString(),
  version: c.version,
});

export const cascadeDto = z.object({
  id: z.uuid(),
  consentId: z.uuid(),
  kind: z.enum(['withdraw', 'reconsent']),
  status: z.enum(['pending', 'running', 'completed']),
  specimensFound: z.number().int(),
  specimensChanged: z.number().int(),
  destructionListed: z.number().int(),
  partnersNotified: z.number().int(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
});
export const toCascadeDto = (c: CascadeRow): z.infer<typeof cascadeDto> => ({
  id: c.id,
  consentId: c.consentId,
  kind: c.kind,
  status: c.status,
  specimensFound: c.specimensFound,
  specimensChanged: c.specimensChanged,
  destructionListed: c.destructionListed,
  partnersNotified: c.partnersNotified,
  createdAt: c.createdAt.toISOString(),
  startedAt: c.startedAt?.toISOString() ?? null,
  completedAt: c.completedAt?.toISOString() ?? null,
});

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
        headers: idempotencyHeaders,
        body: recordConsentInput,
        response: { 201: consentDto, ...errorResponses(403, 404, ...POST_ERRORS) },
      },
    },
    (req, reply) => execute(db, req, reply, 201, (ctx) => consent.recordConsent(ctx, req.body), toConsentDto),
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
      execute(db, req, reply, 200, (ctx) => consent.getConsent(ctx, req.params.id), toConsentDto),
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
      execute(db, req, reply, 200, (ctx) => consent.getCascade(ctx, req.params.id), toCascadeDto),
  );
  r.get(
    '/v1/destruction-list',
    {
      schema: {
        operationId: 'listDestruction',
        tags,
        summary: 'Tubes to destroy after withdrawals, with locations, sorted for picking',
        response: {
          200: z.object({
            items: z.array(
              z.object({
                itemId: z.uuid(),
                consentId: z.uuid(),
                listedAt: z.string(),
                specimen: specimenDto,
              }),
            ),
          }),
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
        (items) => ({
          items: items.map((x) => ({
            itemId: x.item.id,
            consentId: x.item.consentId,
            listedAt: x.item.listedAt.toISOString(),
            specimen: toSpecimenDto({ row: x.specimen, location: x.location }),
          })),
        }),
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
