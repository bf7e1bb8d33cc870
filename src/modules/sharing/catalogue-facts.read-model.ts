// Read model: what the partner catalogue counts, for every institution at once. It reads specimen
// (the tubes that could be shared: available, no hold, not QC-failed), consent and
// collection_protocol through the consent module's own SQL decision (`consentForUse`, one flag
// per use, decided once per donor and protocol), container (the storage temperature of a tube:
// its box's, or the nearest ancestor's that has one), participant (the donors' sex, birth year and
// diagnoses) and collection_protocol (its disease area). One statement per part, in one read-only snapshot of the database, because the
// catalogue counts over a whole inventory (sharing.catalogue.snapshot.ts keeps it in memory).
//
// Tubes that agree on everything a catalogue criterion or grouping can tell apart are one row,
// holding the most any of them has left: a sample fits a minimum quantity when one of its tubes
// holds that much, and the other criteria cannot tell those tubes apart. Rows come ordered by
// provider, donor and lineage root, so the counting can tell samples and donors apart in one pass.
import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { USES } from '../../vocabulary/uses.js';
import { consentForUse } from '../consent/index.js';

/** SPREC code lengths (ISBER SPREC 3.0): fluids have seven fields, solid tissue eight. */
const SPREC_FLUID_LENGTH = 17;
const SPREC_SOLID_LENGTH = 19;

export type CatalogueFactRow = {
  provider: string;
  /** null: a control, no donor */
  donor: string | null;
  root: string;
  protocol: string | null;
  type: string;
  unit: string;
  /** numeric text: the most any tube of the row has left, in `unit` */
  quantity: string;
  freeze_thaw: number;
  /** SPREC pre-centrifugation letter (fluids), long-term storage letter */
  pre_centrifugation: string | null;
  long_term_storage: string | null;
  qc_passed: boolean;
  temperature_c: number | null;
  collected_year: number | null;
  anatomic_site: string | null;
  /** bit i set: consent permits USES[i] */
  uses: number;
};

export type CatalogueDonorRow = {
  id: string;
  sex: string;
  birth_year: number | null;
  diagnoses: string[];
};

export interface CatalogueFacts {
  rows: CatalogueFactRow[];
  donors: CatalogueDonorRow[];
  /** protocol id -> disease area */
  protocols: { id: string; disease_area: string }[];
}

/** Stands for a missing id in joins on nullable ids (a hash join needs plain equality). */
const NO_ID = sql`'00000000-0000-0000-0000-000000000000'::uuid`;

const SHAREABLE_TUBE = sql`s.status = 'available' and cardinality(s.holds) = 0 and s.qc_status <> 'fail'`;

/** Every institution's catalogue facts, consent judged on `today` (YYYY-MM-DD, UTC). */
export async function readCatalogueFacts(db: Db, today: string): Promise<CatalogueFacts> {
  // The joins do not depend on the use: one set of joins, one predicate per use.
  const decisions = USES.map((use) => consentForUse(use, today));
  const usesMask = sql.join(
    decisions.map((d, i) => sql`(case when ${d.permitted} then ${1 << i} else 0 end)`),
    sql` + `,
  );
  return db.transaction(
    async (tx) => {
      const rows = await tx.execute<CatalogueFactRow>(sql`
        with temperatures as (
          select c.id, coalesce(c.temperature_c,
                   (select a.temperature_c from container a
                     where a.id = any(c.ancestor_ids) and a.temperature_c is not null
                     order by array_position(c.ancestor_ids, a.id) desc limit 1))::float8 as temperature_c
            from container c
        ),
        tubes as (
          select s.institution_id as provider, s.participant_id as donor, s.root_id as root,
                 s.protocol_id as protocol, s.type, s.unit, s.freeze_thaw_count as freeze_thaw,
                 case when length(s.sprec_code) = ${SPREC_FLUID_LENGTH} then substr(s.sprec_code, 9, 1) end
                   as pre_centrifugation,
                 case when length(s.sprec_code) in (${SPREC_FLUID_LENGTH}, ${SPREC_SOLID_LENGTH})
                   then right(s.sprec_code, 1) end as long_term_storage,
                 s.qc_status = 'pass' as qc_passed, t.temperature_c,
                 extract(year from s.collected_at at time zone 'UTC')::int as collected_year,
                 s.anatomic_site, max(s.available_quantity) as quantity
            from specimen s left join temperatures t on t.id = s.container_id
           where ${SHAREABLE_TUBE}
           group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
        ),
        -- Consent is decided per donor and protocol, not per tube: each pair stands in for the
        -- specimen the consent predicate reads (its holds are already excluded above).
        pairs as (select distinct donor as participant_id, protocol as protocol_id from tubes),
        consented as (
          select s.participant_id, s.protocol_id, ${usesMask} as uses
            from (select p.participant_id, p.protocol_id, '{}'::text[] as holds from pairs p) s
            ${decisions[0]!.joins}
        )
        select g.provider, g.donor, g.root, g.protocol, g.type::text as type, g.unit::text as unit,
               g.quantity::text as quantity, g.freeze_thaw, g.pre_centrifugation, g.long_term_storage,
               g.qc_passed, g.temperature_c, g.collected_year, g.anatomic_site, k.uses
          from tubes g
          join consented k
            on coalesce(k.participant_id, ${NO_ID}) = coalesce(g.donor, ${NO_ID})
           and coalesce(k.protocol_id, ${NO_ID}) = coalesce(g.protocol, ${NO_ID})
         order by 1, 2 nulls last, 3`);
      const donors = await tx.execute<CatalogueDonorRow>(sql`
        select p.id, p.sex::text as sex, p.birth_year, p.diagnoses
          from participant p
         where exists (select 1 from specimen s where s.participant_id = p.id and ${SHAREABLE_TUBE})`);
      const protocols = await tx.execute<{ id: string; disease_area: string }>(
        sql`select id, disease_area::text as disease_area from collection_protocol`,
      );
      return { rows: rows.rows, donors: donors.rows, protocols: protocols.rows };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}
