import { hash, randomBytes } from 'node:crypto';
import { and, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import { instant } from '../clock.js';
import type { Ctx } from '../context.js';
import type { Db } from '../db/client.js';
import { inTransaction } from '../db/transaction.js';
import { invalidExpiry, unauthenticated } from '../errors.js';
import { recordAudit } from '../modules/audit/index.js';
import {
  findInstitutionByCode,
  findInstitutionById,
  institutionNotFound,
  type InstitutionRow,
} from '../modules/institutions/index.js';
import { apiKeyNotFound, apiKeyRevoked, institutionRequired } from './api-keys.errors.js';
import { apiKeys } from './api-keys.table.js';
import { ROLES, authorize, type ApiKeyActor, type Role } from './roles.js';

export type ApiKeyRow = typeof apiKeys.$inferSelect;

const TOKEN_PATTERN = /^bbk_([a-z0-9]{10})_([A-Za-z0-9_-]{43})$/;

export const hashToken = (token: string) => hash('sha256', token);

/** `bbk_<visible id>_<32 random bytes>`; the visible id lets admins tell keys apart in lists. */
export function newToken(): { token: string; prefix: string } {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const prefix = Array.from(randomBytes(10), (b) => alphabet[b % alphabet.length]).join('');
  return { token: `bbk_${prefix}_${randomBytes(32).toString('base64url')}`, prefix };
}

export const createApiKeyInput = z.object({
  name: z.string().trim().min(1).max(120),
  role: z.enum(ROLES),
  /** defaults to the caller's institution; the operator's admins may create keys for others */
  institutionId: z.uuid().optional(),
  expiresAt: instant.optional(),
});
export type CreateApiKeyInput = z.infer<typeof createApiKeyInput>;

export interface ApiKeyServiceDeps {
  db: Db;
  clock?: () => Date;
  /** how long a verified key is trusted from memory (config AUTH_CACHE_TTL_MS) */
  cacheTtlMs: number;
}

interface CachedKey {
  actor: ApiKeyActor;
  expiresAt: number | null;
  cachedAt: number;
}

export function createApiKeyService(deps: ApiKeyServiceDeps) {
  const { db } = deps;
  const clock = deps.clock ?? (() => new Date());
  // Verified keys by token hash: the hot scan path then costs no authentication query.
  const cache = new Map<string, CachedKey>();

  async function targetInstitution(ctx: Ctx, institutionId: string | undefined): Promise<InstitutionRow> {
    const a = ctx.actor;
    const id = institutionId ?? a.institutionId;
    if (!id) throw institutionRequired();
    const mayActForOthers = a.kind === 'system' ? a.institutionId === null : a.operator && a.role === 'admin';
    const row = await findInstitutionById(db, id);
    if (!row || (row.id !== a.institutionId && !mayActForOthers)) {
      throw institutionNotFound(id);
    }
    return row;
  }

  return {
    /**
     * Verifies a bearer token and returns the actor. Throws UNAUTHENTICATED for a missing,
     * malformed, unknown, revoked or expired key (one message: no hint which).
     */
    async authenticate(token: string | undefined): Promise<ApiKeyActor> {
      if (!token) throw unauthenticated();
      const hash = hashToken(token);
      const now = clock().getTime();
      const hit = cache.get(hash);
      if (hit && now - hit.cachedAt < deps.cacheTtlMs) {
        if (hit.expiresAt !== null && hit.expiresAt <= now) throw unauthenticated();
        return hit.actor;
      }
      // Only a well-formed token is looked up (a cached one was well formed).
      if (!TOKEN_PATTERN.test(token)) throw unauthenticated();
      const [key] = await db.select().from(apiKeys).where(eq(apiKeys.tokenHash, hash));
      const holder = key && !key.revokedAt ? await findInstitutionById(db, key.institutionId) : undefined;
      if (!key || !holder || key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= now)) {
        cache.delete(hash);
        throw unauthenticated();
      }
      const actor: ApiKeyActor = {
        kind: 'api_key',
        apiKeyId: key.id,
        name: key.name,
        institutionId: key.institutionId,
        institutionCode: holder.code,
        role: key.role,
        operator: holder.operator,
      };
      cache.set(hash, { actor, expiresAt: key.expiresAt?.getTime() ?? null, cachedAt: now });
      // Last use at minute resolution: one small write per key per minute, not per request.
      await db
        .update(apiKeys)
        .set({ lastUsedAt: sql`now()` })
        .where(
          and(
            eq(apiKeys.id, key.id),
            or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`)),
          ),
        );
      return actor;
    },

    /**
     * Creates a key and returns its token once. Throws FORBIDDEN, INSTITUTION_NOT_FOUND,
     * INVALID_EXPIRY.
     */
    async createApiKey(ctx: Ctx, input: CreateApiKeyInput): Promise<{ apiKey: ApiKeyRow; token: string }> {
      authorize(ctx.actor, 'apiKeys.manage');
      const institution = await targetInstitution(ctx, input.institutionId);
      const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
      if (expiresAt && expiresAt.getTime() <= clock().getTime()) {
        throw invalidExpiry('expiresAt', input.expiresAt ?? '', 'now');
      }
      const { token, prefix } = newToken();
      // The transaction answers the token too: an Idempotency-Key stores the answer with the effect.
      return inTransaction(db, ctx, async (tx) => {
        const [row] = await tx
          .insert(apiKeys)
          .values({
            institutionId: institution.id,
            name: input.name,
            role: input.role,
            prefix,
            tokenHash: hashToken(token),
            createdBy:
              ctx.actor.kind === 'api_key' ? `api_key:${ctx.actor.apiKeyId}` : `system:${ctx.actor.name}`,
            expiresAt,
          })
          .returning();
        if (!row) throw new Error('insert returned no row');
        await recordAudit(tx, ctx, {
          action: 'createApiKey',
          entityType: 'api_key',
          entityId: row.id,
          institutionId: institution.id,
          after: row,
        });
        return { apiKey: row, token };
      });
    },

    /** Keys of the actor's institution, newest first, without secrets. */
    async listApiKeys(ctx: Ctx, opts: { institutionId?: string }): Promise<ApiKeyRow[]> {
      authorize(ctx.actor, 'apiKeys.manage');
      const institution = await targetInstitution(ctx, opts.institutionId);
      return db
        .select()
        .from(apiKeys)
        .where(eq(apiKeys.institutionId, institution.id))
        .orderBy(desc(apiKeys.id));
    },

    /** Revokes a key at once. Throws API_KEY_NOT_FOUND, API_KEY_REVOKED. */
    async revokeApiKey(ctx: Ctx, id: string): Promise<ApiKeyRow> {
      authorize(ctx.actor, 'apiKeys.manage');
      const revoked = await inTransaction(db, ctx, async (tx) => {
        const [before] = await tx.select().from(apiKeys).where(eq(apiKeys.id, id)).for('update');
        const a = ctx.actor;
        const visible =
          before &&
          (a.institutionId === before.institutionId ||
            (a.kind === 'system' ? a.institutionId === null : a.operator && a.role === 'admin'));
        if (!before || !visible) throw apiKeyNotFound(id);
        if (before.revokedAt) throw apiKeyRevoked(id);
        const [after] = await tx
          .update(apiKeys)
          .set({ revokedAt: sql`now()` })
          .where(eq(apiKeys.id, id))
          .returning();
        if (!after) throw new Error('update returned no row');
        await recordAudit(tx, ctx, {
          action: 'revokeApiKey',
          entityType: 'api_key',
          entityId: id,
          institutionId: after.institutionId,
          before,
          after,
        });
        return after;
      });
      cache.delete(revoked.tokenHash);
      return revoked;
    },

    /** For the command line: resolves an institution code. Throws INSTITUTION_NOT_FOUND. */
    async institutionIdByCode(code: string): Promise<string> {
      const row = await findInstitutionByCode(db, code);
      if (!row) throw institutionNotFound(code);
      return row.id;
    },

    /** Forgets verified keys, e.g. when another process revoked one (tests call it too). */
    forgetCachedKeys(): void {
      cache.clear();
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
export type { Role };
