// Read model: the ids of the specimens a FHIR search selects, one keyset page at a time. It reads
// the specimens module's `specimen` table and `specimen_external_id` (which tube holds an LIS id)
// by name, in one statement, because a Specimen search filters on identifiers, type and last
// update together; the specimens module stays the only writer of both. Served by the indexes
// specimen_list_idx (institution, id), specimen_type_idx (institution, type, id),
// specimen_updated_idx (institution, updated_at, id) and specimen_external_id_unique.
import { sql, type SQL } from 'drizzle-orm';
import { SERVICE_APPLICATION_NAME, type Db, type DbOrTx } from '../../db/client.js';
import { A, Q } from '../../db/array-literals.js';
import type { SpecimenType } from '../../vocabulary/specimen-types.js';

export interface SpecimenSearchFilter {
  institutionId: string;
  /** any of these; null: no identifier filter */
  identifiers: {
    ids: string[];
    barcodes: string[];
    external: { system: string; value: string }[];
  } | null;
  /** null: any type */
  types: SpecimenType[] | null;
  lastUpdated: { op: '>=' | '<'; at: string }[];
  /**
   * `id`: in id order (creation order, ids are UUIDv7); `lastUpdated`: in order of last update
   * (then id), the order an LIS catching up on changes wants.
   */
  order: 'id' | 'lastUpdated';
  /** the key of the last row of the previous page */
  after: { id: string; updatedAt?: string } | null;
  limit: number;
}

export type SpecimenSearchHit = {
  id: string;
  /** updated_at to the microsecond, as the next page's key */
  updatedAt: string;
};

function identifierCondition(
  institutionId: string,
  f: NonNullable<SpecimenSearchFilter['identifiers']>,
): SQL {
  const any: SQL[] = [];
  if (f.ids.length) any.push(sql`s.id = any(${A(f.ids)}::uuid[])`);
  if (f.barcodes.length) any.push(sql`s.barcode = any(${Q(f.barcodes)}::text[])`);
  // An array computed once (an InitPlan), so each alternative stays an index lookup.
  if (f.external.length)
    any.push(sql`s.id = any(array(
      select e.specimen_id from specimen_external_id e
       where e.institution_id = ${institutionId}
         and (e.system, e.value) in (
           select x.system, x.value from jsonb_to_recordset(${JSON.stringify(f.external)}::jsonb) as x(system text, value text))))`);
  return any.length ? sql`(${sql.join(any, sql` or `)})` : sql`false`;
}

/**
 * How far the order of last update is settled: the start of the oldest transaction of this service
 * still running in this database, or now. Only the service writes specimens (through the ledger),
 * so a DBA's open psql session or a backup's long snapshot holds nothing back. A specimen's `updated_at` is its writing transaction's start, so a
 * slow write commits behind faster, later ones; a page in order of last update stops before it,
 * and a client that keeps its last `next` link (or the last `lastUpdated` it read) cannot pass it.
 * Read in a statement of its own, before the page's: a transaction running then is still
 * invisible to the page, or committed before the page's snapshot.
 */
async function settledUntil(handle: DbOrTx): Promise<string> {
  const { rows } = await handle.execute<{ until: string }>(sql`
    select coalesce(min(xact_start), clock_timestamp())::text as "until"
      from pg_stat_activity
     where datname = current_database()
       and backend_type = 'client backend'
       and application_name like ${`${SERVICE_APPLICATION_NAME}%`}
       and pid <> pg_backend_pid()
       and xact_start is not null`);
  return rows[0]!.until;
}

/** What a specimen must be to match the filter, whatever the page. */
async function matchConditions(
  handle: DbOrTx,
  f: Omit<SpecimenSearchFilter, 'after' | 'limit'>,
): Promise<SQL[]> {
  const where: SQL[] = [sql`s.institution_id = ${f.institutionId}`];
  if (f.order === 'lastUpdated') where.push(sql`s.updated_at < ${await settledUntil(handle)}::timestamptz`);
  if (f.identifiers) where.push(identifierCondition(f.institutionId, f.identifiers));
  if (f.types)
    where.push(
      // One type as an equality, so specimen_type_idx hands the rows over already in id order.
      f.types.length === 1
        ? sql`s.type = ${f.types[0]}::specimen_type`
        : f.types.length
          ? sql`s.type = any(${A(f.types)}::specimen_type[])`
          : sql`false`,
    );
  for (const b of f.lastUpdated)
    where.push(
      b.op === '>=' ? sql`s.updated_at >= ${b.at}::timestamptz` : sql`s.updated_at < ${b.at}::timestamptz`,
    );
  return where;
}

async function countWhere(handle: DbOrTx, where: SQL[]): Promise<number> {
  const result = await handle.execute<{ n: number }>(sql`
    select count(*)::int as n from specimen s where ${sql.join(where, sql` and `)}`);
  return result.rows[0]!.n;
}

async function pageWhere(
  handle: DbOrTx,
  f: SpecimenSearchFilter,
  match: SQL[],
): Promise<SpecimenSearchHit[]> {
  const where = [...match];
  if (f.after)
    where.push(
      f.order === 'lastUpdated'
        ? sql`(s.updated_at, s.id) > (${f.after.updatedAt ?? null}::timestamptz, ${f.after.id}::uuid)`
        : sql`s.id > ${f.after.id}::uuid`,
    );
  const result = await handle.execute<SpecimenSearchHit>(sql`
    select s.id,
           to_char(s.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "updatedAt"
      from specimen s
     where ${sql.join(where, sql` and `)}
     order by ${f.order === 'lastUpdated' ? sql`s.updated_at, s.id` : sql`s.id`}
     limit ${f.limit}`);
  return result.rows;
}

/**
 * How many specimens match, over every page (a Bundle's `total`). In order of last update, only
 * those settled, as the pages show them.
 */
export async function countSpecimens(
  handle: DbOrTx,
  f: Omit<SpecimenSearchFilter, 'after' | 'limit'>,
): Promise<number> {
  return countWhere(handle, await matchConditions(handle, f));
}

/** One page of matching specimen ids, in the filter's order, at most `limit`. */
export async function searchSpecimenIds(
  handle: DbOrTx,
  f: SpecimenSearchFilter,
): Promise<SpecimenSearchHit[]> {
  return pageWhere(handle, f, await matchConditions(handle, f));
}

/**
 * A page with the number of matches, both read in one snapshot (a read-only repeatable-read
 * transaction whose first statement reads how far the order is settled), so the total never
 * disagrees with the page: a page that is the last holds exactly `total` entries in all.
 */
export async function searchSpecimenIdsWithTotal(
  db: Db,
  f: SpecimenSearchFilter,
): Promise<{ hits: SpecimenSearchHit[]; total: number }> {
  return db.transaction(
    async (tx) => {
      const match = await matchConditions(tx, f);
      const total = await countWhere(tx, match);
      return { hits: await pageWhere(tx, f, match), total };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}
