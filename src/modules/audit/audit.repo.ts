import { and, desc, eq, lt, sql } from 'drizzle-orm';
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
const redactSecrets = (key: string, value: unknown) =>
  REDACTED_KEYS.has(key) && value != null ? '[redacted]' : value;
/** How each of those keys reads in JSON text (an escaped one inside a string reads so too). */
const REDACTED_KEY_TEXTS = [...REDACTED_KEYS].map((k) => `"${k}":`);

/**
 * The rows as JSON with secrets redacted. Most batches hold no such key (a rack scan's 192
 * specimen rows): those are serialised without a replacer, which costs a JavaScript call per value.
 */
function redactedJson(rows: unknown): string {
  const plain = JSON.stringify(rows);
  return REDACTED_KEY_TEXTS.some((k) => plain.includes(k)) ? JSON.stringify(rows, redactSecrets) : plain;
}

/**
 * Appends audit rows in the caller's transaction: they commit or roll back with the change.
 * The rows travel as one JSON parameter (a 96-tube rack scan writes 96 rows in one statement
 * without 1,000 bind parameters), serialised once with secrets redacted on the way.
 */
export async function recordAudit(tx: Tx, ctx: Ctx, ...entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const actor = actorLabel(ctx.actor);
  const actorRole = ctx.actor.kind === 'api_key' ? ctx.actor.role : null;
  const rows = redactedJson(
    entries.map((e) => ({
      institution_id: e.institutionId,
      actor,
      actor_role: actorRole,
      action: e.action,
      entity_type: e.entityType,
      entity_id: e.entityId,
      before: e.before ?? null,
      after: e.after ?? null,
      request_id: ctx.requestId,
    })),
  );
  await tx.execute(sql`
    insert into ${auditLog} (institution_id, actor, actor_role, action, entity_type, entity_id, before, after, request_id)
    select institution_id, actor, actor_role, action, entity_type, entity_id, before, after, request_id
      from jsonb_populate_recordset(null::audit_log, ${rows}::jsonb)`);
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
