// Which specimens a standardization covers. A named cross-module read model: it reads specimen
// (the filter's columns) and container (the filter's subtree: a container and everything under
// it, by ancestor_ids), and, for the command line, institution (those holding any specimen). The
// scope is an SQL expression over `specimen s`, so the facts query (qc-facts.read-model.ts) and
// the run's bounds select exactly the same rows, each in one statement.

import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import type { RunFilter } from './standards.schemas.js';

/** The institution's specimens matching a run filter. */
export function runScope(institutionId: string, f: RunFilter): SQL {
  const parts: SQL[] = [sql`s.institution_id = ${institutionId}`];
  if (f.type) parts.push(sql`s.type = ${f.type}`);
  if (f.protocolId) parts.push(sql`s.protocol_id = ${f.protocolId}`);
  if (f.status) parts.push(sql`s.status = ${f.status}`);
  if (f.qcStatus) parts.push(sql`s.qc_status = ${f.qcStatus}`);
  if (f.containerId)
    parts.push(
      sql`s.container_id in (select c.id from container c where c.institution_id = ${institutionId} and (c.id = ${f.containerId} or c.ancestor_ids @> array[${f.containerId}::uuid]))`,
    );
  return sql.join(parts, sql` and `);
}

/** The part of a run's scope after the last committed chunk, up to the bound fixed when it started. */
export function scopeChunk(scope: SQL, after: string | null, maxId: string | null): SQL {
  return sql`${scope}${after ? sql` and s.id > ${after}::uuid` : sql``}${maxId ? sql` and s.id <= ${maxId}::uuid` : sql``}`;
}

/** The specimens with these ids (any institution: ids come from the specimens' own changes). */
export const specimensWithIds = (ids: readonly string[]): SQL => sql`s.id = any(${sql.param(ids)}::uuid[])`;

/** How many specimens the scope holds and the highest id among them (a run goes no further). */
export async function scopeBounds(db: Db, scope: SQL): Promise<{ total: number; maxId: string | null }> {
  const bounds = await db.execute<{ total: number; max_id: string | null }>(
    sql`select (select count(*)::int from specimen s where ${scope}) as total,
               (select s.id from specimen s where ${scope} order by s.id desc limit 1) as max_id`,
  );
  return { total: bounds.rows[0]?.total ?? 0, maxId: bounds.rows[0]?.max_id ?? null };
}

/** Institutions holding at least one specimen, by code (a command-line run over all of them). */
export async function institutionsWithSpecimens(db: Db): Promise<{ id: string; code: string }[]> {
  const res = await db.execute<{ id: string; code: string }>(
    sql`select i.id, i.code from institution i
         where exists (select 1 from specimen s where s.institution_id = i.id)
         order by i.code`,
  );
  return res.rows;
}
