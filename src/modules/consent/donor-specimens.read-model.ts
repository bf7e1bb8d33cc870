// Read model: the specimens a consent covers. A withdrawal binds every tube of the donor under
// the protocol, every generation included (aliquots and derivatives inherit the root of the
// tube drawn from the donor), so the cascade reads the specimen table by name; the specimens
// module remains its only writer (through the specimen ledger).
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';

/**
 * Ids of the donor's specimens under the protocol, in id order after `afterId`, at most `limit`:
 * the cascade walks them in batches, each batch in its own transaction.
 */
export async function donorSpecimenIds(
  handle: DbOrTx,
  donor: { institutionId: string; participantId: string; protocolId: string },
  afterId: string | null,
  limit: number,
): Promise<string[]> {
  const res = await handle.execute<{ id: string }>(sql`
    select id from specimen
     where institution_id = ${donor.institutionId}
       and root_id in (select s.root_id from specimen s where s.participant_id = ${donor.participantId} and s.protocol_id = ${donor.protocolId})
       ${afterId ? sql`and id > ${afterId}` : sql``}
     order by id asc
     limit ${limit}`);
  return res.rows.map((r) => r.id);
}
