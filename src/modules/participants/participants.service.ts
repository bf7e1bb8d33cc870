import { z } from 'zod';
import { listedOnce } from '../../vocabulary/lists.js';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { lockNaturalKey } from '../../db/natural-keys.js';
import { inTransaction } from '../../db/transaction.js';
import { versionConflict } from '../../errors.js';
import { decodeCursor, toPage, type Page } from '../../pagination.js';
import { recordAudit } from '../audit/index.js';
import { CONSENT_TIERS } from '../../vocabulary/consent-tiers.js';
import { DEFAULT_DISEASE_AREA, DISEASE_AREAS, type DiseaseArea } from '../../vocabulary/disease-areas.js';
import { participantNotFound, protocolCodeTaken, protocolNotFound } from './participants.errors.js';
import {
  findParticipant,
  findParticipantsByMrnHash,
  findProtocol,
  findProtocolByCodeInAnyCase,
  insertParticipant,
  insertProtocol,
  listProtocolRows,
  listParticipantRows,
  updateParticipantRow,
  updateProtocolRow,
} from './participants.repo.js';
import { SEXES } from './participants.table.js';
import { toParticipantView } from './participants.dto.js';
import { hospitalIdHashes } from './participants.hashes.js';
import { createParticipantUpsert } from './participants.upsert.js';

export const protocolCode = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/, 'letters, digits, _ . - (max 40)');

export const createProtocolInput = z.object({
  code: protocolCode,
  title: z.string().trim().min(1).max(300),
  ethicsApprovalRef: z.string().trim().min(1).max(120),
  consentTiers: z.array(z.enum(CONSENT_TIERS)).max(CONSENT_TIERS.length).default([]),
  diseaseArea: z
    .enum(DISEASE_AREAS)
    .default(DEFAULT_DISEASE_AREA)
    .describe('the disease area the collection serves; partners find material by it'),
});

/** Seeders and scripts may leave the disease area out, as the API may. */
export type CreateProtocolInput = Omit<z.infer<typeof createProtocolInput>, 'diseaseArea'> & {
  diseaseArea?: DiseaseArea;
};

/**
 * What a protocol update may change. The code names the protocol in every label and export, and
 * the consent tiers are what donors signed: neither changes after creation.
 */
export const updateProtocolInput = z
  .object({
    title: z.string().trim().min(1).max(300),
    ethicsApprovalRef: z.string().trim().min(1).max(120),
    diseaseArea: z.enum(DISEASE_AREAS),
  })
  .partial()
  .strict();
export type UpdateProtocolInput = z.infer<typeof updateProtocolInput>;

const birthYear = z
  .number()
  .int()
  .min(1880)
  .refine((y) => y <= new Date().getUTCFullYear(), 'cannot be in the future');

const icd10 = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$/, 'an ICD-10 code such as C50.9');
/** A donor's diagnoses, each once (compared as stored: trimmed, upper case). */
const diagnosisList = listedOnce(icd10, (code) => code);

export const registerParticipantInput = z.object({
  protocolId: z.uuid(),
  protocolParticipantId: z.string().trim().min(1).max(64),
  sex: z.enum(SEXES).default('unknown'),
  birthYear: birthYear.optional(),
  diagnoses: diagnosisList.max(20).default([]),
  mrn: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .optional()
    .describe('hospital record number: only its keyed hash is stored'),
});

/**
 * What an update may change. The protocol stays (a donor in another protocol is another
 * participant); `protocolParticipantId`, `birthYear` and `mrn` are identity fields.
 */
export const updateParticipantInput = z
  .object({
    sex: z.enum(SEXES),
    diagnoses: diagnosisList.max(20),
    birthYear: birthYear.nullable(),
    protocolParticipantId: z.string().trim().min(1).max(64),
    mrn: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .nullable()
      .describe('hospital record number: only its keyed hash is stored; null forgets it'),
  })
  .partial()
  .strict();
export type UpdateParticipantInput = z.infer<typeof updateParticipantInput>;

/**
 * The create body for PUT /v1/protocols/by-code/{code}: `code`, when given, must be the path's.
 * Absent consent tiers are none for a new protocol and unchanged for an existing one; an absent
 * disease area is `other` for a new one and unchanged for an existing one (a LIS that does not
 * know areas never resets one a manager set).
 */
export const upsertProtocolInput = createProtocolInput.extend({
  code: protocolCode.optional().describe('the code of the path, when given'),
  consentTiers: z
    .array(z.enum(CONSENT_TIERS))
    .max(CONSENT_TIERS.length)
    .optional()
    .describe('fixed once the protocol exists: donors consented to these'),
  diseaseArea: z
    .enum(DISEASE_AREAS)
    .optional()
    .describe('the disease area the collection serves: other when created without one, else unchanged'),
});
export type UpsertProtocolInput = z.infer<typeof upsertProtocolInput>;

/**
 * The register body keyed by the hospital LIS's patient id (the protocol is the path's). The id
 * travels in the body, not the URL, so it stays out of access logs like the MRN. Absent fields
 * keep their stored value (a new participant gets the register defaults).
 */
export const upsertParticipantInput = registerParticipantInput.omit({ protocolId: true }).extend({
  lisPatientId: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .describe('the hospital LIS patient id: only its keyed hash is stored'),
  sex: z.enum(SEXES).optional(),
  diagnoses: diagnosisList.max(20).optional(),
});
export type UpsertParticipantInput = z.infer<typeof upsertParticipantInput>;

/** Fields only roles allowed `participants.identity` may see, hence change. */
const IDENTITY_FIELDS = ['protocolParticipantId', 'birthYear', 'mrn'] as const;

import type { ParticipantRow, ProtocolRow } from './participants.repo.js';
import { resolveVersion, type ExpectedVersion } from '../../versions.js';
export type { ParticipantRow, ProtocolRow };

export interface ParticipantView {
  id: string;
  protocolId: string;
  sex: ParticipantRow['sex'];
  diagnoses: string[];
  /** identity fields: only for roles allowed `participants.identity` */
  identity: {
    protocolParticipantId: string;
    birthYear: number | null;
    hasMrn: boolean;
    hasLisPatientId: boolean;
  } | null;
  createdAt: Date;
  version: number;
}

export function createParticipantService(deps: { db: Db; secret: string }) {
  const { db } = deps;
  const hashes = hospitalIdHashes(deps.secret);
  const mrnHash = hashes.mrn;

  async function ownProtocol(ctx: Ctx, id: string, field = 'protocolId'): Promise<ProtocolRow> {
    const row = await findProtocol(db, actorInstitutionId(ctx.actor), id);
    if (!row) throw protocolNotFound(id, field);
    return row;
  }

  return {
    ...createParticipantUpsert({ db, hashes }),

    /** Throws PROTOCOL_CODE_TAKEN. */
    async createProtocol(ctx: Ctx, input: CreateProtocolInput): Promise<ProtocolRow> {
      authorize(ctx.actor, 'protocols.manage');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        // One code in any case: creators of PROT-A and prot-a queue on the same key.
        await lockNaturalKey(tx, 'protocol_code', institutionId, input.code.toLowerCase());
        const dup = await findProtocolByCodeInAnyCase(tx, institutionId, input.code);
        if (dup) throw protocolCodeTaken(input.code, dup.code);
        const row = await insertProtocol(tx, {
          id: newId(),
          institutionId,
          ...input,
          diseaseArea: input.diseaseArea ?? DEFAULT_DISEASE_AREA,
        });
        await recordAudit(tx, ctx, {
          action: 'createProtocol',
          entityType: 'collection_protocol',
          entityId: row.id,
          institutionId,
          after: row,
        });
        return row;
      });
    },

    /**
     * Changes a protocol's title, ethics approval reference or disease area at the version the
     * caller last read. Throws FORBIDDEN, PROTOCOL_NOT_FOUND, VERSION_CONFLICT.
     */
    async updateProtocol(
      ctx: Ctx,
      input: { id: string; expectedVersion: ExpectedVersion; patch: UpdateProtocolInput },
    ): Promise<ProtocolRow> {
      authorize(ctx.actor, 'protocols.manage');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        const before = await findProtocol(tx, institutionId, input.id, { lock: true });
        if (!before) throw protocolNotFound(input.id, 'id');
        const what = `protocol ${before.code}`;
        const expected = resolveVersion(input.expectedVersion, before.version);
        if (before.version !== expected) throw versionConflict(what, expected, before.version);
        const after = await updateProtocolRow(tx, before.id, expected, input.patch);
        if (!after) throw versionConflict(what, expected, before.version);
        await recordAudit(tx, ctx, {
          action: 'updateProtocol',
          entityType: 'collection_protocol',
          entityId: after.id,
          institutionId,
          before,
          after,
        });
        return after;
      });
    },

    async getProtocol(ctx: Ctx, id: string): Promise<ProtocolRow> {
      authorize(ctx.actor, 'protocols.read');
      return ownProtocol(ctx, id, 'id');
    },

    async listProtocols(ctx: Ctx): Promise<ProtocolRow[]> {
      authorize(ctx.actor, 'protocols.read');
      return listProtocolRows(db, actorInstitutionId(ctx.actor));
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
        const row = await insertParticipant(tx, {
          id: newId(),
          institutionId,
          protocolId: protocol.id,
          protocolParticipantId: input.protocolParticipantId,
          sex: input.sex,
          birthYear: input.birthYear ?? null,
          diagnoses: input.diagnoses,
          mrnHash: input.mrn ? mrnHash(institutionId, input.mrn) : null,
        });
        await recordAudit(tx, ctx, {
          action: 'registerParticipant',
          entityType: 'participant',
          entityId: row.id,
          institutionId,
          after: row,
        });
        return toParticipantView(ctx, row);
      });
    },

    /**
     * Corrects a participant's sex, diagnoses and, for roles allowed `participants.identity`, its
     * identity fields, at the version the caller last read. Throws FORBIDDEN,
     * PARTICIPANT_NOT_FOUND, VERSION_CONFLICT, PARTICIPANT_EXISTS (the new protocol participant
     * id or MRN is another donor's in this protocol).
     */
    async updateParticipant(
      ctx: Ctx,
      input: { id: string; expectedVersion: ExpectedVersion; patch: UpdateParticipantInput },
    ): Promise<ParticipantView> {
      authorize(ctx.actor, 'participants.manage');
      const { patch } = input;
      if (IDENTITY_FIELDS.some((f) => patch[f] !== undefined)) authorize(ctx.actor, 'participants.identity');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        const before = await findParticipant(tx, institutionId, input.id, { lock: true });
        if (!before) throw participantNotFound(input.id);
        const what = `participant ${before.id}`;
        const expected = resolveVersion(input.expectedVersion, before.version);
        if (before.version !== expected) throw versionConflict(what, expected, before.version);
        const after = await updateParticipantRow(tx, before.id, expected, {
          sex: patch.sex,
          diagnoses: patch.diagnoses,
          birthYear: patch.birthYear,
          protocolParticipantId: patch.protocolParticipantId,
          mrnHash: patch.mrn === undefined ? undefined : patch.mrn && mrnHash(institutionId, patch.mrn),
        });
        if (!after) throw versionConflict(what, expected, before.version);
        await recordAudit(tx, ctx, {
          action: 'updateParticipant',
          entityType: 'participant',
          entityId: after.id,
          institutionId,
          before,
          after,
        });
        return toParticipantView(ctx, after);
      });
    },

    /** Throws PARTICIPANT_NOT_FOUND. */
    async getParticipant(ctx: Ctx, id: string): Promise<ParticipantView> {
      authorize(ctx.actor, 'participants.read');
      const row = await findParticipant(db, actorInstitutionId(ctx.actor), id);
      if (!row) throw participantNotFound(id);
      return toParticipantView(ctx, row);
    },

    async listParticipants(
      ctx: Ctx,
      q: { protocolId?: string; cursor?: string; limit: number },
    ): Promise<Page<ParticipantView>> {
      authorize(ctx.actor, 'participants.read');
      const after = decodeCursor(q.cursor, z.uuid());
      const rows = await listParticipantRows(db, {
        institutionId: actorInstitutionId(ctx.actor),
        protocolId: q.protocolId,
        afterId: after,
        limit: q.limit + 1,
      });
      return toPage(
        rows,
        q.limit,
        (p) => p.id,
        (p) => toParticipantView(ctx, p),
      );
    },

    /** LIS matching: participants of the institution with this MRN (the MRN itself is not stored). */
    async findParticipantsByMrn(ctx: Ctx, mrn: string): Promise<ParticipantView[]> {
      authorize(ctx.actor, 'participants.identity');
      const institutionId = actorInstitutionId(ctx.actor);
      const rows = await findParticipantsByMrnHash(db, institutionId, mrnHash(institutionId, mrn));
      return rows.map((p) => toParticipantView(ctx, p));
    },
  };
}

export type ParticipantService = ReturnType<typeof createParticipantService>;
