import { and, desc, eq, lt } from 'drizzle-orm';
import type { Ctx } from '../../context.js';
import { actorLabel } from '../../auth/roles.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { auditLog } from './audit.table.js';

export interface AuditEntry {
  action: string;
  entityType: string;
  entityId: string;
  institutionId: string | null;
  before?: unknown;
  after?: unknown;
}

/** Strips secrets before they reach the trail: a hash or signing secret is never history. */
const REDACTED_KEYS = new Set(['tokenHash', 'webhookSecret', 'mrnHash', 'token', 'secret']);
function redact(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  return JSON.parse(
    JSON.stringify(value, (k, v: unknown) => (REDACTED_KEYS.has(k) && v != null ? '[redacted]' : v)),
  );
}

/** Appends audit rows in the caller's transaction: they commit or roll back with the change. */
export async function recordAudit(tx: Tx, ctx: Ctx, ...entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const actor = actorLabel(ctx.actor);
  const actorRole = ctx.actor.kind === 'api_key' ? ctx.actor.role : null;
  await tx.insert(auditLog).values(
    entries.map((e) => ({
      institutionId: e.institutionId,
      actor,
      actorRole,
      action: e.action,
      entityType: e.entityType,
      entityId: e.entityId,
      before: redact(e.before),
      after: redact(e.after),
      requestId: ctx.requestId,
    })),
  );
}

export async function listAuditEntries(
  db: DbOrTx,
  filter: {
    institutionId: string | null;
    entityType?: string;
    entityId?: string;
    beforeId?: number;
    limit: number;
  },
) {
  const conditions = [
    filter.institutionId ? eq(auditLog.institutionId, filter.institutionId) : undefined,
    filter.entityType ? eq(auditLog.entityType, filter.entityType) : undefined,
    filter.entityId ? eq(auditLog.entityId, filter.entityId) : undefined,
    filter.beforeId ? lt(auditLog.id, filter.beforeId) : undefined,
  ];
  return db
    .select()
    .from(auditLog)
    .where(and(...conditions))
    .orderBy(desc(auditLog.id))
    .limit(filter.limit);
}

export type AuditRow = typeof auditLog.$inferSelect;
