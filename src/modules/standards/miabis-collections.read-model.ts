// The figures a MIABIS Core 3.0 collection aggregate is built from, per protocol. A named
// cross-module read model: it reads specimen (the live samples of each protocol, counted by
// lineage root), participant (donor sex, birth year and diagnoses) and container (the storage
// temperature of the nearest container up the tree that has one). The four aggregates run side by
// side, each one statement over the same live set, so the export costs one round trip of waiting.

import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import type { SpecimenType } from '../../vocabulary/specimen-types.js';

export interface MiabisCollectionFigures {
  totals: { protocol_id: string; samples: number; donors: number }[];
  byType: { protocol_id: string; type: SpecimenType; samples: number }[];
  donors: {
    protocol_id: string;
    sexes: string[];
    age_low: number | null;
    age_high: number | null;
    diagnoses: string[] | null;
  }[];
  temps: { protocol_id: string; temperature_c: number | null }[];
}

/**
 * The institution's live samples per protocol: specimens used up, destroyed, given away or missing
 * are not counted, and the aliquots and derivatives of one sample count once (distinct roots).
 */
export async function miabisCollectionFigures(
  db: Db,
  institutionId: string,
): Promise<MiabisCollectionFigures> {
  const live = sql`
    select s.protocol_id, s.root_id, s.participant_id, s.type, s.collected_at, s.container_id
      from specimen s
     where s.institution_id = ${institutionId} and s.protocol_id is not null
       and s.status not in ('consumed', 'destroyed', 'distributed', 'missing')`;
  const [totals, byType, donors, temps] = await Promise.all([
    db.execute<MiabisCollectionFigures['totals'][number]>(sql`
      with live as (${live})
      select protocol_id, count(distinct root_id)::int as samples, count(distinct participant_id)::int as donors
        from live group by protocol_id`),
    db.execute<MiabisCollectionFigures['byType'][number]>(sql`
      with live as (${live})
      select protocol_id, type, count(distinct root_id)::int as samples from live group by protocol_id, type`),
    db.execute<MiabisCollectionFigures['donors'][number]>(sql`
      with live as (${live}),
      donor_ages as (
        select l.protocol_id, l.participant_id,
               min(extract(year from l.collected_at at time zone 'UTC'))::int as first_year,
               max(extract(year from l.collected_at at time zone 'UTC'))::int as last_year
          from live l where l.participant_id is not null
         group by l.protocol_id, l.participant_id
      )
      select d.protocol_id,
             array_agg(distinct p.sex::text) as sexes,
             min(d.first_year - p.birth_year)::int as age_low,
             max(d.last_year - p.birth_year)::int as age_high,
             (select array_agg(distinct x) from donor_ages d2 join participant p2 on p2.id = d2.participant_id,
                     unnest(p2.diagnoses) x where d2.protocol_id = d.protocol_id) as diagnoses
        from donor_ages d join participant p on p.id = d.participant_id
       group by d.protocol_id`),
    db.execute<MiabisCollectionFigures['temps'][number]>(sql`
      with live as (${live}),
      held as (select distinct protocol_id, container_id from live where container_id is not null)
      select h.protocol_id,
             coalesce(c.temperature_c,
               (select a.temperature_c from container a
                 where a.id = any(c.ancestor_ids) and a.temperature_c is not null
                 order by array_position(c.ancestor_ids, a.id) desc limit 1))::float8 as temperature_c
        from held h join container c on c.id = h.container_id`),
  ]);
  return { totals: totals.rows, byType: byType.rows, donors: donors.rows, temps: temps.rows };
}
