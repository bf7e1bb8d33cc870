import { createHash } from 'node:crypto';
import { asc, sql } from 'drizzle-orm';
import type pg from 'pg';
import type { Db } from '../../db/client.js';
import { latestCustodyEventJsonSql } from './latest-custody.read-model.js';
import { specimenJsonSql } from './specimen-json.js';
import { specimenListWhere, type SpecimenFilter } from './specimens.repo.js';
import { specimens } from './specimens.table.js';

// Read model: a page of the specimen list for GraphQL in ONE statement (issue 16): each specimen
// as the JSON `toSpecimenDto` writes (specimen-json.ts), its holder's location chain (storage) for
// the location, and, when the page asks for it, its latest custody event (custody) read from the
// end of its chain. The list's conditions are the repo's; the statement is prepared under a name
// derived from its text, so each filter combination is parsed and planned once per connection.
// No ORM mapping of 35 columns per row: on a page of 100 that and a statement per relation were
// most of the service's CPU.

export interface SpecimenPageRow {
  specimen: string;
  chain: string | null;
  container_id: string | null;
  position_row: number | null;
  position_col: number | null;
  /** the latest custody event's JSON, when asked for (null: no event) */
  latest?: string | null;
}

export async function readSpecimenPage(
  db: Db,
  pool: pg.Pool,
  f: SpecimenFilter,
  include: { latestCustodyEvent: boolean },
): Promise<SpecimenPageRow[]> {
  const query = db
    .select({
      specimen: sql<string>`${sql.raw(specimenJsonSql('"specimen"'))}`.as('specimen'),
      chain: sql<
        string | null
      >`(select c.location_chain::text from container c where c.id = ${specimens.containerId})`.as('chain'),
      container_id: sql<string | null>`${specimens.containerId}`.as('container_id'),
      position_row: sql<number | null>`${specimens.positionRow}`.as('position_row'),
      position_col: sql<number | null>`${specimens.positionCol}`.as('position_col'),
      ...(include.latestCustodyEvent
        ? {
            latest: sql<string | null>`${sql.raw(latestCustodyEventJsonSql('"specimen"."id"'))}`.as('latest'),
          }
        : {}),
    })
    .from(specimens)
    .where(specimenListWhere(f))
    .orderBy(asc(specimens.id))
    .limit(f.limit);
  const { sql: text, params } = query.toSQL();
  const name = `biobank_specimen_page_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
  const { rows } = await pool.query<SpecimenPageRow>({ name, text, values: params });
  return rows;
}
