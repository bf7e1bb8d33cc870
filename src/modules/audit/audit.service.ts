import { z } from 'zod';
import type { Ctx } from '../../context.js';
import { authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { decodeCursor, toPage, type Page } from '../../pagination.js';
import { listAuditEntries, type AuditRow } from './audit.repo.js';

export interface AuditQuery {
  entityType?: string;
  entityId?: string;
  cursor?: string;
  limit: number;
}

export function createAuditService(deps: { db: Db }) {
  return {
    /** Lists the trail of the actor's institution, newest first. Throws FORBIDDEN, INVALID_CURSOR. */
    async listAudit(ctx: Ctx, query: AuditQuery): Promise<Page<AuditRow>> {
      authorize(ctx.actor, 'audit.read');
      const beforeId = decodeCursor(query.cursor, z.number().int().positive());
      // Each institution reads its own trail; only a platform-wide system actor reads all of it.
      const institutionId = ctx.actor.institutionId;
      const rows = await listAuditEntries(deps.db, {
        ...query,
        institutionId,
        beforeId,
        limit: query.limit + 1,
      });
      return toPage(
        rows,
        query.limit,
        (r) => r.id,
        (r) => r,
      );
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
