// Containers: create, read, list and update sites, freezers, racks, boxes and plates.
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { versionConflict } from '../../errors.js';
import { recordAudit } from '../audit/index.js';
import { findTubeOfOtherType } from './container-contents.read-model.js';
import { ALLOWED_PARENTS } from './container-kinds.js';
import { lockChain } from './container-locks.js';
import { assertSlotFree, slotOf } from './container-slots.js';
import type { ContainerView } from './storage.dto.js';
import {
  insertContainer,
  listContainerRows,
  loadContainersWithAncestors,
  lockContainer,
  lockSubtree,
  updateContainerRow,
} from './storage.repo.js';
import {
  containerNotFound,
  gridRequired,
  invalidParent,
  slotRequired,
  typeNotAllowed,
} from './storage.errors.js';
import { SPECIMEN_HOLDERS } from './storage.rules.js';
import type { CreateContainerInput } from './storage.schemas.js';
import type { ContainerRow } from './storage.table.js';
import { resolveVersion, type ExpectedVersion } from '../../versions.js';

export function createContainersService(deps: { db: Db }) {
  const { db } = deps;

  return {
    /** Creates a site, freezer, rack, box... Throws CONTAINER_BARCODE_TAKEN, INVALID_PARENT, SLOT_OCCUPIED, GRID_REQUIRED. */
    async createContainer(ctx: Ctx, input: CreateContainerInput): Promise<ContainerView> {
      authorize(ctx.actor, 'storage.configure');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        // The parent's chain is locked: the new container copies its ancestors from it.
        const parent = input.parentId ? await lockChain(tx, institutionId, input.parentId, 'parentId') : null;
        if (!ALLOWED_PARENTS[input.kind].includes(parent?.kind ?? null)) {
          throw invalidParent(input.kind, parent?.kind ?? null);
        }
        if (SPECIMEN_HOLDERS.includes(input.kind) && input.kind === 'plate' && !input.grid) {
          throw gridRequired(input.kind);
        }
        const slot = parent ? slotOf(parent, input.slot) : null;
        if (parent?.gridRows && !slot) {
          throw slotRequired(parent);
        }
        if (parent && slot) await assertSlotFree(tx, parent, slot);
        const row = await insertContainer(tx, {
          institutionId,
          parentId: parent?.id ?? null,
          ancestorIds: parent ? [...parent.ancestorIds, parent.id] : [],
          kind: input.kind,
          barcode: input.barcode,
          name: input.name ?? input.barcode,
          temperatureC: input.temperatureC ?? parent?.temperatureC ?? null,
          gridRows: input.grid?.rows ?? null,
          gridCols: input.grid?.cols ?? null,
          gridScheme: input.grid?.scheme ?? null,
          fillOrder: input.grid?.fillOrder ?? 'row_major',
          allowedTypes: input.allowedTypes ?? null,
          slotRow: slot?.row ?? null,
          slotCol: slot?.col ?? null,
        });
        await recordAudit(tx, ctx, {
          action: 'createContainer',
          entityType: 'container',
          entityId: row.id,
          institutionId,
          after: row,
        });
        return { container: row, byId: await loadContainersWithAncestors(tx, institutionId, [row.id]) };
      });
    },

    /** Throws CONTAINER_NOT_FOUND. */
    async getContainer(ctx: Ctx, id: string): Promise<ContainerView> {
      authorize(ctx.actor, 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const byId = await loadContainersWithAncestors(db, institutionId, [id]);
      const container = byId.get(id);
      if (!container) throw containerNotFound(id, 'id');
      return { container, byId };
    },

    /** Containers by id with their paths, in one query; unknown ids (or another institution's) are left out. */
    async getContainersByIds(ctx: Ctx, ids: readonly string[]): Promise<ContainerView[]> {
      authorize(ctx.actor, 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const byId = await loadContainersWithAncestors(db, institutionId, [...new Set(ids)]);
      return [...new Set(ids)].flatMap((id) => {
        const container = byId.get(id);
        return container ? [{ container, byId }] : [];
      });
    },

    /** Children of a container (or the roots). */
    async listContainers(
      ctx: Ctx,
      q: { parentId?: string; kind?: ContainerRow['kind'] },
    ): Promise<ContainerView[]> {
      authorize(ctx.actor, 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const rows = await listContainerRows(db, institutionId, q);
      const byId = await loadContainersWithAncestors(
        db,
        institutionId,
        rows.map((r) => r.id),
      );
      return rows.map((container) => ({ container, byId }));
    },

    /** Renames, re-temperatures or restricts a container. Throws VERSION_CONFLICT, TYPE_NOT_ALLOWED (a tube already inside breaks the restriction). */
    async updateContainer(
      ctx: Ctx,
      input: {
        id: string;
        expectedVersion: ExpectedVersion;
        patch: { name?: string; temperatureC?: number | null; allowedTypes?: string[] | null };
      },
    ): Promise<ContainerView> {
      authorize(ctx.actor, 'storage.configure');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        // Read locked, so `If-Match: *` resolves to the version this edit replaces. Narrowing the
        // allowed types locks everything below too, FOR UPDATE: a tube being stored in any of them
        // (which holds its container chain FOR KEY SHARE, see planPlacements) is committed, and
        // seen, before the contents are checked, or waits for this edit and meets the restriction.
        const before = input.patch.allowedTypes
          ? (await lockSubtree(tx, institutionId, input.id, 'update'))[0]
          : await lockContainer(tx, institutionId, input.id);
        if (!before) throw containerNotFound(input.id, 'id');
        const expected = resolveVersion(input.expectedVersion, before.version);
        if (before.version !== expected)
          throw versionConflict(`container ${before.barcode}`, expected, before.version);
        if (input.patch.allowedTypes) {
          const first = await findTubeOfOtherType(tx, institutionId, before.id, input.patch.allowedTypes);
          if (first)
            throw typeNotAllowed(
              first.type,
              { ...before, allowedTypes: input.patch.allowedTypes },
              'allowedTypes',
              first.barcode,
            );
        }
        const after = await updateContainerRow(tx, before.id, expected, input.patch);
        if (!after) throw versionConflict(`container ${before.barcode}`, expected, before.version);
        await recordAudit(tx, ctx, {
          action: 'updateContainer',
          entityType: 'container',
          entityId: after.id,
          institutionId,
          before,
          after,
        });
        return { container: after, byId: await loadContainersWithAncestors(tx, institutionId, [after.id]) };
      });
    },
  };
}
