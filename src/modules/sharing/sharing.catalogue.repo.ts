// SQL for the catalogue: the agreements that let an institution count a provider's specimens.
import { and, arrayContains, asc, desc, eq, gte, isNull, lte, or } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import type { Use } from '../../vocabulary/uses.js';
import { sharingAgreements, type AgreementRow } from './sharing.table.js';

/**
 * The requester's agreements in force on `day` (YYYY-MM-DD) that cover `use`, one per provider:
 * the one in force most recently signed (latest `validFrom`) when several are.
 */
export async function agreementsCovering(
  db: DbOrTx,
  requesterInstitutionId: string,
  use: Use,
  day: string,
): Promise<AgreementRow[]> {
  const rows = await db
    .select()
    .from(sharingAgreements)
    .where(
      and(
        eq(sharingAgreements.requesterInstitutionId, requesterInstitutionId),
        arrayContains(sharingAgreements.uses, [use]),
        lte(sharingAgreements.validFrom, day),
        or(isNull(sharingAgreements.validUntil), gte(sharingAgreements.validUntil, day)),
      ),
    )
    .orderBy(
      asc(sharingAgreements.providerInstitutionId),
      desc(sharingAgreements.validFrom),
      asc(sharingAgreements.id),
    );
  const seen = new Set<string>();
  return rows.filter((r) => !seen.has(r.providerInstitutionId) && seen.add(r.providerInstitutionId));
}
