import { hash, randomBytes } from 'node:crypto';
import { and, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import { instant } from '../clock.js';
import type { Ctx } from '../context.js';
import type { Db } from '../db/client.js';
import { inTransaction } from '../db/transaction.js';
import { invalidExpiry, unauthenticated, validationFailed } from '../errors.js';
import { recordAudit } from '../modules/audit/index.js';
import {
  findInstitutionByCode,
  findInstitutionById,
  institutionNotFound,
  type InstitutionRow,
} from '../modules/institutions/index.js';
import { emitWebhook } from '../modules/webhooks/index.js';
import { apiKeyNotFound, apiKeyRevoked, breakGlassRequired, institutionRequired } from './api-keys.errors.js';
import { apiKeys } from './api-keys.table.js';
import { ROLES, authorize, type ApiKeyActor, type Role } from './roles.js';

export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** What a token looks like: `bbk_<visible id>_<32 random bytes, base64url>`. */
export const TOKEN_PATTERN = /^bbk_([a-z0-9]{10})_([A-Za-z0-9_-]{43})$/;

/** A break-glass key's life: by default, and at most. */
const BREAK_GLASS_DEFAULT_MS = 4 * 3_600_000;
const BREAK_GLASS_MAX_MS = 24 * 3_600_000;

/** Unknown tokens remembered (about 100 bytes each). */
const UNKNOWN_TOKENS_KEPT = 10_000;

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
  breakGlassReason: z
    .string()
    .trim()
    .min(10)
    .max(500)
    .optional()
    .describe(
      "why the operator's admin needs a key for another institution (break glass: audited there, its webhook told, expires within 24 hours)",
    ),
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
  // Tokens looked up and not found, by hash, with when: asking again for the same unknown token
  // costs no query for the cache's lifetime. Bounded: the oldest are forgotten first.
  const unknown = new Map<string, number>();
  const rememberUnknown = (hash: string, now: number) => {
    unknown.delete(hash);
    unknown.set(hash, now);
    if (unknown.size > UNKNOWN_TOKENS_KEPT) unknown.delete(unknown.keys().next().value!);
  };

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
     * The actor of a token verified within the cache's lifetime and not expired, read from memory
     * without a promise; undefined otherwise, and then `authenticate` decides (the hot scan path
     * needs nothing more than this).
     */
    knownActor(token: string | undefined): ApiKeyActor | undefined {
      if (!token) return undefined;
      const hit = cache.get(hashToken(token));
      if (!hit) return undefined;
      const now = clock().getTime();
      const fresh = now - hit.cachedAt < deps.cacheTtlMs && (hit.expiresAt === null || hit.expiresAt > now);
      return fresh ? hit.actor : undefined;
    },

    /**
     * Verifies a bearer token and returns the actor. Throws UNAUTHENTICATED for a missing,
     * malformed, unknown, revoked or expired key (one message: no hint which). `beforeLookup`
     * runs only when the token must be read from the database (the caller's rate limit).
     */
    async authenticate(
      token: string | undefined,
      opts: { beforeLookup?: () => Promise<void> } = {},
    ): Promise<ApiKeyActor> {
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
      const missedAt = unknown.get(hash);
      if (missedAt !== undefined && now - missedAt < deps.cacheTtlMs) throw unauthenticated();
      await opts.beforeLookup?.();
      const [key] = await db.select().from(apiKeys).where(eq(apiKeys.tokenHash, hash));
      const holder = key && !key.revokedAt ? await findInstitutionById(db, key.institutionId) : undefined;
      if (!key || !holder || key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= now)) {
        cache.delete(hash);
        rememberUnknown(hash, now);
        throw unauthenticated();
      }
      unknown.delete(hash);
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
     * Creates a key and returns its token once. An operator admin's key for another institution
     * is a break-glass action (ARCHITECTURE.md section 9): it needs a reason, expires within 24
     * hours, and is recorded in that institution's audit log (`breakGlass`) and sent to its
     * webhook (`security.break_glass`) in the same transaction. Throws FORBIDDEN,
     * INSTITUTION_NOT_FOUND, INVALID_EXPIRY, BREAK_GLASS_REQUIRED, VALIDATION_FAILED.
     */
    async createApiKey(ctx: Ctx, input: CreateApiKeyInput): Promise<{ apiKey: ApiKeyRow; token: string }> {
      authorize(ctx.actor, 'apiKeys.manage');
      const institution = await targetInstitution(ctx, input.institutionId);
      const now = clock().getTime();
      const breakGlass = ctx.actor.kind === 'api_key' && institution.id !== ctx.actor.institutionId;
      if (breakGlass && !input.breakGlassReason) throw breakGlassRequired(institution.code);
      let expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
      if (expiresAt && expiresAt.getTime() <= now) {
        throw invalidExpiry('expiresAt', input.expiresAt ?? '', 'now');
      }
      if (breakGlass) {
        if (expiresAt && expiresAt.getTime() > now + BREAK_GLASS_MAX_MS) {
          throw validationFailed([
            { field: 'expiresAt', message: 'a break-glass key expires within 24 hours', code: 'too_big' },
          ]);
        }
        expiresAt ??= new Date(now + BREAK_GLASS_DEFAULT_MS);
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
        if (breakGlass && ctx.actor.kind === 'api_key') {
          const event = {
            apiKeyId: row.id,
            role: row.role,
            expiresAt: row.expiresAt?.toISOString() ?? null,
            reason: input.breakGlassReason ?? '',
            byInstitution: ctx.actor.institutionCode,
            byApiKeyId: ctx.actor.apiKeyId,
          };
          await recordAudit(tx, ctx, {
            action: 'breakGlass',
            entityType: 'api_key',
            entityId: row.id,
            institutionId: institution.id,
            after: event,
          });
          await emitWebhook(tx, ctx, {
            institutionId: institution.id,
            eventType: 'security.break_glass',
            data: event,
          });
        }
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
      unknown.clear();
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
export type { Role };
