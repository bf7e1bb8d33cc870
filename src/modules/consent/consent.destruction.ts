// Destruction after withdrawal: the tubes a withdrawal with the destroy scope listed, sorted for
// picking, and the scan that confirms each one was destroyed.
import type { Ctx } from '../../context.js';
import { actorInstitutionId, actorLabel, authorize } from '../../auth/roles.js';
import type { Db, DbOrTx } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { DomainError, type FieldProblem } from '../../errors.js';
import { loadContainersWithAncestors, locationOf } from '../storage/index.js';
import { findSpecimensByIds, lockSpecimensByBarcode } from '../specimens/specimens.repo.js';
import type { SpecimenChange, SpecimenService, SpecimenView } from '../specimens/specimens.service.js';
import type { SpecimenRow } from '../specimens/specimens.table.js';
import {
  confirmDestructionItems,
  findOpenDestructionItems,
  listOpenDestructionItems,
  type DestructionItemRow,
} from './consent.repo.js';
import type { ConfirmDestructionInput } from './consent.schemas.js';

/** A tube on the destruction list, where to find it. */
export interface DestructionListItem extends SpecimenView {
  item: DestructionItemRow;
}

/** Specimens with their locations: one container query for any number of them. */
async function withLocations(
  handle: DbOrTx,
  institutionId: string,
  rows: SpecimenRow[],
): Promise<SpecimenView[]> {
  const containers = await loadContainersWithAncestors(handle, institutionId, [
    ...new Set(rows.map((r) => r.containerId).filter((c): c is string => c !== null)),
  ]);
  return rows.map((row) => ({ row, location: locationOf(row, containers) }));
}

/** Picking order: the box's path, then row and column in the box; tubes without a place last. */
function pickingOrder(a: SpecimenView, b: SpecimenView): number {
  const key = (x: SpecimenView) =>
    [
      x.location?.path.replace(/ \/ [^/]+$/, '') ?? '~',
      x.row.positionRow ?? 0,
      x.row.positionCol ?? 0,
    ] as const;
  const ka = key(a);
  const kb = key(b);
  return ka[0].localeCompare(kb[0]) || ka[1] - kb[1] || ka[2] - kb[2];
}

export function createDestruction(deps: { db: Db; specimens: SpecimenService }) {
  const { db } = deps;

  return {
    /** Tubes to destroy after withdrawals, sorted for picking (freezer, rack, box, position). Throws FORBIDDEN. */
    async listDestruction(ctx: Ctx): Promise<DestructionListItem[]> {
      authorize(ctx.actor, 'destruction.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const items = await listOpenDestructionItems(db, institutionId);
      const specimens = await findSpecimensByIds(db, institutionId, [
        ...new Set(items.map((i) => i.specimenId)),
      ]);
      const views = new Map(
        (await withLocations(db, institutionId, specimens)).map((v) => [v.row.id, v] as const),
      );
      return items
        .flatMap((item) => {
          const view = views.get(item.specimenId);
          return view ? [{ item, ...view }] : [];
        })
        .sort(pickingOrder);
    },

    /**
     * Confirms destruction by scanning: each listed tube is destroyed (custody event) and its
     * item closed. Throws BATCH_REJECTED when a barcode is unknown or not on the list.
     */
    async confirmDestruction(ctx: Ctx, input: ConfirmDestructionInput): Promise<SpecimenView[]> {
      authorize(ctx.actor, 'destruction.confirm');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        const rows = await lockSpecimensByBarcode(tx, institutionId, input.barcodes);
        const byBarcode = new Map(rows.map((r) => [r.barcode, r]));
        const open = await findOpenDestructionItems(
          tx,
          rows.map((r) => r.id),
        );
        const listed = new Set(open.map((o) => o.specimenId));
        const problems = input.barcodes.flatMap((b, i): FieldProblem[] => {
          const r = byBarcode.get(b);
          if (!r)
            return [
              { field: `barcodes.${i}`, message: `no specimen has barcode ${b}`, code: 'SPECIMEN_NOT_FOUND' },
            ];
          if (!listed.has(r.id))
            return [
              {
                field: `barcodes.${i}`,
                message: `${b} is not on the destruction list`,
                code: 'NOT_ON_DESTRUCTION_LIST',
              },
            ];
          return [];
        });
        if (problems.length)
          throw new DomainError(
            'unprocessable',
            'BATCH_REJECTED',
            `${problems.length} of ${input.barcodes.length} scans were refused; nothing was destroyed`,
            problems,
          );
        const containers = await loadContainersWithAncestors(
          tx,
          institutionId,
          rows.map((r) => r.containerId).filter((c): c is string => c !== null),
        );
        const occurredAt = input.occurredAt ? new Date(input.occurredAt) : null;
        const changes: SpecimenChange[] = rows.map((r) => {
          const alreadyGone = r.status === 'destroyed' || r.status === 'consumed';
          const loc = locationOf(r, containers);
          return {
            before: r,
            patch: alreadyGone
              ? {}
              : {
                  status: 'destroyed',
                  availableQuantity: 0,
                  containerId: null,
                  positionRow: null,
                  positionCol: null,
                },
            events: alreadyGone
              ? []
              : [
                  {
                    type: 'destroyed',
                    occurredAt,
                    fromContainerId: r.containerId,
                    fromPosition: loc?.position ?? null,
                    quantityChange: r.availableQuantity ? -r.availableQuantity : null,
                    details: {
                      reason: 'consent withdrawn',
                      consentIds: open.filter((o) => o.specimenId === r.id).map((o) => o.consentId),
                    },
                  },
                ],
            action: 'confirmDestruction',
          };
        });
        const after = await deps.specimens.internal.applyChanges(tx, ctx, changes);
        await confirmDestructionItems(
          tx,
          rows.map((r) => r.id),
          actorLabel(ctx.actor),
        );
        return withLocations(tx, institutionId, after);
      });
    },
  };
}

export type Destruction = ReturnType<typeof createDestruction>;
