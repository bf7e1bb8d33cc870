import { and, asc, desc, eq, gt, inArray, isNull, lt, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, actorLabel, authorize } from '../../auth/roles.js';
import type { Db, DbOrTx, Tx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { inTransaction } from '../../db/transaction.js';
import { DomainError, badRequest, notFound, unprocessable, versionConflict } from '../../errors.js';
import { decodeCursor, encodeCursor, type Page } from '../../pagination.js';
import { enqueueJob } from '../../jobs/outbox.js';
import { outbox } from '../../jobs/outbox.table.js';
import { recordAudit } from '../audit/audit.repo.js';
import { loadConsentContexts, today } from '../consent/consent.gate.js';
import { custodyEvents, verifyChain } from '../custody/index.js';
import { findInstitutionById } from '../institutions/index.js';
import { protocols } from '../participants/participants.table.js';
import type { SpecimenType } from '../../vocabulary/specimen-types.js';
import { transition, type SpecimenStatus } from '../specimens/specimens.lifecycle.js';
import { findSpecimen } from '../specimens/specimens.repo.js';
import type { SpecimenChangeListener, SpecimenCommand, SpecimenLedger } from '../specimens/index.js';
import { toMiabisCollection, type CollectionAggregate } from './miabis.js';
import { decodeSprec, type SprecDecodeResult } from './sprec.js';
import { SPREC_VERSIONS, isSprecVersion } from './sprec.vocabulary.js';
import { checkSpecimenJob, runStandardizationJob } from './standards.jobs.js';
import {
  evaluateSpecimen,
  memoDecoder,
  normalizeRules,
  worstOutcome,
  type CheckResult,
  type Ruleset,
  type SpecimenFacts,
  type SprecDecoder,
} from './standards.rules.js';
import type {
  PutQualityRulesInput,
  QualityRule,
  RunFilter,
  SprecDecodeQuery,
  StartRunInput,
} from './standards.schemas.js';
import {
  qcResultHistory,
  qcResults,
  qualityRulesets,
  standardizationRunItems,
  standardizationRuns,
  type QcOutcome,
  type QcResultRow,
  type QualityRulesetRow,
  type StandardizationRunRow,
} from './standards.table.js';

/** The actor the checker writes as; its own changes (QC holds) do not queue another check. */
export const STANDARDS_ACTOR = 'standards';
/** Specimens per batch-run chunk: one load query and one write statement each. */
export const RUN_CHUNK = 2_000;
/** Specimen ids per check job (a transaction changing more queues several jobs). */
export const MAX_IDS_PER_CHECK_JOB = 2_000;

const isChecker = (ctx: Ctx) => ctx.actor.kind === 'system' && ctx.actor.name === STANDARDS_ACTOR;

/**
 * Queues the per-specimen check for every specimen a transaction creates or changes: one outbox
 * row per transaction, however many writes it makes (a second call in the same transaction widens
 * the job it already queued). The checker's own writes (QC holds) are ignored, so a check never
 * queues itself.
 */
export function createStandardsChangeListener(): SpecimenChangeListener {
  /** Per open transaction: its last queued job and the ids in it. */
  const queued = new WeakMap<Tx, { outboxId: string; ids: Set<string> }>();
  return {
    async specimensChanged(tx, ctx, specimenIds) {
      if (isChecker(ctx) || specimenIds.length === 0) return;
      const entry = queued.get(tx);
      if (entry && specimenIds.every((id) => entry.ids.has(id))) return;
      const ids = new Set([...(entry?.ids ?? []), ...specimenIds]);
      let pending = [...ids];
      if (entry && ids.size <= MAX_IDS_PER_CHECK_JOB) {
        const payload: unknown = checkSpecimenJob.payload.parse({
          specimenIds: pending,
          requestId: ctx.requestId,
        });
        const widened = await tx
          .update(outbox)
          .set({ payload })
          .where(and(eq(outbox.id, entry.outboxId), isNull(outbox.enqueuedAt)))
          .returning({ id: outbox.id });
        if (widened.length) {
          entry.ids = ids;
          return;
        }
        // The job row is gone (it cannot be, short of a rolled-back savepoint): queue all afresh.
      } else if (entry) {
        // The job is full: the new ids go into another one.
        pending = pending.filter((id) => !entry.ids.has(id));
      }
      for (let i = 0; i < pending.length; i += MAX_IDS_PER_CHECK_JOB) {
        const chunk = pending.slice(i, i + MAX_IDS_PER_CHECK_JOB);
        const outboxId = await enqueueJob(tx, ctx, checkSpecimenJob, { specimenIds: chunk });
        queued.set(tx, { outboxId, ids: new Set(chunk) });
      }
    },
  };
}

// ---- Loading facts: one set-based query per chunk ----

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
};

// The planner's estimates for the lateral lineage walk are high enough to switch JIT compilation
// on, which cost more than the query itself on a 2,000-specimen chunk (75 of 125 ms measured).
const NO_JIT = sql`set local jit = off`;
const epochMs = (column: SQL) => sql`(extract(epoch from ${column}) * 1000)::float8`;
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
function factsQuery(where: SQL, limit: number | null): SQL {
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
    ev as (
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
    )
    select ch.id, ch.institution_id, ch.barcode, ch.type, ch.lineage, ch.participant_id, ch.protocol_id,
           ch.anatomic_site, ch.pathology_status,
           ${epochMs(sql`ch.collected_at`)} as collected_at, ${epochMs(sql`ch.received_at`)} as received_at,
           ${epochMs(sql`ch.processed_at`)} as processed_at, ${epochMs(sql`ch.frozen_at`)} as frozen_at,
           ch.sprec_code, ch.sprec_version, ch.quality, ch.freeze_thaw_count, ch.status, ch.holds, ch.container_id,
           ch.custody_seq, ch.custody_head, ch.version,
           t.temperature_c as storage_temperature_c,
           cu.events, cu.min_seq, cu.max_seq, cu.linked, cu.head, cu.first_type, cu.last_to,
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
      left join cust cu on cu.specimen_id = ch.id
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

function filterSql(institutionId: string, f: RunFilter): SQL {
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

// ---- Writing results: one statement per chunk ----

interface Loaded {
  facts: SpecimenFacts;
  /** check codes with a current result */
  currentChecks: string[];
}

interface Evaluated {
  facts: SpecimenFacts;
  results: CheckResult[];
  /** current results that no longer apply (removed when the new ones are written) */
  stale: string[];
}

interface WriteOutcome {
  /** specimens whose results were written */
  written: Set<string>;
  holdsPlaced: number;
}

/**
 * Writes the results of evaluated specimens of one institution in one statement: results upserted
 * (one row per specimen and check) and results that no longer apply removed (the caller records
 * the worst result as the specimen's QC status through the ledger); a trigger appends each change of outcome to the history. A specimen whose
 * version moved since it was loaded is left alone: the change that moved it queued its own check.
 */
function writeResultsQuery(
  institutionId: string,
  items: Evaluated[],
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

async function writeResults(
  tx: Tx,
  institutionId: string,
  items: Evaluated[],
  runId: string | null,
  checkedAt: Date,
): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  const res = await tx.execute<{ id: string }>(writeResultsQuery(institutionId, items, runId, checkedAt));
  return new Set(res.rows.map((r) => r.id));
}

// ---- Run summaries ----

export interface RunSummary {
  specimens: Record<QcOutcome, number>;
  checks: Record<string, Record<QcOutcome, number>>;
}

function readSummary(raw: Record<string, unknown>): RunSummary {
  const s = raw as Partial<RunSummary>;
  return {
    specimens: { pass: 0, warn: 0, fail: 0, ...s.specimens },
    checks: { ...s.checks },
  };
}

function addToSummary(summary: RunSummary, results: CheckResult[]): void {
  const worst = worstOutcome(results);
  if (worst !== 'unchecked') summary.specimens[worst]++;
  for (const r of results) {
    const c = (summary.checks[r.check] ??= { pass: 0, warn: 0, fail: 0 });
    c[r.outcome]++;
  }
}

/** CSV field (RFC 4180), with spreadsheet formula prefixes defused (OWASP CSV injection). */
function csvField(value: string | number | null): string {
  if (value === null) return '';
  let s = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export const RUN_CSV_HEADER = [
  'specimen_id',
  'barcode',
  'type',
  'check',
  'outcome',
  'message',
  'ruleset_version',
  'checked_at',
] as const;

export interface RunHooks {
  /** called after each chunk with the run as it stands */
  progress?: (run: StandardizationRunRow) => Promise<void> | void;
  /** the last attempt: a failure marks the run failed instead of leaving it to a retry */
  final?: boolean;
}

export interface StandardsServiceDeps {
  db: Db;
  ledger: SpecimenLedger;
  clock?: () => Date;
  /** specimens per chunk of a batch run (default RUN_CHUNK) */
  chunkSize?: number;
}

export function createStandardsService(deps: StandardsServiceDeps) {
  const { db } = deps;
  const clock = deps.clock ?? (() => new Date());
  const chunkSize = deps.chunkSize ?? RUN_CHUNK;

  const checkerCtx = (ctx: Ctx, institutionId: string): Ctx => ({
    ...ctx,
    actor: { kind: 'system', name: STANDARDS_ACTOR, institutionId },
  });

  async function ownProtocol(handle: DbOrTx, institutionId: string, id: string, lock = false) {
    const q = handle
      .select({ id: protocols.id, code: protocols.code })
      .from(protocols)
      .where(and(eq(protocols.id, id), eq(protocols.institutionId, institutionId)));
    const [row] = lock ? await q.for('update') : await q;
    if (!row)
      throw new DomainError('not_found', 'PROTOCOL_NOT_FOUND', `protocol ${id} was not found`, [
        { field: 'protocolId', message: 'unknown protocol' },
      ]);
    return row;
  }

  /** The current ruleset of each protocol (its highest version), in one query. */
  async function currentRulesets(
    handle: DbOrTx,
    protocolIds: readonly string[],
  ): Promise<Map<string, Ruleset>> {
    if (protocolIds.length === 0) return new Map();
    const rows = await handle
      .selectDistinctOn([qualityRulesets.protocolId])
      .from(qualityRulesets)
      .where(inArray(qualityRulesets.protocolId, [...protocolIds]))
      .orderBy(qualityRulesets.protocolId, desc(qualityRulesets.version));
    return new Map(rows.map((r) => [r.protocolId, toRuleset(r)]));
  }

  const toRuleset = (r: QualityRulesetRow): Ruleset => ({
    protocolId: r.protocolId,
    version: r.version,
    rules: r.rules as QualityRule[],
  });

  /** Evaluates facts; rulesets by protocol id. */
  function evaluateAll(loaded: Loaded[], rulesets: Map<string, Ruleset>, decode: SprecDecoder): Evaluated[] {
    const day = today(clock());
    return loaded.map(({ facts: f, currentChecks }) => {
      const results = evaluateSpecimen(f, f.protocolId ? (rulesets.get(f.protocolId) ?? null) : null, {
        today: day,
        decode,
      });
      const now = new Set(results.map((r) => r.check));
      return { facts: f, results, stale: currentChecks.filter((c) => !now.has(c)) };
    });
  }

  /**
   * Places a QC_FAILED hold (with its hold_placed custody event and audit row, as placeHold does)
   * on written specimens a failing rule asks to hold. Idempotent: a held specimen is skipped, as is
   * one whose status takes no hold or that changed since it was evaluated.
   */
  async function placeHolds(
    tx: Tx,
    ctx: Ctx,
    institutionId: string,
    items: Evaluated[],
    written: Set<string>,
    runId: string | null,
  ) {
    const wanted = items.filter(
      (i) =>
        written.has(i.facts.id) &&
        i.results.some((r) => r.hold) &&
        !i.facts.holds.includes('QC_FAILED') &&
        transition(i.facts.status as SpecimenStatus, 'place_hold').ok,
    );
    if (wanted.length === 0) return 0;
    const byId = new Map(wanted.map((w) => [w.facts.id, w]));
    const locked = await deps.ledger.lock(tx, institutionId, [...byId.keys()]);
    const commands: SpecimenCommand[] = [];
    for (const row of locked) {
      const w = byId.get(row.id);
      if (!w || row.holds.includes('QC_FAILED') || !transition(row.status, 'place_hold').ok) continue;
      const failed = w.results.filter((r) => r.hold).map((r) => r.check);
      commands.push({
        kind: 'place_hold',
        specimen: row,
        reason: 'QC_FAILED',
        details: { checks: failed, ...(runId ? { runId } : {}) },
      });
    }
    if (commands.length) await deps.ledger.apply(tx, checkerCtx(ctx, institutionId), commands);
    return commands.length;
  }

  /** Writes evaluated specimens grouped by institution; places holds. */
  async function persist(tx: Tx, ctx: Ctx, items: Evaluated[], runId: string | null): Promise<WriteOutcome> {
    const byInstitution = new Map<string, Evaluated[]>();
    for (const i of items) {
      const list = byInstitution.get(i.facts.institutionId) ?? [];
      list.push(i);
      byInstitution.set(i.facts.institutionId, list);
    }
    const written = new Set<string>();
    let holdsPlaced = 0;
    const now = clock();
    await tx.execute(NO_JIT);
    for (const [institutionId, list] of byInstitution) {
      const w = await writeResults(tx, institutionId, list, runId, now);
      for (const id of w) written.add(id);
      await deps.ledger.recordQcStatus(
        tx,
        list
          .filter((i) => w.has(i.facts.id))
          .map((i) => ({ id: i.facts.id, version: i.facts.version, qcStatus: worstOutcome(i.results) })),
      );
      holdsPlaced += await placeHolds(tx, ctx, institutionId, list, w, runId);
    }
    return { written, holdsPlaced };
  }

  async function loadFacts(where: SQL, limit: number | null): Promise<Loaded[]> {
    const res = await db.transaction(async (tx) => {
      await tx.execute(NO_JIT);
      return tx.execute<FactsRow>(factsQuery(where, limit));
    });
    return res.rows.map((r) => ({ facts: toFacts(r), currentChecks: r.current_checks ?? [] }));
  }

  /** Current results of the given specimens: one primary-key range each (lateral), in any plan. */
  async function currentResults(ids: readonly string[]): Promise<QcResultRow[]> {
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

  async function ownRun(ctx: Ctx, id: string): Promise<StandardizationRunRow> {
    const [row] = await db
      .select()
      .from(standardizationRuns)
      .where(
        and(
          eq(standardizationRuns.id, id),
          eq(standardizationRuns.institutionId, actorInstitutionId(ctx.actor)),
        ),
      );
    if (!row) throw notFound('RUN_NOT_FOUND', `standardization run ${id} was not found`);
    return row;
  }

  return {
    /**
     * Decodes a SPREC code field by field, or gives the position and reason it is invalid.
     * Throws SPREC_CODE_EMPTY, SPREC_VERSION_UNSUPPORTED.
     */
    async decodeSprecCode(ctx: Ctx, q: SprecDecodeQuery): Promise<SprecDecodeResult> {
      authorize(ctx.actor, 'standards.read');
      if (!isSprecVersion(q.version)) {
        throw badRequest(
          'SPREC_VERSION_UNSUPPORTED',
          `SPREC version '${q.version}' is not supported; use one of ${SPREC_VERSIONS.join(', ')}`,
          [{ field: 'version', message: `one of ${SPREC_VERSIONS.join(', ')}` }],
        );
      }
      if (q.code.trim().length === 0) {
        throw badRequest(
          'SPREC_CODE_EMPTY',
          'the code is empty; a SPREC code has 7 elements separated by "-"',
          [{ field: 'code', message: 'empty' }],
        );
      }
      return decodeSprec(q.code.trim(), q.version, q.kind ? { expectedKind: q.kind } : {});
    },

    /** The protocol's current quality rules (version 0, no rules, when none were set), or an earlier version. Throws PROTOCOL_NOT_FOUND, QUALITY_RULES_VERSION_NOT_FOUND. */
    async getQualityRules(ctx: Ctx, protocolId: string, version?: number) {
      authorize(ctx.actor, 'standards.read');
      await ownProtocol(db, actorInstitutionId(ctx.actor), protocolId);
      const [row] = await db
        .select()
        .from(qualityRulesets)
        .where(
          and(
            eq(qualityRulesets.protocolId, protocolId),
            version === undefined ? undefined : eq(qualityRulesets.version, version),
          ),
        )
        .orderBy(desc(qualityRulesets.version))
        .limit(1);
      if (!row && version !== undefined)
        throw notFound(
          'QUALITY_RULES_VERSION_NOT_FOUND',
          `protocol ${protocolId} has no quality rules version ${version}`,
        );
      return { protocolId, row: row ?? null };
    },

    /**
     * Saves the protocol's quality rules as a new version (the previous ones are kept). With an
     * expected version (If-Match), a stale one is refused. Throws PROTOCOL_NOT_FOUND,
     * UNKNOWN_RULE_FIELD / DUPLICATE_RULE_ID (422, naming the rule field), VERSION_CONFLICT.
     */
    async putQualityRules(
      ctx: Ctx,
      protocolId: string,
      input: PutQualityRulesInput,
      expectedVersion?: number,
    ): Promise<QualityRulesetRow> {
      authorize(ctx.actor, 'standards.manage');
      const institutionId = actorInstitutionId(ctx.actor);
      const { rules, problems } = normalizeRules(input.rules);
      if (problems.length) {
        const first = problems[0]!;
        throw unprocessable(first.code ?? 'UNKNOWN_RULE_FIELD', `${first.field}: ${first.message}`, problems);
      }
      return inTransaction(db, ctx, async (tx) => {
        // The protocol row lock serialises two saves of the same rules.
        const protocol = await ownProtocol(tx, institutionId, protocolId, true);
        const [current] = await tx
          .select()
          .from(qualityRulesets)
          .where(eq(qualityRulesets.protocolId, protocolId))
          .orderBy(desc(qualityRulesets.version))
          .limit(1);
        const currentVersion = current?.version ?? 0;
        if (expectedVersion !== undefined && expectedVersion !== currentVersion)
          throw versionConflict(
            `the quality rules of protocol ${protocol.code}`,
            expectedVersion,
            currentVersion,
          );
        const [row] = await tx
          .insert(qualityRulesets)
          .values({
            id: newId(),
            institutionId,
            protocolId,
            version: currentVersion + 1,
            rules,
            createdBy: actorLabel(ctx.actor),
          })
          .returning();
        await recordAudit(tx, ctx, {
          action: 'putQualityRules',
          entityType: 'quality_ruleset',
          entityId: row!.id,
          institutionId,
          before: current ?? null,
          after: row,
        });
        return row!;
      });
    },

    /** Current results (and changes of outcome) of one specimen. Throws SPECIMEN_NOT_FOUND. */
    async getSpecimenQc(ctx: Ctx, specimenId: string) {
      authorize(ctx.actor, 'standards.read');
      const institutionId = actorInstitutionId(ctx.actor);
      // One snapshot: the QC status and the results it summarises are written together.
      const { specimen, results, history } = await db.transaction(
        async (tx) => {
          const specimen = await findSpecimen(tx, institutionId, specimenId);
          if (!specimen)
            throw new DomainError('not_found', 'SPECIMEN_NOT_FOUND', `specimen ${specimenId} was not found`, [
              { field: 'id', message: 'unknown specimen' },
            ]);
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
          return { specimen, results, history };
        },
        { isolationLevel: 'repeatable read', accessMode: 'read only' },
      );
      return { specimen, results, history };
    },

    /**
     * The institution's collections (one per protocol) as MIABIS Core 3.0 aggregates. Samples are
     * counted as MIABIS does: distinct lineage roots, so the aliquots and derivatives of one sample
     * count once; specimens used up, destroyed, given away or missing are not counted.
     */
    async exportMiabisCollections(ctx: Ctx) {
      authorize(ctx.actor, 'standards.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const institution = await findInstitutionById(db, institutionId);
      if (!institution) throw notFound('INSTITUTION_NOT_FOUND', `institution ${institutionId} was not found`);
      const live = sql`
        select s.protocol_id, s.root_id, s.participant_id, s.type, s.collected_at, s.container_id
          from specimen s
         where s.institution_id = ${institutionId} and s.protocol_id is not null
           and s.status not in ('consumed', 'destroyed', 'distributed', 'missing')`;
      const [totals, byType, donors, temps, protocolRows] = await Promise.all([
        db.execute<{ protocol_id: string; samples: number; donors: number }>(sql`
          with live as (${live})
          select protocol_id, count(distinct root_id)::int as samples, count(distinct participant_id)::int as donors
            from live group by protocol_id`),
        db.execute<{ protocol_id: string; type: SpecimenType; samples: number }>(sql`
          with live as (${live})
          select protocol_id, type, count(distinct root_id)::int as samples from live group by protocol_id, type`),
        db.execute<{
          protocol_id: string;
          sexes: string[];
          age_low: number | null;
          age_high: number | null;
          diagnoses: string[] | null;
        }>(sql`
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
        db.execute<{ protocol_id: string; temperature_c: number | null }>(sql`
          with live as (${live}),
          held as (select distinct protocol_id, container_id from live where container_id is not null)
          select h.protocol_id,
                 coalesce(c.temperature_c,
                   (select a.temperature_c from container a
                     where a.id = any(c.ancestor_ids) and a.temperature_c is not null
                     order by array_position(c.ancestor_ids, a.id) desc limit 1))::float8 as temperature_c
            from held h join container c on c.id = h.container_id`),
        db
          .select({
            id: protocols.id,
            code: protocols.code,
            title: protocols.title,
            ethicsApprovalRef: protocols.ethicsApprovalRef,
          })
          .from(protocols)
          .where(eq(protocols.institutionId, institutionId))
          .orderBy(asc(protocols.code)),
      ]);
      const total = new Map(totals.rows.map((r) => [r.protocol_id, r]));
      const donorFacts = new Map(donors.rows.map((r) => [r.protocol_id, r]));
      const collections = protocolRows
        .filter((p) => total.has(p.id))
        .map((p) => {
          const d = donorFacts.get(p.id);
          const aggregate: CollectionAggregate = {
            protocolId: p.id,
            protocolCode: p.code,
            title: p.title,
            ethicsApprovalRef: p.ethicsApprovalRef,
            samples: total.get(p.id)!.samples,
            donors: total.get(p.id)!.donors,
            sexes: d?.sexes ?? [],
            ageLow: d?.age_low ?? null,
            ageHigh: d?.age_high ?? null,
            byType: byType.rows
              .filter((r) => r.protocol_id === p.id)
              .map((r) => ({ type: r.type, samples: r.samples })),
            temperaturesC: temps.rows
              .filter((r) => r.protocol_id === p.id && r.temperature_c !== null)
              .map((r) => r.temperature_c!),
            diagnoses: d?.diagnoses ?? [],
          };
          return toMiabisCollection(institution.code, aggregate);
        });
      return {
        biobank: { id: institution.code, acronym: institution.code, name: institution.name },
        collections,
      };
    },

    /**
     * Starts a batch run over the specimens matching the filter; the standards worker processes it
     * (or, with `enqueue: false`, the caller runs processRun itself, as the CLI does). Throws
     * PROTOCOL_NOT_FOUND, CONTAINER_NOT_FOUND.
     */
    async startStandardizationRun(
      ctx: Ctx,
      input: StartRunInput,
      opts: { enqueue?: boolean } = {},
    ): Promise<StandardizationRunRow> {
      authorize(ctx.actor, 'standards.manage');
      const institutionId = actorInstitutionId(ctx.actor);
      const filter = input.filter;
      return inTransaction(db, ctx, async (tx) => {
        if (filter.protocolId) await ownProtocol(tx, institutionId, filter.protocolId);
        if (filter.containerId) {
          const found = await tx.execute(
            sql`select 1 from container where id = ${filter.containerId} and institution_id = ${institutionId}`,
          );
          if (found.rows.length === 0)
            throw new DomainError(
              'not_found',
              'CONTAINER_NOT_FOUND',
              `container ${filter.containerId} was not found`,
              [{ field: 'filter.containerId', message: 'unknown container' }],
            );
        }
        const [run] = await tx
          .insert(standardizationRuns)
          .values({
            id: newId(),
            institutionId,
            filter: Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)) as Record<
              string,
              string
            >,
            requestedBy: actorLabel(ctx.actor),
          })
          .returning();
        if (opts.enqueue !== false) await enqueueJob(tx, ctx, runStandardizationJob, { runId: run!.id });
        await recordAudit(tx, ctx, {
          action: 'startStandardizationRun',
          entityType: 'standardization_run',
          entityId: run!.id,
          institutionId,
          after: run,
        });
        return run!;
      });
    },

    /** Progress and summary of a run. Throws RUN_NOT_FOUND. */
    async getStandardizationRun(ctx: Ctx, id: string): Promise<StandardizationRunRow> {
      authorize(ctx.actor, 'standards.read');
      return ownRun(ctx, id);
    },

    /** Runs of the institution, newest first. Throws INVALID_CURSOR. */
    async listStandardizationRuns(
      ctx: Ctx,
      q: { cursor?: string; limit: number },
    ): Promise<Page<StandardizationRunRow>> {
      authorize(ctx.actor, 'standards.read');
      const before = decodeCursor(q.cursor, z.uuid());
      const rows = await db
        .select()
        .from(standardizationRuns)
        .where(
          and(
            eq(standardizationRuns.institutionId, actorInstitutionId(ctx.actor)),
            before ? lt(standardizationRuns.id, before) : undefined,
          ),
        )
        .orderBy(desc(standardizationRuns.id))
        .limit(q.limit + 1);
      const more = rows.length > q.limit;
      const items = more ? rows.slice(0, q.limit) : rows;
      return { items, nextCursor: more ? encodeCursor(items.at(-1)!.id) : null };
    },

    /**
     * Per-specimen results of a run, by specimen id: each specimen the run checked, its worst
     * outcome in the run, and its current results (a specimen checked again since, by a later run
     * or after a change, shows the newer results). Throws RUN_NOT_FOUND, INVALID_CURSOR.
     */
    async listRunResults(
      ctx: Ctx,
      id: string,
      q: { outcome?: QcOutcome; cursor?: string; limit: number },
    ): Promise<
      Page<{
        specimenId: string;
        barcode: string;
        type: SpecimenType;
        outcome: QcOutcome;
        results: QcResultRow[];
      }>
    > {
      authorize(ctx.actor, 'standards.read');
      const run = await ownRun(ctx, id);
      const after = decodeCursor(q.cursor, z.uuid());
      const page = await db
        .select()
        .from(standardizationRunItems)
        .where(
          and(
            eq(standardizationRunItems.runId, run.id),
            after ? gt(standardizationRunItems.specimenId, after) : undefined,
            q.outcome ? eq(standardizationRunItems.outcome, q.outcome) : undefined,
          ),
        )
        .orderBy(asc(standardizationRunItems.specimenId))
        .limit(q.limit + 1);
      const more = page.length > q.limit;
      const items = more ? page.slice(0, q.limit) : page;
      if (items.length === 0) return { items: [], nextCursor: null };
      const ids = items.map((i) => i.specimenId);
      const [specimenRows, results] = await Promise.all([
        db.execute<{ id: string; barcode: string; type: SpecimenType }>(
          sql`select id, barcode, type from specimen where id = any(${sql.param(ids)}::uuid[])`,
        ),
        currentResults(ids),
      ]);
      const bySpecimen = new Map<string, QcResultRow[]>();
      for (const r of results) {
        const list = bySpecimen.get(r.specimenId) ?? [];
        list.push(r);
        bySpecimen.set(r.specimenId, list);
      }
      const info = new Map(specimenRows.rows.map((r) => [r.id, r]));
      return {
        items: items.map((i) => ({
          specimenId: i.specimenId,
          barcode: info.get(i.specimenId)?.barcode ?? '',
          type: info.get(i.specimenId)?.type ?? 'whole_blood',
          outcome: i.outcome,
          results: (bySpecimen.get(i.specimenId) ?? []).sort((a, b) =>
            a.checkCode.localeCompare(b.checkCode),
          ),
        })),
        nextCursor: more ? encodeCursor(ids.at(-1)!) : null,
      };
    },

    /**
     * The run's results as CSV lines (header first, one line per current result of each specimen
     * the run checked), read a thousand specimens at a time so a million-specimen run streams in
     * constant memory. Throws RUN_NOT_FOUND before the first line.
     */
    async exportRunResultsCsv(ctx: Ctx, id: string): Promise<AsyncIterable<string>> {
      authorize(ctx.actor, 'standards.read');
      const run = await ownRun(ctx, id);
      const pageSize = 1_000;
      async function* lines() {
        yield RUN_CSV_HEADER.join(',') + '\r\n';
        let after: string | null = null;
        for (;;) {
          // Lateral: one primary-key range per specimen, in order, whatever the statistics say.
          const res: { rows: Record<string, unknown>[] } = await db.execute(sql`
            select i.specimen_id, s.barcode, s.type, q.check_code, q.outcome, q.message, q.ruleset_version,
                   to_char(q.checked_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as checked_at
              from (select specimen_id from standardization_run_item
                     where run_id = ${run.id} ${after ? sql`and specimen_id > ${after}::uuid` : sql``}
                     order by specimen_id limit ${pageSize}) i
              join specimen s on s.id = i.specimen_id
              cross join lateral (
                select * from qc_result q where q.specimen_id = i.specimen_id order by q.check_code
              ) q
             order by i.specimen_id, q.check_code`);
          if (res.rows.length === 0) return;
          let chunk = '';
          for (const r of res.rows) {
            chunk +=
              [
                csvField(r.specimen_id as string),
                csvField(r.barcode as string),
                csvField(r.type as string),
                csvField(r.check_code as string),
                csvField(r.outcome as string),
                csvField(r.message as string),
                csvField((r.ruleset_version as number | null) ?? null),
                csvField(r.checked_at as string),
              ].join(',') + '\r\n';
          }
          yield chunk;
          after = res.rows.at(-1)!.specimen_id as string;
        }
      }
      return lines();
    },

    /**
     * The worker's per-specimen check (after every change): loads the specimens, recomputes every
     * custody hash, reads consent through the consent module's loader, evaluates and writes the
     * results, placing QC holds where a rule asks. Idempotent; unknown ids are ignored.
     */
    async checkSpecimens(
      ctx: Ctx,
      specimenIds: readonly string[],
    ): Promise<{ checked: number; holdsPlaced: number }> {
      const ids = [...new Set(specimenIds)];
      if (ids.length === 0) return { checked: 0, holdsPlaced: 0 };
      const loaded = await loadFacts(sql`s.id = any(${sql.param(ids)}::uuid[])`, null);
      if (loaded.length === 0) return { checked: 0, holdsPlaced: 0 };
      const facts = loaded.map((l) => l.facts);
      const events = await db
        .select()
        .from(custodyEvents)
        .where(inArray(custodyEvents.specimenId, ids))
        .orderBy(asc(custodyEvents.specimenId), asc(custodyEvents.seq));
      const chains = new Map<string, (typeof events)[number][]>();
      for (const e of events) {
        const list = chains.get(e.specimenId) ?? [];
        list.push(e);
        chains.set(e.specimenId, list);
      }
      const consents = await loadConsentContexts(db, facts);
      for (const f of facts) {
        const verdict = verifyChain(chains.get(f.id) ?? []);
        f.custody.verified = {
          valid: verdict.firstBreak === null,
          reason: verdict.firstBreak
            ? `${verdict.firstBreak.reason.replaceAll('_', ' ')} at event ${verdict.firstBreak.seq}`
            : null,
        };
        if (f.participantId) {
          const c = consents.get(`${f.participantId}:${f.protocolId}`)?.consent ?? null;
          f.consent = c ? { status: c.status, expiresOn: c.expiresOn } : null;
        }
      }
      const rulesets = await currentRulesets(db, [
        ...new Set(facts.map((f) => f.protocolId).filter((p): p is string => p !== null)),
      ]);
      const evaluated = evaluateAll(loaded, rulesets, memoDecoder());
      const outcome = await db.transaction((tx) => persist(tx, ctx, evaluated, null));
      return { checked: outcome.written.size, holdsPlaced: outcome.holdsPlaced };
    },

    /**
     * Processes a batch run in chunks of `chunkSize` specimens, keyset by id, resuming after the
     * last chunk it committed (a retried job continues where the previous attempt stopped). Each
     * chunk: one query loads everything, the rules run in memory, one statement writes the results,
     * and the run's progress and summary move in the same transaction. Re-running a finished run
     * does nothing; a new run over the same specimens upserts the same results and counts.
     * Throws RUN_NOT_FOUND.
     */
    async processRun(ctx: Ctx, runId: string, hooks: RunHooks = {}): Promise<StandardizationRunRow> {
      const [found] = await db.select().from(standardizationRuns).where(eq(standardizationRuns.id, runId));
      if (!found) throw notFound('RUN_NOT_FOUND', `standardization run ${runId} was not found`);
      if (found.status === 'completed' || found.status === 'failed') return found;
      const institutionId = found.institutionId;
      const filter = found.filter as RunFilter;
      const where = filterSql(institutionId, filter);
      let run = found;
      try {
        if (run.status === 'queued') {
          const bounds = await db.execute<{ total: number; max_id: string | null }>(
            sql`select (select count(*)::int from specimen s where ${where}) as total,
                       (select s.id from specimen s where ${where} order by s.id desc limit 1) as max_id`,
          );
          const protocolIds = await db
            .select({ id: protocols.id })
            .from(protocols)
            .where(eq(protocols.institutionId, institutionId));
          const current = await currentRulesets(
            db,
            protocolIds.map((p) => p.id),
          );
          const [started] = await db
            .update(standardizationRuns)
            .set({
              status: 'running',
              startedAt: clock(),
              total: bounds.rows[0]?.total ?? 0,
              maxId: bounds.rows[0]?.max_id ?? null,
              rulesets: Object.fromEntries([...current.values()].map((r) => [r.protocolId, r.version])),
            })
            .where(and(eq(standardizationRuns.id, runId), eq(standardizationRuns.status, 'queued')))
            .returning();
          // Started by another attempt meanwhile: carry on from where it stands.
          const [now] = started
            ? [started]
            : await db.select().from(standardizationRuns).where(eq(standardizationRuns.id, runId));
          if (!now || now.status !== 'running') return now ?? run;
          run = now;
          await hooks.progress?.(run);
        }
        // The versions pinned when the run started, so a resumed run judges by the same rules.
        const pinned = Object.entries(run.rulesets);
        const rulesetRows = pinned.length
          ? await db
              .select()
              .from(qualityRulesets)
              .where(
                sql`(${qualityRulesets.protocolId}, ${qualityRulesets.version}) in (${sql.join(
                  pinned.map(([p, v]) => sql`(${p}::uuid, ${v}::int)`),
                  sql`, `,
                )})`,
              )
          : [];
        const rulesets = new Map(rulesetRows.map((r) => [r.protocolId, toRuleset(r)]));
        const decode = memoDecoder();
        const maxId = run.maxId;
        const chunkWhere = (after: string | null) =>
          sql`${where}${after ? sql` and s.id > ${after}::uuid` : sql``}${maxId ? sql` and s.id <= ${maxId}::uuid` : sql``}`;
        // Load and evaluate a chunk; started for the next chunk while this one is being written, so
        // the next load runs on another connection and its evaluation fills this write's waits.
        const prepare = async (after: string | null) => {
          const loaded = await loadFacts(chunkWhere(after), chunkSize);
          return { count: loaded.length, evaluated: evaluateAll(loaded, rulesets, decode) };
        };

        if (maxId) {
          let next = prepare(run.cursor);
          for (;;) {
            const { count, evaluated } = await next;
            if (count === 0) break;
            const last = evaluated.at(-1)!.facts.id;
            next = count < chunkSize ? Promise.resolve({ count: 0, evaluated: [] }) : prepare(last);
            next.catch(() => undefined);
            const previousCursor = run.cursor;
            const current = run;
            run = await db.transaction(async (tx) => {
              // The chunk's results and the run's cursor commit together, so a commit lost in a
              // crash is lost whole and the resumed run redoes that chunk: no need to wait for
              // the WAL flush of every chunk.
              await tx.execute(sql`set local synchronous_commit = off`);
              const outcome = await persist(tx, ctx, evaluated, runId);
              const summary = readSummary(current.summary);
              for (const e of evaluated)
                if (outcome.written.has(e.facts.id)) addToSummary(summary, e.results);
              const [moved] = await tx
                .update(standardizationRuns)
                .set({
                  cursor: last,
                  processed: sql`${standardizationRuns.processed} + ${outcome.written.size}`,
                  skipped: sql`${standardizationRuns.skipped} + ${count - outcome.written.size}`,
                  holdsPlaced: sql`${standardizationRuns.holdsPlaced} + ${outcome.holdsPlaced}`,
                  summary: summary as unknown as Record<string, unknown>,
                })
                .where(
                  and(
                    eq(standardizationRuns.id, runId),
                    eq(standardizationRuns.status, 'running'),
                    previousCursor === null
                      ? isNull(standardizationRuns.cursor)
                      : eq(standardizationRuns.cursor, previousCursor),
                  ),
                )
                .returning();
              // Another worker moved the run on (a redelivered job): this chunk is theirs.
              if (!moved) throw new RunTakenOver(runId);
              return moved;
            });
            await hooks.progress?.(run);
          }
        }
        const [done] = await db
          .update(standardizationRuns)
          .set({ status: 'completed', completedAt: clock() })
          .where(and(eq(standardizationRuns.id, runId), eq(standardizationRuns.status, 'running')))
          .returning();
        run = done ?? run;
        ctx.log.info(
          { runId, processed: run.processed, skipped: run.skipped, holdsPlaced: run.holdsPlaced },
          'standardization run completed',
        );
        return run;
      } catch (err) {
        if (err instanceof RunTakenOver) {
          ctx.log.warn({ runId }, 'standardization run continued by another worker');
          const [now] = await db.select().from(standardizationRuns).where(eq(standardizationRuns.id, runId));
          return now ?? run;
        }
        if (hooks.final) {
          await db
            .update(standardizationRuns)
            .set({
              status: 'failed',
              completedAt: clock(),
              error: err instanceof Error ? err.message : String(err),
            })
            .where(eq(standardizationRuns.id, runId));
        }
        throw err;
      }
    },

    /**
     * Current results of a page of specimens (the GraphQL loader's one statement), by specimen id
     * and then check; another institution's specimens, and unknown ids, have none.
     */
    async listQcResultsOfSpecimens(
      ctx: Ctx,
      specimenIds: readonly string[],
    ): Promise<Map<string, QcResultRow[]>> {
      authorize(ctx.actor, 'standards.read');
      const ids = [...new Set(specimenIds)];
      const bySpecimen = new Map<string, QcResultRow[]>();
      if (ids.length === 0) return bySpecimen;
      const rows = await db
        .select()
        .from(qcResults)
        .where(
          and(eq(qcResults.institutionId, actorInstitutionId(ctx.actor)), inArray(qcResults.specimenId, ids)),
        )
        .orderBy(asc(qcResults.specimenId), asc(qcResults.checkCode));
      for (const r of rows) {
        const list = bySpecimen.get(r.specimenId);
        if (list) list.push(r);
        else bySpecimen.set(r.specimenId, [r]);
      }
      return bySpecimen;
    },

    /**
     * The current quality rules of a page of protocols (the GraphQL loader's one statement), by
     * protocol id; a protocol without rules, or another institution's, is absent.
     */
    async listCurrentQualityRules(
      ctx: Ctx,
      protocolIds: readonly string[],
    ): Promise<Map<string, QualityRulesetRow>> {
      authorize(ctx.actor, 'standards.read');
      const ids = [...new Set(protocolIds)];
      if (ids.length === 0) return new Map();
      const rows = await db
        .selectDistinctOn([qualityRulesets.protocolId])
        .from(qualityRulesets)
        .where(
          and(
            eq(qualityRulesets.institutionId, actorInstitutionId(ctx.actor)),
            inArray(qualityRulesets.protocolId, ids),
          ),
        )
        .orderBy(qualityRulesets.protocolId, desc(qualityRulesets.version));
      return new Map(rows.map((r) => [r.protocolId, r]));
    },
  };
}

class RunTakenOver extends Error {
  constructor(runId: string) {
    super(`standardization run ${runId} was moved on by another worker`);
  }
}

export type StandardsService = ReturnType<typeof createStandardsService>;
export { readSummary };
