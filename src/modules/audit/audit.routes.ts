import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { execute } from '../../http/request-context.js';
import { errorResponses, pageOf, pageQuery } from '../../http/schemas.js';
import { AUDIT_ENTITY_TYPES, type AuditRow } from './audit.repo.js';
import type { AuditService } from './audit.service.js';

export const auditEntryDto = z.object({
  id: z.number().int(),
  institutionId: z.uuid().nullable(),
  actor: z.string(),
  actorRole: z.string().nullable(),
  action: z.string(),
  entityType: z.string(),
  entityId: z.string(),
  before: z.unknown().nullable(),
  after: z.unknown().nullable(),
  requestId: z.string(),
  recordedAt: z.iso.datetime(),
});

export const toAuditEntryDto = (r: AuditRow): z.infer<typeof auditEntryDto> => ({
  ...r,
  before: r.before ?? null,
  after: r.after ?? null,
  recordedAt: r.recordedAt.toISOString(),
});

export function auditRoutes(app: FastifyInstance, deps: { db: Db; audit: AuditService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    '/v1/audit',
    {
      schema: {
        operationId: 'listAudit',
        tags: ['audit'],
        summary: "The institution's audit trail, newest first (admins and managers)",
        querystring: pageQuery.extend({
          entityType: z.enum(AUDIT_ENTITY_TYPES).optional().describe('only changes of this kind of record'),
          entityId: z.string().max(120).optional(),
        }),
        response: { 200: pageOf(auditEntryDto), ...errorResponses(403) },
      },
    },
    (req, reply) =>
      execute(
        deps.db,
        req,
        reply,
        200,
        (ctx) => deps.audit.listAudit(ctx, req.query),
        (page) => ({
          items: page.items.map(toAuditEntryDto),
          nextCursor: page.nextCursor,
        }),
      ),
  );
}
