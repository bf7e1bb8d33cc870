// Applying a validated import: the staged rows in file order, a chunk at a time, through the same
// services a call would use. Specimens go through the specimen ledger's bulk registration (each
// tube its custody events, audit row and change-feed entry, as if registered alone), participants
// through the upsert by LIS patient id, consents through recordConsent. The import acts as the key
// that uploaded it, so custody and audit name it.
//
// valid-rows: each chunk is one transaction that also moves the job's resume point, so a retry
// continues after the last committed chunk; a row refused now (a position taken since validation)
// becomes a row error. all-or-nothing (specimens): every chunk in one transaction, so a refusal
// leaves nothing; progress is written beside it. Participants and consents are applied row by row
// through their services (each its own transaction; both are idempotent, so a retry is safe).
import type { Ctx } from '../../context.js';
import { actorInstitutionId, type Actor } from '../../auth/roles.js';
import type { Db, Tx } from '../../db/client.js';
import { lockNaturalKey } from '../../db/natural-keys.js';
import { inTransaction } from '../../db/transaction.js';
import { immutableField, isDomainError } from '../../errors.js';
import type { ConsentService } from '../consent/index.js';
import type { ParticipantService } from '../participants/index.js';
import {
  findExternalIdHolders,
  findSpecimensByIds,
  fixedFieldConflicts,
  registerValidWithin,
  type RegisterSpecimenInput,
  type SpecimenLedger,
  type UseGate,
} from '../specimens/index.js';
import type { ConsentImportRow, ParticipantImportRow } from './imports.columns.js';
import {
  addToImportJob,
  clearStagedRows,
  findImportJobById,
  insertRowErrors,
  stagedRowsAfter,
  updateImportJob,
  type RowError,
} from './imports.repo.js';
import type { ImportJobRow } from './imports.table.js';

/** Rows applied per chunk: large enough that statements, not round trips, dominate. */
export const APPLY_CHUNK = 5_000;

export interface ApplyDeps {
  db: Db;
  ledger: SpecimenLedger;
  useGate: UseGate;
  clock: () => Date;
  participants: Pick<ParticipantService, 'upsertParticipant'>;
  consent: Pick<ConsentService, 'recordConsent' | 'listConsents'>;
}

export interface ApplyHooks {
  /** called after each chunk with the job as it stands */
  progress?: (job: ImportJobRow) => Promise<void> | void;
}

/** A row the apply refused, to report beside the validation's errors. */
class ApplyRefused extends Error {
  constructor(readonly errors: RowError[]) {
    super('rows were refused while applying');
  }
}

const asRowErrors = (
  rowNos: number[],
  errors: Map<number, { code: string; message: string; errors: { field: string }[] }>,
) =>
  [...errors.entries()].map(([i, e]) => ({
    rowNo: rowNos[i]!,
    column: e.errors[0]?.field ?? '',
    code: e.code,
    detail: e.message,
  }));

/** How many rows the errors fall on (a row may have several). */
const rowsIn = (errors: readonly RowError[]) => new Set(errors.map((e) => e.rowNo)).size;

export function createImportApply(deps: ApplyDeps) {
  const { db } = deps;

  /**
   * One chunk of specimens in `tx`: registered, the rows already there counted, and the refused
   * rows as errors. A row is already there when its barcode holds its external id now, as
   * validation counts it: the same file sent again before the first copy was applied was staged
   * as new, and the first copy has registered its rows since.
   */
  async function specimenChunk(tx: Tx, ctx: Ctx, rows: { rowNo: number; data: unknown }[]) {
    const inputs = rows.map((r) => r.data as RegisterSpecimenInput);
    const keyOf = (e: { system: string; value: string }) => `${e.system}\n${e.value}`;
    const holders = await findExternalIdHolders(
      tx,
      actorInstitutionId(ctx.actor),
      inputs.flatMap((i) => i.externalIds?.slice(0, 1) ?? []),
    );
    const heldBy = new Map(holders.map((h) => [keyOf(h), h]));
    const holderOf = (input: RegisterSpecimenInput) => {
      const id = input.externalIds?.[0];
      const h = id ? heldBy.get(keyOf(id)) : undefined;
      return h && h.barcode === input.barcode ? h.specimenId : undefined;
    };
    const fresh = rows.filter((_, i) => !holderOf(inputs[i]!));
    // Registered since validation by another copy: the same tube, or another under that id.
    const held = rows.flatMap((r, i) => {
      const specimenId = holderOf(inputs[i]!);
      return specimenId ? [{ rowNo: r.rowNo, input: inputs[i]!, specimenId }] : [];
    });
    const stored = new Map(
      (
        await findSpecimensByIds(
          tx,
          actorInstitutionId(ctx.actor),
          held.map((h) => h.specimenId),
        )
      ).map((s) => [s.id, s]),
    );
    const conflicting = held.flatMap((h) => {
      const conflicts = fixedFieldConflicts(stored.get(h.specimenId)!, h.input);
      const e = conflicts.length ? immutableField(`specimen ${h.input.barcode}`, conflicts) : undefined;
      return e ? [{ rowNo: h.rowNo, column: conflicts[0]!.field, code: e.code, detail: e.message }] : [];
    });
    const out = await registerValidWithin(
      deps,
      tx,
      ctx,
      fresh.map((r) => r.data as RegisterSpecimenInput),
      { action: 'importSpecimens', dryRun: false },
    );
    return {
      created: out.registered.size,
      existing: held.length - conflicting.length,
      errors: [
        ...conflicting,
        ...asRowErrors(
          fresh.map((r) => r.rowNo),
          out.errors,
        ),
      ],
    };
  }

  /** Whether a recorded consent says what the row says (a tier the row leaves out is `unspecified`). */
  function sameConsent(
    c: {
      documentVersion: string;
      signedOn: string;
      obtainedBy: string;
      expiresOn: string | null;
      responses: Record<string, string | undefined>;
    },
    row: ConsentImportRow['body'],
  ): boolean {
    const stated: Record<string, string | undefined> = row.responses;
    return (
      c.documentVersion === row.documentVersion &&
      c.signedOn === row.signedOn &&
      c.obtainedBy === row.obtainedBy &&
      c.expiresOn === (row.expiresOn ?? null) &&
      Object.keys(stated).every((t) => t in c.responses) &&
      Object.entries(c.responses).every(([t, answer]) => (stated[t] ?? 'unspecified') === answer)
    );
  }

  /** One chunk of participants or consents, row by row through their services. */
  async function serviceChunk(ctx: Ctx, job: ImportJobRow, rows: { rowNo: number; data: unknown }[]) {
    let created = 0;
    const errors: RowError[] = [];
    for (const r of rows) {
      try {
        if (job.kind === 'participants') {
          const d = r.data as ParticipantImportRow;
          const out = await deps.participants.upsertParticipant(ctx, {
            protocolCode: d.protocolCode,
            body: d.body,
          });
          if (out.created) created++;
        } else {
          const d = r.data as { participantId: string; body: ConsentImportRow['body'] };
          // The same signed document with the same answers is a consent already recorded (a
          // re-import, even of an old file); any other is recorded, as POST /v1/consents records it.
          const versions = await deps.consent.listConsents(ctx, { participantId: d.participantId });
          const same = versions.some((c) => sameConsent(c, d.body));
          if (!same) {
            await deps.consent.recordConsent(ctx, {
              participantId: d.participantId,
              ...d.body,
            });
            created++;
          }
        }
      } catch (err) {
        if (!isDomainError(err)) throw err;
        errors.push({
          rowNo: r.rowNo,
          column: err.errors[0]?.field ?? '',
          code: err.code,
          detail: err.message,
        });
      }
    }
    return { created, errors };
  }

  async function finish(job: ImportJobRow, hooks: ApplyHooks) {
    const done = await db.transaction(async (tx) => {
      await clearStagedRows(tx, job.id);
      return updateImportJob(tx, job.id, { status: 'completed', finishedAt: deps.clock() });
    });
    await hooks.progress?.(done);
    return done;
  }

  /**
   * valid-rows, and participants and consents: chunk after chunk from the resume point. A specimen
   * chunk locks the job row and reads the resume point under the lock, so a job delivered twice at
   * once (a stalled worker) applies each chunk once.
   */
  async function applyInChunks(ctx: Ctx, job: ImportJobRow, hooks: ApplyHooks) {
    let after = job.appliedThroughRow;
    // Specimens: the next chunk's staged rows are read on another connection while this chunk's
    // statements run. Staged rows do not change once validated, so only the resume point is checked.
    type Staged = Awaited<ReturnType<typeof stagedRowsAfter>>;
    let ahead: { after: number; rows: Promise<Staged> } | undefined;
    const readAhead = (from: number) => {
      // A query builder runs at each `then`: made a promise once, it runs once.
      const rows: Promise<Staged> = Promise.resolve(stagedRowsAfter(db, job.id, from, APPLY_CHUNK));
      // Used by the next chunk or dropped; a failure surfaces there, never unhandled here.
      rows.catch(() => undefined);
      return { after: from, rows };
    };
    for (;;) {
      const record = async (
        handle: Db | Tx,
        rows: { rowNo: number }[],
        out: { created: number; existing?: number; errors: RowError[] },
      ) => {
        const added = await insertRowErrors(handle, job.id, out.errors);
        const existing = out.existing ?? 0;
        const invalid = rowsIn(out.errors);
        await addToImportJob(
          handle,
          job.id,
          {
            appliedRows: rows.length - out.errors.length - existing,
            existingRows: existing,
            createdRecords: out.created,
            invalidRows: invalid,
            // A row found existing or refused while applying was counted valid: it moves over, so
            // valid, existing and invalid rows still add up to the rows read.
            validRows: -(existing + invalid),
            errorCount: added,
          },
          { appliedThroughRow: rows.at(-1)!.rowNo },
        );
      };
      let more: boolean;
      if (job.kind === 'specimens') {
        more = await inTransaction(db, ctx, async (tx) => {
          const current = (await findImportJobById(tx, job.id, { lock: true }))!;
          // The rows read ahead are this chunk's only if no other delivery moved the resume point.
          const rows =
            ahead?.after === current.appliedThroughRow
              ? await ahead.rows
              : await stagedRowsAfter(tx, job.id, current.appliedThroughRow, APPLY_CHUNK);
          if (rows.length === 0) return false;
          ahead = readAhead(rows.at(-1)!.rowNo);
          await record(tx, rows, await specimenChunk(tx, ctx, rows));
          return true;
        });
      } else {
        const rows = await stagedRowsAfter(db, job.id, after, APPLY_CHUNK);
        more = rows.length > 0;
        if (more) {
          await record(db, rows, await serviceChunk(ctx, job, rows));
          after = rows.at(-1)!.rowNo;
        }
      }
      if (!more) break;
      await hooks.progress?.((await findImportJobById(db, job.id))!);
    }
  }

  /** all-or-nothing specimens: every chunk in one transaction; progress written beside it. */
  async function applyAtOnce(ctx: Ctx, job: ImportJobRow, hooks: ApplyHooks) {
    // Rows found already there: counted once the transaction committed (a delivery that fails
    // and runs again counts them afresh).
    let existing = 0;
    try {
      await inTransaction(db, ctx, async (tx) => {
        existing = 0;
        // A second delivery of the job waits here for the first, then finds the work done. An
        // advisory lock, not the job row's: progress is written to that row beside this transaction.
        await lockNaturalKey(tx, 'import_apply', job.id);
        const current = (await findImportJobById(tx, job.id))!;
        if (current.appliedThroughRow > 0) return;
        await updateImportJob(db, job.id, { appliedRows: 0, createdRecords: 0 });
        let after = 0;
        for (;;) {
          const rows = await stagedRowsAfter(tx, job.id, after, APPLY_CHUNK);
          if (rows.length === 0) break;
          const out = await specimenChunk(tx, ctx, rows);
          if (out.errors.length) throw new ApplyRefused(out.errors);
          after = rows.at(-1)!.rowNo;
          existing += out.existing;
          await addToImportJob(db, job.id, {
            appliedRows: rows.length - out.existing,
            createdRecords: out.created,
          });
          await hooks.progress?.((await findImportJobById(db, job.id))!);
        }
        await updateImportJob(tx, job.id, { appliedThroughRow: after });
      });
      if (existing) await addToImportJob(db, job.id, { existingRows: existing, validRows: -existing });
    } catch (err) {
      if (!(err instanceof ApplyRefused)) throw err;
      const added = await insertRowErrors(db, job.id, err.errors);
      const invalid = rowsIn(err.errors);
      await addToImportJob(
        db,
        job.id,
        { invalidRows: invalid, validRows: -invalid, errorCount: added },
        { status: 'failed', appliedRows: 0, createdRecords: 0, finishedAt: deps.clock() },
      );
      await clearStagedRows(db, job.id);
      return false;
    }
    return true;
  }

  return {
    /**
     * Applies a queued import (the imports.apply job; the CLI in its own process). A finished or
     * refused import is returned as it is, so a replayed job does nothing.
     */
    async applyImport(ctx: Ctx, importId: string, hooks: ApplyHooks = {}): Promise<ImportJobRow | null> {
      const job = await findImportJobById(db, importId);
      if (!job || (job.status !== 'queued' && job.status !== 'applying')) return job ?? null;
      // The import acts as the key that uploaded it, within the upload's request id.
      const jobCtx: Ctx = { actor: job.actor as unknown as Actor, requestId: job.requestId, log: ctx.log };
      const started = await updateImportJob(db, job.id, {
        status: 'applying',
        startedAt: job.startedAt ?? deps.clock(),
      });
      if (job.kind === 'specimens' && job.mode === 'all-or-nothing') {
        if (!(await applyAtOnce(jobCtx, started, hooks))) return (await findImportJobById(db, job.id))!;
      } else await applyInChunks(jobCtx, started, hooks);
      return finish(started, hooks);
    },
  };
}
