// Destruction after withdrawal: the tubes a withdrawal with the destroy scope listed, sorted for
// picking, and the scan that confirms each one was destroyed.
import type { Ctx } from '../../context.js';
import { actorInstitutionId, actorLabel, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { DomainError, batchRejected } from '../../errors.js';
import type {
  findSpecimensByIds,
  specimenViews,
  SpecimenCommand,
  SpecimenLedger,
  specimenNotFound,
  SpecimenRow,
  SpecimenView,
} from '../specimens/index.js';
import { notOnDestructionList } from './consent.errors.js';
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

/**
 * Specimen reads consent makes, handed in by the composition root from the specimens module, so
 * the consent services import specimens for types only (ARCHITECTURE.md rule 3).
 */
export interface SpecimenReads {
  /** specimens of the institution by id; another institution's ids are left out */
  findSpecimensByIds: typeof findSpecimensByIds;
  /** specimens with their locations, one container query for any number */
  specimenViews: typeof specimenViews;
  /** the specimens module's error for a barcode it does not know */
  specimenNotFound: typeof specimenNotFound;
}

type DestroyCommand = Extract<SpecimenCommand, { kind: 'destroy' }>;

/** Tubes the list is settled for: confirming them again changes nothing. */
const ALREADY_GONE: ReadonlySet<SpecimenRow['status']> = new Set(['destroyed', 'consumed']);

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

export function createDestruction(deps: { db: Db; ledger: SpecimenLedger; specimenReads: SpecimenReads }) {
  const { db } = deps;

  return {
    /** Tubes to destroy after withdrawals, sorted for picking (freezer, rack, box, position). Throws FORBIDDEN. */
    async listDestruction(ctx: Ctx): Promise<DestructionListItem[]> {
      authorize(ctx.actor, 'destruction.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const items = await listOpenDestructionItems(db, institutionId);
      const reads = deps.specimenReads;
      const specimens = await reads.findSpecimensByIds(db, institutionId, [
        ...new Set(items.map((i) => i.specimenId)),
      ]);
      const views = new Map(
        (await reads.specimenViews(db, institutionId, specimens)).map((v) => [v.row.id, v]),
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
     * item closed; tubes already destroyed or consumed are left as they are. Throws
     * BATCH_REJECTED, naming each refused scan: a barcode unknown (SPECIMEN_NOT_FOUND) or not on
     * the list (NOT_ON_DESTRUCTION_LIST), or a tube the lifecycle may not destroy, such as a
     * missing one (INVALID_TRANSITION); then nothing is destroyed.
     */
    async confirmDestruction(ctx: Ctx, input: ConfirmDestructionInput): Promise<SpecimenView[]> {
      authorize(ctx.actor, 'destruction.confirm');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        const rows = await deps.ledger.lockByBarcodes(tx, institutionId, input.barcodes);
        const byBarcode = new Map(rows.map((r) => [r.barcode, r]));
        const open = await findOpenDestructionItems(
          tx,
          rows.map((r) => r.id),
        );
        const listed = new Set(open.map((o) => o.specimenId));
        const occurredAt = input.occurredAt ? new Date(input.occurredAt) : null;
        // In id order (the lock order), one per tube however often it was scanned.
        const commands = new Map<string, DestroyCommand>(
          rows
            .filter((r) => listed.has(r.id) && !ALREADY_GONE.has(r.status))
            .map((r) => [
              r.id,
              {
                kind: 'destroy',
                specimen: r,
                occurredAt,
                reason: 'consent withdrawn',
                details: { consentIds: open.filter((o) => o.specimenId === r.id).map((o) => o.consentId) },
                action: 'confirmDestruction',
              },
            ]),
        );
        const errors = new Map<number, DomainError>();
        input.barcodes.forEach((b, i) => {
          const field = `barcodes.${i}`;
          const r = byBarcode.get(b);
          const command = r && commands.get(r.id);
          if (!r) errors.set(i, deps.specimenReads.specimenNotFound(b, field));
          else if (!listed.has(r.id)) errors.set(i, notOnDestructionList(b, field));
          else if (command) {
            try {
              deps.ledger.check(command);
            } catch (err) {
              if (!(err instanceof DomainError)) throw err;
              errors.set(i, err.atField(field));
            }
          }
        });
        if (errors.size) throw batchRejected(errors, input.barcodes.length);
        const destroyed = new Map(
          (await deps.ledger.apply(tx, ctx, [...commands.values()])).map((r) => [r.id, r]),
        );
        await confirmDestructionItems(
          tx,
          rows.map((r) => r.id),
          actorLabel(ctx.actor),
        );
        return deps.specimenReads.specimenViews(
          tx,
          institutionId,
          rows.map((r) => destroyed.get(r.id) ?? r),
        );
      });
    },
  };
}

export type Destruction = ReturnType<typeof createDestruction>;
