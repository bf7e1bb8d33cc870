// SQL over qc_result (the current result of each check on each specimen), qc_result_history (its
// changes of outcome, appended by a trigger) and standardization_run_item (what a run checked).

import { and, asc, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../db/client.js';
import { executePrepared } from '../../db/prepared.js';
import { epochMs } from './standards.sql.js';
import { worstOutcome, type CheckResult, type SpecimenFacts } from './standards.rules.js';
import { qcResultHistory, qcResults, type QcOutcome, type QcResultRow } from './standards.table.js';

/** A specimen's facts as loaded, with what the checks found. */
export interface EvaluatedSpecimen {
  facts: SpecimenFacts;
  results: CheckResult[];
  /** current results that no longer apply (removed when the new ones are written) */
  stale: string[];
}

/**
 * Writes the results of evaluated specimens of one institution in one statement: results upserted
 * (one row per specimen and check) and results that no longer apply removed; a trigger appends each
 * change of outcome to the history. A specimen whose version moved since it was loaded is left
 * alone (the change that moved it queued its own check), so the statement reads specimen.version;
 * the ids it returns are the specimens written, whose QC status the caller records next through
 * the specimen ledger.
 */
function writeResultsQuery(
  institutionId: string,
  items: EvaluatedSpecimen[],
  runId: string | null,
  checkedAt: Date,
): SQL<{ id: string }> {
  const sids: string[] = [];
  const codes: string[] = [];
  const outcomes: string[] = [];
  const messages: string[] = [];
  const details: (string | null)[] = [];
  const versions: (number | null)[] = [];
  const staleIds: string[] = [];
  const staleCodes: string[] = [];
  for (const { facts, results, stale } of items) {
    for (const r of results) {
      sids.push(facts.id);
      codes.push(r.check);
      outcomes.push(r.outcome);
      messages.push(r.message);
      details.push(r.details ? JSON.stringify(r.details) : null);
      versions.push(r.rulesetVersion);
    }
    for (const code of stale) {
      staleIds.push(facts.id);
      staleCodes.push(code);
    }
  }
  const ids = items.map((i) => i.facts.id);
  const specimenVersions = items.map((i) => i.facts.version);
  const statuses = items.map((i) => worstOutcome(i.results));
  const p = sql.param;
  // Results that stopped applying, named by key (known from the load), so the delete is a handful
  // of primary-key probes and, usually, nothing at all.
  const stale = staleIds.length
    ? sql`stale as (
        delete from qc_result q
         using unnest(${p(staleIds)}::uuid[], ${p(staleCodes)}::text[]) as x(specimen_id, check_code)
         where q.specimen_id = x.specimen_id and q.check_code = x.check_code
           and q.specimen_id in (select id from evaluated)
      ),`
    : sql``;
  // The run's specimens, appended in id order (the run item primary key grows at its right edge).
  const runItems = runId
    ? sql`items as (
        insert into standardization_run_item (run_id, specimen_id, outcome)
        select ${runId}::uuid, e.id, e.status::text::qc_outcome from evaluated e order by e.id
        on conflict do nothing
      ),`
    : sql``;
  return sql<{ id: string }>`
    with input as (
      select * from unnest(${p(sids)}::uuid[], ${p(codes)}::text[], ${p(outcomes)}::qc_outcome[],
                           ${p(messages)}::text[], ${p(details)}::jsonb[], ${p(versions)}::int[])
        as i(specimen_id, check_code, outcome, message, details, ruleset_version)
    ),
    evaluated as (
      select v.id, v.status
        from unnest(${p(ids)}::uuid[], ${p(specimenVersions)}::int[], ${p(statuses)}::qc_status[]) as v(id, version, status)
        join specimen s on s.id = v.id and s.version = v.version and s.institution_id = ${institutionId}
    ),
    ${stale}
    ${runItems}
    up as (
      -- A change of outcome is copied to qc_result_history by a trigger (migration 0006).
      insert into qc_result as q
             (specimen_id, check_code, institution_id, outcome, message, details, ruleset_version, run_id, checked_at)
      select i.specimen_id, i.check_code, ${institutionId}, i.outcome, i.message, i.details, i.ruleset_version,
             ${runId}::uuid, ${checkedAt}
        from input i join evaluated e on e.id = i.specimen_id
      on conflict (specimen_id, check_code) do update
         set outcome = excluded.outcome, message = excluded.message, details = excluded.details,
             ruleset_version = excluded.ruleset_version, run_id = excluded.run_id, checked_at = excluded.checked_at
    )
    select id from evaluated`;
}

export async function writeResults(
  tx: Tx,
  institutionId: string,
  items: EvaluatedSpecimen[],
  runId: string | null,
  checkedAt: Date,
): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  const query = writeResultsQuery(institutionId, items, runId, checkedAt);
  // The per-specimen check's statement (a rack's 96 tubes, after every change) is prepared; a run's
  // chunk of 2,000 specimens is planned for its arrays each time.
  const res =
    runId === null
      ? await executePrepared<{ id: string }>(tx, query)
      : await tx.execute<{ id: string }>(query);
  return new Set(res.rows.map((r) => r.id));
}

/** Current results of the given specimens: one primary-key range each (lateral), in any plan. */
export async function currentResults(db: DbOrTx, ids: readonly string[]): Promise<QcResultRow[]> {
  const res = await db.execute<{
    specimen_id: string;
    check_code: string;
    institution_id: string;
    outcome: QcOutcome;
    message: string;
    details: Record<string, unknown> | null;
    ruleset_version: number | null;
    run_id: string | null;
    checked_at: number;
  }>(sql`
    select q.specimen_id, q.check_code, q.institution_id, q.outcome, q.message, q.details, q.ruleset_version,
           q.run_id, ${epochMs(sql`q.checked_at`)} as checked_at
      from unnest(${sql.param(ids)}::uuid[]) as x(id)
      cross join lateral (select * from qc_result r where r.specimen_id = x.id) q`);
  return res.rows.map((r) => ({
    specimenId: r.specimen_id,
    checkCode: r.check_code,
    institutionId: r.institution_id,
    outcome: r.outcome,
    message: r.message,
    details: r.details,
    rulesetVersion: r.ruleset_version,
    runId: r.run_id,
    checkedAt: new Date(r.checked_at),
  }));
}

/** Current results of the institution's specimens among `ids`, by specimen id and then check. */
export async function listQcResultsOf(
  db: DbOrTx,
  institutionId: string,
  ids: readonly string[],
): Promise<QcResultRow[]> {
  return db
    .select()
    .from(qcResults)
    .where(and(eq(qcResults.institutionId, institutionId), inArray(qcResults.specimenId, [...ids])))
    .orderBy(asc(qcResults.specimenId), asc(qcResults.checkCode));
}

/** One specimen's current results by check, and its last 100 changes of outcome, newest first. */
export async function specimenQcRecord(tx: Tx, specimenId: string) {
  const results = await tx
    .select()
    .from(qcResults)
    .where(eq(qcResults.specimenId, specimenId))
    .orderBy(asc(qcResults.checkCode));
  const history = await tx
    .select()
    .from(qcResultHistory)
    .where(eq(qcResultHistory.specimenId, specimenId))
    .orderBy(desc(qcResultHistory.id))
    .limit(100);
  return { results, history };
}
