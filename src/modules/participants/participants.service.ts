import { createHmac } from 'node:crypto';
import { and, asc, eq, gt } from 'drizzle-orm';
import { z } from 'zod';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize, can } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { inTransaction } from '../../db/transaction.js';
import { DomainError, conflict, notFound } from '../../errors.js';
import { decodeCursor, encodeCursor, type Page } from '../../http/cursor.js';
import { recordAudit } from '../audit/index.js';
import { CONSENT_TIERS } from '../../vocabulary/consent-tiers.js';
import { SEXES, participants, protocols } from './participants.table.js';

export const createProtocolInput = z.object({
  code: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/, 'letters, digits, _ . - (max 40)'),
  title: z.string().trim().min(1).max(300),
  ethicsApprovalRef: z.string().trim().min(1).max(120),
  consentTiers: z.array(z.enum(CONSENT_TIERS)).max(CONSENT_TIERS.length).default([]),
});

const icd10 = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$/, 'an ICD-10 code such as C50.9');

export const registerParticipantInput = z.object({
  protocolId: z.uuid(),
  protocolParticipantId: z.string().trim().min(1).max(64),
  sex: z.enum(SEXES).default('unknown'),
  birthYear: z
    .number()
    .int()
    .min(1880)
    .refine((y) => y <= new Date().getUTCFullYear(), 'cannot be in the future')
    .optional(),
  diagnoses: z.array(icd10).max(20).default([]),
  mrn: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .optional()
    .describe('hospital record number: only its keyed hash is stored'),
});

import type { ParticipantRow, ProtocolRow } from './participants.repo.js';
export type { ParticipantRow, ProtocolRow };

export interface ParticipantView {
  id: string;
  protocolId: string;
  sex: ParticipantRow['sex'];
  diagnoses: string[];
  /** identity fields: only for roles allowed `participants.identity` */
  identity: { protocolParticipantId: string; birthYear: number | null; hasMrn: boolean } | null;
  createdAt: Date;
  version: number;
}

export function createParticipantService(deps: { db: Db; secret: string }) {
  const { db } = deps;
  const mrnHash = (institutionId: string, mrn: string) =>
    createHmac('sha256', deps.secret).update(`${institutionId}\n${mrn.trim().toUpperCase()}`).digest('hex');

  const toView = (ctx: Ctx, p: ParticipantRow): ParticipantView => ({
    id: p.id,
    protocolId: p.protocolId,
    sex: p.sex,
    diagnoses: p.diagnoses,
    identity: can(ctx.actor, 'participants.identity')
      ? { protocolParticipantId: p.protocolParticipantId, birthYear: p.birthYear, hasMrn: p.mrnHash !== null }
      : null,
    createdAt: p.createdAt,
    version: p.version,
  });

  async function ownProtocol(ctx: Ctx, id: string, field = 'protocolId'): Promise<ProtocolRow> {
    const [row] = await db
      .select()
      .from(protocols)
      .where(and(eq(protocols.id, id), eq(protocols.institutionId, actorInstitutionId(ctx.actor))));
    if (!row)
      throw new DomainError('not_found', 'PROTOCOL_NOT_FOUND', `protocol ${id} was not found`, [
        { field, message: 'unknown protocol' },
      ]);
    return row;
  }

  return {
    /** Throws PROTOCOL_CODE_TAKEN. */
    async createProtocol(ctx: Ctx, input: z.infer<typeof createProtocolInput>): Promise<ProtocolRow> {
      authorize(ctx.actor, 'protocols.manage');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        const [dup] = await tx
          .select()
          .from(protocols)
          .where(and(eq(protocols.institutionId, institutionId), eq(protocols.code, input.code)));
        if (dup) throw conflict('PROTOCOL_CODE_TAKEN', `a protocol with code ${input.code} already exists`);
        const [row] = await tx
          .insert(protocols)
          .values({ id: newId(), institutionId, ...input })
          .returning();
        await recordAudit(tx, ctx, {
          action: 'createProtocol',
          entityType: 'collection_protocol',
          entityId: row!.id,
          institutionId,
          after: row,
        });
        return row!;
      });
    },

    async getProtocol(ctx: Ctx, id: string): Promise<ProtocolRow> {
      authorize(ctx.actor, 'protocols.read');
      return ownProtocol(ctx, id, 'id');
    },

    async listProtocols(ctx: Ctx): Promise<ProtocolRow[]> {
      authorize(ctx.actor, 'protocols.read');
      return db
        .select()
        .from(protocols)
        .where(eq(protocols.institutionId, actorInstitutionId(ctx.actor)))
        .orderBy(asc(protocols.code))
        .limit(1000);
    },

    /** Registers a pseudonymous donor to a protocol. Throws PROTOCOL_NOT_FOUND, PARTICIPANT_EXISTS. */
    async registerParticipant(
      ctx: Ctx,
      input: z.infer<typeof registerParticipantInput>,
    ): Promise<ParticipantView> {
      authorize(ctx.actor, 'participants.manage');
      const institutionId = actorInstitutionId(ctx.actor);
      const protocol = await ownProtocol(ctx, input.protocolId);
      return inTransaction(db, ctx, async (tx) => {
        const [row] = await tx
          .insert(participants)
          .values({
            id: newId(),
            institutionId,
            protocolId: protocol.id,
            protocolParticipantId: input.protocolParticipantId,
            sex: input.sex,
            birthYear: input.birthYear ?? null,
            diagnoses: input.diagnoses,
            mrnHash: input.mrn ? mrnHash(institutionId, input.mrn) : null,
          })
          .returning();
        await recordAudit(tx, ctx, {
          action: 'registerParticipant',
          entityType: 'participant',
          entityId: row!.id,
          institutionId,
          after: row,
        });
        return toView(ctx, row!);
      });
    },

    /** Throws PARTICIPANT_NOT_FOUND. */
    async getParticipant(ctx: Ctx, id: string): Promise<ParticipantView> {
      authorize(ctx.actor, 'participants.read');
      const [row] = await db
        .select()
        .from(participants)
        .where(and(eq(participants.id, id), eq(participants.institutionId, actorInstitutionId(ctx.actor))));
      if (!row) throw notFound('PARTICIPANT_NOT_FOUND', `participant ${id} was not found`);
      return toView(ctx, row);
    },

    async listParticipants(
      ctx: Ctx,
      q: { protocolId?: string; cursor?: string; limit: number },
    ): Promise<Page<ParticipantView>> {
      authorize(ctx.actor, 'participants.read');
      const after = decodeCursor(q.cursor, z.uuid());
      const rows = await db
        .select()
        .from(participants)
        .where(
          and(
            eq(participants.institutionId, actorInstitutionId(ctx.actor)),
            q.protocolId ? eq(participants.protocolId, q.protocolId) : undefined,
            after ? gt(participants.id, after) : undefined,
          ),
        )
        .orderBy(asc(participants.id))
        .limit(q.limit + 1);
      const more = rows.length > q.limit;
      const page = more ? rows.slice(0, q.limit) : rows;
      return {
        items: page.map((p) => toView(ctx, p)),
        nextCursor: more ? encodeCursor(page.at(-1)!.id) : null,
      };
    },

    /** LIS matching: participants of the institution with this MRN (the MRN itself is not stored). */
    async findParticipantsByMrn(ctx: Ctx, mrn: string): Promise<ParticipantView[]> {
      authorize(ctx.actor, 'participants.identity');
      const institutionId = actorInstitutionId(ctx.actor);
      const rows = await db
        .select()
        .from(participants)
        .where(
          and(
            eq(participants.institutionId, institutionId),
            eq(participants.mrnHash, mrnHash(institutionId, mrn)),
          ),
        );
      return rows.map((p) => toView(ctx, p));
    },
  };
}

export type ParticipantService = ReturnType<typeof createParticipantService>;
