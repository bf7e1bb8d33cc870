// SQL over the consent, consent_cascade and destruction_item tables. Other modules reach consent
// through the service and the gate exported by index.ts (a module owns its tables).
import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import {
  consentCascades,
  consents,
  destructionItems,
  type ConsentResponse,
  type WithdrawalScope,
} from './consent.table.js';

export type ConsentRow = typeof consents.$inferSelect;
export type CascadeRow = typeof consentCascades.$inferSelect;
export type DestructionItemRow = typeof destructionItems.$inferSelect;

// --- consents -----------------------------------------------------------------------------

/** A consent of the institution by id; with `lock`, FOR UPDATE. */
export async function findConsent(
  handle: DbOrTx,
  institutionId: string,
  id: string,
  opts: { lock?: boolean } = {},
): Promise<ConsentRow | undefined> {
  const q = handle
    .select()
    .from(consents)
    .where(and(eq(consents.id, id), eq(consents.institutionId, institutionId)));
  const [row] = opts.lock ? await q.for('update') : await q;
  return row;
}

/** A consent by id, any institution (the worker acts for the consent's own institution). */
export async function findConsentById(
  handle: DbOrTx,
  id: string,
  opts: { share?: boolean } = {},
): Promise<ConsentRow | undefined> {
  const q = handle.select().from(consents).where(eq(consents.id, id));
  const [row] = opts.share ? await q.for('share') : await q;
  return row;
}

/** The current (not superseded) consent of a donor under a protocol, FOR UPDATE. */
export async function lockCurrentConsent(
  tx: Tx,
  participantId: string,
  protocolId: string,
): Promise<ConsentRow | undefined> {
  const [row] = await tx
    .select()
    .from(consents)
    .where(
      and(
        eq(consents.participantId, participantId),
        eq(consents.protocolId, protocolId),
        isNull(consents.supersededAt),
      ),
    )
    .for('update');
  return row;
}

/** The current consents of the given donors (every protocol); with `lock`, FOR SHARE. */
export async function findCurrentConsents(
  handle: DbOrTx,
  participantIds: readonly string[],
  opts: { lock?: boolean } = {},
): Promise<ConsentRow[]> {
  const q = handle
    .select()
    .from(consents)
    .where(and(inArray(consents.participantId, [...participantIds]), isNull(consents.supersededAt)));
  return opts.lock ? q.for('share') : q;
}

/** Whether the donor's current consent (under the protocol, when given) is withdrawn; FOR SHARE. */
export async function currentConsentWithdrawn(
  tx: Tx,
  participantId: string,
  protocolId: string | null,
): Promise<boolean> {
  const [row] = await tx
    .select({ status: consents.status })
    .from(consents)
    .where(
      and(
        eq(consents.participantId, participantId),
        protocolId ? eq(consents.protocolId, protocolId) : sql`true`,
        isNull(consents.supersededAt),
        eq(consents.status, 'withdrawn'),
      ),
    )
    .for('share');
  return row !== undefined;
}

/** Every consent version of the given donors in the institution, newest first. */
export async function listConsentRows(
  handle: DbOrTx,
  institutionId: string,
  participantIds: readonly string[],
): Promise<ConsentRow[]> {
  return handle
    .select()
    .from(consents)
    .where(
      and(eq(consents.institutionId, institutionId), inArray(consents.participantId, [...participantIds])),
    )
    .orderBy(desc(consents.createdAt), desc(consents.id));
}

/** Marks a consent as replaced by a newer version (kept as history). */
export async function supersedeConsent(tx: Tx, id: string): Promise<void> {
  await tx
    .update(consents)
    .set({ supersededAt: sql`now()`, updatedAt: sql`now()`, version: sql`${consents.version} + 1` })
    .where(eq(consents.id, id));
}

export async function insertConsent(
  tx: Tx,
  values: {
    institutionId: string;
    participantId: string;
    protocolId: string;
    documentVersion: string;
    signedOn: string;
    obtainedBy: string;
    responses: Record<string, ConsentResponse>;
    expiresOn: string | null;
    supersedesId: string | null;
  },
): Promise<ConsentRow> {
  const [row] = await tx
    .insert(consents)
    .values({ id: newId(), ...values })
    .returning();
  return row!;
}

/** Records the withdrawal on the consent row. */
export async function markConsentWithdrawn(
  tx: Tx,
  id: string,
  withdrawal: { scope: WithdrawalScope; reason: string | null },
): Promise<ConsentRow> {
  const [row] = await tx
    .update(consents)
    .set({
      status: 'withdrawn',
      withdrawnAt: sql`now()`,
      withdrawalScope: withdrawal.scope,
      withdrawalReason: withdrawal.reason,
      updatedAt: sql`now()`,
      version: sql`${consents.version} + 1`,
    })
    .where(eq(consents.id, id))
    .returning();
  return row!;
}

// --- cascades -----------------------------------------------------------------------------

export async function insertCascade(
  tx: Tx,
  values: { institutionId: string; consentId: string; kind: CascadeRow['kind'] },
): Promise<CascadeRow> {
  const [row] = await tx
    .insert(consentCascades)
    .values({ id: newId(), ...values })
    .returning();
  return row!;
}

/** A cascade by id: of the institution when given, else any (the worker's own lookup). */
export async function findCascade(
  handle: DbOrTx,
  id: string,
  institutionId?: string,
): Promise<CascadeRow | undefined> {
  const [row] = await handle
    .select()
    .from(consentCascades)
    .where(
      and(
        eq(consentCascades.id, id),
        institutionId === undefined ? undefined : eq(consentCascades.institutionId, institutionId),
      ),
    );
  return row;
}

/** Running; a re-run keeps the first start time. */
export async function markCascadeRunning(handle: DbOrTx, id: string): Promise<void> {
  await handle
    .update(consentCascades)
    .set({ status: 'running', startedAt: sql`coalesce(${consentCascades.startedAt}, now())` })
    .where(eq(consentCascades.id, id));
}

/** After each batch: specimens found so far in this run; changes and listings add up across runs. */
export async function recordCascadeProgress(
  handle: DbOrTx,
  id: string,
  progress: { found: number; changed: number; listed: number },
): Promise<void> {
  await handle
    .update(consentCascades)
    .set({
      specimensFound: progress.found,
      specimensChanged: sql`${consentCascades.specimensChanged} + ${progress.changed}`,
      destructionListed: sql`${consentCascades.destructionListed} + ${progress.listed}`,
    })
    .where(eq(consentCascades.id, id));
}

export async function completeCascade(
  handle: DbOrTx,
  id: string,
  result: { found: number; partners: number },
): Promise<CascadeRow> {
  const [row] = await handle
    .update(consentCascades)
    .set({
      status: 'completed',
      completedAt: sql`now()`,
      specimensFound: result.found,
      partnersNotified: sql`${consentCascades.partnersNotified} + ${result.partners}`,
    })
    .where(eq(consentCascades.id, id))
    .returning();
  return row!;
}

// --- destruction list ---------------------------------------------------------------------

/** Lists specimens for destruction under a consent; already listed ones are left. Returns how many were new. */
export async function listForDestruction(
  tx: Tx,
  institutionId: string,
  consentId: string,
  specimenIds: readonly string[],
): Promise<number> {
  if (specimenIds.length === 0) return 0;
  const inserted = await tx
    .insert(destructionItems)
    .values(specimenIds.map((specimenId) => ({ id: newId(), institutionId, specimenId, consentId })))
    .onConflictDoNothing()
    .returning({ id: destructionItems.id });
  return inserted.length;
}

/** Open (unconfirmed) destruction items of the institution. */
export async function listOpenDestructionItems(
  handle: DbOrTx,
  institutionId: string,
): Promise<DestructionItemRow[]> {
  return handle
    .select()
    .from(destructionItems)
    .where(and(eq(destructionItems.institutionId, institutionId), isNull(destructionItems.confirmedAt)));
}

/** Open destruction items of the given specimens. */
export async function findOpenDestructionItems(
  handle: DbOrTx,
  specimenIds: readonly string[],
): Promise<DestructionItemRow[]> {
  if (specimenIds.length === 0) return [];
  return handle
    .select()
    .from(destructionItems)
    .where(and(inArray(destructionItems.specimenId, [...specimenIds]), isNull(destructionItems.confirmedAt)));
}

/** Closes the open destruction items of the given specimens. */
export async function confirmDestructionItems(
  tx: Tx,
  specimenIds: readonly string[],
  confirmedBy: string,
): Promise<void> {
  await tx
    .update(destructionItems)
    .set({ confirmedAt: sql`now()`, confirmedBy })
    .where(and(inArray(destructionItems.specimenId, [...specimenIds]), isNull(destructionItems.confirmedAt)));
}
