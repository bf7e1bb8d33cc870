// Read model: which partner institutions received a donor's specimens. Shipments are recorded
// only as custody events (`shipped`, `received_by_partner`, naming the recipient in their
// details), so this one query reads the custody_event table joined with the specimen table by
// name; a withdrawal notifies each recipient of the specimens it holds. Tubes shipped under a
// sharing request (their events name the request) are left to sharing's withdrawal subscriber,
// which holds the receiver's own specimens and names those, never the provider's ids.
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';

export interface ShippedRecipient {
  institutionId: string;
  specimenIds: string[];
}

/** Recipients of any specimen of the donor under the protocol, each with the specimens it was sent. */
export async function shippedRecipients(
  handle: DbOrTx,
  donor: { institutionId: string; participantId: string; protocolId: string },
): Promise<ShippedRecipient[]> {
  const res = await handle.execute<{ institution_id: string; specimen_ids: string[] }>(sql`
    select e.details->>'recipientInstitutionId' as institution_id, array_agg(distinct e.specimen_id) as specimen_ids
      from custody_event e join specimen s on s.id = e.specimen_id
     where s.institution_id = ${donor.institutionId} and s.participant_id = ${donor.participantId} and s.protocol_id = ${donor.protocolId}
       and e.type in ('shipped', 'received_by_partner') and e.details ? 'recipientInstitutionId'
       and not e.details ? 'requestId'
     group by 1`);
  return res.rows.map((r) => ({ institutionId: r.institution_id, specimenIds: r.specimen_ids }));
}
