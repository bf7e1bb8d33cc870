// The container tree: moving a box, rack or freezer with everything below it. The tubes inside
// keep their positions, and each records the move in its custody chain.
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { recordAudit } from '../audit/index.js';
import type { SpecimenLedger } from '../specimens/index.js';
import { tubesInContainers } from './container-contents.read-model.js';
import { ALLOWED_PARENTS } from './container-kinds.js';
import { assertSlotFree, slotOf } from './container-slots.js';
import type { ContainerView } from './storage.dto.js';
import { lockChain } from './container-locks.js';
import {
  loadContainersWithAncestors,
  findContainer,
  lockSubtree,
  reparentContainer,
} from './storage.repo.js';
import {
  containerCycle,
  containerNotFound,
  invalidParent,
  slotRequired,
  typeNotAllowed,
} from './storage.errors.js';
import { containerPath, typeAllowed } from './storage.rules.js';

export interface ContainerTreeDeps {
  db: Db;
  /** the only writer of specimens: the tubes inside record the move through it */
  ledger: Pick<SpecimenLedger, 'lock' | 'apply'>;
}

export function createContainerTreeService(deps: ContainerTreeDeps) {
  const { db } = deps;

  return {
    /**
     * Moves a box (or rack) to another parent and slot; every tube inside records the move in its
     * custody chain. Throws CONTAINER_NOT_FOUND, INVALID_PARENT, SLOT_REQUIRED, SLOT_OCCUPIED,
     * CONTAINER_CYCLE, TYPE_NOT_ALLOWED.
     */
    async moveContainer(
      ctx: Ctx,
      id: string,
      input: { parentId: string; slot?: string; occurredAt?: string },
    ): Promise<ContainerView> {
      authorize(ctx.actor, 'storage.move');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        if (!(await findContainer(tx, institutionId, id))) throw containerNotFound(id, 'id');
        // Locks in the storage lock order (container-kinds.ts): the new parent's chain, which
        // must not move while the box takes its path, then the box and everything below it.
        const parent = await lockChain(tx, institutionId, input.parentId, 'parentId');
        const [before, ...below] = await lockSubtree(tx, institutionId, id);
        if (!before) throw containerNotFound(id, 'id');
        if (parent.id === before.id || parent.ancestorIds.includes(before.id)) {
          throw containerCycle(before);
        }
        if (!ALLOWED_PARENTS[before.kind].includes(parent.kind)) {
          throw invalidParent(before.kind, parent.kind);
        }
        const slot = slotOf(parent, input.slot);
        if (parent.gridRows && !slot) throw slotRequired(parent);
        // Sent again to where it already is (a retry): nothing moved, so nothing is written, no
        // version, audit row or custody event for the tubes inside.
        if (
          before.parentId === parent.id &&
          before.slotRow === (slot?.row ?? null) &&
          before.slotCol === (slot?.col ?? null)
        ) {
          return {
            container: before,
            byId: await loadContainersWithAncestors(tx, institutionId, [before.id]),
          };
        }
        if (slot) await assertSlotFree(tx, parent, slot, before.id);
        // Tubes inside must be allowed under the new parent's restrictions.
        const parentChain = await loadContainersWithAncestors(tx, institutionId, [parent.id]);
        const subtreeIds = [before.id, ...below.map((c) => c.id)];
        const tubes = await deps.ledger.lock(
          tx,
          institutionId,
          (await tubesInContainers(tx, subtreeIds)).map((s) => s.id),
        );
        for (const t of tubes) {
          const blocker = typeAllowed(parent, parentChain, t.type);
          if (blocker) throw typeNotAllowed(t.type, blocker, 'parentId', t.barcode);
        }
        const after = await reparentContainer(tx, institutionId, before, {
          parentId: parent.id,
          ancestorIds: [...parent.ancestorIds, parent.id],
          slot,
        });
        const byId = await loadContainersWithAncestors(tx, institutionId, [after.id, ...subtreeIds]);
        const occurredAt = input.occurredAt ? new Date(input.occurredAt) : null;
        const fromPath = containerPath(
          before,
          await loadContainersWithAncestors(tx, institutionId, before.parentId ? [before.parentId] : []).then(
            (m) => {
              m.set(before.id, before);
              return m;
            },
          ),
        );
        // After the container rows changed: the ledger reads each tube's new path for its event.
        await deps.ledger.apply(
          tx,
          ctx,
          tubes.map((t) => ({
            kind: 'container_moved',
            specimen: t,
            occurredAt,
            containerBarcode: before.barcode,
            fromPath,
          })),
        );
        await recordAudit(tx, ctx, {
          action: 'moveContainer',
          entityType: 'container',
          entityId: after.id,
          institutionId,
          before,
          after,
        });
        return { container: after, byId };
      });
    },
  };
}
