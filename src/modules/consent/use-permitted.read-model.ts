// Read model: the consent decision "may this specimen be used for this use today?" as SQL over a
// specimen row `s`, for set-based reads that cannot ask the gate tube by tube (sharing proposals
// over a whole inventory, the partner catalogue). It reads consent (the donor's current consent
// under the specimen's protocol) and collection_protocol (the tiers it asks) by name. It answers
// what `evaluateUse` answers for every combination of holds, consent status, expiry, tiers and
// responses (test/sharing-criteria.test.ts holds the two equal); writes still pass the gate.
import { sql, type SQL } from 'drizzle-orm';
import { IMPLIED_BY_STUDY_CONSENT, USE_TIER, type Use } from '../../vocabulary/uses.js';

export interface ConsentSql {
  /** joins to add after `from specimen s` (aliases `ck`, the current consent, and `cp`, the protocol) */
  joins: SQL;
  /**
   * True when the use is permitted on `today`; false or null (no consent on file) when not, which
   * a WHERE treats alike. Left bare so the planner can estimate it: negate with
   * `not coalesce(permitted, false)`.
   */
  permitted: SQL;
  /**
   * `select participant_id, protocol_id` of every current consent that permits the use: with
   * `s.holds = '{}' and (s.participant_id is null or (s.participant_id, s.protocol_id) in (...))`
   * it decides as `permitted` does, as one semi-join over consents instead of two joins per tube
   * (a proposal reads a whole inventory).
   */
  consentedPairs: SQL;
}

/** The joins and the predicate for `use` judged on `today` (YYYY-MM-DD, the gate's UTC day). */
export function consentForUse(use: Use, today: string): ConsentSql {
  const tier = USE_TIER[use];
  const unasked = IMPLIED_BY_STUDY_CONSENT.has(use) ? sql`true` : sql`false`;
  // The current consent `ck`, under the protocol `cp`, permits the use today.
  const decided = sql`ck.status = 'active' and (ck.expires_on is null or ck.expires_on > ${today}::date)
      and case when ${tier} = any(coalesce(cp.consent_tiers, '{}'::text[]))
               then ck.responses->>${tier} is not distinct from 'yes'
               else ${unasked} end`;
  return {
    joins: sql`
      left join consent ck
        on ck.participant_id = s.participant_id and ck.protocol_id = s.protocol_id and ck.superseded_at is null
      left join collection_protocol cp on cp.id = s.protocol_id`,
    permitted: sql`(s.holds = '{}' and (s.participant_id is null or (${decided})))`,
    consentedPairs: sql`select ck.participant_id, ck.protocol_id
      from consent ck left join collection_protocol cp on cp.id = ck.protocol_id
     where ck.superseded_at is null and ${decided}`,
  };
}
