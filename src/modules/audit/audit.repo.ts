import { and, desc, eq, lt, sql, type SQL } from 'drizzle-orm';
import type { Ctx } from '../../context.js';
import { actorLabel } from '../../auth/roles.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { auditLog } from './audit.table.js';

/** What the trail records changes of: the only values `entityType` takes (a filter names one of them). */
export const AUDIT_ENTITY_TYPES = [
  'api_key',
  'collection_protocol',
  'consent',
  'container',
  'import_job',
  'institution',
  'participant',
  'quality_ruleset',
  'sharing_agreement',
  'sharing_request',
  'shipment',
  'specimen',
  'standardization_run',
  'webhook_delivery',
] as const;
export type AuditEntityType = (typeof AUDIT_ENTITY_TYPES)[number];

export interface AuditEntry {
  action: string;
  entityType: AuditEntityType;
  entityId: string;
  institutionId: string | null;
  before?: unknown;
  after?: unknown;
}

/** Strips secrets before they reach the trail: a hash or signing secret is never history. */
export const REDACTED_KEYS = new Set(['tokenHash', 'webhookSecret', 'mrnHash', 'token', 'secret']);
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

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** Values that serialise to the same JSON (rows read twice hold equal dates and documents, not the same objects). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * What `after` changes in `before` when both are records with the same keys: the keys whose
 * values differ. PostgreSQL rebuilds `after` as `before || changes`, so a changed row travels
 * once, not twice. Undefined when `after` has to travel whole.
 */
function changesOf(before: unknown, after: unknown): Record<string, unknown> | undefined {
  if (!isRecord(before) || !isRecord(after)) return undefined;
  const keys = Object.keys(after);
  if (keys.length !== Object.keys(before).length) return undefined;
  const changes: Record<string, unknown> = {};
  for (const k of keys) {
    if (!Object.hasOwn(before, k)) return undefined;
    const a = after[k];
    const b = before[k];
    if (sameJson(a, b)) continue;
    // A key JSON leaves out on one side only is not a value `||` can replace.
    if (a === undefined || b === undefined) return undefined;
    changes[k] = a;
  }
  return changes;
}

const actorRoleOf = (ctx: Ctx) => (ctx.actor.kind === 'api_key' ? ctx.actor.role : null);

/**
 * Appends audit rows in the caller's transaction: they commit or roll back with the change.
 * The rows travel as one JSON parameter (many rows in one statement without a bind parameter per
 * value), serialised once with secrets redacted on the way; an `after` of the same shape as its
 * `before` travels as the keys it changes.
 */
export async function recordAudit(tx: Tx, ctx: Ctx, ...entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const actor = actorLabel(ctx.actor);
  const actorRole = actorRoleOf(ctx);
  const rows = redactedJson(
    entries.map((e) => {
      const changes = changesOf(e.before, e.after);
      return {
        institution_id: e.institutionId,
        actor,
        actor_role: actorRole,
        action: e.action,
        entity_type: e.entityType,
        entity_id: e.entityId,
        before: e.before ?? null,
        ...(changes ? { after_changes: changes } : { after: e.after ?? null }),
        request_id: ctx.requestId,
      };
    }),
  );
  await tx.execute(sql`
    insert into ${auditLog} (institution_id, actor, actor_role, action, entity_type, entity_id, before, after, request_id)
    select institution_id, actor, actor_role, action, entity_type, entity_id, before,
           case when after_changes is null then after else before || after_changes end, request_id
      from jsonb_to_recordset(${rows}::jsonb)
        as r(institution_id uuid, actor text, actor_role text, action text, entity_type text,
             entity_id text, before jsonb, after jsonb, after_changes jsonb, request_id text)`);
}

/**
 * An INSERT of audit rows that PostgreSQL builds from row images it already holds, as part of the
 * caller's statement (the specimen ledger's batch UPDATE, its bulk registration), so the rows never
 * travel as JSON. `rows` selects `institution_id, action, entity_type, entity_id, before, after`
 * (jsonb) in the order the rows are to be written; who and which request come from `ctx`, as in
 * `recordAudit`. Nothing is redacted here: the documents must hold no key of `REDACTED_KEYS`.
 */
export function auditRowsInsertSql(ctx: Ctx, rows: SQL): SQL {
  return sql`
    insert into ${auditLog} (institution_id, actor, actor_role, action, entity_type, entity_id, before, after, request_id)
    select r.institution_id, ${actorLabel(ctx.actor)}, ${actorRoleOf(ctx)}, r.action, r.entity_type, r.entity_id,
           r.before, r.after, ${ctx.requestId}
      from (${rows}) as r`;
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
