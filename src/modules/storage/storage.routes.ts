import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { etag, preconditionVersion, withEtag } from '../../http/etag.js';
import { execute } from '../../http/request-context.js';
import { POST_ERRORS, errorResponses, idParams, idempotencyHeaders } from '../../http/schemas.js';
import { SPECIMEN_TYPES } from '../../vocabulary/specimen-types.js';
import {
  containerDto,
  createContainerInput,
  listContainersQuery,
  moveContainerInput,
  rackScanInput,
  updateContainerInput,
} from './storage.schemas.js';
import { containerViewDto, toContainerMapDto } from './storage.dto.js';
import type { StorageService } from './storage.service.js';
import { MAP_COLOUR_BY } from './container-map.svg.js';

const mapDto = z.object({
  container: containerDto,
  rows: z.number().int(),
  cols: z.number().int(),
  occupied: z.number().int(),
  svgUrl: z.string().describe('the same map drawn as SVG (getContainerMapSvg)'),
  positions: z.array(
    z.object({
      position: z.string(),
      row: z.number().int(),
      col: z.number().int(),
      occupant: z
        .object({
          kind: z.enum(['specimen', 'container']),
          id: z.uuid(),
          barcode: z.string(),
          type: z.string().optional(),
          status: z.string().optional(),
          holds: z.array(z.string()).optional(),
        })
        .nullable(),
    }),
  ),
});

const entry = z.object({ position: z.string(), barcode: z.string(), specimenId: z.uuid() });
const rackScanDto = z.object({
  containerId: z.uuid(),
  applied: z.boolean(),
  matched: z.array(entry),
  movedIn: z.array(entry.extend({ from: z.string().nullable() })),
  unknown: z.array(z.object({ position: z.string(), barcode: z.string() })),
  missing: z.array(entry),
  errors: z
    .array(z.object({ position: z.string(), message: z.string() }))
    .describe(
      'what would refuse the apply (a tube that may not move here, a position an unread tube still holds): ' +
        'a dry run lists it; applying refuses instead (RACK_SCAN_REJECTED naming readings.N.barcode, ' +
        'POSITION_OCCUPIED naming readings.N.position)',
    ),
});

export function storageRoutes(app: FastifyInstance, deps: { db: Db; storage: StorageService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, storage } = deps;
  const tags = ['storage'];

  r.post(
    '/v1/containers',
    {
      schema: {
        operationId: 'createContainer',
        tags,
        summary: 'Create a site, freezer, LN2 tank, rack, shelf, box or plate',
        headers: idempotencyHeaders,
        body: createContainerInput,
        response: { 201: containerDto, ...errorResponses(403, 404, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      withEtag(
        reply,
        execute(db, req, reply, 201, (ctx) => storage.createContainer(ctx, req.body), containerViewDto),
      ),
  );
  r.get(
    '/v1/containers',
    {
      schema: {
        operationId: 'listContainers',
        tags,
        summary: 'Children of a container, or the top-level containers',
        querystring: listContainersQuery,
        response: { 200: z.object({ items: z.array(containerDto) }), ...errorResponses(403) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => storage.listContainers(ctx, req.query),
        (v) => ({ items: v.map(containerViewDto) }),
      ),
  );
  r.get(
    '/v1/containers/:id',
    {
      schema: {
        operationId: 'getContainer',
        tags,
        summary: 'Read a container',
        params: idParams,
        response: { 200: containerDto, ...errorResponses(403, 404) },
      },
    },
    async (req, reply) => {
      const dto = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => storage.getContainer(ctx, req.params.id),
        containerViewDto,
      );
      reply.header('etag', etag(dto.version));
      return dto;
    },
  );
  r.patch(
    '/v1/containers/:id',
    {
      schema: {
        operationId: 'updateContainer',
        tags,
        summary:
          'Rename a container, set its temperature or the specimen types allowed in it (If-Match required)',
        params: idParams,
        headers: z.object({ 'if-match': z.string().max(100).optional() }),
        body: updateContainerInput,
        response: { 200: containerDto, ...errorResponses(403, 404, 412, 422, 428) },
      },
    },
    async (req, reply) => {
      const expectedVersion = preconditionVersion(req.headers['if-match']);
      const dto = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => storage.updateContainer(ctx, { id: req.params.id, expectedVersion, patch: req.body }),
        containerViewDto,
      );
      reply.header('etag', etag(dto.version));
      return dto;
    },
  );
  r.get(
    '/v1/containers/:id/map',
    {
      schema: {
        operationId: 'getContainerMap',
        tags,
        summary: 'The grid of a box (tubes) or rack (boxes) with occupants',
        params: idParams,
        response: { 200: mapDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(db, req, reply, 200, (ctx) => storage.getContainerMap(ctx, req.params.id), toContainerMapDto),
  );
  r.get(
    '/v1/containers/:id/map.svg',
    {
      schema: {
        operationId: 'getContainerMapSvg',
        tags,
        summary:
          'The map drawn as SVG: the grid coloured by type or status, holds ringed, a legend, tooltips',
        params: idParams,
        querystring: z.object({
          colourBy: z.enum(MAP_COLOUR_BY).default('type').describe('colour tubes by specimen type or status'),
        }),
        response: { 200: z.string().describe('image/svg+xml'), ...errorResponses(403, 404) },
      },
    },
    async (req, reply) => {
      const svg = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => storage.getContainerMapSvg(ctx, { id: req.params.id, colourBy: req.query.colourBy }),
        (svg) => svg,
      );
      const raw: FastifyReply = reply;
      // Opened on its own, the picture may draw and style itself, nothing else (no script runs).
      return raw
        .type('image/svg+xml; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
        .send(svg);
    },
  );
  r.get(
    '/v1/containers/:id/free-positions',
    {
      schema: {
        operationId: 'getFreePositions',
        tags,
        summary: 'The next N free positions in the subtree, in fill order',
        params: idParams,
        querystring: z.object({
          count: z.coerce.number().int().min(1).max(1000).default(1),
          type: z.enum(SPECIMEN_TYPES).optional(),
        }),
        response: {
          200: z.object({
            items: z.array(
              z.object({
                containerId: z.uuid(),
                containerBarcode: z.string(),
                position: z.string(),
                path: z.string(),
              }),
            ),
          }),
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
        (ctx) => storage.getFreePositions(ctx, req.params.id, req.query),
        (items) => ({ items }),
      ),
  );
  r.post(
    '/v1/containers/:id/move',
    {
      schema: {
        operationId: 'moveContainer',
        tags,
        summary: 'Move a box or rack; every tube inside records the move',
        headers: idempotencyHeaders,
        params: idParams,
        body: moveContainerInput,
        response: { 200: containerDto, ...errorResponses(403, 404, ...POST_ERRORS) },
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
          (ctx) => storage.moveContainer(ctx, req.params.id, req.body),
          containerViewDto,
        ),
      ),
  );
  r.post(
    '/v1/containers/:id/rack-scan',
    {
      schema: {
        operationId: 'rackScan',
        tags,
        summary:
          'Reconcile a rack scanner reading: matched, moved in, unknown, missing; `apply` records the moves',
        headers: idempotencyHeaders,
        params: idParams,
        body: rackScanInput,
        response: { 200: rackScanDto, ...errorResponses(403, 404, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => storage.rackScan(ctx, req.params.id, req.body),
        (x) => x,
      ),
  );
}
