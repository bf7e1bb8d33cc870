import { setImmediate } from 'node:timers/promises';
import { z } from 'zod';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, actorLabel, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { decodeCursor, toPage, type Page } from '../../pagination.js';
import { enqueueJob } from '../../jobs/outbox.js';
import { recordAudit } from '../audit/index.js';
import { findInstitutionByCode } from '../institutions/index.js';
import { findProtocolByCode, listProtocolRows } from '../participants/index.js';
import { containerNotFound, findContainer } from '../storage/index.js';
import { loadQcFacts } from './qc-facts.read-model.js';
import type { QcRecorder } from './qc-recorder.js';
import type { EvaluatedSpecimen } from './qc-results.repo.js';
import { currentRulesets, pinnedRulesets } from './quality-rules.repo.js';
import { addToSummary, readSummary } from './run-summary.js';
import { institutionsWithSpecimens, runScope, scopeBounds, scopeChunk } from './run-scope.read-model.js';
import {
  advanceRun,
  findOwnRun,
  findRun,
  insertRun,
  listRuns,
  markRunCompleted,
  markRunFailed,
  markRunStarted,
} from './standardization-runs.repo.js';
import { runStandardizationJob } from './standards.jobs.js';
import { ownProtocol } from './standards.protocols.js';
import { memoDecoder } from './standards.rules.js';
import { withoutCommitFlush } from './standards.sql.js';
import type { StartRunInput } from './standards.schemas.js';
import type { StandardizationRunRow } from './standards.table.js';
import { runNotFound } from './standards.errors.js';

/** Specimens per batch-run chunk: one load query and one write statement each. */
export const RUN_CHUNK = 2_000;
/** Specimens evaluated between two turns of the event loop. */
const EVALUATE_SLICE = 250;

export interface RunHooks {
  /** called after each chunk with the run as it stands */
  progress?: (run: StandardizationRunRow) => Promise<void> | void;
  /** the last attempt: a failure marks the run failed instead of leaving it to a retry */
  final?: boolean;
}

/** A run of the actor's institution. Throws RUN_NOT_FOUND. */
export async function ownRun(db: Db, ctx: Ctx, id: string): Promise<StandardizationRunRow> {
  const row = await findOwnRun(db, actorInstitutionId(ctx.actor), id);
  if (!row) throw runNotFound(id);
  return row;
}

class RunTakenOver extends Error {
  constructor(runId: string) {
    super(`standardization run ${runId} was moved on by another worker`);
  }
}

export interface StandardizationRunsDeps {
  db: Db;
  recorder: QcRecorder;
  clock: () => Date;
  /** specimens per chunk of a batch run */
  chunkSize: number;
}

/** Batch standardization runs: started over a filter, processed in chunks, followed by progress. */
export function createStandardizationRunsService(deps: StandardizationRunsDeps) {
  const { db, recorder, clock, chunkSize } = deps;
  return {
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
        if (filter.containerId && !(await findContainer(tx, institutionId, filter.containerId)))
          throw containerNotFound(filter.containerId, 'filter.containerId');
        const run = await insertRun(tx, {
          institutionId,
          filter: Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)),
          requestedBy: actorLabel(ctx.actor),
        });
        if (opts.enqueue !== false) await enqueueJob(tx, ctx, runStandardizationJob, { runId: run.id });
        await recordAudit(tx, ctx, {
          action: 'startStandardizationRun',
          entityType: 'standardization_run',
          entityId: run.id,
          institutionId,
          after: run,
        });
        return run;
      });
    },

    /** Progress and summary of a run. Throws RUN_NOT_FOUND. */
    async getStandardizationRun(ctx: Ctx, id: string): Promise<StandardizationRunRow> {
      authorize(ctx.actor, 'standards.read');
      return ownRun(db, ctx, id);
    },

    /** Runs of the institution, newest first. Throws INVALID_CURSOR. */
    async listStandardizationRuns(
      ctx: Ctx,
      q: { cursor?: string; limit: number },
    ): Promise<Page<StandardizationRunRow>> {
      authorize(ctx.actor, 'standards.read');
      const before = decodeCursor(q.cursor, z.uuid());
      const rows = await listRuns(db, actorInstitutionId(ctx.actor), before ?? null, q.limit + 1);
      return toPage(
        rows,
        q.limit,
        (r) => r.id,
        (r) => r,
      );
    },

    /**
     * The institutions a command-line run covers: the one with the code, else every institution
     * holding specimens, by code. Unknown code: none.
     */
    async listStandardizationInstitutions(
      ctx: Ctx,
      institutionCode?: string,
    ): Promise<{ id: string; code: string }[]> {
      authorize(ctx.actor, 'standards.manage');
      if (institutionCode === undefined) return institutionsWithSpecimens(db);
      const found = await findInstitutionByCode(db, institutionCode);
      return found ? [{ id: found.id, code: found.code }] : [];
    },

    /** The id of the actor's institution's protocol with this code, null when it has none. */
    async findRunProtocolId(ctx: Ctx, protocolCode: string): Promise<string | null> {
      authorize(ctx.actor, 'standards.manage');
      const found = await findProtocolByCode(db, actorInstitutionId(ctx.actor), protocolCode);
      return found?.id ?? null;
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
      const found = await findRun(db, runId);
      if (!found) throw runNotFound(runId);
      if (found.status === 'completed' || found.status === 'failed') return found;
      const institutionId = found.institutionId;
      const scope = runScope(institutionId, found.filter);
      let run = found;
      try {
        if (run.status === 'queued') {
          const bounds = await scopeBounds(db, scope);
          const protocolRows = await listProtocolRows(db, institutionId);
          const current = await currentRulesets(
            db,
            protocolRows.map((p) => p.id),
          );
          const started = await markRunStarted(db, runId, {
            startedAt: clock(),
            total: bounds.total,
            maxId: bounds.maxId,
            rulesets: Object.fromEntries([...current.values()].map((r) => [r.protocolId, r.version])),
          });
          // Started by another attempt meanwhile: carry on from where it stands.
          const now = started ?? (await findRun(db, runId));
          if (!now || now.status !== 'running') return now ?? run;
          run = now;
          await hooks.progress?.(run);
        }
        // The versions pinned when the run started, so a resumed run judges by the same rules.
        const rulesets = await pinnedRulesets(db, run.rulesets);
        const decode = memoDecoder();
        const maxId = run.maxId;
        // Load and evaluate a chunk; started for the next chunk while this one is being written, so
        // the next load runs on another connection and its evaluation fills this write's waits.
        const prepare = async (after: string | null) => {
          const loaded = await loadQcFacts(db, scopeChunk(scope, after, maxId), chunkSize);
          // Evaluated in slices with the event loop free between them: requests served by the
          // same process keep their latency while a run proceeds (a whole chunk held it ~0.1 s).
          const evaluated: EvaluatedSpecimen[] = [];
          for (let i = 0; i < loaded.length; i += EVALUATE_SLICE) {
            if (i > 0) await setImmediate();
            evaluated.push(...recorder.evaluate(loaded.slice(i, i + EVALUATE_SLICE), rulesets, decode));
          }
          return { count: loaded.length, evaluated };
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
              await withoutCommitFlush(tx);
              const outcome = await recorder.record(tx, ctx, evaluated, runId);
              const summary = readSummary(current.summary);
              for (const e of evaluated)
                if (outcome.written.has(e.facts.id)) addToSummary(summary, e.results);
              const moved = await advanceRun(tx, runId, previousCursor, {
                cursor: last,
                processed: outcome.written.size,
                skipped: count - outcome.written.size,
                holdsPlaced: outcome.holdsPlaced,
                summary: summary as unknown as Record<string, unknown>,
              });
              // Another worker moved the run on (a redelivered job): this chunk is theirs.
              if (!moved) throw new RunTakenOver(runId);
              return moved;
            });
            await hooks.progress?.(run);
          }
        }
        const done = await markRunCompleted(db, runId, clock());
        run = done ?? run;
        ctx.log.info(
          { runId, processed: run.processed, skipped: run.skipped, holdsPlaced: run.holdsPlaced },
          'standardization run completed',
        );
        return run;
      } catch (err) {
        if (err instanceof RunTakenOver) {
          ctx.log.warn({ runId }, 'standardization run continued by another worker');
          return (await findRun(db, runId)) ?? run;
        }
        if (hooks.final)
          await markRunFailed(db, runId, clock(), err instanceof Error ? err.message : String(err));
        throw err;
      }
    },
  };
}
