import type pg from 'pg';
import type { z } from 'zod';
import { isoSql, jsonObjectSql, type SqlFieldMap } from '../../db/json-sql.js';
import type { custodyEventDto } from './specimens.schemas.js';

// Read model: the latest custody event (custody) of given specimens (the `latestCustodyEvent`
// loader, when a page did not read it with its rows), as the JSON `toCustodyEventDto` writes,
// built by PostgreSQL in one prepared statement and parsed once: no ORM mapping of 20 columns per
// event (issue 16). Each head is found from the end of its chain on the (specimen_id, seq) index,
// so a long history costs what a short one does. The field map serves the page's columns too.

export type CustodyEventDto = z.infer<typeof custodyEventDto>;

/** Each field of the custody event DTO, in its order, as SQL over the table reference `e`. */
export const CUSTODY_EVENT_SQL_FIELDS: SqlFieldMap = {
  id: (e) => `${e}.id`,
  seq: (e) => `${e}.seq`,
  type: (e) => `${e}.type`,
  occurredAt: (e) => isoSql(`${e}.occurred_at`),
  recordedAt: (e) => isoSql(`${e}.recorded_at`),
  actor: (e) => `${e}.actor`,
  actorIdentity: (e) => `case when ${e}.actor_name is null then null
                          else json_build_object('name', ${e}.actor_name, 'role', ${e}.actor_role,
                                                 'institutionCode', ${e}.actor_institution_code) end`,
  hashVersion: (e) => `${e}.hash_version`,
  requestId: (e) => `${e}.request_id`,
  fromContainerId: (e) => `${e}.from_container_id`,
  fromPosition: (e) => `${e}.from_position`,
  toContainerId: (e) => `${e}.to_container_id`,
  toPosition: (e) => `${e}.to_position`,
  quantityChange: (e) => `${e}.quantity_change::float8`,
  details: (e) => `${e}.details`,
  prevHash: (e) => `${e}.prev_hash`,
  hash: (e) => `${e}.hash`,
};

/** A custody event as the JSON `toCustodyEventDto` writes, over the table reference `e`. */
export const custodyEventJsonSql = (e: string) => jsonObjectSql(CUSTODY_EVENT_SQL_FIELDS, e);

const LATEST_CUSTODY_SQL = `
select json_object_agg(e.specimen_id, ${custodyEventJsonSql('e')})::text as events
  from custody_event e
 where e.institution_id = $1
   and (e.specimen_id, e.seq) in (
         select h.id, (select max(x.seq) from custody_event x where x.specimen_id = h.id)
           from unnest($2::uuid[]) h(id))`;

/** The latest event of each given specimen of the institution, by specimen id (none: absent). */
export async function latestCustodyEventDtos(
  pool: pg.Pool,
  institutionId: string,
  specimenIds: readonly string[],
): Promise<Map<string, CustodyEventDto>> {
  if (specimenIds.length === 0) return new Map();
  const { rows } = await pool.query<{ events: string | null }>({
    name: 'biobank_latest_custody_events',
    text: LATEST_CUSTODY_SQL,
    values: [institutionId, specimenIds],
  });
  const events = rows[0]?.events;
  return new Map(events ? Object.entries(JSON.parse(events) as Record<string, CustodyEventDto>) : []);
}
