import { randomBytes } from 'node:crypto';
import type { Ctx } from '../../context.js';
import { authorize } from '../../auth/roles.js';
import type { Db, DbOrTx } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { versionConflict } from '../../errors.js';
import { institutionCodeTaken, institutionNotFound } from './institutions.errors.js';
import { recordAudit } from '../audit/index.js';
import type { CreateInstitutionInput, UpdateInstitutionInput } from './institutions.schemas.js';
import {
  findInstitutionByCode,
  findInstitutionById,
  findInstitutionsByIds,
  insertInstitution,
  listInstitutionRows,
  updateInstitutionRow,
  type InstitutionRow,
} from './institutions.repo.js';
import { resolveVersion, type ExpectedVersion } from '../../versions.js';
import { decodeCursor, toPage, type Page } from '../../pagination.js';
import { z } from 'zod';

/** Standard Webhooks secret: `whsec_` + base64 of 24 random bytes. */
export const newWebhookSecret = () => 'whsec_' + randomBytes(24).toString('base64');

async function listInstitutionsOf(
  db: Db,
  ctx: Ctx,
  opts: { afterCode?: string; limit: number },
): Promise<InstitutionRow[]> {
  authorize(ctx.actor, 'institutions.read');
  const a = ctx.actor;
  const all = a.kind === 'system' ? a.institutionId === null : a.operator && a.role === 'admin';
  return listInstitutionRows(db, { ...opts, onlyId: all ? undefined : (a.institutionId ?? undefined) });
}

/** May the actor see this institution? Its own, or any for the operator's admins and the system. */
function visibleTo(ctx: Ctx, row: InstitutionRow): boolean {
  const a = ctx.actor;
  if (a.kind === 'system') return a.institutionId === null || a.institutionId === row.id;
  return a.institutionId === row.id || (a.operator && a.role === 'admin');
}

export function createInstitutionService(deps: {
  db: Db;
  /** Throws WEBHOOK_URL_REFUSED for a URL webhooks may not reach (the webhooks module's rule). */
  checkWebhookUrl: (url: string) => Promise<void>;
}) {
  const { db } = deps;

  async function load(
    ctx: Ctx,
    handle: DbOrTx,
    id: string,
    opts: { lock?: boolean } = {},
  ): Promise<InstitutionRow> {
    const row = await findInstitutionById(handle, id, opts);
    if (!row || !visibleTo(ctx, row)) throw institutionNotFound(id);
    return row;
  }
  const listInstitutions = (ctx: Ctx, opts: { afterCode?: string; limit: number }) =>
    listInstitutionsOf(db, ctx, opts);

  return {
    /**
     * Creates an institution. Only the operator's admins (and the command line) may.
     * Throws FORBIDDEN, INSTITUTION_CODE_TAKEN.
     */
    async createInstitution(
      ctx: Ctx,
      input: CreateInstitutionInput & { operator?: boolean },
    ): Promise<InstitutionRow> {
      authorize(ctx.actor, 'institutions.create');
      // Only the command line designates the operator; an API caller cannot promote anyone.
      const operator = ctx.actor.kind === 'system' && input.operator === true;
      return inTransaction(db, ctx, async (tx) => {
        if (await findInstitutionByCode(tx, input.code)) {
          throw institutionCodeTaken(input.code);
        }
        const row = await insertInstitution(tx, {
          code: input.code,
          name: input.name,
          kind: input.kind,
          operator,
        });
        await recordAudit(tx, ctx, {
          action: 'createInstitution',
          entityType: 'institution',
          entityId: row.id,
          institutionId: ctx.actor.institutionId ?? row.id,
          after: row,
        });
        return row;
      });
    },

    /** Throws INSTITUTION_NOT_FOUND (also for another institution's id). */
    async getInstitution(ctx: Ctx, id: string): Promise<InstitutionRow> {
      authorize(ctx.actor, 'institutions.read');
      return load(ctx, db, id);
    },

    /** The institutions among `ids` the actor may see, in one query (for loaders); unknown ids are left out. */
    async getInstitutionsByIds(ctx: Ctx, ids: readonly string[]): Promise<InstitutionRow[]> {
      authorize(ctx.actor, 'institutions.read');
      const rows = await findInstitutionsByIds(db, [...new Set(ids)]);
      return rows.filter((r) => visibleTo(ctx, r));
    },

    /** The actor's own institution, or all of them for the operator's admins. */
    listInstitutions,

    /**
     * A page of them in code order, with the cursor of the next (REST, as every list pages).
     * `afterCode` is the older way to page, kept for clients that send it. Throws INVALID_CURSOR.
     */
    async listInstitutionPage(
      ctx: Ctx,
      opts: { cursor?: string; afterCode?: string; limit: number },
    ): Promise<Page<InstitutionRow>> {
      const afterCode = decodeCursor(opts.cursor, z.string()) ?? opts.afterCode;
      const rows = await listInstitutions(ctx, { afterCode, limit: opts.limit + 1 });
      return toPage(
        rows,
        opts.limit,
        (r) => r.code,
        (r) => r,
      );
    },

    /**
     * Updates name or webhook URL of the actor's institution. A first webhook URL gets a signing
     * secret, returned once. Throws INSTITUTION_NOT_FOUND, FORBIDDEN, VERSION_CONFLICT,
     * WEBHOOK_URL_REFUSED.
     */
    async updateInstitution(
      ctx: Ctx,
      input: {
        id: string;
        expectedVersion: ExpectedVersion;
        patch: UpdateInstitutionInput;
        rotateWebhookSecret?: boolean;
      },
    ): Promise<{ institution: InstitutionRow; webhookSecret: string | null }> {
      authorize(ctx.actor, 'institutions.update');
      // Resolved before the transaction: no connection is held while DNS answers.
      if (input.patch.webhookUrl) await deps.checkWebhookUrl(input.patch.webhookUrl);
      return inTransaction(db, ctx, async (tx) => {
        // Locked: `If-Match: *` resolves to the version this edit replaces.
        const before = await load(ctx, tx, input.id, { lock: true });
        if (ctx.actor.kind === 'api_key' && ctx.actor.institutionId !== before.id) {
          throw institutionNotFound(input.id);
        }
        const url = input.patch.webhookUrl === undefined ? before.webhookUrl : input.patch.webhookUrl;
        const needsSecret =
          url !== null && (before.webhookSecret === null || input.rotateWebhookSecret === true);
        const webhookSecret = needsSecret ? newWebhookSecret() : null;
        const expected = resolveVersion(input.expectedVersion, before.version);
        const after = await updateInstitutionRow(tx, before.id, expected, {
          name: input.patch.name ?? before.name,
          webhookUrl: url,
          // No URL, no secret: the next URL gets a new one, returned once, as a first URL does.
          ...(webhookSecret ? { webhookSecret } : url === null ? { webhookSecret: null } : {}),
        });
        if (!after) {
          throw versionConflict(`institution ${before.code}`, expected, before.version);
        }
        await recordAudit(tx, ctx, {
          action: 'updateInstitution',
          entityType: 'institution',
          entityId: after.id,
          institutionId: after.id,
          before,
          after,
        });
        return { institution: after, webhookSecret };
      });
    },
  };
}

export type InstitutionService = ReturnType<typeof createInstitutionService>;
