import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import {
  answerUpsert,
  etag,
  optionalPreconditionVersion,
  preconditionVersion,
  withEtag,
} from '../../http/etag.js';
import { execute } from '../../http/request-context.js';
import {
  POST_ERRORS,
  errorResponses,
  idParams,
  idempotencyHeaders,
  optionalIfMatch,
  pageOf,
} from '../../http/schemas.js';
import { toParticipantDto, toProtocolDto } from './participants.dto.js';
import { listParticipantsQuery, participantDto, protocolDto } from './participants.schemas.js';
import {
  createProtocolInput,
  protocolCode,
  updateProtocolInput,
  registerParticipantInput,
  updateParticipantInput,
  upsertParticipantInput,
  upsertProtocolInput,
  type ParticipantService,
} from './participants.service.js';

export function participantRoutes(app: FastifyInstance, deps: { db: Db; participants: ParticipantService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, participants } = deps;

  r.post(
    '/v1/protocols',
    {
      schema: {
        operationId: 'createProtocol',
        tags: ['protocols'],
        summary: 'Create a collection protocol with the consent tiers it asks',
        headers: idempotencyHeaders,
        body: createProtocolInput,
        response: { 201: protocolDto, ...errorResponses(403, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      withEtag(
        reply,
        execute(db, req, reply, 201, (ctx) => participants.createProtocol(ctx, req.body), toProtocolDto),
      ),
  );
  r.get(
    '/v1/protocols',
    {
      schema: {
        operationId: 'listProtocols',
        tags: ['protocols'],
        summary: 'List collection protocols',
        response: { 200: z.object({ items: z.array(protocolDto) }), ...errorResponses(403) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => participants.listProtocols(ctx),
        (rows) => ({ items: rows.map(toProtocolDto) }),
      ),
  );
  r.patch(
    '/v1/protocols/:id',
    {
      schema: {
        operationId: 'updateProtocol',
        tags: ['protocols'],
        summary:
          "Change a protocol's title, ethics approval or disease area; needs If-Match with the last ETag",
        params: idParams,
        headers: z.object({ 'if-match': z.string().max(100).optional().describe('the ETag last read') }),
        body: updateProtocolInput,
        response: { 200: protocolDto, ...errorResponses(403, 404, 412, 428) },
      },
    },
    async (req, reply) => {
      const expectedVersion = preconditionVersion(req.headers['if-match']);
      const dto = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => participants.updateProtocol(ctx, { id: req.params.id, expectedVersion, patch: req.body }),
        toProtocolDto,
      );
      reply.header('etag', etag(dto.version));
      return dto;
    },
  );
  r.get(
    '/v1/protocols/:id',
    {
      schema: {
        operationId: 'getProtocol',
        tags: ['protocols'],
        summary: 'Read a collection protocol',
        params: idParams,
        response: { 200: protocolDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      withEtag(
        reply,
        execute(db, req, reply, 200, (ctx) => participants.getProtocol(ctx, req.params.id), toProtocolDto),
      ),
  );

  r.post(
    '/v1/participants',
    {
      schema: {
        operationId: 'registerParticipant',
        tags: ['participants'],
        summary: 'Register a pseudonymous donor to a protocol (an MRN is kept only as a keyed hash)',
        headers: idempotencyHeaders,
        body: registerParticipantInput,
        response: { 201: participantDto, ...errorResponses(403, 404, ...POST_ERRORS) },
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
          (ctx) => participants.registerParticipant(ctx, req.body),
          toParticipantDto,
        ),
      ),
  );
  r.get(
    '/v1/participants',
    {
      schema: {
        operationId: 'listParticipants',
        tags: ['participants'],
        summary: 'List participants (identity fields only for roles that may see them)',
        querystring: listParticipantsQuery,
        response: { 200: pageOf(participantDto), ...errorResponses(403) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => participants.listParticipants(ctx, req.query),
        (p) => ({
          items: p.items.map(toParticipantDto),
          nextCursor: p.nextCursor,
        }),
      ),
  );
  r.post(
    '/v1/participants/search-by-mrn',
    {
      schema: {
        operationId: 'findParticipantsByMrn',
        tags: ['participants'],
        summary:
          'Find participants by hospital MRN (matched through its keyed hash; POST keeps the MRN out of URLs and logs)',
        body: z.object({ mrn: z.string().trim().min(1).max(64) }),
        response: { 200: z.object({ items: z.array(participantDto) }), ...errorResponses(403) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => participants.findParticipantsByMrn(ctx, req.body.mrn),
        (rows) => ({
          items: rows.map(toParticipantDto),
        }),
      ),
  );
  r.get(
    '/v1/participants/:id',
    {
      schema: {
        operationId: 'getParticipant',
        tags: ['participants'],
        summary: 'Read a participant',
        params: idParams,
        response: { 200: participantDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      withEtag(
        reply,
        execute(
          db,
          req,
          reply,
          200,
          (ctx) => participants.getParticipant(ctx, req.params.id),
          toParticipantDto,
        ),
      ),
  );
  r.patch(
    '/v1/participants/:id',
    {
      schema: {
        operationId: 'updateParticipant',
        tags: ['participants'],
        summary:
          'Correct sex, diagnoses and (roles that may see them) identity fields; needs If-Match with the last ETag',
        params: idParams,
        headers: z.object({ 'if-match': z.string().max(100).optional().describe('the ETag last read') }),
        body: updateParticipantInput,
        response: { 200: participantDto, ...errorResponses(403, 404, 409, 412, 428) },
      },
    },
    async (req, reply) => {
      const expectedVersion = preconditionVersion(req.headers['if-match']);
      const dto = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => participants.updateParticipant(ctx, { id: req.params.id, expectedVersion, patch: req.body }),
        toParticipantDto,
      );
      reply.header('etag', etag(dto.version));
      return dto;
    },
  );

  // Upserts by the hospital's ids: the same body again changes nothing (README, "Upsert by the
  // hospital's ids").
  const codeParams = z.object({ code: protocolCode });
  r.put(
    '/v1/protocols/by-code/:code',
    {
      schema: {
        operationId: 'upsertProtocol',
        tags: ['protocols'],
        summary:
          'Create (201, Location) or update (200) the protocol with this code; the same body again changes nothing. ' +
          'Consent tiers cannot change once it exists (409 IMMUTABLE_FIELD)',
        params: codeParams,
        headers: optionalIfMatch,
        body: upsertProtocolInput,
        response: {
          200: protocolDto.describe('updated, or already as sent'),
          201: protocolDto.describe('created'),
          ...errorResponses(403, 409, 412),
        },
      },
    },
    async (req, reply) => {
      const expectedVersion = optionalPreconditionVersion(req.headers['if-match']);
      const { created, dto } = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => participants.upsertProtocol(ctx, { code: req.params.code, body: req.body, expectedVersion }),
        (u) => ({ created: u.created, dto: toProtocolDto(u.protocol) }),
      );
      answerUpsert(reply, created, `/v1/protocols/${dto.id}`, dto.version);
      return dto;
    },
  );
  r.put(
    '/v1/protocols/by-code/:code/participants/by-lis-patient-id',
    {
      schema: {
        operationId: 'upsertParticipant',
        tags: ['participants'],
        summary:
          'Create (201, Location) or update (200) the participant of this protocol with the LIS patient id of the body ' +
          '(kept only as a keyed hash; in the body so it stays out of URLs and logs); the same body again changes nothing',
        params: codeParams,
        headers: optionalIfMatch,
        body: upsertParticipantInput,
        response: {
          200: participantDto.describe('updated, or already as sent'),
          201: participantDto.describe('created'),
          ...errorResponses(403, 404, 409, 412),
        },
      },
    },
    async (req, reply) => {
      const expectedVersion = optionalPreconditionVersion(req.headers['if-match']);
      const { created, dto } = await execute(
        db,
        req,
        reply,
        200,
        (ctx) =>
          participants.upsertParticipant(ctx, {
            protocolCode: req.params.code,
            body: req.body,
            expectedVersion,
          }),
        (u) => ({ created: u.created, dto: toParticipantDto(u.participant) }),
      );
      answerUpsert(reply, created, `/v1/participants/${dto.id}`, dto.version);
      return dto;
    },
  );
}
