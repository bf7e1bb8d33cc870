import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { withEtag } from '../../http/etag.js';
import { execute } from '../../http/request-context.js';
import { POST_ERRORS, errorResponses, idParams, idempotencyHeaders } from '../../http/schemas.js';
import { toSharingRequestDto } from './sharing.dto.js';
import { sharingRequestDto } from './sharing.requests.schemas.js';
import type { SharingService } from './sharing.service.js';
import { toPickLineDto, toScanOutResultDto, toShipmentDto } from './sharing.shipments.dto.js';
import {
  dispatchSharingShipmentInput,
  pickListDto,
  receiveSharingItemsInput,
  scanOutResultDto,
  scanOutSharingItemInput,
  shipmentDto,
} from './sharing.shipments.schemas.js';

// REST for a request's shipment: /v1/sharing-requests/{id}/shipment and its actions, and the
// requester's completion of a received request. Each route calls one service method.

export function sharingShipmentRoutes(app: FastifyInstance, deps: { db: Db; sharing: SharingService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, sharing } = deps;
  const tags = ['sharing'];
  const base = '/v1/sharing-requests/:id/shipment';
  const empty = z.object({}).strict();

  r.post(
    base,
    {
      schema: {
        operationId: 'createSharingShipment',
        tags,
        summary: 'The provider prepares the shipment of a reserved request: manifest and pick list',
        headers: idempotencyHeaders,
        params: idParams,
        body: empty,
        response: { 201: shipmentDto, ...errorResponses(403, 404, ...POST_ERRORS) },
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
          (ctx) => sharing.createSharingShipment(ctx, req.params.id),
          toShipmentDto,
        ),
      ),
  );
  r.get(
    base,
    {
      schema: {
        operationId: 'getSharingShipment',
        tags,
        summary: 'The shipment and its manifest (each side sees only its own specimens in it)',
        params: idParams,
        response: { 200: shipmentDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      withEtag(
        reply,
        execute(db, req, reply, 200, (ctx) => sharing.getSharingShipment(ctx, req.params.id), toShipmentDto),
      ),
  );
  r.get(
    `${base}/pick-list`,
    {
      schema: {
        operationId: 'getSharingPickList',
        tags,
        summary: 'The provider’s reserved tubes still to scan out, by freezer, rack, box and position',
        params: idParams,
        response: { 200: pickListDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => sharing.getSharingPickList(ctx, req.params.id),
        (p) => ({ requestId: p.requestId, lines: p.lines.map(toPickLineDto) }),
      ),
  );
  r.post(
    `${base}/scan-out`,
    {
      schema: {
        operationId: 'scanOutSharingItem',
        tags,
        summary: 'Scan one tube out into the shipment (consent checked again; its position is freed)',
        headers: idempotencyHeaders,
        params: idParams,
        body: scanOutSharingItemInput,
        response: { 200: scanOutResultDto, ...errorResponses(403, 404, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => sharing.scanOutSharingItem(ctx, { id: req.params.id, ...req.body }),
        toScanOutResultDto,
      ),
  );
  r.post(
    `${base}/dispatch`,
    {
      schema: {
        operationId: 'dispatchSharingShipment',
        tags,
        summary: 'Send the shipment with its courier, tracking number and shipping temperature',
        headers: idempotencyHeaders,
        params: idParams,
        body: dispatchSharingShipmentInput,
        response: { 200: shipmentDto, ...errorResponses(403, 404, ...POST_ERRORS) },
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
          (ctx) => sharing.dispatchSharingShipment(ctx, { id: req.params.id, ...req.body }),
          toShipmentDto,
        ),
      ),
  );
  r.post(
    `${base}/receipt`,
    {
      schema: {
        operationId: 'receiveSharingItems',
        tags,
        summary:
          'The receiving side confirms items as received, damaged, missing or after a temperature excursion',
        headers: idempotencyHeaders,
        params: idParams,
        body: receiveSharingItemsInput,
        response: { 200: shipmentDto, ...errorResponses(403, 404, ...POST_ERRORS) },
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
          (ctx) => sharing.receiveSharingItems(ctx, { id: req.params.id, ...req.body }),
          toShipmentDto,
        ),
      ),
  );
  r.post(
    '/v1/sharing-requests/:id/complete',
    {
      schema: {
        operationId: 'completeSharingRequest',
        tags,
        summary: 'The requester closes a received request',
        headers: idempotencyHeaders,
        params: idParams,
        body: empty,
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
          (ctx) => sharing.completeSharingRequest(ctx, req.params.id),
          toSharingRequestDto,
        ),
      ),
  );
}
