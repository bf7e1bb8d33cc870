// The specimen ledger: the only author of specimen rows (ARCHITECTURE.md). Every command is checked
// against the lifecycle table and written with its custody events, audit row and change-listener
// rows (standardization checks through the outbox) in the caller's transaction. Services, cascades,
// rack scans, sharing and imports all come here, so the rules cannot differ between writers. What
// each command means is decided in specimens.ledger-rules.ts.
import { and, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import type { Ctx } from '../../context.js';
import type { Tx } from '../../db/client.js';
import { auditRowsInsertSql, recordAudit, type AuditEntry } from '../audit/index.js';
import { appendCustodyEvents, type ChainHead } from '../custody/index.js';
import { loadContainersWithAncestors, locationOf, type ContainerRow } from '../storage/index.js';
import type { NewSpecimen, SpecimenCommand } from './specimens.commands.js';
import {
  changeOf,
  checkCommand,
  leavesFrom,
  placed,
  type EventInput,
  type SpecimenChange,
} from './specimens.ledger-rules.js';
import { specimenRowJsonbSql } from './specimen-json.js';
import { transition } from './specimens.lifecycle.js';
import { insertRegisteredSpecimens } from './specimens.ledger-register.js';
import { lockSpecimens, lockSpecimensByBarcode, type NewSpecimenRow } from './specimens.repo.js';
import { specimenExternalIds, specimens, type SpecimenRow } from './specimens.table.js';
import { futureEventTime } from './specimens.times.js';

export { refuse, checkCommand } from './specimens.ledger-rules.js';

/** Told, inside the writing transaction, which specimens were created or changed (e.g. to queue checks). */
export interface SpecimenChangeListener {
  specimensChanged(tx: Tx, ctx: Ctx, specimenIds: string[]): Promise<void>;
  /**
   * Reserved (or packed, not dispatched) tubes this write destroyed or reported missing: whoever
   * reserved them hears it in the same transaction (sharing releases their items).
   */
  reservedSpecimensLost?(tx: Tx, ctx: Ctx, rows: SpecimenRow[]): Promise<void>;
}

const RESERVED: readonly string[] = ['reserved', 'shipped'];
const LOST: readonly string[] = ['destroyed', 'missing'];

export interface SpecimenLedgerDeps {
  /** listeners called in the same transaction as every specimen write */
  changeListeners?: SpecimenChangeListener[];
  /** freeze-thaw +1 on check-in when the tube was thawed (a lab may count thaws elsewhere) */
  countThawOnCheckIn?: boolean;
  /** the time a change is recorded at (and happened at, when the caller names no time) */
  clock?: () => Date;
}

const SPECIMEN_COLUMNS = getTableColumns(specimens);
/** A batch's audit documents: the row as locked (`b`) and as updated (`a`). */
const ROW_BEFORE = sql.raw(specimenRowJsonbSql('b'));
const ROW_AFTER = sql.raw(specimenRowJsonbSql('a'));
/** Columns a change may write (identity, lineage and ownership never change). */
const MUTABLE_COLUMNS = [
  'status',
  'holds',
  'containerId',
  'positionRow',
  'positionCol',
  'availableQuantity',
  'freezeThawCount',
  'collectedAt',
  'receivedAt',
  'processedAt',
  'frozenAt',
  'anatomicSite',
  'pathologyStatus',
  'sprecCode',
  'sprecVersion',
  'quality',
  'externalIds',
  'qcStatus',
  'custodySeq',
  'custodyHead',
] as const satisfies readonly (keyof SpecimenRow)[];

/**
 * A batch's statement is named, so each connection sends and parses its 5 KB of text (every
 * column of both audit documents spelled out) once and PostgreSQL reuses its plan: about 1.5 ms
 * of a 96-tube batch. Its text varies only with the columns it sets.
 */
const batchStatements = new Map<string, string>();
function batchStatementName(columns: readonly string[]): string {
  const key = columns.join(',');
  let name = batchStatements.get(key);
  if (!name) batchStatements.set(key, (name = `biobank_ledger_batch_${batchStatements.size + 1}`));
  return name;
}

/**
 * A new tube's status: placed, it is in stock; a received one is what the lifecycle's
 * `receive_from_institution` row makes of a pending tube; otherwise a primary waits for receipt
 * (pending) and a child is in the technician's hands (in use until checked in).
 */
function statusAtBirth(i: NewSpecimen): SpecimenRow['status'] {
  if (i.origin.kind === 'received_from_institution') {
    const t = transition('pending', 'receive_from_institution');
    if (!t.ok) throw new Error(t.reason);
    return t.to;
  }
  if (i.placement) return 'available';
  return i.origin.kind === 'registered' ? 'pending' : 'in_use';
}

export function createSpecimenLedger(deps: SpecimenLedgerDeps = {}) {
  const countThaw = deps.countThawOnCheckIn ?? true;
  const clock = deps.clock ?? (() => new Date());
  const listeners = deps.changeListeners ?? [];

  async function notifyChanged(tx: Tx, ctx: Ctx, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    for (const l of listeners) await l.specimensChanged(tx, ctx, ids);
  }

  /**
   * The external ids the rows list become theirs in specimen_external_id (unique per institution:
   * a pair another tube holds fails there). With `replace`, the rows' earlier pairs go first.
   */
  async function holdExternalIds(tx: Tx, rows: SpecimenRow[], replace: boolean): Promise<void> {
    if (rows.length === 0) return;
    if (replace)
      await tx.delete(specimenExternalIds).where(
        inArray(
          specimenExternalIds.specimenId,
          rows.map((r) => r.id),
        ),
      );
    const held = new Map<string, typeof specimenExternalIds.$inferInsert>();
    for (const r of rows)
      for (const e of r.externalIds)
        held.set(JSON.stringify([r.id, e.system, e.value]), {
          institutionId: r.institutionId,
          system: e.system,
          value: e.value,
          specimenId: r.id,
        });
    if (held.size > 0) await tx.insert(specimenExternalIds).values([...held.values()]);
  }

  /** One tube: its patch as a plain UPDATE, guarded by the version it was locked (or edited) at. */
  async function updateOne(tx: Tx, c: SpecimenChange, heads: Map<string, ChainHead>): Promise<SpecimenRow[]> {
    const head = heads.get(c.before.id)!;
    const [row] = await tx
      .update(specimens)
      .set({
        ...c.patch,
        custodySeq: head.custodySeq,
        custodyHead: head.custodyHead,
        version: sql`${specimens.version} + 1`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(specimens.id, c.before.id), eq(specimens.version, c.expectedVersion ?? c.before.version)))
      .returning();
    if (!row) throw new Error(`specimen ${c.before.id} changed while locked`);
    return [row];
  }

  /**
   * One statement for a batch (a rack scan, a cascade): the UPDATE, each new row being its locked
   * state with the patch applied, sent as one JSON document; and the audit rows, which PostgreSQL
   * builds from the row images it holds instead of receiving them from here. Every part of a
   * WITH reads one snapshot, so `specimen` read beside the UPDATE is each row as locked (`before`).
   */
  async function updateMany(
    tx: Tx,
    ctx: Ctx,
    changes: SpecimenChange[],
    heads: Map<string, ChainHead>,
  ): Promise<SpecimenRow[]> {
    // Only the columns some change patches (and the chain head) are sent and set: a column no
    // patch names keeps its locked value, which is what sending it would write.
    const columns = MUTABLE_COLUMNS.filter(
      (k) => k === 'custodySeq' || k === 'custodyHead' || changes.some((c) => Object.hasOwn(c.patch, k)),
    );
    const payload = changes.map((c) => {
      const head = heads.get(c.before.id)!;
      const merged: Record<string, unknown> = {
        ...c.before,
        ...c.patch,
        custodySeq: head.custodySeq,
        custodyHead: head.custodyHead,
      };
      return Object.fromEntries([
        ['action', c.action],
        ...['id' as const, ...columns].map((k): [string, unknown] => {
          const v = merged[k];
          return [SPECIMEN_COLUMNS[k].name, v instanceof Date ? v.toISOString() : v];
        }),
      ]);
    });
    // The changes in command order: the UPDATE takes their values, the audit rows their action.
    const v = tx.$with('v', {}).as(sql`
      select e.n, e.change->>'action' as action, p.*
        from jsonb_array_elements(${JSON.stringify(payload)}::jsonb) with ordinality as e(change, n),
             jsonb_populate_record(null::specimen, e.change) as p`);
    const set = Object.fromEntries(columns.map((k) => [k, sql.raw(`v.${SPECIMEN_COLUMNS[k].name}`)]));
    const updated = tx.$with('updated').as(
      tx
        .update(specimens)
        .set({ ...set, version: sql`${specimens.version} + 1`, updatedAt: sql`now()` })
        .from(sql`v`)
        .where(sql`${specimens.id} = v.id`)
        .returning(SPECIMEN_COLUMNS),
    );
    const audited = tx.$with('audited', {}).as(
      auditRowsInsertSql(
        ctx,
        sql`select b.institution_id, v.action, 'specimen' as entity_type, b.id::text as entity_id,
                   ${ROW_BEFORE} as before, ${ROW_AFTER} as after
              from v join ${specimens} b on b.id = v.id join updated a on a.id = v.id
             order by v.n`,
      ),
    );
    // The rows after: what the UPDATE wrote comes back from it (no second read of the batch), and
    // every other column is the row as locked, which nothing else may change while it is locked
    // and no trigger rewrites. A 96-tube rack scan reads 9 columns a tube back instead of 35.
    const written = {
      id: updated.id,
      version: updated.version,
      updatedAt: updated.updatedAt,
      ...Object.fromEntries(columns.map((k) => [k, updated[k]])),
    };
    const rows = await tx
      .with(v, updated, audited)
      .select(written)
      .from(updated)
      .prepare(batchStatementName(columns))
      .execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    return changes.map((c) => {
      const row = byId.get(c.before.id);
      if (!row) throw new Error(`specimen ${c.before.id} vanished while locked`);
      return { ...c.before, ...row };
    });
  }

  /**
   * Current places of the tubes that leave one, in one container query; none when `known` (what
   * the caller loaded in this transaction) holds them all already.
   */
  async function fromLocations(
    tx: Tx,
    commands: SpecimenCommand[],
    known: Map<string, ContainerRow> | undefined,
  ): Promise<Map<string, ContainerRow>> {
    const leaving = commands.filter(leavesFrom).map((c) => c.specimen);
    if (leaving.length === 0) return new Map();
    if (known && leaving.every((r) => known.has(r.containerId!))) return known;
    return loadContainersWithAncestors(
      tx,
      leaving[0]!.institutionId,
      leaving.map((r) => r.containerId!),
    );
  }

  async function write(tx: Tx, ctx: Ctx, changes: SpecimenChange[], now: Date): Promise<SpecimenRow[]> {
    if (changes.length === 0) return [];
    // Tubes of one batch may trade places: check one-tube-per-position at commit, not per row.
    if (changes.length > 1) await tx.execute(sql`set constraints specimen_position_unique deferred`);
    const heads = new Map<string, ChainHead>(
      changes.map((c) => [
        c.before.id,
        { specimenId: c.before.id, custodySeq: c.before.custodySeq, custodyHead: c.before.custodyHead },
      ]),
    );
    await appendCustodyEvents(
      tx,
      ctx,
      heads,
      changes.flatMap((c) =>
        c.events.map((e) => ({ ...e, specimenId: c.before.id, institutionId: c.before.institutionId })),
      ),
      now,
    );
    const after =
      changes.length === 1
        ? await updateOne(tx, changes[0]!, heads)
        : await updateMany(tx, ctx, changes, heads);
    await holdExternalIds(
      tx,
      after.filter((_, i) => changes[i]!.patch.externalIds !== undefined),
      true,
    );
    await notifyChanged(
      tx,
      ctx,
      after.map((r) => r.id),
    );
    const lost = after.filter(
      (r, i) => LOST.includes(r.status) && RESERVED.includes(changes[i]!.before.status),
    );
    if (lost.length) for (const l of listeners) await l.reservedSpecimensLost?.(tx, ctx, lost);
    // A batch wrote its audit rows with its UPDATE.
    if (changes.length === 1) {
      const c = changes[0]!;
      await recordAudit(tx, ctx, {
        action: c.action,
        entityType: 'specimen',
        entityId: c.before.id,
        institutionId: c.before.institutionId,
        before: c.before,
        after: after[0],
      });
    }
    return after;
  }

  return {
    /** Locks specimens of the institution (FOR UPDATE, in id order, so writers never deadlock). */
    lock: (tx: Tx, institutionId: string, ids: readonly string[]) => lockSpecimens(tx, institutionId, ids),

    /** Locks specimens of the institution by barcode (FOR UPDATE, in id order). */
    lockByBarcodes: (tx: Tx, institutionId: string, barcodes: readonly string[]) =>
      lockSpecimensByBarcode(tx, institutionId, barcodes),

    /** Checks a command without writing. Throws INVALID_TRANSITION, SPECIMEN_ON_HOLD, INSUFFICIENT_QUANTITY, HOLD_EXISTS, HOLD_NOT_FOUND. */
    check: checkCommand,

    /**
     * Refuses (TIME_IN_FUTURE) a time commands would be dated with that `apply` would refuse: for
     * a caller that answers before applying, such as a rack scan's dry run.
     */
    checkTimes(times: readonly (Date | null | undefined)[], field?: string): void {
      const future = futureEventTime(times, clock(), field);
      if (future) throw future;
    },

    /**
     * Applies commands to specimens locked in this transaction: each is checked, then its custody
     * events, row update, audit row and change notices are written. Returns the rows after, in
     * command order. Throws as `check`; nothing is written when one command is refused.
     * `places`: the containers the tubes leave, with their ancestors, when the caller loaded them
     * in this transaction already (a rack scan has).
     */
    async apply(
      tx: Tx,
      ctx: Ctx,
      commands: SpecimenCommand[],
      places?: Map<string, ContainerRow>,
    ): Promise<SpecimenRow[]> {
      if (commands.length === 0) return [];
      const now = clock();
      const future = futureEventTime(
        commands.map((c) => c.occurredAt),
        now,
      );
      if (future) throw future;
      const before = await fromLocations(tx, commands, places);
      const changes = commands.map((c) => {
        const loc = leavesFrom(c) ? locationOf(c.specimen, before) : null;
        return changeOf(
          c,
          { fromContainerId: c.specimen.containerId, fromPosition: loc?.position ?? null },
          { countThaw, now },
        );
      });
      // A tube that moved with its container keeps its position; its event names the new path.
      const relocated = commands.filter((c) => c.kind === 'container_moved');
      if (relocated.length) {
        const now = await loadContainersWithAncestors(
          tx,
          relocated[0]!.specimen.institutionId,
          relocated.map((c) => c.specimen.containerId).filter((id): id is string => id !== null),
        );
        commands.forEach((c, i) => {
          if (c.kind !== 'container_moved') return;
          const loc = locationOf(c.specimen, now);
          changes[i]!.events.push({
            type: 'moved',
            occurredAt: c.occurredAt ?? null,
            fromContainerId: c.specimen.containerId,
            fromPosition: loc?.position ?? null,
            toContainerId: c.specimen.containerId,
            toPosition: loc?.position ?? null,
            details: { containerMoved: c.containerBarcode, fromPath: c.fromPath, toPath: loc?.path ?? null },
          });
        });
      }
      return write(tx, ctx, changes, now);
    },

    /**
     * Brings new specimens into existence with their first custody events: `collected` (or
     * `registered`) for a primary, `created_from_parent` for an aliquot or derivative,
     * `received_from_institution` for a tube another institution shipped, then `stored` when
     * placed (status: `statusAtBirth`).
     */
    async register(tx: Tx, ctx: Ctx, items: NewSpecimen[], action: string): Promise<SpecimenRow[]> {
      if (items.length === 0) return [];
      const heads = new Map<string, ChainHead>();
      await appendCustodyEvents(
        tx,
        ctx,
        heads,
        items.flatMap((i) => {
          const events: EventInput[] = [];
          const r = i.row;
          if (i.origin.kind === 'registered') {
            events.push({
              type: r.collectedAt ? 'collected' : 'registered',
              occurredAt: r.collectedAt ?? null,
              quantityChange: r.initialQuantity,
              details: { barcode: r.barcode, type: r.type },
            });
          } else if (i.origin.kind === 'received_from_institution') {
            events.push({
              type: 'received_from_institution',
              occurredAt: i.occurredAt,
              quantityChange: r.initialQuantity,
              details: { barcode: r.barcode, type: r.type, ...i.origin.link },
            });
          } else {
            const p = i.origin.parent;
            events.push({
              type: 'created_from_parent',
              occurredAt: i.occurredAt,
              quantityChange: r.initialQuantity,
              // The parent's chain gets its drawing event next: name the link it will be.
              details: {
                parentId: p.id,
                parentBarcode: p.barcode,
                lineage: i.origin.lineage,
                type: r.type,
                parentCustodySeq: p.custodySeq + 1,
              },
            });
          }
          if (i.placement) {
            events.push({
              type: 'stored',
              ...(i.origin.kind === 'registered' ? {} : { occurredAt: i.occurredAt }),
              toContainerId: i.placement.container.id,
              toPosition: i.placement.label,
            });
          }
          return events.map((e) => ({ ...e, specimenId: r.id, institutionId: r.institutionId }));
        }),
        clock(),
      );
      const inserted = await tx
        .insert(specimens)
        .values(
          items.map((i) => {
            const head = heads.get(i.row.id);
            return {
              ...i.row,
              ...placed(i.placement),
              status: statusAtBirth(i),
              custodySeq: head?.custodySeq ?? 0,
              custodyHead: head?.custodyHead ?? null,
            } satisfies NewSpecimenRow;
          }),
        )
        .returning();
      await holdExternalIds(tx, inserted, false);
      await notifyChanged(
        tx,
        ctx,
        inserted.map((r) => r.id),
      );
      await recordAudit(
        tx,
        ctx,
        ...inserted.map<AuditEntry>((r) => ({
          action,
          entityType: 'specimen',
          entityId: r.id,
          institutionId: r.institutionId,
          after: r,
        })),
      );
      return inserted;
    },

    /**
     * `register` for many new primary specimens of one institution at once (a file import): the same
     * rows, custody events, audit rows and change notices, written set-based. Returns their ids.
     */
    async registerPrimaries(tx: Tx, ctx: Ctx, items: NewSpecimen[], action: string): Promise<string[]> {
      if (items.length === 0) return [];
      const ids = await insertRegisteredSpecimens(tx, ctx, items, {
        action,
        recordedAt: clock(),
        institutionId: items[0]!.row.institutionId,
      });
      await notifyChanged(tx, ctx, ids);
      return ids;
    },

    /**
     * Records the QC status standardization derived from qc_result for specimens still at the
     * evaluated version. A derived cache of the check results: no version bump, no custody event.
     */
    async recordQcStatus(
      tx: Tx,
      items: { id: string; version: number; qcStatus: SpecimenRow['qcStatus'] }[],
    ): Promise<void> {
      if (items.length === 0) return;
      const ids = `{${items.map((i) => i.id).join(',')}}`;
      const versions = `{${items.map((i) => i.version).join(',')}}`;
      const statuses = `{${items.map((i) => i.qcStatus).join(',')}}`;
      await tx.execute(sql`
        update specimen s set qc_status = v.status
          from unnest(${ids}::uuid[], ${versions}::int[], ${statuses}::qc_status[]) as v(id, version, status)
         where s.id = v.id and s.version = v.version and s.qc_status is distinct from v.status`);
    },
  };
}

export type SpecimenLedger = ReturnType<typeof createSpecimenLedger>;
