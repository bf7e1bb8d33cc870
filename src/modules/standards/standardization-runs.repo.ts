// SQL over standardization_run (a batch run: filter, progress, summary) and the pages of
// standardization_run_item a run's results are listed by.

import { and, asc, desc, eq, gt, isNull, lt, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import {
  standardizationRunItems,
  standardizationRuns,
  type QcOutcome,
  type StandardizationRunRow,
} from './standards.table.js';

type RunChanges = Partial<typeof standardizationRuns.$inferInsert>;

/** A run by id, whichever institution it belongs to (the worker's view). */
export async function findRun(db: DbOrTx, id: string): Promise<StandardizationRunRow | undefined> {
  const [row] = await db.select().from(standardizationRuns).where(eq(standardizationRuns.id, id));
  return row;
}

/** A run of the institution by id. */
export async function findOwnRun(
  db: DbOrTx,
  institutionId: string,
  id: string,
): Promise<StandardizationRunRow | undefined> {
  const [row] = await db
    .select()
    .from(standardizationRuns)
    .where(and(eq(standardizationRuns.id, id), eq(standardizationRuns.institutionId, institutionId)));
  return row;
}

/** The institution's runs before `before` (keyset), newest first. */
export async function listRuns(
  db: DbOrTx,
  institutionId: string,
  before: string | null,
  limit: number,
): Promise<StandardizationRunRow[]> {
  return db
    .select()
    .from(standardizationRuns)
    .where(
      and(
        eq(standardizationRuns.institutionId, institutionId),
        before ? lt(standardizationRuns.id, before) : undefined,
      ),
    )
    .orderBy(desc(standardizationRuns.id))
    .limit(limit);
}

export async function insertRun(
  tx: Tx,
  values: { institutionId: string; filter: Record<string, string>; requestedBy: string },
): Promise<StandardizationRunRow> {
  const [row] = await tx
    .insert(standardizationRuns)
    .values({ id: newId(), ...values })
    .returning();
  return row!;
}

/** Moves a queued run to running; undefined when another attempt started it first. */
export async function markRunStarted(
  db: DbOrTx,
  id: string,
  changes: Pick<RunChanges, 'startedAt' | 'total' | 'maxId' | 'rulesets'>,
): Promise<StandardizationRunRow | undefined> {
  const [row] = await db
    .update(standardizationRuns)
    .set({ status: 'running', ...changes })
    .where(and(eq(standardizationRuns.id, id), eq(standardizationRuns.status, 'queued')))
    .returning();
  return row;
}

/**
 * Records a committed chunk: the cursor moves from `previousCursor` to `cursor` and the counts
 * grow. Undefined when the run is no longer running from that cursor (another worker moved it on).
 */
export async function advanceRun(
  tx: Tx,
  id: string,
  previousCursor: string | null,
  step: {
    cursor: string;
    processed: number;
    skipped: number;
    holdsPlaced: number;
    summary: Record<string, unknown>;
  },
): Promise<StandardizationRunRow | undefined> {
  const [row] = await tx
    .update(standardizationRuns)
    .set({
      cursor: step.cursor,
      processed: sql`${standardizationRuns.processed} + ${step.processed}`,
      skipped: sql`${standardizationRuns.skipped} + ${step.skipped}`,
      holdsPlaced: sql`${standardizationRuns.holdsPlaced} + ${step.holdsPlaced}`,
      summary: step.summary,
    })
    .where(
      and(
        eq(standardizationRuns.id, id),
        eq(standardizationRuns.status, 'running'),
        previousCursor === null
          ? isNull(standardizationRuns.cursor)
          : eq(standardizationRuns.cursor, previousCursor),
      ),
    )
    .returning();
  return row;
}

/** Marks a running run completed; undefined when it was not running. */
export async function markRunCompleted(
  db: DbOrTx,
  id: string,
  completedAt: Date,
): Promise<StandardizationRunRow | undefined> {
  const [row] = await db
    .update(standardizationRuns)
    .set({ status: 'completed', completedAt })
    .where(and(eq(standardizationRuns.id, id), eq(standardizationRuns.status, 'running')))
    .returning();
  return row;
}

export async function markRunFailed(db: DbOrTx, id: string, completedAt: Date, error: string): Promise<void> {
  await db
    .update(standardizationRuns)
    .set({ status: 'failed', completedAt, error })
    .where(eq(standardizationRuns.id, id));
}

/** A page of the specimens a run checked, by specimen id after `after`, optionally of one outcome. */
export async function listRunItems(
  db: DbOrTx,
  runId: string,
  q: { after: string | null; outcome?: QcOutcome; limit: number },
) {
  return db
    .select()
    .from(standardizationRunItems)
    .where(
      and(
        eq(standardizationRunItems.runId, runId),
        q.after ? gt(standardizationRunItems.specimenId, q.after) : undefined,
        q.outcome ? eq(standardizationRunItems.outcome, q.outcome) : undefined,
      ),
    )
    .orderBy(asc(standardizationRunItems.specimenId))
    .limit(q.limit);
}
