import type { ExpectedVersion } from '../../versions.js';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { USES } from '../../vocabulary/uses.js';
import type { Db } from '../../db/client.js';
import { etag, optionalPreconditionVersion, preconditionVersion, withEtag } from '../../http/etag.js';
import { execute } from '../../http/request-context.js';
import {
  POST_ERRORS,
  errorResponses,
  idParams,
  idempotencyHeaders,
  optionalIfMatch,
  pageOf,
  pageQuery,
} from '../../http/schemas.js';
import {
  custodyEventDto,
  aliquotInput,
  barcode,
  checkInInput,
  checkOutInput,
  consumeInput,
  derivativeInput,
  holdInput,
  markFoundInput,
  placementInput,
  plainActionInput,
  receiveInput,
  registerSpecimenInput,
  registerSpecimensInput,
  specimenDto,
  specimenListQuery,
  updateSpecimenInput,
} from './specimens.schemas.js';
import { toCustodyEventDto, toSpecimenDto, type SpecimenView } from './specimens.dto.js';
import type { SpecimenService } from './specimens.service.js';

const lineageDto = z.object({
  specimen: specimenDto,
  ancestors: z.array(specimenDto).describe('root first'),
  descendants: z.array(specimenDto).describe('every generation, parents before children'),
});

const verifyDto = z.object({
  specimenId: z.uuid(),
  events: z.number().int(),
  valid: z.boolean(),
  checked: z.number().int().describe('events verified before the first break'),
  firstBreak: z
    .object({
      seq: z.number().int(),
      eventId: z.number().int(),
      reason: z.string(),
      expected: z.string(),
      found: z.string(),
    })
    .nullable(),
  link: z
    .object({
      providerInstitutionId: z.uuid(),
      shippedEventHash: z.string(),
      matches: z
        .boolean()
        .describe("the provider's chain holds that shipped event for this tube and verifies up to it"),
    })
    .nullable()
    .describe('for a tube received from another institution: its link to the provider’s chain'),
});

/**
 * The custody list's page query. Without `limit` it answers the whole chain (from the cursor on),
 * as it always did; with it, pages of that many events.
 */
const custodyQuery = pageQuery.extend({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(500)
    .optional()
    .describe('events per page; without it, the whole chain (from `cursor` on)'),
});

const childrenDto = z.object({ parent: specimenDto, children: z.array(specimenDto) });

/**
 * The scan lookup's answer: the specimen DTO with the uses the donor's consent allows now. The
 * service writes it as JSON text (see `scanSpecimen`); this schema documents it (OpenAPI), and
 * test/scan-lookup.test.ts holds the text to it.
 */
export const scanDto = specimenDto.extend({
  permittedUses: z.array(z.enum(USES)).describe('uses the donor’s consent allows now (empty while on hold)'),
});
export type ScanDto = z.infer<typeof scanDto>;

export function specimenRoutes(app: FastifyInstance, deps: { db: Db; specimens: SpecimenService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, specimens } = deps;
  const tags = ['specimens'];
  const one = (v: SpecimenView) => toSpecimenDto(v);

  r.post(
    '/v1/specimens',
    {
      schema: {
        operationId: 'registerSpecimen',
        tags,
        summary: 'Register a primary specimen (optionally straight into a box position)',
        headers: idempotencyHeaders,
        body: registerSpecimenInput,
        response: { 201: specimenDto, ...errorResponses(403, 404, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      withEtag(
        reply,
        execute(db, req, reply, 201, (ctx) => specimens.registerSpecimen(ctx, req.body), one),
      ),
  );

  r.post(
    '/v1/specimens/batch',
    {
      schema: {
        operationId: 'registerSpecimens',
        tags,
        summary: 'Register up to 1,000 specimens, all or nothing (per-item errors in `errors`)',
        headers: idempotencyHeaders,
        body: registerSpecimensInput,
        response: { 201: z.object({ items: z.array(specimenDto) }), ...errorResponses(403, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        201,
        (ctx) => specimens.registerSpecimens(ctx, req.body.specimens),
        (v) => ({
          items: v.map(one),
        }),
      ),
  );

  r.get(
    '/v1/specimens',
    {
      schema: {
        operationId: 'listSpecimens',
        tags,
        summary: 'List specimens with filters (type, status, protocol, container subtree, collection dates)',
        querystring: specimenListQuery,
        response: { 200: pageOf(specimenDto), ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => specimens.listSpecimens(ctx, req.query),
        (p) => ({
          items: p.items.map(one),
          nextCursor: p.nextCursor,
        }),
      ),
  );

  r.get(
    '/v1/specimens/by-barcode/:barcode',
    {
      schema: {
        operationId: 'scanSpecimen',
        tags,
        summary: 'Scan lookup: status, holds, type, quantity and the full location path',
        params: z.object({ barcode }),
        response: { 200: scanDto, ...errorResponses(403, 404) },
      },
    },
    async (req, reply) => {
      // The service answers the JSON's bytes (see scanSpecimen): sent as they are, not serialized
      // again, so past the type provider, which expects the object.
      const scan = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => specimens.scanSpecimen(ctx, req.params.barcode),
        (s) => s,
      );
      const raw: FastifyReply = reply;
      return raw.header('etag', etag(scan.version)).type('application/json; charset=utf-8').send(scan.json);
    },
  );

  r.get(
    '/v1/specimens/:id',
    {
      schema: {
        operationId: 'getSpecimen',
        tags,
        summary: 'Read a specimen',
        params: idParams,
        response: { 200: specimenDto, ...errorResponses(403, 404) },
      },
    },
    async (req, reply) => {
      const dto = await execute(db, req, reply, 200, (ctx) => specimens.getSpecimen(ctx, req.params.id), one);
      reply.header('etag', etag(dto.version));
      return dto;
    },
  );

  r.patch(
    '/v1/specimens/:id',
    {
      schema: {
        operationId: 'updateSpecimen',
        tags,
        summary: 'Edit descriptive fields (needs If-Match with the last ETag)',
        params: idParams,
        headers: z.object({ 'if-match': z.string().max(100).optional() }),
        body: updateSpecimenInput,
        response: { 200: specimenDto, ...errorResponses(403, 404, 412, 428) },
      },
    },
    async (req, reply) => {
      const expectedVersion = preconditionVersion(req.headers['if-match']);
      const dto = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => specimens.updateSpecimen(ctx, { id: req.params.id, expectedVersion, patch: req.body }),
        one,
      );
      reply.header('etag', etag(dto.version));
      return dto;
    },
  );

  // Lifecycle actions: one POST each, all answering the specimen after the action.
  const action = <S extends z.ZodType<object>>(
    path: string,
    operationId: string,
    summary: string,
    body: S,
    run: (
      svc: SpecimenService,
      ctx: Parameters<SpecimenService['getSpecimen']>[0],
      id: string,
      input: z.output<S> & { expectedVersion?: ExpectedVersion },
    ) => Promise<SpecimenView>,
  ) =>
    r.post(
      `/v1/specimens/:id/${path}`,
      {
        schema: {
          operationId,
          tags: ['specimen actions'],
          summary,
          headers: idempotencyHeaders.extend(optionalIfMatch.shape),
          params: idParams,
          body,
          response: { 200: specimenDto, ...errorResponses(403, 404, 412, ...POST_ERRORS) },
        },
      },
      (req, reply) => {
        // Optional here: an action needs no precondition, but one sent is held (412 when stale).
        const expectedVersion = optionalPreconditionVersion(req.headers['if-match']);
        return withEtag(
          reply,
          execute(
            db,
            req,
            reply,
            200,
            (ctx) => run(specimens, ctx, req.params.id, { ...(req.body as z.output<S>), expectedVersion }),
            one,
          ),
        );
      },
    );

  action(
    'receive',
    'receiveSpecimen',
    'Receive a registered specimen at the bench',
    receiveInput,
    (s, c, id, i) => s.receiveSpecimen(c, id, i),
  );
  action('store', 'storeSpecimen', 'Store a specimen in a box position', placementInput, (s, c, id, i) =>
    s.storeSpecimen(c, id, i),
  );
  action(
    'move',
    'moveSpecimen',
    'Move a stored specimen to another position',
    placementInput,
    (s, c, id, i) => s.moveSpecimen(c, id, i),
  );
  action(
    'check-out',
    'checkOutSpecimen',
    'Check a specimen out for use (consent is checked for the use)',
    checkOutInput,
    (s, c, id, i) => s.checkOutSpecimen(c, id, i),
  );
  action(
    'check-in',
    'checkInSpecimen',
    'Check a specimen back in (a thaw counts a freeze-thaw cycle)',
    checkInInput,
    (s, c, id, i) => s.checkInSpecimen(c, id, i),
  );
  action('consume', 'consumeSpecimen', 'Use up part of a specimen', consumeInput, (s, c, id, i) =>
    s.consumeSpecimen(c, id, i),
  );
  action('destroy', 'destroySpecimen', 'Destroy a specimen', plainActionInput, (s, c, id, i) =>
    s.destroySpecimen(c, id, i),
  );
  action(
    'mark-missing',
    'markSpecimenMissing',
    'Report a specimen missing',
    plainActionInput,
    (s, c, id, i) => s.markSpecimenMissing(c, id, i),
  );
  action('mark-found', 'markSpecimenFound', 'A missing specimen turned up', markFoundInput, (s, c, id, i) =>
    s.markSpecimenFound(c, id, i),
  );
  action('place-hold', 'placeHold', 'Place a hold (blocks use and sharing)', holdInput, (s, c, id, i) =>
    s.placeHold(c, id, i),
  );
  action('release-hold', 'releaseHold', 'Release a hold', holdInput, (s, c, id, i) =>
    s.releaseHold(c, id, i),
  );

  r.post(
    '/v1/specimens/:id/aliquots',
    {
      schema: {
        operationId: 'aliquotSpecimen',
        tags,
        summary: 'Split a specimen into aliquots in one transaction',
        headers: idempotencyHeaders,
        params: idParams,
        body: aliquotInput,
        response: { 201: childrenDto, ...errorResponses(403, 404, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        201,
        (ctx) => specimens.aliquotSpecimen(ctx, req.params.id, req.body),
        (res) => ({
          parent: one(res.parent),
          children: res.children.map(one),
        }),
      ),
  );

  r.post(
    '/v1/specimens/:id/derivatives',
    {
      schema: {
        operationId: 'deriveSpecimen',
        tags,
        summary: 'Extract derivatives (e.g. DNA or RNA) from a specimen',
        headers: idempotencyHeaders,
        params: idParams,
        body: derivativeInput,
        response: { 201: childrenDto, ...errorResponses(403, 404, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        201,
        (ctx) => specimens.deriveSpecimen(ctx, req.params.id, req.body),
        (res) => ({
          parent: one(res.parent),
          children: res.children.map(one),
        }),
      ),
  );

  r.get(
    '/v1/specimens/:id/lineage',
    {
      schema: {
        operationId: 'getLineage',
        tags,
        summary: 'Ancestors and the descendant tree of a specimen',
        params: idParams,
        response: { 200: lineageDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => specimens.getLineage(ctx, req.params.id),
        (l) => ({
          specimen: one(l.specimen),
          ancestors: l.ancestors.map(one),
          descendants: l.descendants.map(one),
        }),
      ),
  );

  r.get(
    '/v1/specimens/:id/custody',
    {
      schema: {
        operationId: 'getCustody',
        tags: ['custody'],
        summary: 'The custody chain of a specimen, oldest first, paged (pass `nextCursor` back as `cursor`)',
        params: idParams,
        querystring: custodyQuery,
        response: { 200: pageOf(custodyEventDto), ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => specimens.getCustody(ctx, req.params.id, req.query),
        (page) => ({
          items: page.items.map(toCustodyEventDto),
          nextCursor: page.nextCursor,
        }),
      ),
  );

  r.get(
    '/v1/specimens/:id/custody/verify',
    {
      schema: {
        operationId: 'verifyCustody',
        tags: ['custody'],
        summary: 'Recompute the custody hash chain and report where it breaks',
        params: idParams,
        response: { 200: verifyDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => specimens.verifyCustody(ctx, req.params.id),
        (v) => v,
      ),
  );
}
