// Bulk participant writes for loaders that enrol thousands of donors at once (the synthetic
// inventory): one `insert ... select from unnest(...)` per batch. Pseudonymous rows only: no
// MRN is taken here, so there is nothing to hash.
import { sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../db/client.js';
import type { SEXES } from './participants.table.js';
import { A, Q, pgArray } from '../../db/array-literals.js';

/** A donor to enrol in one of the institution's protocols. */
export interface BulkParticipant {
  id: string;
  protocolId: string;
  /** the protocol's own participant number */
  pid: string;
  sex: (typeof SEXES)[number];
  birthYear: number;
  diagnoses: string[];
  createdAt: Date;
}

/** Inserts participants of one institution in one statement. */
export async function insertParticipants(
  tx: Tx,
  institutionId: string,
  rows: readonly BulkParticipant[],
): Promise<void> {
  if (rows.length === 0) return;
  const v = {
    id: A(rows.map((x) => x.id)),
    protocolId: A(rows.map((x) => x.protocolId)),
    pid: Q(rows.map((x) => x.pid)),
    sex: A(rows.map((x) => x.sex)),
    birthYear: A(rows.map((x) => x.birthYear)),
    diagnoses: Q(rows.map((x) => pgArray(x.diagnoses))),
    createdAt: A(rows.map((x) => x.createdAt.toISOString())),
  };
  await tx.execute(sql`
    insert into participant (id, institution_id, protocol_id, protocol_participant_id, sex, birth_year,
      diagnoses, created_at, updated_at)
    select u.id, ${institutionId}, u.protocol_id, u.pid, u.sex, u.birth_year, u.diagnoses::text[],
           u.created_at, u.created_at
      from unnest(${v.id}::uuid[], ${v.protocolId}::uuid[], ${v.pid}::text[], ${v.sex}::participant_sex[],
                  ${v.birthYear}::int[], ${v.diagnoses}::text[], ${v.createdAt}::timestamptz[])
        as u(id, protocol_id, pid, sex, birth_year, diagnoses, created_at)`);
}

/** How many participants the institution has enrolled (every protocol). */
export async function countParticipants(db: DbOrTx, institutionId: string): Promise<number> {
  const r = await db.execute<{ n: number }>(
    sql`select count(*)::int as n from participant where institution_id = ${institutionId}`,
  );
  return r.rows[0]!.n;
}
