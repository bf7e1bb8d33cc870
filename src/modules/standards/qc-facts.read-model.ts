// The facts a standardization check needs about a set of specimens, in one statement. A named
// cross-module read model: it reads specimen (the rows, the lineage root and the SPREC source
// ancestor), container (the temperature of the nearest container up the tree that has one),
// custody_event (a set-based summary of each chain), participant (the donor), consent (the current
// one under the protocol) and qc_result (which checks have a current result). It is one query
// because a batch run loads 2,000 specimens per chunk: one round trip and one plan per chunk,
// where a read per module would cost six, each keyed by the previous one's ids.

import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { executePrepared } from '../../db/prepared.js';
import type { SpecimenType } from '../../vocabulary/specimen-types.js';
import type { SpecimenStatus } from '../specimens/index.js';
import { specimensWithIds } from './run-scope.read-model.js';
import { epochMs, withoutJit, withoutJitForcingGenericPlans } from './standards.sql.js';
import type { SpecimenFacts } from './standards.rules.js';

/** A specimen's facts and the checks that have a current result (the ones a re-check may remove). */
export interface LoadedFacts {
  facts: SpecimenFacts;
  /** check codes with a current result */
  currentChecks: string[];
  /** the custody chain as verified by the last per-specimen check (`checkpoint` mode only) */
  checkpoint: CustodyCheckpoint | null;
}

/** How the facts' custody summary is made. */
type CustodyMode =
  /** set-based over the whole chain (a batch run: stored hashes trusted, links and head checked) */
  | 'summary'
  /** left for the caller to extend from the checkpoint (the per-specimen check: new events only) */
  | 'checkpoint';

export interface CustodyCheckpoint {
  seq: number;
  hash: string;
  firstType: string;
  lastToContainerId: string | null;
}

type FactsRow = {
  id: string;
  institution_id: string;
  barcode: string;
  type: SpecimenType;
  lineage: SpecimenFacts['lineage'];
  participant_id: string | null;
  protocol_id: string | null;
  anatomic_site: string | null;
  pathology_status: string;
  /** timestamps as epoch milliseconds (drizzle hands timestamptz over as text) */
  collected_at: number | null;
  received_at: number | null;
  processed_at: number | null;
  frozen_at: number | null;
  sprec_code: string | null;
  sprec_version: string | null;
  quality: Record<string, number>;
  freeze_thaw_count: number;
  status: SpecimenStatus;
  holds: string[];
  container_id: string | null;
  custody_seq: number;
  custody_head: string | null;
  version: number;
  storage_temperature_c: number | null;
  events: number | null;
  min_seq: number | null;
  max_seq: number | null;
  linked: boolean | null;
  head: string | null;
  first_type: string | null;
  last_to: string | null;
  has_donor: boolean;
  donor_sex: string | null;
  donor_birth_year: number | null;
  donor_diagnoses: string[] | null;
  consent_status: 'active' | 'withdrawn' | 'expired' | null;
  consent_expires_on: string | null;
  root_sprec_code: string | null;
  root_sprec_version: string | null;
  src_type: SpecimenType | null;
  src_lineage: SpecimenFacts['lineage'] | null;
  src_collected_at: number | null;
  src_processed_at: number | null;
  src_frozen_at: number | null;
  src_quality: Record<string, number> | null;
  src_sprec_code: string | null;
  src_sprec_version: string | null;
  current_checks: string[] | null;
  cp_seq: number | null;
  cp_hash: string | null;
  cp_first_type: string | null;
  cp_last_to: string | null;
};

const toDate = (ms: number | null) => (ms === null ? null : new Date(ms));

/**
 * Everything the checks need for a set of specimens, in one statement: the specimen rows, the
 * temperature of the container holding each (nearest container up the tree with one), the donor,
 * the current consent, the lineage root's and the SPREC source's codes, and a custody summary.
 *
 * The custody summary is set-based on purpose: per specimen the event count and sequence range,
 * whether every event links to the previous hash (a window function), the last hash (must equal
 * the specimen's custody_head), the first event's type and the last location an event moved it
 * to. Recomputing every SHA-256 of every chain would dominate a large run, so hashes are
 * recomputed only by the per-specimen check (checkSpecimens); a batch run trusts the stored hashes
 * and checks their sequence, links and head.
 */
function factsQuery(where: SQL, limit: number | null, custody: CustodyMode): SQL {
  const summary = custody === 'summary';
  return sql`
    with chunk as (
      select s.id, s.institution_id, s.barcode, s.type, s.lineage, s.parent_id, s.root_id, s.participant_id,
             s.protocol_id, s.anatomic_site, s.pathology_status, s.collected_at, s.received_at, s.processed_at,
             s.frozen_at, s.sprec_code, s.sprec_version, s.quality, s.freeze_thaw_count, s.status, s.holds,
             s.container_id, s.custody_seq, s.custody_head, s.version
        from specimen s
       where ${where}
       order by s.id
       ${limit === null ? sql`` : sql`limit ${limit}`}
    ),
    temps as (
      select c.id,
             coalesce(c.temperature_c,
               (select a.temperature_c from container a
                 where a.id = any(c.ancestor_ids) and a.temperature_c is not null
                 order by array_position(c.ancestor_ids, a.id) desc limit 1))::float8 as temperature_c
        from container c
       where c.id in (select container_id from chunk)
    ),
    ${
      summary
        ? sql`ev as (
      select e.specimen_id, e.seq, e.type, e.hash, e.to_container_id,
             e.prev_hash is not distinct from lag(e.hash) over w as linked
        from custody_event e
       where e.specimen_id in (select id from chunk)
      window w as (partition by e.specimen_id order by e.seq)
    ),
    cust as (
      select specimen_id, count(*)::int as events, min(seq) as min_seq, max(seq) as max_seq,
             bool_and(linked) as linked,
             (array_agg(hash order by seq desc))[1] as head,
             (array_agg(type::text order by seq))[1] as first_type,
             (array_agg(to_container_id order by seq desc) filter (where to_container_id is not null))[1] as last_to
        from ev
       group by specimen_id
    ),`
        : sql``
    }
    cp as (
      select k.specimen_id, k.seq, k.hash, k.first_type, k.last_to_container_id
        from custody_checkpoint k
       where ${summary ? sql`false` : sql`k.specimen_id in (select id from chunk)`}
    )
    select ch.id, ch.institution_id, ch.barcode, ch.type, ch.lineage, ch.participant_id, ch.protocol_id,
           ch.anatomic_site, ch.pathology_status,
           ${epochMs(sql`ch.collected_at`)} as collected_at, ${epochMs(sql`ch.received_at`)} as received_at,
           ${epochMs(sql`ch.processed_at`)} as processed_at, ${epochMs(sql`ch.frozen_at`)} as frozen_at,
           ch.sprec_code, ch.sprec_version, ch.quality, ch.freeze_thaw_count, ch.status, ch.holds, ch.container_id,
           ch.custody_seq, ch.custody_head, ch.version,
           t.temperature_c as storage_temperature_c,
           ${
             summary
               ? sql`cu.events, cu.min_seq, cu.max_seq, cu.linked, cu.head, cu.first_type, cu.last_to,`
               : sql`null::int as events, null::int as min_seq, null::int as max_seq, null::bool as linked,
                     null::text as head, null::text as first_type, null::uuid as last_to,`
           }
           cp.seq as cp_seq, cp.hash as cp_hash, cp.first_type as cp_first_type,
           cp.last_to_container_id as cp_last_to,
           p.id is not null as has_donor, p.sex::text as donor_sex, p.birth_year as donor_birth_year,
           p.diagnoses as donor_diagnoses,
           cs.status::text as consent_status, cs.expires_on::text as consent_expires_on,
           r.sprec_code as root_sprec_code, r.sprec_version as root_sprec_version,
           -- Correlated on purpose: one primary-key probe per specimen, whatever the statistics.
           (select array_agg(q.check_code::text) from qc_result q where q.specimen_id = ch.id) as current_checks,
           src.type as src_type, src.lineage as src_lineage, ${epochMs(sql`src.collected_at`)} as src_collected_at,
           ${epochMs(sql`src.processed_at`)} as src_processed_at, ${epochMs(sql`src.frozen_at`)} as src_frozen_at,
           src.quality as src_quality,
           src.sprec_code as src_sprec_code, src.sprec_version as src_sprec_version
      from chunk ch
      left join temps t on t.id = ch.container_id
      ${summary ? sql`left join cust cu on cu.specimen_id = ch.id` : sql``}
      left join cp on cp.specimen_id = ch.id
      left join participant p on p.id = ch.participant_id
      left join consent cs
        on cs.participant_id = ch.participant_id and cs.protocol_id = ch.protocol_id and cs.superseded_at is null
      left join specimen r on r.id = ch.root_id and ch.root_id <> ch.id
      left join lateral (
        -- The nearest ancestor that is not an aliquot or that states a code (SPREC.md 4.4).
        with recursive up as (
          select a.id, a.parent_id, a.lineage, a.sprec_code, 1 as depth from specimen a where a.id = ch.parent_id
          union all
          select a.id, a.parent_id, a.lineage, a.sprec_code, up.depth + 1
            from specimen a join up on a.id = up.parent_id
           where up.lineage = 'aliquot' and up.sprec_code is null and up.depth < 64
        )
        select x.type, x.lineage, x.collected_at, x.processed_at, x.frozen_at, x.quality, x.sprec_code, x.sprec_version
          from up join specimen x on x.id = up.id
         order by up.depth desc
         limit 1
      ) src on ch.lineage = 'aliquot'
     order by ch.id`;
}

function toFacts(r: FactsRow): SpecimenFacts {
  return {
    id: r.id,
    barcode: r.barcode,
    institutionId: r.institution_id,
    version: r.version,
    type: r.type,
    lineage: r.lineage,
    status: r.status,
    holds: r.holds,
    participantId: r.participant_id,
    protocolId: r.protocol_id,
    anatomicSite: r.anatomic_site,
    pathologyStatus: r.pathology_status,
    collectedAt: toDate(r.collected_at),
    receivedAt: toDate(r.received_at),
    processedAt: toDate(r.processed_at),
    frozenAt: toDate(r.frozen_at),
    sprecCode: r.sprec_code,
    sprecVersion: r.sprec_version,
    quality: r.quality,
    freezeThawCount: r.freeze_thaw_count,
    containerId: r.container_id,
    storageTemperatureC: r.storage_temperature_c,
    custodySeq: r.custody_seq,
    custodyHead: r.custody_head,
    custody: {
      events: r.events ?? 0,
      minSeq: r.min_seq,
      maxSeq: r.max_seq,
      linked: r.linked ?? true,
      head: r.head,
      firstType: r.first_type,
      lastToContainerId: r.last_to,
      verified: null,
    },
    donor: r.has_donor
      ? { sex: r.donor_sex ?? 'unknown', birthYear: r.donor_birth_year, diagnoses: r.donor_diagnoses ?? [] }
      : null,
    consent: r.consent_status ? { status: r.consent_status, expiresOn: r.consent_expires_on } : null,
    source:
      r.src_type && r.src_lineage
        ? {
            type: r.src_type,
            lineage: r.src_lineage,
            collectedAt: toDate(r.src_collected_at),
            processedAt: toDate(r.src_processed_at),
            frozenAt: toDate(r.src_frozen_at),
            quality: r.src_quality ?? {},
            sprecCode: r.src_sprec_code,
            sprecVersion: r.src_sprec_version,
          }
        : null,
    root: r.root_sprec_code ? { sprecCode: r.root_sprec_code, sprecVersion: r.root_sprec_version } : null,
  };
}

const loadedFacts = (rows: FactsRow[]): LoadedFacts[] =>
  rows.map((r) => ({
    facts: toFacts(r),
    currentChecks: r.current_checks ?? [],
    checkpoint:
      r.cp_seq !== null && r.cp_hash !== null && r.cp_first_type !== null
        ? { seq: r.cp_seq, hash: r.cp_hash, firstType: r.cp_first_type, lastToContainerId: r.cp_last_to }
        : null,
  }));

/**
 * Loads the facts of the specimens `scope` selects (an expression over `specimen s`, see
 * run-scope.read-model.ts), in id order, at most `limit` of them: a batch run's chunk, planned for
 * its filter each time.
 */
export async function loadQcFacts(db: Db, scope: SQL, limit: number): Promise<LoadedFacts[]> {
  const res = await db.transaction(async (tx) => {
    await withoutJit(tx);
    return tx.execute<FactsRow>(factsQuery(scope, limit, 'summary'));
  });
  return loadedFacts(res.rows);
}

/**
 * Loads the facts of the specimens with these ids (any institution), custody left to extend from
 * each checkpoint: the per-specimen check's load. The statement is the same text for any ids, so it
 * is prepared and runs one generic plan.
 */
export async function loadQcFactsOfSpecimens(db: Db, ids: readonly string[]): Promise<LoadedFacts[]> {
  const res = await db.transaction(async (tx) => {
    await withoutJitForcingGenericPlans(tx);
    return executePrepared<FactsRow>(tx, factsQuery(specimensWithIds(ids), null, 'checkpoint'));
  });
  return loadedFacts(res.rows);
}
