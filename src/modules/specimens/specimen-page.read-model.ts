import { sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type pg from 'pg';
import type { SqlFieldMap } from '../../db/json-sql.js';
import { preparedStatementName } from '../../db/prepared.js';
import { CONTAINER_SQL_FIELDS, type LocationChainEntry } from '../storage/index.js';
import { CUSTODY_EVENT_SQL_FIELDS } from './latest-custody.read-model.js';
import type { SpecimenPageShape } from './specimen-page.shape.js';
import { SPECIMEN_SQL_FIELDS } from './specimen-json.js';
import { specimenListWhere, type SpecimenFilter } from './specimens.repo.js';
import { specimens } from './specimens.table.js';

// Read model: a page of the specimen list for GraphQL in ONE statement (issue 16). Each row holds
// only the fields the query selects (specimen-page.shape.ts) as plain columns, and, when asked,
// its holder's location chain, its container with the container's parent (storage's
// container-json.ts) and its latest custody event, read from the end of its chain: joins, no
// statement per relation. Columns rather than JSON written by PostgreSQL, which cost it more than
// the whole page costs PostGraphile; the rows come as arrays and a plan made with the statement
// puts each column where the API has it. The list's conditions are the repo's; the statement is
// prepared under a name derived from its text, so PostgreSQL keeps one generic plan per filter
// combination, selection and page size instead of planning each page.

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

/** Where each column goes: fields of one object, and nested objects (null when `present` is). */
interface ObjectPlan {
  fields: [name: string, column: number][];
  nested: [name: string, present: number, plan: ObjectPlan][];
}

const dialect = new PgDialect();

/** Builds the select list and the plan that reads it back. */
class Columns {
  readonly list: string[] = [];
  add(expr: string): number {
    this.list.push(`${expr} as c${this.list.length}`);
    return this.list.length - 1;
  }
  /** The fields (with `id`, which tells a missing row) of `map` over `t`. */
  object(
    map: SqlFieldMap,
    t: string,
    fields: ReadonlySet<string> | 'all',
  ): { plan: ObjectPlan; present: number } {
    const present = this.add(map.id!(t));
    const plan: ObjectPlan = { fields: [], nested: [] };
    for (const [name, expr] of Object.entries(map)) {
      if (name === 'id') plan.fields.push(['id', present]);
      else if (fields === 'all' || fields.has(name)) plan.fields.push([name, this.add(expr(t))]);
    }
    return { plan, present };
  }
}

const s = '"specimen"';

interface PageStatement {
  columns: string[];
  joins: string[];
  plan: ObjectPlan;
}

function pageStatement(shape: SpecimenPageShape): PageStatement {
  const cols = new Columns();
  const joins: string[] = [];
  const { plan } = cols.object(SPECIMEN_SQL_FIELDS, s, shape.fields);
  const c = shape.container;
  if (shape.location || c) {
    // The institution's containers only, as the storage service reads them.
    joins.push(
      `left join container c on c.id = ${s}.container_id and c.institution_id = ${s}.institution_id`,
    );
  }
  if (shape.location) {
    const location: ObjectPlan = {
      fields: [
        ['chain', cols.add('c.location_chain')],
        ['row', cols.add(`${s}.position_row`)],
        ['col', cols.add(`${s}.position_col`)],
      ],
      nested: [],
    };
    plan.nested.push(['location', cols.add('c.id'), location]);
  }
  if (c) {
    const container = cols.object(CONTAINER_SQL_FIELDS, 'c', c.fields);
    if (c.parent) {
      joins.push(`left join container cp on cp.id = c.parent_id and cp.institution_id = ${s}.institution_id`);
      const parent = cols.object(CONTAINER_SQL_FIELDS, 'cp', c.parent);
      container.plan.nested.push(['parent', parent.present, parent.plan]);
    }
    plan.nested.push(['container', container.present, container.plan]);
  }
  if (shape.latestCustodyEvent) {
    // The head of its chain, on the (specimen_id, seq) index: a long history costs what a short one does.
    const events = new Columns();
    const event = events.object(CUSTODY_EVENT_SQL_FIELDS, 'e', shape.latestCustodyEvent);
    joins.push(`left join lateral (select ${events.list.join(', ')} from custody_event e
                where e.specimen_id = ${s}.id order by e.seq desc limit 1) le on true`);
    const outer = events.list.map((_, column) => cols.add(`le.c${column}`));
    plan.nested.push([
      'latestCustodyEvent',
      outer[event.present]!,
      { fields: event.plan.fields.map(([name, column]) => [name, outer[column]!]), nested: [] },
    ]);
  }
  return { columns: cols.list, joins, plan };
}

function read(row: unknown[], plan: ObjectPlan): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [name, column] of plan.fields) o[name] = row[column];
  for (const [name, present, nested] of plan.nested)
    o[name] = row[present] === null ? null : read(row, nested);
  return o;
}

const shapeKey = (shape: SpecimenPageShape) =>
  JSON.stringify(shape, (_k, v: unknown) => (v instanceof Set ? [...(v as Set<string>)] : v));

// The statements made, by shape and conditions; bounded, as callers choose the selection.
const made = new Map<string, { text: string; name: string; plan: ObjectPlan }>();

/** The page's specimens (up to `f.limit`, in id order) as `shape` says. */
export async function readSpecimenPage(
  pool: pg.Pool,
  f: SpecimenFilter,
  shape: SpecimenPageShape,
): Promise<SpecimenPageNode[]> {
  // The limit is written out, not a parameter: with `limit $n` PostgreSQL's generic plan assumes
  // a tenth of the table (a parallel scan, JIT), so it planned every execution anew instead.
  if (!Number.isSafeInteger(f.limit) || f.limit < 1) throw new Error(`page limit ${f.limit} is not a count`);
  const tail = dialect.sqlToQuery(
    sql`where ${specimenListWhere(f)} order by ${specimens.id} asc limit ${sql.raw(String(f.limit))}`,
  );
  const key = `${shapeKey(shape)} ${tail.sql}`;
  let statement = made.get(key);
  if (!statement) {
    const { columns, joins, plan } = pageStatement(shape);
    const text = `select ${columns.join(', ')} from ${s} ${joins.join(' ')} ${tail.sql}`;
    const name = preparedStatementName('biobank_specimen_page', text);
    if (made.size >= 256) made.clear();
    made.set(key, (statement = { text, name, plan }));
  }
  const { rows } = await pool.query<unknown[]>({
    name: statement.name,
    text: statement.text,
    values: tail.params,
    rowMode: 'array',
  });
  const plan = statement.plan;
  return rows.map((row) => read(row, plan) as SpecimenPageNode);
}
