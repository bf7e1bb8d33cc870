import { createHash } from 'node:crypto';
import { asc, sql } from 'drizzle-orm';
import type pg from 'pg';
import type { Db } from '../../db/client.js';
import { jsonObjectSql } from '../../db/json-sql.js';
import { containerJsonSql, type LocationChainEntry } from '../storage/index.js';
import { latestCustodyEventJsonSql } from './latest-custody.read-model.js';
import type { SpecimenPageShape } from './specimen-page.shape.js';
import { SPECIMEN_JSON_FIELDS } from './specimen-json.js';
import { specimenListWhere, type SpecimenFilter } from './specimens.repo.js';
import { specimens } from './specimens.table.js';

// Read model: a page of the specimen list for GraphQL in ONE statement and one JSON document
// (issue 16). PostgreSQL writes each specimen with only the fields the query selects
// (specimen-page.shape.ts), and in the same object, when asked, its holder's location chain, its
// container with the container's parent (storage's container-json.ts) and its latest custody event
// read from the end of its chain. The list's conditions are the repo's; the statement is prepared
// under a name derived from its text, so each filter combination and selection is parsed and
// planned once per connection. No ORM mapping, no statement per relation, one JSON.parse per page.

/** What locates a specimen in its holder; the service turns it into the DTO's location. */
export interface PageLocationSource {
  chain: LocationChainEntry[];
  row: number | null;
  col: number | null;
}

/**
 * A specimen of the page: the selected DTO fields, and the relations the shape puts in the row;
 * its location as read (`L`: the source) or as served (the DTO's location).
 */
export interface SpecimenPageNode<L = PageLocationSource> {
  id: string;
  location?: L | null;
  container?: ({ parent?: Record<string, unknown> | null } & Record<string, unknown>) | null;
  latestCustodyEvent?: Record<string, unknown> | null;
  [field: string]: unknown;
}

const s = '"specimen"';

function nodeSql(shape: SpecimenPageShape): string {
  const extra: string[] = [];
  if (shape.location) {
    extra.push(`'location', (select json_build_object('chain', h.location_chain, 'row', ${s}.position_row, 'col', ${s}.position_col)
                               from container h where h.id = ${s}.container_id)`);
  }
  const c = shape.container;
  if (c) {
    // The institution's containers only, as the storage service reads them.
    const parent = c.parent
      ? [
          `'parent', (select ${containerJsonSql('p', c.parent)} from container p
                        where p.id = c.parent_id and p.institution_id = ${s}.institution_id)`,
        ]
      : [];
    extra.push(`'container', (select ${containerJsonSql('c', c.fields, parent)} from container c
                                where c.id = ${s}.container_id and c.institution_id = ${s}.institution_id)`);
  }
  if (shape.latestCustodyEvent) {
    extra.push(`'latestCustodyEvent', ${latestCustodyEventJsonSql(`${s}.id`, shape.latestCustodyEvent)}`);
  }
  return jsonObjectSql(SPECIMEN_JSON_FIELDS, s, shape.fields, extra);
}

/** The page's specimens (up to `f.limit`, in id order) as `shape` says. */
export async function readSpecimenPage(
  db: Db,
  pool: pg.Pool,
  f: SpecimenFilter,
  shape: SpecimenPageShape,
): Promise<SpecimenPageNode[]> {
  const rows = db
    .select({ id: specimens.id, node: sql`${sql.raw(nodeSql(shape))}`.as('node') })
    .from(specimens)
    .where(specimenListWhere(f))
    .orderBy(asc(specimens.id))
    .limit(f.limit);
  const { sql: inner, params } = rows.toSQL();
  const text = `select coalesce(json_agg(p.node order by p.id), '[]')::text as page from (${inner}) p`;
  const name = `biobank_specimen_page_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
  const { rows: result } = await pool.query<{ page: string }>({ name, text, values: params });
  return JSON.parse(result[0]!.page) as SpecimenPageNode[];
}
