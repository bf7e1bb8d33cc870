import { and, asc, eq, sql } from 'drizzle-orm';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db, DbOrTx, Tx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { inTransaction } from '../../db/transaction.js';
import { DomainError, badRequest, conflict, versionConflict } from '../../errors.js';
import { recordAudit } from '../audit/audit.repo.js';
import { lockPositions } from './position-occupancy.read-model.js';
import {
  lockSpecimens,
  specimensInContainers,
  findSpecimensByBarcodes,
} from '../specimens/specimens.repo.js';
import type { SpecimenCommand, SpecimenLedger } from '../specimens/index.js';
import type { SpecimenRow } from '../specimens/specimens.table.js';
import { locationOf } from './storage.placement.js';
import { allPositions, parsePosition, positionLabel } from './grid.js';
import {
  ALLOWED_PARENTS,
  KIND_LABEL,
  SPECIMEN_HOLDERS,
  containerNotFound,
  containerPath,
  findContainer,
  labelOf,
  loadContainersWithAncestors,
  typeAllowed,
} from './storage.repo.js';
import type { ContainerDto, CreateContainerInput } from './storage.schemas.js';
import { containers, type ContainerRow } from './storage.table.js';

export function toContainerDto(c: ContainerRow, byId: Map<string, ContainerRow>): ContainerDto {
  const parent = c.parentId ? byId.get(c.parentId) : undefined;
  return {
    id: c.id,
    kind: c.kind,
    barcode: c.barcode,
    name: c.name,
    parentId: c.parentId,
    slot: labelOf(parent, c.slotRow, c.slotCol),
    path: containerPath(c, byId),
    temperatureC: c.temperatureC,
    grid:
      c.gridRows && c.gridCols && c.gridScheme
        ? { rows: c.gridRows, cols: c.gridCols, scheme: c.gridScheme, fillOrder: c.fillOrder }
        : null,
    allowedTypes: c.allowedTypes,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    version: c.version,
  };
}

export interface ContainerView {
  container: ContainerRow;
  byId: Map<string, ContainerRow>;
}

export interface RackScanReport {
  containerId: string;
  applied: boolean;
  matched: { position: string; barcode: string; specimenId: string }[];
  movedIn: { position: string; barcode: string; specimenId: string; from: string | null }[];
  unknown: { position: string; barcode: string }[];
  missing: { position: string; barcode: string; specimenId: string }[];
  /** positions read as occupied by a barcode recorded at another position of this same box */
  errors: { position: string; message: string }[];
}

function slotOf(parent: ContainerRow, label: string | undefined, field = 'slot') {
  if (!label) return null;
  if (!parent.gridRows || !parent.gridCols || !parent.gridScheme) {
    throw badRequest(
      'SLOT_NOT_ALLOWED',
      `${KIND_LABEL[parent.kind].toLowerCase()} ${parent.barcode} has no slots`,
      [{ field, message: 'parent has no grid' }],
    );
  }
  const pos = parsePosition(parent.gridScheme, parent.gridRows, parent.gridCols, label);
  if (!pos) {
    throw badRequest(
      'POSITION_OUTSIDE_GRID',
      `slot ${label} is not in the ${parent.gridRows} x ${parent.gridCols} grid of ${parent.barcode}`,
      [{ field, message: 'outside the grid' }],
    );
  }
  return pos;
}

export function createStorageService(deps: { db: Db; ledger: SpecimenLedger }) {
  const { db } = deps;

  async function view(handle: DbOrTx, institutionId: string, ids: string[]) {
    return loadContainersWithAncestors(handle, institutionId, ids);
  }

  async function loadOwn(handle: DbOrTx, ctx: Ctx, id: string, field = 'id'): Promise<ContainerRow> {
    const c = await findContainer(handle, actorInstitutionId(ctx.actor), id);
    if (!c) throw containerNotFound(id, field);
    return c;
  }

  async function checkSlotFree(
    tx: DbOrTx,
    parent: ContainerRow,
    slot: { row: number; col: number },
    exceptId?: string,
  ) {
    const [holder] = await tx
      .select()
      .from(containers)
      .where(
        and(
          eq(containers.parentId, parent.id),
          eq(containers.slotRow, slot.row),
          eq(containers.slotCol, slot.col),
        ),
      );
    if (holder && holder.id !== exceptId) {
      throw new DomainError(
        'conflict',
        'SLOT_OCCUPIED',
        `slot ${labelOf(parent, slot.row, slot.col) ?? ''} of ${KIND_LABEL[parent.kind].toLowerCase()} ${parent.barcode} holds ${KIND_LABEL[holder.kind].toLowerCase()} ${holder.barcode}`,
        [{ field: 'slot', message: 'occupied' }],
      );
    }
  }

  return {
    /** Creates a site, freezer, rack, box... Throws CONTAINER_BARCODE_TAKEN, INVALID_PARENT, SLOT_OCCUPIED, GRID_REQUIRED. */
    async createContainer(ctx: Ctx, input: CreateContainerInput): Promise<ContainerView> {
      authorize(ctx.actor, 'storage.configure');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        const parent = input.parentId ? await loadOwn(tx, ctx, input.parentId, 'parentId') : null;
        if (!ALLOWED_PARENTS[input.kind].includes(parent?.kind ?? null)) {
          throw new DomainError(
            'unprocessable',
            'INVALID_PARENT',
            parent
              ? `a ${KIND_LABEL[input.kind].toLowerCase()} cannot go in a ${KIND_LABEL[parent.kind].toLowerCase()}`
              : `a ${KIND_LABEL[input.kind].toLowerCase()} needs a parent`,
            [
              {
                field: 'parentId',
                message: `allowed parents: ${ALLOWED_PARENTS[input.kind].map((k) => k ?? 'none').join(', ')}`,
              },
            ],
          );
        }
        if (SPECIMEN_HOLDERS.includes(input.kind) && input.kind === 'plate' && !input.grid) {
          throw badRequest('GRID_REQUIRED', 'a plate needs a grid', [{ field: 'grid', message: 'required' }]);
        }
        const slot = parent ? slotOf(parent, input.slot) : null;
        if (parent?.gridRows && !slot) {
          throw badRequest(
            'SLOT_REQUIRED',
            `${KIND_LABEL[parent.kind].toLowerCase()} ${parent.barcode} has slots: name one`,
            [{ field: 'slot', message: 'required' }],
          );
        }
        if (parent && slot) await checkSlotFree(tx, parent, slot);
        const [row] = await tx
          .insert(containers)
          .values({
            id: newId(),
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
          })
          .returning();
        await recordAudit(tx, ctx, {
          action: 'createContainer',
          entityType: 'container',
          entityId: row!.id,
          institutionId,
          after: row,
        });
        return { container: row!, byId: await view(tx, institutionId, [row!.id]) };
      });
    },

    /** Throws CONTAINER_NOT_FOUND. */
    async getContainer(ctx: Ctx, id: string): Promise<ContainerView> {
      authorize(ctx.actor, 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const byId = await view(db, institutionId, [id]);
      const container = byId.get(id);
      if (!container) throw containerNotFound(id, 'id');
      return { container, byId };
    },

    /** Children of a container (or the roots). */
    async listContainers(
      ctx: Ctx,
      q: { parentId?: string; kind?: ContainerRow['kind'] },
    ): Promise<ContainerView[]> {
      authorize(ctx.actor, 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const rows = await db
        .select()
        .from(containers)
        .where(
          and(
            eq(containers.institutionId, institutionId),
            q.parentId
              ? eq(containers.parentId, q.parentId)
              : q.kind
                ? undefined
                : sql`${containers.parentId} is null`,
            q.kind ? eq(containers.kind, q.kind) : undefined,
          ),
        )
        .orderBy(asc(containers.slotRow), asc(containers.slotCol), asc(containers.barcode))
        .limit(1000);
      const byId = await view(
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
        expectedVersion: number;
        patch: { name?: string; temperatureC?: number | null; allowedTypes?: string[] | null };
      },
    ): Promise<ContainerView> {
      authorize(ctx.actor, 'storage.configure');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        const before = await loadOwn(tx, ctx, input.id);
        if (before.version !== input.expectedVersion)
          throw versionConflict(`container ${before.barcode}`, input.expectedVersion, before.version);
        if (input.patch.allowedTypes) {
          // One text[] parameter: a JS array interpolated into sql`` would become a row.
          const allowed = `{${input.patch.allowedTypes.join(',')}}`;
          const inside = await tx.execute<{ barcode: string; type: string }>(sql`
            select s.barcode, s.type from specimen s join container c on c.id = s.container_id
            where c.institution_id = ${institutionId} and (c.id = ${before.id} or c.ancestor_ids @> array[${before.id}::uuid])
              and not (s.type::text = any(${allowed}::text[])) limit 1`);
          const first = inside.rows[0];
          if (first)
            throw new DomainError(
              'unprocessable',
              'TYPE_NOT_ALLOWED',
              `${first.type} specimen ${first.barcode} is already stored under ${before.barcode}`,
              [{ field: 'allowedTypes', message: `${first.type} present` }],
            );
        }
        const [after] = await tx
          .update(containers)
          .set({ ...input.patch, version: sql`${containers.version} + 1`, updatedAt: sql`now()` })
          .where(and(eq(containers.id, before.id), eq(containers.version, input.expectedVersion)))
          .returning();
        if (!after)
          throw versionConflict(`container ${before.barcode}`, input.expectedVersion, before.version);
        await recordAudit(tx, ctx, {
          action: 'updateContainer',
          entityType: 'container',
          entityId: after.id,
          institutionId,
          before,
          after,
        });
        return { container: after, byId: await view(tx, institutionId, [after.id]) };
      });
    },

    /** The grid of a box or plate with its occupants, or of a rack with its boxes. Throws CONTAINER_NOT_FOUND. */
    async containerMap(ctx: Ctx, id: string) {
      authorize(ctx.actor, 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const byId = await view(db, institutionId, [id]);
      const c = byId.get(id);
      if (!c) throw containerNotFound(id, 'id');
      if (!c.gridRows || !c.gridCols || !c.gridScheme) {
        throw badRequest('NO_GRID', `${KIND_LABEL[c.kind].toLowerCase()} ${c.barcode} has no grid`, [
          { field: 'id', message: 'no grid' },
        ]);
      }
      const { gridRows: rows, gridCols: cols, gridScheme: scheme } = c;
      const occupants = new Map<
        string,
        {
          kind: 'specimen' | 'container';
          id: string;
          barcode: string;
          type?: string;
          status?: string;
          holds?: string[];
        }
      >();
      if (SPECIMEN_HOLDERS.includes(c.kind)) {
        for (const s of await specimensInContainers(db, [c.id])) {
          if (s.positionRow && s.positionCol)
            occupants.set(`${s.positionRow}:${s.positionCol}`, {
              kind: 'specimen',
              id: s.id,
              barcode: s.barcode,
              type: s.type,
              status: s.status,
              holds: s.holds,
            });
        }
      } else {
        const children = await db.select().from(containers).where(eq(containers.parentId, c.id));
        for (const ch of children) {
          if (ch.slotRow && ch.slotCol)
            occupants.set(`${ch.slotRow}:${ch.slotCol}`, {
              kind: 'container',
              id: ch.id,
              barcode: ch.barcode,
            });
        }
      }
      const positions = allPositions(rows, cols, 'row_major').map((p) => ({
        position: positionLabel(scheme, rows, cols, p.row, p.col),
        row: p.row,
        col: p.col,
        occupant: occupants.get(`${p.row}:${p.col}`) ?? null,
      }));
      return { container: c, byId, rows, cols, scheme, occupied: occupants.size, positions };
    },

    /** The next N free positions in a subtree, in fill order (boxes in slot order). Throws CONTAINER_NOT_FOUND. */
    async freePositions(ctx: Ctx, id: string, q: { count: number; type?: string }) {
      authorize(ctx.actor, 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const root = await loadOwn(db, ctx, id);
      const subtree = await db
        .select()
        .from(containers)
        .where(
          and(
            eq(containers.institutionId, institutionId),
            sql`(${containers.id} = ${root.id} or ${containers.ancestorIds} @> array[${root.id}::uuid])`,
          ),
        );
      const byId = new Map(subtree.map((c) => [c.id, c]));
      for (const [k, v] of await view(db, institutionId, [root.id])) byId.set(k, v);
      // Depth-first in slot order, so a rack fills box after box as a technician would.
      const children = new Map<string, ContainerRow[]>();
      for (const c of subtree)
        if (c.parentId && c.id !== root.id)
          children.set(c.parentId, [...(children.get(c.parentId) ?? []), c]);
      const order: ContainerRow[] = [];
      const walk = (c: ContainerRow) => {
        order.push(c);
        const kids = (children.get(c.id) ?? []).sort(
          (a, b) =>
            (a.slotRow ?? 0) - (b.slotRow ?? 0) ||
            (a.slotCol ?? 0) - (b.slotCol ?? 0) ||
            a.barcode.localeCompare(b.barcode),
        );
        kids.forEach(walk);
      };
      walk(root);
      const holders = order.filter(
        (c) =>
          SPECIMEN_HOLDERS.includes(c.kind) &&
          c.gridRows &&
          c.gridCols &&
          c.gridScheme &&
          (!q.type || !typeAllowed(c, byId, q.type)),
      );
      const taken = new Set(
        (
          await specimensInContainers(
            db,
            holders.map((h) => h.id),
          )
        ).map((s) => `${s.containerId}:${s.positionRow}:${s.positionCol}`),
      );
      const free: { containerId: string; containerBarcode: string; position: string; path: string }[] = [];
      for (const h of holders) {
        for (const p of allPositions(h.gridRows!, h.gridCols!, h.fillOrder)) {
          if (free.length >= q.count) break;
          if (taken.has(`${h.id}:${p.row}:${p.col}`)) continue;
          const label = positionLabel(h.gridScheme!, h.gridRows!, h.gridCols!, p.row, p.col);
          free.push({
            containerId: h.id,
            containerBarcode: h.barcode,
            position: label,
            path: `${containerPath(h, byId)} / ${label}`,
          });
        }
        if (free.length >= q.count) break;
      }
      return free;
    },

    /**
     * Moves a box (or rack) to another parent and slot; every tube inside records the move in its
     * custody chain. Throws INVALID_PARENT, SLOT_OCCUPIED, CONTAINER_CYCLE, TYPE_NOT_ALLOWED.
     */
    async moveContainer(
      ctx: Ctx,
      id: string,
      input: { parentId: string; slot?: string; occurredAt?: string },
    ): Promise<ContainerView> {
      authorize(ctx.actor, 'storage.move');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        const [before] = await tx
          .select()
          .from(containers)
          .where(and(eq(containers.id, id), eq(containers.institutionId, institutionId)))
          .for('update');
        if (!before) throw containerNotFound(id, 'id');
        const parent = await loadOwn(tx, ctx, input.parentId, 'parentId');
        if (parent.id === before.id || parent.ancestorIds.includes(before.id)) {
          throw new DomainError(
            'unprocessable',
            'CONTAINER_CYCLE',
            `${before.barcode} cannot go inside itself`,
            [{ field: 'parentId', message: 'inside the moved container' }],
          );
        }
        if (!ALLOWED_PARENTS[before.kind].includes(parent.kind)) {
          throw new DomainError(
            'unprocessable',
            'INVALID_PARENT',
            `a ${KIND_LABEL[before.kind].toLowerCase()} cannot go in a ${KIND_LABEL[parent.kind].toLowerCase()}`,
            [{ field: 'parentId', message: 'not an allowed parent' }],
          );
        }
        const slot = slotOf(parent, input.slot);
        if (parent.gridRows && !slot)
          throw badRequest('SLOT_REQUIRED', `${parent.barcode} has slots: name one`, [
            { field: 'slot', message: 'required' },
          ]);
        if (slot) await checkSlotFree(tx, parent, slot, before.id);
        const newAncestors = [...parent.ancestorIds, parent.id];
        // Tubes inside must be allowed under the new parent's restrictions.
        const parentChain = await view(tx, institutionId, [parent.id]);
        const subtreeIds = (
          await tx
            .select({ id: containers.id })
            .from(containers)
            .where(
              sql`${containers.id} = ${before.id} or ${containers.ancestorIds} @> array[${before.id}::uuid]`,
            )
        ).map((r) => r.id);
        const tubes = await lockSpecimens(
          tx,
          institutionId,
          (await specimensInContainers(tx, subtreeIds)).map((s) => s.id),
        );
        for (const t of tubes) {
          const blocker = typeAllowed(parent, parentChain, t.type);
          if (blocker)
            throw new DomainError(
              'unprocessable',
              'TYPE_NOT_ALLOWED',
              `${t.type} specimen ${t.barcode} is not allowed in ${blocker.barcode}`,
              [{ field: 'parentId', message: `${t.type} not allowed there` }],
            );
        }
        const oldPrefix = before.ancestorIds.length;
        // One array parameter (a JS array interpolated into sql`` would become a row, not uuid[]).
        const newPrefix = `{${newAncestors.join(',')}}`;
        await tx.execute(sql`
          update container set ancestor_ids = ${newPrefix}::uuid[] || ancestor_ids[${oldPrefix + 1}:], updated_at = now(), version = version + 1
          where institution_id = ${institutionId} and ancestor_ids @> array[${before.id}::uuid]`);
        const [after] = await tx
          .update(containers)
          .set({
            parentId: parent.id,
            ancestorIds: newAncestors,
            slotRow: slot?.row ?? null,
            slotCol: slot?.col ?? null,
            version: sql`${containers.version} + 1`,
            updatedAt: sql`now()`,
          })
          .where(eq(containers.id, before.id))
          .returning();
        const byId = await view(tx, institutionId, [after!.id, ...subtreeIds]);
        const occurredAt = input.occurredAt ? new Date(input.occurredAt) : null;
        const fromPath = containerPath(
          before,
          await view(tx, institutionId, before.parentId ? [before.parentId] : []).then((m) => {
            m.set(before.id, before);
            return m;
          }),
        );
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
          entityId: after!.id,
          institutionId,
          before,
          after,
        });
        return { container: after!, byId };
      });
    },

    /**
     * Reconciles a rack/box scanner reading with the records: matched, moved in (stored
     * elsewhere), unknown barcodes, expected but missing. With apply, records the moves in one
     * transaction. Throws CONTAINER_NOT_FOUND, POSITION_OUTSIDE_GRID, DUPLICATE_READING.
     */
    async rackScan(
      ctx: Ctx,
      id: string,
      input: {
        readings: { position: string; barcode: string | null }[];
        apply: boolean;
        occurredAt?: string;
      },
    ): Promise<RackScanReport> {
      authorize(ctx.actor, input.apply ? 'specimens.handle' : 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const run = async (tx: DbOrTx): Promise<RackScanReport> => {
        const byId = await view(tx, institutionId, [id]);
        const box = byId.get(id);
        if (!box) throw containerNotFound(id, 'id');
        if (!SPECIMEN_HOLDERS.includes(box.kind) || !box.gridRows || !box.gridCols || !box.gridScheme) {
          throw badRequest('NO_GRID', `${box.barcode} is not a box or plate with a grid`, [
            { field: 'id', message: 'no grid' },
          ]);
        }
        const { gridRows: rows, gridCols: cols, gridScheme: scheme } = box;
        const fieldErrors: { field: string; message: string }[] = [];
        const seenPos = new Map<string, number>();
        const seenBarcode = new Map<string, number>();
        const readings = input.readings.map((r, i) => {
          const pos = parsePosition(scheme, rows, cols, r.position);
          if (!pos)
            fieldErrors.push({
              field: `readings.${i}.position`,
              message: `${r.position} is not in the ${rows} x ${cols} grid`,
            });
          const label = pos ? positionLabel(scheme, rows, cols, pos.row, pos.col) : r.position;
          if (seenPos.has(label))
            fieldErrors.push({ field: `readings.${i}.position`, message: `${label} is read twice` });
          seenPos.set(label, i);
          const bc = r.barcode && r.barcode.length ? r.barcode : null;
          if (bc && seenBarcode.has(bc))
            fieldErrors.push({ field: `readings.${i}.barcode`, message: `${bc} is read at two positions` });
          if (bc) seenBarcode.set(bc, i);
          return { pos, label, barcode: bc };
        });
        if (fieldErrors.length) throw badRequest('INVALID_READING', fieldErrors[0]!.message, fieldErrors);
        const read = readings.filter(
          (r): r is typeof r & { pos: { row: number; col: number }; barcode: string } =>
            r.pos !== null && r.barcode !== null,
        );
        const readBarcodes = read.map((r) => r.barcode);
        const found = input.apply
          ? await lockSpecimens(
              tx,
              institutionId,
              (await findSpecimensByBarcodes(tx, institutionId, readBarcodes)).map((s) => s.id),
            )
          : await findSpecimensByBarcodes(tx, institutionId, readBarcodes);
        const byBarcode = new Map(found.map((s) => [s.barcode, s]));
        const expected = await specimensInContainers(tx, [box.id]);
        const report: RackScanReport = {
          containerId: box.id,
          applied: false,
          matched: [],
          movedIn: [],
          unknown: [],
          missing: [],
          errors: [],
        };
        const toMove: { specimen: SpecimenRow; row: number; col: number; label: string }[] = [];
        const otherContainers = await view(
          tx,
          institutionId,
          found.map((s) => s.containerId).filter((c): c is string => c !== null),
        );
        for (const r of read) {
          const s = byBarcode.get(r.barcode);
          if (!s) {
            report.unknown.push({ position: r.label, barcode: r.barcode });
          } else if (s.containerId === box.id && s.positionRow === r.pos.row && s.positionCol === r.pos.col) {
            report.matched.push({ position: r.label, barcode: s.barcode, specimenId: s.id });
          } else {
            report.movedIn.push({
              position: r.label,
              barcode: s.barcode,
              specimenId: s.id,
              from: locationOf(s, otherContainers)?.path ?? null,
            });
            toMove.push({ specimen: s, row: r.pos.row, col: r.pos.col, label: r.label });
          }
        }
        const readSet = new Set(readBarcodes);
        for (const s of expected) {
          if (!readSet.has(s.barcode) && s.status !== 'in_use') {
            report.missing.push({
              position: labelOf(box, s.positionRow, s.positionCol) ?? '',
              barcode: s.barcode,
              specimenId: s.id,
            });
          }
        }
        if (!input.apply || toMove.length === 0) return { ...report, applied: input.apply };
        // Apply: tubes read here move here. Positions they leave in this box are vacated in the
        // same statement batch; the deferrable unique constraint checks the end state.
        const commands: SpecimenCommand[] = [];
        for (const m of toMove) {
          const blocker = typeAllowed(box, byId, m.specimen.type);
          if (blocker) {
            report.errors.push({
              position: m.label,
              message: `${m.specimen.type} is not allowed in ${blocker.barcode}`,
            });
            continue;
          }
          const placement = {
            container: box,
            row: m.row,
            col: m.col,
            label: m.label,
            path: `${containerPath(box, byId)} / ${m.label}`,
          };
          // A tube that had no place yet (registered, never stored) is stored, not moved.
          const command: SpecimenCommand = {
            kind: m.specimen.status === 'pending' || !m.specimen.containerId ? 'store' : 'move',
            specimen: m.specimen,
            occurredAt: input.occurredAt ? new Date(input.occurredAt) : null,
            placement,
            details: { source: 'rack-scan' },
            action: 'rackScan',
          };
          try {
            deps.ledger.check(command);
          } catch (err) {
            report.errors.push({
              position: m.label,
              message: err instanceof Error ? err.message : String(err),
            });
            continue;
          }
          commands.push(command);
        }
        if (report.errors.length)
          throw new DomainError(
            'unprocessable',
            'RACK_SCAN_REJECTED',
            `${report.errors.length} tubes cannot move into ${box.barcode}; nothing was recorded`,
            report.errors.map((e) => ({ field: e.position, message: e.message })),
          );
        // A tube recorded at a position now read with another tube, but not read anywhere here,
        // is still recorded there: that is a conflict the technician must resolve first.
        const occupiedBy = new Map(expected.map((s) => [`${s.positionRow}:${s.positionCol}`, s]));
        const moving = new Set(commands.map((c) => c.specimen.id));
        for (const m of toMove) {
          const occ = occupiedBy.get(`${m.row}:${m.col}`);
          if (occ && !moving.has(occ.id) && !readSet.has(occ.barcode)) {
            throw conflict(
              'POSITION_OCCUPIED',
              `position ${labelOf(box, occ.positionRow, occ.positionCol) ?? ''} of ${box.barcode} is still recorded for ${occ.barcode}; mark it missing or move it first`,
            );
          }
        }
        // Queue behind single stores aiming at the same positions (see lockPositions).
        await lockPositions(
          tx,
          toMove.map((m) => ({ containerId: box.id, row: m.row, col: m.col })),
        );
        await deps.ledger.apply(tx as Tx, ctx, commands);
        return { ...report, applied: true };
      };
      return input.apply ? inTransaction(db, ctx, (tx) => run(tx)) : run(db);
    },

    /** Containers by id with their paths, in one query; unknown ids (or another institution's) are left out. */
    async getContainersByIds(ctx: Ctx, ids: readonly string[]): Promise<ContainerView[]> {
      authorize(ctx.actor, 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const byId = await view(db, institutionId, [...new Set(ids)]);
      return [...new Set(ids)].flatMap((id) => {
        const container = byId.get(id);
        return container ? [{ container, byId }] : [];
      });
    },

    /**
     * The maps of many containers (as containerMap) in at most three queries; null for an unknown
     * container or one without a grid.
     */
    async containerMaps(ctx: Ctx, ids: readonly string[]) {
      authorize(ctx.actor, 'storage.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const byId = await view(db, institutionId, [...new Set(ids)]);
      const gridded = [...new Set(ids)]
        .map((id) => byId.get(id))
        .filter((c): c is ContainerRow => !!c && !!c.gridRows && !!c.gridCols && !!c.gridScheme);
      const holders = gridded.filter((c) => SPECIMEN_HOLDERS.includes(c.kind)).map((c) => c.id);
      const racks = gridded.filter((c) => !SPECIMEN_HOLDERS.includes(c.kind)).map((c) => c.id);
      type Occupant = {
        kind: 'specimen' | 'container';
        id: string;
        barcode: string;
        type?: string;
        status?: string;
        holds?: string[];
      };
      const occupants = new Map<string, Occupant>();
      for (const s of await specimensInContainers(db, holders)) {
        if (s.positionRow && s.positionCol)
          occupants.set(`${s.containerId}:${s.positionRow}:${s.positionCol}`, {
            kind: 'specimen',
            id: s.id,
            barcode: s.barcode,
            type: s.type,
            status: s.status,
            holds: s.holds,
          });
      }
      if (racks.length) {
        const children = await db
          .select()
          .from(containers)
          .where(
            and(
              eq(containers.institutionId, institutionId),
              sql`${containers.parentId} in (${sql.join(
                racks.map((i) => sql`${i}::uuid`),
                sql`, `,
              )})`,
            ),
          );
        for (const ch of children) {
          if (ch.slotRow && ch.slotCol)
            occupants.set(`${ch.parentId}:${ch.slotRow}:${ch.slotCol}`, {
              kind: 'container',
              id: ch.id,
              barcode: ch.barcode,
            });
        }
      }
      return ids.map((id) => {
        const c = byId.get(id);
        if (!c || !c.gridRows || !c.gridCols || !c.gridScheme) return null;
        const { gridRows: rows, gridCols: cols, gridScheme: scheme } = c;
        const positions = allPositions(rows, cols, 'row_major').map((p) => ({
          position: positionLabel(scheme, rows, cols, p.row, p.col),
          row: p.row,
          col: p.col,
          occupant: occupants.get(`${c.id}:${p.row}:${p.col}`) ?? null,
        }));
        const occupied = positions.filter((p) => p.occupant !== null).length;
        return { container: c, byId, rows, cols, scheme, occupied, positions };
      });
    },
  };
}

export type StorageService = ReturnType<typeof createStorageService>;
