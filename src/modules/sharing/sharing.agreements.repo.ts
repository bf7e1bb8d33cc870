// SQL over sharing_agreement. Every read is scoped to an institution on one side of the agreement.
import { and, asc, eq, gt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { sharingAgreements, type AgreementRow } from './sharing.table.js';

/** Where the institution stands in the agreements it reads. */
export type AgreementSide = 'provider' | 'requester';

function sideFilter(institutionId: string, side?: AgreementSide) {
  if (side === 'provider') return eq(sharingAgreements.providerInstitutionId, institutionId);
  if (side === 'requester') return eq(sharingAgreements.requesterInstitutionId, institutionId);
  return or(
    eq(sharingAgreements.providerInstitutionId, institutionId),
    eq(sharingAgreements.requesterInstitutionId, institutionId),
  );
}

/** An agreement the institution is a party to; with `lock`, FOR UPDATE. */
export async function findAgreement(
  handle: DbOrTx,
  institutionId: string,
  id: string,
  opts: { side?: AgreementSide; lock?: 'update' | 'share' } = {},
): Promise<AgreementRow | undefined> {
  const q = handle
    .select()
    .from(sharingAgreements)
    .where(and(eq(sharingAgreements.id, id), sideFilter(institutionId, opts.side)));
  const [row] = opts.lock ? await q.for(opts.lock) : await q;
  return row;
}

export async function findAgreementByMta(
  handle: DbOrTx,
  providerInstitutionId: string,
  requesterInstitutionId: string,
  mtaReference: string,
): Promise<AgreementRow | undefined> {
  const [row] = await handle
    .select()
    .from(sharingAgreements)
    .where(
      and(
        eq(sharingAgreements.providerInstitutionId, providerInstitutionId),
        eq(sharingAgreements.requesterInstitutionId, requesterInstitutionId),
        eq(sharingAgreements.mtaReference, mtaReference),
      ),
    );
  return row;
}

export async function listAgreementRows(
  handle: DbOrTx,
  f: { institutionId: string; side?: AgreementSide; afterId?: string; limit: number },
): Promise<AgreementRow[]> {
  return handle
    .select()
    .from(sharingAgreements)
    .where(
      and(sideFilter(f.institutionId, f.side), f.afterId ? gt(sharingAgreements.id, f.afterId) : undefined),
    )
    .orderBy(asc(sharingAgreements.id))
    .limit(f.limit);
}

export async function insertAgreement(
  tx: DbOrTx,
  values: typeof sharingAgreements.$inferInsert,
): Promise<AgreementRow> {
  const [row] = await tx.insert(sharingAgreements).values(values).returning();
  return row!;
}

/** Applies a patch at the expected version; undefined when the version moved. */
export async function updateAgreementRow(
  tx: DbOrTx,
  id: string,
  expectedVersion: number,
  patch: Partial<
    Pick<AgreementRow, 'uses' | 'mtaReference' | 'validFrom' | 'validUntil' | 'reviewDeadlineDays'>
  >,
): Promise<AgreementRow | undefined> {
  const [row] = await tx
    .update(sharingAgreements)
    .set({ ...patch, version: sql`${sharingAgreements.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(sharingAgreements.id, id), eq(sharingAgreements.version, expectedVersion)))
    .returning();
  return row;
}
