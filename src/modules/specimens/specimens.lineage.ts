// Lineage: aliquots and derivatives drawn from a parent in one transaction, and the family tree.
import { randomBytes } from 'node:crypto';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { inTransaction } from '../../db/transaction.js';
import { batchRejected, validationFailed, type DomainError } from '../../errors.js';
import {
  SPECIMEN_TYPE_INFO,
  isDerivativeAllowed,
  type SpecimenType,
} from '../../vocabulary/specimen-types.js';
import { planPlacements } from '../storage/index.js';
import type { NewSpecimen } from './specimens.commands.js';
import { specimenViews, type SpecimenView } from './specimens.dto.js';
import {
  barcodeTaken,
  positionWithoutContainer,
  derivativeNotAllowed,
  placementRace,
  specimenNotFound,
} from './specimens.errors.js';
import type { SpecimenLedger } from './specimens.ledger.js';
import {
  findAncestors,
  findDescendants,
  findSpecimen,
  findSpecimensByBarcodes,
  type NewSpecimenRow,
} from './specimens.repo.js';
import { BARCODE_MAX_LENGTH, type AliquotInput, type DerivativeInput } from './specimens.schemas.js';
import type { SpecimenRow } from './specimens.table.js';
import type { UseGate } from './specimens.use-gate.js';

interface ChildInput {
  barcode?: string;
  quantity: number;
  unit?: string;
  quality?: Record<string, number>;
  containerId?: string;
  position?: string;
}

export function createSpecimenLineage(deps: {
  db: Db;
  ledger: SpecimenLedger;
  useGate: UseGate;
  clock: () => Date;
}) {
  const { db, ledger, useGate, clock } = deps;

  /** Creates child specimens from a locked parent (aliquots or derivatives). */
  async function createChildren(
    ctx: Ctx,
    parentId: string,
    lineage: 'aliquot' | 'derivative',
    input: { occurredAt?: string; note?: string; use?: string },
    children: ChildInput[],
    drawn: number,
    /** the children's type, decided from the locked parent (throws when it may not be made) */
    childType: (parent: SpecimenRow) => SpecimenType,
  ): Promise<{ parent: SpecimenView; children: SpecimenView[] }> {
    authorize(ctx.actor, 'specimens.handle');
    const institutionId = actorInstitutionId(ctx.actor);
    return placementRace(() =>
      inTransaction(db, ctx, async (tx) => {
        const [parent] = await ledger.lock(tx, institutionId, [parentId]);
        if (!parent) throw specimenNotFound(parentId);
        const type = childType(parent);
        const occurredAt = input.occurredAt ? new Date(input.occurredAt) : null;
        const draw = {
          kind: 'draw' as const,
          specimen: parent,
          occurredAt,
          note: input.note,
          lineage,
          quantity: drawn,
          use: input.use,
        };
        // Status, holds and quantity first: a consumed tube is refused as such, not as empty.
        ledger.check({ ...draw, children: [] });
        await useGate.assertUsable(tx, ctx, [parent], input.use);
        const inherited = [
          ...new Set([
            ...parent.holds,
            ...(await useGate.holdsAtBirth(tx, parent.participantId, parent.protocolId)),
          ]),
        ];
        const field = (i: number) => `${lineage === 'aliquot' ? 'aliquots' : 'derivatives'}.${i}.`;
        const barcodes = children.map(
          (c, i) =>
            c.barcode ??
            `${parent.barcode}-${lineage === 'aliquot' ? 'A' : 'D'}${String(parent.custodySeq + i + 1).padStart(2, '0')}${randomBytes(2).toString('hex').toUpperCase()}`,
        );
        const errors = new Map<number, DomainError>();
        // A barcode made from a long parent's would not fit: the child's must be given.
        barcodes.forEach((b, i) => {
          if (b.length > BARCODE_MAX_LENGTH)
            errors.set(
              i,
              validationFailed([
                {
                  field: `${field(i)}barcode`,
                  message: `give it: the one made from the parent's barcode would be longer than ${BARCODE_MAX_LENGTH} characters`,
                },
              ]),
            );
        });
        const dup = new Map<string, number>();
        barcodes.forEach((b, i) => {
          if (errors.has(i)) return;
          const first = dup.get(b);
          if (first !== undefined) errors.set(i, barcodeTaken(b, `${field(i)}barcode`, first));
          else dup.set(b, i);
        });
        const taken = new Set(
          (await findSpecimensByBarcodes(tx, institutionId, barcodes)).map((s) => s.barcode),
        );
        barcodes.forEach((b, i) => {
          if (taken.has(b)) errors.set(i, barcodeTaken(b, `${field(i)}barcode`));
        });
        // A position says nothing without its container (as at registration): never dropped.
        children.forEach((c, i) => {
          const refused = errors.has(i) ? undefined : positionWithoutContainer(c, field(i));
          if (refused) errors.set(i, refused);
        });
        const plan = await planPlacements(
          tx,
          institutionId,
          children.flatMap((c, i) =>
            c.containerId
              ? [{ index: i, field: field(i), containerId: c.containerId, position: c.position, type }]
              : [],
          ),
        );
        for (const [i, e] of plan.errors) if (!errors.has(i)) errors.set(i, e);
        if (errors.size) throw batchRejected(errors, children.length);

        const items: NewSpecimen[] = children.map((c, i) => ({
          row: {
            id: newId(),
            institutionId,
            barcode: barcodes[i]!,
            type,
            lineage,
            parentId: parent.id,
            rootId: parent.rootId,
            participantId: parent.participantId,
            protocolId: parent.protocolId,
            anatomicSite: parent.anatomicSite,
            pathologyStatus: parent.pathologyStatus,
            collectedAt: parent.collectedAt,
            receivedAt: parent.receivedAt,
            processedAt: occurredAt ?? clock(),
            sprecVersion: parent.sprecVersion,
            unit: (c.unit ??
              (lineage === 'aliquot'
                ? parent.unit
                : SPECIMEN_TYPE_INFO[type].defaultUnit)) as NewSpecimenRow['unit'],
            initialQuantity: c.quantity,
            availableQuantity: c.quantity,
            quality: c.quality ?? (lineage === 'aliquot' ? parent.quality : {}),
            // An aliquot inherits the parent's holds; a hold on the donor follows every tube.
            holds: inherited,
            freezeThawCount: lineage === 'aliquot' ? parent.freezeThawCount : 0,
          },
          placement: plan.placements.get(i) ?? null,
          occurredAt,
          origin: { kind: 'created_from_parent', parent, lineage },
        }));
        const created = await ledger.register(
          tx,
          ctx,
          items,
          lineage === 'aliquot' ? 'aliquotSpecimen' : 'deriveSpecimen',
        );
        const [parentAfter] = await ledger.apply(tx, ctx, [
          { ...draw, children: created.map((c) => ({ id: c.id, barcode: c.barcode })) },
        ]);
        const [pv, ...cv] = await specimenViews(tx, institutionId, [parentAfter!, ...created]);
        return { parent: pv!, children: cv };
      }),
    );
  }

  return {
    /**
     * Splits a specimen into aliquots in one transaction; the parent's quantity can never go below
     * zero (row lock + CHECK). Throws INSUFFICIENT_QUANTITY, INVALID_TRANSITION, SPECIMEN_ON_HOLD, BATCH_REJECTED.
     */
    async aliquotSpecimen(ctx: Ctx, id: string, input: AliquotInput) {
      const drawn = input.aliquots.reduce((sum, a) => sum + a.quantity, 0);
      return createChildren(ctx, id, 'aliquot', input, input.aliquots, drawn, (parent) => parent.type);
    },

    /** Extracts derivatives (e.g. DNA from blood). Throws DERIVATIVE_NOT_ALLOWED and as aliquotSpecimen. */
    async deriveSpecimen(ctx: Ctx, id: string, input: DerivativeInput) {
      return createChildren(
        ctx,
        id,
        'derivative',
        input,
        input.derivatives,
        input.consumedQuantity,
        (parent) => {
          if (!isDerivativeAllowed(parent.type, input.type)) {
            throw derivativeNotAllowed(input.type, parent.type);
          }
          return input.type;
        },
      );
    },

    /** Ancestors (root first) and every descendant. Throws SPECIMEN_NOT_FOUND. */
    async getLineage(
      ctx: Ctx,
      id: string,
    ): Promise<{ specimen: SpecimenView; ancestors: SpecimenView[]; descendants: SpecimenView[] }> {
      authorize(ctx.actor, 'specimens.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const row = await findSpecimen(db, institutionId, id);
      if (!row) throw specimenNotFound(id);
      const [ancestors, descendants] = await Promise.all([
        findAncestors(db, institutionId, id),
        findDescendants(db, institutionId, id),
      ]);
      const all = await specimenViews(db, institutionId, [row, ...ancestors, ...descendants]);
      return {
        specimen: all[0]!,
        ancestors: all.slice(1, 1 + ancestors.length),
        descendants: all.slice(1 + ancestors.length),
      };
    },
  };
}
