// SQL over the participant and collection_protocol tables. Other modules reach these rows only
// through the functions exported by index.ts (a module owns its tables).
import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { participants, protocols } from './participants.table.js';

export type ProtocolRow = typeof protocols.$inferSelect;
export type ParticipantRow = typeof participants.$inferSelect;

/** A protocol of the institution by id; with `lock`, FOR UPDATE. */
export async function findProtocol(
  handle: DbOrTx,
  institutionId: string,
  id: string,
  opts: { lock?: boolean } = {},
): Promise<ProtocolRow | undefined> {
  const q = handle
    .select()
    .from(protocols)
    .where(and(eq(protocols.id, id), eq(protocols.institutionId, institutionId)));
  const [row] = opts.lock ? await q.for('update') : await q;
  return row;
}

/** A protocol of the institution by its code; with `lock`, FOR UPDATE. */
export async function findProtocolByCode(
  handle: DbOrTx,
  institutionId: string,
  code: string,
  opts: { lock?: boolean } = {},
): Promise<ProtocolRow | undefined> {
  const q = handle
    .select()
    .from(protocols)
    .where(and(eq(protocols.institutionId, institutionId), eq(protocols.code, code)));
  const [row] = opts.lock ? await q.for('update') : await q;
  return row;
}

/**
 * A protocol whose code is this one in another case: codes are kept as written, but two that
 * differ only in case would be one protocol typed twice.
 */
export async function findProtocolByCodeInAnyCase(
  handle: DbOrTx,
  institutionId: string,
  code: string,
): Promise<ProtocolRow | undefined> {
  const [row] = await handle
    .select()
    .from(protocols)
    .where(and(eq(protocols.institutionId, institutionId), sql`lower(${protocols.code}) = lower(${code})`))
    .limit(1);
  return row;
}

/** The institution's protocols, by code (an institution runs tens, not thousands). */
export async function listProtocolRows(
  handle: DbOrTx,
  institutionId: string,
  limit = 1000,
): Promise<ProtocolRow[]> {
  return handle
    .select()
    .from(protocols)
    .where(eq(protocols.institutionId, institutionId))
    .orderBy(asc(protocols.code))
    .limit(limit);
}

/** The consent tiers each given protocol asks, by protocol id (any institution: ids come from owned rows). */
export async function protocolTiers(
  handle: DbOrTx,
  protocolIds: readonly string[],
): Promise<Map<string, string[]>> {
  if (protocolIds.length === 0) return new Map();
  const rows = await handle
    .select({ id: protocols.id, tiers: protocols.consentTiers })
    .from(protocols)
    .where(inArray(protocols.id, [...protocolIds]));
  return new Map(rows.map((p) => [p.id, p.tiers]));
}

/** A participant of the institution with the tiers its protocol asks. */
export async function findParticipantWithTiers(
  handle: DbOrTx,
  institutionId: string,
  participantId: string,
): Promise<{ participant: ParticipantRow; tiers: string[] } | undefined> {
  const [row] = await handle
    .select({ participant: participants, tiers: protocols.consentTiers })
    .from(participants)
    .innerJoin(protocols, eq(protocols.id, participants.protocolId))
    .where(and(eq(participants.id, participantId), eq(participants.institutionId, institutionId)));
  return row;
}

/** Which of the given participants and protocols exist in the institution; each participant's protocol. */
export async function findParticipantsAndProtocols(
  handle: DbOrTx,
  institutionId: string,
  participantIds: readonly string[],
  protocolIds: readonly string[],
): Promise<{ participantProtocol: Map<string, string>; protocolIds: Set<string> }> {
  const participantProtocol = new Map<string, string>();
  const found = new Set<string>();
  if (participantIds.length) {
    const rows = await handle
      .select({ id: participants.id, protocolId: participants.protocolId })
      .from(participants)
      .where(
        and(eq(participants.institutionId, institutionId), inArray(participants.id, [...participantIds])),
      );
    for (const p of rows) participantProtocol.set(p.id, p.protocolId);
  }
  if (protocolIds.length) {
    const rows = await handle
      .select({ id: protocols.id })
      .from(protocols)
      .where(and(eq(protocols.institutionId, institutionId), inArray(protocols.id, [...protocolIds])));
    for (const p of rows) found.add(p.id);
  }
  return { participantProtocol, protocolIds: found };
}

/** Inserts a protocol; the caller checked its code is free (the unique index is the last word). */
export async function insertProtocol(
  tx: DbOrTx,
  values: typeof protocols.$inferInsert,
): Promise<ProtocolRow> {
  const [row] = await tx.insert(protocols).values(values).returning();
  return row!;
}

/** Applies a protocol patch at the expected version; undefined when the version moved. */
export async function updateProtocolRow(
  tx: DbOrTx,
  id: string,
  expectedVersion: number,
  patch: Partial<Pick<ProtocolRow, 'title' | 'ethicsApprovalRef' | 'diseaseArea'>>,
): Promise<ProtocolRow | undefined> {
  const [row] = await tx
    .update(protocols)
    .set({ ...patch, version: sql`${protocols.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(protocols.id, id), eq(protocols.version, expectedVersion)))
    .returning();
  return row;
}

export async function insertParticipant(
  tx: DbOrTx,
  values: typeof participants.$inferInsert,
): Promise<ParticipantRow> {
  const [row] = await tx.insert(participants).values(values).returning();
  return row!;
}

/** A participant of the institution by id; with `lock`, FOR UPDATE. */
export async function findParticipant(
  handle: DbOrTx,
  institutionId: string,
  id: string,
  opts: { lock?: boolean } = {},
): Promise<ParticipantRow | undefined> {
  const q = handle
    .select()
    .from(participants)
    .where(and(eq(participants.id, id), eq(participants.institutionId, institutionId)));
  const [row] = opts.lock ? await q.for('update') : await q;
  return row;
}

/** Updates a participant at the expected version (version + 1); undefined when it was not at it. */
export async function updateParticipantRow(
  tx: DbOrTx,
  id: string,
  expectedVersion: number,
  patch: Partial<
    Pick<ParticipantRow, 'sex' | 'diagnoses' | 'birthYear' | 'protocolParticipantId' | 'mrnHash'>
  >,
): Promise<ParticipantRow | undefined> {
  const [after] = await tx
    .update(participants)
    .set({ ...patch, version: sql`${participants.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(participants.id, id), eq(participants.version, expectedVersion)))
    .returning();
  return after;
}

/** A keyset page of the institution's participants by id (`limit` rows; ask one more to learn if more exist). */
export async function listParticipantRows(
  handle: DbOrTx,
  f: { institutionId: string; protocolId?: string; afterId?: string; limit: number },
): Promise<ParticipantRow[]> {
  return handle
    .select()
    .from(participants)
    .where(
      and(
        eq(participants.institutionId, f.institutionId),
        f.protocolId ? eq(participants.protocolId, f.protocolId) : undefined,
        f.afterId ? gt(participants.id, f.afterId) : undefined,
      ),
    )
    .orderBy(asc(participants.id))
    .limit(f.limit);
}

/** The participant of a protocol whose LIS patient id has this keyed hash; with `lock`, FOR UPDATE. */
export async function findParticipantByLisPatientHash(
  handle: DbOrTx,
  institutionId: string,
  protocolId: string,
  lisPatientIdHash: string,
  opts: { lock?: boolean } = {},
): Promise<ParticipantRow | undefined> {
  const q = handle
    .select()
    .from(participants)
    .where(
      and(
        eq(participants.institutionId, institutionId),
        eq(participants.protocolId, protocolId),
        eq(participants.lisPatientIdHash, lisPatientIdHash),
      ),
    );
  const [row] = opts.lock ? await q.for('update') : await q;
  return row;
}

/** Participants of the institution whose hospital record number has this keyed hash. */
export async function findParticipantsByMrnHash(
  handle: DbOrTx,
  institutionId: string,
  mrnHash: string,
): Promise<ParticipantRow[]> {
  return handle
    .select()
    .from(participants)
    .where(and(eq(participants.institutionId, institutionId), eq(participants.mrnHash, mrnHash)));
}
