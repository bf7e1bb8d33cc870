// Rack scan: load the box and the tubes read and expected, reconcile (rack-scan.reconcile.ts), and
// with `apply` record the moves through the specimen ledger in one transaction.
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db, DbOrTx, Tx } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { positionOccupied } from '../../errors.js';
import type { SpecimenCommand, SpecimenLedger, SpecimenRow } from '../specimens/index.js';
import { tubesInContainers } from './container-contents.read-model.js';
import { lockPositions } from './position-occupancy.read-model.js';
import {
  parseReadings,
  reconcile,
  refusedMoves,
  stillRecordedAtTarget,
  type RackMove,
  type RackScanReport,
  type Reading,
} from './rack-scan.reconcile.js';
import { loadContainersWithAncestors } from './storage.repo.js';
import { containerName } from './container-kinds.js';
import { containerNotFound, noGrid, rackScanRejected } from './storage.errors.js';
import { SPECIMEN_HOLDERS, containerPath } from './storage.rules.js';

export interface RackScanDeps {
  db: Db;
  /** the only writer of specimens: locks the tubes read and records their moves */
  ledger: Pick<SpecimenLedger, 'lockByBarcodes' | 'check' | 'checkTimes' | 'apply'>;
  /** the institution's specimens by barcode, without locking (a scan that only reports) */
  findSpecimensByBarcodes(
    db: DbOrTx,
    institutionId: string,
    barcodes: readonly string[],
  ): Promise<SpecimenRow[]>;
}

export function createRackScanService(deps: RackScanDeps) {
  const { db } = deps;

  return {
    /**
     * Reconciles a rack/box scanner reading with the records: matched, moved in (stored
     * elsewhere), unknown barcodes, expected but missing. With apply, records the moves in one
     * transaction. Throws CONTAINER_NOT_FOUND, NO_GRID, INVALID_READING (outside the grid, read
     * twice), RACK_SCAN_REJECTED (a tube may not move here), POSITION_OCCUPIED (a tube not read is
     * still recorded at a target position), TIME_IN_FUTURE (also without apply).
     */
    async rackScan(
      ctx: Ctx,
      id: string,
      input: { readings: Reading[]; apply: boolean; occurredAt?: string },
    ): Promise<RackScanReport> {
      authorize(ctx.actor, input.apply ? 'specimens.handle' : 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      // A date the apply would refuse is refused by a dry run too: it predicts the apply.
      deps.ledger.checkTimes([input.occurredAt ? new Date(input.occurredAt) : null]);
      // A transaction only when applying: the tubes read are locked, then moved in it.
      const run = async (tx: Tx | null): Promise<RackScanReport> => {
        const handle: DbOrTx = tx ?? db;
        // Applying stores tubes here: the box is held as planPlacements holds a target.
        const byId = await loadContainersWithAncestors(handle, institutionId, [id], {
          keyShare: tx !== null,
        });
        const box = byId.get(id);
        if (!box) throw containerNotFound(id, 'id');
        const { gridRows, gridCols, gridScheme } = box;
        if (!SPECIMEN_HOLDERS.includes(box.kind) || !gridRows || !gridCols || !gridScheme) {
          throw noGrid(box, 'scan');
        }
        const read = parseReadings({ gridRows, gridCols, gridScheme }, input.readings);
        const readBarcodes = read.map((r) => r.barcode);
        const found = tx
          ? await deps.ledger.lockByBarcodes(tx, institutionId, readBarcodes)
          : await deps.findSpecimensByBarcodes(handle, institutionId, readBarcodes);
        const expected = await tubesInContainers(handle, [box.id]);
        const otherContainers = await loadContainersWithAncestors(
          handle,
          institutionId,
          found.map((s) => s.containerId).filter((c): c is string => c !== null),
        );
        const { moves, ...lists } = reconcile(box, read, found, expected, otherContainers);

        // Tubes read here move here. Positions they leave in this box are vacated in the same
        // statement batch; the deferrable unique constraint checks the end state.
        const path = containerPath(box, byId);
        const commandOf = (m: RackMove<SpecimenRow>): SpecimenCommand => ({
          // A tube that had no place yet (registered, never stored) is stored, not moved.
          kind: m.specimen.status === 'pending' || !m.specimen.containerId ? 'store' : 'move',
          specimen: m.specimen,
          occurredAt: input.occurredAt ? new Date(input.occurredAt) : null,
          placement: { container: box, row: m.row, col: m.col, label: m.label, path: `${path} / ${m.label}` },
          details: { source: 'rack-scan' },
          action: 'rackScan',
        });
        // What would refuse the apply: a dry run reports it, so it predicts what applying does.
        const refused = refusedMoves(box, byId, moves, (m) => deps.ledger.check(commandOf(m)));
        const occupied = stillRecordedAtTarget(moves, expected, read);
        if (!tx || moves.length === 0) {
          const errors = [
            ...refused.map(({ position, message }) => ({ position, message })),
            // A tube already refused is not named twice.
            ...occupied
              .filter(({ move }) => !refused.some((r) => r.reading === move.reading))
              .map(({ tube, move }) => ({
                position: move.label,
                message: `${tube.barcode} is still recorded at ${move.label} and was not read: mark it missing or move it first`,
              })),
          ];
          return { containerId: box.id, applied: input.apply, ...lists, errors };
        }
        if (refused.length) throw rackScanRejected(box, refused);
        const [blocked] = occupied;
        if (blocked) {
          const { tube, move } = blocked;
          throw positionOccupied(
            { position: move.label, container: containerName(box), by: tube.barcode },
            `readings.${move.reading}.position`,
          );
        }
        const report: RackScanReport = { containerId: box.id, applied: false, ...lists, errors: [] };
        // Queue behind single stores aiming at the same positions (see lockPositions).
        await lockPositions(
          tx,
          moves.map((m) => ({ containerId: box.id, row: m.row, col: m.col })),
        );
        // The tubes' current boxes are loaded above: the ledger need not read them again.
        await deps.ledger.apply(tx, ctx, moves.map(commandOf), otherContainers);
        return { ...report, applied: true };
      };
      return input.apply ? inTransaction(db, ctx, run) : run(null);
    },
  };
}
