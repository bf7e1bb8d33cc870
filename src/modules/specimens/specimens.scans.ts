import { z } from 'zod';
import { USES } from '../../vocabulary/uses.js';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { DomainError, batchRejected, validationFailed } from '../../errors.js';
import { planPlacements } from '../storage/index.js';
import { keepsItsPlace, type SpecimenCommand } from './specimens.commands.js';
import { specimenViews, type SpecimenView } from './specimens.dto.js';
import {
  containerRequired,
  duplicateScan,
  positionWithoutContainer,
  specimenNotFound,
} from './specimens.errors.js';
import type { SpecimenLedger } from './specimens.ledger.js';
import { barcode, instant, positionLabelInput } from './specimens.schemas.js';
import { futureEventTime } from './specimens.times.js';
import type { UseGate } from './specimens.use-gate.js';
export const SCAN_ACTIONS = ['receive', 'store', 'move', 'check_out', 'check_in'] as const;

export const scanInput = z.object({
  action: z.enum(SCAN_ACTIONS),
  barcode,
  containerId: z.uuid().optional(),
  position: positionLabelInput.optional(),
  occurredAt: instant.optional().describe('when the scan happened'),
  use: z.enum(USES).optional().describe('for check_out: the intended use'),
});
/** A member the scan's action does not read: refused rather than ignored. */
const notForAction = (why: string, field: string) =>
  validationFailed([{ field, message: `${why}: leave it out` }]);

export const scansInput = z.object({ scans: z.array(scanInput).min(1).max(500) });
export type ScanInput = z.infer<typeof scanInput>;

/** What a scan gives that its action cannot take, or lacks: refused, never dropped. */
function inputMisfit(s: ScanInput, i: number): DomainError | undefined {
  if ((s.action === 'store' || s.action === 'move') && !s.containerId)
    return containerRequired(s.action, `scans.${i}.containerId`);
  const unplaced = positionWithoutContainer(s, `scans.${i}.`);
  if (unplaced) return unplaced;
  if (s.action === 'check_out' && (s.containerId || s.position !== undefined))
    return notForAction(
      'check_out puts the tube nowhere',
      `scans.${i}.${s.containerId ? 'containerId' : 'position'}`,
    );
  if (s.action !== 'check_out' && s.use !== undefined)
    return notForAction(`${s.action} takes no use (only check_out does)`, `scans.${i}.use`);
  return undefined;
}

/**
 * A batch of scanner actions in one transaction, all or nothing, with per-item errors (the
 * bench workflow: a technician scans a tray, then commits it).
 */
export function createScanService(deps: {
  db: Db;
  ledger: SpecimenLedger;
  useGate: UseGate;
  clock: () => Date;
}) {
  const { ledger } = deps;
  return {
    /** Throws BATCH_REJECTED listing every refused item by index. */
    async applyScans(ctx: Ctx, scans: ScanInput[]): Promise<SpecimenView[]> {
      authorize(ctx.actor, 'specimens.handle');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(deps.db, ctx, async (tx) => {
        const errors = new Map<number, DomainError>();
        const now = deps.clock();
        const rows = await ledger.lockByBarcodes(tx, institutionId, [
          ...new Set(scans.map((s) => s.barcode)),
        ]);
        const byBarcode = new Map(rows.map((r) => [r.barcode, r]));
        const seen = new Map<string, number>();
        scans.forEach((s, i) => {
          if (!byBarcode.has(s.barcode)) {
            errors.set(i, specimenNotFound(s.barcode, `scans.${i}.barcode`));
          } else if (seen.has(s.barcode)) {
            errors.set(i, duplicateScan(s.barcode, seen.get(s.barcode)!, i, `scans.${i}.barcode`));
          }
          seen.set(s.barcode, i);
          // One problem per scan: an unknown or repeated barcode first.
          const misfit = errors.has(i) ? undefined : inputMisfit(s, i);
          if (misfit) errors.set(i, misfit);
          // The ledger refuses it too, but for the whole tray: here it is this scan's.
          const future = futureEventTime(
            [s.occurredAt ? new Date(s.occurredAt) : null],
            now,
            `scans.${i}.occurredAt`,
          );
          if (future && !errors.has(i)) errors.set(i, future);
        });
        // Tubes leaving their positions in this batch free them for others in the same batch. A
        // checked-out tube keeps its position for check-in, so it frees nothing.
        const vacating = new Set(
          scans
            .filter((s) => s.containerId)
            .map((s) => byBarcode.get(s.barcode)?.id)
            .filter((x): x is string => !!x),
        );
        const plan = await planPlacements(
          tx,
          institutionId,
          scans.flatMap((s, i) => {
            const row = byBarcode.get(s.barcode);
            return s.containerId && row
              ? [
                  {
                    index: i,
                    field: `scans.${i}.`,
                    containerId: s.containerId,
                    position: s.position,
                    type: row.type,
                    specimenId: row.id,
                  },
                ]
              : [];
          }),
          { vacating },
        );
        for (const [i, e] of plan.errors) if (!errors.has(i)) errors.set(i, e);
        const commands: SpecimenCommand[] = [];
        scans.forEach((s, i) => {
          if (errors.has(i)) return;
          const specimen = byBarcode.get(s.barcode)!;
          const occurredAt = s.occurredAt ? new Date(s.occurredAt) : null;
          const placement = plan.placements.get(i) ?? null;
          // `store` is the table's store rule, as over REST; storing a placed tube elsewhere records a move.
          const command: SpecimenCommand =
            s.action === 'check_out'
              ? { kind: 'check_out', specimen, occurredAt, use: s.use }
              : s.action === 'check_in'
                ? { kind: 'check_in', specimen, occurredAt, placement, thawed: true }
                : s.action === 'receive'
                  ? { kind: 'receive', specimen, occurredAt, placement }
                  : { kind: s.action, specimen, occurredAt, placement: placement! };
          try {
            ledger.check(command);
            // A store or move to where the tube already is (a tray scanned again) writes nothing,
            // as over REST; its item answers the tube as it is.
            if (!keepsItsPlace(command)) commands.push(command);
          } catch (err) {
            if (!(err instanceof DomainError)) throw err;
            errors.set(i, err.atField(`scans.${i}.action`));
          }
        });
        // Every check-out passes the consent gate, with the default use when none is named; a
        // refusal is that scan's, named by its place in the tray like every other.
        for (const c of commands) {
          if (c.kind !== 'check_out') continue;
          try {
            await deps.useGate.assertUsable(tx, ctx, [c.specimen], c.use);
          } catch (err) {
            if (!(err instanceof DomainError)) throw err;
            const i = scans.findIndex((s) => byBarcode.get(s.barcode)?.id === c.specimen.id);
            errors.set(i, err.atField(`scans.${i}.use`));
          }
        }
        if (errors.size) throw batchRejected(errors, scans.length);
        const applied = new Map((await ledger.apply(tx, ctx, commands)).map((r) => [r.id, r]));
        const answered = scans.map((s) => {
          const before = byBarcode.get(s.barcode)!;
          return applied.get(before.id) ?? before;
        });
        return specimenViews(tx, institutionId, answered);
      });
    },
  };
}

export type ScanService = ReturnType<typeof createScanService>;
