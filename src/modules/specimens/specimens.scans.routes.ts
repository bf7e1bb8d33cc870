import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { execute } from '../../http/request-context.js';
import { POST_ERRORS, errorResponses, idempotencyHeaders } from '../../http/schemas.js';
import { toSpecimenDto } from './specimens.dto.js';
import { scansInput, type ScanService } from './specimens.scans.js';
import { specimenDto } from './specimens.schemas.js';

/** POST /v1/scans: a batch of bench scans in one transaction (GraphQL: `applyScans`). */
export function scanRoutes(app: FastifyInstance, deps: { db: Db; scans: ScanService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, scans } = deps;

  r.post(
    '/v1/scans',
    {
      schema: {
        operationId: 'applyScans',
        tags: ['specimen actions'],
        summary: 'Apply a batch of scans (receive, store, move, check out, check in) in one transaction',
        headers: idempotencyHeaders,
        body: scansInput,
        response: {
          200: z.object({ items: z.array(specimenDto) }),
          ...errorResponses(403, 404, ...POST_ERRORS),
        },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => scans.applyScans(ctx, req.body.scans),
        (v) => ({ items: v.map(toSpecimenDto) }),
      ),
  );
}
