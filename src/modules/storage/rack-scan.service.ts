// Rack scan: load the box and the tubes read and expected, reconcile (rack-scan.reconcile.ts), and
// with `apply` record the moves through the specimens module in one transaction.
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db, DbOrTx, Tx } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { DomainError, badRequest, conflict } from '../../errors.js';
import type { SpecimenChange, SpecimenService } from '../specimens/specimens.service.js';
import type { SpecimenRow } from '../specimens/specimens.table.js';
import { tubesInContainers } from './container-contents.read-model.js';
import { lockPositions } from './position-occupancy.read-model.js';
import {
  parseReadings,
  reconcile,
  refusedMoves,
  stillRecordedAtTarget,
  type RackScanReport,
  type Reading,
} from './rack-scan.reconcile.js';
import { locationOf } from './storage.placement.js';
import { SPECIMEN_HOLDERS, containerNotFound, labelOf, loadContainersWithAncestors } from './storage.repo.js';

export interface RackScanDeps {
  db: Db;
  specimens: SpecimenService;
  /** specimens by barcode, without locking (a scan that only reports) */
  findSpecimensByBarcodes(
    db: DbOrTx,
    institutionId: string,
    barcodes: readonly string[],
  ): Promise<SpecimenRow[]>;
  /** specimens by id, locked FOR UPDATE in id order */
  lockSpecimens(tx: DbOrTx, institutionId: string, ids: readonly string[]): Promise<SpecimenRow[]>;
}

export function createRackScanService(deps: RackScanDeps) {
  const { db } = deps;

  return {
    /**
     * Reconciles a rack/box scanner reading with the records: matched, moved in (stored
     * elsewhere), unknown barcodes, expected but missing. With apply, records the moves in one
     * transaction. Throws CONTAINER_NOT_FOUND, NO_GRID, INVALID_READING (outside the grid, read
     * twice), RACK_SCAN_REJECTED (a tube may not move here), POSITION_OCCUPIED (a tube not read is
     * still recorded at a target position).
     */
    async rackScan(
      ctx: Ctx,
      id: string,
      input: { readings: Reading[]; apply: boolean; occurredAt?: string },
    ): Promise<RackScanReport> {
      authorize(ctx.actor, input.apply ? 'specimens.handle' : 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const run = async (tx: DbOrTx): Promise<RackScanReport> => {
        const byId = await loadContainersWithAncestors(tx, institutionId, [id]);
        const box = byId.get(id);
        if (!box) throw containerNotFound(id, 'id');
        const { gridRows, gridCols, gridScheme } = box;
        if (!SPECIMEN_HOLDERS.includes(box.kind) || !gridRows || !gridCols || !gridScheme) {
          throw badRequest('NO_GRID', `${box.barcode} is not a box or plate with a grid`, [
            { field: 'id', message: 'no grid' },
          ]);
        }
        const read = parseReadings({ gridRows, gridCols, gridScheme }, input.readings);
        const readBarcodes = read.map((r) => r.barcode);
        const found = input.apply
          ? await deps.lockSpecimens(
              tx,
              institutionId,
              (await deps.findSpecimensByBarcodes(tx, institutionId, readBarcodes)).map((s) => s.id),
            )
          : await deps.findSpecimensByBarcodes(tx, institutionId, readBarcodes);
        const expected = await tubesInContainers(tx, [box.id]);
        const otherContainers = await loadContainersWithAncestors(
          tx,
          institutionId,
          found.map((s) => s.containerId).filter((c): c is string => c !== null),
        );
        const { moves, ...lists } = reconcile(box, read, found, expected, otherContainers);
        const report: RackScanReport = { containerId: box.id, applied: false, ...lists, errors: [] };
        if (!input.apply || moves.length === 0) return { ...report, applied: input.apply };

        // Apply: tubes read here move here. Positions they leave in this box are vacated in the
        // same statement batch; the deferrable unique constraint checks the end state.
        const changes: SpecimenChange[] = [];
        report.errors = refusedMoves(box, byId, moves, (m) => {
          const to = deps.specimens.internal.refuse(
            m.specimen,
            m.specimen.status === 'pending' || !m.specimen.containerId ? 'store' : 'move',
          );
          const from = locationOf(m.specimen, otherContainers);
          changes.push({
            before: m.specimen,
            patch: { status: to, containerId: box.id, positionRow: m.row, positionCol: m.col },
            events: [
              {
                // A tube that had no place yet (registered, never stored) is stored, not moved.
                type: m.specimen.containerId ? 'moved' : 'stored',
                occurredAt: input.occurredAt ? new Date(input.occurredAt) : null,
                fromContainerId: m.specimen.containerId,
                fromPosition: from?.position ?? null,
                toContainerId: box.id,
                toPosition: m.label,
                details: { source: 'rack-scan' },
              },
            ],
            action: 'rackScan',
          });
        });
        if (report.errors.length)
          throw new DomainError(
            'unprocessable',
            'RACK_SCAN_REJECTED',
            `${report.errors.length} tubes cannot move into ${box.barcode}; nothing was recorded`,
            report.errors.map((e) => ({ field: e.position, message: e.message })),
          );
        const occ = stillRecordedAtTarget(moves, expected, read);
        if (occ) {
          throw conflict(
            'POSITION_OCCUPIED',
            `position ${labelOf(box, occ.positionRow, occ.positionCol) ?? ''} of ${box.barcode} is still recorded for ${occ.barcode}; mark it missing or move it first`,
          );
        }
        // Queue behind single stores aiming at the same positions (see lockPositions).
        await lockPositions(
          tx,
          moves.map((m) => ({ containerId: box.id, row: m.row, col: m.col })),
        );
        await deps.specimens.internal.applyChanges(tx as Tx, ctx, changes);
        return { ...report, applied: true };
      };
      return input.apply ? inTransaction(db, ctx, (tx) => run(tx)) : run(db);
    },
  };
}
