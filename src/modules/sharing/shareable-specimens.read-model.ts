// Read model: the specimens a provider could share for a use today. Shareable means available (in
// stock, not reserved or out), no hold (a hold blocks sharing: specimens lifecycle), not QC-failed,
// and the donor's consent permits the use, decided by the consent module's own SQL
// (`consentForUse`). It reads specimen, participant (the donor's sex, birth year and diagnoses the
// criteria speak of) and, through consentForUse, consent and collection_protocol, in one
// statement, because a proposal or a catalogue count runs over a whole inventory. Aliases: `s`
// the specimen, `d` its donor, `ck` and `cp` the consent's. The specimen ledger remains the only
// writer of specimens.
import { sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { pgArray } from '../../db/array-literals.js';
import type { Use } from '../../vocabulary/uses.js';
import { consentForUse } from '../consent/index.js';
import { compileCriteria, quantityAtLeast, type Criteria, type QuantityInput } from './sharing.criteria.js';

export interface ShareableScope {
  providerInstitutionIds: readonly string[];
  use: Use;
  /** YYYY-MM-DD: consent expiry is judged on this day */
  today: string;
}

/**
 * The FROM clause and the shareable predicate, for the catalogue and the proposal alike. Consent
 * is a semi-join on the (donor, protocol) pairs it permits rather than a join per tube: over a
 * whole inventory that is one hash of consents probed once per tube (BENCHMARKS.md, Sharing).
 */
export function shareableSpecimens(scope: ShareableScope): { from: SQL; base: SQL } {
  const consent = consentForUse(scope.use, scope.today);
  return {
    from: sql`specimen s left join participant d on d.id = s.participant_id`,
    base: sql`s.institution_id = any(${pgArray([...scope.providerInstitutionIds])}::uuid[])
      and s.status = 'available' and s.holds = '{}' and s.qc_status <> 'fail'
      and (s.participant_id is null or (s.participant_id, s.protocol_id) in (${consent.consentedPairs}))`,
  };
}

/** Why a specimen does not fit, item by item; empty when it fits. */
export interface Fit {
  id: string;
  barcode: string;
  participantId: string | null;
  reasons: string[];
}

type FitRow = {
  id: string;
  barcode: string;
  participant_id: string | null;
  status: string;
  holds: string[];
  qc_failed: boolean;
  consented: boolean;
  covers: boolean;
  [criterion: `c${number}`]: boolean;
};

/**
 * How each given specimen of the provider fits a request: in stock, no hold, not QC-failed,
 * consent permits the use, covers the quantity, and meets each criterion (named in the reasons).
 * Specimens of other institutions are not returned.
 */
export async function fitOf(
  db: DbOrTx,
  scope: ShareableScope & { criteria: Criteria; quantity: QuantityInput },
  specimenIds: readonly string[],
): Promise<Map<string, Fit>> {
  if (specimenIds.length === 0) return new Map();
  const consent = consentForUse(scope.use, scope.today);
  const criteria = compileCriteria(scope.criteria);
  const columns = criteria.map((c, i) => sql`${c.predicate} as ${sql.raw(`c${i}`)}`);
  const res = await db.execute<FitRow>(sql`
    select s.id, s.barcode, s.participant_id, s.status, s.holds, s.qc_status = 'fail' as qc_failed,
           ${consent.permitted} as consented, ${quantityAtLeast(scope.quantity)} as covers
           ${columns.length ? sql`, ${sql.join(columns, sql`, `)}` : sql``}
      from specimen s left join participant d on d.id = s.participant_id ${consent.joins}
     where s.institution_id = any(${pgArray([...scope.providerInstitutionIds])}::uuid[])
       and s.id = any(${pgArray([...specimenIds])}::uuid[])`);
  return new Map(
    res.rows.map((r) => {
      const reasons: string[] = [];
      if (r.status !== 'available') reasons.push(`it is ${r.status}`);
      if (r.holds.length) reasons.push(`it is on hold (${r.holds.join(', ')})`);
      if (r.qc_failed) reasons.push('its quality checks failed');
      if (!r.consented) reasons.push(`consent does not permit ${scope.use}`);
      if (!r.covers) reasons.push(`it holds less than ${scope.quantity.value} ${scope.quantity.unit}`);
      criteria.forEach((c, i) => {
        if (!r[`c${i}`]) reasons.push(`it does not meet ${c.field}`);
      });
      return [r.id, { id: r.id, barcode: r.barcode, participantId: r.participant_id, reasons }];
    }),
  );
}

export interface Candidate {
  specimenId: string;
  participantId: string | null;
  containerId: string | null;
}

/**
 * Up to `count` specimens fit for the request, chosen as a lab would pick them: with
 * `onePerDonor`, each donor's smallest tube that covers the quantity (the rest of the donor's
 * material stays for other studies); then the boxes holding the most of them first, and within a
 * box by position, so the pick list is short. `exclude`: specimens already in the request.
 * Call it inside a transaction (its settings are the transaction's own).
 */
export async function proposalCandidates(
  db: DbOrTx,
  scope: ShareableScope & { criteria: Criteria; quantity: QuantityInput },
  opts: { count: number; onePerDonor: boolean; exclude: readonly string[]; excludeDonors: readonly string[] },
): Promise<Candidate[]> {
  const { from, base } = shareableSpecimens(scope);
  const criteria = compileCriteria(scope.criteria).map((c) => c.predicate);
  const where = sql.join([base, quantityAtLeast(scope.quantity), ...criteria], sql` and `);
  const excluded = opts.exclude.length
    ? sql`and not (s.id = any(${pgArray([...opts.exclude])}::uuid[]))`
    : sql``;
  const excludedDonors = opts.excludeDonors.length
    ? sql`and not coalesce(s.participant_id = any(${pgArray([...opts.excludeDonors])}::uuid[]), false)`
    : sql``;
  // One large read per proposal, inside the proposal's transaction: JIT compilation cost more
  // than it saved on it (about 0.5 s of 4 on 1,000,000 specimens), and the per-donor choice sorts
  // every fitting tube, which spilled to disk at the default work_mem (BENCHMARKS.md).
  await db.execute(sql`set local jit = off`);
  await db.execute(sql`set local work_mem = '64MB'`);
  // A tube without a donor (a control) is its own donor.
  const res = await db.execute<{
    id: string;
    participant_id: string | null;
    container_id: string | null;
  }>(sql`
    with fit as (
      select s.id, s.participant_id, s.container_id, s.position_row, s.position_col, s.available_quantity
        from ${from}
       where ${where} ${excluded} ${excludedDonors}
    ),
    chosen as (
      ${
        opts.onePerDonor
          ? sql`select distinct on (coalesce(participant_id, id)) * from fit
                 order by coalesce(participant_id, id), available_quantity, id`
          : sql`select * from fit`
      }
    )
    select id, participant_id, container_id
      from chosen
     order by count(*) over (partition by container_id) desc, container_id, position_row, position_col,
              available_quantity, id
     limit ${opts.count}`);
  return res.rows.map((r) => ({
    specimenId: r.id,
    participantId: r.participant_id,
    containerId: r.container_id,
  }));
}
