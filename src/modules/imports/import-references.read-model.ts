// The records an import row names by natural key, found for a whole chunk at once: containers by
// barcode, protocols by code, participants by LIS patient id hash or protocol participant id.
// Reads of the storage and participants modules' tables, one query each (CONTRIBUTING.md rule 5).
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { Q } from '../../db/array-literals.js';

export async function containersByBarcode(
  db: DbOrTx,
  institutionId: string,
  barcodes: readonly string[],
): Promise<Map<string, string>> {
  if (barcodes.length === 0) return new Map();
  const r = await db.execute<{ id: string; barcode: string }>(sql`
    select id, barcode from container
     where institution_id = ${institutionId} and barcode = any(${Q([...barcodes])}::text[])`);
  return new Map(r.rows.map((x) => [x.barcode, x.id]));
}

export interface ProtocolRef {
  id: string;
  consentTiers: string[];
}

export async function protocolsByCode(
  db: DbOrTx,
  institutionId: string,
  codes: readonly string[],
): Promise<Map<string, ProtocolRef>> {
  if (codes.length === 0) return new Map();
  const r = await db.execute<{ id: string; code: string; consent_tiers: string[] }>(sql`
    select id, code, consent_tiers from collection_protocol
     where institution_id = ${institutionId} and code = any(${Q([...codes])}::text[])`);
  return new Map(r.rows.map((x) => [x.code, { id: x.id, consentTiers: x.consent_tiers }]));
}

export interface ParticipantRef {
  id: string;
  protocolId: string;
  code: string;
  lisHash: string | null;
}

/** Participants of the institution by (protocol, LIS patient id hash) or (protocol, participant code). */
export async function participantsByKeys(
  db: DbOrTx,
  institutionId: string,
  keys: { protocolId: string; lisHash?: string; code?: string }[],
): Promise<ParticipantRef[]> {
  if (keys.length === 0) return [];
  const r = await db.execute<{ id: string; protocol_id: string; code: string; lis_hash: string | null }>(sql`
    select p.id, p.protocol_id, p.protocol_participant_id as code, p.lis_patient_id_hash as lis_hash
      from participant p
      join jsonb_to_recordset(${JSON.stringify(keys)}::jsonb) as k("protocolId" uuid, "lisHash" text, code text)
        on p.protocol_id = k."protocolId"
       and (p.lis_patient_id_hash = k."lisHash" or p.protocol_participant_id = k.code)
     where p.institution_id = ${institutionId}`);
  return r.rows.map((x) => ({ id: x.id, protocolId: x.protocol_id, code: x.code, lisHash: x.lis_hash }));
}
