import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { createdAt, idColumn, tstz } from '../../db/columns.js';
import { describeUnique } from '../../db/pg-errors.js';
import { institutions } from '../institutions/institutions.table.js';
import { protocols } from '../participants/participants.table.js';
import { specimens } from '../specimens/specimens.table.js';
import { qualityRulesConflict } from './standards.errors.js';

export const QC_OUTCOMES = ['pass', 'warn', 'fail'] as const;
export type QcOutcome = (typeof QC_OUTCOMES)[number];
export const qcOutcome = pgEnum('qc_outcome', QC_OUTCOMES);

export const RUN_STATUSES = ['queued', 'running', 'completed', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const runStatus = pgEnum('standardization_run_status', RUN_STATUSES);

/**
 * Protocol quality rules as versioned data (DESIGN.md section 4): every change is a new row with
 * the next version, so each result names the rules it was judged by. The current ruleset of a
 * protocol is its highest version.
 */
export const qualityRulesets = pgTable(
  'quality_ruleset',
  {
    id: idColumn(),
    institutionId: uuid('institution_id')
      .notNull()
      .references(() => institutions.id),
    protocolId: uuid('protocol_id')
      .notNull()
      .references(() => protocols.id),
    version: integer('version').notNull(),
    /** normalised rules (ids and defaults filled in), see quality-rules.ts */
    rules: jsonb('rules').$type<unknown[]>().notNull(),
    createdBy: varchar('created_by', { length: 120 }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('quality_ruleset_version_unique').on(t.protocolId, t.version)],
);
describeUnique('quality_ruleset_version_unique', qualityRulesConflict);

/**
 * The current result of each check on each specimen (one row per specimen and check). A re-check
 * overwrites it; changes of outcome are kept in qc_result_history. `run_id` names the batch run
 * that last wrote the row (null for the per-specimen check after a change); it is deliberately
 * not indexed, so a re-check can update the row in place (a HOT update, with the fillfactor set in
 * migration 0006): a run's specimens are listed by standardization_run_item instead.
 */
export const qcResults = pgTable(
  'qc_result',
  {
    specimenId: uuid('specimen_id')
      .notNull()
      .references(() => specimens.id),
    checkCode: varchar('check_code', { length: 80 }).notNull(),
    institutionId: uuid('institution_id').notNull(),
    outcome: qcOutcome('outcome').notNull(),
    message: text('message').notNull(),
    /** machine-readable facts behind the outcome (e.g. the SPREC positions that disagree) */
    details: jsonb('details').$type<Record<string, unknown>>(),
    /** version of the protocol's quality rules, for rule checks; null for built-in checks */
    rulesetVersion: integer('ruleset_version'),
    runId: uuid('run_id'),
    checkedAt: tstz('checked_at').notNull(),
  },
  (t) => [primaryKey({ name: 'qc_result_pkey', columns: [t.specimenId, t.checkCode] })],
);

/** Every change of a check's outcome on a specimen (the first result is not a change). */
export const qcResultHistory = pgTable(
  'qc_result_history',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    specimenId: uuid('specimen_id').notNull(),
    institutionId: uuid('institution_id').notNull(),
    checkCode: varchar('check_code', { length: 80 }).notNull(),
    previousOutcome: qcOutcome('previous_outcome').notNull(),
    outcome: qcOutcome('outcome').notNull(),
    message: text('message').notNull(),
    rulesetVersion: integer('ruleset_version'),
    runId: uuid('run_id'),
    checkedAt: tstz('checked_at').notNull(),
  },
  (t) => [index('qc_result_history_specimen_idx').on(t.specimenId, t.id)],
);

/** A batch standardization run: its filter, progress and summary (DESIGN.md section 4). */
export const standardizationRuns = pgTable(
  'standardization_run',
  {
    id: idColumn(),
    institutionId: uuid('institution_id')
      .notNull()
      .references(() => institutions.id),
    status: runStatus('status').notNull().default('queued'),
    filter: jsonb('filter').$type<Record<string, string>>().notNull(),
    /** matching specimens when the run started (ids up to `max_id`) */
    total: integer('total'),
    processed: integer('processed').notNull().default(0),
    /** specimens changed while their chunk was being checked: their own check re-runs them */
    skipped: integer('skipped').notNull().default(0),
    holdsPlaced: integer('holds_placed').notNull().default(0),
    /** per-specimen outcome counts and per-check counts, see StandardizationRunSummary */
    summary: jsonb('summary').$type<Record<string, unknown>>().notNull().default({}),
    /** protocol id -> ruleset version used */
    rulesets: jsonb('rulesets').$type<Record<string, number>>().notNull().default({}),
    /** keyset position: the last specimen id processed (a retried job resumes after it) */
    cursor: uuid('cursor'),
    /** the highest matching id when the run started: specimens created later are not included */
    maxId: uuid('max_id'),
    error: text('error'),
    requestedBy: varchar('requested_by', { length: 120 }).notNull(),
    createdAt: createdAt(),
    startedAt: tstz('started_at'),
    completedAt: tstz('completed_at'),
  },
  (t) => [index('standardization_run_institution_idx').on(t.institutionId, t.id)],
);

/**
 * The specimens a run checked, with their worst outcome at that time: insert-only, one narrow row
 * per specimen, appended in id order. The run's per-specimen results and its CSV read these rows
 * and the specimens' current results.
 */
export const standardizationRunItems = pgTable(
  'standardization_run_item',
  {
    runId: uuid('run_id').notNull(),
    specimenId: uuid('specimen_id').notNull(),
    outcome: qcOutcome('outcome').notNull(),
  },
  (t) => [primaryKey({ name: 'standardization_run_item_pkey', columns: [t.runId, t.specimenId] })],
);

/**
 * How far each specimen's custody chain has been verified by its per-specimen check: the last
 * event whose hash was recomputed (every event up to it numbered 1..seq, linked and rehashed), and
 * the chain facts the check needs that later events cannot change (its first event's type, the
 * last container an event moved it to). The next check verifies only the events after `seq`
 * (ISO 20387 traceability, at a cost independent of the history's length); the ledger's
 * append-only trigger keeps the verified part as it was, and `/custody/verify` still recomputes a
 * whole chain on demand. Written only for an intact chain; advanced, never moved back.
 */
export const custodyCheckpoints = pgTable(
  'custody_checkpoint',
  {
    specimenId: uuid('specimen_id')
      .primaryKey()
      .references(() => specimens.id),
    seq: integer('seq').notNull(),
    hash: varchar('hash', { length: 64 }).notNull(),
    firstType: varchar('first_type', { length: 40 }).notNull(),
    lastToContainerId: uuid('last_to_container_id'),
    verifiedAt: tstz('verified_at').notNull(),
  },
  (t) => [check('custody_checkpoint_seq_positive', sql`${t.seq} > 0`)],
);

export type QualityRulesetRow = typeof qualityRulesets.$inferSelect;
export type QcResultRow = typeof qcResults.$inferSelect;
export type StandardizationRunRow = typeof standardizationRuns.$inferSelect;
export type QcResultHistoryRow = typeof qcResultHistory.$inferSelect;
export type CustodyCheckpointRow = typeof custodyCheckpoints.$inferSelect;
