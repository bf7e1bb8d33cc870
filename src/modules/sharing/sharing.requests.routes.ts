import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { etag, preconditionVersion, withEtag } from '../../http/etag.js';
import { execute } from '../../http/request-context.js';
import {
  POST_ERRORS,
  errorResponses,
  idParams,
  idempotencyHeaders,
  pageOf,
  pageQuery,
} from '../../http/schemas.js';
import { toSharingEventDto, toSharingItemDto, toSharingRequestDto } from './sharing.dto.js';
import {
  approveSharingRequestInput,
  cancelSharingRequestInput,
  createSharingRequestInput,
  editSharingProposalInput,
  listSharingRequestsQuery,
  rejectSharingRequestInput,
  sharingEventDto,
  sharingItemDto,
  sharingRequestDto,
  updateSharingRequestInput,
} from './sharing.requests.schemas.js';
import type { SharingService } from './sharing.service.js';
import type { SharingRequestView } from './sharing.requests.js';

export function sharingRequestRoutes(app: FastifyInstance, deps: { db: Db; sharing: SharingService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, sharing } = deps;
  const tags = ['sharing'];
  const base = '/v1/sharing-requests';

  r.post(
    base,
    {
      schema: {
        operationId: 'createSharingRequest',
        tags,
        summary: 'Draft a request for specimens fit for a purpose, under an agreement with the provider',
        headers: idempotencyHeaders,
        body: createSharingRequestInput,
        response: { 201: sharingRequestDto, ...errorResponses(403, 404, ...POST_ERRORS) },
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
          (ctx) => sharing.createSharingRequest(ctx, req.body),
          toSharingRequestDto,
        ),
      ),
  );
  r.get(
    base,
    {
      schema: {
        operationId: 'listSharingRequests',
        tags,
        summary: 'Requests your institution made, or that were made to it',
        querystring: listSharingRequestsQuery,
        response: { 200: pageOf(sharingRequestDto), ...errorResponses(403) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => sharing.listSharingRequests(ctx, req.query),
        (page) => ({ items: page.items.map(toSharingRequestDto), nextCursor: page.nextCursor }),
      ),
  );
  r.get(
    `${base}/:id`,
    {
      schema: {
        operationId: 'getSharingRequest',
        tags,
        summary: 'Read a request, with what your side may do next',
        params: idParams,
        response: { 200: sharingRequestDto, ...errorResponses(403, 404) },
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
          (ctx) => sharing.getSharingRequest(ctx, req.params.id),
          toSharingRequestDto,
        ),
      ),
  );
  r.patch(
    `${base}/:id`,
    {
      schema: {
        operationId: 'updateSharingRequest',
        tags,
        summary: 'Edit a draft request; needs If-Match with the last ETag',
        params: idParams,
        headers: z.object({ 'if-match': z.string().max(100).optional().describe('the ETag last read') }),
        body: updateSharingRequestInput,
        response: { 200: sharingRequestDto, ...errorResponses(403, 404, 409, 412, 422, 428) },
      },
    },
    async (req, reply) => {
      const expectedVersion = preconditionVersion(req.headers['if-match']);
      const dto = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => sharing.updateSharingRequest(ctx, { id: req.params.id, expectedVersion, patch: req.body }),
        toSharingRequestDto,
      );
      reply.header('etag', etag(dto.version));
      return dto;
    },
  );

  /** A POST on `/:id/<verb>` calling one service method with the id and the body. */
  function action<B extends z.ZodType>(
    verb: string,
    operationId: string,
    summary: string,
    body: B,
    run: (
      sharing: SharingService,
      ctx: Parameters<SharingService['getSharingRequest']>[0],
      id: string,
      body: z.output<B>,
    ) => Promise<SharingRequestView>,
  ) {
    r.post(
      `${base}/:id/${verb}`,
      {
        schema: {
          operationId,
          tags,
          summary,
          headers: idempotencyHeaders,
          params: idParams,
          body,
          response: { 200: sharingRequestDto, ...errorResponses(403, 404, ...POST_ERRORS) },
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
            (ctx) => run(sharing, ctx, req.params.id, req.body as z.output<B>),
            toSharingRequestDto,
          ),
        ),
    );
  }
  const empty = z.object({}).strict();

  action(
    'submit',
    'submitSharingRequest',
    'Send a draft to the provider; matching specimens are proposed',
    empty,
    (s, ctx, id) => s.submitSharingRequest(ctx, id),
  );
  action(
    'start-review',
    'startSharingRequestReview',
    'The provider takes the request up for review',
    empty,
    (s, ctx, id) => s.startSharingRequestReview(ctx, id),
  );
  action(
    'propose',
    'proposeSharingItems',
    'The provider tops the proposal up with matching specimens, up to the number asked',
    empty,
    async (s, ctx, id) => (await s.proposeSharingItems(ctx, { id }))!,
  );
  action(
    'proposal',
    'editSharingProposal',
    'The provider adds, removes or swaps proposed specimens, each checked against the request',
    editSharingProposalInput,
    (s, ctx, id, body) => s.editSharingProposal(ctx, { id, ...body }),
  );
  action(
    'approve',
    'approveSharingRequest',
    'Approve and reserve every proposed specimen at once (all or nothing)',
    approveSharingRequestInput,
    (s, ctx, id, body) => s.approveSharingRequest(ctx, { id, ...body }),
  );
  action(
    'reject',
    'rejectSharingRequest',
    'Decline the request, with a reason',
    rejectSharingRequestInput,
    (s, ctx, id, body) => s.rejectSharingRequest(ctx, { id, reason: body.reason }),
  );
  action(
    'cancel',
    'cancelSharingRequest',
    'The requester withdraws the request until it is shipped; reservations are released',
    cancelSharingRequestInput,
    (s, ctx, id, body) => s.cancelSharingRequest(ctx, { id, reason: body.reason }),
  );

  r.get(
    `${base}/:id/items`,
    {
      schema: {
        operationId: 'listSharingRequestItems',
        tags,
        summary: "The request's items: sample and donor codes (the provider also sees its specimens)",
        params: idParams,
        querystring: pageQuery,
        response: { 200: pageOf(sharingItemDto), ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => sharing.listSharingRequestItems(ctx, { id: req.params.id, ...req.query }),
        (page) => ({ items: page.items.map(toSharingItemDto), nextCursor: page.nextCursor }),
      ),
  );
  r.get(
    `${base}/:id/events`,
    {
      schema: {
        operationId: 'listSharingRequestEvents',
        tags,
        summary: "The request's timeline: who did what, when and why, oldest first",
        params: idParams,
        querystring: pageQuery,
        response: { 200: pageOf(sharingEventDto), ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => sharing.listSharingRequestEvents(ctx, { id: req.params.id, ...req.query }),
        (page) => ({ items: page.items.map(toSharingEventDto), nextCursor: page.nextCursor }),
      ),
  );
}
